"""Pure arithmetic on traffic weights: parse ``--to``, redistribute the rest, promote, compare with the spec.

Weights are percentages of one major's traffic as :class:`~decimal.Decimal`, keyed by code version. A backend
says how many decimal places it takes (App Mesh: whole numbers; App Engine cookie/random splits: one decimal,
ip splits: whole numbers), and every function here returns weights that sum to exactly 100 at that precision.
"""
from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Iterable, Mapping

from meshspec.infra.errors import UserError

HUNDRED = Decimal(100)
Weights = dict[str, Decimal]


def fmt(weights: Mapping[str, Decimal]) -> str:
    """``apple=90, banana=10`` in a stable order (as given)."""
    return ", ".join(f"{k}={_num(v)}" for k, v in weights.items()) or "(none)"


def _num(v: Decimal) -> str:
    v = Decimal(v)
    return str(v.quantize(Decimal(1))) if v == v.to_integral_value() else str(v.normalize())


def to_json(weights: Mapping[str, Decimal]) -> dict[str, int | float]:
    """Weights for JSON output: whole numbers as ints, tenths as floats."""
    return {k: int(v) if v == v.to_integral_value() else float(v) for k, v in weights.items()}


def parse_assignments(items: Iterable[str]) -> Weights:
    """``["banana=10", "apple=80,cherry=10"]`` → ``{"banana": 10, "apple": 80, "cherry": 10}``."""
    out: Weights = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, value = part.partition("=")
            name, value = name.strip(), value.strip().rstrip("%")
            if not sep or not name or not value:
                raise UserError(f"--to {part!r} is not VERSION=PERCENT", hint="for example --to banana=10")
            try:
                share = Decimal(value)
            except InvalidOperation:
                raise UserError(f"--to {part!r}: {value!r} is not a number",
                                hint="a percentage from 0 to 100, for example --to banana=10") from None
            if not share.is_finite() or share < 0 or share > HUNDRED:
                raise UserError(f"--to {part!r}: {value}% is outside 0 to 100")
            if name in out:
                raise UserError(f"--to names version {name!r} twice")
            out[name] = share
    if not out:
        raise UserError("--to needs at least one VERSION=PERCENT")
    return out


def check_precision(weights: Mapping[str, Decimal], places: int, where: str) -> None:
    unit = Decimal(1).scaleb(-places)
    for name, share in weights.items():
        if share != share.quantize(unit):
            allowed = "whole percentages" if places == 0 else f"percentages with at most {places} decimal(s)"
            raise UserError(f"{name}={_num(share)}: {where} takes {allowed}")


def redistribute(current: Mapping[str, Decimal], pinned: Mapping[str, Decimal], *, places: int = 0,
                 versions: Iterable[str] = (), where: str = "this backend") -> Weights:
    """The named versions get exactly their share; the others keep their current proportions of the rest.

    ``versions`` lists every version that may appear (the spec's), so a version with no weight today still
    shows up with 0. Rounding to ``places`` uses the largest-remainder method, so the result sums to 100.
    """
    check_precision(pinned, places, where)
    pinned_total = sum(pinned.values(), Decimal(0))
    if pinned_total > HUNDRED:
        raise UserError(f"the weights given sum to {_num(pinned_total)}%, more than 100%", hint=fmt(pinned))
    names = list(dict.fromkeys([*versions, *current, *pinned]))
    others = [n for n in names if n not in pinned]
    rest = HUNDRED - pinned_total
    base = sum((Decimal(current.get(n, 0)) for n in others), Decimal(0))
    if rest > 0 and base == 0:
        if not others:
            raise UserError(f"the weights given sum to {_num(pinned_total)}%, not 100%, and no other version "
                            "is left to take the rest", hint=fmt(pinned))
        raise UserError(f"the weights given sum to {_num(pinned_total)}% and the other versions "
                        f"({', '.join(others)}) take no traffic now, so there is no proportion to keep",
                        hint="give the full split, e.g. --to " + ",".join(f"{n}=…" for n in names))
    exact = {n: (rest * Decimal(current.get(n, 0)) / base if base else Decimal(0)) for n in others}
    shares = _largest_remainder(exact, rest, places, order=current)
    return {n: pinned[n] if n in pinned else shares[n] for n in names}


def _largest_remainder(exact: Mapping[str, Decimal], total: Decimal, places: int,
                       order: Mapping[str, Decimal]) -> Weights:
    unit = Decimal(1).scaleb(-places)
    floor = {n: v.quantize(unit, rounding=ROUND_FLOOR) for n, v in exact.items()}
    left = int((total - sum(floor.values(), Decimal(0))) / unit)
    # Ties: the larger current weight first, then the name, so the result is deterministic.
    rank = sorted(exact, key=lambda n: (-(exact[n] - floor[n]), -Decimal(order.get(n, 0)), n))
    for n in rank[:left]:
        floor[n] += unit
    return floor


def step_weights(start: Mapping[str, Decimal], canary: str, percent: Decimal, *, places: int = 0,
                 versions: Iterable[str] = ()) -> Weights:
    """A canary step: ``canary`` takes ``percent``; every other version keeps its share of the start weights."""
    start_others = {n: w for n, w in start.items() if n != canary}
    if percent < HUNDRED and not any(start_others.values()):
        raise UserError(f"no version other than {canary} takes traffic now, so a canary step has no baseline",
                        hint=f"current weights: {fmt(start)}")
    return redistribute(start_others, {canary: percent}, places=places, versions=[*start, *versions])


def promote(current: Mapping[str, Decimal], version: str, versions: Iterable[str] = ()) -> Weights:
    names = list(dict.fromkeys([*current, *versions, version]))
    return {n: HUNDRED if n == version else Decimal(0) for n in names}


def validate_full(weights: Mapping[str, Decimal], places: int, where: str) -> None:
    """A complete split: each share 0–100 at the backend's precision, summing to 100."""
    check_precision(weights, places, where)
    total = sum(weights.values(), Decimal(0))
    if total != HUNDRED:
        raise UserError(f"the weights sum to {_num(total)}%, not 100%", hint=fmt(weights))


def same(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> bool:
    """Equal as splits: a version missing on one side counts as 0."""
    return all(Decimal(a.get(k, 0)) == Decimal(b.get(k, 0)) for k in {*a, *b})
