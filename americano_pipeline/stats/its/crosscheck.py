"""Frequentist cross-check for the Bayesian interrupted time series: segmented OLS with Newey-West HAC errors.

Why a second, frequentist estimate: daily self-tracking outcomes are usually positively autocorrelated, and the
Bayesian model handles that with a parametric assumption (AR(1) residuals by default, independent ones with
``errors="iid"``). Newey-West heteroskedasticity- and autocorrelation-consistent (HAC) standard errors stay valid
under any short-range autocorrelation without that assumption, so a large disagreement between the two intervals
is a warning sign worth showing next to the Bayesian result.

Convention: as Stata's ``newey`` — OLS point estimates, Bartlett-kernel HAC covariance with the small-sample factor
n/(n-k), and t-based confidence intervals and p-values on n-k degrees of freedom.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def newey_west_maxlags(n_obs: int) -> int:
    """Bartlett-kernel truncation lag floor(4 * (n/100)^(2/9)).

    The Newey-West (1994) plug-in rule of thumb (also the one Greene's Econometric Analysis and Stata's manual
    quote): it grows slowly with n, e.g. 3 lags for 44 daily points, 4 for 100, 5 for 365.
    """
    if n_obs < 1:
        raise ValueError(f"n_obs must be a positive number of observations, got {n_obs}")
    return int(math.floor(4 * (n_obs / 100) ** (2 / 9)))


def hac_level_change(outcome: np.ndarray, predictors: pd.DataFrame, level_column: str,
                     method: str = "segmented OLS with Newey-West HAC errors") -> dict:
    """Level change (coefficient of ``level_column``) from OLS of ``outcome`` on an intercept plus ``predictors``.

    ``predictors`` holds the trend, seasonal and covariate columns and the 0/1 post-intervention indicator named
    ``level_column``; there is no slope-change term, so the coefficient is the average shift of the post period
    relative to the trend, the quantity the Bayesian ITS estimates (the classic segmented model of Wagner et al.
    2002 adds a slope change, which would turn the level coefficient into the shift at the intervention date only).
    Unlike the Bayesian counterfactual, the trend is estimated from both periods.

    ``method`` names the regression in the result (and in the interpretation's cross-check sentence).

    Returns ``{"method", "levelChange", "se", "ci95": [lo, hi], "pValue", "hacMaxLags", "nObs"}`` in plain
    Python types.
    """
    import statsmodels.api as sm

    y = np.asarray(outcome, dtype=float)
    exog = sm.add_constant(predictors.astype(float), has_constant="add")
    if len(y) != len(exog):
        raise ValueError(f"outcome has {len(y)} values but predictors have {len(exog)} rows")
    if len(y) <= exog.shape[1]:
        raise ValueError(
            f"the HAC regression has {len(y)} observations for {exog.shape[1]} coefficients; it needs more "
            "observations than coefficients"
        )
    maxlags = newey_west_maxlags(len(y))
    fit = sm.OLS(y, exog).fit(cov_type="HAC", cov_kwds={"maxlags": maxlags, "use_correction": True}, use_t=True)
    lower, upper = fit.conf_int(alpha=0.05).loc[level_column]
    return {
        "method": method,
        "levelChange": float(fit.params[level_column]),
        "se": float(fit.bse[level_column]),
        "ci95": [float(lower), float(upper)],
        "pValue": float(fit.pvalues[level_column]),
        "hacMaxLags": maxlags,
        "nObs": int(len(y)),
    }
