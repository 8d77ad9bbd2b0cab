"""A progress bar on stderr for the commands that synthesize (stacks done of total, elapsed), only on a terminal.

tqdm: small, pure Python, no dependencies, imported in a few milliseconds (rich would bring pygments and
markdown-it for a bar), and it draws on stderr so stdout stays one JSON document. Off when stderr is not a
terminal (CI logs get no bar, only the summary) and with ``--format json``.
"""
from __future__ import annotations

import sys


class Progress:
    """``progress(event, stack)`` as ``meshspec.stacks.engine.synth`` calls it; a no-op unless on a terminal."""

    def __init__(self, what: str, *, enabled: bool | None = None) -> None:
        self.what = what
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        self.cached = 0
        self.done = 0

    def __call__(self, event: str, stack: str) -> None:
        if not self.enabled:
            return
        if event == "total":
            from tqdm import tqdm

            self.bar = tqdm(total=int(stack), desc=self.what, unit="stack", file=sys.stderr, leave=False,
                            bar_format="{desc}: {bar} {n_fmt}/{total_fmt} stacks, {elapsed} {postfix}")
        elif self.bar is not None:
            self.done += 1
            if event == "cached":
                self.cached += 1
                self.bar.set_postfix_str(f"{self.cached} from the cache", refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
