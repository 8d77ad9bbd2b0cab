"""``meshspec traffic compare`` per cohort: the tests against scipy, the verdict on synthetic data with a known
difference and with none, and end to end against CloudWatch in moto (server mode)."""
from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from meshspec.infra.cli.commands import traffic as traffic_cmd
from meshspec.infra.cli.main import main
from meshspec.infra.traffic import compare as C, stats
from meshspec.infra.traffic.figures import Figures
from meshspec.constructs_lib import metric_names as M
from tests.traffic_support import SPEC, START, aws, cloudwatch, moto_server, write_spec  # noqa: F401


# -- the tests, against scipy's ------------------------------------------------------------------------------------
def test_fishers_exact_test_agrees_with_scipy():
    from scipy.stats import fisher_exact

    rng = random.Random(7)
    for _ in range(200):
        a_n, b_n = rng.randint(1, 5000), rng.randint(1, 5000)
        a, b = rng.randint(0, min(a_n, 40)), rng.randint(0, min(b_n, 40))
        want = fisher_exact([[a, a_n - a], [b, b_n - b]]).pvalue
        assert stats.fisher_exact(a, a_n, b, b_n) == pytest.approx(want, rel=1e-9, abs=1e-300), (a, a_n, b, b_n)
    assert stats.fisher_exact(0, 100, 0, 100) == 1.0 and stats.fisher_exact(3, 3, 5, 5) == 1.0
    with pytest.raises(ValueError):
        stats.fisher_exact(5, 4, 0, 1)


def test_wilcoxons_signed_rank_test_agrees_with_scipy_exact_and_approximate():
    from scipy.stats import wilcoxon

    rng = random.Random(11)
    seen = set()
    for _ in range(300):
        d = [rng.gauss(0.4, 1) for _ in range(rng.randint(1, 70))]
        if rng.random() < 0.5:
            d = [round(x, 1) for x in d]  # ties and zeros
        got = stats.wilcoxon_signed_rank(d)
        if got.pairs == 0:
            assert got.p_value == 1.0
            continue
        seen.add(got.exact)
        want = wilcoxon(d, zero_method="wilcox", method="exact" if got.exact else "approx", correction=False)
        assert got.p_value == pytest.approx(want.pvalue, rel=1e-9) and got.statistic == want.statistic
    assert seen == {True, False}


def test_holm_and_the_fewest_pairs():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.5]) == [1.0, 1.0]
    assert stats.min_pairs(0.05) == 6 and stats.min_pairs(0.01) == 8  # 2/2^6 = 0.031, 2/2^8 = 0.0078


# -- the verdict on synthetic data ----------------------------------------------------------------------------------
def cohort(version, weight, rng, minutes, requests, rate, p50, p99, spread=3.0):
    """``minutes`` one-minute periods: binomial 5xx at ``rate``, percentiles around ``p50``/``p99``."""
    periods = {}
    for m in range(minutes):
        errors = sum(rng.random() < rate for _ in range(requests))
        periods[START + dt.timedelta(minutes=m)] = Figures(requests, errors, rng.gauss(p50, spread),
                                                           rng.gauss(p99, spread * 4))
    total = Figures(sum(f.requests for f in periods.values()), sum(f.errors_5xx for f in periods.values()),
                    p50, p99)
    return C.Cohort(version, Decimal(weight), figures=total, periods=periods)


def by_metric(verdicts):
    return {v.metric: v for v in verdicts}


def test_a_known_difference_is_found_and_says_which_way():
    rng = random.Random(1)
    a = cohort("p-41", 90, rng, 60, 200, 0.005, 100, 400)
    b = cohort("p-42", 10, rng, 60, 200, 0.03, 112, 400)  # 6 times the 5xx, 12 ms slower in the median
    v = by_metric(C.compare([a, b], "p-41", 0.05))
    assert v["5xx rate"].significant and v["5xx rate"].direction == "higher"
    assert v["5xx rate"].test == "Fisher's exact test" and v["5xx rate"].p_adjusted < 0.001
    assert v["p50"].significant and v["p50"].direction == "higher" and 8 < v["p50"].difference < 16
    assert v["p50"].test == "Wilcoxon signed-rank test" and v["p50"].n == "over 60 paired periods"
    assert not v["p99"].significant  # the tail did not move
    assert v["p50"].sentence().startswith("p50 112 ms against 100 ms: higher by ")
    assert ", significant (Wilcoxon signed-rank test over 60 paired periods, p < 0.0001" in v["p50"].sentence()


def test_no_difference_is_not_called_one_and_says_what_the_samples_could_detect():
    rng = random.Random(2)
    a = cohort("p-41", 90, rng, 60, 200, 0.01, 100, 400)
    b = cohort("p-42", 10, rng, 60, 200, 0.01, 100, 400)
    v = by_metric(C.compare([a, b], "p-41", 0.05))
    assert [v[m].significant for m in ("5xx rate", "p50", "p99")] == [False, False, False]
    assert "no significant difference (Fisher's exact test on 12,000 and 12,000 requests, p = " in v["5xx rate"].sentence()
    assert "these samples would detect a difference of about 0." in v["5xx rate"].sentence()


def test_under_no_difference_the_run_is_wrong_at_most_about_alpha_of_the_time():
    rng = random.Random(3)
    wrong = 0
    runs = 150
    for _ in range(runs):
        a = cohort("a", 50, rng, 12, 50, 0.02, 100, 400)
        b = cohort("b", 50, rng, 12, 50, 0.02, 100, 400)
        wrong += any(v.significant for v in C.compare([a, b], "a", 0.05))
    assert wrong / runs <= 0.08  # Holm keeps the family-wise error within 0.05 (sampling slack)


def test_too_few_periods_cannot_tell_and_says_how_many_are_needed():
    rng = random.Random(4)
    a = cohort("a", 90, rng, 5, 100, 0.0, 100, 400)
    b = cohort("b", 10, rng, 5, 100, 0.0, 150, 400)
    v = by_metric(C.compare([a, b], "a", 0.05))
    assert v["p50"].significant is None
    assert v["p50"].sentence().endswith("cannot tell: 5 period(s) with a p50 on both sides; at least 6 are needed for "
                                        "any result at alpha 0.05: widen --since")
    assert v["5xx rate"].sentence() == ("5xx rate 0.00% against 0.00%: no significant difference (Fisher's exact test "
                                        "on 500 and 500 requests, p = 1); neither answered a 5xx; rates below about "
                                        "0.6% cannot be told apart at these sample sizes")


def test_a_cohort_without_requests_cannot_be_judged():
    a = C.Cohort("a", Decimal(100), figures=Figures(1000, 1))
    b = C.Cohort("b", Decimal(0), ("testers",), figures=Figures())
    v = by_metric(C.compare([a, b], "a", 0.05))
    assert v["5xx rate"].significant is None
    assert v["5xx rate"].sentence() == "5xx rate: cannot tell: b served no requests in the window"


def test_every_cohort_is_judged_against_the_control_and_holm_adjusts_over_the_run():
    rng = random.Random(5)
    cohorts = [cohort(n, w, rng, 30, 100, 0.01, 100, 400) for n, w in (("a", 80), ("b", 10), ("c", 10))]
    verdicts = C.compare(cohorts, "a", 0.05)
    assert [(v.version, v.against, v.metric) for v in verdicts] == [
        ("b", "a", "5xx rate"), ("b", "a", "p50"), ("b", "a", "p99"),
        ("c", "a", "5xx rate"), ("c", "a", "p50"), ("c", "a", "p99")]
    raw = [v.p_value for v in verdicts]
    assert [v.p_adjusted for v in verdicts] == pytest.approx(stats.holm(raw))
    assert C.pick_control(cohorts, None) == "a" and C.pick_control(cohorts, "c") == "c"


# -- end to end: cohorts from the spec, figures from CloudWatch in moto --------------------------------------------
AB_SPEC = SPEC.replace("""      v1:
        contract: contracts/checkout-v1.json
""", """      v1:
        contract: contracts/checkout-v1.json
        cohorts:
          - {name: testers, priority: 1, header: x-cohort, value: b, version: banana}
        sticky: {cookie: shop-ab}
""")


@pytest.fixture
def ab_spec(tmp_path: Path, aws: str) -> Path:  # noqa: F811
    return write_spec(tmp_path, AB_SPEC)


def put_minutes(version: str, minutes: int, requests: int, errors_every: int, p50: float, p99: float) -> None:
    """One version's ``minutes`` of series, as the metric filters would publish them (one PutMetricData call per
    quarter hour, not one per minute: the same datapoints, fewer round trips)."""
    dims = [{"Name": M.DIM_SERVICE, "Value": "checkout"}, {"Name": M.DIM_VERSION, "Value": version}]
    data = []
    for m in range(minutes):
        at = START + dt.timedelta(minutes=m, seconds=30)
        errors = 1 if errors_every and m % errors_every == 0 else 0
        data += [{"MetricName": M.REQUESTS, "Dimensions": dims, "Timestamp": at, "Value": requests},
                 {"MetricName": M.ERRORS_5XX, "Dimensions": dims, "Timestamp": at, "Value": errors},
                 {"MetricName": M.LATENCY_MS, "Dimensions": dims, "Timestamp": at,
                  "Values": [p50 + (m % 3), p99 + (m % 5)], "Counts": [requests - requests // 50, requests // 50]}]
    for i in range(0, len(data), 45):
        cloudwatch().put_metric_data(Namespace=M.namespace("v1"), MetricData=data[i:i + 45])


def test_compare_gives_a_per_cohort_verdict_from_cloudwatch(ab_spec, monkeypatch, capsys):
    # GIVEN an hour of one-minute series: banana (the B cohort) answers 5xx in every 2nd minute and 20 ms slower
    monkeypatch.setattr(traffic_cmd, "clock", lambda: START + dt.timedelta(hours=1))
    put_minutes("apple", 60, 300, 20, 40.0, 300.0)
    put_minutes("banana", 60, 100, 2, 60.0, 300.0)
    # WHEN compared with no version named: every cohort of the major, the largest share the control
    code = main(["traffic", "compare", str(ab_spec), "checkout", "--major", "v1", "--since", "1h", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["control"] == "apple" and doc["window"]["period"] == 60
    assert doc["cohorts"]["banana"]["routes"] == ["testers", "sticky-banana"]
    assert doc["cohorts"]["apple"]["routes"] == ["sticky-apple"] and doc["cohorts"]["apple"]["periods"] == 60
    v = {x["metric"]: x for x in doc["verdicts"]}
    assert v["5xx rate"]["significant"] is True and v["5xx rate"]["direction"] == "higher"
    assert v["5xx rate"]["value"] == pytest.approx(30 / 6000) and v["5xx rate"]["controlValue"] == pytest.approx(3 / 18000)
    assert v["p50"]["significant"] is True and v["p50"]["difference"] == pytest.approx(20.0)
    assert v["p99"]["significant"] is False  # the tails are alike
    # AND the text says it in words
    code = main(["traffic", "compare", str(ab_spec), "checkout", "--major", "v1", "--since", "1h"])
    text = capsys.readouterr()[0].splitlines()
    assert "  apple (control): 90% of the other users, sticky-apple" in text
    assert "  banana: 10% of the other users, testers, sticky-banana" in text
    assert any(line.startswith("  banana against apple: p50 61 ms against 41 ms: higher by 20 ms in the median period, "
                               "significant (Wilcoxon signed-rank test over 60 paired periods, p < 0.0001")
               for line in text), text


def test_compare_without_a_difference_says_so(ab_spec, monkeypatch, capsys):
    monkeypatch.setattr(traffic_cmd, "clock", lambda: START + dt.timedelta(hours=1))
    put_minutes("apple", 30, 300, 10, 40.0, 300.0)
    put_minutes("banana", 30, 300, 10, 40.0, 300.0)
    code = main(["traffic", "compare", str(ab_spec), "checkout", "--major", "v1", "--format", "json"])
    doc = json.loads(capsys.readouterr()[0])
    assert code == 0 and [x["significant"] for x in doc["verdicts"]] == [False, False, False]


@pytest.mark.parametrize("args, message", [
    (["apple"], "compare needs two versions or more, or none (every cohort of the major)"),
    (["apple", "apple"], "compare two different versions"),
    (["--control", "cherry"], "the control 'cherry' is not among the versions compared (apple, banana)"),
    (["--alpha", "1.5"], "--alpha 1.5 is not a significance level"),
])
def test_compare_refusals(ab_spec, capsys, args, message):
    code = main(["traffic", "compare", str(ab_spec), "checkout", "--major", "v1", *args])
    assert code == 1 and message in capsys.readouterr()[1]


def test_compare_refuses_a_major_with_one_cohort(ab_spec, capsys):
    code = main(["traffic", "compare", str(ab_spec), "pricing"])
    assert code == 1 and "pricing/v1 has one cohort (p-41): nothing to compare" in capsys.readouterr()[1]


# -- the sticky cookie's reference middleware (docs/traffic.md) ------------------------------------------------------
def test_the_documented_middleware_sets_the_cohort_cookie_once(monkeypatch):
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "traffic.md").read_text()
    section = doc[doc.index("## Sticky cohorts: setting the cookie"):]
    code = section[section.index("```python") + len("```python"):section.index("```", section.index("```python") + 9)]
    monkeypatch.setenv("MESHSPEC_COHORT_COOKIE_V1", "shop-ab")
    monkeypatch.setenv("MESHSPEC_VERSION", "p-42")
    scope: dict = {}
    exec(compile(code, "docs/traffic.md", "exec"), scope)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def call(cookie: str | None) -> list[tuple[str, str]]:
        seen = []
        environ = {"HTTP_COOKIE": cookie} if cookie is not None else {}
        scope["sticky_cohort"](app)(environ, lambda status, headers, exc_info=None: seen.extend(headers))
        return [h for h in seen if h[0] == "Set-Cookie"]

    assert call(None) == [("Set-Cookie", "shop-ab=p-42; Path=/pricing/v1/; Max-Age=2592000; HttpOnly; Secure; "
                                         "SameSite=Lax")]
    assert call("a=1; xshop-ab=p-41") and call("a=1; shop-ab=p-41") == []  # a user drawn before keeps the cohort


def test_the_shops_ab_test_gets_a_verdict_per_cohort(aws, monkeypatch, capsys, tmp_path):  # noqa: F811
    """examples/shop.yaml's A/B test on pricing: p-41 (A, 90 %) and p-42 (B, 10 %), figures from CloudWatch in moto."""
    from tests.conftest import EXAMPLES

    monkeypatch.setattr(traffic_cmd, "clock", lambda: START + dt.timedelta(minutes=30))
    for version, requests, errors_every, p50 in (("p-41", 900, 0, 35.0), ("p-42", 100, 3, 35.0)):
        dims = [{"Name": M.DIM_SERVICE, "Value": "pricing"}, {"Name": M.DIM_VERSION, "Value": version}]
        data = []
        for m in range(30):
            at = START + dt.timedelta(minutes=m, seconds=10)
            data += [{"MetricName": M.REQUESTS, "Dimensions": dims, "Timestamp": at, "Value": requests},
                     {"MetricName": M.ERRORS_5XX, "Dimensions": dims, "Timestamp": at,
                      "Value": 2 if errors_every and m % errors_every == 0 else 0},
                     {"MetricName": M.LATENCY_MS, "Dimensions": dims, "Timestamp": at,
                      "Values": [p50 + m % 4, 200.0], "Counts": [requests - 10, 10]}]
        for i in range(0, len(data), 45):
            cloudwatch().put_metric_data(Namespace=M.namespace("v1"), MetricData=data[i:i + 45])
    code = main(["traffic", "compare", str(EXAMPLES / "shop.yaml"), "pricing", "--since", "30m", "--state-dir",
                 str(tmp_path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["control"] == "p-41"
    assert doc["cohorts"]["p-42"]["routes"] == ["testers-b", "sticky-p-42"]
    assert doc["cohorts"]["p-41"]["routes"] == ["testers-a", "sticky-p-41"]
    v = {x["metric"]: x for x in doc["verdicts"]}
    # B answered 20 5xx in 3,000 requests, A none in 27,000: significant; the latencies are the same
    assert v["5xx rate"]["significant"] is True and v["5xx rate"]["direction"] == "higher"
    assert v["p50"]["significant"] is False and v["p99"]["significant"] is False


def test_a_share_says_what_it_divides(shop_spec):
    # pricing on AWS: cohort routes first, then a sticky 90/10 of the users they leave
    assert C.share_of(shop_spec.services["pricing"], "v1") == "of the other users"
    # catalog on AWS, no cohort and no cookie: requests
    assert C.share_of(shop_spec.services["catalog"], "v1") == "of requests"
    # user-service on App Engine: what its split divides (cookie by default: users; ip: client addresses)
    svc = shop_spec.services["user-service"]
    assert C.share_of(svc, "v2") == "of users"
    by_ip = svc.model_copy(update={"appengine": svc.appengine.model_copy(update={"split_by": "ip"})})
    assert C.share_of(by_ip, "v2") == "of client addresses"
    assert [c.describe() for c in C.cohorts_of(svc, "v2")] == ["90% of users", "10% of users"]
