"""Time `meshspec traffic status` and one `traffic shift` on N meshed services, against moto in server mode.

    .venv/bin/python benchmarks/traffic_status.py [--services N]

status reads one route per service and major (DescribeRoute) and nothing else; shift reads the route, checks
new targets' virtual nodes, re-reads under the lock and writes once. Offline: moto on 127.0.0.1, dummy
credentials; the figures are dominated by moto's HTTP round trips, not by App Mesh.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def spec_text(n: int) -> str:
    services = "".join(f"""
  svc-{i}:
    cluster: core
    majors:
      v1:
        contract: c.json
    versions:
      - name: a
        image: public.ecr.aws/x/a:1
        traffic: 90
      - name: b
        image: public.ecr.aws/x/b:1
        traffic: 10
""" for i in range(n))
    return f"""apiVersion: meshspec/v1
project: bench
aws:
  region: eu-west-1
  clusters:
    - name: core
      platform: ecs
services:{services}"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=50)
    n = ap.parse_args().services
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1",
                      AWS_ENDPOINT_URL=f"http://{host}:{port}")
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import boto3

    from meshspec.infra.cli.main import main as cli

    c = boto3.client("appmesh")
    c.create_mesh(meshName="bench")
    listener = {"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]}
    for i in range(n):
        c.create_virtual_router(meshName="bench", virtualRouterName=f"svc-{i}-router", spec=listener)
        for v in "ab":
            c.create_virtual_node(meshName="bench", virtualNodeName=f"svc-{i}-{v}", spec=listener)
        c.create_route(meshName="bench", virtualRouterName=f"svc-{i}-router", routeName=f"svc-{i}-v1", spec={
            "httpRoute": {"match": {"prefix": f"/svc-{i}/v1/"}, "action": {"weightedTargets": [
                {"virtualNode": f"svc-{i}-a", "weight": 90}, {"virtualNode": f"svc-{i}-b", "weight": 10}]}}})
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "bench.yaml"
        spec.write_text(spec_text(n))
        (Path(tmp) / "c.json").write_text("{}")
        sink = io.StringIO()
        for label, argv in (("status", ["traffic", "status", str(spec), "--format", "json"]),
                            ("shift", ["traffic", "shift", str(spec), "svc-0", "--to", "b=50"])):
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                code = cli(argv)
            print(f"{label}: {n} services, exit {code}, {time.perf_counter() - t0:.2f} s")
    server.stop()


if __name__ == "__main__":
    main()
