"""Single-case effect sizes against SingleCaseES's published numbers and hand-computed ABAB values."""

import json
import math

import pytest

from americano_pipeline.stats.effect_sizes import single_case_effect_sizes

# SingleCaseES vignette / Parker, Vannest & Davis (2011) example and the package's reported values.
A = [20, 20, 26, 25, 22, 23]
B = [28, 25, 24, 27, 30, 30, 29]
REFERENCE = {
    "NAP": 0.9166667,
    "NAP_SE": 0.06900656,
    "Tau": 0.8333333,
    "PND": 0.7142857,
    "PEM": 1.0,
    "TauU": 0.7380952,
    "SMD_baseline": 1.649932,
    "SMD_baseline_SE": 0.6340935,
    "SMD_pooled": 1.876247,
    "SMD_pooled_SE": 0.6374216,
}
KEYS = list(REFERENCE)


def _ab(a, b):
    return single_case_effect_sizes(a + b, ["A"] * len(a) + ["B"] * len(b))


def test_matches_singlecasees_reference_values():
    result = _ab(A, B)
    for key, expected in REFERENCE.items():
        assert result[key] == pytest.approx(expected, abs=1e-6), key


def test_decrease_on_mirrored_data_gives_the_same_values():
    mirrored = single_case_effect_sizes(
        [50 - v for v in A + B], ["A"] * len(A) + ["B"] * len(B), improvement="decrease"
    )
    for key, expected in REFERENCE.items():
        assert mirrored[key] == pytest.approx(expected, abs=1e-6), key


def test_decrease_on_the_raw_data_reverses_the_direction():
    result = single_case_effect_sizes(A + B, ["A"] * len(A) + ["B"] * len(B), improvement="decrease")
    assert result["NAP"] == pytest.approx(1 / 12)
    assert result["SMD_baseline"] == pytest.approx(-REFERENCE["SMD_baseline"], abs=1e-6)
    assert result["PND"] == 0.0


def test_abab_is_the_equal_weight_average_of_hand_computed_pairs():
    # Pair 1: A = 1 2 3, B = 4 5 6 (complete separation); pair 2: A = 2 3 4, B = 3 4 5.
    values = [1, 2, 3, 4, 5, 6, 2, 3, 4, 3, 4, 5]
    result = single_case_effect_sizes(values, list("AAABBBAAABBB"))
    first, second = result["pairs"]
    assert first["phases"] == [1, 2] and second["phases"] == [3, 4]
    # NAP: 9/9 and (1.5 + 2.5 + 3)/9 = 7/9; Tau = 2 NAP - 1.
    assert (first["NAP"], second["NAP"], result["NAP"]) == pytest.approx((1, 7 / 9, 8 / 9))
    assert result["Tau"] == pytest.approx(7 / 9)
    # PND: 3/3 and 1/3 (only 5 > 4); PEM: 3/3 and (0.5 + 1 + 1)/3 against the median 3.
    assert result["PND"] == pytest.approx(2 / 3)
    assert result["PEM"] == pytest.approx((1 + 5 / 6) / 2)
    # Tau-U: (9 - 3)/9 and (5 - 3)/9, each baseline rising with Kendall S = 3.
    assert (first["TauU"], second["TauU"], result["TauU"]) == pytest.approx((2 / 3, 2 / 9, 4 / 9))
    # SMD_baseline: s_A = 1, df = 2, J = 1 - 3/7 = 4/7 -> 3·4/7 and 1·4/7.
    assert (first["SMD_baseline"], second["SMD_baseline"]) == pytest.approx((12 / 7, 4 / 7))
    assert result["SMD_baseline"] == pytest.approx(8 / 7)
    assert first["SMD_baseline_SE"] == pytest.approx(4 / 7 * math.sqrt(1 / 3 + 1 / 3 + (12 / 7) ** 2 / 4))
    # SMD_pooled: pooled s = 1, df = 4, J = 1 - 3/15 = 0.8 -> 2.4 and 0.8.
    assert (first["SMD_pooled"], second["SMD_pooled"], result["SMD_pooled"]) == pytest.approx((2.4, 0.8, 1.6))
    assert first["SMD_pooled_SE"] == pytest.approx(0.8 * math.sqrt(2 / 3 + 2.4**2 / 8))
    # NAP = 1: truncated at 1 - 1/(2·9) and every centred q is 0 -> V = (17/18)(1/18) / (2·2).
    assert first["NAP_SE"] == pytest.approx(math.sqrt(17 / 18 * 1 / 18 / 4))
    for key in ("NAP_SE", "SMD_baseline_SE", "SMD_pooled_SE"):
        assert result[key] == pytest.approx(math.hypot(first[key], second[key]) / 2), key


def test_single_ab_pair_average_equals_the_pair():
    result = _ab(A, B)
    assert len(result["pairs"]) == 1
    assert {key: result[key] for key in KEYS} == {key: result["pairs"][0][key] for key in KEYS}


def test_baba_uses_only_the_a_phase_followed_by_b():
    values = [9, 9, 9] + A + B + [1, 1, 1]
    result = single_case_effect_sizes(values, ["B"] * 3 + ["A"] * len(A) + ["B"] * len(B) + ["A"] * 3)
    assert [pair["phases"] for pair in result["pairs"]] == [[2, 3]]
    assert result["NAP"] == pytest.approx(REFERENCE["NAP"])


def test_constant_baseline_leaves_the_baseline_smd_undefined_not_infinite():
    result = _ab([5, 5, 5, 5], [6, 7, 8, 9])
    assert result["SMD_baseline"] is None and result["SMD_baseline_SE"] is None
    assert result["SMD_pooled"] is not None and result["NAP"] == 1.0
    json.dumps(result, allow_nan=False)


def test_result_fields_are_plain_python_numbers():
    result = _ab(A, B)
    assert list(result) == [*KEYS, "pairs"]
    for key in KEYS:
        assert type(result[key]) is float, key
    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize(
    ("values", "labels", "kwargs", "message"),
    [
        (A + B, ["A"] * 6 + ["B"] * 7, {"improvement": "up"}, r"improvement must be one of 'increase', 'decrease'"),
        ([1, 2, 3, 4], "ABBB", {}, r"phase 1 \('A', position 0, 1 point\) is shorter than min_phase_length=2"),
        ([1, 2, 3, 4], "BBAA", {}, r"no A phase is followed by a B phase"),
        ([1, 2, 3], "AABB", {}, r"values has 3 observations but phases has 4"),
        ([1, 2, float("nan"), 4], "AABB", {}, r"nan at position 2"),
        ([1, 2, 3, 4], "AAZZ", {}, r"label 'Z' at position 2"),
    ],
)
def test_bad_input_raises_a_specific_error(values, labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        single_case_effect_sizes(values, labels, **kwargs)
