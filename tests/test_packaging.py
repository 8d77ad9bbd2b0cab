"""What a `pip install meshspec` user gets: every runtime import declared, every message pointing at something
installed (`meshspec help TOPIC`), the docs shipped. The installed wheel itself is
exercised end to end in tests/test_installed.py."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import lru_cache
from importlib.metadata import distributions
from importlib.util import find_spec
from pathlib import Path

import pytest

from meshspec.infra.cli.commands.help import topics
from meshspec.infra.cli.main import main
from tests.conftest import ROOT

LAYERS = ("meshspec", "infra", "stacks", "constructs_lib", "backends")
#: modules that run only in pytest, with the `testing` extra (their imports are checked against it)
TESTING_ONLY = ("infra/testing/plugin.py",)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def sources() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def _requirement_name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


@lru_cache(maxsize=1)
def _file_owners() -> dict[str, str]:
    """Installed file (absolute) → its distribution's normalized name, for the environment the tests run in."""
    owners = {}
    for dist in distributions():
        name = dist.metadata["Name"].lower().replace("_", "-").replace(".", "-")
        for f in dist.files or ():
            owners[str(Path(dist.locate_file(f)).resolve())] = name
    return owners


def provider(module: str) -> str | None:
    """The distribution that installs ``module`` (None: the standard library or meshspec itself)."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in ("meshspec", "__future__"):
        return None
    parts = module.split(".")
    for n in range(len(parts), 0, -1):  # the deepest importable part: google.cloud.x, not the namespace google
        try:
            spec = find_spec(".".join(parts[:n]))
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin not in (None, "namespace"):
            return _file_owners().get(str(Path(spec.origin).resolve()), f"<unowned {spec.origin}>")
    return f"<not installed: {module}>"


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in the file, those under ``if TYPE_CHECKING`` left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in node.body for n in ast.walk(child)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from google.cloud import appengine_admin_v1`: the name may be the module (google.cloud is shared)
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def undeclared_imports(runtime: list[str], testing: list[str]) -> list[str]:
    """Every import in meshspec's modules whose distribution is not declared (runtime, or testing for the plugin)."""
    declared = {_requirement_name(r) for r in runtime}
    problems = []
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        allowed = declared | ({_requirement_name(r) for r in testing} if rel in TESTING_ONLY else set())
        for line, module in imports_of(path):
            dist = provider(module)
            if dist is not None and dist not in allowed:
                problems.append(f"{rel}:{line}: import {module} comes from {dist}, which pyproject.toml does not "
                                "declare")
    return problems


def test_every_runtime_import_is_a_declared_dependency():
    deps = PYPROJECT["project"]["dependencies"]
    testing = PYPROJECT["project"]["optional-dependencies"]["testing"]
    assert undeclared_imports(deps, testing) == []


def test_a_missing_declaration_is_caught():
    # the check above can fail: without PyYAML declared, the loader's `import yaml` is reported
    deps = [d for d in PYPROJECT["project"]["dependencies"] if not d.lower().startswith("pyyaml")]
    problems = undeclared_imports(deps, PYPROJECT["project"]["optional-dependencies"]["testing"])
    assert problems and all("comes from pyyaml" in p for p in problems)
    assert any(p.startswith("infra/spec/") and "import yaml" in p for p in problems)


def test_nothing_users_import_is_pinned_exactly():
    """aws-cdk-lib, constructs and the rest live in users' own apps: ranges, not `==` pins."""
    pinned = [d for d in PYPROJECT["project"]["dependencies"] if "==" in d]
    assert pinned == []
    assert all("<" in d for d in PYPROJECT["project"]["dependencies"]), "give every dependency an upper bound"


def test_the_dev_environment_is_pinned_by_the_constraints_file():
    pins = {_requirement_name(line): line for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    for dep in PYPROJECT["project"]["dependencies"]:
        assert "==" in pins.get(_requirement_name(dep), ""), f"constraints.txt pins no {dep}"
    assert "-c constraints.txt" in (ROOT / "dev").read_text()



def test_scipy_checks_the_statistics_in_the_tests_only():
    """traffic compare's tests run on meshspec's own pure-Python code (meshspec.infra.traffic.stats); scipy, and
    numpy with it, check them in the dev environment and never reach a user's install (issue #20)."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    for name in ("scipy", "numpy"):
        for group in (PYPROJECT["project"]["dependencies"], extras["testing"]):
            assert name not in {_requirement_name(r) for r in group}
    assert "scipy" in {_requirement_name(r) for r in extras["dev"]}
    pins = {_requirement_name(line) for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line}
    assert {"scipy", "numpy"} <= pins
    stats = ROOT / "infra" / "traffic" / "stats.py"
    assert not [m for _, m in imports_of(stats) if m.split(".")[0] in ("scipy", "numpy")]


# -- messages ---------------------------------------------------------------------------------------------
REPO_PATH = re.compile(r"(?<![\w./-])schema/|docs/|\.md\b|\./dev\b|examples/|benchmarks/|FACTS\b|node_modules|\btests/")
LITERAL_SPEC = re.compile(r"meshspec [a-z -]*\bSPEC\b|--spec SPEC")
HELP_TOPIC = re.compile(r"meshspec help ([a-z0-9-]+)")
#: string constants that name files of the package itself, not places to send a person
NOT_MESSAGES = {("infra/cli/commands/help.py", "*.md"), ("infra/cli/commands/help.py", ".md"),
                ("infra/cdkcli.py", "node_modules")}
#: modules whose strings name files of the user's repository that `meshspec init` writes (tests/, README.md)
USER_REPOSITORY = {"infra/init/__init__.py", "infra/cli/commands/init.py"}


def messages() -> list[tuple[str, int, str]]:
    """Every string constant in meshspec's modules, docstrings left out: messages, hints, help texts."""
    out = []
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        out += [(rel, n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant)
                and isinstance(n.value, str) and id(n) not in docstrings and (rel, n.value) not in NOT_MESSAGES]
    return out


def test_no_message_points_into_this_repository():
    found = [f"{f}:{line}: {text[:120]!r}" for f, line, text in messages()
             if REPO_PATH.search(text) and f not in USER_REPOSITORY]
    assert found == [], "name a `meshspec help TOPIC` instead of a repository path"


def test_no_message_prints_a_literal_spec_placeholder():
    found = [f"{f}:{line}: {text[:120]!r}" for f, line, text in messages() if LITERAL_SPEC.search(text)]
    assert found == [], "print the spec's real path"


def test_every_help_topic_a_message_names_exists():
    named = {(f, line, t) for f, line, text in messages() for t in HELP_TOPIC.findall(text)}
    assert len({t for *_, t in named}) >= 5
    missing = sorted(f"{f}:{line}: meshspec help {t}" for f, line, t in named if t not in topics())
    assert missing == []


def test_the_message_checks_can_fail():
    assert REPO_PATH.search("see docs/scale.md") and REPO_PATH.search("run ./dev once")
    assert REPO_PATH.search("write schema/meshspec.schema.json") and not REPO_PATH.search("https://x.dev/schema/a")
    assert LITERAL_SPEC.search("(meshspec contracts retire-plan SPEC a v1)")
    assert not LITERAL_SPEC.search("(meshspec contracts retire-plan shop.yaml a v1)")


# -- meshspec help ----------------------------------------------------------------------------------------
def test_help_lists_every_document_as_a_topic(capsys):
    assert main(["help"]) == 0
    out = capsys.readouterr().out
    docs = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    assert sorted(topics()) == docs and {"repository", "testing", "cli"} <= set(docs)
    for name in docs:
        assert f"\n  {name} " in out


def test_help_prints_a_topic(capsys):
    assert main(["help", "scale"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "scale.md").read_text(encoding="utf-8")


def test_help_with_an_unknown_topic_names_the_closest(capsys):
    assert main(["help", "contrcts"]) == 1
    err = capsys.readouterr().err
    assert "error: there is no help topic 'contrcts'" in err
    assert "hint: did you mean 'contracts'? topics: " in err


def test_every_command_has_its_section_in_the_cli_topic():
    from meshspec.infra.cli.main import COMMANDS

    headings = [line for line in (ROOT / "docs" / "cli.md").read_text().splitlines() if line.startswith("## ")]
    missing = [c for c in COMMANDS if not any(f"`meshspec {c}" in h or f"meshspec {c} " in h for h in headings)]
    assert missing == []
