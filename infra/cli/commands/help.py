"""``meshspec help [TOPIC]``: the documentation shipped inside the package, so every hint can name a topic."""
from __future__ import annotations

import argparse
import difflib
import importlib.util
from pathlib import Path

from meshspec.infra.errors import UserError

from .. import output


def docs_dir() -> Path:
    """The installed ``meshspec.docs`` folder (the repository's ``docs/``, mapped by setup.py)."""
    spec = importlib.util.find_spec("meshspec.docs")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        if Path(loc).is_dir():
            return Path(loc)
    raise UserError("meshspec's documentation is missing from its installation",
                    hint="reinstall meshspec (pip install --force-reinstall meshspec)")


def topics() -> dict[str, Path]:
    """Topic name → Markdown file: one topic per document, named after it."""
    return {p.stem: p for p in sorted(docs_dir().glob("*.md"))}


def first_line(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            return line.lstrip("# ").strip()
    return ""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("help", help="read meshspec's documentation (meshspec help TOPIC; the topics without one)")
    p.add_argument("topic", nargs="?", metavar="TOPIC", help="a topic (list them with `meshspec help`)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    found = topics()
    if args.topic is None:
        width = max(map(len, found))
        print("meshspec help TOPIC, with TOPIC one of:")
        for name, path in found.items():
            print(f"  {name:<{width}}  {first_line(path)}")
        return output.OK
    path = found.get(args.topic.removesuffix(".md"))
    if path is None:
        close = difflib.get_close_matches(args.topic, list(found), n=1, cutoff=0.5)
        raise UserError(f"there is no help topic {args.topic!r}",
                        hint=(f"did you mean {close[0]!r}? " if close else "") + "topics: " + ", ".join(found))
    print(path.read_text(encoding="utf-8"), end="")
    return output.OK
