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
        raise InvalidInput(f"the daily {series.name} series fails its check: {exc}") from None
    return series
