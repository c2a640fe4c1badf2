"""Change points over a whole protocol, compared with the planned phase changes."""

from __future__ import annotations

from functools import partial

import pandas as pd

from americano_pipeline.analysis import figures
from americano_pipeline.analysis.change_matching import compare_change_points
from americano_pipeline.analysis.inputs import outcome_series, planned_changes
from americano_pipeline.analysis.methods.base import Analysis, checked, numbers, title
from americano_pipeline.analysis.protocol import ProtocolData

CHANGE_POINTS = "detect_change_points"


def analyse_change_points(data: ProtocolData, metric: str, *, algorithm: str, min_segment_length: int | None,
                          penalty: float | None, n_bootstrap: int, seed: int, tolerance_days: int) -> Analysis:
    """Change points over the whole protocol period, compared with the planned phase changes.

    The minimum segment length defaults to the protocol's registered minimum phase length: no planned phase is
    shorter, so the detector can find every planned change and nothing finer than the design allows.
    """
    from americano_pipeline.stats.changepoints import detect_change_points

    series = outcome_series(data, metric)
    segment = min_segment_length or data.protocol.min_phase_length
    found = checked(data, CHANGE_POINTS, detect_change_points, series, min_segment_length=segment,
                     algorithm=algorithm, penalty=penalty, n_bootstrap=n_bootstrap, seed=seed)
    planned = planned_changes(data)
    comparison = compare_change_points([pd.Timestamp(c.date) for c in found.change_points], planned, tolerance_days)
    body = {**found.to_dict(), "penalty": found.penalty, "noiseSd": found.noise_sd, "minSegmentLength": segment,
            "nBootstrap": found.n_bootstrap, "blockLength": found.block_length, "comparison": comparison}
    draw = partial(figures.change_points_figure, series=series, detected=body["changePoints"], planned=planned,
                   title=title(data, metric))
    distances = ", ".join(f"{row['date']} ({row['distanceDays']:+d} d)" for row in comparison["detected"]
                          if row["distanceDays"] is not None)
    return Analysis(
        method=CHANGE_POINTS,
        result=body,
        params={"algorithm": algorithm, "min_segment_length": segment, "penalty": penalty, "n_bootstrap": n_bootstrap,
                "seed": seed, "tolerance_days": tolerance_days},
        metrics=numbers(n_detected=len(found.change_points), n_planned=len(planned),
                         matched_planned=comparison["matchedPlanned"],
                         unmatched_detected=comparison["unmatchedDetected"],
                         mean_abs_distance_days=comparison["meanAbsoluteDistanceDays"]),
        summary=(f"**{len(found.change_points)}** detected vs {len(planned)} planned changes, "
                 f"{comparison['matchedPlanned']} matched within {tolerance_days} d"
                 + (f"; detected (vs nearest planned): {distances}" if distances else "")),
        figures=(("change_points.png", draw),),
    )
