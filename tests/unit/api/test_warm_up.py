"""The research API's warm-up compiles every form of the ITS model a request can need, so none compiles later."""

import numpy as np
import pandas as pd

from americano_pipeline.api import research
from americano_pipeline.stats.its import bayesian_its
from americano_pipeline.stats.its.sampler import _compiled_model


def test_after_the_warm_up_no_request_form_compiles_a_model():
    research.warm_up()
    compiled = _compiled_model.cache_info().misses
    days = pd.date_range("2026-03-02", periods=40, freq="D")
    series = pd.Series(30.0 + np.random.default_rng(7).normal(0.0, 2.0, 40), index=days)
    for baseline, post in ((21, 19), (15, 25), (8, 14)):  # day-of-week terms and trend; day of week; neither
        for prior in ({}, {"prior_effect_mean": 1.0, "prior_effect_sd": 2.0}):
            result = bayesian_its(series, days[baseline], post_period_days=post, seed=3, **prior)
            assert np.isfinite(result.to_dict()["causalEffect"]["mean"])
    assert _compiled_model.cache_info().misses == compiled
