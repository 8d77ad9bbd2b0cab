"""What a change touches: the stacks whose inputs differ between two specs, and the services behind them.

Used by partial synth (``meshspec synth --changed-since REF``) and by CI to skip untouched stacks. A stack is
touched when its inputs (``meshspec.infra.sharding.inputs``: its own view of the spec and the views of the stacks
it is built against) differ: the same inputs the stack is built from, so no separate list of who depends on
whom can fall behind the stack code. Contract files feed no stack: templates hold a major's path, never the
contract's contents (``meshspec contracts`` reads them). Pure functions over two loaded specs plus the list of
changed files; the git edge is ``spec_at_ref``.
"""
from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from meshspec.infra import sharding
from meshspec.infra.errors import UserError
from meshspec.infra.spec import Spec, load_text


@dataclass(frozen=True)
class Changes:
    stacks: tuple[str, ...]       # stacks whose inputs differ or that are new, in deployment order
    services: frozenset[str]      # services whose entry changed, or that are new
    removed: frozenset[str]       # services gone from the spec
    removed_stacks: tuple[str, ...]  # stacks gone from the layout (their services or clusters were removed)
    contracts: frozenset[str] = frozenset()  # changed contract files of the spec (no template reads them)


def diff_specs(old: Spec | None, new: Spec, *, spec_dir: PurePosixPath = PurePosixPath("."),
               changed_files: frozenset[str] = frozenset()) -> Changes:
    """The stacks whose inputs differ between ``old`` and ``new`` (every stack when ``old`` is None)."""
    after = sharding.inputs(new)
    before = sharding.inputs(old) if old is not None else {}
    stacks = tuple(s for s, digest in after.items() if before.get(s) != digest)
    old_services = old.services if old is not None else {}
    services = frozenset(n for n, svc in new.services.items() if old_services.get(n) != svc)
    contracts = frozenset(str(spec_dir / m.contract) for svc in new.services.values()
                          for m in svc.majors.values()) & changed_files
    return Changes(stacks, services, frozenset(old_services) - frozenset(new.services),
                   tuple(s for s in before if s not in after), contracts)


def spec_at_ref(spec_path: Path, ref: str) -> tuple[Spec | None, frozenset[str]]:
    """The spec as it was at git ``ref`` (None if it did not exist) and the files changed since then."""
    spec_path = spec_path.resolve()
    top = _git(["rev-parse", "--show-toplevel"], spec_path.parent).strip()
    rel = spec_path.relative_to(top).as_posix()
    try:
        text = _git(["show", f"{ref}:{rel}"], Path(top))
    except UserError:
        text = None
    changed = frozenset(_git(["diff", "--name-only", ref, "--"], Path(top)).split())
    if text is None:
        return None, changed
    result = load_text(text, file=f"{ref}:{rel}", today=dt.date.today())
    if result.spec is None:
        raise UserError(f"the spec at {ref} is not valid, so changes cannot be computed",
                        hint="synthesize everything (leave out --changed-since)")
    return result.spec, changed


def _git(args: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"git {' '.join(args)} failed: {exc}") from exc
    if proc.returncode != 0:
        raise UserError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def changes_since(spec_path: Path, ref: str, new: Spec) -> Changes:
    """What changed in the spec at ``spec_path`` (loaded as ``new``) and its contract files since git ``ref``."""
    spec_path = spec_path.resolve()
    top = Path(_git(["rev-parse", "--show-toplevel"], spec_path.parent).strip())
    old, changed = spec_at_ref(spec_path, ref)
    return diff_specs(old, new, spec_dir=PurePosixPath(spec_path.parent.relative_to(top).as_posix()),
                      changed_files=changed)
