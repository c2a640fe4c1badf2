"""The sampler adapter: CausalPy's ``LinearRegression`` model, with independent or AR(1) errors, sampled by nutpie
from a model compiled once and cached, its fit over the periods it was fitted on and its forecast of the untreated
outcome.

Why a module of its own: compiling the PyMC graph takes seconds and sampling it a fraction of a second, so the
compiled model is cached per (number of coefficients, error model) for the whole process and only the data and
the coefficient prior are swapped in on each call. Both the pre-period counterfactual fit and the segmented fit go
through :func:`_sample`, so whatever is sampled carries CausalPy's priors, and the fit (:func:`_fitted`) and the
forecast that turns a posterior into a counterfactual (:func:`_forecast`) are written once for both. The draws are
read from nutpie's raw trace into plain arrays (:class:`_Posterior`): nothing here needs ArviZ's labels, and
building an ``InferenceData`` of them, then xarray objects to slice it, took about 0.05 s of a 0.35 s warm fit
(issue #15). PyMC, CausalPy, nutpie, PyArrow and PyTensor are imported inside the functions, keeping
``import americano_pipeline.stats.its`` light.

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
fifth an R-hat above 1.01). Given phi and sigma the model is a Gaussian linear model, so beta is integrated out:
nutpie samples (sigma, phi) from their exact marginal posterior (:func:`_ar1_marginal_log_likelihood`), and one
beta per draw is drawn from its Gaussian conditional (:func:`_conditional_coefficients`), an exact draw from the
joint posterior.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

_ERRORS = ("ar1", "iid")
_FIT_STREAM = 1  # the random stream of the pre-period predictive draws (``_fitted``), apart from the others


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


def _conditional_coefficients(sigma: np.ndarray, phi: np.ndarray, X: np.ndarray, y: np.ndarray,
                              prior_mean: np.ndarray, prior_sd: np.ndarray, seed: int) -> np.ndarray:
    """One draw of beta | sigma, phi, y per posterior draw of (sigma, phi) (both shaped (chain, draw)), shaped
    (chain, draw, coefficient).

    With beta = m + diag(prior_sd) g, the conditional of g is N(A^-1 b, A^-1), A and b as in
    :func:`_ar1_marginal_log_likelihood`: a Gaussian linear model on the whitened data.
    """
    shape = sigma.shape
    sigma, phi = sigma.ravel(), phi.reshape(-1, 1, 1)
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


@dataclass(frozen=True)
class _Posterior:
    """Posterior draws of the regression, shaped (chain, draw[, coefficient]): ``beta`` in the columns' order of
    the design it was fitted on, ``sigma`` the noise (innovation) sd, ``phi`` None for independent errors.

    Plain arrays, not an ArviZ ``InferenceData``: every summary needs the draws only, and building and slicing the
    labelled datasets took longer than all the arithmetic done on them (issue #15).
    """

    beta: np.ndarray
    sigma: np.ndarray
    phi: np.ndarray | None


def _sample(X: np.ndarray, y: np.ndarray, prior_mean: np.ndarray, prior_sd: np.ndarray, sampler: dict,
            errors: str) -> _Posterior:
    """Posterior of the ``errors`` regression of ``y`` (1-d) on the rows of ``X`` with CausalPy's priors and
    beta ~ N(prior_mean, diag(prior_sd^2)), sampled by nutpie on the cached compiled model (module doc).

    ``sampler`` holds ``random_seed``, ``draws``, ``tune`` and ``chains`` (per chain). With AR(1) errors, nutpie
    samples (sigma, phi) and beta is drawn from its conditional (:func:`_conditional_coefficients`).
    """
    import nutpie

    prior_mean, prior_sd = np.asarray(prior_mean, dtype=float), np.asarray(prior_sd, dtype=float)
    compiled = _compiled_model(X.shape[1], errors).with_data(X=X, y=y.reshape(-1, 1), beta_mu=prior_mean,
                                                             beta_sigma=prior_sd)
    trace = nutpie.sample(
        compiled,
        draws=sampler["draws"],
        tune=sampler["tune"],
        chains=sampler["chains"],
        cores=min(sampler["chains"], os.cpu_count() or 1),
        seed=sampler["random_seed"],
        progress_bar=False,
        save_warmup=False,
        return_raw_trace=True,
    )
    draws = _draws(trace)
    sigma = draws["y_hat_sigma"][..., 0]
    if errors == "iid":
        return _Posterior(beta=draws["beta"], sigma=sigma, phi=None)
    phi = draws["phi"][..., 0]
    beta = _conditional_coefficients(sigma, phi, X, y, prior_mean, prior_sd, sampler["random_seed"])
    return _Posterior(beta=beta, sigma=sigma, phi=phi)


def _draws(trace) -> dict[str, np.ndarray]:
    """Every variable of nutpie's raw (Arrow) trace after tuning, shaped (chain, draw, values of one draw): the
    numbers nutpie's own conversion puts in the posterior of an ``InferenceData``, without building one."""
    import pyarrow

    draw_batches, stat_batches = trace.get_arrow_trace()
    chains: dict[str, list[np.ndarray]] = {}
    for batch, stats in zip(draw_batches, stat_batches):
        tuning = int(stats.column("tuning").to_numpy().sum())
        for name in batch.column_names:
            column = pyarrow.array(batch.column(name))
            values = (column.flatten() if hasattr(column, "flatten") else column).to_numpy(zero_copy_only=False)
            chains.setdefault(name, []).append(values.reshape(batch.num_rows, -1)[tuning:])
    return {name: np.stack(each) for name, each in chains.items()}


def _fitted(posterior: _Posterior, X: np.ndarray, y: np.ndarray,
            seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fit at the periods the model was fitted on (rows of ``X``, outcomes ``y``): the regression mean X beta,
    the model's prediction of each period from the ones before it and one posterior predictive draw of it per
    posterior draw, arrays shaped (chain, draw, date).

    The prediction is the forecast of :func:`_forecast` at horizon 1, the convention of fitted values for AR
    errors (statsmodels' and R's ``Arima``): X_t beta + phi r_{t-1}, r the regression residual, with predictive sd
    sigma; the first period has no predecessor, so it is X_1 beta with the stationary sd sigma / sqrt(1 - phi^2)
    (as in the likelihood). With independent errors (phi = 0) both are CausalPy's fit, mu = X beta and y_hat. So
    the fit continues into the counterfactual: at the first forecast day its band is as wide as the fit's. The
    noise is centred date by date as in :func:`_forecast`, from a random stream of its own (no other number
    changes).
    """
    regression = np.einsum("cdk,nk->cdn", posterior.beta, X)
    if posterior.phi is None:
        mean, spread = regression, np.broadcast_to(posterior.sigma[..., None], regression.shape)
    else:
        phi = posterior.phi[..., None]
        residual = y - regression
        mean = regression + phi * np.concatenate([np.zeros_like(residual[..., :1]), residual[..., :-1]], axis=-1)
        spread = np.concatenate([posterior.sigma[..., None] / np.sqrt(1 - phi**2),
                                 np.broadcast_to(posterior.sigma[..., None], residual[..., 1:].shape)], axis=-1)
    noise = spread * np.random.default_rng([seed, _FIT_STREAM]).standard_normal(mean.shape)
    return regression, mean, mean + noise - noise.mean(axis=(0, 1))


def _forecast(posterior: _Posterior, X: np.ndarray, last_x: np.ndarray, last_y: float,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Posterior forecast of the untreated outcome at the rows of ``X``, the periods right after the last fitted
    one (regressors ``last_x``, outcome ``last_y``): its conditional mean and one predictive draw per posterior draw.

    Mean: X beta + phi^h * r_T, where r_T = last_y - last_x . beta is the last fitted residual and h = 1, 2, ... the
    horizon, so the AR part of that residual decays into the forecast (with independent errors phi = 0 and the
    mean is X beta). Draw: the mean plus the AR(1) noise the innovations after T add (nu_h = phi nu_{h-1} + sigma
    e_h, nu_0 = 0), the predictive distribution of an untreated observation. The noise is centred over the
    posterior draws date by date, so the draws' mean equals the conditional mean exactly and the Monte Carlo error
    of the simulated noise never moves a point estimate. Arrays are shaped (chain, draw, date).
    """
    beta, sigma = posterior.beta, posterior.sigma
    phi = np.zeros_like(sigma) if posterior.phi is None else posterior.phi
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
