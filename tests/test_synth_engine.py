"""The synth engine: the cache never trusted on a name, two synths sharing one cache, the CLI's summary and bar.
(Byte identity of parallel and cached synth over random edits: tests/test_synth_properties.py.)"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshspec.infra.cli.commands.synth import summary
from meshspec.infra.cli.main import main
from meshspec.infra.cli.progress import Progress
from meshspec.stacks import assembly, engine
from meshspec.stacks.cache import Cache

from .conftest import SHOP


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cold(shop_spec, tmp_path_factory):
    """A cold single-process synth of the example, without a cache: the reference."""
    out = tmp_path_factory.mktemp("cold")
    run = engine.synth(shop_spec, out, jobs=1)
    assert run.built == run.stacks and run.cached == []
    return files(out)


def entries(cache_dir: Path) -> dict[str, Path]:
    """Stack → its entry file."""
    out = {}
    for entry in (cache_dir / "v2").glob("*/*"):
        out[json.loads(entry.read_bytes().partition(b"\n")[0])["stack"] or "(app)"] = entry
    return out


def rewrite_header(entry: Path, change) -> None:
    """Edit an entry's header and give it a matching digest (as someone who knows the format could)."""
    head, _, body = entry.read_bytes().partition(b"\n")
    doc = json.loads(head)
    change(doc)
    fields = {k: v for k, v in doc.items() if k != "digest"}
    doc["digest"] = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    entry.write_bytes(json.dumps(doc, sort_keys=True).encode() + b"\n" + body)


def test_a_warm_cache_copies_every_stack_byte_for_byte(shop_spec, cold, tmp_path):
    cache = Cache(tmp_path / "cache")
    engine.synth(shop_spec, tmp_path / "a", jobs=1, cache=cache)
    run = engine.synth(shop_spec, tmp_path / "b", jobs=1, cache=cache)
    assert run.built == [] and run.cached == run.stacks and run.workers == 0
    assert files(tmp_path / "b") == cold


@pytest.mark.parametrize("damage", ["template", "entry", "foreign", "truncated", "path outside"])
def test_a_corrupt_or_foreign_cache_entry_is_detected_and_rebuilt(shop_spec, cold, tmp_path, damage):
    cache_dir = tmp_path / "cache"
    engine.synth(shop_spec, tmp_path / "a", jobs=1, cache=Cache(cache_dir / "synth"))
    found = entries(cache_dir / "synth")
    pricing = found["shop-svc-pricing"]
    if damage == "template":  # one byte of a file changed: its SHA-256 no longer matches
        pricing.write_bytes(pricing.read_bytes().replace(b"pricing:42", b"pricing:66"))
    elif damage == "entry":  # the header edited: its digest no longer matches
        pricing.write_bytes(re.sub(rb'"resources": (\d+)', lambda m: b'"resources": %d' % (int(m[1]) - 1),
                                   pricing.read_bytes(), count=1))
    elif damage == "foreign":  # a whole, valid entry of another stack under pricing's key
        shutil.copyfile(found["shop-svc-catalog"], pricing)
    elif damage == "truncated":
        pricing.write_bytes(pricing.read_bytes()[:-100])
    else:  # a file outside the assembly, with a consistent digest: refused all the same
        rewrite_header(pricing, lambda doc: doc["files"].update(
            {"../../outside": doc["files"].pop("shop-svc-pricing.assets.json")}))
    run = engine.synth(shop_spec, tmp_path / "b", jobs=1, cache=Cache(cache_dir / "synth"))
    assert run.rejected == ["shop-svc-pricing"] and run.built == ["shop-svc-pricing"]
    assert files(tmp_path / "b") == cold
    assert not (tmp_path / "outside").exists()
    again = engine.synth(shop_spec, tmp_path / "c", jobs=1, cache=Cache(cache_dir / "synth"))  # rewritten
    assert again.rejected == [] and again.built == []


def test_an_entry_found_corrupt_while_workers_build_is_rebuilt_after_them(shop_spec, tmp_path):
    # GIVEN a cache of the shop, pricing's entry damaged, and a spec where catalog changed: the entries are only
    # looked up by name before catalog's build starts, read while it is built, and pricing's found corrupt then
    cache_dir = tmp_path / "cache"
    engine.synth(shop_spec, tmp_path / "a", jobs=1, cache=Cache(cache_dir))
    pricing = entries(cache_dir)["shop-svc-pricing"]
    pricing.write_bytes(pricing.read_bytes().replace(b"pricing:42", b"pricing:66"))
    catalog = shop_spec.services["catalog"]
    version = catalog.versions[0].model_copy(update={"image": catalog.versions[0].image + "-b"})
    changed = shop_spec.model_copy(update={"services": {
        **shop_spec.services, "catalog": catalog.model_copy(update={"versions": [version]})}})
    # WHEN synthesized (one share each time, built in this process: CDK is loaded here already)
    run = engine.synth(changed, tmp_path / "b", jobs=2, cache=Cache(cache_dir), min_share=1)
    # THEN catalog was built, pricing rebuilt after it, and the assembly is a cold synth's
    assert run.rejected == ["shop-svc-pricing"] and run.built == ["shop-svc-catalog", "shop-svc-pricing"]
    engine.synth(changed, tmp_path / "cold", jobs=1)
    assert files(tmp_path / "b") == files(tmp_path / "cold")


def test_two_synths_at_once_share_one_cache(cold, tmp_path):
    """Two CLI processes, the same cache, at the same time: both write the reference assembly, and every entry
    they leave is whole (a third synth takes all of them and rejects none)."""
    env = {**os.environ, "MESHSPEC_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "meshspec.infra.cli", "synth", str(SHOP), "--jobs", "1", "--format", "json"]
    procs = [subprocess.Popen([*cmd, "--out", str(tmp_path / f"o{i}")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for i in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()[-2000:]
    assert files(tmp_path / "o0") == cold and files(tmp_path / "o1") == cold
    third = subprocess.run([*cmd, "--out", str(tmp_path / "o2")], env=env, capture_output=True, timeout=600)
    doc = json.loads(third.stdout)
    assert doc["cache"]["built"] == [] and doc["cache"]["rejected"] == [] and len(doc["cache"]["cached"]) == 8
    assert files(tmp_path / "o2") == cold
    assert not list((tmp_path / "cache" / "synth" / "tmp").glob("new-*"))  # no half-written entry left behind


def test_no_cache_synthesizes_everything_and_keeps_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MESHSPEC_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["synth", str(SHOP), "--out", str(tmp_path / "o"), "--no-cache", "--jobs", "1",
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cache"]["dir"] is None and len(doc["cache"]["built"]) == 8
    assert not (tmp_path / "cache" / "synth").exists()


def test_fails_for_jobs_below_one(capsys):
    assert main(["synth", str(SHOP), "--jobs", "0"]) == 1
    assert "--jobs 0: give at least 1" in capsys.readouterr().err


def test_the_summary_lists_changed_stacks_and_one_line_for_the_rest():
    stacks = {f"p-svc-{i:03}": 20 for i in range(500)}
    changed = ["p-svc-007", "p-svc-123"]
    lines = summary(stacks, changed, {"built": changed, "cached": [s for s in stacks if s not in changed],
                                      "rejected": [], "workers": 1}, [])
    assert lines == ["p-svc-007: 20 resources", "p-svc-123: 20 resources", "498 stack(s) unchanged",
                     "synthesized 2 stack(s) in 1 worker process(es), 498 from the cache"]
    lines = summary(stacks, list(stacks), {"built": list(stacks), "cached": [], "rejected": [], "workers": 2}, [])
    assert len(lines) == 32 and lines[30] == "... and 470 more changed stack(s) (--format json lists every stack)"


def test_the_progress_bar_draws_on_a_terminal_only(capsys):
    bar = Progress("synth", enabled=True)
    bar("total", "3")
    for s in ("a", "b"):
        bar("cached", s)
    bar("built", "c")
    assert bar.done == 3 and bar.cached == 2
    bar.close()
    err = capsys.readouterr().err
    assert "synth:" in err and "/3 stacks" in err  # tqdm redraws at most every 0.1 s
    quiet = Progress("synth")  # stderr is not a terminal under pytest (as in CI)
    quiet("total", "3")
    quiet("built", "a")
    quiet.close()
    assert capsys.readouterr().err == ""


def test_the_cli_draws_no_bar_when_stderr_is_not_a_terminal(capsys, tmp_path):
    assert main(["synth", str(SHOP), "--out", str(tmp_path / "o"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "stacks," not in err and "8 stack(s) written to" in err


def test_a_fragment_path_never_leaves_the_assembly():
    for bad in ("../x", "/etc/passwd", "a/../../b", "", "a\\b"):
        with pytest.raises(ValueError, match="not a path inside a cloud assembly"):
            assembly.safe_path(bad)
    assert str(assembly.safe_path("k8s/shop-ml/x.json")) == "k8s/shop-ml/x.json"


def test_workers_node_gets_smaller_semi_spaces_unless_node_options_say_otherwise(monkeypatch):
    from meshspec.stacks.engine import NODE_SEMI_SPACE, worker_env

    monkeypatch.delenv("NODE_OPTIONS", raising=False)
    assert worker_env()["NODE_OPTIONS"] == NODE_SEMI_SPACE
    monkeypatch.setenv("NODE_OPTIONS", "--enable-source-maps")
    assert worker_env()["NODE_OPTIONS"] == f"--enable-source-maps {NODE_SEMI_SPACE}"
    monkeypatch.setenv("NODE_OPTIONS", "--max-semi-space-size=64")  # the user's own choice stays
    assert worker_env()["NODE_OPTIONS"] == "--max-semi-space-size=64"


def test_the_cache_key_covers_every_package_that_makes_templates():
    # the mesh backends left constructs_lib for meshspec.backends (issue #22): an edit there must miss the cache
    import ast

    from meshspec.stacks.cache import CODE_PACKAGES

    from .conftest import ROOT

    setup = ast.parse((ROOT / "setup.py").read_text())
    layers = next(ast.literal_eval(n.value) for n in ast.walk(setup) if isinstance(n, ast.Assign)
                  and any(getattr(t, "id", None) == "LAYERS" for t in n.targets))
    assert set(CODE_PACKAGES) == {f"meshspec.{layer}" for layer in layers}
