"""Prop errors shared by every construct (re-exported from :mod:`meshspec.constructs_lib.mesh.base`)."""
from .mesh.base import PropsError


def contradiction(a: str, a_value: object, b: str, b_value: object, why: str) -> PropsError:
    """The error for two props that cannot go together: names both and the values received."""
    return PropsError(f"{a}={a_value!r} contradicts {b}={b_value!r}: {why}")


__all__ = ["PropsError", "contradiction"]
