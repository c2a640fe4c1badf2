"""The ITS reads its posterior as plain arrays (issue #15): the same numbers as ArviZ's ``InferenceData`` path it
replaced, bit for bit, because published results are reproduced to 1e-9 and were calibrated with these draws.

Each test compares one shortcut with what the library computes on its own objects: nutpie's raw trace with the
posterior of its ``InferenceData``, the diagnostics and HDIs on arrays with ArviZ on an xarray ``Dataset``, and the
counterfactual's design with the one CausalPy's ``InterruptedTimeSeries`` builds from its formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from americano_pipeline.stats.its import design, fit, sampler
from americano_pipeline.stats.its.sampler import _Posterior
from tests.unit.stats.its_support import INTERVENTION, step_series

SETTINGS = {"random_seed": 5, "draws": 300, "tune": 200, "chains": 2}


def random_posterior(seed: int, phi: bool) -> _Posterior:
    """Autocorrelated draws (like a sampler's), 2 chains x 500 draws, 3 coefficients."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(size=(2, 500, 5)), axis=1) * 0.05 + rng.normal(size=(2, 500, 5))
    return _Posterior(beta=walk[..., :3], sigma=np.exp(walk[..., 3]), phi=np.tanh(walk[..., 4]) if phi else None)


def as_dataset(posterior: _Posterior) -> xr.Dataset:
    """The posterior as it used to be held: CausalPy's names and dimensions."""
    data = {"beta": (("chain", "draw", "treated_units", "coeffs"), posterior.beta[:, :, None, :]),
            "y_hat_sigma": (("chain", "draw", "treated_units"), posterior.sigma[..., None])}
    if posterior.phi is not None:
        data["phi"] = (("chain", "draw"), posterior.phi)
    return xr.Dataset(data)


@pytest.mark.parametrize(("seed", "phi"), [(0, True), (1, False), (2, True)])
def test_diagnostics_on_arrays_equal_arviz_on_the_dataset(seed, phi):
    import arviz as az

    posterior = random_posterior(seed, phi)
    dataset = as_dataset(posterior)
    diagnostics = fit._diagnostics(posterior, np.random.default_rng(seed).normal(size=20))
    assert diagnostics["rhat"] == float(az.rhat(dataset).to_array().max())
    assert diagnostics["ess_bulk"] == float(az.ess(dataset, method="bulk").to_array().min())
    assert diagnostics["ess_tail"] == float(az.ess(dataset, method="tail").to_array().min())


def test_hdis_on_arrays_equal_arviz_on_the_whole_array():
    import arviz as az

    draws = np.random.default_rng(3).standard_t(3, size=(2, 500, 7)).cumsum(axis=1)
    assert np.array_equal(fit._hdi(draws), np.asarray(az.hdi(draws, hdi_prob=0.95)))
    assert np.array_equal(fit._hdi(draws[..., 0]), np.asarray(az.hdi(draws[..., :1], hdi_prob=0.95)))


def test_the_counterfactual_design_is_causalpy_s_formula_design():
    import causalpy as cp
    from sklearn.linear_model import LinearRegression

    series = step_series(5.0, seed=2)
    phases = design._phases(series.index, INTERVENTION, None)
    covariates = pd.DataFrame({"sleep": np.random.default_rng(2).normal(7, 1, len(series))}, index=series.index)
    raw, _ = design._raw_predictors(series.index, True, True, covariates)
    predictors = raw.apply(lambda column: design._standardised(column, phases.pre, "x")[0])
    experiment = cp.InterruptedTimeSeries(predictors.assign(y=series.to_numpy()), INTERVENTION,
                                          formula=" + ".join(["y ~ 1", *predictors.columns]),
                                          model=LinearRegression(fit_intercept=False))
    ours = fit._intercept_design(predictors)
    for theirs, rows in ((experiment.pre_design["X"], phases.pre), (experiment.post_design["X"], ~phases.pre)):
        theirs = np.asarray(theirs)
        assert np.array_equal(ours[rows], theirs) and ours[rows].flags.c_contiguous == theirs.flags.c_contiguous


@pytest.mark.slow
@pytest.mark.parametrize("errors", ["ar1", "iid"])
def test_the_raw_trace_holds_the_posterior_of_nutpie_s_inference_data(errors):
    import nutpie

    X = np.column_stack([np.ones(20), np.linspace(-1, 1, 20)])
    y = X @ [1.0, 0.5] + np.random.default_rng(6).normal(size=20)
    compiled = sampler._compiled_model(2, errors).with_data(X=X, y=y[:, None], beta_mu=np.zeros(2),
                                                            beta_sigma=np.full(2, 50.0))
    settings = {"draws": SETTINGS["draws"], "tune": SETTINGS["tune"], "chains": 2, "cores": 2,
                "seed": SETTINGS["random_seed"], "progress_bar": False, "save_warmup": False}
    posterior = nutpie.sample(compiled, **settings).posterior
    draws = sampler._draws(nutpie.sample(compiled, return_raw_trace=True, **settings))
    assert set(draws) == set(posterior.data_vars)
    for name, values in draws.items():
        assert np.array_equal(values.reshape(posterior[name].shape), posterior[name].to_numpy())
    sampled = sampler._sample(X, y, np.zeros(2), np.full(2, 50.0), SETTINGS, errors)
    assert np.array_equal(sampled.sigma, posterior["y_hat_sigma"].to_numpy()[..., 0])
    if errors == "iid":
        assert sampled.phi is None and np.array_equal(sampled.beta, posterior["beta"].to_numpy()[:, :, 0])
    else:
        assert np.array_equal(sampled.phi, posterior["phi"].to_numpy()) and sampled.beta.shape == (2, 300, 2)
