"""YAML to plain data within fixed bounds, keeping where every key and value came from.

A spec comes from many hands and validate runs in CI on every pull request, so parsing is bounded whatever
the input (docs: ``meshspec help spec``, "Limits"): the document's size, the nodes it holds once aliases are
expanded (a "billion laughs" alias bomb is refused at the alias that crosses the limit, before anything is
expanded), the nesting depth and the length of one scalar. Each limit is one spec error naming the limit and
the position, and parsing stops there.

libyaml (PyYAML's C parser) produces the events; this module composes them into plain dicts, lists and
scalars itself, with an explicit stack (no recursion, whatever the depth). That is faster than libyaml's own
composer (1,000 services: 0.07 s against 0.25 s) and lets every bound be checked as the events arrive. Aliases
share the anchor's value instead of copying it. Scalars are resolved with the YAML 1.2 core schema, so
``containerInsights: on`` stays the string "on" and ``1:30`` is no integer. Tags never construct objects:
the core schema's own (``!!str``, ``!!int``, …) are honoured, any other (``!!python/object``, ``!!binary``, a
local ``!tag``) is an error. Merge keys (``<<: *common``) merge as YAML 1.1 defines them.

Positions are not bookkept per value: the events libyaml produced are kept in a light tree and looked up only
when a problem needs a line (``Positions``). A value that came through a merge or an alias points at the line
where it is written and says which merge or alias brought it.
"""
from __future__ import annotations

import re
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import (AliasEvent, DocumentEndEvent, DocumentStartEvent, MappingEndEvent, MappingStartEvent,
                         ScalarEvent, SequenceEndEvent, SequenceStartEvent, StreamEndEvent)

from .errors import Described, Path, Problems, SpecError

# libyaml ships in PyYAML's wheels; fall back to the pure parser where it is not.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Limits:
    """What one document may hold. Default: room for about 2,000 services in the layout of
    ``benchmarks/gen_spec.py`` (as many as CloudFormation's 2,000 stacks per region let one spec deploy), and
    an answer within 1 s and 200 MB of memory whatever the input (tests/test_spec_hostile.py measures both)."""

    chars: int = 2 * 1024 * 1024  # the whole document
    nodes: int = 100_000  # keys, values and list items, counting each alias as the nodes it stands for
    depth: int = 64  # nested mappings and lists
    scalar_chars: int = 65_536  # one key or value


LIMITS = Limits()

_CORE = "tag:yaml.org,2002:"
_MERGE_TAG = _CORE + "merge"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}
_ALLOWED_TAGS = "no tag, or one of !!str, !!int, !!float, !!bool, !!null, !!map, !!seq"

_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_WORDS = {"~": None, "null": None, "Null": None, "NULL": None, **_BOOL}
_NUMERIC_START = frozenset("0123456789+-.")


def resolve(value: str) -> Any:
    """A plain (unquoted, untagged) scalar under the YAML 1.2 core schema."""
    if not value:
        return None
    first = value[0]
    if first in _NUMERIC_START:
        if value.isdigit() and value.isascii():
            return int(value)
        if _INT.match(value):
            return int(value)
        if _OCT.match(value):
            return int(value[2:], 8)
        if _HEX.match(value):
            return int(value[2:], 16)
        if _FLOAT.match(value):
            return float(value)
        return value  # .inf and .nan stay text: no spec value is infinite
    if first in "~nNtTfF":
        return _WORDS.get(value, value)
    return value  # YAML 1.1's yes/no/on/off, sexagesimals and timestamps stay text, as in YAML 1.2


# -- the position tree: libyaml's events, kept as they came --------------------------------------------------------

# A scalar is kept as the tuple (line, column, text as written, style, tag), 0-based: a few dozen bytes where
# libyaml's event with its two marks takes about 900.
Scalar = namedtuple("Scalar", "line column value style tag")  # what Positions.scalar gives (1-based)


class _Node:
    """A mapping (``items``: key → ``(key scalar, value)`` or ``_Merged``) or a list (``items``: values); a value
    is a scalar tuple, a _Node or an _Alias. ``mark``: (line, column), 0-based."""

    __slots__ = ("mark", "items")

    def __init__(self, mark: tuple[int, int], items: dict | list):
        self.mark = mark
        self.items = items


class _Alias:
    """A value written as ``*name`` at ``mark``: it stands for the anchored value, written elsewhere."""

    __slots__ = ("anchor", "mark", "target")

    def __init__(self, anchor: str, mark: tuple[int, int], target: Any):
        self.anchor = anchor
        self.mark = mark
        self.target = target


class _Merged:
    """A mapping entry that came through the merge key (``<<``) whose scalar is ``merge``."""

    __slots__ = ("entry", "merge")

    def __init__(self, entry: Any, merge: tuple):
        self.entry = entry
        self.merge = merge


def _mark(pos: Any) -> tuple[int, int]:
    while type(pos) is _Alias:
        pos = pos.target
    return pos.mark if type(pos) is _Node else (pos[0], pos[1])


def _at(ev: Any) -> tuple[int, int]:
    m = ev.start_mark
    return m.line, m.column


def _line_col(mark: tuple[int, int]) -> tuple[int, int]:
    return mark[0] + 1, mark[1] + 1


class Positions:
    """Where each key path is in the file, looked up only when a problem needs it."""

    def __init__(self, root: Any = None):
        self.root = root

    def find(self, path: Path, at_key: bool = False) -> tuple[int, int] | None:
        """1-based (line, column) of ``path``'s value (or key), else of its closest ancestor in the file."""
        found = self.locate(path, at_key)
        return found[:2] if found else None

    def locate(self, path: Path, at_key: bool = False) -> tuple[int, int, str | None] | None:
        """(line, column, how the value got there): the note names the merge or alias that brought a value
        written elsewhere, else None."""
        found = self._walk(path, at_key)
        if found is None:
            return None
        mark, _, note = found
        return (*_line_col(mark), note)

    def scalar(self, path: Path) -> Scalar | None:
        """The scalar at exactly ``path`` as written (its text, style and tag; 1-based position), else None."""
        found = self._walk(path, False)
        if found is None:
            return None
        pos = found[1]
        if type(pos) is not tuple:
            return None
        return Scalar(pos[0] + 1, pos[1] + 1, pos[2], pos[3], pos[4])

    def _walk(self, path: Path, at_key: bool) -> tuple[tuple[int, int], Any, str | None] | None:
        """(the mark; the value at ``path``, or None when the path leads out of the file; the note)."""
        pos = self.root
        if pos is None:
            return None
        note = None
        mark = _mark(pos)
        for i, part in enumerate(path):
            while type(pos) is _Alias:
                note = note or f"came through the alias *{pos.anchor} on line {pos.mark[0] + 1}"
                pos = pos.target
            if type(pos) is not _Node:
                return mark, None, note
            items = pos.items
            if type(items) is dict:
                entry = items.get(str(part))
                if entry is None:
                    return mark, None, note
                while type(entry) is _Merged:
                    note = note or f"came through the merge key `<<` on line {entry.merge[0] + 1}"
                    entry = entry.entry
                key_scalar, pos = entry
                last = i == len(path) - 1
                mark = (key_scalar[0], key_scalar[1]) if (last and at_key) else _mark(pos)
            elif isinstance(part, int) and 0 <= part < len(items):
                pos = items[part]
                mark = _mark(pos)
            else:
                return mark, None, note
        while type(pos) is _Alias:
            note = note or f"came through the alias *{pos.anchor} on line {pos.mark[0] + 1}"
            pos = pos.target
        return mark, pos, note


# -- composing ------------------------------------------------------------------------------------------------------

class _Stop(Exception):
    """A bound was crossed or the stream cannot be read on: the problem is already recorded."""


_NO_KEY = object()  # a mapping waiting for its next key
_DROPPED = object()  # a value whose tag was refused
_BAD_KEY = object()  # a key that cannot be one (a mapping or a list): its value is skipped


class _Frame:
    __slots__ = ("data", "items", "mark", "anchor", "size", "height", "key", "key_event", "merges", "is_map", "drop")

    def __init__(self, data: dict | list, mark: tuple[int, int], anchor: str | None, is_map: bool):
        self.data = data
        self.items: dict | list = {} if is_map else []
        self.mark = mark
        self.anchor = anchor
        self.size = 1
        self.height = 1
        self.key: Any = _NO_KEY
        self.key_event: Any = None
        self.merges: list | None = None
        self.is_map = is_map
        self.drop = False


def _path(stack: list[_Frame]) -> Path:
    out: list[str | int] = []
    for f in stack:
        if f.is_map:
            if f.key is _NO_KEY or f.key is _BAD_KEY:
                break
            out.append(f.key)
        else:
            out.append(len(f.data))
    return tuple(out)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class _Composer:
    def __init__(self, problems: Problems, limits: Limits):
        self.problems = problems
        self.limits = limits

    def error(self, mark: tuple[int, int] | None, path: Path, message: str, code: str, **kw: Any) -> None:
        line, col = _line_col(mark) if mark is not None else (None, None)
        given = kw.pop("given", None)
        self.problems.items.append(SpecError(
            file=self.problems.file, path=path, line=line, column=col, message=message, code=code,
            given=None if given is None else str(given), **kw))

    def limit(self, mark: tuple[int, int], stack: list[_Frame], message: str, code: str, allowed: str, hint: str) -> None:
        self.error(mark, _path(stack), message, code, allowed=allowed, hint=hint)
        raise _Stop

    def compose(self, loader: Any) -> tuple[Any, Any]:
        """(data, position tree) of the one document in the stream; (None, None) for an empty stream."""
        get = loader.get_event
        lim = self.limits
        max_nodes, max_depth, max_chars = lim.nodes, lim.depth, lim.scalar_chars
        get()  # StreamStart
        ev = get()
        if type(ev) is StreamEndEvent:
            return None, None
        stack: list[_Frame] = []
        anchors: dict[str, tuple[Any, Any, int, int]] = {}
        count = 0
        while True:
            ev = get()
            t = type(ev)
            if t is ScalarEvent:
                value = ev.value
                if len(value) > max_chars:
                    self.limit(_at(ev), stack, f"a scalar of {len(value)} characters is longer than meshspec "
                               "reads", "yaml-scalar-too-long", f"at most {max_chars} characters in one value",
                               "a spec holds names, references and short settings: keep large text in files")
                count += 1
                if count > max_nodes:
                    self._too_many(_at(ev), stack, count)
                tag = ev.tag
                style = ev.style
                if tag is None:
                    data = value if style else resolve(value)
                else:
                    data = self._tagged(ev, stack)
                anchor = ev.anchor
                m = ev.start_mark
                pos: Any = (m.line, m.column, value, style, tag)
                if anchor is None and stack and tag is None:  # the common case, inline: most events are such
                    parent = stack[-1]
                    if not parent.is_map:
                        parent.size += 1
                        parent.data.append(data)
                        parent.items.append(pos)
                        continue
                    key = parent.key
                    if key is _NO_KEY:
                        if style or tag is not None or value != "<<":
                            parent.size += 1
                            parent.key, parent.key_event = value, pos
                            continue
                    elif key is not _BAD_KEY and key != "<<" and key not in parent.items:
                        parent.size += 1
                        parent.key = _NO_KEY
                        parent.data[key] = data
                        parent.items[key] = (parent.key_event, pos)
                        continue
                size, height = 1, 0
            elif t is MappingStartEvent or t is SequenceStartEvent:
                if len(stack) >= max_depth:
                    self.limit(_at(ev), stack, f"the document is nested more than {max_depth} levels deep",
                               "yaml-too-deep", f"at most {max_depth} levels of mappings and lists",
                               "a spec is a few levels deep: look for a runaway indentation or [[[…")
                count += 1
                if count > max_nodes:
                    self._too_many(_at(ev), stack, count)
                is_map = t is MappingStartEvent
                frame = _Frame({} if is_map else [], _at(ev), ev.anchor, is_map)
                if ev.tag is not None and ev.tag != "!" and ev.tag != _CORE + ("map" if is_map else "seq"):
                    self._bad_tag(ev, stack)
                    frame.drop = True
                stack.append(frame)
                continue
            elif t is MappingEndEvent or t is SequenceEndEvent:
                f = stack.pop()
                if f.merges:
                    self._merge(f)
                data, pos, size, height, anchor = f.data, _Node(f.mark, f.items), f.size, f.height, f.anchor
                if f.drop:
                    data = _DROPPED
            elif t is AliasEvent:
                found = anchors.get(ev.anchor)
                if found is None:
                    self.error(_at(ev), _path(stack), f"the alias *{ev.anchor} names no anchor written "
                               "before it", "yaml-alias", allowed="an alias after its anchor (&name), outside it",
                               hint="an alias can only repeat a value that is complete where the alias is written")
                    raise _Stop
                data, target, size, height = found
                count += size
                if count > max_nodes:
                    self.limit(_at(ev), stack, f"the alias *{ev.anchor} stands for {size} nodes: the document "
                               f"would hold more than {max_nodes} once aliases are expanded", "yaml-alias-limit",
                               f"at most {max_nodes} nodes, aliases counted as the nodes they repeat",
                               "aliases that repeat aliases multiply (a 'billion laughs' document): repeat less")
                if len(stack) + height > max_depth:
                    self.limit(_at(ev), stack, f"the alias *{ev.anchor} nests the document more than "
                               f"{max_depth} levels deep", "yaml-too-deep", f"at most {max_depth} levels",
                               "an alias repeats its anchor's whole depth where it is written")
                pos, anchor = _Alias(ev.anchor, _at(ev), target), None
            elif t is DocumentEndEvent:
                continue
            else:  # pragma: no cover - libyaml sends nothing else inside a document
                raise _Stop
            if anchor is not None:
                anchors[anchor] = (data, pos, size, height)
            if not stack:
                if data is _DROPPED:
                    data = None
                nxt = get()
                while type(nxt) is DocumentEndEvent:
                    nxt = get()
                if type(nxt) is DocumentStartEvent:
                    self.error(_at(nxt), (), "the spec file holds more than one YAML document", "yaml-syntax",
                               allowed="one document", hint="remove the second `---` and what follows, or merge "
                               "the two documents")
                    raise _Stop
                return data, pos
            parent = stack[-1]
            parent.size += size
            if height >= parent.height:
                parent.height = height + 1
            if data is _DROPPED:  # a refused tag: its error is said; the value is left out, so nothing else is
                if parent.is_map:
                    parent.key = _BAD_KEY if parent.key is _NO_KEY else _NO_KEY
                continue
            if not parent.is_map:
                parent.data.append(data)
                parent.items.append(pos)
            elif parent.key is _NO_KEY:
                self._key(parent, stack, data, pos)
            else:
                self._value(parent, stack, data, pos)

    def _too_many(self, mark: tuple[int, int], stack: list[_Frame], count: int) -> None:
        self.limit(mark, stack, f"the document holds more than {self.limits.nodes} nodes", "yaml-too-many-nodes",
                   f"at most {self.limits.nodes} keys, values and list items",
                   "split the services over several specs")

    def _key(self, parent: _Frame, stack: list[_Frame], data: Any, pos: Any) -> None:
        if isinstance(data, (dict, list)):
            self.error(_mark(pos), _path(stack), "a mapping key must be a plain scalar", "yaml-complex-key",
                       given=Described(f"a {'mapping' if isinstance(data, dict) else 'list'} as key"))
            parent.key = _BAD_KEY
            return
        scalar = pos
        while type(scalar) is _Alias:
            scalar = scalar.target
        _, _, value, style, tag = scalar
        if value == "<<" and ((tag is None and not style) or tag == _MERGE_TAG):
            parent.key, parent.key_event = "<<", scalar
            parent.merges = parent.merges if parent.merges is not None else []
            parent.merges.append(None)  # the merged value follows
            return
        parent.key, parent.key_event = (value if type(pos) is tuple else str(data)), scalar

    def _value(self, parent: _Frame, stack: list[_Frame], data: Any, pos: Any) -> None:
        key = parent.key
        parent.key = _NO_KEY
        if key is _BAD_KEY:
            return
        key_event = parent.key_event
        if key == "<<" and parent.merges and parent.merges[-1] is None:
            self._merge_value(parent, stack, data, pos, key_event)
            return
        entry = parent.items.get(key)
        if entry is not None:
            first = entry[0][0] + 1 if type(entry) is tuple else None
            line, col = _line_col(_mark(key_event))
            self.problems.items.append(_dup_error(self.problems.file, _path(stack) + (key,), line, col, first))
            return
        parent.data[key] = data
        parent.items[key] = (key_event, pos)

    def _merge_value(self, parent: _Frame, stack: list[_Frame], data: Any, pos: Any, merge: tuple) -> None:
        """``<<: *a`` or ``<<: [*a, *b]`` (YAML 1.1 merge key): the sources, kept for the mapping's end."""
        parent.merges.pop()
        sources = []
        target = pos
        while type(target) is _Alias:
            target = target.target
        if isinstance(data, dict):
            sources.append((data, target.items))
        elif isinstance(data, list) and all(isinstance(d, dict) for d in data):
            for d, p in zip(data, target.items):
                while type(p) is _Alias:
                    p = p.target
                sources.append((d, p.items))
        else:
            self.error((merge[0], merge[1]), _path(stack) + ("<<",),
                       "a merge key (<<) takes a mapping or a list of mappings", "yaml-merge",
                       given=Described("a list holding other values" if isinstance(data, list) else "a scalar"),
                       allowed="<<: *anchor, or <<: [*anchor1, *anchor2]")
            return
        parent.merges.extend((d, items, merge) for d, items in sources)

    def _merge(self, f: _Frame) -> None:
        """Keys of the merged mappings that the mapping does not give itself; of two merged mappings the first
        wins (YAML 1.1 merge key). Keys keep the order PyYAML gives them: merged ones first."""
        data: dict[Any, Any] = {}
        items: dict[Any, Any] = {}
        for source in f.merges:
            if source is None:
                continue
            src, src_items, merge = source
            for k, v in src.items():
                if k not in data:
                    data[k] = v
                    items[k] = _Merged(src_items[k], merge)
        for k, v in f.data.items():
            data[k] = v
            items[k] = f.items[k]
        f.data, f.items = data, items

    def _tagged(self, ev: ScalarEvent, stack: list[_Frame]) -> Any:
        tag, value = ev.tag, ev.value
        if tag == "!" or tag == _CORE + "str" or (tag == _MERGE_TAG and value == "<<"):
            return value
        if tag not in _SCALAR_TAGS:
            self._bad_tag(ev, stack)
            return _DROPPED
        data = resolve(value)
        want = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[tag[len(_CORE):]]
        if isinstance(data, bool) and tag != _CORE + "bool" or not isinstance(data, want):
            self.error(_at(ev), _path(stack), f"{value!r} is not what its tag {_short_tag(tag)} says",
                       "yaml-tag", given=f"{_short_tag(tag)} {value}",
                       allowed=f"a value of the tag's type, or no tag")
            return value
        return float(data) if tag == _CORE + "float" else data

    def _bad_tag(self, ev: Any, stack: list[_Frame]) -> None:
        self.error(_at(ev), _path(stack), f"the tag {_short_tag(ev.tag)} is not allowed: meshspec reads plain "
                   "data and never constructs objects from tags", "yaml-tag", given=_short_tag(ev.tag),
                   allowed=_ALLOWED_TAGS, hint="remove the tag; quote the value if it should stay text")


def _dup_error(file: str, path: Path, line: int, col: int, first_line: int | None) -> SpecError:
    where = f"it was already given on line {first_line}" if first_line else "it also came through a merge key"
    return SpecError(file=file, path=path, line=line, column=col, code="duplicate-key",
                     message=f"duplicate key {path[-1]!r}; {where}",
                     given="the key twice", allowed="each key once per mapping",
                     hint="YAML would silently keep only the last value: merge the two entries or rename one")


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def parse(text: str, problems: Problems, limits: Limits = LIMITS) -> tuple[Any, Positions]:
    """Parse one YAML document within ``limits``; syntax errors, crossed limits, refused tags and duplicate keys
    go to ``problems``. On a syntax error or a crossed limit the data is None."""
    pos = Positions()
    problems.positions = pos
    if text.startswith("\ufeff"):
        text = text[1:]  # a UTF-8 byte-order mark (libyaml would take it too; positions stay the same)
    if len(text) > limits.chars:
        line, col = _offset_position(text, limits.chars)
        problems.items.append(SpecError(
            file=problems.file, path=(), line=line, column=col, code="yaml-too-large",
            message=f"the document is {len(text)} characters, longer than meshspec reads",
            given=f"{len(text)} characters", allowed=f"at most {limits.chars} characters ({limits.chars // 1024 // 1024} MiB)",
            hint="split the services over several specs"))
        return None, pos
    loader = _Base(text)
    try:
        data, pos.root = _Composer(problems, limits).compose(loader)
    except _Stop:
        return None, pos
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.items.append(SpecError(
            file=problems.file, path=(), code="yaml-syntax",
            line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
            message=f"not valid YAML: {exc.problem or exc.context}",
            hint="check the indentation and the quoting around this line"))
        return None, pos
    except yaml.reader.ReaderError as exc:
        line, col = _offset_position(text, exc.position)
        problems.items.append(SpecError(
            file=problems.file, path=(), code="yaml-syntax", line=line, column=col,
            message=f"not valid YAML: character {exc.character!r} is not allowed ({exc.reason})",
            hint="remove the control character; write it as an escape in a double-quoted string if it is meant"))
        return None, pos
    except UnicodeEncodeError as exc:  # text that is no Unicode (a lone surrogate from a bad decoding)
        line, col = _offset_position(text, exc.start)
        problems.items.append(SpecError(
            file=problems.file, path=(), code="not-utf8", line=line, column=col,
            message="the text holds a character that is not valid Unicode", hint="save the file as UTF-8"))
        return None, pos
    finally:
        loader.dispose()
    return data, pos
