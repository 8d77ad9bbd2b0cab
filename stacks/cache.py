"""The synth cache: each stack's part of a cloud assembly, kept under a key made of exactly what determines it.

Key of a stack = SHA-256 of: the digest of its inputs (``meshspec.infra.sharding.inputs``: its own view of the
spec and the views of the stacks it is built against, the same inputs partial synth compares), its name, and
what determines every template (:func:`environment_key`): meshspec's version and the digest of its code,
aws-cdk-lib's, constructs', jsii's and cdk-nag's versions, the CDK context (feature flags included) and
``CDK_CONTEXT_JSON``. Nothing else feeds a template: the stacks read no clock, no file and no environment.

An entry is a directory named by its key, holding the stack's files, the text of its manifest.json entries and
tree.json subtree, and ``entry.json`` (the key and stack it was made for, the SHA-256 of every file, and a digest
of all that). An entry is never
trusted on its name: reading one checks its digest, key, stack, file names and every file's SHA-256; anything
that does not match (a corrupt, truncated or foreign entry) is deleted and the stack rebuilt. Entries are written
in a temporary directory and renamed into place, so two synths sharing a cache never see half an entry (the
first rename wins; the other drops its copy). Entries unused for ``MAX_AGE_DAYS`` are pruned.

Location: ``--cache-dir``, else ``synth`` in meshspec's cache folder: ``$MESHSPEC_CACHE_DIR``, else
``$XDG_CACHE_HOME/meshspec`` (by default ``~/.cache/meshspec/synth``). Pure file work: no CDK import.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict
from importlib import metadata, util
from pathlib import Path

from .assembly import AppFragment, Fragment, safe_path

FORMAT = "meshspec-synth-cache/1"
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


def _code_digest() -> str:
    """meshspec's own code: an editable install keeps its version while the code changes."""
    h = hashlib.sha256()
    for pkg in ("meshspec.infra", "meshspec.stacks", "meshspec.constructs_lib"):
        spec = util.find_spec(pkg)
        for root in spec.submodule_search_locations or []:
            for p in sorted(Path(root).rglob("*.py")):
                h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def environment_key(context: dict, *, validation: bool) -> str:
    """What determines every template besides the spec."""
    parts = {
        "format": FORMAT, "meshspec": _version("meshspec"), "code": _code_digest(),
        **{d: _version(d) for d in ("aws-cdk-lib", "constructs", "jsii", "cdk-nag")},
        "context": context, "CDK_CONTEXT_JSON": os.environ.get("CDK_CONTEXT_JSON"), "validation": validation,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def stack_key(environment: str, stack: str, inputs: str) -> str:
    return hashlib.sha256(f"{environment}\0{stack}\0{inputs}".encode()).hexdigest()


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class Cache:
    """Stack fragments by key, verified on every read."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.rejected: list[str] = []  # stacks whose entry was corrupt or foreign (deleted, to be rebuilt)

    def _dir(self, key: str) -> Path:
        return self.root / "v1" / key[:2] / key

    # -- reading ----------------------------------------------------------------------------------------------
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
        d = self._dir(key)
        try:
            raw = (d / "entry.json").read_bytes()
        except OSError:
            return None  # no entry
        try:
            doc = json.loads(raw)
            body = {k: v for k, v in doc.items() if k != "digest"}
            if doc.get("digest") != _sha(json.dumps(body, sort_keys=True).encode()):
                raise ValueError("entry digest")
            if doc.get("format") != FORMAT or doc.get("key") != key or doc.get("stack") != stack:
                raise ValueError("foreign entry")
            files = {}
            for name, digest in doc["files"].items():
                data = (d / "files" / safe_path(name)).read_bytes()
                if _sha(data) != digest:
                    raise ValueError(f"file {name}")
                if stack and not (name.startswith(f"{stack}.") or name.startswith(f"k8s/{stack}/")
                                  or name.startswith("asset.") or name.startswith(f"{PARTS}/")):
                    raise ValueError(f"file {name} is not {stack}'s")
                files[name] = data
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.rejected.append(stack or "(app)")
            self._drop(d)
            return None
        try:
            os.utime(d)  # last use, for pruning
        except OSError:
            pass
        return doc, files

    def _drop(self, d: Path) -> None:
        """Delete an entry (moved aside first, so no reader sees it half deleted)."""
        trash = self.root / "tmp" / f"drop-{uuid.uuid4().hex}"
        try:
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.rename(d, trash)
        except OSError:
            return  # gone already, or another synth is dropping it
        shutil.rmtree(trash, ignore_errors=True)

    def seen(self, environment: str) -> bool:
        """Whether a synth with this meshspec, CDK and context used the cache before (then most stacks hit)."""
        return (self.root / "seen" / environment).exists()

    def mark_seen(self, environment: str) -> None:
        try:
            (self.root / "seen").mkdir(parents=True, exist_ok=True)
            (self.root / "seen" / environment).touch()
        except OSError:
            pass

    # -- writing ----------------------------------------------------------------------------------------------
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
        final = self._dir(key)
        if final.exists():
            return
        tmp = self.root / "tmp" / f"new-{uuid.uuid4().hex}"
        try:
            for name, data in files.items():
                p = tmp / "files" / safe_path(name)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(data)
            body = {"format": FORMAT, "key": key, "stack": stack,
                    "files": {n: _sha(b) for n, b in files.items()}, **extra}
            doc = {**body, "digest": _sha(json.dumps(body, sort_keys=True).encode())}
            (tmp / "entry.json").write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(tmp, final)  # atomic; fails when another synth got there first
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)

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
        for d in (self.root / "v1").glob("*/*"):
            try:
                if now - d.stat().st_mtime > max_age_days * 86400:
                    self._drop(d)
                    removed += 1
            except OSError:
                continue
        for d in (self.root / "tmp").glob("*"):  # left by a synth that was killed while writing
            try:
                if now - d.stat().st_mtime > 86400:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                continue
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.touch()
        except OSError:
            pass
        return removed
