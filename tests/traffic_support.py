"""Test support for the traffic tools: moto in server mode on 127.0.0.1, a small spec, a mesh built with boto3.

moto 5.2.5 gaps met here (docs/traffic.md, "Testing"):
- GetMetricData with a percentile statistic (p50, p99) fails with HTTP 500 (moto computes only Sum, Average,
  Minimum, Maximum, SampleCount and cannot serialise the missing value). ``percentile_shim`` teaches the
  in-process server nearest-rank percentiles over the stored values, so meshspec's real query runs unchanged
  over real HTTP and botocore.
- UpdateRoute accepts weighted targets naming virtual nodes that do not exist; meshspec checks the nodes itself.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import textwrap
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
import requests

from meshspec.constructs_lib import metric_names as M

REGION = "eu-west-1"
MESH = "shop-mesh"
START = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)  # tests/conftest.py TODAY, at 10:00 UTC

SPEC = """\
# A small spec for the traffic tests. Comments must survive --write-spec.
apiVersion: meshspec/v1
project: shop

aws:
  region: eu-west-1
  availabilityZones: [eu-west-1a, eu-west-1b]
  clusters:
    - name: core
      platform: ecs
  mesh:
    name: shop-mesh   # the mesh the routes live in

services:
  checkout:
    cluster: core
    majors:
      v1:
        contract: contracts/checkout-v1.json
      v2:
        contract: contracts/checkout-v2.json
    versions:
      - name: apple
        image: public.ecr.aws/shop/checkout:apple
        traffic: 90   # the stable one
      - name: banana
        image: public.ecr.aws/shop/checkout:banana
        traffic: 10
      - name: cherry            # built, never deployed: no virtual node
        image: public.ecr.aws/shop/checkout:cherry
  pricing:
    cluster: core
    majors:
      v1:
        contract: contracts/pricing-v1.json
    versions:
      - name: p-41
        image: public.ecr.aws/shop/pricing:41
        traffic: 100
"""


def write_spec(tmp: Path, text: str = SPEC) -> Path:
    (tmp / "contracts").mkdir(exist_ok=True)
    for name in re.findall(r"contract: contracts/(\S+)", text):
        (tmp / "contracts" / name).write_text('{"type": "object"}\n')
    path = tmp / "shop.yaml"
    path.write_text(text)
    return path


def _percentile(values: list[float], stat: str) -> float:
    p = float(stat[1:])
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from moto.cloudwatch import models as cw
    from moto.server import ThreadedMotoServer

    original = cw.Statistics.get_statistics_for_type

    def with_percentiles(self: Any, stat: str) -> Any:
        if re.fullmatch(r"p\d+(\.\d+)?", stat):
            values = self.metric_single_values_list
            return _percentile(values, stat) if values else None
        return original(self, stat)

    cw.Statistics.get_statistics_for_type = with_percentiles
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                             "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
                      AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=f"http://{host}:{port}")
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        cw.Statistics.get_statistics_for_type = original
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto for each test; the state directory is the spec's (not a shared $MESHSPEC_STATE_DIR)."""
    monkeypatch.delenv("MESHSPEC_STATE_DIR", raising=False)
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    return moto_server


def appmesh() -> Any:
    return boto3.client("appmesh", region_name=REGION)


def cloudwatch() -> Any:
    return boto3.client("cloudwatch", region_name=REGION)


def build_mesh(weights: dict[str, dict[str, int]] | None = None, *, nodes: tuple[str, ...] = ("apple", "banana"),
               service: str = "checkout") -> None:
    """Mesh, router, one virtual node per deployed version and one route per major, as the CDK stacks name them."""
    weights = weights or {"v1": {"apple": 90, "banana": 10}, "v2": {"apple": 90, "banana": 10}}
    c = appmesh()
    if MESH not in [m["meshName"] for m in c.list_meshes()["meshes"]]:
        c.create_mesh(meshName=MESH)  # moto replaces an existing mesh (and its routers) on a second create
    listener = {"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]}
    c.create_virtual_router(meshName=MESH, virtualRouterName=f"{service}-router", spec=listener)
    for v in nodes:
        c.create_virtual_node(meshName=MESH, virtualNodeName=f"{service}-{v}", spec=listener)
    for major, w in weights.items():
        c.create_route(meshName=MESH, virtualRouterName=f"{service}-router", routeName=f"{service}-{major}", spec={
            "httpRoute": {"match": {"prefix": f"/{service}/{major}/"}, "action": {"weightedTargets": [
                {"virtualNode": f"{service}-{v}", "weight": n} for v, n in w.items()]}}})


def route(major: str = "v1", service: str = "checkout") -> tuple[dict[str, int], int]:
    """(weights by version, route version) as App Mesh has them now."""
    r = appmesh().describe_route(meshName=MESH, virtualRouterName=f"{service}-router",
                                 routeName=f"{service}-{major}")["route"]
    targets = r["spec"]["httpRoute"]["action"]["weightedTargets"]
    return {t["virtualNode"][len(service) + 1:]: t["weight"] for t in targets}, r["metadata"]["version"]


def put_traffic(at: dt.datetime, version: str, *, requests_: int, errors: int, latencies: dict[float, int],
                service: str = "checkout", major: str = "v1") -> None:
    """What the log group's metric filters would put for one version in one minute: counts and a latency
    distribution, in the major's namespace (:func:`meshspec.constructs_lib.metric_names.namespace`)."""
    dims = [{"Name": M.DIM_SERVICE, "Value": service}, {"Name": M.DIM_VERSION, "Value": version}]
    data = [{"MetricName": M.REQUESTS, "Dimensions": dims, "Timestamp": at, "Value": requests_},
            {"MetricName": M.ERRORS_5XX, "Dimensions": dims, "Timestamp": at, "Value": errors}]
    if latencies:
        data.append({"MetricName": M.LATENCY_MS, "Dimensions": dims, "Timestamp": at,
                     "Values": list(latencies), "Counts": list(latencies.values())})
    cloudwatch().put_metric_data(Namespace=M.namespace(major), MetricData=data)


class FakeClock:
    """The canary's clock and sleeper: sleeping advances time and lets the test put that window's metrics."""

    def __init__(self, start: dt.datetime = START, on_sleep: Any = None):
        self.now = start
        self.on_sleep = on_sleep
        self.sleeps: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        window_start = self.now
        self.sleeps.append(seconds)
        self.now = self.now + dt.timedelta(seconds=seconds)
        if self.on_sleep is not None:
            self.on_sleep(window_start, self.now, len(self.sleeps))


def dedent(text: str) -> str:
    return textwrap.dedent(text)
