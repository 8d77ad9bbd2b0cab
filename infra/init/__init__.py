"""``meshspec init``: a working repository for a team starting out, from the templates beside this module.

Pure parts (:func:`project_name`, :func:`render`, :func:`conflicts`) apart from the writing; the command
(``meshspec.infra.cli.commands.init``) writes everything or nothing.
"""
from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).with_name("template")
#: file written (relative to the repository) → its template; placeholders __PROJECT__ and __MESHSPEC_VERSION__
FILES = {
    "meshspec.yaml": "meshspec.yaml",
    "contracts/orders-v1.json": "orders-v1.json",
    "contracts/web-v1.json": "web-v1.json",
    "cdk.json": "cdk.json",
    "requirements.txt": "requirements.txt",
    "pytest.ini": "pytest.ini",
    "tests/test_meshspec.py": "test_meshspec.py",
    ".github/workflows/meshspec.yml": "meshspec.yml",
    ".gitignore": "gitignore",
    "README.md": "README.md",
}
#: where the snapshot tests' snapshots go (syrupy's folder for tests/test_meshspec.py)
SNAPSHOTS = "tests/__snapshots__/test_meshspec"
PROJECT = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
DEFAULT_PROJECT = "services"


def project_name(directory: Path) -> str:
    """The folder's name as a spec project name (lowercase letters, digits, dashes; at most 20 characters, so the
    Google Cloud project id ``<project>-web`` fits). Default: ``services`` when nothing of the name is usable."""
    name = re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:20].rstrip("-")
    return name if PROJECT.match(name) else DEFAULT_PROJECT


def render(project: str, version: str) -> dict[str, str]:
    """Each file's text, placeholders filled."""
    return {target: (TEMPLATES / source).read_text(encoding="utf-8").replace("__PROJECT__", project)
            .replace("__MESHSPEC_VERSION__", version) for target, source in FILES.items()}


def conflicts(directory: Path, files: dict[str, str]) -> list[str]:
    """The paths ``init`` would overwrite, in the order written."""
    found = [p for p in [*files, SNAPSHOTS] if (directory / p).exists()]
    return found
