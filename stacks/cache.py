"""The synth cache: each stack's part of a cloud assembly, kept under a key made of exactly what determines it.

Key of a stack = SHA-256 of: the digest of its inputs (``meshspec.infra.sharding.inputs``: its own view of the
spec and the views of the stacks it is built against, the same inputs partial synth compares), its name, and
what determines every template (:func:`environment_key`): meshspec's version and the digest of its code,
aws-cdk-lib's, constructs', jsii's and cdk-nag's versions, the CDK context (feature flags included) and
``CDK_CONTEXT_JSON``. Nothing else feeds a template: the stacks read no clock, no file and no environment.

An entry is one file named by its key: a header (the key and stack it was made for, each file's place and SHA-256,
and a digest of the header) and then the stack's files and the text of its manifest.json entries and tree.json
subtree. An entry is never trusted on its name: reading one checks the header's digest, key, stack, file names
and every file's SHA-256; anything that does not match (a corrupt, truncated or foreign entry) is deleted and the
stack rebuilt. Entries are written to a temporary file and renamed into place, so two synths sharing a cache
never see half an entry. Entries unused for ``MAX_AGE_DAYS`` are pruned.

Location: ``--cache-dir``, else ``synth`` in meshspec's cache folder: ``$MESHSPEC_CACHE_DIR``, else
``$XDG_CACHE_HOME/meshspec`` (by default ``~/.cache/meshspec/synth``). Pure file work: no CDK import.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import uuid
from dataclasses import asdict
from importlib import metadata, util
from pathlib import Path

from .assembly import AppFragment, Fragment, safe_path

FORMAT = "meshspec-synth-cache/2"
MAX_AGE_DAYS = 14
ENV_DIR = "MESHSPEC_CACHE_DIR"
PARTS = ".meshspec"  # an entry's manifest and tree text, kept as files (hashed like the others), never written out


def default_dir() -> Path:
    """``synth`` in meshspec's cache folder (``$MESHSPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/meshspec``, else
    ``~/.cache/meshspec``), beside the OpenAPI verdicts (``meshspec.infra.contracts.openapi.cache_dir``)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]) / "synth"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "meshspec" / "synth"


# Every package of meshspec whose code can change a template (setup.py's LAYERS): the mesh backends' constructs
# and settings are in meshspec.backends.
CODE_PACKAGES = ("meshspec.infra", "meshspec.stacks", "meshspec.constructs_lib", "meshspec.backends")


@functools.cache
def _code_digest() -> str:
    """meshspec's own code: an editable install keeps its version while the code changes. Once per process."""
    h = hashlib.sha256()
    for pkg in CODE_PACKAGES:
        spec = util.find_spec(pkg)
        for root in spec.submodule_search_locations or []:
            for p in sorted(Path(root).rglob("*.py")):
                h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


@functools.cache
def _plugins() -> tuple[tuple[str, str, str], ...]:
    """Mesh backends installed from other distributions (entry points): their versions feed the key too. Once
    per process, like the versions (a synth takes the key twice: to start its workers, then to look up)."""
    from meshspec.infra.mesh.registry import GROUP

    return tuple(sorted((ep.name, ep.dist.name if ep.dist else "", ep.dist.version if ep.dist else "")
                        for ep in metadata.entry_points(group=GROUP)))


@functools.cache
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def environment_key(context: dict, *, validation: bool) -> str:
    """What determines every template besides the spec."""
    parts = {
        "format": FORMAT, "meshspec": _version("meshspec"), "code": _code_digest(), "plugins": _plugins(),
        **{d: _version(d) for d in ("aws-cdk-lib", "constructs", "jsii", "cdk-nag")},
        "context": context, "CDK_CONTEXT_JSON": os.environ.get("CDK_CONTEXT_JSON"), "validation": validation,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def stack_key(environment: str, stack: str, inputs: str) -> str:
    return hashlib.sha256(f"{environment}\0{stack}\0{inputs}".encode()).hexdigest()


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class Cache:
    """Stack fragments by key, verified on every read. An entry is one file: a header line (JSON: format, key,
    stack, each file's offset, length and SHA-256, the header's own digest) and the files' bytes after it; one
    file to read per stack, and one rename to write it."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.rejected: list[str] = []  # stacks whose entry was corrupt or foreign (deleted, to be rebuilt)

    def _path(self, key: str) -> Path:
        return self.root / "v2" / key[:2] / key

    # -- reading ----------------------------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        """Whether an entry of this name exists (unread, unverified: :meth:`get` verifies it)."""
        return self._path(key).is_file()

    def get(self, key: str, stack: str) -> Fragment | None:
        entry = self._read(key, stack)
        if entry is None:
            return None
        doc, files = entry
        parts = {k: files.pop(f"{PARTS}/{k}").decode("utf-8") for k in ("artifacts", "tree")}
        return Fragment(stack, files, parts["artifacts"], parts["tree"], doc["resources"], tuple(doc["warnings"]),
                        tuple(doc["problems"]))

    def get_app(self, key: str) -> AppFragment | None:
        entry = self._read(key, "")
        if entry is None:
            return None
        doc, files = entry
        return AppFragment(files=files, **{k: doc[k] for k in (
            "manifest_head", "manifest_sep", "manifest_app", "manifest_tail", "tree_head", "tree_sep", "tree_app",
            "tree_tail")})

    def _read(self, key: str, stack: str) -> tuple[dict, dict[str, bytes]] | None:
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except OSError:
            return None  # no entry
        try:
            head, _, body = blob.partition(b"\n")
            doc = json.loads(head)
            fields = {k: v for k, v in doc.items() if k != "digest"}
            if doc.get("digest") != _sha(json.dumps(fields, sort_keys=True).encode()):
                raise ValueError("header digest")
            if doc.get("format") != FORMAT or doc.get("key") != key or doc.get("stack") != stack:
                raise ValueError("foreign entry")
            files = {}
            for name, (offset, length, digest) in doc["files"].items():
                safe_path(name)
                data = body[offset:offset + length]
                if len(data) != length or _sha(data) != digest:
                    raise ValueError(f"file {name}")
                if stack and not (name.startswith(f"{stack}.") or name.startswith(f"k8s/{stack}/")
                                  or name.startswith("asset.") or name.startswith(f"{PARTS}/")):
                    raise ValueError(f"file {name} is not {stack}'s")
                files[name] = data
        except (ValueError, KeyError, TypeError, AttributeError):
            self.rejected.append(stack or "(app)")
            self._drop(path)
            return None
        try:
            os.utime(path)  # last use, for pruning
        except OSError:
            pass
        return doc, files

    def _drop(self, path: Path) -> None:
        try:
            path.unlink()
        except OSError:
            pass  # gone already: another synth dropped it

    # -- writing ----------------------------------------------------------------------------------------------
    def seen(self, environment: str) -> bool:
        """Whether a synth with this meshspec, CDK and context used the cache before (then most stacks hit)."""
        return (self.root / "seen" / environment).exists()

    def mark_seen(self, environment: str) -> None:
        try:
            (self.root / "seen").mkdir(parents=True, exist_ok=True)
            (self.root / "seen" / environment).touch()
        except OSError:
            pass

    def put(self, key: str, fragment: Fragment) -> None:
        files = {**fragment.files, f"{PARTS}/artifacts": fragment.artifacts.encode("utf-8"),
                 f"{PARTS}/tree": fragment.tree.encode("utf-8")}
        self._write(key, fragment.stack, files, {"resources": fragment.resources,
                                                 "warnings": list(fragment.warnings),
                                                 "problems": list(fragment.problems)})

    def put_app(self, key: str, app: AppFragment) -> None:
        doc = asdict(app)
        files = doc.pop("files")
        self._write(key, "", files, doc)

    def _write(self, key: str, stack: str, files: dict[str, bytes], extra: dict) -> None:
        final = self._path(key)
        if final.exists():
            return
        table, offset = {}, 0
        for name, data in files.items():
            table[name] = [offset, len(data), _sha(data)]
            offset += len(data)
        fields = {"format": FORMAT, "key": key, "stack": stack, "files": table, **extra}
        head = json.dumps({**fields, "digest": _sha(json.dumps(fields, sort_keys=True).encode())}, sort_keys=True)
        tmp = self.root / "tmp" / f"new-{uuid.uuid4().hex}"
        try:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(head.encode("utf-8") + b"\n")
                for data in files.values():
                    f.write(data)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)  # atomic: a reader sees the old entry, the new one, or none
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass

    def prune(self, max_age_days: int = MAX_AGE_DAYS) -> int:
        """Delete entries unused for ``max_age_days`` (at most once a day); returns how many."""
        stamp = self.root / "last-prune"
        now = time.time()
        try:
            if now - stamp.stat().st_mtime < 86400:
                return 0
        except OSError:
            pass
        removed = 0
        for path in [*(self.root / "v2").glob("*/*"), *(self.root / "tmp").glob("*")]:
            try:  # an entry unused for long, or a file left by a synth killed while writing
                age = now - path.stat().st_mtime
                if age > (max_age_days * 86400 if path.parent.parent.name == "v2" else 86400):
                    self._drop(path)
                    removed += 1
            except OSError:
                continue
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.touch()
        except OSError:
            pass
        return removed
