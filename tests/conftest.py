"""Shared fixtures: the shipped example, loaded once per session."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from meshspec.infra.node import use_project_node

use_project_node()  # the tests' CDK apps run jsii on the project's Node, as `meshspec synth` does

# Property tests: in CI (CI=true, as .ci/run sets it) the same examples every run, so a red CI is the change's
# doing, not a new draw; on a workstation every run draws new ones, which is how they find bugs (a failure prints
# the blob that replays it, to be kept as an explicit example).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHOP = EXAMPLES / "shop.yaml"
# The CLI's synth and plan turn jsii's runtime type checks off for speed (meshspec.stacks.app.skip_jsii_type_checks);
# tests run the CLI in-process, and keep them on.
os.environ.setdefault("MESHSPEC_JSII_TYPE_CHECKS", "1")
# meshspec's caches (the synth cache, OpenAPI validation verdicts): one folder per test process, never the home
# folder.
os.environ["MESHSPEC_CACHE_DIR"] = tempfile.mkdtemp(prefix="meshspec-test-cache-")

# Fixed "today" so sunset-date checks do not change with the calendar.
TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="session")
def shop_spec():
    from meshspec.infra.spec import load_spec

    result = load_spec(SHOP, today=TODAY)
    assert result.ok, [e.render() for e in result.errors]
    return result.spec


# App Engine emulator fixtures (gae_emulator, gae_clients): tests/appengine_fixtures.py
from .appengine_fixtures import _gae_server, gae_clients, gae_emulator  # noqa: E402,F401
