"""Lan-DeMets boundaries against gsDesign's published values, and their crossing probabilities under H0 checked
independently (Genz's multivariate-normal integration and a seeded Monte Carlo)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from americano_pipeline.stats import sequential
from americano_pipeline.stats.sequential import sequential_boundaries

# gsDesign reference (help pages of sfLDOF / sfLDPocock): K = 6 equally spaced looks, two-sided alpha = 0.05.
GSDESIGN_LD_OF = [5.366558, 3.710340, 2.969736, 2.538677, 2.252190, 2.044790]
GSDESIGN_LD_POCOCK = [2.495115, 2.476907, 2.454964, 2.437262, 2.423276, 2.412059]


def _critical(result) -> np.ndarray:
    return np.array([b.critical_value for b in result.boundaries])


def _fractions(result) -> np.ndarray:
    return np.array([b.information_fraction for b in result.boundaries])


def _covariance(fractions: np.ndarray) -> np.ndarray:
    """corr(Z_i, Z_j) = sqrt(t_i / t_j) for i <= j: the canonical joint distribution of group-sequential z's."""
    return np.sqrt(np.minimum.outer(fractions, fractions) / np.maximum.outer(fractions, fractions))


@pytest.mark.parametrize("grid_r", [18, 50], ids=["gsdesign-grid", "default-grid"])
@pytest.mark.parametrize(
    "spending_function, reference", [("obrien_fleming", GSDESIGN_LD_OF), ("pocock", GSDESIGN_LD_POCOCK)]
)
def test_matches_gsdesign_reference_boundaries(spending_function, reference, grid_r):
    result = sequential_boundaries(
        spending_function=spending_function, max_n=120, n_interim_analyses=6, grid_r=grid_r
    )

    np.testing.assert_allclose(_critical(result), reference, atol=1e-5, rtol=0)
    assert [b.n for b in result.boundaries] == [20, 40, 60, 80, 100, 120]


def test_single_look_is_the_fixed_sample_test():
    two_sided = sequential_boundaries(max_n=50, n_interim_analyses=1)
    one_sided = sequential_boundaries(max_n=50, n_interim_analyses=1, sides=1, spending_function="pocock")

    assert two_sided.boundaries[0].critical_value == pytest.approx(1.959964, abs=1e-6)
    assert one_sided.boundaries[0].critical_value == pytest.approx(1.644854, abs=1e-6)
    assert two_sided.boundaries[0].nominal_p == pytest.approx(0.05, abs=1e-12)


@pytest.mark.parametrize("spending_function", ["obrien_fleming", "pocock"])
@pytest.mark.parametrize("sides", [1, 2])
def test_crossing_probability_by_each_look_equals_alpha_spent(spending_function, sides):
    """Genz-Bretz integration of the joint normal, independent of the grid recursion."""
    result = sequential_boundaries(
        spending_function=spending_function,
        max_n=100,
        n_interim_analyses=4,
        sides=sides,
        information_fractions=[0.2, 0.45, 0.7, 1.0],
    )
    fractions, critical = _fractions(result), _critical(result)

    for k in range(1, 5):
        lower = -critical[:k] if sides == 2 else np.full(k, -np.inf)
        distribution = multivariate_normal(np.zeros(k), _covariance(fractions[:k]), maxpts=2_000_000, abseps=1e-8)
        continuing = distribution.cdf(critical[:k], lower_limit=lower, rng=np.random.default_rng(k))
        assert 1.0 - continuing == pytest.approx(result.boundaries[k - 1].alpha_spent, abs=2e-6)


def test_monte_carlo_crossing_rates_match_alpha_spent():
    result = sequential_boundaries(spending_function="pocock", max_n=100, n_interim_analyses=5)
    fractions, critical = _fractions(result), _critical(result)
    paths = 400_000
    increments = np.random.default_rng(20240501).normal(size=(paths, 5)) * np.sqrt(np.diff(fractions, prepend=0.0))
    z = np.cumsum(increments, axis=1) / np.sqrt(fractions)

    crossed_by = np.maximum.accumulate(np.abs(z) >= critical, axis=1).mean(axis=0)

    spent = np.array([b.alpha_spent for b in result.boundaries])
    standard_error = np.sqrt(spent * (1.0 - spent) / paths)
    assert np.all(np.abs(crossed_by - spent) <= 4.0 * standard_error)


@pytest.mark.parametrize("spending_function", ["obrien_fleming", "pocock"])
def test_two_sided_is_symmetric_with_half_the_spend_per_side(spending_function):
    """Upper bound at alpha/2 one-sided equals the two-sided bound; the upper-side crossing is half the spend."""
    two = sequential_boundaries(spending_function=spending_function, max_n=90, n_interim_analyses=3)
    one = sequential_boundaries(
        spending_function=spending_function, max_n=90, n_interim_analyses=3, sides=1, alpha=0.025
    )
    fractions, critical = _fractions(two), _critical(two)

    np.testing.assert_allclose(_critical(one), critical, atol=1e-6)
    spent_two = np.array([b.alpha_spent for b in two.boundaries])
    np.testing.assert_allclose(np.array([b.alpha_spent for b in one.boundaries]), spent_two / 2.0, rtol=1e-12)
    # Upper-only crossing with the symmetric lower bound in place, by Genz integration: exactly half.
    covariance = _covariance(fractions)
    upper_first_look = norm.sf(critical[0])
    assert upper_first_look == pytest.approx(spent_two[0] / 2.0, rel=1e-9)
    survive_two = multivariate_normal(np.zeros(2), covariance[:2, :2], abseps=1e-9).cdf(
        critical[:2], lower_limit=-critical[:2], rng=np.random.default_rng(0)
    )
    assert (1.0 - survive_two) / 2.0 == pytest.approx(spent_two[1] / 2.0, abs=1e-6)


@pytest.mark.parametrize("spending_function", ["obrien_fleming", "pocock"])
@pytest.mark.parametrize("sides", [1, 2])
def test_spending_is_monotone_and_ends_at_alpha(spending_function, sides):
    result = sequential_boundaries(
        alpha=0.1, spending_function=spending_function, max_n=200, n_interim_analyses=8, sides=sides
    )
    spent = np.array([b.alpha_spent for b in result.boundaries])

    assert np.all(np.diff(spent) > 0)
    assert spent[-1] == pytest.approx(0.1, abs=1e-15)
    nominal = np.array([b.nominal_p for b in result.boundaries])
    np.testing.assert_allclose(nominal, sides * norm.sf(_critical(result)), rtol=1e-12)
    assert np.all(nominal <= spent + 1e-15)


def test_spending_function_values_follow_gsdesign_definitions():
    fractions = [0.25, 0.5, 1.0]
    of = sequential_boundaries(max_n=100, n_interim_analyses=3, information_fractions=fractions)
    pocock = sequential_boundaries(
        spending_function="pocock", max_n=100, n_interim_analyses=3, information_fractions=fractions, sides=1
    )

    t = np.array(fractions)
    expected_of = 2 * (2 - 2 * norm.cdf(norm.ppf(1 - 0.025 / 2) / np.sqrt(t)))  # both sides, 0.025 each
    expected_pocock = 0.05 * np.log(1 + (np.e - 1) * t)
    np.testing.assert_allclose([b.alpha_spent for b in of.boundaries], expected_of, rtol=1e-9)
    np.testing.assert_allclose([b.alpha_spent for b in pocock.boundaries], expected_pocock, rtol=1e-12)
    assert [b.n for b in of.boundaries] == [25, 50, 100]


@pytest.mark.parametrize("fractions", [[0.1, 0.3, 0.35, 0.8, 1.0], [0.01, 0.02, 0.5, 1.0]])
def test_close_looks_agree_with_a_much_finer_grid(fractions):
    """Close looks make the transition kernel narrow; gsDesign's r = 18 is then 1e-5..1e-3 off, the default is not."""
    looks = len(fractions)
    default = sequential_boundaries(max_n=100, n_interim_analyses=looks, information_fractions=fractions)
    fine = sequential_boundaries(max_n=100, n_interim_analyses=looks, information_fractions=fractions, grid_r=200)

    np.testing.assert_allclose(_critical(default), _critical(fine), atol=5e-6)


def test_result_is_plain_json_with_the_published_keys():
    result = sequential_boundaries(max_n=30, n_interim_analyses=3).to_dict()

    assert json.loads(json.dumps(result)) == result
    assert set(result) == {"boundaries", "warning"}
    assert set(result["boundaries"][0]) == {"n", "criticalValue", "alphaSpent", "nominalP"}
    assert type(result["boundaries"][0]["n"]) is int
    assert "planned information" in result["warning"]


def test_warning_names_duplicate_and_small_looks():
    crowded = sequential_boundaries(
        max_n=10, n_interim_analyses=3, information_fractions=[0.5, 0.54, 1.0]
    ).warning
    roomy = sequential_boundaries(max_n=300, n_interim_analyses=3).warning

    assert "looks 1 and 2 both at n = 5" in crowded
    assert "first look uses only 5 observations" in crowded
    assert "both at" not in roomy and "first look uses only" not in roomy
    rounded = sequential_boundaries(max_n=10, n_interim_analyses=3).warning
    assert "look 1 (n = 3 is t = 0.3, planned 0.333)" in rounded


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alpha": 0.0}, "alpha must be a number strictly between 0 and 1, got 0.0"),
        ({"alpha": 1.5}, "got 1.5"),
        ({"n_interim_analyses": 0}, "n_interim_analyses must be a whole number >= 1, got 0"),
        ({"max_n": 3}, "max_n (3) must be at least n_interim_analyses (4)"),
        ({"sides": 3}, "sides must be 1 or 2, got 3"),
        ({"spending_function": "haybittle"}, "unknown spending_function 'haybittle'"),
        ({"information_fractions": [0.2, 0.5, 1.0]}, "has 3 values but n_interim_analyses is 4"),
        ({"information_fractions": [0.2, 0.5, 0.5, 1.0]}, "look 3 (0.5) does not exceed look 2 (0.5)"),
        ({"information_fractions": [0.0, 0.5, 0.7, 1.0]}, "look 1 has 0.0"),
        ({"information_fractions": [0.2, 0.5, 0.7, 0.9]}, "the last information fraction must be 1"),
        ({"information_fractions": [0.2, 0.5, 1.0, 1.2]}, "look 4 has 1.2"),
        ({"information_fractions": [1e-6, 0.5, 0.7, 1.0]}, "look 1 (information fraction 1e-06) spends no alpha"),
    ],
)
def test_bad_input_raises_value_error_naming_the_value(kwargs, message):
    arguments = {"max_n": 40, "n_interim_analyses": 4, **kwargs}
    with pytest.raises(ValueError) as error:
        sequential_boundaries(**arguments)
    assert message in str(error.value)


def test_measured_sample_sizes_are_reported_without_changing_the_boundaries():
    """Fractions measured from the accrued variance come with the looks' own n; the numbers stay the same."""
    fractions = [0.41, 0.63, 1.0]
    planned = sequential_boundaries(max_n=40, n_interim_analyses=3, information_fractions=fractions)
    measured = sequential_boundaries(max_n=40, n_interim_analyses=3, information_fractions=fractions,
                                     sample_sizes=[20, 30, 40])

    assert [b.n for b in measured.boundaries] == [20, 30, 40]
    assert [b.n for b in planned.boundaries] == [16, 25, 40]
    for mine, reference in zip(measured.boundaries, planned.boundaries):
        assert (mine.critical_value, mine.alpha_spent, mine.nominal_p, mine.information_fraction) == (
            reference.critical_value, reference.alpha_spent, reference.nominal_p, reference.information_fraction)
    assert "Rounding to whole observations" in planned.warning and "Rounding" not in measured.warning
    with pytest.raises(ValueError, match="sample_sizes has 2 values but n_interim_analyses is 3"):
        sequential_boundaries(max_n=40, n_interim_analyses=3, information_fractions=fractions, sample_sizes=[20, 30])


def test_a_design_is_integrated_once_whatever_its_max_n(monkeypatch):
    """The boundaries depend on the design only (alpha, spending function, fractions, sides, grid): other sample
    sizes reuse its integration; a design the integration refuses is refused again, not remembered."""
    integrations = []
    integrate = sequential._critical_values
    monkeypatch.setattr(sequential, "_critical_values",
                        lambda *args, **kwargs: integrations.append(args[0].tolist()) or integrate(*args, **kwargs))
    design = {"alpha": 0.0437, "spending_function": "pocock", "n_interim_analyses": 5}  # no other test's design
    small, large = (sequential_boundaries(max_n=n, **design) for n in (25, 900))

    assert integrations == [[0.2, 0.4, 0.6, 0.8, 1.0]]
    assert [b.n for b in small.boundaries] == [5, 10, 15, 20, 25] and large.boundaries[0].n == 180
    assert _critical(small).tolist() == _critical(large).tolist()
    assert small.boundaries[-1].alpha_spent == pytest.approx(0.0437, abs=1e-15)
    refused = {"max_n": 40, "n_interim_analyses": 3, "information_fractions": [1e-7, 0.5, 1.0]}
    for _ in range(2):
        with pytest.raises(ValueError, match="spends no alpha"):
            sequential_boundaries(**refused)
    assert len(integrations) == 3
