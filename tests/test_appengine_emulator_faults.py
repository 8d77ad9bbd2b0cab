"""Fault injection in the App Engine emulator, seen through the real client library.

One test per fault: 5xx, 429, slow answers past the client's timeout, dropped connections (before and
after the write lands), operations that finish with an error; plus the counting rules and the HTTP
control surface.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests
from google.api_core import exceptions as gexc

from .appengine_fixtures import APP, T, create_version, raw, set_split


@pytest.fixture
def two_versions(gae_emulator, gae_clients):
    gae_emulator.seed_version("default", "v1")
    gae_emulator.seed_version("default", "v2")
    return gae_clients


def split_of(emu, service="default"):
    return emu.snapshot()["services"][service]["split"]["allocations"]


@pytest.mark.parametrize("status, exc", [
    (500, gexc.InternalServerError), (503, gexc.ServiceUnavailable), (429, gexc.TooManyRequests),
])
def test_error_fault_fails_the_call_once_and_changes_nothing(gae_emulator, two_versions, status, exc):
    gae_emulator.add_fault("error", method="apps.services.patch", status=status)
    with pytest.raises(exc):
        set_split(two_versions, "default", {"v2": 1})
    assert split_of(gae_emulator) == {"v1": 1.0}
    set_split(two_versions, "default", {"v2": 1})  # times=1: the next call goes through
    assert split_of(gae_emulator) == {"v2": 1.0}


def test_error_fault_shape_is_googles(gae_emulator):
    gae_emulator.add_fault("error", method="apps.get", status=503, message="backend unavailable")
    status, doc = raw(gae_emulator, "GET", f"/v1/{APP}")
    assert status == 503
    assert doc["error"] == {"code": 503, "message": "backend unavailable", "status": "UNAVAILABLE",
                            "details": []}


def test_after_and_times_choose_which_calls_fail(gae_emulator, gae_clients):
    gae_emulator.seed_version("default", "v1")
    fault = gae_emulator.add_fault("error", method="apps.services.get", status=500, after=1, times=2)
    get = lambda: gae_clients.services.get_service(request={"name": f"{APP}/services/default"}, timeout=T)  # noqa: E731
    get()
    for _ in range(2):
        with pytest.raises(gexc.InternalServerError):
            get()
    get()
    assert (fault.matched, fault.fired) == (4, 2)
    assert [c.status for c in gae_emulator.calls] == [200, 500, 500, 200]


def test_path_and_http_method_select_calls(gae_emulator, gae_clients):
    gae_emulator.seed_version("default", "v1")
    gae_emulator.seed_version("web", "w1")
    gae_emulator.add_fault("error", http_method="GET", path=r"/services/web$", status=503, times=None)
    gae_clients.services.get_service(request={"name": f"{APP}/services/default"}, timeout=T)
    for _ in range(2):
        with pytest.raises(gexc.ServiceUnavailable):
            gae_clients.services.get_service(request={"name": f"{APP}/services/web"}, timeout=T)


def test_slow_answer_times_the_client_out_but_the_write_lands(gae_emulator, two_versions):
    gae_emulator.add_fault("slow", method="apps.services.patch", seconds=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        two_versions.services.update_service(request={
            "name": f"{APP}/services/default", "service": {"split": {"allocations": {"v2": 1}}},
            "update_mask": {"paths": ["split"]}}, timeout=0.3)
    deadline = time.time() + 5
    while split_of(gae_emulator) != {"v2": 1.0} and time.time() < deadline:
        time.sleep(0.05)
    assert split_of(gae_emulator) == {"v2": 1.0}


def test_dropped_connection_before_the_write(gae_emulator, two_versions):
    gae_emulator.add_fault("drop", method="apps.services.patch")
    with pytest.raises(requests.exceptions.ConnectionError):
        set_split(two_versions, "default", {"v2": 1})
    assert split_of(gae_emulator) == {"v1": 1.0}
    assert [(c.method, c.status) for c in gae_emulator.calls] == [("apps.services.patch", None)]


def test_dropped_connection_after_the_write(gae_emulator, two_versions):
    gae_emulator.add_fault("drop", method="apps.services.patch", apply=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        set_split(two_versions, "default", {"v2": 1})
    assert split_of(gae_emulator) == {"v2": 1.0}
    assert [(c.method, c.status) for c in gae_emulator.calls] == [("apps.services.patch", None)]


def test_operation_finishes_with_an_error(gae_emulator, two_versions):
    gae_emulator.operation_delay = 0.2
    gae_emulator.add_fault("operation_error", method="apps.services.versions.create", status="INTERNAL",
                           message="build failed")
    op = two_versions.versions.create_version(request={
        "parent": f"{APP}/services/default",
        "version": {"id": "v3", "runtime": "python312", "deployment": {"zip": {"source_url": "gs://b/x"}}}},
        timeout=T)
    with pytest.raises(gexc.GoogleAPICallError, match="build failed"):
        op.result(timeout=T)
    assert "v3" not in gae_emulator.snapshot()["services"]["default"]["versions"]
    status, doc = raw(gae_emulator, "GET", "/v1/" + op.operation.name)
    assert doc["done"] and doc["error"]["code"] == 13 and doc["error"]["message"] == "build failed"


def test_operation_poll_errors_are_retried_by_the_clients_poller(gae_emulator, two_versions):
    gae_emulator.operation_delay = 0.2
    fault = gae_emulator.add_fault("error", method="apps.operations.get", status=503)
    op = two_versions.services.update_service(request={
        "name": f"{APP}/services/default", "service": {"split": {"allocations": {"v2": 1}}},
        "update_mask": {"paths": ["split"]}}, timeout=T)
    assert op.result(timeout=T).split.allocations["v2"] == 1
    assert fault.fired == 1 and gae_emulator.count("apps.operations.get") >= 2


def test_unknown_method_is_refused_with_a_suggestion(gae_emulator):
    with pytest.raises(ValueError, match="did you mean 'apps.services.patch'"):
        gae_emulator.add_fault("error", method="apps.service.patch")


@pytest.mark.parametrize("options, message", [
    ({"kind": "explode"}, "fault kind 'explode' is not one of"),
    ({"kind": "error", "status": 418}, "status 418 is not one of"),
    ({"kind": "operation_error", "status": "BROKEN"}, "unknown rpc status 'BROKEN'"),
    ({"kind": "error", "colour": "red"}, "unexpected keyword argument 'colour'"),
])
def test_bad_fault_over_http_is_refused(gae_emulator, options, message):
    status, doc = raw(gae_emulator, "POST", "/_emulator/faults", options)
    assert status == 400 and message in doc["error"]["message"]


def test_http_control_surface(gae_emulator, gae_clients):
    gae_emulator.seed_version("default", "v1")
    status, fault = raw(gae_emulator, "POST", "/_emulator/faults",
                        {"kind": "error", "method": "apps.services.list", "status": 429, "times": None})
    assert status == 200 and fault["id"] >= 1
    with pytest.raises(gexc.TooManyRequests):
        list(gae_clients.services.list_services(request={"parent": APP}, timeout=T))
    assert raw(gae_emulator, "GET", "/_emulator/faults")[1]["faults"][0]["fired"] == 1
    raw(gae_emulator, "DELETE", "/_emulator/faults")
    assert [s.id for s in gae_clients.services.list_services(request={"parent": APP}, timeout=T)] == ["default"]
    calls = raw(gae_emulator, "GET", "/_emulator/calls")[1]["calls"]
    assert [(c["method"], c["status"]) for c in calls] == [("apps.services.list", 429), ("apps.services.list", 200)]
    assert raw(gae_emulator, "POST", "/_emulator/config", {"operationDelay": 0.5})[1] == {"operationDelay": 0.5}
    assert raw(gae_emulator, "GET", "/_emulator/state")[1]["services"]["default"]["split"]["allocations"] == {"v1": 1.0}
    raw(gae_emulator, "POST", "/_emulator/reset")
    assert gae_emulator.snapshot()["services"] == {} and gae_emulator.calls == []


def test_call_counts(gae_emulator, gae_clients):
    create_version(gae_clients, "default", "v1")
    list(gae_clients.services.list_services(request={"parent": APP}, timeout=T))
    assert gae_emulator.count() == 2
    assert gae_emulator.count(writes=True) == 1
    assert gae_emulator.count("apps.services.list") == 1


def test_refusals_lists_what_google_would_refuse_but_not_injected_faults(gae_emulator, gae_clients):
    gae_emulator.seed_version("default", "v1")
    gae_emulator.add_fault("error", method="apps.services.get", status=429)
    with pytest.raises(gexc.TooManyRequests):
        gae_clients.services.get_service(request={"name": f"{APP}/services/default"}, timeout=T)
    assert gae_emulator.refusals() == []
    with pytest.raises(gexc.BadRequest):
        set_split(gae_clients, "default", {"v1": 0.5})
    assert [(c.method, c.status) for c in gae_emulator.refusals()] == [("apps.services.patch", 400)]


def test_seeding_checks_the_same_rules(gae_emulator):
    with pytest.raises(Exception, match="reserved"):
        gae_emulator.seed_version("default", "latest")
    gae_emulator.seed_version("default", "v1")
    with pytest.raises(Exception, match="sum to 0.5"):
        gae_emulator.seed_split("default", {"v1": 0.5})
    with pytest.raises(Exception, match="does not exist"):
        gae_emulator.seed_dispatch([{"path": "/x/*", "service": "nope"}])


def test_a_slow_request_from_before_a_reset_does_not_write_into_the_fresh_application(gae_emulator):
    """GIVEN a slow create still sleeping, WHEN the emulator is reset (the next test starts), THEN the late
    write is dropped instead of landing in the new application."""
    gae_emulator.add_fault("slow", method="apps.services.versions.create", seconds=0.5, times=1)
    url = f"{gae_emulator.url}/v1/apps/{gae_emulator.state.project}/services/default/versions"
    body = {"id": "late", "runtime": "python312",
            "deployment": {"zip": {"sourceUrl": "https://storage.googleapis.com/b/late.zip"}}}
    t = threading.Thread(target=lambda: _quiet_post(url, body))
    t.start()
    time.sleep(0.1)
    gae_emulator.reset()
    t.join()
    time.sleep(0.1)
    assert gae_emulator.snapshot()["services"] == {} and gae_emulator.count() == 0


def _quiet_post(url, body):
    try:
        requests.post(url, json=body, timeout=5)
    except requests.RequestException:
        pass


def test_every_status_the_emulator_answers_with_is_a_google_rpc_code():
    from google.rpc import code_pb2

    from meshspec.infra.appengine.emulator.rules import HTTP_STATUS, STATUS_FOR_HTTP, ApiError

    assert set(HTTP_STATUS) | set(STATUS_FOR_HTTP.values()) <= set(code_pb2.Code.keys())
    assert ApiError("FAILED_PRECONDITION", "x").to_status()["code"] == code_pb2.FAILED_PRECONDITION == 9
