"""Start-up cost of the commands that load aws-cdk-lib: the cyclic garbage collector during the big imports.

Importing aws-cdk-lib, pydantic and the spec model creates about 200,000 objects that live until the process
exits. CPython's cyclic garbage collector runs after every 700 new objects and walks the older ones again in its
higher generations, so it spent about 0.15 s of `meshspec synth`'s 2.3 s of CPU at 10 services (and at 100:
benchmarks/README.md) on objects that are never garbage. Importing with the collector paused and then
freezing what the imports made (``gc.freeze``: moved to a permanent generation the collector skips) removes
that cost without keeping garbage alive: the collector is back on for whatever the command does next.
"""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def frozen_imports() -> Iterator[None]:
    """Pause the cyclic garbage collector for the imports in the block, then freeze what exists and resume it
    (unless it was off before). Only for imports: objects made in the block stay until the process exits."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
