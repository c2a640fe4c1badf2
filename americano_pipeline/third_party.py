"""Third-party libraries configured so that they print nothing a person at the terminal has to learn to ignore.

Policy (issue #16): a library's warning or log line is dealt with where the library is configured or the API that
causes it is called, for that one cause and with the reason written down; never a blanket filter over a warning
category or a whole library, so a new warning still shows. The three known sources:

- PyTensor's "could not link to a BLAS installation" UserWarning: ``configure_pytensor`` (called before the ITS
  models are compiled, ``stats.its.sampler``) tells PyTensor there is no BLAS for its C backend, which is true
  here and costs nothing (see there), so PyTensor never searches and never warns.
- MLflow's INFO log lines ("Creating initial MLflow database tables..." on a new store): ``quiet_mlflow`` (called
  where the tracking client is created, ``lineage.tracking``) keeps MLflow's loggers at WARNING unless
  ``MLFLOW_LOGGING_LEVEL`` asks for more.
- Dagster's ``BetaWarning`` for ``@asset(backfill_policy=...)``: the analysis assets rely on single-run backfills
  (``assets.analysis``), so that module accepts the Beta parameter with a filter for exactly that message.
"""

from __future__ import annotations

import logging
import os


def configure_pytensor() -> None:
    """Set ``blas__ldflags`` to empty unless ``PYTENSOR_FLAGS`` or ``.pytensorrc`` set it.

    Why: left unset, PyTensor looks for a BLAS its C backend can link (MKL, libblas, libopenblas in the compiler's
    library directories) the first time the flag is read, and warns when there is none. The pip wheels of NumPy and
    SciPy bring their own OpenBLAS, but with prefixed symbols (``scipy_dgemm_``, ``scipy_dgemm_64_``) that the C
    backend cannot link, and no system BLAS is installed; so the search always fails. Nothing is lost by not
    linking one: nutpie compiles the models with Numba (``compile_pymc_model``'s default backend), not the C
    backend, and the only reader of the flag on that path is a sparse-matrix rewrite that never applies to these
    models. Must run before the first PyTensor function is compiled (later the flag is already resolved).
    """
    import pytensor

    try:
        pytensor.config.fetch_val_for_key("blas__ldflags")
    except KeyError:
        pytensor.config.blas__ldflags = ""


def quiet_mlflow() -> None:
    """MLflow's loggers at ``MLFLOW_LOGGING_LEVEL`` if set, else WARNING (MLflow's own default is INFO, and it
    logs its store's schema creation and migrations at INFO on the console). Call after importing ``mlflow``, which
    installs its handler and level on import."""
    logging.getLogger("mlflow").setLevel((os.environ.get("MLFLOW_LOGGING_LEVEL") or "WARNING").upper())
