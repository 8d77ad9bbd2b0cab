"""Pure parts of the traffic tools: the canary decision table, weight arithmetic, spec folding, parsers."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from meshspec.infra.errors import UserError
from meshspec.infra import journal
from meshspec.infra.traffic import figures, specedit, weights as W
from meshspec.infra.traffic.analysis import Thresholds, decide
from meshspec.infra.traffic.canary import parse_steps
from meshspec.infra.traffic.cliutil import parse_duration, parse_percent
from meshspec.infra.traffic.figures import Figures

TH = Thresholds(max_5xx_rate=0.01, max_p99_ms=500, min_requests=50, max_extensions=2)
REL = Thresholds(max_5xx_rate=0.05, max_p99_ms=None, min_requests=50, max_5xx_increase=0.005, max_p99_increase=0.2)
OK = Figures(requests=1000, errors_5xx=2, p50_ms=40, p99_ms=200)
BASE = Figures(requests=10000, errors_5xx=10, p50_ms=35, p99_ms=180)


# -- the decision table -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, canary, baseline, th, last, ext, action, reason", [
    ("healthy step goes on", OK, BASE, TH, False, 0, "continue", "canary 5xx rate 0.20% within 1.00%"),
    ("healthy last step promotes", OK, BASE, TH, True, 0, "promote", "canary p99 200 ms within 500 ms"),
    ("no baseline needed", OK, None, TH, True, 0, "promote", "within"),
    ("5xx above the limit", Figures(1000, 11, 40, 200), BASE, TH, False, 0, "rollback", "(1.10%) is above the limit 1.00%"),
    ("5xx exactly at the limit passes", Figures(1000, 10, 40, 200), BASE, TH, False, 0, "continue", "1.00% within"),
    ("p99 above the limit", Figures(1000, 0, 40, 501), BASE, TH, False, 0, "rollback", "canary p99 501 ms is above the limit 500 ms"),
    ("p99 at the limit passes", Figures(1000, 0, 40, 500), BASE, TH, False, 0, "continue", "within 500 ms"),
    ("few requests: wait", Figures(10, 0, 40, 100), BASE, TH, False, 0, "extend", "fewer than minRequests 50"),
    ("few requests, second wait", Figures(10, 0, 40, 100), BASE, TH, False, 1, "extend", "(2 of 2)"),
    ("few requests after all waits: roll back", Figures(10, 0, 40, 100), BASE, TH, False, 2, "rollback", "no evidence"),
    ("few requests but the budget is spent", Figures(10, 1, 40, 100), BASE, TH, False, 0, "rollback", "1 of 10 requests"),
    ("no latency datapoint with a p99 limit", Figures(100, 0, None, None), BASE, TH, False, 0, "extend", "no p99 latency"),
    ("no latency needed without a p99 limit", Figures(100, 0, None, None), BASE, REL, False, 0, "continue", "within 5.00%"),
    ("5xx too far above the baseline", Figures(1000, 20, 40, 100), BASE, REL, False, 0, "rollback", "above the baseline's 0.10%"),
    ("5xx close to the baseline", Figures(1000, 5, 40, 100), BASE, REL, False, 0, "continue", "within"),
    ("p99 too far above the baseline", Figures(1000, 0, 40, 217), BASE, REL, False, 0, "rollback", "more than 20% above the baseline's 180 ms"),
    ("p99 near the baseline", Figures(1000, 0, 40, 216), BASE, REL, False, 0, "continue", "within"),
    ("a thin baseline is not compared", Figures(1000, 20, 40, 900), Figures(10, 0, 30, 50), REL, False, 0, "continue", "within"),
    ("both limits broken: both said", Figures(1000, 50, 40, 900), BASE, TH, False, 0, "rollback", "above the limit"),
])
def test_decision_table(name, canary, baseline, th, last, ext, action, reason):
    d = decide(canary, baseline, th, last_step=last, extensions=ext)
    assert d.action == action, (name, d)
    assert any(reason in r for r in d.reasons), (name, d.reasons)


def test_decision_lists_every_broken_limit():
    d = decide(Figures(1000, 5, 40, 900), BASE, Thresholds(max_5xx_rate=0.01, max_p99_ms=500), last_step=False,
               extensions=0)
    assert d.reasons == ["canary p99 900 ms is above the limit 500 ms"]
    d = decide(Figures(1000, 50, 40, 900), BASE, Thresholds(max_5xx_rate=0.1, max_p99_ms=500, max_5xx_increase=0.01),
               last_step=False, extensions=0)
    assert d.reasons == ["canary p99 900 ms is above the limit 500 ms",
                         "canary 5xx rate 5.00% is 4.90% above the baseline's 0.10% (allowed +1.00%)"]


# -- weights ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("current, pinned, places, expected", [
    ({"a": 90, "b": 10}, {"b": 30}, 0, {"a": 70, "b": 30}),
    ({"a": 60, "b": 30, "c": 10}, {"c": 40}, 0, {"a": 40, "b": 20, "c": 40}),   # the rest keeps 2:1
    ({"a": 50, "b": 25, "c": 25}, {"a": 0}, 0, {"a": 0, "b": 50, "c": 50}),
    ({"a": 34, "b": 33, "c": 33}, {"c": 0}, 0, {"a": 51, "b": 49, "c": 0}),      # 50.75/49.25: largest remainder
    ({"a": 1, "b": 1, "c": 98}, {"c": 97}, 0, {"a": 2, "b": 1, "c": 97}),        # a tie: the name decides
    ({"a": 2, "b": 1}, {"c": 1}, 1, {"a": 66, "b": 33, "c": 1}),
    ({"a": 2, "b": 1}, {"c": D("0.5")}, 1, {"a": D("66.3"), "b": D("33.2"), "c": D("0.5")}),
    ({"a": 90, "b": 10}, {"a": 40, "b": 60}, 0, {"a": 40, "b": 60}),
])
def test_redistribute(current, pinned, places, expected):
    got = W.redistribute({k: D(v) for k, v in current.items()}, {k: D(v) for k, v in pinned.items()}, places=places)
    assert got == {k: D(v) for k, v in expected.items()}
    assert sum(got.values()) == 100


def test_redistribute_lists_spec_versions_first_with_zero():
    got = W.redistribute({"b": D(100)}, {"a": D(10)}, versions=["a", "b", "c"])
    assert list(got.items()) == [("a", D(10)), ("b", D(90)), ("c", D(0))]


@pytest.mark.parametrize("current, pinned, message", [
    ({"a": 90, "b": 10}, {"a": 80, "b": 30}, "sum to 110%, more than 100%"),
    ({"a": 100, "b": 0}, {"a": 50}, "the other versions (b) take no traffic now"),
    ({"a": 90, "b": 10}, {"a": 50, "b": 40}, "not 100%, and no other version is left to take the rest"),
    ({"a": 90, "b": 10}, {"a": D("50.5")}, "a=50.5: this backend takes whole percentages"),
])
def test_redistribute_refusals(current, pinned, message):
    with pytest.raises(UserError) as exc:
        W.redistribute({k: D(v) for k, v in current.items()}, {k: D(v) for k, v in pinned.items()})
    assert message in exc.value.message


def test_step_weights_keep_the_start_proportions():
    start = {"a": D(60), "b": D(40), "canary": D(0)}
    assert W.step_weights(start, "canary", D(50)) == {"a": D(30), "b": D(20), "canary": D(50)}
    assert W.step_weights(start, "canary", D(100)) == {"a": D(0), "b": D(0), "canary": D(100)}
    with pytest.raises(UserError, match="no version other than canary takes traffic"):
        W.step_weights({"canary": D(100)}, "canary", D(50))


@pytest.mark.parametrize("items, expected", [
    (["banana=10"], {"banana": D(10)}),
    (["apple=80,banana=20"], {"apple": D(80), "banana": D(20)}),
    (["apple=80", "banana=20%"], {"apple": D(80), "banana": D(20)}),
])
def test_parse_assignments(items, expected):
    assert W.parse_assignments(items) == expected


@pytest.mark.parametrize("items, message", [
    (["banana"], "is not VERSION=PERCENT"), (["=5"], "is not VERSION=PERCENT"),
    (["a=1,a=2"], "names version 'a' twice"), (["a=-1"], "outside 0 to 100"), (["a=NaN"], "outside 0 to 100"),
    ([","], "needs at least one"),
])
def test_parse_assignments_refusals(items, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        W.parse_assignments(items)


def test_parsers():
    assert parse_duration("5m", "--interval") == 300 and parse_duration("1.5h", "x") == 5400
    assert parse_percent("1%", "x") == 0.01 and parse_percent("0.5", "x") == 0.005
    assert parse_steps("1,10,50,100", 0, "appmesh") == (D(1), D(10), D(50), D(100))
    for bad in ("5", "m", "-1m", "0s"):
        with pytest.raises(UserError, match="is not a duration"):
            parse_duration(bad, "--interval")
    with pytest.raises(UserError, match="outside 0% to 100%"):
        parse_percent("150%", "--max-5xx-rate")
    with pytest.raises(UserError, match="rise strictly"):
        parse_steps("10,10", 0, "appmesh")
    with pytest.raises(UserError, match="give percentages separated by commas"):
        parse_steps("a,b", 0, "appmesh")


# -- CloudWatch queries and their combination ---------------------------------------------------------------------
def test_queries_use_the_dashboard_series():
    qs = figures.queries("checkout", "v1", ["apple"], 300)
    assert [(q["Id"], q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Stat"]) for q in qs] == [
        ("req0", "RequestCount", "Sum"), ("err0", "Http5xxCount", "Sum"),
        ("p50x0", "LatencyMs", "p50"), ("p99x0", "LatencyMs", "p99")]
    assert qs[0]["MetricStat"]["Metric"]["Namespace"] == "meshspec/Envoy/v1"  # the major is in the namespace
    assert qs[0]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "Service", "Value": "checkout"}, {"Name": "Version", "Value": "apple"}]


def test_combine_sums_counts_and_takes_the_worst_percentile():
    got = figures.combine(["a", "b"], {"req0": [10, 20], "err0": [1], "p50x0": [5, 7], "p99x0": [50, 90]})
    assert got["a"] == Figures(requests=30, errors_5xx=1, p50_ms=7, p99_ms=90)
    assert got["b"] == Figures(requests=0, errors_5xx=0, p50_ms=None, p99_ms=None)
    assert got["b"].error_rate is None


def test_period_covers_the_window_in_minutes():
    import datetime as dt

    t = dt.datetime(2026, 11, 23, 10, 0)
    assert figures.period_for(t, t + dt.timedelta(seconds=300)) == 300
    assert figures.period_for(t, t + dt.timedelta(seconds=301)) == 360
    assert figures.period_for(t, t + dt.timedelta(seconds=5)) == 60


# -- folding weights into the spec --------------------------------------------------------------------------------
SPEC = """\
services:
  s:
    versions:
      # the old one
      - name: a
        traffic: 90  # stays a number
      - name: b
        traffic: {v1: 10, v2: 10}
      - name: c
"""


def test_fold_all_majors_keeps_numbers_and_mappings():
    out = specedit.fold(SPEC, "s", ["v1", "v2"], {"a": D(50), "b": D(25), "c": D(25)}, ["v1", "v2"])
    assert out == SPEC.replace("traffic: 90  #", "traffic: 50  #").replace("{v1: 10, v2: 10}", "{v1: 25, v2: 25}") \
        .replace("      - name: c\n", "      - name: c\n        traffic: 25\n")


def test_fold_one_major_turns_a_number_into_a_mapping():
    out = specedit.fold(SPEC, "s", ["v1"], {"a": D(80), "b": D("20")}, ["v1", "v2"])
    assert "        traffic: {v1: 80, v2: 90} # stays a number\n" in out
    assert "        traffic: {v1: 20, v2: 10}\n" in out
    assert "      # the old one\n" in out and "      - name: c\n" in out and out.count("traffic") == 2


def test_journal_walks_back_through_rollbacks(tmp_path):
    w = lambda a: {"a": D(a), "b": D(100 - a)}  # noqa: E731
    kw = dict(service="s", major="v1", at="t")
    journal.append(tmp_path, kind="shift", before=w(90), before_token="r@1", after=w(50), after_token="r@2", **kw)
    journal.append(tmp_path, kind="shift", before=w(50), before_token="r@2", after=w(0), after_token="r@3", **kw)
    entry, token = journal.last_undoable(tmp_path, "s", "v1")
    assert (entry.index, token) == (1, "r@3")
    journal.append(tmp_path, kind="rollback", before=w(0), before_token="r@3", after=w(50), after_token="r@4",
                   undoes=1, **kw)
    entry, token = journal.last_undoable(tmp_path, "s", "v1")
    assert (entry.index, entry.before, token) == (0, w(90), "r@4")
    assert journal.last_undoable(tmp_path, "s", "v2") is None
