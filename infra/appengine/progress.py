"""Progress for long operations: a spinner line on a terminal, plain lines in CI (no control characters)."""
from __future__ import annotations

import os
import sys
import time
from typing import TextIO

FRAMES = "|/-\\"


class Progress:
    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None):
        self.stream = stream or sys.stderr
        if interactive is None:
            interactive = self.stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
        self.interactive = interactive
        self._label = ""
        self._frame = 0
        self._started = 0.0

    def begin(self, index: int, total: int, label: str) -> None:
        self._label = f"[{index}/{total}] {label}"
        self._started = time.monotonic()
        self._frame = 0
        if self.interactive:
            self._draw()
        else:
            print(f"{self._label} ...", file=self.stream, flush=True)

    def tick(self) -> None:
        """Called on each operation poll."""
        self._frame += 1
        if self.interactive:
            self._draw()

    def end(self, status: str = "done") -> None:
        took = time.monotonic() - self._started
        line = f"{self._label}: {status} ({took:.1f} s)"
        if self.interactive:
            self.stream.write("\r\x1b[K" + line + "\n")
            self.stream.flush()
        else:
            print(line, file=self.stream, flush=True)

    def _draw(self) -> None:
        took = time.monotonic() - self._started
        self.stream.write(f"\r\x1b[K{FRAMES[self._frame % len(FRAMES)]} {self._label} ({took:.0f} s)")
        self.stream.flush()

    def say(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
