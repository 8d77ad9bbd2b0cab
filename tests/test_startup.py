"""The garbage collector around the big imports (infra/startup.py): paused for them, on again afterwards."""
from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from meshspec.infra.cli.main import main
from meshspec.infra.startup import frozen_imports

from .conftest import SHOP


@pytest.fixture
def collector_on():
    """Whatever a test does to the collector, the next test finds it on."""
    gc.enable()
    yield
    gc.enable()


def test_frozen_imports_pauses_the_collector_then_turns_it_back_on(collector_on):
    with frozen_imports():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_frozen_imports_freezes_the_objects_made_in_the_block(collector_on):
    before = gc.get_freeze_count()
    with frozen_imports():
        made = [[i] for i in range(1000)]  # lists are tracked by the collector
    assert gc.get_freeze_count() >= before + len(made)


def test_frozen_imports_leaves_a_paused_collector_paused(collector_on):
    gc.disable()
    with frozen_imports():
        pass
    assert not gc.isenabled()


def test_frozen_imports_turns_the_collector_back_on_when_an_import_fails(collector_on):
    with pytest.raises(ImportError):
        with frozen_imports():
            import meshspec.infra.no_such_module  # noqa: F401
    assert gc.isenabled()


def test_a_command_that_loads_cdk_leaves_the_collector_on(collector_on, tmp_path, capsys):
    # plan imports aws-cdk-lib inside frozen_imports, then refuses the --against directory
    assert main(["plan", str(SHOP), "--against", str(tmp_path)]) == 1
    assert "is not a cloud assembly" in capsys.readouterr().err
    assert gc.isenabled()


def test_synth_imports_no_aws_cdk_module_the_spec_does_not_use():
    # each of these costs every synth 5 to 50 ms; they are imported where a construct needs them
    code = ("import sys, meshspec.infra.cli.commands.synth, meshspec.stacks.app; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('aws_cdk.aws_'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "aws_cdk.aws_ecs" in loaded  # the check sees aws-cdk-lib's modules at all
    for unused in ("aws_lambda", "aws_kms", "aws_ssm", "aws_vpclattice", "aws_route53"):
        assert f"aws_cdk.{unused}" not in loaded
