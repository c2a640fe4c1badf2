"""Single-case effect sizes, defined exactly as the R package SingleCaseES 0.7.4 (Pustejovsky, Chen & Swan) does.

Why these definitions: results must be comparable with the reference tool reviewers use, to its printed digits.
Each AB pair (the i-th A phase and the B phase right after it, as SingleCaseES pairs phases) gets, with z the
normal quantile of ``confidence`` (95% by default) and every interval a ``[lower, upper]`` list:

- NAP (Parker & Vannest 2009): share of (A, B) pairs where B improves on A, ties 0.5. NAP_SE is SingleCaseES's
  "unbiased" SE (Sen 1967; Mee 1990) in its current form, with NAP truncated to [1/(2mn), 1 - 1/(2mn)] inside
  the variance so the SE stays > 0 when NAP is 0 or 1. NAP_CI is Newcombe's (2006) symmetrized score-inversion
  interval (his method 5): the roots of mn(NAP − x)²(2 − x)(1 + x) = z²·x(1 − x)(2 + h + (1 + 2h)x(1 − x)),
  h = (m + n)/2 − 1, below and above NAP, found as R's ``uniroot`` finds them (see ``_uniroot``). As in
  SingleCaseES, NAP = 1 gives [1, 1] and NAP = 0 gives [0, 0]: the data's edge is itself a root.
- Tau = 2·NAP − 1 (Parker et al. 2011), Tau_SE = 2·NAP_SE, Tau_CI = 2·NAP_CI − 1.
- PND (Scruggs et al. 1987): share of B points beyond the most extreme A point.
- PEM (Ma 2006): share of B points beyond the A median, ties 0.5.
- TauU (Parker, Vannest, Davis & Sauber 2011, SingleCaseES ``Tau_U``): (A-vs-B Kendall S minus the A-phase
  trend S) / (m·n); it can exceed 1. Tau-U names several indices, so TauU_variant names this one: "A vs B -
  trend A". SingleCaseES gives it no SE, hence none here.
- Tau_BC (Tarlow 2017, SingleCaseES ``Tau_BC`` at its defaults ``pretest_trend = FALSE``, ``Kendall = FALSE``):
  the baseline trend is always removed, never pre-tested. Its Theil–Sen line (slope = median of the pairwise A
  slopes over sessions 1..m, intercept = median of A − slope·session) is subtracted from both phases, the B
  sessions numbered m+1..m+n, and Tau_BC, Tau_BC_SE and Tau_BC_CI are Tau, Tau_SE and Tau_CI of the residuals.
  Like SingleCaseES's, the SE ignores the uncertainty of the trend correction.
- SMD_baseline / SMD_pooled: within-case standardized mean difference with the baseline SD (df = m − 1) or the
  pooled SD (df = m + n − 2), Hedges' correction J = 1 − 3/(4·df − 1), and SE = J·sqrt(V1 + g²/(2·df)) with
  V1 = 1/m + s_B²/(n·s_A²) (baseline) or 1/m + 1/n (pooled); g is the corrected estimate; CI = g ± z·SE.
- LRRi / LRRd (Pustejovsky 2018): log response ratio of the B mean to the A mean with SingleCaseES's default
  delta-method bias correction, L = ln M_B + s_B²/(2n·M_B²) − ln M_A − s_A²/(2m·M_A²), SE = sqrt(s_A²/(m·M_A²)
  + s_B²/(n·M_B²)), CI = estimate ± z·SE. LRRi is positive for an improvement (L for "increase", −L for
  "decrease"); LRRd = −LRRi is negative for one. The outcome is taken as SingleCaseES scale "other" (the
  ``batch_calc_ES`` default), i.e. no truncation constant and no percentage complement, because the pipeline
  does not know whether a metric is a count, a rate or a percentage. A log ratio needs a ratio-scale outcome:
  when the series has a negative value, or a phase of the pair has mean 0 (SingleCaseES returns NaN), LRRi,
  LRRd and their SEs and CIs are ``None`` and LRR_reason says why (it is ``None`` otherwise).

improvement="decrease" negates the outcome first (as SingleCaseES does), so every index but LRRd and cohens_d
reads "larger is better". An SMD whose SD is zero is undefined: it, its SE and its CI are ``None`` (JSON null)
rather than a non-JSON infinity.

Several AB pairs (ABAB ...) are combined with equal weights, as SingleCaseES ``batch_calc_ES(aggregate=...,
weighting = "equal")``: the estimate is the mean over pairs, the SE of that mean is sqrt(Σ SE_i²) / k (the pairs
treated as independent) and the CI is mean ± z·SE (so an averaged NAP_CI is a Wald interval and may leave
[0, 1], as SingleCaseES's does). A single pair keeps its own interval, as ``calc_ES`` reports it. A pair with an
undefined index makes the averaged index undefined too.

cohens_d is the pipeline's one Cohen's d, the very number the randomization test reports as ``effectSize``
(see ``cohens_d``): all B observations against all A observations of the series (every phase, paired or not),
pooled SD, no correction, in the raw B − A direction whatever ``improvement`` says, since ``effectSize`` has no
direction argument. It is a series-level summary, not a SingleCaseES index, so it has no pair values and no
interval; SMD_pooled is the different, Hedges-corrected within-pair index averaged over pairs.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from americano_pipeline.stats.phases import PhaseBlock, ab_pairs, parse_series
from americano_pipeline.stats.validation import check_choice

IMPROVEMENTS = ("increase", "decrease")
MIN_PHASE_POINTS = 2
TAU_U_VARIANT = "A vs B - trend A"
DOUBLE_EPS = np.finfo(float).eps
# R's uniroot defaults: tol = .Machine$double.eps^0.25, maxiter = 1000.
UNIROOT_TOL = DOUBLE_EPS**0.25
UNIROOT_MAXITER = 1000


def cohens_d(a: np.ndarray, b: np.ndarray) -> float | None:
    """The pipeline's one Cohen's d: (mean_B − mean_A) / pooled SD of the observations ``a`` (A) and ``b`` (B).

    Pooled SD = sqrt(((n_A − 1)·s_A² + (n_B − 1)·s_B²) / (n_A + n_B − 2)), no small-sample correction; ``None``
    when that SD is zero. Both the randomization test's ``effectSize`` and ``single_case_effect_sizes``'s
    ``cohens_d`` are this function of all A and all B observations of a series, so the two never disagree.
    """
    df = a.size + b.size - 2
    pooled_sq = (np.sum((a - a.mean()) ** 2) + np.sum((b - b.mean()) ** 2)) / df if df > 0 else 0.0
    return float((b.mean() - a.mean()) / np.sqrt(pooled_sq)) if pooled_sq > 0 else None


def _uniroot(f, lower: float, upper: float) -> float:
    """The root of ``f`` in [lower, upper] exactly as R's ``uniroot`` returns it at its default tolerance.

    Why not scipy's ``brentq``: R stops at a loose tolerance (eps^0.25 ≈ 1.2e-4) and any other path to it lands
    elsewhere in that window, so SingleCaseES's NAP bounds would differ from ours in the fifth decimal. This is
    Brent's (1973) zeroin in the form R's stats/src/zeroin.c runs it: b is the best guess, [b, c] brackets the
    root, a is the previous b; each step is an inverse-quadratic (or secant) one when that lands well inside the
    bracket and shrinks fast enough, a bisection otherwise, and never smaller than the tolerance.
    """
    a, b = lower, upper
    fa, fb = f(a), f(b)
    if fa == 0:
        return a
    c, fc = a, fa
    for _ in range(UNIROOT_MAXITER + 1):
        previous_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tolerance = 2 * DOUBLE_EPS * abs(b) + UNIROOT_TOL / 2
        step = (c - b) / 2
        if abs(step) <= tolerance or fb == 0:
            return b
        if abs(previous_step) >= tolerance and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p, q = cb * t1, 1 - t1
            else:
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1))
                q = (q - 1) * (t1 - 1) * (t2 - 1)
            p, q = (p, -q) if p > 0 else (-p, q)
            if p < 0.75 * cb * q - abs(tolerance * q) / 2 and p < abs(previous_step * q / 2):
                step = p / q
        if abs(step) < tolerance:
            step = tolerance if step > 0 else -tolerance
        a, fa = b, fb
        b += step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _interval(estimate: float | None, se: float | None, z: float) -> list[float] | None:
    return None if estimate is None or se is None else [estimate - z * se, estimate + z * se]


def _nap(a: np.ndarray, b: np.ndarray, z: float) -> tuple[float, float, list[float]]:
    m, n = a.size, b.size
    q = (b[None, :] > a[:, None]) + 0.5 * (b[None, :] == a[:, None])
    nap = float(q.mean())
    centered = q - nap
    q1 = np.sum(centered.sum(axis=1) ** 2) / (m * n**2)
    q2 = np.sum(centered.sum(axis=0) ** 2) / (m**2 * n)
    q3 = np.sum(centered**2) / (m * n)
    trunc = 0.5 / (m * n)
    nap_t = min(max(nap, trunc), 1 - trunc)
    variance = (nap_t * (1 - nap_t) + n * q1 + m * q2 - 2 * q3) / ((m - 1) * (n - 1))
    h = (m + n) / 2 - 1

    def score(x: float) -> float:
        return m * n * (nap - x) ** 2 * (2 - x) * (1 + x) - z**2 * x * (1 - x) * (2 + h + (1 + 2 * h) * x * (1 - x))

    lower = _uniroot(score, 0.0, nap) if nap > 0 else 0.0
    upper = _uniroot(score, nap, 1.0) if nap < 1 else 1.0
    return nap, float(np.sqrt(variance)), [float(lower), float(upper)]


def _tau(nap: float, se: float, ci: list[float]) -> tuple[float, float, list[float]]:
    """Tau with its SE and interval from NAP's: Tau = 2·NAP − 1 is a linear rescaling."""
    return 2 * nap - 1, 2 * se, [2 * ci[0] - 1, 2 * ci[1] - 1]


def _baseline_detrended(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both phases minus the A phase's Theil–Sen line, sessions numbered 1..m+n within the pair.

    The intercept cancels in any Tau; it is subtracted all the same, in SingleCaseES's order, so that ties
    between residuals fall exactly where theirs do.
    """
    sessions = np.arange(1.0, a.size + b.size + 1)
    i, j = np.triu_indices(a.size, k=1)
    slope = np.median((a[j] - a[i]) / (sessions[j] - sessions[i]))
    intercept = np.median(a - sessions[: a.size] * slope)
    residuals = np.concatenate([a, b]) - intercept - slope * sessions
    return residuals[: a.size], residuals[a.size :]


def _tau_u(a: np.ndarray, b: np.ndarray) -> float:
    between = np.sign(b[None, :] - a[:, None]).sum()
    i, j = np.triu_indices(a.size, k=1)
    baseline_trend = np.sign(a[j] - a[i]).sum()
    return float((between - baseline_trend) / (a.size * b.size))


def _smd(a: np.ndarray, b: np.ndarray, z: float, *, pooled: bool) -> tuple[float | None, float | None, list | None]:
    m, n = a.size, b.size
    var_a, var_b = a.var(ddof=1), b.var(ddof=1)
    df = m + n - 2 if pooled else m - 1
    s_sq = ((m - 1) * var_a + (n - 1) * var_b) / df if pooled else var_a
    if s_sq <= 0:
        return None, None, None
    v1 = 1 / m + (1 / n if pooled else var_b / (n * var_a))
    j = 1 - 3 / (4 * df - 1)
    g = float(j * (b.mean() - a.mean()) / np.sqrt(s_sq))
    se = float(j * np.sqrt(v1 + g**2 / (2 * df)))
    return g, se, _interval(g, se, z)


def _log_response_ratio(
    a: np.ndarray, b: np.ndarray, baseline: PhaseBlock, treatment: PhaseBlock
) -> tuple[float | None, float | None, str | None]:
    """Bias-corrected ln(M_B / M_A), its SE and ``None``; or ``None, None, reason`` when a phase mean is 0."""
    for block, phase in ((baseline, a), (treatment, b)):
        if phase.mean() == 0:
            return None, None, f"{block.describe()} has mean 0, and the log of 0 is undefined"
    corrected = [np.log(x.mean()) + x.var(ddof=1) / (2 * x.size * x.mean() ** 2) for x in (a, b)]
    variance = sum(x.var(ddof=1) / (x.size * x.mean() ** 2) for x in (a, b))
    return float(corrected[1] - corrected[0]), float(np.sqrt(variance)), None


def _pair_effect_sizes(
    numbers: np.ndarray, baseline: PhaseBlock, treatment: PhaseBlock, *, sign: float, z: float,
    not_ratio_scale: str | None,
) -> dict:
    """Every index of one AB pair; ``numbers`` unoriented (the LRR needs the raw ratio scale)."""
    raw_a, raw_b = numbers[baseline.start : baseline.stop], numbers[treatment.start : treatment.stop]
    a, b = sign * raw_a, sign * raw_b
    nap, nap_se, nap_ci = _nap(a, b, z)
    tau, tau_se, tau_ci = _tau(nap, nap_se, nap_ci)
    tau_bc, tau_bc_se, tau_bc_ci = _tau(*_nap(*_baseline_detrended(a, b), z))
    smd_baseline, smd_baseline_se, smd_baseline_ci = _smd(a, b, z, pooled=False)
    smd_pooled, smd_pooled_se, smd_pooled_ci = _smd(a, b, z, pooled=True)
    lrr, lrr_se, lrr_reason = (
        (None, None, not_ratio_scale) if not_ratio_scale else _log_response_ratio(raw_a, raw_b, baseline, treatment)
    )
    lrr_i = None if lrr is None else sign * lrr
    lrr_d = None if lrr is None else -lrr_i
    median_a = np.median(a)
    return {
        "NAP": nap,
        "NAP_SE": nap_se,
        "Tau": tau,
        "PND": float(np.mean(b > a.max())),
        "PEM": float(np.mean((b > median_a) + 0.5 * (b == median_a))),
        "TauU": _tau_u(a, b),
        "SMD_baseline": smd_baseline,
        "SMD_baseline_SE": smd_baseline_se,
        "SMD_pooled": smd_pooled,
        "SMD_pooled_SE": smd_pooled_se,
        "NAP_CI": nap_ci,
        "Tau_SE": tau_se,
        "Tau_CI": tau_ci,
        "TauU_variant": TAU_U_VARIANT,
        "Tau_BC": tau_bc,
        "Tau_BC_SE": tau_bc_se,
        "Tau_BC_CI": tau_bc_ci,
        "SMD_baseline_CI": smd_baseline_ci,
        "SMD_pooled_CI": smd_pooled_ci,
        "LRRi": lrr_i,
        "LRRi_SE": lrr_se,
        "LRRi_CI": _interval(lrr_i, lrr_se, z),
        "LRRd": lrr_d,
        "LRRd_SE": lrr_se,
        "LRRd_CI": _interval(lrr_d, lrr_se, z),
        "LRR_reason": lrr_reason,
    }


def _equal_weight_average(pairs: list[dict], z: float) -> dict:
    """batch_calc_ES(weighting = "equal") over the pairs; a single pair is returned as it is (see module doc).

    Keys are dispatched by suffix: "_SE" → SE of the mean, "_CI" → mean ± z·SE of the keys computed just
    before it (every pair dict lists an index and its SE ahead of its CI), anything else numeric → the mean.
    """
    k = len(pairs)
    average: dict = {}
    for key in (key for key in pairs[0] if key != "phases"):
        column = [pair[key] for pair in pairs]
        if k == 1 or key == "TauU_variant":
            average[key] = column[0]
        elif key == "LRR_reason":
            average[key] = "; ".join(dict.fromkeys(reason for reason in column if reason)) or None
        elif None in column:
            average[key] = None
        elif key.endswith("_CI"):
            index = key.removesuffix("_CI")
            average[key] = _interval(average[index], average[f"{index}_SE"], z)
        elif key.endswith("_SE"):
            average[key] = float(np.sqrt(sum(se**2 for se in column)) / k)
        else:
            average[key] = float(sum(column) / k)
    return average


def _check_confidence(confidence) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def single_case_effect_sizes(values, phases, *, improvement: str = "increase", confidence: float = 0.95) -> dict:
    """SingleCaseES's effect sizes of B vs A with their SEs and ``confidence`` intervals (see module doc).

    values: outcomes in time order; phases: one "A"/"B" label per value, contiguous phases of at least 2 points
    (the SDs and the NAP SE need two). Returns the equal-weight average over the AB pairs of NAP, NAP_SE, Tau,
    PND, PEM, TauU, SMD_baseline(_SE), SMD_pooled(_SE) (the ten keys of DESIGN.md §4, first and unchanged),
    then NAP_CI, Tau_SE, Tau_CI, TauU_variant, Tau_BC(_SE, _CI), SMD_baseline_CI, SMD_pooled_CI, LRRi(_SE, _CI),
    LRRd(_SE, _CI), LRR_reason; then cohens_d (the randomization test's ``effectSize``, raw B − A direction),
    confidence, and "pairs": one dict per AB pair with the pair keys and "phases" (the A and B phase numbers).
    Intervals are [lower, upper] lists; undefined values are ``None``.
    Raises ``ValueError`` for bad labels/values (see ``phases.parse_series``), an unknown ``improvement``, a
    ``confidence`` outside (0, 1), or a design with no A phase followed by a B phase.
    """
    check_choice(improvement, "improvement", IMPROVEMENTS)
    confidence = _check_confidence(confidence)
    numbers, blocks = parse_series(values, phases, min_phase_length=MIN_PHASE_POINTS)
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    sign = 1.0 if improvement == "increase" else -1.0
    lowest = int(np.argmin(numbers))
    not_ratio_scale = (
        f"values has a negative value ({numbers[lowest]:g} at position {lowest}); the log response ratio needs a "
        "ratio-scale outcome (all values >= 0)"
        if numbers[lowest] < 0
        else None
    )
    pairs = [
        {
            **_pair_effect_sizes(numbers, baseline, treatment, sign=sign, z=z, not_ratio_scale=not_ratio_scale),
            "phases": [baseline.number, treatment.number],
        }
        for baseline, treatment in ab_pairs(blocks)
    ]
    is_b = np.repeat([block.label == "B" for block in blocks], [block.length for block in blocks])
    return {
        **_equal_weight_average(pairs, z),
        "cohens_d": cohens_d(numbers[~is_b], numbers[is_b]),
        "confidence": confidence,
        "pairs": pairs,
    }
