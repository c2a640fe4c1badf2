"""The Pandera check every on-demand computation's input series passes before the statistics core sees it.

Why here too, when the snapshot checks already validated the source: the API reads the marts the last build
published, and a request names its own window; the check makes sure that window is what the core assumes (one
row per day, in order, finite where measured) and says which day breaks it rather than letting a fit fail
obscurely.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

FAILURES_SHOWN = 3


class InvalidInput(ValueError):
    """The request's data cannot be analysed as asked; the message names the field, day or value."""


@functools.cache
def _schema():
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {"value": pa.Column(float, pa.Check(lambda s: ~np.isinf(s), error="finite"), nullable=True)},
        index=pa.Index("datetime64[ns]", unique=True, checks=pa.Check(lambda i: i.is_monotonic_increasing,
                                                                      element_wise=False, error="in date order")),
        coerce=True,
    )


def validated_series(series: pd.Series) -> pd.Series:
    """``series`` (daily values indexed by date) if it passes the schema; ``InvalidInput`` naming the failure."""
    import pandera.errors

    try:
        _schema().validate(series.rename("value").to_frame())
    except pandera.errors.SchemaError as exc:
        raise InvalidInput(f"the daily {series.name} series fails its check {_check_name(exc)}{_where(exc)}") \
            from None
    return series


def _check_name(exc) -> str:
    check = exc.check
    return repr(getattr(check, "error", None) or getattr(check, "name", None) or check)


def _where(exc) -> str:
    """The first failing days and values of a schema error, when it names any."""
    cases = exc.failure_cases
    if not isinstance(cases, pd.DataFrame) or "index" not in cases:
        return ""
    shown = [f"{pd.Timestamp(day).date()} ({value})" for day, value in
             zip(cases["index"][:FAILURES_SHOWN], cases["failure_case"][:FAILURES_SHOWN])]
    more = f" and {len(cases) - FAILURES_SHOWN} more" if len(cases) > FAILURES_SHOWN else ""
    return " on " + ", ".join(shown) + more
