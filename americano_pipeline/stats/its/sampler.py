"""The sampler adapter: CausalPy's ``LinearRegression``, with independent or AR(1) errors, sampled by nutpie from a
model compiled once and cached, and its forecast of the untreated outcome.

Why a module of its own: compiling the PyMC graph takes seconds and sampling it a fraction of a second, so the
compiled model is cached per (number of coefficients, error model) for the whole process and only the data and
the coefficient prior are swapped in on each call. Both the pre-period counterfactual fit and the segmented fit go
through :func:`_model`, so whatever is sampled carries CausalPy's priors, and the forecast that turns a posterior
into a counterfactual (:func:`_forecast`) is written once for both. PyMC, CausalPy, nutpie, ArviZ and PyTensor are
imported inside the functions, keeping ``import americano_pipeline.stats.its`` light.

Error models (``errors``):

- ``"iid"``: CausalPy's ``LinearRegression`` unchanged, y_t ~ N(mu_t, sigma), sampled jointly.
- ``"ar1"``: the same regression mean mu = X beta and priors (beta ~ N(prior mean, prior sd), sigma ~ CausalPy's
  HalfNormal(1), now the innovation sd and still named ``y_hat_sigma``), with residuals r_t = y_t - mu_t following
  a stationary AR(1), r_t = phi r_{t-1} + e_t, e_t ~ N(0, sigma), the first from N(0, sigma / sqrt(1 - phi^2)).
  The prior of phi is the Jeffreys prior of a stationary AR(1), p(phi) ~ (1 - phi^2)^(-1/2) on (-1, 1): a baseline
  of one or two weeks says little about phi, and with a uniform prior the posterior understated strong persistence
  (on ``bench/calibration.py``'s null ABAB protocols at phi = 0.6 the effect and persistence intervals excluded 0
  about 8% of the time, against 5% with this prior); it favours neither sign.

Sampling the AR(1) model. The regression level is not identified as |phi| -> 1, so beta and phi form a funnel that
NUTS samples badly (sampled jointly with this prior, half of the calibration's fits had a bulk ESS below 400 and a
fifth an R-hat above 1.01). Given phi and sigma the model is a Gaussian linear model, so beta is integrated out: nutpie samples
(sigma, phi) from their exact marginal posterior (:func:`_ar1_marginal_log_likelihood`), and one beta per draw is
drawn from its Gaussian conditional (:func:`_conditional_coefficients`), an exact draw from the joint posterior.
"""

from __future__ import annotations

import functools
import os

import numpy as np

_ERRORS = ("ar1", "iid")


def _prais_winsten(values, phi, xp):
    """Rows (time on the second-to-last axis) whitened for AR(1) errors: sqrt(1 - phi^2) v_1, then v_t - phi v_{t-1}.

    ``xp`` is ``numpy`` or ``pytensor.tensor``; a ``phi`` shaped (draws, 1, 1) gives one whitened copy per draw.
    """
    head = xp.sqrt(1 - phi**2) * values[..., :1, :]
    return xp.concatenate([head, values[..., 1:, :] - phi * values[..., :-1, :]], axis=-2)


def _ar1_marginal_log_likelihood(X, y, prior_mean, prior_sd, phi, sigma):
    """log p(y | phi, sigma) of the AR(1) regression with beta ~ N(prior_mean, diag(prior_sd^2)) integrated out
    (``X`` n x k, ``y`` an n x 1 column; PyTensor expressions).

    Whitening (Prais-Winsten, Jacobian sqrt(1 - phi^2)) turns the errors into iid N(0, sigma), so the whitened
    y_w ~ N(X_w m, sigma^2 (I + W W')) with W = X_w diag(prior_sd) / sigma; by Woodbury and the determinant lemma
    only the k x k matrix A = I + W'W is factorised (its determinant is >= 1, no underflow with vague priors).
    """
    import pytensor.tensor as pt
    from pytensor.tensor.slinalg import solve

    whitened_y = _prais_winsten(y, phi, pt)[:, 0]
    whitened_x = _prais_winsten(X, phi, pt)
    residual = whitened_y - pt.dot(whitened_x, prior_mean)
    scaled = whitened_x * prior_sd / sigma
    precision = pt.eye(X.shape[1]) + pt.dot(scaled.T, scaled)
    projection = pt.dot(scaled.T, residual) / sigma
    quadratic = pt.dot(residual, residual) / sigma**2 - pt.dot(projection, solve(precision, projection, assume_a="pos"))
    n = y.shape[0]
    log_det = 2 * n * pt.log(sigma) + pt.log(pt.linalg.det(precision))
    return -0.5 * (n * np.log(2 * np.pi) + log_det + quadratic) + 0.5 * pt.log1p(-(phi**2))


def _ar1_model(n_coefficients: int):
    """The (sigma, phi) model of the module doc; data and the beta prior are shared variables (see ``with_data``)."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt
    from causalpy.pymc_models import LinearRegression

    with pm.Model(coords={"treated_units": ["unit_0"]}) as model:
        X = pm.Data("X", np.zeros((2, n_coefficients)))
        y = pm.Data("y", np.zeros((2, 1)))
        prior_mean = pytensor.shared(np.zeros(n_coefficients), name="beta_mu")
        prior_sd = pytensor.shared(np.ones(n_coefficients), name="beta_sigma")
        sigma = LinearRegression.default_priors["y_hat"].parameters["sigma"].create_variable("y_hat_sigma")
        phi = pm.Uniform("phi", lower=-1.0, upper=1.0)
        pm.Potential("phi_jeffreys_prior", -0.5 * pt.log1p(-(phi**2)))
        pm.Potential("ar1_likelihood", _ar1_marginal_log_likelihood(X, y, prior_mean, prior_sd, phi, sigma[0]))
    return model


@functools.cache
def _compiled_model(n_coefficients: int, errors: str):
    """nutpie-compiled graph of the ``errors`` model for ``n_coefficients``, cached for the process.

    The data and the coefficient prior's mean/sd are shared variables, so later calls swap them in with
    ``with_data`` instead of recompiling (compilation takes seconds, sampling a fraction of a second).
    """
    import nutpie
    import pytensor
    import xarray as xr
    from causalpy.pymc_models import LinearRegression
    from pymc_extras.prior import Prior

    from americano_pipeline.third_party import configure_pytensor

    configure_pytensor()  # before the first compilation: no search for a BLAS (and no warning about none)
    if errors == "ar1":
        return nutpie.compile_pymc_model(_ar1_model(n_coefficients), var_names=["y_hat_sigma", "phi"])
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


def _conditional_coefficients(posterior, X: np.ndarray, y: np.ndarray, prior_mean: np.ndarray,
                              prior_sd: np.ndarray, seed: int) -> np.ndarray:
    """One draw of beta | sigma, phi, y per posterior draw, shaped (chain, draw, coefficient).

    With beta = m + diag(prior_sd) g, the conditional of g is N(A^-1 b, A^-1), A and b as in
    :func:`_ar1_marginal_log_likelihood`: a Gaussian linear model on the whitened data.
    """
    sigma = posterior["y_hat_sigma"].isel(treated_units=0).to_numpy()
    shape = sigma.shape
    sigma, phi = sigma.ravel(), posterior["phi"].to_numpy().reshape(-1, 1, 1)
    whitened_x = _prais_winsten(X, phi, np)
    residual = _prais_winsten(y[:, None], phi, np)[..., 0] - whitened_x @ prior_mean
    scaled = whitened_x * prior_sd / sigma[:, None, None]
    precision = np.eye(X.shape[1]) + np.einsum("dnk,dnj->dkj", scaled, scaled)
    projection = np.einsum("dnk,dn->dk", scaled, residual) / sigma[:, None]
    root = np.linalg.cholesky(precision)
    noise = np.random.default_rng(seed).standard_normal(projection.shape)
    spread = np.linalg.solve(np.swapaxes(root, 1, 2), noise[..., None])[..., 0]
    coefficients = prior_mean + prior_sd * (np.linalg.solve(precision, projection[..., None])[..., 0] + spread)
    return coefficients.reshape(*shape, -1)


def _forecast(posterior, X: np.ndarray, last_x: np.ndarray, last_y: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Posterior forecast of the untreated outcome at the rows of ``X``, the periods right after the last fitted
    one (regressors ``last_x``, outcome ``last_y``): its conditional mean and one predictive draw per posterior draw.

    Mean: X beta + phi^h * r_T, where r_T = last_y - last_x . beta is the last fitted residual and h = 1, 2, ... the
    horizon, so the AR part of that residual decays into the forecast (with independent errors phi = 0 and the
    mean is X beta). Draw: the mean plus the AR(1) noise the innovations after T add (nu_h = phi nu_{h-1} + sigma
    e_h, nu_0 = 0), the predictive distribution of an untreated observation. The noise is centred over the
    posterior draws date by date, so the draws' mean equals the conditional mean exactly and the Monte Carlo error
    of the simulated noise never moves a point estimate. Arrays are shaped (chain, draw, date).
    """
    beta = posterior["beta"].isel(treated_units=0).to_numpy()
    sigma = posterior["y_hat_sigma"].isel(treated_units=0).to_numpy()
    phi = posterior["phi"].to_numpy() if "phi" in posterior else np.zeros_like(sigma)
    anchor = last_y - beta @ np.asarray(last_x, dtype=float)
    horizon = np.arange(1, X.shape[0] + 1)
    mean = np.einsum("cdk,nk->cdn", beta, np.asarray(X, dtype=float)) + phi[..., None] ** horizon * anchor[..., None]
    innovations = sigma[..., None] * np.random.default_rng(seed).standard_normal(mean.shape)
    noise = np.empty_like(innovations)
    previous = np.zeros_like(sigma)
    for step in range(X.shape[0]):
        previous = phi * previous + innovations[..., step]
        noise[..., step] = previous
    return mean, mean + noise - noise.mean(axis=(0, 1))


@functools.cache
def _regression_class(errors: str):
    """CausalPy's ``LinearRegression`` sampled by nutpie, with ``errors`` residuals (class built lazily)."""
    import arviz as az
    import nutpie
    import xarray as xr
    from causalpy.pymc_models import LinearRegression

    class NutpieRegression(LinearRegression):
        """CausalPy's priors and regression mean; the likelihood of the module doc's ``errors`` model.

        ``predict`` evaluates on the posterior draws directly (no new compiled function per call): in sample it
        gives the regression mean ``mu`` = X beta, which CausalPy subtracts for its pre-period impact (the
        regression residuals); out of sample (CausalPy's post period) it gives :func:`_forecast` from the last
        fitted period, ``mu`` being the forecast's conditional mean and ``y_hat`` its predictive draws.
        ``sample_kwargs`` holds ``random_seed``, ``draws``, ``tune`` and ``chains``.
        """

        def fit(self, X, y, coords=None):
            n_coefficients = X.shape[1]
            design, outcome = np.asarray(X, dtype=float), np.asarray(y, dtype=float).ravel()
            prior_mean = np.broadcast_to(self.priors["beta"].parameters["mu"], (n_coefficients,)).astype(float)
            prior_sd = np.broadcast_to(self.priors["beta"].parameters["sigma"], (n_coefficients,)).astype(float)
            compiled = _compiled_model(n_coefficients, errors).with_data(
                X=design, y=outcome.reshape(-1, 1), beta_mu=prior_mean, beta_sigma=prior_sd
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
            posterior = self.idata.posterior
            if errors == "ar1":
                beta = _conditional_coefficients(posterior, design, outcome, prior_mean, prior_sd,
                                                 settings["random_seed"])
                posterior["beta"] = (("chain", "draw", "treated_units", "coeffs"), beta[:, :, None, :])
            self.idata.posterior = posterior.assign_coords(coeffs=list(X.coeffs.values))
            self.last_fitted = (design[-1], float(outcome[-1]))
            return self.idata

        def predict(self, X, coords=None, out_of_sample=False, **kwargs):
            posterior = self.idata.posterior
            if out_of_sample:
                mu, y_hat = _forecast(posterior, np.asarray(X, dtype=float), *self.last_fitted,
                                      self.sample_kwargs["random_seed"])
            else:
                beta = posterior["beta"].isel(treated_units=0).to_numpy()
                mu, y_hat = np.einsum("cdk,nk->cdn", beta, np.asarray(X, dtype=float)), None
            dims = ("chain", "draw", "obs_ind", "treated_units")
            draws = {"mu": (dims, mu[..., None])} | ({} if y_hat is None else {"y_hat": (dims, y_hat[..., None])})
            coords = {
                "chain": posterior.chain.values,
                "draw": posterior.draw.values,
                "obs_ind": X.obs_ind.values,
                "treated_units": ["unit_0"],
            }
            return az.InferenceData(posterior_predictive=xr.Dataset(draws, coords=coords))

    return NutpieRegression


def _model(prior_mean: np.ndarray, prior_sd: np.ndarray, sampler: dict, errors: str):
    from pymc_extras.prior import Prior

    beta = Prior("Normal", mu=prior_mean, sigma=prior_sd, dims=("treated_units", "coeffs"))
    return _regression_class(errors)(sample_kwargs=dict(sampler), priors={"beta": beta})
