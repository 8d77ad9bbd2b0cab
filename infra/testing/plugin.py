"""pytest plugin (entry point ``pytest11``): snapshot tests of a spec's templates in the user's own repository.

Fixtures:
- ``meshspec_synth`` (session): the spec synthesized once (``meshspec.infra.testing.Synthesized``): ``templates``,
  ``template(stack)`` / ``service_template(service)`` as aws-cdk ``Template`` assertions. A spec with errors fails
  the tests that use it with the spec's errors, not a traceback.
- ``meshspec_snapshot``: syrupy's ``snapshot`` with :class:`TemplateSnapshotExtension`:
  ``assert template == meshspec_snapshot(name=stack)`` is a whole-template snapshot, scrubbed.

The spec: ``--meshspec-spec PATH`` or the ini option ``meshspec_spec``. Default: ``meshspec.yaml`` in pytest's
rootdir. See ``meshspec help testing``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from meshspec.infra.testing import SpecFailed, scrub, synthesize_spec

try:
    from syrupy.extensions.json import JSONSnapshotExtension
except ImportError:  # pytest without syrupy: the snapshot fixture says what to install
    JSONSnapshotExtension = None

DEFAULT_SPEC = "meshspec.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("meshspec_spec", f"the spec meshspec's fixtures synthesize (default: {DEFAULT_SPEC})",
                  default=DEFAULT_SPEC)
    parser.getgroup("meshspec").addoption("--meshspec-spec", metavar="PATH",
                                          help="the spec meshspec's fixtures synthesize (overrides the ini option)")


if JSONSnapshotExtension is not None:
    class TemplateSnapshotExtension(JSONSnapshotExtension):
        """syrupy's JSON snapshots, one file per snapshot, of templates scrubbed by ``meshspec.infra.testing.scrub``."""

        def serialize(self, data, **kwargs):
            return super().serialize(scrub(data), **kwargs)
else:  # pragma: no cover
    TemplateSnapshotExtension = None


@pytest.fixture(scope="session")
def meshspec_spec_path(pytestconfig: pytest.Config) -> Path:
    given = pytestconfig.getoption("meshspec_spec") or pytestconfig.getini("meshspec_spec")
    path = Path(given)
    return path if path.is_absolute() else Path(pytestconfig.rootpath) / path


@pytest.fixture(scope="session")
def meshspec_synth(meshspec_spec_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The spec synthesized once per test session."""
    if not meshspec_spec_path.is_file():
        pytest.fail(f"meshspec: no spec at {meshspec_spec_path} (set --meshspec-spec PATH or the ini option "
                    "meshspec_spec)", pytrace=False)
    try:
        return synthesize_spec(meshspec_spec_path, tmp_path_factory.mktemp("meshspec-synth"))
    except SpecFailed as exc:
        problem = str(exc)
    # outside the except block, so pytest shows the spec's errors alone, not a chain of exceptions
    pytest.fail(f"meshspec: {meshspec_spec_path} cannot be synthesized:\n{problem}", pytrace=False)


@pytest.fixture
def meshspec_snapshot(request: pytest.FixtureRequest):
    """syrupy's snapshot fixture with meshspec's template extension."""
    if TemplateSnapshotExtension is None:
        pytest.fail("meshspec_snapshot needs syrupy: pip install 'meshspec[testing]'", pytrace=False)
    return request.getfixturevalue("snapshot").use_extension(TemplateSnapshotExtension)
