"""Single-case effect sizes against SingleCaseES's published numbers and hand-computed ABAB values."""

import json
import math

import pytest

from americano_pipeline.stats.effect_sizes import IMPROVEMENTS, single_case_effect_sizes

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
NEW_KEYS = [
    "NAP_CI", "Tau_SE", "Tau_CI", "TauU_variant", "Tau_BC", "Tau_BC_SE", "Tau_BC_CI", "SMD_baseline_CI",
    "SMD_pooled_CI", "LRRi", "LRRi_SE", "LRRi_CI", "LRRd", "LRRd_SE", "LRRd_CI", "LRR_reason",
]


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
    # The ten original keys stay first and unchanged; the new ones follow, "pairs" stays last.
    assert list(result) == [*KEYS, *NEW_KEYS, "cohens_d", "confidence", "pairs"]
    assert list(result["pairs"][0]) == [*KEYS, *NEW_KEYS, "phases"]
    for key in KEYS:
        assert type(result[key]) is float, key
    for key in NEW_KEYS:
        value = result[key]
        if key.endswith("_CI"):
            assert type(value) is list and [type(x) for x in value] == [float, float], key
        elif key in ("TauU_variant", "LRR_reason"):
            assert value is None or type(value) is str, key
        else:
            assert type(value) is float, key
    assert type(result["cohens_d"]) is float and result["confidence"] == 0.95
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
        ([1, 2, 3, 4], "AABB", {"confidence": 95}, r"confidence must be a number strictly between 0 and 1, got 95"),
        ([1, 2, 3, 4], "AABB", {"confidence": "0.9"}, r"confidence must be .* got '0.9'"),
    ],
)
def test_bad_input_raises_a_specific_error(values, labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        single_case_effect_sizes(values, labels, **kwargs)


# --- Intervals, Tau-BC and LRR against SingleCaseES 0.7.4's printed output -------------------------------------
# Sources (github jepusto/SingleCaseES): the pkgdown site on branch gh-pages at 2e69a93 (R output rendered from
# the package's examples and vignettes) and the package's tests/testthat on main at 8de5a3a. Values are compared
# to the last printed digit: |ours - printed| <= half a unit in that digit.


def _printed(text: str):
    decimals = len(text.partition(".")[2])
    return pytest.approx(float(text), abs=0.5 * 10**-decimals + 1e-12)


def _check(result: dict, expected: dict):
    for key, printed in expected.items():
        if isinstance(printed, tuple):
            assert result[key] == [_printed(printed[0]), _printed(printed[1])], key
        else:
            assert result[key] == _printed(printed), key


def test_intervals_tau_bc_and_lrr_match_singlecasees_on_its_example():
    _check(_ab(A, B), {
        # articles/Using-SingleCaseES.html:201 (NAP), :362 (Tau_BC); reference/Tau.html: Tau(A, B).
        "NAP_CI": ("0.5973406", "0.9860176"),
        "Tau_SE": "0.1380131",
        "Tau_CI": ("0.1946812", "0.9720352"),
        "Tau_BC": "0.2857143",
        "Tau_BC_SE": "0.3595159",
        "Tau_BC_CI": ("-0.3260702", "0.7180613"),
        # articles/Using-SingleCaseES.html:409 (std_dev = "baseline") and :412 (std_dev = "pool").
        "SMD_baseline_CI": ("0.4071314", "2.892732"),
        "SMD_pooled_CI": ("0.6269241", "3.125571"),
        # reference/calc_ES.html, calc_ES(A_data = A, B_data = B): rows LRRd and LRRi.
        "LRRi": "0.1953962",
        "LRRi_SE": "0.05557723",
        "LRRi_CI": ("0.08646679", "0.30432554"),
        "LRRd": "-0.1953962",
        "LRRd_SE": "0.05557723",
        "LRRd_CI": ("-0.30432554", "-0.08646679"),
    })
    assert _ab(A, B)["TauU_variant"] == "A vs B - trend A" and _ab(A, B)["LRR_reason"] is None


@pytest.mark.parametrize(
    ("confidence", "interval"),
    # articles/Using-SingleCaseES.html:330 (confidence = .99) and :334 (confidence = .90).
    [(0.99, ("0.4875014", "0.9907377")), (0.90, ("0.6591091", "0.9822249"))],
)
def test_nap_interval_follows_the_confidence_level(confidence, interval):
    result = single_case_effect_sizes(A + B, ["A"] * len(A) + ["B"] * len(B), confidence=confidence)
    _check(result, {"NAP_CI": interval})
    assert result["confidence"] == confidence


def test_decrease_matches_singlecasees():
    result = single_case_effect_sizes(A + B, ["A"] * len(A) + ["B"] * len(B), improvement="decrease")
    _check(result, {
        # articles/Using-SingleCaseES.html:739-746, calc_ES(ES = "NOM", improvement = "decrease").
        "NAP": "0.08333333",
        "NAP_CI": ("0.01398242", "0.4026594"),
        "Tau_CI": ("-0.97203517", "-0.1946812"),
        "TauU": "-0.73809524",
        "Tau_BC": "-0.28571429",
        "Tau_BC_SE": "0.35951593",
        "Tau_BC_CI": ("-0.71806125", "0.3260702"),
        # articles/Using-SingleCaseES.html:515, LRRi(scale = "count", improvement = "decrease").
        "LRRi": "-0.1953962",
        "LRRi_CI": ("-0.3043255", "-0.08646679"),
        "LRRd": "0.1953962",
    })


def test_parker_vannest_2009_example_matches_singlecasees():
    y_a, y_b = [4, 3, 4, 3, 4, 7, 5, 2, 3, 2], [5, 9, 7, 9, 7, 5, 9, 11, 11, 10, 9]
    _check(_ab(y_a, y_b), {
        # reference/NAP.html:202, NAP(yA, yB).
        "NAP": "0.9636364",
        "NAP_SE": "0.03192622",
        "NAP_CI": ("0.7499741", "0.9950729"),
        # reference/calc_ES.html:194-197, calc_ES(yA, yB).
        "LRRi": "0.8102983",
        "LRRi_SE": "0.14867023",
        "LRRi_CI": ("0.5189100", "1.1016866"),
        "LRRd_CI": ("-1.1016866", "-0.5189100"),
        "SMD_baseline": "2.8531844",
        "SMD_baseline_SE": "0.78308117",
        "SMD_baseline_CI": ("1.3183735", "4.3879953"),
        "Tau": "0.9272727",
        "Tau_SE": "0.06385245",
        "Tau_CI": ("0.4999482", "0.9901458"),
    })


def test_tau_u_and_tau_bc_match_the_singlecasees_test_files():
    # tests/testthat/test-tarlow-2017.R:3-4, :19 (Tau_U = 0.6) and :25 (Tau_BC = 0: the Theil-Sen line fits
    # both phases exactly, so every residual is 0 and all pairs tie).
    linear = _ab([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert linear["TauU"] == pytest.approx(0.6) and linear["Tau_BC"] == 0.0 and linear["Tau"] == 1.0
    # tests/testthat/test-parker-vannest-davis-2011.R:48-49, :62 (Tau_U = 11/20).
    assert _ab([3, 3, 4, 5], [4, 5, 6, 7, 7])["TauU"] == pytest.approx(11 / 20)


# Schmidt (2007), ABAB, from SingleCaseES auxiliary/Schmidt2007.csv:57-87 (Albert, disruptive behaviour, a
# count to decrease) and :113-142 (Lilly, on-task behaviour, a percentage to increase), in session order.
ALBERT_DISRUPTIVE = [
    23.45807346, 44.67544468, 49.67659968, 17.74659275, 25.45622546, 16.94964195, 32.31115731, 31.01755602,
    22.4994225, 10.61946903, 7.522123894, 1.327433628, 3.097345133, 4.867256637, 9.292035398, 5.752212389,
    3.982300885, 5.752212389, 0.884955752, 6.637168142, 4.867256637, 1.327433628, 5.855855856, 23.42342342,
    20.72072072, 2.702702703, 1.351351351, 7.657657658, 1.351351351, 18.46846847, 5.855855856,
]
ALBERT_PHASES = "A" * 9 + "B" * 13 + "A" * 3 + "B" * 6
LILLY_ON_TASK = [
    71.78184735, 67.06322684, 61.51584013, 83.22416789, 98.54297554, 72.07592568, 61.07472263, 88.23686673,
    96.46017699, 95.57522124, 82.30088496, 16.81415929, 94.69026549, 84.95575221, 59.2920354, 61.0619469,
    20.3539823, 85.84070796, 97.34513274, 90.26548673, 97.34513274, 86.72566372, 25.22522523, 96.3963964,
    3.603603604, 95.53571429, 97.32142857, 96.42857143, 91.96428571, 97.32142857,
]
LILLY_PHASES = "A" * 8 + "B" * 14 + "A" * 3 + "B" * 5


@pytest.mark.parametrize(
    ("values", "labels", "improvement", "average", "pairs"),
    [
        # Averages: articles/Using-SingleCaseES.html, the table at :2238-2377 (batch_calc_ES(aggregate =
        # Phase_num), weighting "equal" by default), rows Albert/Disruptive and Lilly/On Task. Pairs: the table of
        # batch_calc_ES(ES = c("NAP", "LRRi")) by Phase_num at :1503 (body :1547-2175), printed to 3 decimals.
        # Albert's pair 1 has NAP = 1, whose interval SingleCaseES prints as [1, 1].
        (ALBERT_DISRUPTIVE, ALBERT_PHASES, "decrease", ("0.9305556", "0.0719780", "0.7894812", "1.0716299"), [
            ("1.000", "0.007", "1.000", "1.000", "1.749", "0.210", "1.338", "2.160"),
            ("0.861", "0.144", "0.443", "0.977", "0.947", "0.538", "-0.108", "2.001"),
        ]),
        (LILLY_ON_TASK, LILLY_PHASES, "increase", ("0.7235119", "0.0950093", "0.5372970", "0.9097268"), [
            ("0.580", "0.135", "0.340", "0.784", "0.015", "0.114", "-0.209", "0.239"),
            ("0.867", "0.133", "0.433", "0.980", "0.604", "0.672", "-0.712", "1.921"),
        ]),
    ],
)
def test_schmidt_2007_abab_matches_singlecasees(values, labels, improvement, average, pairs):
    result = single_case_effect_sizes(values, list(labels), improvement=improvement)
    nap, se, lower, upper = average
    _check(result, {"NAP": nap, "NAP_SE": se, "NAP_CI": (lower, upper)})
    for pair, printed in zip(result["pairs"], pairs, strict=True):
        nap, se, nap_lower, nap_upper, lrr, lrr_se, lrr_lower, lrr_upper = printed
        _check(pair, {
            "NAP": nap, "NAP_SE": se, "NAP_CI": (nap_lower, nap_upper),
            "LRRi": lrr, "LRRi_SE": lrr_se, "LRRi_CI": (lrr_lower, lrr_upper),
        })


def test_averaged_intervals_are_mean_plus_minus_z_se_of_the_mean():
    result = single_case_effect_sizes(LILLY_ON_TASK, list(LILLY_PHASES))
    z = 1.959963984540054
    first, second = result["pairs"]
    for index in ("NAP", "Tau", "Tau_BC", "SMD_baseline", "SMD_pooled", "LRRi", "LRRd"):
        assert result[index] == pytest.approx((first[index] + second[index]) / 2), index
        se = math.hypot(first[f"{index}_SE"], second[f"{index}_SE"]) / 2
        assert result[f"{index}_SE"] == pytest.approx(se), index
        assert result[f"{index}_CI"] == pytest.approx([result[index] - z * se, result[index] + z * se]), index


def test_lrr_is_undefined_with_a_reason_for_a_zero_mean_phase():
    # articles/Using-SingleCaseES.html:528: A = 0 0 0 0 without a truncation constant gives NaN in SingleCaseES.
    result = _ab([0, 0, 0, 0], [28, 25, 24, 27, 30, 30, 29])
    for key in ("LRRi", "LRRi_SE", "LRRi_CI", "LRRd", "LRRd_SE", "LRRd_CI"):
        assert result[key] is None, key
    assert result["LRR_reason"] == "phase 1 ('A', positions 0-3, 4 points) has mean 0, and the log of 0 is undefined"
    assert result["NAP"] == 1.0 and result["SMD_pooled"] is not None
    json.dumps(result, allow_nan=False)


def test_lrr_is_undefined_for_negative_values_and_one_bad_pair_undefines_the_average():
    negative = single_case_effect_sizes([1, 2, -3, 4, 5, 6], list("AAABBB"))
    assert negative["LRRi"] is None and negative["LRRd_CI"] is None
    assert negative["LRR_reason"] == (
        "values has a negative value (-3 at position 2); the log response ratio needs a ratio-scale outcome "
        "(all values >= 0)"
    )
    # Pair 1 is fine, pair 2 has an all-zero baseline: the average is undefined, the reason names the phase.
    mixed = single_case_effect_sizes([1, 2, 4, 5, 0, 0, 3, 4], list("AABBAABB"))
    first, second = mixed["pairs"]
    assert first["LRRi"] is not None and first["LRR_reason"] is None
    assert second["LRRi"] is None and mixed["LRRi"] is None and mixed["LRRi_CI"] is None
    assert mixed["LRR_reason"] == second["LRR_reason"] == (
        "phase 3 ('A', positions 4-5, 2 points) has mean 0, and the log of 0 is undefined"
    )
    json.dumps(mixed, allow_nan=False)


def test_cohens_d_is_one_pooled_d_over_all_a_and_all_b_days():
    # BABA: the leading B and trailing A count too. All A = 1 2 3 7 8 9 (mean 5), all B = 4 5 6 10 11 12 (mean 8);
    # both phases' sums of squares are 2 + 2 (within pairs of phases) + 2·3·9 (between them) = 58 -> pooled
    # variance 116 / 10, d = 3 / sqrt(11.6); raw B - A direction whatever improvement says.
    values, labels = [4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9], list("BBBAAABBBAAA")
    for improvement in IMPROVEMENTS:
        result = single_case_effect_sizes(values, labels, improvement=improvement)
        assert result["cohens_d"] == pytest.approx(3 / math.sqrt(11.6))
    assert single_case_effect_sizes([5] * 4, list("AABB"))["cohens_d"] is None
