"""One backend, one place: no module outside a backend's package names it, and the core asks the registry.

"Names" means, in the code (docstrings and comments are prose and may say what they like):

- the core (every module outside ``backends/``, and app.py): no import of a backend's package, no identifier and
  no string holding a backend's name or title (``lattice``, ``service_connect``, ``AppMesh``, "App Mesh", …);
- a backend's package: no import of another backend and no identifier naming one; its messages may name another
  backend as the one to use instead.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from meshspec.infra.mesh import registry

from .conftest import ROOT

CORE = ("meshspec", "infra", "stacks", "constructs_lib")


def marks(backend) -> re.Pattern:
    """How code names a backend: its name and its title's last words, written with or without a separator."""
    words = [w for w in (backend.name.split("-"), backend.title.split()[-2:]) if w]
    pattern = "|".join("[-_ ]?".join(re.escape(x) for x in w) for w in words)
    return re.compile(pattern, re.IGNORECASE)


def package_files() -> dict[Path, str | None]:
    """Every module of the installed package (and the CDK entry app.py) → the backend whose package holds it."""
    out: dict[Path, str | None] = {ROOT / "app.py": None}
    for folder in CORE:
        out.update({p: None for p in (ROOT / folder).rglob("*.py")})
    for backend in registry.all_backends():
        module = type(backend).__module__
        if module.startswith("meshspec.backends."):
            folder = ROOT / "backends" / module.split(".")[2]
            out.update({p: backend.name for p in folder.rglob("*.py")})
    out[ROOT / "backends" / "__init__.py"] = None
    return out


def _docstrings(tree: ast.AST) -> set[int]:
    """Strings that are a statement of their own: docstrings, of modules, classes, functions and attributes."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def findings(path: Path, owner: str | None) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    others = [(b, marks(b)) for b in registry.all_backends() if b.name != owner]
    out = []

    def hit(kind: str, text: str, line: int, strings: bool) -> None:
        for backend, pattern in others:
            if (strings or kind != "string") and pattern.search(text):
                out.append(f"{path.relative_to(ROOT)}:{line}: {kind} {text[:60]!r} names {backend.name}")

    core = owner is None
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for a in node.names:
                hit("import", a.name, line, core)
        elif isinstance(node, ast.ImportFrom):
            hit("import", f"{node.module or ''}:{','.join(a.name for a in node.names)}", line, core)
        elif isinstance(node, ast.Name):
            hit("identifier", node.id, line, core)
        elif isinstance(node, ast.Attribute):
            hit("identifier", node.attr, line, core)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            hit("identifier", node.name, line, core)
        elif isinstance(node, ast.arg):
            hit("identifier", node.arg, line, core)
        elif isinstance(node, ast.keyword) and node.arg:
            hit("identifier", node.arg, line, core)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            hit("string", node.value, line, core)
    return out


def test_the_registry_finds_meshspecs_backends_in_their_packages():
    assert [b.name for b in registry.all_backends()][:3] == ["appmesh", "service-connect", "lattice"]
    assert {type(b).__module__ for b in registry.all_backends()} >= {
        "meshspec.backends.appmesh", "meshspec.backends.service_connect", "meshspec.backends.lattice"}


def test_no_module_outside_a_backends_package_names_it():
    files = package_files()
    assert len(files) > 100 and sum(1 for o in files.values() if o) > 20  # the walk sees the package
    found = [f for path, owner in sorted(files.items()) for f in findings(path, owner)]
    assert found == []


def test_the_check_catches_a_core_module_that_names_a_backend(tmp_path):
    # a module the way the core was before: choosing by a backend's name, importing one, naming one in a string
    bad = tmp_path / "bad.py"
    bad.write_text('"""Docstrings may say App Mesh."""\n'
                   "from meshspec.backends.lattice import names\n"
                   "def pick(spec):\n"
                   "    # a comment may say lattice\n"
                   '    if spec.backend == "service-connect":\n'
                   "        return AppMeshBackend\n")
    lines = [f.split(": ", 1)[1] for f in findings_at(bad, None)]
    assert lines == ["import 'meshspec.backends.lattice:names' names lattice",
                     "string 'service-connect' names service-connect",
                     "identifier 'AppMeshBackend' names appmesh"]


def test_a_backend_may_name_another_only_in_its_messages(tmp_path):
    ok = tmp_path / "ok.py"
    ok.write_text('HINT = "use backend: lattice instead"\n')
    assert findings_at(ok, "service-connect") == []
    bad = tmp_path / "bad.py"
    bad.write_text("from meshspec.backends.lattice.constructs import binding\n")
    assert len(findings_at(bad, "service-connect")) == 1


def findings_at(path: Path, owner: str | None) -> list[str]:
    """findings() for a file outside the repository (the checks' own tests)."""
    global ROOT
    saved, ROOT = ROOT, path.parent
    try:
        return sorted(findings(path, owner), key=lambda f: int(f.split(":")[1]))
    finally:
        ROOT = saved


@pytest.mark.parametrize("layer", CORE)
def test_nothing_imports_the_bare_top_level_names(layer):
    """The folders install as ``meshspec.<layer>``: a bare ``import infra`` works only in this checkout."""
    bare = re.compile(r"^(infra|stacks|constructs_lib|backends)(\.|$)")
    for path in package_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert not any(bare.match(a.name) for a in node.names), f"{path}:{node.lineno}"
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not bare.match(node.module or ""), f"{path}:{node.lineno}"
