"""Sequential monitoring at the design's decision points, on protocols built in memory with known truth: where the
looks fall, the information each has, the boundaries at those fractions, what the former Welch monitoring got
wrong on an autocorrelated null series, and the honest label of a complete series."""

import dataclasses

import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.stats import norm

from americano_pipeline.analysis.methods import analyse_sequential
from americano_pipeline.analysis.monitoring import information, working_phi
from americano_pipeline.analysis.protocol import ProtocolData
from americano_pipeline.stats.sequential import sequential_boundaries
from tests.unit.analysis.test_inputs import protocol_data

METRIC = "engagement_score"
PLAN = {"spending_function": "obrien_fleming", "alpha": 0.05}


def protocol(sequence: str, lengths: list[int], values, *, complete: bool = True, min_phase_length: int = 5,
             **changes) -> ProtocolData:
    """``protocol_data`` with the minimum phase length, registered two-sided unless ``changes`` say otherwise, and
    an end date on its last day when ``complete``."""
    changes.setdefault("alternative", "two-sided")
    data = protocol_data(sequence, lengths, values)
    end = data.days.index[-1].date() if complete else None
    return dataclasses.replace(data, protocol=dataclasses.replace(
        data.protocol, end_date=end, min_phase_length=min_phase_length, **changes))


def sequential(data: ProtocolData, **kwargs):
    return analyse_sequential(data, METRIC, **{**PLAN, **kwargs})


def ar1(n: int, phi: float, seed: int) -> np.ndarray:
    shocks = np.random.default_rng(seed).standard_normal(n)
    shocks[0] /= np.sqrt(1 - phi**2)
    return lfilter([np.sqrt(1 - phi**2)], [1.0, -phi], shocks)


def alternating(lengths: list[int]) -> np.ndarray:
    """+1/-1 day by day: every condition mean is ~0 and the lag-1 autocorrelation negative, so the working phi is 0."""
    return np.resize([1.0, -1.0], sum(lengths))


def test_looks_are_the_phase_ends_from_the_second_phase_on():
    lengths = [6, 7, 8, 9]
    result = sequential(protocol("ABAB", lengths, alternating(lengths))).result
    looks = result["position"]["looks"]

    assert [look["n"] for look in looks] == [13, 21, 30]
    assert [look["label"] for look in looks] == ["end of intervention_1", "end of baseline_2", "end of intervention_2"]
    assert [look["day"] for look in looks] == ["2026-03-14", "2026-03-22", "2026-03-31"]
    assert result["position"]["skippedLooks"] == [] and result["looksFrom"] == "phase ends"


def test_a_washout_is_no_look_and_an_unfinished_phase_is_the_next_look():
    lengths = [6, 6, 3, 6, 4]
    data = protocol("ABWAB", lengths, alternating(lengths), complete=False, sample_size_target=30)
    position = sequential(data).result["position"]

    assert [(look["label"], look["n"]) for look in position["looks"]] == [("end of intervention_1", 12),
                                                                         ("end of baseline_2", 18)]
    assert position["nextLook"] == "end of intervention_2"
    assert position["nObserved"] == 22 and position["nAtCurrentLook"] == 18


def test_information_fractions_are_variance_ratios_against_the_planned_final_analysis():
    """phi = 0 (alternating values): Var(B - A) is sigma^2 (1/nA + 1/nB), and t_k its ratio to the final one."""
    lengths = [6, 6, 6, 6]
    result = sequential(protocol("ABAB", lengths, alternating(lengths))).result
    looks = result["position"]["looks"]

    assert [look["phi"] for look in looks] == [0.0, 0.0, 0.0]
    variance = [1 / 6 + 1 / 6, 1 / 12 + 1 / 6, 1 / 12 + 1 / 12]
    np.testing.assert_allclose([look["informationFraction"] for look in looks],
                               [variance[-1] / v for v in variance], rtol=1e-12)
    # Not the former n / maxN (12/24, 18/24): the second look adds only A days, so little information.
    assert looks[1]["informationFraction"] == pytest.approx(2 / 3)


def test_an_ongoing_protocol_projects_its_final_information_from_the_registered_phases():
    """After the first AB (6 + 6 days) of an ABAB with target 24, the plan adds 6 A and 6 B days: t = 1/2."""
    lengths = [6, 6, 6, 6]
    full = protocol("ABAB", lengths, alternating(lengths))
    live = dataclasses.replace(full, days=full.days.iloc[:14],
                               protocol=dataclasses.replace(full.protocol, end_date=None))
    position = sequential(live).result["position"]

    assert position["looks"][0]["informationFraction"] == pytest.approx(0.5)
    assert sequential(full).result["position"]["looks"][0]["informationFraction"] == pytest.approx(0.5)


def test_information_is_the_inverse_variance_under_ar1_correlation_by_calendar_day():
    is_b = np.array([False] * 4 + [True] * 3 + [False] * 2)
    days = np.array([0, 1, 2, 4, 5, 6, 7, 10, 11])  # days 3, 8, 9 unobserved (missing, washout)
    phi = 0.6
    weights = np.where(is_b, 1 / is_b.sum(), -1 / (~is_b).sum())
    correlation = phi ** np.abs(days[:, None] - days[None, :])

    assert information(is_b, days, phi) == pytest.approx(1 / (weights @ correlation @ weights), rel=1e-12)
    assert information(is_b, days, 0.0) == pytest.approx(1 / (1 / 3 + 1 / 6), rel=1e-12)


def test_working_phi_recovers_the_autocorrelation_of_a_long_series():
    values, is_b = ar1(4000, 0.5, seed=3), np.repeat([False, True], 2000)

    assert working_phi(values, is_b, np.arange(4000)) == pytest.approx(0.5, abs=0.05)
    assert working_phi(-np.resize([1.0, -1.0], 40), np.repeat([False, True], 20), np.arange(40)) == 0.0


def test_boundaries_are_sequential_boundaries_at_the_measured_fractions():
    lengths = [9, 6, 11, 8]
    result = sequential(protocol("ABAB", lengths, ar1(34, 0.3, seed=5))).result
    looks = result["position"]["looks"]
    fractions = [look["informationFraction"] for look in looks]
    expected = sequential_boundaries(alpha=0.05, spending_function="obrien_fleming", max_n=34, n_interim_analyses=3,
                                     sides=2, information_fractions=fractions)

    assert fractions[-1] == 1.0 and fractions != [15 / 34, 26 / 34, 1.0]
    for bound, look, reference in zip(result["boundaries"], looks, expected.boundaries):
        assert bound["n"] == look["n"] and bound["informationFraction"] == reference.information_fraction
        assert bound["criticalValue"] == look["criticalValue"] == reference.critical_value
        assert (bound["alphaSpent"], bound["nominalP"]) == (reference.alpha_spent, reference.nominal_p)
    assert result["boundaries"][-1]["alphaSpent"] == pytest.approx(0.05, abs=1e-15)


def welch_crossing_look(values: np.ndarray, labels: np.ndarray, target: int) -> int | None:
    """The former monitoring: Welch z on the first n_k days, 4 looks equally spaced by n, t = n/maxN."""
    plan = sequential_boundaries(max_n=target, n_interim_analyses=4)
    for look, bound in enumerate(plan.boundaries, start=1):
        a, b = values[: bound.n][labels[: bound.n] == "A"], values[: bound.n][labels[: bound.n] == "B"]
        if min(a.size, b.size) >= 2:
            z = (b.mean() - a.mean()) / np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
            if abs(z) >= bound.critical_value:
                return look
    return None


def test_a_null_ar1_series_crossed_by_the_welch_monitoring_is_not_crossed_now():
    """No effect, phi = 0.6: the Welch z (days as independent) crosses at look 2, the randomization test nowhere."""
    lengths = [8, 9, 10, 13]
    data = protocol("ABAB", lengths, ar1(40, 0.6, seed=14))
    labels = np.asarray(data.days["condition"])

    assert welch_crossing_look(data.days[METRIC].to_numpy(), labels, 40) == 2
    position = sequential(data).result["position"]
    assert position["firstCrossingLook"] is None and not any(look["crossed"] for look in position["looks"])


def effect_series(lengths: list[int]) -> np.ndarray:
    """A step of 10 noise SDs on the B days: the true placement is the most extreme at every look."""
    labels = np.repeat(list("ABAB"[: len(lengths)]), lengths)
    return 0.1 * ar1(sum(lengths), 0.2, seed=7) + (labels == "B")


LENGTHS = [10, 10, 10, 10]  # look 1 (AB) has 11 placements, p >= 1/11; look 2 (ABA) 136: p = 1/136 crosses


def test_a_complete_series_is_labelled_a_retrospective_check_not_a_stopping_decision():
    analysis = sequential(protocol("ABAB", LENGTHS, effect_series(LENGTHS)))
    position = analysis.result["position"]

    assert analysis.result["mode"] == "retrospective" and analysis.params["mode"] == "retrospective"
    assert position["firstCrossingLook"] == 2 and position["firstCrossingLabel"] == "end of baseline_2"
    assert analysis.summary.startswith("Retrospective check of the monitoring plan (series complete, not a "
                                       "stopping decision)")
    assert "the plan would have stopped at look 2 (end of baseline_2)" in analysis.summary
    assert analysis.metrics["retrospective"] == 1.0 and analysis.metrics["first_crossing_look"] == 2.0


def test_an_ongoing_protocol_shows_what_the_live_monitoring_showed_and_says_stop_when_crossed():
    full = protocol("ABAB", LENGTHS, effect_series(LENGTHS))
    live = dataclasses.replace(full, days=full.days.iloc[:33],
                               protocol=dataclasses.replace(full.protocol, end_date=None))
    now, later = sequential(live), sequential(full)

    assert now.result["mode"] == "monitoring" and now.summary.startswith("Monitoring, n = 33 of 40")
    assert "**boundary crossed at look 2 (end of baseline_2): the plan says stop**" in now.summary
    assert now.result["position"]["looks"] == later.result["position"]["looks"][:2]
    assert now.result["boundaries"][:2] == later.result["boundaries"][:2]
    projected = now.result["boundaries"][-1]
    assert (projected["n"], projected["informationFraction"], projected["projected"]) == (40, 1.0, True)


def test_before_the_first_look_nothing_is_tested():
    full = protocol("ABAB", LENGTHS, effect_series(LENGTHS))
    early = dataclasses.replace(full, days=full.days.iloc[:15],
                                protocol=dataclasses.replace(full.protocol, end_date=None))
    analysis = sequential(early)

    position = analysis.result["position"]
    assert (position["currentLook"], position["z"], position["looks"]) == (None, None, [])
    assert analysis.summary == "Monitoring, n = 15 of 40: before the first look (end of intervention_1)"
    assert [b["projected"] for b in analysis.result["boundaries"]] == [True]


def test_registered_looks_replace_the_phase_ends_and_the_series_end_is_the_final_look():
    data = protocol("ABAB", LENGTHS, effect_series(LENGTHS))
    position = sequential(data, looks=[12, 26, "2026-04-06"]).result["position"]

    assert [(look["label"], look["n"]) for look in position["looks"]] == [
        ("registered look 2026-03-27", 26), ("registered look 2026-04-06", 36), ("end of the series", 40)]
    assert [skip["label"] for skip in position["skippedLooks"]] == ["registered look 2026-03-13"]
    assert "phase 2 ('B', positions 10-11, 2 points) is shorter than min_phase_length=5" in \
        position["skippedLooks"][0]["reason"]


def test_a_look_past_the_planned_information_spends_the_rest_and_later_looks_are_beyond_the_plan():
    lengths = [6, 6, 6, 6]
    data = protocol("ABAB", lengths, alternating(lengths), sample_size_target=12)
    result = sequential(data).result

    assert [look["informationFraction"] for look in result["position"]["looks"]] == [1.0]
    assert result["boundaries"][0]["alphaSpent"] == pytest.approx(0.05, abs=1e-15)
    assert [skip["reason"] for skip in result["position"]["skippedLooks"]] == [
        "beyond the plan: look 1 already had the planned information"] * 2


def test_one_sided_z_is_floored_at_minus_the_largest_attainable_z():
    """B below A on every placement: one-sided p = 1; z is -Phi^-1(1 - 1/1771), not -infinity (1771 placements)."""
    labels = np.repeat(list("ABAB"), LENGTHS)
    data = protocol("ABAB", LENGTHS, -1.0 * (labels == "B"), alternative="greater")
    final = sequential(data).result["position"]["looks"][-1]

    assert (final["pValue"], final["nAssignments"], final["crossed"]) == (1.0, 1771, False)
    assert final["z"] == pytest.approx(-norm.isf(1 / 1771), rel=1e-12)
