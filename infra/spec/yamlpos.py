"""YAML to plain data, keeping where every key and value came from.

PyYAML's libyaml parser composes nodes with positions about 15x faster than a pure-Python parser
(1,000 services: 0.1 s), which the 1 s validate budget needs. Scalars are resolved with the YAML 1.2 core
schema, not PyYAML's 1.1 one, so ``containerInsights: on`` stays the string "on" and ``1:30`` is no integer.
Duplicate keys are reported (YAML keeps the last one silently); every duplicate in one pass.
"""
from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import Described, Path, Problems, SpecError

# libyaml ships in PyYAML's wheels; fall back to the pure parser where it is not.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")


class _Loader(_Base):
    """libyaml parsing without PyYAML's YAML 1.1 tag resolution (ours is YAML 1.2, in _scalar)."""

    def resolve(self, kind, value, implicit):  # noqa: D102 - called by the C composer for every node
        return _PLAIN if kind is yaml.ScalarNode else _COLLECTION


_PLAIN = "?"
_COLLECTION = "?c"


class Positions:
    """Where each key path is in the file, looked up only when a problem needs it (the node tree is kept,
    so loading a large spec costs no position bookkeeping)."""

    def __init__(self, root: yaml.Node | None = None):
        self.root = root

    def find(self, path: Path, at_key: bool = False) -> tuple[int, int] | None:
        """1-based (line, column) of ``path``'s value (or key), else of its closest ancestor in the file."""
        node = self.root
        if node is None:
            return None
        mark = _mark(node)
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, yaml.MappingNode):
                hit = next(((k, v) for k, v in node.value
                            if isinstance(k, yaml.ScalarNode) and str(_scalar(k)) == str(part)), None)
                if hit is None:
                    return mark
                node = hit[1]
                mark = _mark(hit[0]) if (last and at_key) else _mark(node)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                mark = _mark(node)
            else:
                return mark
        return mark


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _scalar(node: yaml.ScalarNode) -> Any:
    value = node.value
    if node.style or node.tag not in (_PLAIN, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                                      "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"):
        return value  # quoted, block, or tagged (!!str, a custom tag): text
        return value
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.match(value):
        return int(value)
    if _OCT.match(value):
        return int(value[2:], 8)
    if _HEX.match(value):
        return int(value[2:], 16)
    if _FLOAT.match(value):
        return float(value)
    return value  # YAML 1.1's yes/no/on/off, sexagesimals and timestamps stay text, as in YAML 1.2


def _build(node: yaml.Node, path: Path, problems: Problems, depth: int = 0) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if depth > 64:
        problems.add(path, "the document is nested too deeply", "yaml-too-deep", allowed="at most 64 levels")
        return None
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, path + (i,), problems, depth + 1) for i, child in enumerate(node.value)]
    out: dict[Any, Any] = {}
    first_line: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            problems.add(path, "a mapping key must be a plain scalar", "yaml-complex-key",
                         given=Described(f"a {'mapping' if isinstance(key_node, yaml.MappingNode) else 'list'} as key"))
            continue
        key = _scalar(key_node)
        if not isinstance(key, str):
            key = str(key)
        if key in first_line:
            line, col = _mark(key_node)
            problems.items.append(_dup_error(problems.file, path + (key,), line, col, first_line[key]))
            continue
        first_line[key] = key_node.start_mark.line + 1
        out[key] = _build(value_node, path + (key,), problems, depth + 1)
    return out


def _dup_error(file: str, path: Path, line: int, col: int, first_line: int) -> SpecError:
    return SpecError(file=file, path=path, line=line, column=col, code="duplicate-key",
                     message=f"duplicate key {path[-1]!r}; it was already given on line {first_line}",
                     given="the key twice", allowed="each key once per mapping",
                     hint="YAML would silently keep only the last value: merge the two entries or rename one")


def parse(text: str, problems: Problems) -> tuple[Any, Positions]:
    """Parse one YAML document; syntax errors and duplicate keys go to ``problems``."""
    pos = Positions()
    problems.positions = pos
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.items.append(SpecError(
            file=problems.file, path=(), code="yaml-syntax",
            line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
            message=f"not valid YAML: {exc.problem or exc.context}",
            hint="check the indentation and the quoting around this line"))
        return None, pos
    except yaml.YAMLError as exc:
        problems.add((), f"not valid YAML: {exc}", "yaml-syntax")
        return None, pos
    if node is None:
        return None, pos
    pos.root = node
    return _build(node, (), problems), pos
