"""Speed and agreement of ``bayesian_its`` against CausalPy's default interrupted time series, in one run.

Both fit the same 44 daily points (30 pre, 14 post; pre N(50, 10), post N(70, 10), seed 0) with the same design
(intercept + trend + day-of-week):

- "CausalPy default": ``cp.InterruptedTimeSeries(df, date, "y ~ 1 + t + C(dow)", LinearRegression(...))`` with
  default sample kwargs (only ``random_seed`` set, for reproducible numbers): ``pm.sample`` defaults (NUTS,
  1000 tune + 1000 draws, chains = cores = 2 on this machine), then prior and posterior predictive sampling.
- "americano AR(1)": ``bayesian_its(series, date, seed=0)``, the default AR(1) errors (nutpie, cached compiled
  model, 2 x 2000 draws, plus the HAC cross-check and all summaries);
- "americano iid": the same with ``errors="iid"``, CausalPy's independent-error likelihood.

Cold = the first call in this process after the libraries are imported (it includes compilation that the on-disk
caches of PyTensor/numba do not already hold, so it varies between machines and runs); warm = median of the
following calls. Targets: warm ratio >= 5 for both, and |difference of effect means| <= 0.1 posterior sd for the
iid model, which has CausalPy's likelihood. The AR(1) model's mean is a different estimate (GLS-like coefficients
and the decay of the last pre-period residual into the forecast), so its difference is reported, not targeted.
The effect sds differ by design: CausalPy's interval is of observed minus the counterfactual *mean* and its noise
prior is HalfNormal(1) in outcome units, americano's of observed minus a counterfactual *draw* on standardised data
(see ``bayesian_its``).

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


def americano(errors: str):
    def fit(series: pd.Series, intervention: pd.Timestamp) -> tuple[float, float]:
        from americano_pipeline.stats.its import bayesian_its

        effect = bayesian_its(series, intervention, seed=0, errors=errors).to_dict()["causalEffect"]
        return effect["mean"], effect["sd"]

    return fit


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
    import causalpy  # noqa: F401  (imports are not part of any timing)
    import nutpie  # noqa: F401

    from americano_pipeline.stats import its  # noqa: F401

    logging.getLogger("pymc").setLevel(logging.ERROR)
    series, intervention = data()
    runs = {"CausalPy default": timed(causalpy_default, series, intervention),
            "americano AR(1)": timed(americano("ar1"), series, intervention),
            "americano iid": timed(americano("iid"), series, intervention)}
    default = runs["CausalPy default"]
    print("Bayesian ITS on 44 daily points (30 pre, 14 post)")
    print(f"{'':22}" + "".join(f"{name:>18}" for name in runs))
    print(f"{'cold (s)':22}" + "".join(f"{run[0]:18.2f}" for run in runs.values()))
    print(f"{'warm median (s)':22}" + "".join(f"{run[1]:18.3f}" for run in runs.values()))
    print(f"{'effect mean':22}" + "".join(f"{run[3][0]:18.3f}" for run in runs.values()))
    print(f"{'effect posterior sd':22}" + "".join(f"{run[3][1]:18.3f}" for run in runs.values()))
    for name, run in runs.items():
        print(f"{name} warm runs (s): " + " ".join(f"{t:.2f}" for t in run[2]))
    for name in ("americano AR(1)", "americano iid"):
        cold, warm, _, (mean, sd) = runs[name]
        difference = abs(mean - default[3][0])
        target = " (target <= 0.1)" if name == "americano iid" else " (reported, not targeted)"
        print(f"{name}: warm speed-up {default[1] / warm:.1f}x (target >= 5x), cold ratio {default[0] / cold:.2f}x; "
              f"|mean difference| = {difference:.3f} = {difference / default[3][1]:.3f} default posterior sd "
              f"= {difference / sd:.3f} own posterior sd{target}")


if __name__ == "__main__":
    main()
