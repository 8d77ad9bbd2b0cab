"""What a change touches: the services whose definition, contract or placement differs between two specs.

Used by partial synth (``meshspec synth --changed-since REF``) and by CI to skip untouched stacks. Pure
functions over two loaded specs plus the list of changed files; the git edge is ``spec_at_ref``.
"""
from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from meshspec.infra.errors import UserError
from meshspec.infra.spec import Spec, load_text


@dataclass(frozen=True)
class Changes:
    services: frozenset[str]      # services to rebuild (changed, added)
    removed: frozenset[str]       # services gone from the spec
    global_change: bool           # project-wide settings changed: everything is touched

    def touches(self, service: str) -> bool:
        return self.global_change or service in self.services


def diff_specs(old: Spec | None, new: Spec, *, spec_dir: PurePosixPath = PurePosixPath("."),
               changed_files: frozenset[str] = frozenset()) -> Changes:
    """Services whose spec entry or contract file changed; a change outside ``services`` touches all."""
    if old is None:
        return Changes(frozenset(new.services), frozenset(), True)
    outside = old.model_dump(exclude={"services"}) != new.model_dump(exclude={"services"})
    touched = set()
    for name, svc in new.services.items():
        before = old.services.get(name)
        if before is None or before != svc:
            touched.add(name)
            continue
        contracts = {str(spec_dir / m.contract) for m in svc.majors.values()}
        if contracts & changed_files:
            touched.add(name)
    removed = frozenset(old.services) - frozenset(new.services)
    # A consumer's backends name the services it uses: a removed provider touches its consumers.
    for name, svc in new.services.items():
        if any(u.split("/")[0] in removed for u in svc.uses):
            touched.add(name)
    return Changes(frozenset(touched), removed, outside)


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
