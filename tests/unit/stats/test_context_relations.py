"""Context-outcome relations on series with planted truth: the demo's sleep -> performance relation is found, an
independent autocorrelated context and a weekday-confounded pair are not, Benjamini-Hochberg and the Granger test
equal statsmodels', missing days and short pairs are handled, bad input is named."""

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.tsa.stattools import grangercausalitytests

from americano_pipeline.demo.synthetic import ar1
from americano_pipeline.stats.context_relations import (
    ANALYSED,
    INSUFFICIENT,
    benjamini_hochberg,
    context_relations,
)

N = 270
DAYS = pd.date_range("2025-03-03", periods=N, freq="D")  # a Monday
WEEKDAY = DAYS.dayofweek.to_numpy()


def demo_user(seed: int):
    """The demo's generative model (``demo.synthetic`` docstring): sleep with a Fri/Sat dip, performance = 3 x
    sleep + AR(1) noise; plus an independent AR(1) (phi 0.6) context and a weekend-driven context/outcome pair."""
    rng = np.random.default_rng(seed)
    sleep = 7.2 + ar1(rng, N, 0.4, 0.9) - 0.4 * np.isin(WEEKDAY, (4, 5))
    weekend = (WEEKDAY >= 5).astype(float)
    context = pd.DataFrame({"sleep_hours": sleep, "independent": ar1(rng, N, 0.6, 1.0),
                            "weekend_steps": 3.0 * weekend + ar1(rng, N, 0.3, 1.0)}, index=DAYS)
    outcomes = pd.DataFrame({"mean_performance": 72 + 3 * (sleep - 7.2) + ar1(rng, N, 0.3, 4.0),
                             "weekend_minutes": 45 - 6 * weekend + ar1(rng, N, 0.3, 3.0)}, index=DAYS)
    return context, outcomes


@pytest.fixture(scope="module")
def demo():
    context, outcomes = demo_user(17)
    return context, outcomes, context_relations(context, outcomes, same_day=["sleep_hours"])


def test_the_planted_sleep_to_performance_relation_is_found_at_lag_zero(demo):
    *_, result = demo
    pair = result.pair("sleep_hours", "mean_performance")
    assert pair.status == ANALYSED and pair.days == N
    assert pair.significant and pair.granger.q_value < 1e-6
    assert pair.granger.context_lags == (0, 1)
    assert pair.granger.coefficients[0] == pytest.approx(3.0, abs=0.8)  # outcome points per hour of sleep
    assert abs(pair.granger.coefficients[1]) < 1.0
    assert pair.significant_lags == (0,)
    assert pair.ccf[0].r > 0.35 and pair.ccf[0].n == N - pair.prewhitening_order


def test_an_independent_autocorrelated_context_is_not_found(demo):
    *_, result = demo
    for outcome in ("mean_performance", "weekend_minutes"):
        pair = result.pair("independent", outcome)
        assert not pair.significant and pair.significant_lags == ()
        assert pair.granger.context_lags == (1, 2)  # not measured before the day's outcome: lag 0 inadmissible
    assert result.pair("independent", "mean_performance").prewhitening_order >= 1  # its AR(1) was whitened


def test_a_weekday_confounded_pair_is_found_without_weekday_terms_and_not_with_them(demo):
    context, outcomes, result = demo
    pair = result.pair("weekend_steps", "weekend_minutes")
    assert not pair.significant and pair.granger.p_value > 0.05 and pair.significant_lags == ()
    # Short own-lag and filter orders (AIC may otherwise take lag 7 and absorb the week): the contrast is the
    # weekday terms alone.
    short = dict(same_day=["sleep_hours"], max_order=1)
    naive = context_relations(context, outcomes, weekdays=False, **short).pair("weekend_steps", "weekend_minutes")
    assert naive.granger.p_value < 1e-3 and naive.significant_lags[:1] == (0,) and naive.ccf[0].r < -0.4
    adjusted = context_relations(context, outcomes, **short).pair("weekend_steps", "weekend_minutes")
    assert adjusted.granger.p_value > 0.05 and adjusted.significant_lags == ()


def test_the_family_q_values_are_benjamini_hochberg_of_the_pairs_and_of_the_lags(demo):
    *_, result = demo
    analysed = result.analysed
    granger = [p.granger.p_value for p in analysed]
    assert [p.granger.q_value for p in analysed] == pytest.approx(list(multipletests(granger, method="fdr_bh")[1]))
    lags = [c.p_value for p in analysed for c in p.ccf]
    assert len(lags) == len(analysed) * (result.max_lag + 1)
    assert [c.q_value for p in analysed for c in p.ccf] == pytest.approx(list(multipletests(lags,
                                                                                           method="fdr_bh")[1]))
    document = result.to_dict()
    json.dumps(document, allow_nan=False)
    assert document["families"]["granger"]["tests"] == 6 and document["families"]["ccf"]["tests"] == 48
    assert [(p["context"], p["outcome"]) for p in document["significantPairs"]] == [("sleep_hours",
                                                                                     "mean_performance")]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_benjamini_hochberg_equals_statsmodels(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=5), [0.02, 0.02, 1.0]])
    assert benjamini_hochberg(p) == pytest.approx(multipletests(p, method="fdr_bh")[1])
    assert benjamini_hochberg([]).size == 0


def test_the_granger_test_equals_statsmodels_once_the_night_is_dated_by_its_evening():
    rng = np.random.default_rng(5)
    n = 200
    night = rng.normal(size=n)  # dated by the morning it ends: it precedes the same day's outcome
    outcome = 0.4 * night + ar1(rng, n, 0.5, 1.0)
    days = pd.date_range("2025-01-01", periods=n)
    observed = outcome.copy()
    observed[-1] = np.nan  # the evening-dated series has no night after the last evening: the same days on both
    result = context_relations(pd.DataFrame({"night": night}, index=days),
                               pd.DataFrame({"outcome": observed}, index=days), same_day=["night"],
                               outcome_lags=2, granger_lags=2, weekdays=False, trend=False)
    granger = result.pair("night", "outcome").granger
    evening_dated = night[1:]  # the night starting on the evening of day d, dated d
    f, p, df_denom, df_num = grangercausalitytests(np.column_stack([outcome[:-1], evening_dated]), [2])[2][0][
        "ssr_ftest"]
    assert (granger.f_statistic, granger.p_value) == pytest.approx((f, p))
    assert (granger.df_num, granger.df_denom, granger.outcome_lags) == (df_num, df_denom, 2)


def test_missing_days_are_left_out_not_filled(demo):
    context, outcomes, _ = demo
    gappy = context.copy()
    gappy.iloc[100:110, 0] = np.nan  # ten nights not recorded
    result = context_relations(gappy, outcomes.drop(index=outcomes.index[200:203]), same_day=["sleep_hours"])
    pair = result.pair("sleep_hours", "mean_performance")
    assert pair.days == N - 13 and pair.significant
    order = pair.prewhitening_order
    # a day's filtered value needs the day and its `order` previous days: each gap costs its days plus `order`
    assert pair.ccf[0].n == N - order - (10 + order) - (3 + order)
    assert pair.granger.n < pair.days


def test_a_pair_with_too_few_days_says_why_and_stays_out_of_the_family(demo):
    context, outcomes, _ = demo
    sparse = context.assign(rare=np.where(np.arange(N) % 9 == 0, context["sleep_hours"], np.nan),
                            never=np.nan)
    result = context_relations(sparse, outcomes, same_day=["sleep_hours"])
    rare = result.pair("rare", "mean_performance")
    assert rare.status == INSUFFICIENT and rare.granger is None and rare.ccf == ()
    assert rare.reason == "only 30 days record both rare and mean_performance; at least 42 are needed"
    assert result.pair("never", "weekend_minutes").reason == "never is never recorded"
    assert result.to_dict()["families"]["granger"]["tests"] == 6
    constant = context_relations(context.assign(flat=1.0), outcomes)
    assert constant.pair("flat", "mean_performance").reason == ("flat does not vary once the nuisance terms are "
                                                                "removed")


def test_a_protocol_phase_that_moves_both_series_is_a_nuisance_term_not_a_relation():
    rng = np.random.default_rng(3)
    phase = np.zeros(N)
    phase[60:116] = rng.random(56) < 0.5  # an alternating-treatments protocol raising HRV and engagement on B days
    context = pd.DataFrame({"hrv_score": 55 + 8 * phase + ar1(rng, N, 0.4, 4.0)}, index=DAYS)
    outcomes = pd.DataFrame({"engagement_score": 65 + 10 * phase + ar1(rng, N, 0.3, 4.0)}, index=DAYS)
    naive = context_relations(context, outcomes, same_day=["hrv_score"]).pair("hrv_score", "engagement_score")
    assert naive.granger.p_value < 1e-3 and naive.significant_lags == (0,)
    nuisance = pd.DataFrame({"protocol:B": phase}, index=DAYS)
    adjusted = context_relations(context, outcomes, nuisance=nuisance, same_day=["hrv_score"]).pair(
        "hrv_score", "engagement_score")
    assert adjusted.granger.p_value > 0.01 and adjusted.significant_lags == ()


@pytest.mark.parametrize(("change", "message"), [
    (lambda c, o: (c.reset_index(drop=True), o),
     "context must be indexed by dates (a DatetimeIndex), got an index of dtype int64"),
    (lambda c, o: (c.assign(sleep_hours="long"), o), "context column 'sleep_hours' must be numeric, got dtype object"),
    (lambda c, o: (c, o.assign(sleep_hours=1.0)), "column 'sleep_hours' is both a context and an outcome column"),
    (lambda c, o: (pd.concat([c, c.iloc[:1]]), o), "context has 2025-03-03 more than once"),
    (lambda c, o: (c.set_axis(c.index + pd.Timedelta(hours=7)), o), "2025-03-03T07:00:00 is not a date"),
    (lambda c, o: (c.assign(independent=np.inf), o), "context column 'independent' is infinite on 2025-03-03"),
])
def test_bad_input_is_named(demo, change, message):
    context, outcomes, _ = demo
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        context_relations(*change(context, outcomes))


def test_bad_settings_and_nuisance_are_named(demo):
    context, outcomes, _ = demo
    with pytest.raises(ValueError, match="same_day names 'sleep', which is not a context column"):
        context_relations(context, outcomes, same_day=["sleep"])
    with pytest.raises(ValueError, match="max_lag must be a whole number >= 0, got -1"):
        context_relations(context, outcomes, max_lag=-1)
    with pytest.raises(ValueError, match="alpha must be a number between 0 and 1, got 5"):
        context_relations(context, outcomes, alpha=5)
    with pytest.raises(ValueError, match="nuisance column 'phase' has no value on 2025-03-04"):
        context_relations(context, outcomes, nuisance=pd.DataFrame({"phase": 0.0}, index=DAYS[:1]))
