"""Group-sequential monitoring of a protocol at its design's decision points (``analysis.monitoring``): Lan-DeMets
boundaries at the information each look accrued, the randomization test at each look, and an honest label.

Why the label: on a complete series the looks are replayed after the fact, so a crossing there says what the
monitoring plan would have decided, not that anyone stopped; only an ongoing protocol gets a stopping signal.
"""

from __future__ import annotations

from functools import partial

from americano_pipeline.analysis import figures
from americano_pipeline.analysis.inputs import phase_observations
from americano_pipeline.analysis.methods.base import Analysis, checked, excluded, not_run, numbers, title
from americano_pipeline.analysis.monitoring import MONITORING, RETROSPECTIVE, STATISTIC, monitor, sides_of
from americano_pipeline.analysis.protocol import ProtocolData

SEQUENTIAL = "sequential_boundaries"
HEADS = {RETROSPECTIVE: "Retrospective check of the monitoring plan (series complete, not a stopping decision)",
         MONITORING: "Monitoring"}
WARNING = ("A look crosses when the randomization p-value of B - A on the A/B days up to it is at most the look's "
           "nominalP (|z| >= criticalValue). That p-value is valid at every look whatever the serial dependence, "
           "because the phase lengths were randomized; the boundaries spend alpha at each look's information "
           "fraction (1 / variance of B - A under an AR(1) working model, relative to the planned final analysis). "
           "The looks are the design's decision points, fixed in advance: do not add looks after seeing the data.")

# Designs whose monitoring statistic is not B - A at phase ends (docs/DESIGNS.md), and why the plan does not apply.
NOT_MONITORED = {
    "ALTERNATING": "the monitoring plan looks at phase ends with the phase-reversal randomization test; an "
                   "alternation changes condition every day or two, so its looks would be daily and that test is "
                   "not its design's test (its alternating-treatments test is the confirmatory analysis)",
    "CHANGING_CRITERION": "the monitoring plan tests B - A, but a changing-criterion design's hypothesis is that "
                          "the series tracks the criteria (its changing-criterion test is the confirmatory analysis)",
}


def analyse_sequential(data: ProtocolData, metric: str, *, spending_function: str, alpha: float | None,
                       looks=None) -> Analysis:
    """Where the accrued A/B days stand against Lan-DeMets boundaries at the design's decision points, in the
    protocol's registered direction and, unless ``alpha`` is given, at its registered alpha; for a multiple
    baseline, on its primary tier. Designs the plan does not fit (``NOT_MONITORED``) publish why instead.

    ``looks``: registered looks instead of the default phase ends: a whole number d is the end of the protocol's
    first d days, a date (or ISO text) the end of that day (``monitoring.registered_looks``).
    """
    if data.protocol.design_type in NOT_MONITORED:
        return not_run(data, SEQUENTIAL, NOT_MONITORED[data.protocol.design_type])
    alternative = data.protocol.alternative
    alpha = data.protocol.alpha if alpha is None else alpha
    sides = sides_of(alternative)
    observations = phase_observations(data, metric)
    state = checked(data, SEQUENTIAL, monitor, data, observations.values, observations.labels, alpha=alpha,
                    spending_function=spending_function, alternative=alternative, looks=looks)
    position, target = state.position, data.protocol.sample_size_target
    body = {"boundaries": state.boundaries, "warning": WARNING, "maxN": target, "alpha": alpha, "sides": sides,
            "alternative": alternative,
            "spendingFunction": spending_function, "mode": state.mode, "statistic": STATISTIC,
            "looksFrom": "registered plan" if looks is not None else "phase ends",
            "position": position, "excluded": excluded(observations)}
    draw = partial(figures.sequential_figure, boundaries=state.boundaries, position=position, sides=sides,
                   mode=state.mode, title=title(data, metric))
    crossed = position["firstCrossingLook"]
    return Analysis(
        method=SEQUENTIAL,
        result=body,
        params={"spending_function": spending_function, "alpha": alpha, "alternative": alternative, "max_n": target,
                "looks": "phase ends" if looks is None else ",".join(map(str, looks)), "mode": state.mode},
        metrics=numbers(n_observed=position["nObserved"], z=position["z"],
                        current_critical_value=position["currentCriticalValue"],
                        information_fraction=position["currentInformationFraction"],
                        crossed=float(crossed is not None), first_crossing_look=crossed,
                        retrospective=float(state.mode == RETROSPECTIVE)),
        summary=_summary(state.mode, position, target, sides),
        figures=(("sequential.png", draw),),
    )


def _summary(mode: str, position: dict, target: int, sides: int) -> str:
    """One line: the mode, the current look against its boundary, and the first crossing with its label."""
    head = f"{HEADS[mode]}, n = {position['nObserved']} of {target}"
    if position["currentLook"] is None:
        return f"{head}: before the first look ({position['nextLook'] or 'none reached'})"
    current = position["looks"][-1]
    bound = f"±{current['criticalValue']:.3g}" if sides == 2 else f"{current['criticalValue']:.3g}"
    stand = (f"look {current['look']} ({current['label']}, t = {current['informationFraction']:.2f}): "
             f"z = {current['z']:+.2f} vs {bound}, randomization p = {current['pValue']:.3g}")
    crossing = position["firstCrossingLook"]
    where = f"look {crossing} ({position['firstCrossingLabel']})"
    if mode == RETROSPECTIVE:
        verdict = f"the plan would have stopped at {where}" if crossing else "no look crossed its boundary"
    elif crossing:
        verdict = f"**boundary crossed at {where}: the plan says stop**"
    else:
        verdict = f"continue to the next look ({position['nextLook'] or 'none planned'})"
    return f"{head}, {stand}; {verdict}"
