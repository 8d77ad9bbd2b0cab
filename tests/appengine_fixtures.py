"""Fixtures and helpers for App Engine tests: the emulator on a free port of 127.0.0.1, the real client.

``gae_emulator`` (one per test module, reset before every test) and ``gae_clients`` (the
google.cloud.appengine_admin_v1 clients over REST with anonymous credentials, pointed at it).
Imported by tests/conftest.py, so every test module can ask for them. Helpers: ``create_version``,
``set_split`` (through the client, waiting for the operation), ``raw`` (plain HTTP, as gcloud or curl).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from google.protobuf import field_mask_pb2

from meshspec.infra.appengine.emulator import Emulator

GAE_PROJECT = "meshspec-test"
APP = f"apps/{GAE_PROJECT}"
T = 10  # seconds: every call gets a timeout, as the client sets none


def create_version(clients, service, version, **fields):
    body = {"id": version, "runtime": "python312", "automatic_scaling": {},
            "inbound_services": ["INBOUND_SERVICE_WARMUP"],
            "deployment": {"zip": {"source_url": f"gs://b/{service}/{version}.zip"}}, **fields}
    op = clients.versions.create_version(
        request={"parent": f"{APP}/services/{service}", "version": body}, timeout=T)
    return op.result(timeout=T)


def set_split(clients, service, allocations, shard_by="IP", migrate=False, mask=("split",)):
    op = clients.services.update_service(request={
        "name": f"{APP}/services/{service}",
        "service": {"split": {"allocations": allocations, "shard_by": shard_by}},
        "update_mask": field_mask_pb2.FieldMask(paths=list(mask)), "migrate_traffic": migrate}, timeout=T)
    return op.result(timeout=T)


def raw(emu, method, path, body=None):
    """A raw HTTP call (what gcloud or curl would send): (status, JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(emu.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=T) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def _gae_server():
    with Emulator(project=GAE_PROJECT) as emu:
        yield emu


@pytest.fixture
def gae_emulator(_gae_server):
    """A fresh application (no services, no faults, no recorded calls, operations finish at once)."""
    _gae_server.reset()
    _gae_server.operation_delay = 0.0
    yield _gae_server
    _gae_server.clear_faults()


@pytest.fixture
def gae_clients(gae_emulator):
    return gae_emulator.clients()
