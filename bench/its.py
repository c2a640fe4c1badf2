"""Speed and agreement of ``bayesian_its`` against CausalPy's default interrupted time series, in one run.

Both fit the same 44 daily points (30 pre, 14 post; pre N(50, 10), post N(70, 10), seed 0) with the same design
(intercept + trend + day-of-week):

- "CausalPy default": ``cp.InterruptedTimeSeries(df, date, "y ~ 1 + t + C(dow)", LinearRegression(...))`` with
  default sample kwargs (only ``random_seed`` set, for reproducible numbers): ``pm.sample`` defaults (NUTS,
  1000 tune + 1000 draws, chains = cores = 2 on this machine), then prior and posterior predictive sampling.
- "americano": ``bayesian_its(series, date, seed=0)`` (nutpie, cached compiled model, 2 x 2000 draws, plus the
  HAC cross-check and all summaries).

Cold = the first call in this process after the libraries are imported (it includes compilation that the on-disk
caches of PyTensor/numba do not already hold, so it varies between machines and runs); warm = median of the
following calls. Targets: warm ratio >= 5 and |difference of effect means| <= 0.1 posterior sd.

Run: ``.venv/bin/python bench/its.py``
"""

from __future__ import annotations

import logging
import statistics
import time

import numpy as np
import pandas as pd

WARM_REPEATS = 5


def data() -> tuple[pd.Series, pd.Timestamp]:
    rng = np.random.default_rng(0)
    index = pd.date_range("2024-01-01", periods=44, freq="D")
    return pd.Series(np.r_[rng.normal(50, 10, 30), rng.normal(70, 10, 14)], index=index), index[30]


def causalpy_default(series: pd.Series, intervention: pd.Timestamp) -> tuple[float, float]:
    import causalpy as cp

    frame = pd.DataFrame({"y": series.to_numpy(), "t": np.arange(len(series)), "dow": series.index.dayofweek},
                         index=series.index)
    model = cp.pymc_models.LinearRegression(sample_kwargs={"random_seed": 0})
    result = cp.InterruptedTimeSeries(frame, intervention, formula="y ~ 1 + t + C(dow)", model=model)
    effect = result.post_impact.mean("obs_ind")
    return float(effect.mean()), float(effect.std())


def americano(series: pd.Series, intervention: pd.Timestamp) -> tuple[float, float]:
    from americano_pipeline.stats.its import bayesian_its

    effect = bayesian_its(series, intervention, seed=0).to_dict()["causalEffect"]
    return effect["mean"], effect["sd"]


def timed(function, series, intervention) -> tuple[float, float, list[float], tuple[float, float]]:
    start = time.perf_counter()
    function(series, intervention)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(WARM_REPEATS):
        start = time.perf_counter()
        estimate = function(series, intervention)
        warm.append(time.perf_counter() - start)
    return cold, statistics.median(warm), warm, estimate


def main() -> None:
    import causalpy  # noqa: F401  (imports are not part of either timing)
    import nutpie  # noqa: F401

    from americano_pipeline.stats import its  # noqa: F401

    logging.getLogger("pymc").setLevel(logging.ERROR)
    series, intervention = data()
    default_cold, default_warm, default_all, (default_mean, default_sd) = timed(causalpy_default, series, intervention)
    ours_cold, ours_warm, ours_all, (ours_mean, ours_sd) = timed(americano, series, intervention)

    difference = abs(ours_mean - default_mean)
    print("Bayesian ITS on 44 daily points (30 pre, 14 post)")
    print(f"{'':22}{'CausalPy default':>18}{'americano':>14}")
    print(f"{'cold (s)':22}{default_cold:18.2f}{ours_cold:14.2f}")
    print(f"{'warm median (s)':22}{default_warm:18.3f}{ours_warm:14.3f}")
    runs = [" ".join(f"{t:.2f}" for t in times) for times in (default_all, ours_all)]
    print(f"{'warm runs (s)':22}{runs[0]:>18}  {runs[1]}")
    print(f"{'effect mean':22}{default_mean:18.3f}{ours_mean:14.3f}")
    print(f"{'effect posterior sd':22}{default_sd:18.3f}{ours_sd:14.3f}")
    print(f"warm speed-up: {default_warm / ours_warm:.1f}x (target >= 5x); cold ratio {default_cold / ours_cold:.2f}x")
    print(
        f"|mean difference| = {difference:.3f} = {difference / default_sd:.3f} default posterior sd "
        f"= {difference / ours_sd:.3f} americano posterior sd (target <= 0.1)"
    )


if __name__ == "__main__":
    main()
