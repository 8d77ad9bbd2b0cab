"""The App Engine Admin API emulator through the real client library (REST, anonymous credentials).

GIVEN an application in the emulator, WHEN the client library calls it, THEN the answers (and the
refusals, with Google's status and message) are what Google documents.
"""
from __future__ import annotations

import json
import urllib.request

import pytest
from google.api_core import exceptions as gexc
from google.protobuf import field_mask_pb2

from .appengine_fixtures import APP, GAE_PROJECT, T, create_version, raw, set_split
from meshspec.infra.appengine.emulator import wire
from meshspec.infra.appengine.emulator.server import ROUTES

@pytest.fixture
def two_versions(gae_emulator, gae_clients):
    create_version(gae_clients, "default", "v1")
    create_version(gae_clients, "default", "v2")
    return gae_clients


# --- paths, resources, encodings -------------------------------------------------------------------

def test_routes_are_the_discovery_documents():
    doc = wire.discovery()
    services = doc["resources"]["apps"]["resources"]["services"]
    patch = services["methods"]["patch"]
    assert ROUTES.match("PATCH", "/" + patch["flatPath"].replace("{appsId}", "a").replace("{servicesId}", "s")) \
        == ("apps.services.patch", {"appsId": "a", "servicesId": "s"}, True)
    assert ROUTES.match("GET", "/v1/apps/a/operations/o1")[0] == "apps.operations.get"
    assert ROUTES.match("GET", "/v1/nothing")[0] is None


def test_get_application(gae_clients):
    app = gae_clients.applications.get_application(request={"name": APP}, timeout=T)
    assert (app.id, app.name, app.location_id) == (GAE_PROJECT, APP, "us-central")


def test_unknown_application_is_not_found(gae_clients):
    with pytest.raises(gexc.NotFound, match="Could not find Application"):
        gae_clients.applications.get_application(request={"name": "apps/other"}, timeout=T)


def test_first_version_creates_its_service_with_all_traffic(gae_emulator, gae_clients):
    version = create_version(gae_clients, "default", "v1")
    assert version.name == f"{APP}/services/default/versions/v1"
    assert version.serving_status.name == "SERVING"
    assert version.version_url == f"https://v1-dot-{GAE_PROJECT}.appspot.com"
    service = gae_clients.services.get_service(request={"name": f"{APP}/services/default"}, timeout=T)
    assert dict(service.split.allocations) == {"v1": 1.0}


def test_split_round_trip_in_both_enum_encodings(gae_emulator, two_versions):
    service = set_split(two_versions, "default", {"v1": 0.9, "v2": 0.1}, "COOKIE")
    assert service.split.shard_by.name == "COOKIE"
    status, as_names = raw(gae_emulator, "GET", f"/v1/{APP}/services/default")
    assert status == 200 and as_names["split"]["shardBy"] == "COOKIE"
    status, as_ints = raw(gae_emulator, "GET", f"/v1/{APP}/services/default?$alt=json;enum-encoding=int")
    assert as_ints["split"]["shardBy"] == 1  # ShardBy.COOKIE
    # gcloud sends names; the python client integers: both accepted
    status, op = raw(gae_emulator, "PATCH", f"/v1/{APP}/services/default?updateMask=split",
                     {"split": {"allocations": {"v1": 1}, "shardBy": "RANDOM"}})
    assert status == 200 and op["done"] and op["response"]["split"]["shardBy"] == "RANDOM"
    status, op = raw(gae_emulator, "PATCH", f"/v1/{APP}/services/default?updateMask=split",
                     {"split": {"allocations": {"v1": 1}, "shardBy": 2}})
    assert status == 200 and op["response"]["split"]["shardBy"] == "IP"


def test_operation_carries_type_and_name(gae_emulator, two_versions):
    status, op = raw(gae_emulator, "PATCH", f"/v1/{APP}/services/default?updateMask=split",
                     {"split": {"allocations": {"v2": 1}}})
    assert op["name"].startswith(f"{APP}/operations/")
    assert op["response"]["@type"] == "type.googleapis.com/google.appengine.v1.Service"
    assert op["metadata"]["@type"] == "type.googleapis.com/google.appengine.v1.OperationMetadataV1"
    status, op = raw(gae_emulator, "DELETE", f"/v1/{APP}/services/default/versions/v1")
    assert status == 200 and op["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}


def test_operations_finish_after_the_delay_and_are_polled(gae_emulator, gae_clients):
    gae_emulator.operation_delay = 2.0  # long enough that a loaded machine still sees it running
    op = gae_clients.versions.create_version(request={
        "parent": f"{APP}/services/default",
        "version": {"id": "v1", "runtime": "python312", "deployment": {"zip": {"source_url": "gs://b/x"}}}},
        timeout=T)
    assert not op.done()
    assert gae_emulator.snapshot()["services"] == {}  # not listed until its operation is done
    assert op.result(timeout=T).id == "v1"
    assert gae_emulator.count("apps.operations.get") >= 1
    ops = list(gae_clients.applications.transport.operations_client.list_operations(APP, ""))
    assert len(ops) == 1 and ops[0].done


def test_pagination(gae_emulator, gae_clients):
    create_version(gae_clients, "default", "v1")
    for i in range(4):
        create_version(gae_clients, f"svc-{i}", "v1")
    status, page1 = raw(gae_emulator, "GET", f"/v1/{APP}/services?pageSize=2")
    assert [s["id"] for s in page1["services"]] == ["default", "svc-0"] and page1["nextPageToken"]
    status, page2 = raw(gae_emulator, "GET", f"/v1/{APP}/services?pageSize=2&pageToken={page1['nextPageToken']}")
    assert [s["id"] for s in page2["services"]] == ["svc-1", "svc-2"]
    pager = gae_clients.services.list_services(request={"parent": APP, "page_size": 2}, timeout=T)
    assert [s.id for s in pager] == ["default", "svc-0", "svc-1", "svc-2", "svc-3"]
    assert gae_emulator.count("apps.services.list") == 2 + 3


def test_bad_page_token_is_refused(gae_emulator):
    status, doc = raw(gae_emulator, "GET", f"/v1/{APP}/services?pageToken=garbage")
    assert status == 400 and doc["error"]["status"] == "INVALID_ARGUMENT"
    assert "Invalid page token" in doc["error"]["message"]


def test_basic_view_omits_full_only_fields(gae_emulator, two_versions):
    basic = two_versions.versions.get_version(request={"name": f"{APP}/services/default/versions/v1"}, timeout=T)
    assert not basic.deployment.zip_.source_url
    full = two_versions.versions.get_version(
        request={"name": f"{APP}/services/default/versions/v1", "view": "FULL"}, timeout=T)
    assert full.deployment.zip_.source_url == "gs://b/default/v1.zip"


def test_unknown_field_is_refused_in_googles_shape(gae_emulator, two_versions):
    status, doc = raw(gae_emulator, "PATCH", f"/v1/{APP}/services/default?updateMask=split",
                      {"split": {"allocations": {"v1": 1}}, "colour": "red"})
    assert status == 400
    assert set(doc["error"]) == {"code", "message", "status", "details"}
    assert doc["error"]["code"] == 400 and doc["error"]["status"] == "INVALID_ARGUMENT"
    assert 'no field named "colour"' in doc["error"]["message"]


def test_unemulated_method_answers_unimplemented(gae_emulator):
    status, doc = raw(gae_emulator, "GET", f"/v1/{APP}/authorizedDomains")
    assert status == 501 and doc["error"]["status"] == "UNIMPLEMENTED"


# --- refusals (one per rule) -----------------------------------------------------------------------

@pytest.mark.parametrize("allocations, shard_by, message", [
    ({"v1": 0.5, "v2": 0.4}, "IP", "sum to 0.9; they must sum to 1"),
    ({"v1": 1.0, "v2": 0.0}, "COOKIE", "outside (0, 1]"),
    ({"v1": 1.5, "v2": -0.5}, "COOKIE", "outside (0, 1]"),
    ({"v1": 0.555, "v2": 0.445}, "IP", "more than 2 decimal places"),
    ({"v1": 0.5555, "v2": 0.4445}, "COOKIE", "more than 3 decimal places"),
    ({"v1": 0.5555, "v2": 0.4445}, "RANDOM", "more than 3 decimal places"),
    ({"v1": 0.5, "v9": 0.5}, "IP", "has no version 'v9'"),
    ({}, "IP", "at least one version"),
])
def test_split_refusals(two_versions, allocations, shard_by, message):
    with pytest.raises(gexc.BadRequest, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        set_split(two_versions, "default", allocations, shard_by)


def test_three_decimals_accepted_for_cookie(two_versions):
    assert dict(set_split(two_versions, "default", {"v1": 0.555, "v2": 0.445}, "COOKIE").split.allocations) \
        == {"v1": 0.555, "v2": 0.445}


def test_version_named_twice_in_a_split_is_refused(gae_emulator, two_versions):
    body = b'{"split": {"allocations": {"v1": 0.5, "v1": 0.5}}}'
    req = urllib.request.Request(f"{gae_emulator.url}/v1/{APP}/services/default?updateMask=split",
                                 data=body, method="PATCH")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=T)
    doc = json.loads(err.value.read())
    assert err.value.code == 400 and "Duplicate map key: v1" in doc["error"]["message"]


def test_version_with_traffic_cannot_be_deleted(two_versions):
    set_split(two_versions, "default", {"v1": 0.5, "v2": 0.5})
    with pytest.raises(gexc.BadRequest, match="Cannot delete version 'v2'.*traffic allocation of 0.5"):
        two_versions.versions.delete_version(request={"name": f"{APP}/services/default/versions/v2"}, timeout=T)
    set_split(two_versions, "default", {"v1": 1})
    two_versions.versions.delete_version(
        request={"name": f"{APP}/services/default/versions/v2"}, timeout=T).result(timeout=T)


@pytest.mark.parametrize("version, message", [
    ("default", "reserved"), ("latest", "reserved"), ("ah-builtin", "reserved"),
    ("V1", "lowercase letters"), ("v_1", "lowercase letters"), ("-v1", "begin and end"),
    ("v" * 64, "64 characters long; at most 63"), ("a-dot-b", "-dot-"),
])
def test_version_id_refusals(gae_emulator, gae_clients, version, message):
    with pytest.raises(gexc.BadRequest, match=message):
        create_version(gae_clients, "default", version)


@pytest.mark.parametrize("service, message", [
    ("Web", "lowercase letters"), ("s" * 64, "at most 63"), ("web-dot-app", "-dot-"), ("web-", "begin and end"),
])
def test_service_id_refusals(gae_emulator, gae_clients, service, message):
    create_version(gae_clients, "default", "v1")
    with pytest.raises(gexc.BadRequest, match=message):
        create_version(gae_clients, service, "v1")


def test_first_service_must_be_default(gae_clients):
    with pytest.raises(gexc.BadRequest, match="must be the 'default' service"):
        create_version(gae_clients, "web", "v1")


def test_existing_version_cannot_be_created_again(two_versions):
    with pytest.raises(gexc.Conflict, match="already exists"):
        create_version(two_versions, "default", "v1")


def test_version_needs_runtime_and_deployment(gae_clients):
    with pytest.raises(gexc.BadRequest, match="runtime is required"):
        gae_clients.versions.create_version(request={"parent": f"{APP}/services/default", "version": {
            "id": "v1", "deployment": {"zip": {"source_url": "gs://b/x"}}}}, timeout=T)
    with pytest.raises(gexc.BadRequest, match="deployment is required"):
        gae_clients.versions.create_version(request={"parent": f"{APP}/services/default", "version": {
            "id": "v1", "runtime": "python312"}}, timeout=T)


def test_update_mask_is_required_on_services_patch(two_versions):
    with pytest.raises(gexc.BadRequest, match="An update mask is required"):
        set_split(two_versions, "default", {"v1": 1}, mask=())


def test_update_mask_is_limited_to_service_fields(two_versions):
    with pytest.raises(gexc.BadRequest, match="Field 'id' cannot be updated"):
        set_split(two_versions, "default", {"v1": 1}, mask=("split", "id"))


def test_update_mask_in_camel_case_as_clients_send_it(gae_emulator, two_versions):
    status, op = raw(gae_emulator, "PATCH", f"/v1/{APP}/services/default?updateMask=split,networkSettings",
                     {"split": {"allocations": {"v2": 1}},
                      "networkSettings": {"ingressTrafficAllowed": "INGRESS_TRAFFIC_ALLOWED_INTERNAL_ONLY"}})
    assert status == 200
    assert op["response"]["networkSettings"]["ingressTrafficAllowed"] == "INGRESS_TRAFFIC_ALLOWED_INTERNAL_ONLY"


def test_migrate_traffic_needs_shard_by(two_versions):
    with pytest.raises(gexc.BadRequest, match="requires split.shardBy"):
        set_split(two_versions, "default", {"v2": 1}, shard_by="UNSPECIFIED", migrate=True)


def test_migrate_traffic_to_one_standard_version_with_warmup(two_versions):
    assert dict(set_split(two_versions, "default", {"v2": 1}, "IP", migrate=True).split.allocations) == {"v2": 1}


def test_migrate_traffic_refused_for_more_than_one_version(two_versions):
    with pytest.raises(gexc.BadRequest, match="only be migrated to a single version"):
        set_split(two_versions, "default", {"v1": 0.5, "v2": 0.5}, "IP", migrate=True)


def test_migrate_traffic_refused_for_flexible(gae_emulator, gae_clients):
    create_version(gae_clients, "default", "v1")
    create_version(gae_clients, "default", "flex1", env="flex")
    with pytest.raises(gexc.BadRequest, match="flexible environment"):
        set_split(gae_clients, "default", {"flex1": 1}, "IP", migrate=True)


def test_migrate_traffic_refused_without_warmup(gae_emulator, gae_clients):
    create_version(gae_clients, "default", "v1")
    create_version(gae_clients, "default", "cold", inbound_services=[])
    with pytest.raises(gexc.BadRequest, match="does not enable warmup requests"):
        set_split(gae_clients, "default", {"cold": 1}, "IP", migrate=True)


def test_default_service_cannot_be_deleted(two_versions):
    with pytest.raises(gexc.BadRequest, match="default service cannot be deleted"):
        two_versions.services.delete_service(request={"name": f"{APP}/services/default"}, timeout=T)


def test_service_delete_removes_its_versions(gae_emulator, two_versions):
    create_version(two_versions, "web", "w1")
    two_versions.services.delete_service(request={"name": f"{APP}/services/web"}, timeout=T).result(timeout=T)
    assert list(gae_emulator.snapshot()["services"]) == ["default"]


def test_version_patch_mask_follows_environment_and_scaling(gae_emulator, gae_clients):
    create_version(gae_clients, "default", "auto")
    create_version(gae_clients, "default", "manual", automatic_scaling=None, manual_scaling={"instances": 1})
    stop = {"serving_status": "STOPPED"}
    with pytest.raises(gexc.BadRequest, match="Field 'serving_status' cannot be updated"):
        gae_clients.versions.update_version(request={
            "name": f"{APP}/services/default/versions/auto", "version": stop,
            "update_mask": field_mask_pb2.FieldMask(paths=["serving_status"])}, timeout=T)
    stopped = gae_clients.versions.update_version(request={
        "name": f"{APP}/services/default/versions/manual", "version": stop,
        "update_mask": field_mask_pb2.FieldMask(paths=["serving_status"])}, timeout=T).result(timeout=T)
    assert stopped.serving_status.name == "STOPPED"


# --- dispatch rules --------------------------------------------------------------------------------

def patch_dispatch(clients, dispatch_rules):
    op = clients.applications.update_application(request={
        "name": APP, "application": {"dispatch_rules": dispatch_rules},
        "update_mask": field_mask_pb2.FieldMask(paths=["dispatch_rules"])}, timeout=T)
    return op.result(timeout=T)


def test_dispatch_rules_round_trip(gae_emulator, two_versions):
    create_version(two_versions, "user-service-v1", "a")
    app = patch_dispatch(two_versions, [{"domain": "*", "path": "/users/v1/*", "service": "user-service-v1"}])
    assert [(r.path, r.service) for r in app.dispatch_rules] == [("/users/v1/*", "user-service-v1")]
    assert gae_emulator.snapshot()["dispatchRules"][0]["service"] == "user-service-v1"


def test_dispatch_domain_defaults_to_every_domain(gae_emulator, two_versions):
    app = patch_dispatch(two_versions, [{"path": "/*", "service": "default"}])
    assert app.dispatch_rules[0].domain == "*"


def test_dispatch_mask_with_gclouds_trailing_comma(gae_emulator, two_versions):
    status, op = raw(gae_emulator, "PATCH", f"/v1/{APP}?updateMask=dispatchRules,",
                     {"dispatchRules": [{"domain": "*", "path": "/*", "service": "default"}]})
    assert status == 200 and op["response"]["dispatchRules"][0]["path"] == "/*"


@pytest.mark.parametrize("rule_list, message", [
    ([{"path": "/a/*", "service": "default"}] * 21, "21 dispatch rules given; at most 20"),
    ([{"path": "a/*", "service": "default"}], "must start with '/'"),
    ([{"path": "/a/*/b", "service": "default"}], "only once, as its last character"),
    ([{"path": "/a**", "service": "default"}], "only once, as its last character"),
    ([{"domain": "x" * 90, "path": "/" + "p" * 10, "service": "default"}], "101 characters long"),
    ([{"path": "/a", "service": "nope"}], "service 'nope' does not exist"),
    ([{"domain": "a.*.com", "path": "/a", "service": "default"}], "leading"),
])
def test_dispatch_refusals(two_versions, rule_list, message):
    with pytest.raises(gexc.BadRequest, match=message):
        patch_dispatch(two_versions, rule_list)


def test_twenty_dispatch_rules_are_accepted(two_versions):
    rules = [{"path": f"/r{i}/*", "service": "default"} for i in range(20)]
    assert len(patch_dispatch(two_versions, rules).dispatch_rules) == 20


def test_application_mask_is_required_and_limited(two_versions):
    with pytest.raises(gexc.BadRequest, match="An update mask is required"):
        two_versions.applications.update_application(request={"name": APP, "application": {}}, timeout=T)
    with pytest.raises(gexc.BadRequest, match="Field 'location_id' cannot be updated"):
        two_versions.applications.update_application(request={
            "name": APP, "application": {"location_id": "europe-west"},
            "update_mask": field_mask_pb2.FieldMask(paths=["location_id"])}, timeout=T)


def _undocumented_keys(doc, schema_name, schemas, where=""):
    """Keys of ``doc`` that the discovery document's schema does not declare (recursively)."""
    schema = schemas[schema_name]
    found = []
    for key, value in doc.items():
        prop = schema["properties"].get(key)
        if prop is None:
            found.append(f"{where}{key}")
            continue
        ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
        if ref and isinstance(value, dict):
            found += _undocumented_keys(value, ref, schemas, f"{where}{key}.")
        elif ref and isinstance(value, list):
            for item in value:
                found += _undocumented_keys(item, ref, schemas, f"{where}{key}[].")
    return found


def test_every_field_answered_is_in_the_discovery_document(gae_emulator, two_versions):
    schemas = wire.discovery()["schemas"]
    create_version(two_versions, "web", "w1", env="flex", automatic_scaling={"cool_down_period": "120s"})
    patch_dispatch(two_versions, [{"path": "/web/*", "service": "web"}])
    answers = [
        ("Application", raw(gae_emulator, "GET", f"/v1/{APP}")[1]),
        ("ListServicesResponse", raw(gae_emulator, "GET", f"/v1/{APP}/services")[1]),
        ("ListVersionsResponse", raw(gae_emulator, "GET", f"/v1/{APP}/services/web/versions?view=FULL")[1]),
        ("ListOperationsResponse", raw(gae_emulator, "GET", f"/v1/{APP}/operations")[1]),
    ]
    for schema, doc in answers:
        assert doc and _undocumented_keys(doc, schema, schemas) == [], schema


def test_iap_secret_is_never_returned(gae_emulator, gae_clients):
    secret = "x" * 12  # a made-up value: the point is that it does not come back
    app = gae_clients.applications.update_application(request={
        "name": APP, "application": {"iap": {"enabled": True, "oauth2_client_id": "cid",
                                             "oauth2_client_secret": secret}},
        "update_mask": field_mask_pb2.FieldMask(paths=["iap"])}, timeout=T).result(timeout=T)
    assert app.iap.oauth2_client_secret == "" and len(app.iap.oauth2_client_secret_sha256) == 64
    assert secret not in json.dumps(raw(gae_emulator, "GET", f"/v1/{APP}")[1])


def test_an_emulator_bug_answers_500_in_googles_shape(gae_emulator, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("boom")
    monkeypatch.setattr(gae_emulator.state, "get_app", broken)
    status, doc = raw(gae_emulator, "GET", f"/v1/{APP}")
    assert status == 500 and doc["error"]["status"] == "INTERNAL"
    assert "meshspec emulator bug: KeyError" in doc["error"]["message"]


def test_concurrent_writes_are_all_applied(gae_emulator, gae_clients):
    from concurrent.futures import ThreadPoolExecutor

    create_version(gae_clients, "default", "v0")
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(lambda i: create_version(gae_clients, f"svc-{i % 4}", f"v{i}"), range(1, 41)))
    assert len(done) == 40
    services = gae_emulator.snapshot()["services"]
    assert sum(len(s["versions"]) for s in services.values()) == 41
    assert gae_emulator.count("apps.services.versions.create") == 41 and gae_emulator.refusals() == []
