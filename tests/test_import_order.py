"""Every meshspec module imports on its own, first in a fresh interpreter (no import cycle that only a lucky order
hides: `meshspec.backends.service_connect.settings` once failed that way)."""
from __future__ import annotations

import pkgutil
import subprocess
import sys



LAYERS = ("infra", "stacks", "constructs_lib", "backends")


def modules() -> list[str]:
    """Every module of the installed layers (an editable install maps each layer's folder, so walk each)."""
    import importlib

    out = []
    for layer in LAYERS:
        pkg = importlib.import_module(f"meshspec.{layer}")
        out += [pkg.__name__] + [m.name for m in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}.")]
    return sorted(n for n in out if not n.endswith("__main__"))


def test_every_module_imports_first_in_a_fresh_interpreter():
    # one interpreter per module would take minutes: each child imports a batch, each module in a fresh sys.modules
    code = ("import importlib, sys\n"
            "failed = []\n"
            "base = set(sys.modules)\n"
            "for name in sys.argv[1:]:\n"
            "    for m in [m for m in sys.modules if m.startswith('meshspec') and m not in base]:\n"
            "        del sys.modules[m]\n"
            "    try:\n"
            "        importlib.import_module(name)\n"
            "    except Exception as exc:\n"
            "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
            "print('\\n'.join(failed))\n")
    names = modules()
    proc = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "", proc.stdout
    assert len(names) > 100  # the walk found the package's modules
