"""Fixtures for App Engine tests: the emulator on a free port of 127.0.0.1, and the real client.

``gae_emulator`` (one per test module, reset before every test) and ``gae_clients`` (the
google.cloud.appengine_admin_v1 clients over REST with anonymous credentials, pointed at it).
Imported by tests/conftest.py, so every test module can ask for them.
"""
from __future__ import annotations

import pytest

from infra.appengine.emulator import Emulator

GAE_PROJECT = "meshspec-test"


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
