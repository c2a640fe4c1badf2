"""Change points in the mean of a daily outcome (e.g. "did my sleep shift when I started the protocol?").

Model: piecewise-constant mean plus stationary noise, least-squares (ruptures ``l2``) cost, every index
admissible, segments of at least ``min_segment_length`` observations, one penalty per change point:

* PELT is ruptures' compiled PELT for this cost, ``KernelCPD(kernel="linear")``: the linear-kernel cost
  sum|x_i|^2 - |sum x_i|^2 / n is exactly the l2 cost sum (x_i - mean)^2, and KernelCPD always uses ``jump=1``.
  It returns the breaks of ``Pelt(model="l2", jump=1)`` (ruptures' default ``jump=5`` would move them) about a
  thousand times faster (0.1 ms instead of 130 ms for 365 days), which is what makes the bootstrap below
  affordable. They agreed on 299 of 300 random series; on the other the compiled one found the lower penalized
  cost (the Python class's pruning is not exact under a minimum segment length).
* Binary segmentation is ruptures ``Binseg(jump=1)`` with the same l2 cost computed from prefix sums (O(1) per
  segment instead of ruptures' O(length) ``CostL2``; same breaks, 25-50x faster): greedy, it adds the best
  split while its cost reduction exceeds the penalty.
* Default penalty, BIC-type: 2 * sigma^2 * ln(n) (two parameters, location and new mean, per change, on the l2
  cost scaled by the noise variance), where sigma is the noise scale below (estimated before the bootstrap and
  kept for its resamples).

Noise scale (``noise=``). Daily self-tracking noise is autocorrelated: a run of good days looks like a shift in
the mean. What a spurious split gains is driven by the variance of segment means, about the long-run variance
sigma_e^2 / (1 - phi)^2 per day for AR(1) noise x_t = phi x_{t-1} + e_t, not the marginal or the day-to-day
variance. So:

* ``"ar1"`` (default): sigma is the long-run SD sigma_e / (1 - phi) of AR(1) noise around the mean. The AR(1)
  is fitted (conditional least squares, phi constrained to [-0.9, 0.9]) to the residuals of one of the
  least-squares segmentations with k = 0, 1, ... changes (ruptures' exact dynamic programme, one call; k at
  most 20), the one that minimises (n - 1) ln sigma_e^2 + (2 k + 1.5 [k > 0]) ln n: BIC's 2 ln n per change,
  as in the penalty, plus 1.5 ln n once for having any change. Why jointly: around too few segments a real
  shift is read as autocorrelation (phi, and the penalty, too high: power lost); around too many, the segment
  means soak up the wandering of the noise (phi too low: false changes). Why the premium: without it the fit
  took AR(0.6) wandering for changes in about 27% of null 32-40-day series (12% with a premium of 1 ln n,
  6-8% with 1.5); a premium per change instead (3 ln n per change, the mBIC's leading term) kept false changes
  as low but read the three changes of an ABAB effect as autocorrelation, finding a third as many of them.
  phi below 0 is kept (on white noise it is half the time): clipping it at 0 lowered false changes on
  32-40-day white noise from 5-7% to 1-2% but also the share of ABAB changes found from 37% to 26%; the bound
  0.9 keeps the long-run variance of series that drift at most 100 sigma_e^2. An exactly piecewise-constant
  series has no noise to fit: sigma_e is floored at 1e-6 SD(x); a constant series gets sigma = 1 (every
  positive penalty gives the same, empty, answer).
* ``"mad_diff"`` (the scale before issue #12, kept for comparison): sigma = 1.4826 * MAD(diff(x)) / sqrt(2),
  robust to shifts and right for white noise, but under AR(1) it estimates sqrt(1 - phi) times the marginal
  SD (x0.63 at phi 0.6) where the long-run SD is sqrt((1 + phi) / (1 - phi)) times it (x2): it found a spurious
  change in 16% of white-noise, 56% of phi-0.3 and 91% of phi-0.6 null 40-day series. Fallbacks (the penalty
  is never zero): SD(diff(x)) / sqrt(2) when the MAD is 0, then 1e-6 * SD(x), then 1 for a constant series.

Calibration (``bench/calibration_change_points.py``: the pipeline's analysis of simulated ABAB 32-40-day and
AB 44-day protocols, AR(1) noise of marginal SD 1, 1000 series per cell): with ``"ar1"`` at most 7.3% of null
series show a change for phi in {0, 0.3, 0.6} (``"mad_diff"``: up to 90%). The price is power where 40 days
cannot tell a shift from autocorrelation: a step of 2 SD in the middle is found 88-92%, 61-64% and 35-42% of
the time at phi 0, 0.3 and 0.6 (``"mad_diff"``: 80-96%, with the false changes above), and of the three
changes of an ABAB effect of 2 SD 39%, 24% and 26% are matched (``"mad_diff"``: 73-87%). Even knowing phi
exactly would find the ABAB changes only 80%, 42% and 10% of the time.

``confidence`` is the share of moving-block-bootstrap resamples that place a change point within
``min_segment_length / 2`` observations of it: residuals around the fitted segment means are resampled in
blocks of ceil(n^(1/3)) consecutive observations (keeping short-range autocorrelation; Hall, Horowitz & Jing
1995), added back to the fit, and re-segmented with the same algorithm and penalty. It is a stability measure
("how reproducible is this change under noise like the observed one"), not a posterior probability; it does
not change which changes are reported.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd

from americano_pipeline.stats.validation import check_choice, check_positive_int, date_label, regular_series

ALGORITHMS = {"pelt": "PELT", "binseg": "BinSeg"}
NOISE_MODELS = ("ar1", "mad_diff")
_MAD_TO_SD = 1.4826
_LINE_NOISE_FRACTION = 1e-6
_BIC_PER_CHANGE = 2.0  # x ln n: location and new mean (in -2 log-likelihood units, or l2 cost / sigma^2)
_ANY_CHANGE_PREMIUM = 1.5  # x ln n, charged once by the noise fit when it has any change (module doc)
_PHI_RANGE = (-0.9, 0.9)  # stationary, long-run variance within [0.28, 100] sigma_e^2
_NOISE_FIT_MAX_CHANGES = 20  # bounds the O(k n^2) dynamic programme; more real changes only raise phi


@dataclass(frozen=True)
class ChangePoint:
    """A change in mean: ``date`` is the first date of the new segment; means are of the two adjacent segments.

    ``percent_change`` is (after - before) / |before| * 100, so its sign is the direction of the change even for
    negative means; it is ``None`` (JSON null) when the before mean is exactly 0, where it is undefined.
    """

    date: str
    index: int
    confidence: float
    before_mean: float
    after_mean: float
    percent_change: float | None

    def to_dict(self) -> dict:
        return {
            "date": self.date,
            "confidence": self.confidence,
            "beforeMean": self.before_mean,
            "afterMean": self.after_mean,
            "percentChange": self.percent_change,
        }


@dataclass(frozen=True)
class NoiseScale:
    """The SD the default penalty is scaled by, and how it was estimated (module doc, "Noise scale").

    ``phi``, ``innovation_sd`` and ``fitted_changes`` (the number of mean changes the AR(1) was fitted around)
    belong to the ``"ar1"`` model and are ``None`` for ``"mad_diff"``.
    """

    model: str
    sd: float
    phi: float | None = None
    innovation_sd: float | None = None
    fitted_changes: int | None = None

    def to_dict(self) -> dict:
        return {"model": self.model, "sd": self.sd, "phi": self.phi, "innovationSd": self.innovation_sd,
                "fittedChanges": self.fitted_changes}


@dataclass(frozen=True)
class ChangePointResult:
    """Detected change points plus what produced them (penalty, noise estimate, bootstrap settings)."""

    change_points: tuple[ChangePoint, ...]
    algorithm: str
    penalty: float
    noise: NoiseScale
    n_bootstrap: int
    block_length: int

    @property
    def noise_sd(self) -> float:
        return self.noise.sd

    def to_dict(self) -> dict:
        return {"changePoints": [c.to_dict() for c in self.change_points], "algorithm": self.algorithm}


def detect_change_points(
    series: pd.Series,
    *,
    min_segment_length: int = 7,
    algorithm: str = "pelt",
    penalty: float | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
    noise: str = "ar1",
) -> ChangePointResult:
    """Find shifts in the mean of a regular (gap-free) series indexed by date; see the module doc for the model.

    ``penalty`` (> 0) overrides the default 2 * sigma^2 * ln(n), in the units of the l2 cost (squared outcome
    units); ``noise`` chooses how sigma is estimated (``"ar1"`` or the former ``"mad_diff"``), and the estimate
    is reported either way. The series needs at least 2 * ``min_segment_length`` observations (room for one
    change). Raises ``ValueError`` naming the bad value.
    """
    check_positive_int(min_segment_length, "min_segment_length")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {sorted(ALGORITHMS)}")
    if penalty is not None and (
        isinstance(penalty, bool) or not isinstance(penalty, Real) or not math.isfinite(penalty) or penalty <= 0
    ):
        raise ValueError(f"penalty must be a finite number > 0 (or None for the default), got {penalty!r}")
    check_positive_int(n_bootstrap, "n_bootstrap")
    check_choice(noise, "noise", NOISE_MODELS)
    min_size = int(min_segment_length)
    values = regular_series(series, name="series", min_length=2 * min_size)
    x = values.to_numpy()
    scale = ar1_noise_scale(x, min_size) if noise == "ar1" else NoiseScale("mad_diff", noise_scale(x))
    pen = float(penalty) if penalty is not None else _BIC_PER_CHANGE * scale.sd**2 * math.log(len(x))
    signal = x - x.mean()  # the l2 cost ignores the level; centring keeps the cumulative sums of squares accurate

    def detect(sample: np.ndarray) -> np.ndarray:
        return _breaks(sample, algorithm, min_size, pen)

    breaks = detect(signal)
    edges, means = _segment_means(x, breaks)
    block = min(len(x), math.ceil(len(x) ** (1.0 / 3.0)))
    confidence = _bootstrap_confidence(
        signal,
        fit=np.repeat(means - x.mean(), np.diff(edges)),
        breaks=breaks,
        detect=detect,
        tolerance=min_size / 2.0,
        n_bootstrap=n_bootstrap,
        block=block,
        seed=seed,
    )
    change_points = tuple(
        ChangePoint(
            date=date_label(values.index[b]),
            index=int(b),
            confidence=float(c),
            before_mean=float(before),
            after_mean=float(after),
            percent_change=None if before == 0 else float((after - before) / abs(before) * 100.0),
        )
        for b, c, before, after in zip(breaks, confidence, means[:-1], means[1:])
    )
    return ChangePointResult(
        change_points=change_points,
        algorithm=ALGORITHMS[algorithm],
        penalty=pen,
        noise=scale,
        n_bootstrap=int(n_bootstrap),
        block_length=block,
    )


def ar1_noise_scale(x: np.ndarray, min_segment_length: int) -> NoiseScale:
    """Long-run SD of AR(1) noise around the least-squares segmentation the criterion of the module doc chooses."""
    if np.ptp(x) == 0:
        return NoiseScale("ar1", 1.0, phi=0.0, innovation_sd=1.0, fitted_changes=0)
    n = len(x)
    floor = (_LINE_NOISE_FRACTION * x.std()) ** 2
    best = None
    for breaks in _least_squares_fits(x - x.mean(), min_segment_length):
        phi, innovation_var = _ar1_fit(x, breaks)
        innovation_var = max(innovation_var, floor)
        changes = len(breaks)
        criterion = (n - 1) * math.log(innovation_var) \
            + (_BIC_PER_CHANGE * changes + (_ANY_CHANGE_PREMIUM if changes else 0.0)) * math.log(n)
        if best is None or criterion < best[0]:
            best = (criterion, phi, innovation_var, changes)
    _, phi, innovation_var, changes = best
    innovation_sd = math.sqrt(innovation_var)
    return NoiseScale("ar1", innovation_sd / (1.0 - phi), phi=phi, innovation_sd=innovation_sd,
                      fitted_changes=changes)


def noise_scale(x: np.ndarray) -> float:
    """Noise SD of ``noise="mad_diff"``: robust MAD of differences, with the fallbacks in the module doc."""
    if np.ptp(x) == 0:
        return 1.0
    diffs = np.diff(x)
    candidates = (
        _MAD_TO_SD * np.median(np.abs(diffs - np.median(diffs))) / math.sqrt(2.0),
        diffs.std(ddof=1) / math.sqrt(2.0) if len(diffs) > 1 else 0.0,
        _LINE_NOISE_FRACTION * x.std(),
    )
    return next(float(c) for c in candidates if c > 0)


def _segment_means(x: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment edges (0, breaks..., n) and the mean of each segment."""
    edges = np.concatenate([[0], breaks, [len(x)]]).astype(int)
    return edges, np.array([x[a:b].mean() for a, b in zip(edges[:-1], edges[1:])])


def _ar1_fit(x: np.ndarray, breaks: np.ndarray) -> tuple[float, float]:
    """phi (conditional least squares, constrained to ``_PHI_RANGE``) and innovation variance of the residuals
    around the segment means: x_t - mu_t = phi (x_{t-1} - mu_{t-1}) + e_t."""
    edges, means = _segment_means(x, breaks)
    residuals = x - np.repeat(means, np.diff(edges))
    previous, current = residuals[:-1], residuals[1:]
    spread = float(previous @ previous)
    phi = float(np.clip(previous @ current / spread, *_PHI_RANGE)) if spread > 0 else 0.0
    return phi, float(np.mean((current - phi * previous) ** 2))


def _least_squares_fits(signal: np.ndarray, min_size: int) -> list[np.ndarray]:
    """Breaks of the least-squares segmentations with 0, 1, ..., k changes: ruptures' dynamic programme computes
    every k up to the largest in one call and caches them."""
    import ruptures as rpt

    most = min(len(signal) // min_size - 1, _NOISE_FIT_MAX_CHANGES)
    exact = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(signal)
    if most >= 1:
        exact.predict(n_bkps=most)
    return [np.zeros(0, dtype=int)] + [np.asarray(exact.predict(n_bkps=k)[:-1], dtype=int)
                                       for k in range(1, most + 1)]


def _breaks(signal: np.ndarray, algorithm: str, min_size: int, pen: float) -> np.ndarray:
    """Indices where new segments start (ruptures' breakpoints without the final ``n``)."""
    import ruptures as rpt

    if algorithm == "pelt":
        found = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(signal).predict(pen=pen)
    else:
        found = rpt.Binseg(custom_cost=_prefix_sum_l2()(), min_size=min_size, jump=1).fit(signal).predict(pen=pen)
    return np.asarray(found[:-1], dtype=int)


@functools.cache
def _prefix_sum_l2():
    """ruptures cost class for sum((x_i - mean)^2) over a segment from prefix sums (defined lazily: ruptures
    is imported only when a detection runs)."""
    from ruptures.base import BaseCost

    class PrefixSumL2(BaseCost):
        model = "l2"
        min_size = 1

        def fit(self, signal):
            self.signal = np.asarray(signal, dtype=float).reshape(-1, 1)
            column = self.signal[:, 0]
            self._sums = np.concatenate([[0.0], np.cumsum(column)]).tolist()
            self._squares = np.concatenate([[0.0], np.cumsum(column * column)]).tolist()
            return self

        def error(self, start, end):
            total = self._sums[end] - self._sums[start]
            return self._squares[end] - self._squares[start] - total * total / (end - start)

    return PrefixSumL2


def _bootstrap_confidence(signal, *, fit, breaks, detect, tolerance, n_bootstrap, block, seed) -> np.ndarray:
    """Share of moving-block residual resamples whose re-detected breaks fall within ``tolerance`` of each break."""
    if len(breaks) == 0:
        return np.zeros(0)
    n = len(signal)
    residuals = signal - fit
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(n_bootstrap, -(-n // block)))
    positions = (starts[:, :, None] + np.arange(block)).reshape(n_bootstrap, -1)[:, :n]
    resamples = fit + residuals[positions]
    hits = np.zeros(len(breaks))
    for sample in resamples:
        found = detect(sample)
        hits += (np.abs(found[None, :] - breaks[:, None]) <= tolerance).any(axis=1)
    return hits / n_bootstrap
