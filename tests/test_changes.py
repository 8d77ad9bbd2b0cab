"""Which services a change touches, from two specs and the changed files, and from a real git history."""
from __future__ import annotations

import subprocess
from pathlib import PurePosixPath

import pytest

from meshspec.infra.changes import diff_specs, spec_at_ref
from meshspec.infra.errors import UserError
from meshspec.infra.spec import load_text

from .conftest import SHOP, TODAY

BASE = SHOP.read_text()


def spec(text):
    r = load_text(text, today=TODAY)
    assert r.spec is not None, [e.render() for e in r.errors]
    return r.spec


def test_unchanged_spec_touches_nothing():
    c = diff_specs(spec(BASE), spec(BASE))
    assert c.services == frozenset() and not c.global_change and c.removed == frozenset()


def test_a_changed_service_is_touched_alone():
    new = BASE.replace("image: public.ecr.aws/shop/pricing:42", "image: public.ecr.aws/shop/pricing:43")
    c = diff_specs(spec(BASE), spec(new))
    assert c.services == {"pricing"} and not c.global_change


def test_a_changed_contract_file_touches_its_service():
    c = diff_specs(spec(BASE), spec(BASE), spec_dir=PurePosixPath("examples"),
                   changed_files=frozenset({"examples/contracts/erp-connector-v1.json"}))
    assert c.services == {"erp-connector"}


def test_project_wide_change_touches_everything():
    c = diff_specs(spec(BASE), spec(BASE.replace("logRetentionDays: 30", "logRetentionDays: 60")))
    assert c.global_change and all(c.touches(s) for s in ("catalog", "web-app"))


def test_git_ref(tmp_path):
    def git(*a):
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)
    git("init", "-q")
    (tmp_path / "shop.yaml").write_text(BASE)
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    (tmp_path / "shop.yaml").write_text(BASE.replace("traffic: 90\n      - name: p-42", "traffic: 80\n      - name: p-42")
                                        .replace("pricing:42\n        traffic: 10", "pricing:42\n        traffic: 20"))
    old, changed = spec_at_ref(tmp_path / "shop.yaml", "HEAD")
    assert changed == {"shop.yaml"}
    c = diff_specs(old, spec((tmp_path / "shop.yaml").read_text()))
    assert c.services == {"pricing"}
    with pytest.raises(UserError, match="git diff"):
        spec_at_ref(tmp_path / "shop.yaml", "no-such-ref")
