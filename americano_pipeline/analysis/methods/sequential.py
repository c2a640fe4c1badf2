"""Group-sequential boundaries for a protocol's registered sample size, and where the accrued data stand."""

from __future__ import annotations

from functools import partial

from americano_pipeline.analysis import figures
from americano_pipeline.analysis.inputs import phase_observations
from americano_pipeline.analysis.methods.base import Analysis, checked, excluded, numbers, title
from americano_pipeline.analysis.monitoring import accrual_position
from americano_pipeline.analysis.protocol import ProtocolData

SEQUENTIAL = "sequential_boundaries"


def analyse_sequential(data: ProtocolData, metric: str, *, n_looks: int, spending_function: str, alpha: float,
                       sides: int) -> Analysis:
    """Lan-DeMets boundaries for the registered sampleSizeTarget, and where the accrued A/B days stand today."""
    from americano_pipeline.stats.sequential import sequential_boundaries

    target = data.protocol.sample_size_target
    plan = checked(data, SEQUENTIAL, sequential_boundaries, alpha=alpha, spending_function=spending_function,
                    max_n=target, n_interim_analyses=n_looks, sides=sides)
    observations = phase_observations(data, metric)
    boundaries = plan.to_dict()["boundaries"]
    position = accrual_position(observations.values.to_numpy(), observations.labels, boundaries, sides)
    body = {**plan.to_dict(), "maxN": target, "alpha": alpha, "sides": sides, "spendingFunction": spending_function,
            "position": position, "excluded": excluded(observations)}
    draw = partial(figures.sequential_figure, boundaries=boundaries, position=position, sides=sides,
                   title=title(data, metric))
    z = position["z"]
    look = position["currentLook"]
    stand = ("before the first look" if look is None
             else f"look {look} of {n_looks}, boundary ±{position['currentCriticalValue']:.3g}" if sides == 2
             else f"look {look} of {n_looks}, boundary {position['currentCriticalValue']:.3g}")
    crossed = position["firstCrossingLook"]
    return Analysis(
        method=SEQUENTIAL,
        result=body,
        params={"n_looks": n_looks, "spending_function": spending_function, "alpha": alpha, "sides": sides,
                "max_n": target},
        metrics=numbers(n_observed=position["nObserved"], z=z,
                         current_critical_value=position["currentCriticalValue"],
                         crossed=float(crossed is not None), first_crossing_look=crossed),
        summary=(f"n = {position['nObserved']} of {target}, z = "
                 f"{'n/a' if z is None else f'{z:+.2f}'} ({stand}); "
                 + (f"**crossed at look {crossed}**" if crossed else "no boundary crossed")),
        figures=(("sequential.png", draw),),
    )
