"""Series and posteriors with known truth for the ITS tests (test_its.py, test_its_autocorrelation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import signal

from americano_pipeline.stats.its.sampler import _Posterior

START = pd.Timestamp("2024-01-01")
INTERVENTION = START + pd.Timedelta(days=30)


def daily(values, start=START) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.date_range(start, periods=len(values), freq="D"))


def ar1_noise(n: int, phi: float, seed: int, sd: float = 10.0) -> np.ndarray:
    """A stationary AR(1) path with marginal sd ``sd`` (the first shock scaled to the stationary sd)."""
    shocks = np.random.default_rng(seed).normal(size=n) * np.r_[1 / np.sqrt(1 - phi**2), np.ones(n - 1)]
    return sd * signal.lfilter([np.sqrt(1 - phi**2)], [1, -phi], shocks)


def ar1_covariance(n: int, phi: float, sigma: float) -> np.ndarray:
    """Covariance of n consecutive values of a stationary AR(1) with innovation sd ``sigma``."""
    return sigma**2 / (1 - phi**2) * phi ** np.abs(np.subtract.outer(np.arange(n), np.arange(n)))


def constant_posterior(sigma: float, phi: float | None, beta=None) -> _Posterior:
    """2 chains x 2000 draws all equal to these values (``phi`` None: independent errors; ``beta`` None: zeros)."""
    coefficients = np.zeros(1) if beta is None else np.asarray(beta, dtype=float)
    return _Posterior(beta=np.tile(coefficients, (2, 2000, 1)), sigma=np.full((2, 2000), sigma),
                      phi=None if phi is None else np.full((2, 2000), phi))


def step_series(effect: float, seed: int, n_pre: int = 30, n_post: int = 14) -> pd.Series:
    rng = np.random.default_rng(seed)
    return daily(np.r_[rng.normal(50, 10, n_pre), rng.normal(50 + effect, 10, n_post)])
