"""The real ``gcloud`` CLI pointed at the emulator: it must succeed or fail exactly as against Google.

gcloud is told where to go by ``CLOUDSDK_API_ENDPOINT_OVERRIDES_APPENGINE``, with a throw-away
``CLOUDSDK_CONFIG``, the project in ``CLOUDSDK_CORE_PROJECT`` and a dummy ``--access-token-file``
(FACTS.md). Some refusals are gcloud's own (rounding to zero, --migrate with several versions): then
no write may reach the server.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from meshspec.infra.appengine.emulator import Emulator

GCLOUD = shutil.which("gcloud")
pytestmark = pytest.mark.skipif(GCLOUD is None, reason="the gcloud CLI is not installed on this machine "
                                                      "(CI machines have it: Google Cloud SDK 528)")
PROJECT = "gcloud-demo"


@pytest.fixture(scope="module")
def server():
    with Emulator(project=PROJECT) as emu:
        yield emu


@pytest.fixture
def emu(server):
    server.reset()
    server.operation_delay = 0.0
    server.seed_version("default", "v1")
    server.seed_version("default", "v2")
    server.seed_version("default", "v3")
    return server


@pytest.fixture(scope="module")
def gcloud_env(tmp_path_factory, server):
    config = tmp_path_factory.mktemp("gcloud-config")
    token = config / "token"
    token.write_text("dummy-token-for-the-emulator\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSDK_")}
    env.update(CLOUDSDK_CONFIG=str(config), CLOUDSDK_CORE_PROJECT=PROJECT,
               CLOUDSDK_API_ENDPOINT_OVERRIDES_APPENGINE=f"{server.url}/",
               CLOUDSDK_CORE_DISABLE_PROMPTS="1", CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
               CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true")
    return env, str(token)


@pytest.fixture
def gcloud(gcloud_env):
    env, token = gcloud_env

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([GCLOUD, *args, f"--access-token-file={token}", "--quiet"], env=env,
                              capture_output=True, text=True, timeout=120)
    return run


def allocations(emu, service="default"):
    return emu.snapshot()["services"][service]["split"]["allocations"]


def test_services_list(emu, gcloud):
    emu.seed_version("web-app", "w1")
    result = gcloud("app", "services", "list", "--format=value(id,versions)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["default\t3", "web-app\t1"]


def test_services_list_pages_like_google(emu, gcloud):
    for i in range(120):
        emu.seed_version(f"svc-{i:03d}", "v1")
    result = gcloud("app", "services", "list", "--format=value(id)")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 121
    assert emu.count("apps.services.list") == 2  # gcloud asks for pageSize=100


def test_versions_list_shows_the_split(emu, gcloud):
    emu.seed_split("default", {"v1": 0.75, "v2": 0.25}, "COOKIE")
    result = gcloud("app", "versions", "list", "--format=value(id,traffic_split,version.servingStatus)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["v1\t0.75\tSERVING", "v2\t0.25\tSERVING", "v3\t0.00\tSERVING"]


def test_set_traffic_rounds_ip_splits_to_two_decimals(emu, gcloud):
    result = gcloud("app", "services", "set-traffic", "default", "--splits=v1=1,v2=1,v3=1", "--split-by=ip")
    assert result.returncode == 0, result.stderr
    # gcloud: round(1/3, 2) each, the remainder to the first of the largest (v1)
    assert allocations(emu) == pytest.approx({"v1": 0.34, "v2": 0.33, "v3": 0.33})
    assert emu.snapshot()["services"]["default"]["split"]["shardBy"] == "IP"


def test_set_traffic_cookie_three_decimals_and_polls_the_operation(emu, gcloud):
    emu.operation_delay = 0.3
    result = gcloud("app", "services", "set-traffic", "default", "--splits=v1=1,v2=2", "--split-by=cookie")
    assert result.returncode == 0, result.stderr
    assert allocations(emu) == pytest.approx({"v1": 0.333, "v2": 0.667})
    assert emu.count("apps.operations.get") >= 1


def test_set_traffic_share_rounding_to_zero_is_refused_by_gcloud(emu, gcloud):
    result = gcloud("app", "services", "set-traffic", "default", "--splits=v1=1,v2=0.001", "--split-by=ip")
    assert result.returncode == 1
    assert "Cannot set traffic split to zero" in result.stderr
    assert emu.count("apps.services.patch") == 0


def test_set_traffic_migrate_with_two_versions_is_refused_by_gcloud(emu, gcloud):
    result = gcloud("app", "services", "set-traffic", "default", "--splits=v1=1,v2=1", "--migrate")
    assert result.returncode == 1
    assert "The migrate flag can only be used with splits to a single version." in result.stderr
    assert emu.count("apps.services.patch") == 0


def test_set_traffic_to_a_missing_version_is_refused_by_the_server(emu, gcloud):
    result = gcloud("app", "services", "set-traffic", "default", "--splits=v1=1,v9=1")
    assert result.returncode == 1
    assert "INVALID_ARGUMENT: Service 'default' has no version 'v9'" in result.stderr
    assert emu.count("apps.services.patch") == 1 and allocations(emu) == {"v1": 1.0}


def test_set_traffic_migrate_to_flexible_is_refused_by_the_server(emu, gcloud):
    emu.seed_version("default", "flex1", env="flex", runtime="custom")
    result = gcloud("app", "services", "set-traffic", "default", "--splits=flex1=1", "--migrate")
    assert result.returncode == 1
    assert "gradual traffic migration is not supported there" in result.stderr


def test_set_traffic_migrate_to_one_warm_standard_version(emu, gcloud):
    result = gcloud("app", "services", "set-traffic", "default", "--splits=v2=1", "--migrate")
    assert result.returncode == 0, result.stderr
    assert emu.calls[-1].query.get("migrateTraffic") == "True" or any(
        c.query.get("migrateTraffic") == "True" for c in emu.calls)
    assert allocations(emu) == {"v2": 1.0}


def test_set_traffic_quota_error_is_reported(emu, gcloud):
    emu.add_fault("error", method="apps.services.patch", status=429)
    result = gcloud("app", "services", "set-traffic", "default", "--splits=v2=1")
    assert result.returncode == 1
    assert "RESOURCE_EXHAUSTED" in result.stderr and allocations(emu) == {"v1": 1.0}


def test_gcloud_retries_a_503_on_a_list_as_against_google(emu, gcloud):
    emu.add_fault("error", method="apps.services.list", status=503)
    result = gcloud("app", "services", "list", "--format=value(id)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["default"]
    assert [c.status for c in emu.calls if c.method == "apps.services.list"][:2] == [503, 200]


GCLOUD_ROUNDING = r"""
import json, random, sys
sys.path[:0] = [sys.argv[1] + "/lib", sys.argv[1] + "/lib/third_party"]
from googlecloudsdk.api_lib.app import service_util
rng, out = random.Random(20261123), []
for _ in range(600):
    n = rng.randint(1, 7)
    weights = {f"v{i}": str(rng.choice([rng.randint(1, 100), round(rng.uniform(0.001, 5), rng.randint(0, 4))]))
               for i in range(n)}
    split_by = rng.choice(["ip", "cookie", "random"])
    try:
        out.append([split_by, service_util.ParseTrafficAllocations(weights, split_by)])
    except service_util.ServicesSplitTrafficError:
        out.append([split_by, None])
print(json.dumps(out))
"""


def test_every_split_gcloud_computes_is_accepted():
    """gcloud's own rounding (service_util.ParseTrafficAllocations, run from the installed SDK) on 600
    random weightings: whatever it would send, floating-point remainders included, the emulator accepts,
    as Google does."""
    import json
    import sys
    from pathlib import Path

    from meshspec.infra.appengine.emulator.rules import check_split

    sdk = Path(os.path.realpath(GCLOUD)).parent.parent
    cases = json.loads(subprocess.run([sys.executable, "-c", GCLOUD_ROUNDING, str(sdk)], capture_output=True,
                                      text=True, check=True, timeout=120).stdout)
    sent = [(split_by, allocations) for split_by, allocations in cases if allocations is not None]
    assert len(sent) > 400  # most weightings are sendable; the rest round a share to zero
    for split_by, allocations in sent:
        check_split(allocations, split_by.upper(), allocations.keys(), "default")


def test_versions_delete_of_a_version_without_traffic(emu, gcloud):
    result = gcloud("app", "versions", "delete", "v3", "--service=default")
    assert result.returncode == 0, result.stderr
    assert list(emu.snapshot()["services"]["default"]["versions"]) == ["v1", "v2"]


def test_versions_stop_follows_the_scaling_rule(emu, gcloud):
    emu.seed_version("default", "m1", scaling="manual")
    result = gcloud("app", "versions", "stop", "m1", "--service=default")
    assert result.returncode == 0, result.stderr
    assert emu.snapshot()["services"]["default"]["versions"]["m1"]["servingStatus"] == "STOPPED"
    result = gcloud("app", "versions", "stop", "v2", "--service=default")
    assert result.returncode == 1
    assert "Field 'serving_status' cannot be updated on version 'v2'" in result.stderr


def test_services_delete(emu, gcloud):
    emu.seed_version("web-app", "w1")
    result = gcloud("app", "services", "delete", "web-app")
    assert result.returncode == 0, result.stderr
    assert list(emu.snapshot()["services"]) == ["default"]
