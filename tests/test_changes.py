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
    assert c.stacks == () and c.services == frozenset() and c.removed == frozenset()


def test_a_changed_image_touches_its_stack_alone():
    new = BASE.replace("image: public.ecr.aws/shop/pricing:42", "image: public.ecr.aws/shop/pricing:43")
    c = diff_specs(spec(BASE), spec(new))
    assert c.services == {"pricing"} and c.stacks == ("shop-svc-pricing",)


def test_a_changed_port_touches_the_callers_stacks():
    text = BASE[BASE.index("  pricing:\n"):]
    new = BASE.replace(text, text.replace("port: 8080", "port: 8081", 1))
    c = diff_specs(spec(BASE), spec(new))
    assert c.services == {"pricing"} and c.stacks == ("shop-svc-catalog", "shop-svc-pricing")


def test_a_changed_contract_file_touches_no_stack():
    c = diff_specs(spec(BASE), spec(BASE), spec_dir=PurePosixPath("examples"),
                   changed_files=frozenset({"examples/contracts/erp-connector-v1.json", "README.md"}))
    assert c.stacks == () and c.contracts == {"examples/contracts/erp-connector-v1.json"}


def test_project_wide_change_touches_the_stacks_that_read_it():
    c = diff_specs(spec(BASE), spec(BASE.replace("logRetentionDays: 30", "logRetentionDays: 60")))
    assert "shop-shared" in c.stacks and "shop-svc-catalog" in c.stacks and "shop-queries" not in c.stacks


def test_a_new_spec_touches_every_stack():
    c = diff_specs(None, spec(BASE))
    assert c.stacks[0] == "shop-shared" and len(c.stacks) == 8


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
