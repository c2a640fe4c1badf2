"""Demo phase schedules are drawn uniformly from exactly the admissible set a randomization test enumerates."""

from collections import Counter
from datetime import date
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
        lengths = [p.days for p in planned.phases]
        assert sum(lengths) == planned.design.total_days
        assert min(lengths) >= planned.design.min_phase_length
        assert [p.condition for p in planned.phases] == ["A", "B"] * (len(lengths) // 2)
    assert (schedules[-1].end - date(2026, 1, 1)).days + 1 <= REQUIRED_DAYS


def test_cuids_have_the_prisma_shape_and_are_deterministic():
    ids = cuids(np.random.default_rng(1), 1000)
    assert all(len(i) == 25 and i[0] == "c" and i.isalnum() and i == i.lower() for i in ids)
    assert len(set(ids)) == 1000
    assert list(ids[:5]) == list(cuids(np.random.default_rng(1), 5))


def test_seed_config_rejects_bad_values():
    with pytest.raises(ValueError, match="--users must be at least 1"):
        SeedConfig(users=0)
    with pytest.raises(ValueError, match=f"--days must be at least {REQUIRED_DAYS}"):
        SeedConfig(days=REQUIRED_DAYS - 1)
