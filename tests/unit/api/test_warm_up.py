"""The research API's warm-up compiles every form of the ITS model a request can need, so none compiles later, and
runs the fast analyses once, so none imports under load."""

import os
import subprocess
import sys

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


WARM_THEN_ANALYSE = """
import sys
import numpy as np
import pandas as pd
from americano_pipeline.api import research
days = pd.date_range("2026-03-02", periods=60, freq="D")
research._warm_fast_analyses(pd.Series(np.arange(42.0), index=days[:42], name="study_minutes"))
before = set(sys.modules)
from americano_pipeline.analysis.methods.randomization import analyse_randomization
from americano_pipeline.api.inputs import validated_series
from americano_pipeline.stats.changepoints import detect_change_points
from americano_pipeline.stats.sequential import sequential_boundaries
step = pd.Series(np.r_[np.zeros(30), np.full(30, 5.0)] + np.random.default_rng(1).normal(0, 1, 60), index=days,
                 name="engagement_score")
found = detect_change_points(validated_series(step), min_segment_length=7, seed=0).change_points
sequential_boundaries(alpha=0.01, spending_function="pocock", max_n=300, n_interim_analyses=7)
print(len(found), sorted(set(sys.modules) - before))
"""


def test_after_the_warm_up_the_fast_analyses_import_nothing():
    """In a fresh process: what the first change-point, sequential or randomization request would import under
    load (Pandera's backends, ruptures: 1.1 s holding the GIL) the warm-up has imported."""
    done = subprocess.run([sys.executable, "-c", WARM_THEN_ANALYSE], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=1) == ["1", "[]\n"]
