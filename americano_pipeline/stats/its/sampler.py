"""The sampler adapter: CausalPy's ``LinearRegression`` sampled by nutpie from a model compiled once and cached.

Why a module of its own: compiling the PyMC graph takes seconds and sampling it milliseconds, so the compiled model
is cached per number of coefficients for the whole process and only the data and the coefficient prior are
swapped in on each call. Both the pre-period counterfactual fit and the segmented fit go through :func:`_model`,
so whatever is sampled carries CausalPy's priors and likelihood. PyMC, CausalPy, nutpie, ArviZ and PyTensor are
imported inside the functions, keeping ``import americano_pipeline.stats.its`` light.
"""

from __future__ import annotations

import functools
import os

import numpy as np


@functools.lru_cache(maxsize=None)
def _compiled_linear_regression(n_coefficients: int):
    """nutpie-compiled CausalPy ``LinearRegression`` graph for ``n_coefficients``, cached for the process.

    The data and the coefficient prior's mean/sd are shared variables, so later calls swap them in with
    ``with_data`` instead of recompiling (compilation takes seconds, sampling this model milliseconds).
    """
    import nutpie
    import pytensor
    import xarray as xr
    from causalpy.pymc_models import LinearRegression
    from pymc_extras.prior import Prior

    prior = Prior(
        "Normal",
        mu=pytensor.shared(np.zeros(n_coefficients), name="beta_mu"),
        sigma=pytensor.shared(np.ones(n_coefficients), name="beta_sigma"),
        dims=("treated_units", "coeffs"),
    )
    template = LinearRegression(priors={"beta": prior})
    coords = {"coeffs": [f"b{i}" for i in range(n_coefficients)], "obs_ind": np.arange(2), "treated_units": ["unit_0"]}
    template.build_model(
        xr.DataArray(np.zeros((2, n_coefficients)), dims=("obs_ind", "coeffs")),
        xr.DataArray(np.zeros((2, 1)), dims=("obs_ind", "treated_units")),
        coords,
    )
    return nutpie.compile_pymc_model(template, var_names=["beta", "y_hat_sigma"])


@functools.lru_cache(maxsize=1)
def _linear_regression_class():
    """CausalPy's ``LinearRegression`` with a faster fit/predict (class built lazily to keep imports light)."""
    import arviz as az
    import nutpie
    import xarray as xr
    from causalpy.pymc_models import LinearRegression

    class NutpieLinearRegression(LinearRegression):
        """Same priors and likelihood as ``LinearRegression``; sampled by nutpie from the cached compiled graph.

        ``predict`` evaluates mu = X beta and y_hat = mu + sigma * noise directly on the posterior draws (what
        ``pm.sample_posterior_predictive`` computes, without compiling a new function on every call).
        ``sample_kwargs`` holds ``random_seed``, ``draws``, ``tune`` and ``chains``.
        """

        def fit(self, X, y, coords=None):
            beta_prior = self.priors["beta"].parameters
            n_coefficients = X.shape[1]
            compiled = _compiled_linear_regression(n_coefficients).with_data(
                X=np.asarray(X, dtype=float),
                y=np.asarray(y, dtype=float).reshape(-1, 1),
                beta_mu=np.broadcast_to(beta_prior["mu"], (n_coefficients,)),
                beta_sigma=np.broadcast_to(beta_prior["sigma"], (n_coefficients,)),
            )
            settings = self.sample_kwargs
            self.idata = nutpie.sample(
                compiled,
                draws=settings["draws"],
                tune=settings["tune"],
                chains=settings["chains"],
                cores=min(settings["chains"], os.cpu_count() or 1),
                seed=settings["random_seed"],
                progress_bar=False,
                save_warmup=False,
            )
            self.idata.posterior = self.idata.posterior.assign_coords(coeffs=list(X.coeffs.values))
            return self.idata

        def predict(self, X, coords=None, out_of_sample=False, **kwargs):
            posterior = self.idata.posterior
            beta = posterior["beta"].isel(treated_units=0).to_numpy()
            sigma = posterior["y_hat_sigma"].isel(treated_units=0).to_numpy()
            mu = np.einsum("cdk,nk->cdn", beta, np.asarray(X, dtype=float))
            noise = np.random.default_rng(self.sample_kwargs["random_seed"]).standard_normal(mu.shape)
            dims = ("chain", "draw", "obs_ind", "treated_units")
            draws = {"mu": (dims, mu[..., None]), "y_hat": (dims, (mu + sigma[..., None] * noise)[..., None])}
            coords = {
                "chain": posterior.chain.values,
                "draw": posterior.draw.values,
                "obs_ind": X.obs_ind.values,
                "treated_units": ["unit_0"],
            }
            return az.InferenceData(posterior_predictive=xr.Dataset(draws, coords=coords))

    return NutpieLinearRegression


def _model(prior_mean: np.ndarray, prior_sd: np.ndarray, sampler: dict):
    from pymc_extras.prior import Prior

    beta = Prior("Normal", mu=prior_mean, sigma=prior_sd, dims=("treated_units", "coeffs"))
    return _linear_regression_class()(sample_kwargs=dict(sampler), priors={"beta": beta})
