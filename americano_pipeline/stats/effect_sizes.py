"""Single-case effect sizes, defined exactly as the R package SingleCaseES (Pustejovsky, Chen & Swan) does.

Why these definitions: results must be comparable with the reference tool reviewers use. Each AB pair (the i-th
A phase and the B phase right after it, as SingleCaseES pairs phases) gets:

- NAP (Parker & Vannest 2009): share of (A, B) pairs where B improves on A, ties 0.5. NAP_SE is SingleCaseES's
  "unbiased" SE (Sen 1967; Mee 1990) in its current form, with NAP truncated to [1/(2mn), 1 - 1/(2mn)] inside
  the variance so the SE stays > 0 when NAP is 0 or 1.
- Tau = 2·NAP − 1 (Parker et al. 2011).
- PND (Scruggs et al. 1987): share of B points beyond the most extreme A point.
- PEM (Ma 2006): share of B points beyond the A median, ties 0.5.
- TauU (Parker, Vannest, Davis & Sauber 2011, as SingleCaseES ``Tau_U``): (A-vs-B Kendall S minus the A-phase
  trend S) / (m·n); it can exceed 1.
- SMD_baseline / SMD_pooled: within-case standardized mean difference with the baseline SD (df = m − 1) or the
  pooled SD (df = m + n − 2), Hedges' correction J = 1 − 3/(4·df − 1), and SE = J·sqrt(V1 + g²/(2·df)) with
  V1 = 1/m + s_B²/(n·s_A²) (baseline) or 1/m + 1/n (pooled); g is the corrected estimate.

improvement="decrease" negates the outcome first (as SingleCaseES does), so every index reads "larger is better".
An SMD whose SD is zero is undefined: it and its SE are ``None`` (JSON null) rather than a non-JSON infinity.

Several AB pairs (ABAB ...) are combined with equal weights, as SingleCaseES ``batch_calc_ES(aggregate=...,
weighting = "equal")``: the estimate is the mean over pairs and the SE of that mean is sqrt(Σ SE_i²) / k, i.e.
the pairs are treated as independent. A pair with an undefined SMD makes the averaged SMD undefined too.
"""

from __future__ import annotations

import numpy as np

from americano_pipeline.stats.phases import ab_pairs, parse_series
from americano_pipeline.stats.validation import check_choice

IMPROVEMENTS = ("increase", "decrease")
KEYS = (
    "NAP", "NAP_SE", "Tau", "PND", "PEM", "TauU", "SMD_baseline", "SMD_baseline_SE", "SMD_pooled", "SMD_pooled_SE"
)
STANDARD_ERRORS = ("NAP_SE", "SMD_baseline_SE", "SMD_pooled_SE")
MIN_PHASE_POINTS = 2


def _nap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    m, n = a.size, b.size
    q = (b[None, :] > a[:, None]) + 0.5 * (b[None, :] == a[:, None])
    nap = q.mean()
    centered = q - nap
    q1 = np.sum(centered.sum(axis=1) ** 2) / (m * n**2)
    q2 = np.sum(centered.sum(axis=0) ** 2) / (m**2 * n)
    q3 = np.sum(centered**2) / (m * n)
    trunc = 0.5 / (m * n)
    nap_t = min(max(nap, trunc), 1 - trunc)
    variance = (nap_t * (1 - nap_t) + n * q1 + m * q2 - 2 * q3) / ((m - 1) * (n - 1))
    return float(nap), float(np.sqrt(variance))


def _tau_u(a: np.ndarray, b: np.ndarray) -> float:
    between = np.sign(b[None, :] - a[:, None]).sum()
    i, j = np.triu_indices(a.size, k=1)
    baseline_trend = np.sign(a[j] - a[i]).sum()
    return float((between - baseline_trend) / (a.size * b.size))


def _smd(a: np.ndarray, b: np.ndarray, *, pooled: bool) -> tuple[float | None, float | None]:
    m, n = a.size, b.size
    var_a, var_b = a.var(ddof=1), b.var(ddof=1)
    df = m + n - 2 if pooled else m - 1
    s_sq = ((m - 1) * var_a + (n - 1) * var_b) / df if pooled else var_a
    if s_sq <= 0:
        return None, None
    v1 = 1 / m + (1 / n if pooled else var_b / (n * var_a))
    j = 1 - 3 / (4 * df - 1)
    g = j * (b.mean() - a.mean()) / np.sqrt(s_sq)
    return float(g), float(j * np.sqrt(v1 + g**2 / (2 * df)))


def _pair_effect_sizes(a: np.ndarray, b: np.ndarray) -> dict:
    nap, nap_se = _nap(a, b)
    smd_baseline, smd_baseline_se = _smd(a, b, pooled=False)
    smd_pooled, smd_pooled_se = _smd(a, b, pooled=True)
    median_a = np.median(a)
    return {
        "NAP": nap,
        "NAP_SE": nap_se,
        "Tau": 2 * nap - 1,
        "PND": float(np.mean(b > a.max())),
        "PEM": float(np.mean((b > median_a) + 0.5 * (b == median_a))),
        "TauU": _tau_u(a, b),
        "SMD_baseline": smd_baseline,
        "SMD_baseline_SE": smd_baseline_se,
        "SMD_pooled": smd_pooled,
        "SMD_pooled_SE": smd_pooled_se,
    }


def _equal_weight_average(pairs: list[dict]) -> dict:
    k = len(pairs)
    average = {}
    for key in KEYS:
        column = [pair[key] for pair in pairs]
        if None in column:
            average[key] = None
        elif key in STANDARD_ERRORS:
            average[key] = float(np.sqrt(sum(se**2 for se in column)) / k)
        else:
            average[key] = float(sum(column) / k)
    return average


def single_case_effect_sizes(values, phases, *, improvement: str = "increase") -> dict:
    """NAP, Tau, PND, PEM, Tau-U and both SMDs (with SEs) of B vs A, as SingleCaseES computes them.

    values: outcomes in time order; phases: one "A"/"B" label per value, contiguous phases of at least 2 points
    (the SDs and the NAP SE need two). Returns the ten keys of DESIGN.md §4 (equal-weight average over the AB
    pairs) plus "pairs": one dict per AB pair with the same keys and "phases" (the A and B phase numbers).
    Raises ``ValueError`` for bad labels/values (see ``phases.parse_series``), an unknown ``improvement``, or a
    design with no A phase followed by a B phase.
    """
    check_choice(improvement, "improvement", IMPROVEMENTS)
    numbers, blocks = parse_series(values, phases, min_phase_length=MIN_PHASE_POINTS)
    oriented = numbers if improvement == "increase" else -numbers
    pairs = []
    for baseline, treatment in ab_pairs(blocks):
        pair = _pair_effect_sizes(
            oriented[baseline.start : baseline.stop], oriented[treatment.start : treatment.stop]
        )
        pairs.append({**pair, "phases": [baseline.number, treatment.number]})
    return {**_equal_weight_average(pairs), "pairs": pairs}
