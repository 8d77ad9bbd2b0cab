"""Hostile and careless input: bounded parsing, tags, encodings, merge keys and typed scalars.

Each bad input is fed as a file or text and the one error it gets is checked: line, key path, code, message.
The bombs run in a child process, which reports its CPU time for ``load_spec`` and its peak memory.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from meshspec.infra.spec import load_spec, load_text
from meshspec.infra.spec.yamlpos import LIMITS

from .conftest import SHOP, TODAY

HEAD = """\
apiVersion: meshspec/v1
project: shop
aws:
  region: eu-west-1
  clusters: [{name: core, platform: ecs}]
"""


def load(text: str):
    return load_text(text, file="spec.yaml", today=TODAY)


def errors(result):
    return [(e.line, e.key_path, e.code) for e in result.errors]


# -- bounds: every bomb is refused within 1 s of CPU and 200 MB, as one error naming the limit ----------------------

def nine_by_nine() -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def ten_million_under_an_unread_key() -> str:
    b = ["x-bomb:", '  l0: &b0 ["x","x","x","x","x","x","x","x","x","x"]']
    b += [f"  l{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]" for i in range(1, 7)]
    return SHOP.read_text() + "\n".join(b) + "\n"


BOMBS = {
    # name: (text, code, line, path)
    "nine levels of nine aliases": (nine_by_nine(), "yaml-alias-limit", 6, "a5[0]"),
    "ten million items under an x- key": (ten_million_under_an_unread_key(), "yaml-alias-limit", None, "x-bomb.l4[7]"),
    "nesting 200,000 deep": ("a: " + "[" * 200_000 + "]" * 200_000 + "\n", "yaml-syntax", 1, "(document)"),
    "nesting 500 deep": ("a: " + "[" * 500 + "]" * 500 + "\n", "yaml-too-deep", 1, "a" + "[0]" * 63),
    "block nesting 100 deep": ("".join(" " * i + "k:\n" for i in range(100)), "yaml-too-deep", 65, ".".join(["k"] * 64)),
    "a 1.5 MB scalar": ("apiVersion: meshspec/v1\nproject: " + "a" * 1_500_000 + "\n", "yaml-scalar-too-long", 2,
                        "project"),
    "a 3 MB document": ("# " + "a" * 3_000_000 + "\n", "yaml-too-large", None, "(document)"),
    "600,000 items in one list": ("a: [" + ",".join(["x"] * 600_000) + "]\n", "yaml-too-many-nodes", 1, "a[99997]"),
    "90,000 junk services": ("apiVersion: meshspec/v1\nproject: p\nservices:\n"
                             + "".join(f"  s{i}: {i}\n" for i in range(90_000)), "yaml-too-many-nodes", None,
                             None),
    "50,000 unknown keys": ("apiVersion: meshspec/v1\nproject: p\nservices:\n  a:\n"
                            + "".join(f"    k{i}: x\n" for i in range(49_990)), "too-many-problems", None, "(document)"),
}

PROBE = """
import json, resource, sys, time
from meshspec.infra.spec import load_spec
t = time.process_time()
result = load_spec(sys.argv[1])
cpu = time.process_time() - t
try:  # this process's own peak (ru_maxrss may keep the forking parent's)
    peak = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) // 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({"cpu": cpu, "peak_mb": peak, "errors": [[e.line, e.key_path, e.code, e.message]
                                                         for e in result.errors]}))
"""


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Every bomb in one child process each (peak memory is per process), run once for the module."""
    folder = tmp_path_factory.mktemp("bombs")
    out = {}
    for i, (name, (text, *_)) in enumerate(BOMBS.items()):
        path = folder / f"bomb{i}.yaml"
        path.write_text(text, encoding="utf-8")
        proc = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out[name] = json.loads(proc.stdout)
    return out


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_is_one_error_naming_the_limit_within_1_s_and_200_mb(name, bombs):
    _, code, line, path = BOMBS[name]
    got = bombs[name]
    assert got["cpu"] < 1.0, got["cpu"]
    assert got["peak_mb"] < 200, got["peak_mb"]
    codes = [e[2] for e in got["errors"]]
    assert code in codes
    if code != "too-many-problems":
        assert len(got["errors"]) == 1, got["errors"][:3]
    err = next(e for e in got["errors"] if e[2] == code)
    if line is not None:
        assert err[0] == line
    if path is not None:
        assert err[1] == path


def test_the_alias_bomb_error_names_the_alias_and_the_limit(bombs):
    [[line, path, code, message]] = bombs["nine levels of nine aliases"]["errors"]
    assert message == ("the alias *a4 stands for 66430 nodes: the document would hold more than 100000 once "
                       "aliases are expanded")


def test_the_size_limit_is_checked_before_the_file_is_read_whole(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (4 * LIMITS.chars + 10))
    [err] = load_spec(big).errors
    assert (err.code, err.line) == ("yaml-too-large", 1)
    assert "was not read" in err.message


def test_past_500_problems_the_rest_are_counted():
    result = load("apiVersion: meshspec/v1\nproject: p\nservices:\n" + "".join(f"  s{i}: 1\n" for i in range(700)))
    assert len(result.errors) == 501
    assert result.errors[-1].code == "too-many-problems"
    assert result.errors[-1].message.startswith("200 more problem(s) not shown")


def test_an_alias_to_an_anchor_not_yet_complete_is_an_error():
    [err] = load("a: &x [1, *x]\n").errors
    assert (err.line, err.code, err.key_path) == (1, "yaml-alias", "a[1]")
    assert "names no anchor written before it" in err.message


def test_a_second_document_is_an_error():
    [err] = load("a: 1\n---\nb: 2\n").errors
    assert (err.line, err.code) == (2, "yaml-syntax")
    assert "more than one YAML document" in err.message


# -- tags never construct objects ------------------------------------------------------------------------------------

def test_a_python_tag_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    result = load(HEAD + f'services: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert not marker.exists()
    err = next(e for e in result.errors if e.code == "yaml-tag")
    assert (err.line, err.key_path) == (6, "services")
    assert err.message == ("the tag !!python/object/apply:os.system is not allowed: meshspec reads plain data and "
                           "never constructs objects from tags")
    assert "!!str" in err.allowed


@pytest.mark.parametrize("value,tag", [("!!binary aGVsbG8=", "!!binary"), ("!custom x", "!custom"),
                                       ("!!set {a, b}", "!!set"), ("!!timestamp 2026-01-01", "!!timestamp")])
def test_other_tags_are_refused(value, tag):
    result = load(f"apiVersion: meshspec/v1\nproject: {value}\n")
    err = next(e for e in result.errors if e.code == "yaml-tag")
    assert (err.line, err.key_path, err.given) == (2, "project", tag)


def test_core_tags_are_honoured():
    from meshspec.infra.spec.errors import Problems
    from meshspec.infra.spec.yamlpos import parse

    p = Problems("x")
    data, _ = parse('a: !!str 0123\nb: !!int "12"\nc: !!float 1\nd: !!bool true\ne: !!null ""\nf: !!map {}\n', p)
    assert p.items == []
    assert data == {"a": "0123", "b": 12, "c": 1.0, "d": True, "e": None, "f": {}}
    bad = Problems("x")
    parse("a: !!int abc\n", bad)
    [err] = bad.items
    assert (err.code, err.line, err.key_path) == ("yaml-tag", 1, "a")


# -- encodings ---------------------------------------------------------------------------------------------------------

def test_a_latin1_file_is_refused_at_the_line_and_column_of_its_first_bad_byte(tmp_path):
    spec = tmp_path / "latin1.yaml"
    text = SHOP.read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: café")
    spec.write_bytes(text.encode("latin-1"))
    [err] = load_spec(spec).errors
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "café" in t)
    assert (err.code, err.line, err.column) == ("not-utf8", line, text.splitlines()[line - 1].index("é") + 1)
    assert err.message == "the spec is not UTF-8: byte 0xe9 at this position is not a valid UTF-8 character"
    assert "iconv" in err.hint


def test_a_utf16_file_says_so(tmp_path):
    spec = tmp_path / "utf16.yaml"
    spec.write_bytes(SHOP.read_text().encode("utf-16"))
    [err] = load_spec(spec).errors
    assert (err.code, err.line, err.message) == ("not-utf8", 1, "the spec is UTF-16, not UTF-8")


def test_a_byte_order_mark_and_crlf_line_endings_are_fine(tmp_path):
    spec = tmp_path / "windows.yaml"
    (tmp_path / "contracts").symlink_to(SHOP.parent / "contracts")
    spec.write_bytes(b"\xef\xbb\xbf" + SHOP.read_text().replace("\n", "\r\n").encode("utf-8"))
    result = load_spec(spec, today=TODAY)
    assert result.ok, [e.render() for e in result.errors]
    assert result.spec == load_spec(SHOP, today=TODAY).spec
    # positions count lines as the editor shows them
    warning = result.warnings[0]
    assert warning.line == load_spec(SHOP, today=TODAY).warnings[0].line


def test_a_control_character_is_an_error_with_its_position():
    [err] = load("apiVersion: meshspec/v1\nproject: a\x07b\n").errors
    assert (err.code, err.line, err.column) == ("yaml-syntax", 2, 11)


# -- merge keys ----------------------------------------------------------------------------------------------------------

MERGED = HEAD + """\
x-service: &service
  cluster: core
  cpu: 512
  memory: 1024
x-observed: &observed
  cpu: 256
  desiredCount: 3
services:
  catalog:
    <<: [*service, *observed]
    memory: 2048
    majors: {v1: {contract: c.json}}
    versions: [{name: a, image: img:1, traffic: 100}]
"""


def test_merge_keys_merge_as_yaml_1_1_says():
    result = load(MERGED)
    assert result.ok, [e.render() for e in result.errors]
    svc = result.spec.services["catalog"]
    # the first merged mapping wins over the second; a key given in the mapping wins over both
    assert (svc.cluster, svc.cpu, svc.memory, svc.desired_count) == ("core", 512, 2048, 3)


def test_a_merge_is_the_same_as_writing_the_keys():
    written = HEAD + """\
services:
  catalog:
    cluster: core
    cpu: 512
    memory: 2048
    desiredCount: 3
    majors: {v1: {contract: c.json}}
    versions: [{name: a, image: img:1, traffic: 100}]
"""
    assert load(MERGED).spec == load(written).spec


def test_an_error_in_a_merged_value_points_where_it_is_written_and_says_it_came_through_the_merge():
    text = MERGED.replace("  cpu: 512\n", "  cpu: 512\n  helthCheck: /h\n", 1)
    [err] = load(text).errors
    assert (err.line, err.key_path, err.code) == (9, "services.catalog.helthCheck", "unknown-key")
    assert err.message == "unknown key 'helthCheck' (came through the merge key `<<` on line 16)"


def test_a_bad_merged_value_gets_its_own_line_too():
    text = MERGED.replace("  memory: 1024\n", "  memory: 1000\n", 1).replace("    memory: 2048\n", "")
    [err] = load(text).errors
    assert (err.line, err.key_path, err.code) == (9, "services.catalog.memory", "fargate-memory")
    assert err.message.endswith("(came through the merge key `<<` on line 15)")


def test_duplicate_keys_are_found_around_merges():
    text = MERGED.replace("    memory: 2048\n", "    memory: 2048\n    memory: 4096\n")
    [err] = load(text).errors
    assert (err.line, err.key_path, err.code) == (17, "services.catalog.memory", "duplicate-key")
    assert "already given on line 16" in err.message


def test_a_merge_takes_mappings_only():
    [err] = load(HEAD + "services:\n  a:\n    <<: 3\n").errors[:1]
    assert (err.line, err.key_path, err.code) == (8, "services.a.<<", "yaml-merge")
    assert err.allowed == "<<: *anchor, or <<: [*anchor1, *anchor2]"


def test_a_quoted_merge_key_is_a_plain_key():
    result = load(MERGED.replace("    <<: [*service, *observed]", '    "<<": [*service, *observed]'))
    assert "unknown-key" in [e.code for e in result.errors]


def test_an_error_through_an_alias_says_so():
    text = HEAD + "x-port: &port 80800\nservices:\n  a:\n    cluster: core\n    port: *port\n" \
        "    majors: {v1: {contract: c.json}}\n    versions: [{name: a, image: img:1, traffic: 100}]\n"
    [err] = load(text).errors
    assert (err.line, err.column, err.key_path) == (6, 9, "services.a.port")
    assert err.message.endswith("(came through the alias *port on line 10)")


# -- typed scalars -------------------------------------------------------------------------------------------------------

def shop_copy(tmp_path: Path) -> Path:
    (tmp_path / "contracts").symlink_to(SHOP.parent / "contracts")
    return tmp_path / "shop.yaml"


ACCOUNT_LINE = SHOP.read_text().splitlines().index('  account: "111122223333"') + 1


def test_an_unquoted_account_id_gets_a_hint_to_quote_it(tmp_path):
    spec = shop_copy(tmp_path)
    spec.write_text(SHOP.read_text().replace('account: "111122223333"', "account: 111122223333"))
    [err] = load_spec(spec, today=TODAY).errors
    assert (err.line, err.key_path, err.code) == (ACCOUNT_LINE, "aws.account", "quote-needed")
    assert err.message == "YAML reads the unquoted 111122223333 as a number, but account is text"
    assert (err.given, err.hint) == ("111122223333", 'quote it: account: "111122223333"')


def test_an_account_id_whose_leading_zero_yaml_dropped_is_an_error_that_says_so(tmp_path):
    spec = shop_copy(tmp_path)
    spec.write_text(SHOP.read_text().replace('account: "111122223333"', "account: 011122223333"))
    [err] = load_spec(spec, today=TODAY).errors
    assert (err.line, err.key_path, err.code) == (ACCOUNT_LINE, "aws.account", "leading-zero-dropped")
    assert err.message == ("YAML reads the unquoted 011122223333 as a number and dropped its leading zero, but "
                           "account is text")
    assert err.given == "011122223333"  # as written, not 11122223333
    assert "11122223333 " not in err.render().replace("011122223333", "")


@pytest.mark.parametrize("value,code,shown", [
    ("007", "leading-zero-dropped", "the variable would be 7"),
    ("1.10", "quote-needed", "the variable would be 1.1"),
    ("1e3", "quote-needed", "the variable would be 1000.0"),
    ("0x1F", "quote-needed", "the variable would be 31"),
])
def test_an_env_value_yaml_would_change_is_an_error(value, code, shown):
    text = HEAD + f"services:\n  a:\n    cluster: core\n    env: {{BUILD: {value}}}\n" \
        "    majors: {v1: {contract: c.json}}\n    versions: [{name: a, image: img:1, traffic: 100}]\n"
    [err] = load(text).errors
    assert (err.line, err.key_path, err.code, err.given) == (9, "services.a.env.BUILD", code, value)
    assert shown in err.message
    assert err.hint == f'quote it: BUILD: "{value}"'


def test_an_env_number_written_as_yaml_reads_it_is_fine():
    text = HEAD + "services:\n  a:\n    cluster: core\n    env: {PORT: 8080, RATIO: 0.5, ON: true, Q: '007'}\n" \
        "    majors: {v1: {contract: c.json}}\n    versions: [{name: a, image: img:1, traffic: 100}]\n"
    assert load(text).errors == []


def test_an_unquoted_version_number_gets_the_hint_too():
    text = HEAD.replace("{name: core, platform: ecs}", "{name: ml, platform: eks, kubernetesVersion: 1.30}")
    [err] = load(text + "services: {}\n").errors[:1]
    assert (err.key_path, err.code) == ("aws.clusters[0].kubernetesVersion", "quote-needed")
    assert err.message == "YAML reads the unquoted 1.30 as a number (1.3), but kubernetesVersion is text"


def test_x_keys_hold_anchors_and_nothing_reads_them():
    assert load(MERGED).ok
    result = load(MERGED.replace("x-observed:", "observed:"))
    assert [e.code for e in result.errors] == ["unknown-key"]


def test_positions_survive_a_bomb_free_large_spec():
    # a 1,000-service spec is far under every limit
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from gen_spec import generate

    result = load(generate(1000))
    assert not [e for e in result.errors if e.code.startswith("yaml-")]


def test_folding_weights_refuses_versions_that_came_through_a_merge(tmp_path):
    # `meshspec traffic ... --write-spec` would otherwise write into an anchor other services share
    from meshspec.infra.errors import UserError
    from meshspec.infra.traffic.specedit import plan_edit

    spec = tmp_path / "spec.yaml"
    text = HEAD + """\
x-versions: &versions
  versions: [{name: a, image: img:1, traffic: 90}, {name: b, image: img:2, traffic: 10}]
services:
  one:
    <<: *versions
    cluster: core
    majors: {v1: {contract: c.json}}
  two:
    <<: *versions
    cluster: core
    majors: {v1: {contract: c.json}}
"""
    spec.write_text(text)
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(UserError, match=r"services\.one\.versions came through the merge key `<<` on line 10"):
        plan_edit(spec, "one", ["v1"], {"a": 50, "b": 50}, today=TODAY)
    # written out in the service, the same edit goes through
    spec.write_text(text.replace("    <<: *versions\n    cluster: core\n    majors: {v1: {contract: c.json}}\n  two:",
                                 "    versions: [{name: a, image: img:1, traffic: 90}, {name: b, image: img:2, "
                                 "traffic: 10}]\n    cluster: core\n    majors: {v1: {contract: c.json}}\n  two:"))
    _, new, _ = plan_edit(spec, "one", ["v1"], {"a": 50, "b": 50}, today=TODAY)
    assert "traffic: 50" in new
