"""Demo phase schedules are drawn uniformly from exactly the admissible set a randomization test enumerates, and
the study's size and calendar are refused outside their bounds, naming the field and value."""

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from itertools import product
from math import comb

import numpy as np
import pytest
from scipy import stats

from americano_pipeline.demo.protocols import DESIGNS, REQUIRED_DAYS, draw_phase_lengths, study_schedules
from americano_pipeline.demo.synthetic import SeedConfig, cuids


def _admissible(total, k, minimum):
    return [c for c in product(range(minimum, total + 1), repeat=k) if sum(c) == total]


def test_draws_are_uniform_over_all_admissible_schedules():
    total, k, minimum = 16, 3, 3
    admissible = _admissible(total, k, minimum)
    assert len(admissible) == comb(total - k * minimum + k - 1, k - 1) == 36
    rng = np.random.default_rng(0)
    draws = Counter(tuple(draw_phase_lengths(total, k, minimum, rng)) for _ in range(36_000))
    assert set(draws) == set(admissible)
    assert stats.chisquare(list(draws.values())).pvalue > 0.01


def test_impossible_schedule_is_refused():
    with pytest.raises(ValueError, match="4 phases of at least 5 days do not fit in 19 days"):
        draw_phase_lengths(19, 4, 5, np.random.default_rng(0))


def test_study_schedules_follow_the_designs():
    schedules = study_schedules(date(2026, 1, 1), np.random.default_rng(3))
    assert [s.design.key for s in schedules] == [d.key for d in DESIGNS]
    for planned in schedules:
        design, phases = planned.design, planned.primary_phases
        lengths = [p.days for p in phases]
        assert sum(lengths) == (planned.end - planned.start).days + 1 == design.total_days
        assert min(lengths) >= design.min_phase_length
        conditions = [p.condition for p in phases]
        if design.design_type == "ALTERNATING":  # one phase per run of days with the same condition
            assert all(a != b for a, b in zip(conditions, conditions[1:]))
        if design.design_type == "ABAB":
            assert conditions == ["A", "B"] * (len(lengths) // 2)
        if design.design_type == "CHANGING_CRITERION":
            assert [p.params.get("criterion") for p in phases] == [None, *design.criteria]
    assert (schedules[-1].end - date(2026, 1, 1)).days + 1 <= REQUIRED_DAYS


def test_alternating_days_respect_the_run_limit_and_balance():
    planned = next(s for s in study_schedules(date(2026, 1, 1), np.random.default_rng(5))
                   if s.design.design_type == "ALTERNATING")
    days = "".join(p.condition * p.days for p in planned.phases)
    assert days.count("A") == days.count("B") == planned.design.total_days // 2
    assert "AAA" not in days and "BBB" not in days


def test_multiple_baseline_tiers_start_staggered_inside_their_windows():
    planned = next(s for s in study_schedules(date(2026, 1, 1), np.random.default_rng(5))
                   if s.design.design_type == "MULTIPLE_BASELINE")
    design = planned.design
    starts = sorted(p.start for p in planned.phases if p.condition == "B")
    offsets = [(start - planned.start).days for start in starts]
    assert all(low <= offset <= high for offset, (low, high) in zip(offsets, design.start_windows))
    assert {p.tier for p in planned.phases} == set(design.tiers)
    for phase in planned.phases:
        assert phase.params["tier"] == phase.tier.name and phase.params["outcome"] == phase.tier.outcome
        assert ("startWindow" in phase.params) == (phase.condition == "B")
    effects = planned.effects(planned.end)
    assert effects == {t.outcome: t.true_effect for t in design.tiers}
    assert planned.effects(planned.start) == {}


def test_cuids_have_the_prisma_shape_and_are_deterministic():
    ids = cuids(np.random.default_rng(1), 1000)
    assert all(len(i) == 25 and i[0] == "c" and i.isalnum() and i == i.lower() for i in ids)
    assert len(set(ids)) == 1000
    assert list(ids[:5]) == list(cuids(np.random.default_rng(1), 5))


def yesterday() -> date:
    """Read when a test runs, not when it is collected, so a run that crosses midnight UTC still agrees."""
    return datetime.now(timezone.utc).date() - timedelta(days=1)


@pytest.mark.parametrize("field, value, message", [
    ("users", 0, "SeedConfig.users must be an integer from 1 to 1000, got 0"),
    ("users", 1.5, "SeedConfig.users must be an integer from 1 to 1000, got 1.5"),
    ("days", REQUIRED_DAYS - 1,
     f"SeedConfig.days must be an integer from {REQUIRED_DAYS} to 3650, got {REQUIRED_DAYS - 1}"),
    ("days", 99_999_999, f"SeedConfig.days must be an integer from {REQUIRED_DAYS} to 3650, got 99999999"),
    ("events_per_day", 10**20, f"SeedConfig.events_per_day must be an integer from 8 to 1000, got {10**20}"),
    ("seed", -1, "SeedConfig.seed must be a non-negative integer, got -1"),
    ("end_date", date(1, 1, 1), "SeedConfig.end_date must be a date from 2000-01-01 to {yesterday} (yesterday, UTC: "
                                "later events would be in the future), got 0001-01-01"),
    ("end_date", date(9999, 12, 31), "SeedConfig.end_date must be a date from 2000-01-01 to {yesterday} (yesterday, "
                                     "UTC: later events would be in the future), got 9999-12-31"),
])
def test_seed_config_names_the_field_and_value_out_of_bounds(field, value, message):
    with pytest.raises(ValueError) as refused:
        SeedConfig(**{field: value})
    assert str(refused.value) == message.format(yesterday=yesterday())


def test_seed_config_accepts_its_bounds():
    config = SeedConfig(users=1000, days=3650, events_per_day=8, end_date=date(2000, 1, 1))
    assert config.first_day == date(1990, 1, 4)
    assert SeedConfig(days=REQUIRED_DAYS, events_per_day=1000).end_date == yesterday()
