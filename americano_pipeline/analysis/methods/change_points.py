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
                          penalty: float | None, n_bootstrap: int, seed: int, tolerance_days: int,
                          noise: str = "ar1") -> Analysis:
    """Change points over the whole protocol period, compared with the planned phase changes.

    The minimum segment length defaults to the protocol's registered minimum phase length: no planned phase is
    shorter, so the detector can find every planned change and nothing finer than the design allows. The summary
    never states how many planned changes were matched without the probability of matching as many by chance
    (``analysis.change_matching``): a few changes in a short series land near a planned one often. ``noise``
    is the detector's noise scale (``stats.changepoints``; ``"mad_diff"`` reproduces the scale before issue
    #12 for calibration runs).
    """
    from americano_pipeline.stats.changepoints import detect_change_points

    series = outcome_series(data, metric)
    segment = min_segment_length or data.protocol.min_phase_length
    found = checked(data, CHANGE_POINTS, detect_change_points, series, min_segment_length=segment,
                    algorithm=algorithm, penalty=penalty, n_bootstrap=n_bootstrap, seed=seed, noise=noise)
    planned = planned_changes(data)
    comparison = compare_change_points([pd.Timestamp(c.date) for c in found.change_points], planned, tolerance_days,
                                       dates=series.index, min_segment_length=segment)
    body = {**found.to_dict(), "penalty": found.penalty, "noiseSd": found.noise_sd, "noise": found.noise.to_dict(),
            "minSegmentLength": segment, "nBootstrap": found.n_bootstrap, "blockLength": found.block_length,
            "comparison": comparison}
    draw = partial(figures.change_points_figure, series=series, detected=body["changePoints"], planned=planned,
                   title=title(data, metric), conditions=list(data.days["condition"]))
    detected = len(found.change_points)
    distances = ", ".join(f"{row['date']} ({row['distanceDays']:+d} d)" for row in comparison["detected"]
                          if row["distanceDays"] is not None)
    return Analysis(
        method=CHANGE_POINTS,
        result=body,
        params={"algorithm": algorithm, "min_segment_length": segment, "penalty": penalty, "n_bootstrap": n_bootstrap,
                "seed": seed, "tolerance_days": tolerance_days, "noise": noise},
        metrics=numbers(n_detected=detected, n_planned=len(planned),
                        matched_planned=comparison["matchedPlanned"],
                        matched_by_chance_probability=comparison["matchedByChanceProbability"],
                        unmatched_detected=comparison["unmatchedDetected"],
                        mean_abs_distance_days=comparison["meanAbsoluteDistanceDays"],
                        noise_phi=found.noise.phi),
        summary=(f"**{detected}** detected vs {len(planned)} planned changes"
                 + (f"; {comparison['matchedPlanned']}/{len(planned)} planned changes matched within {tolerance_days}"
                    f" d (P = {comparison['matchedByChanceProbability']:.2g} that {detected} randomly placed changes"
                    f" match as many; {comparison['expectedMatchedByChance']:.1f} expected)" if detected else "")
                 + (f"; detected (vs nearest planned): {distances}" if distances else "")),
        figures=(("change_points.png", draw),),
    )
