"""The analysis figures (PNG), readable at a glance: labelled axes, dated x axes, a legend, the key number in the
title.

Why ``matplotlib.figure.Figure`` and not pyplot: pyplot keeps global state and picks a GUI backend; a Figure
object renders with the Agg canvas on ``savefig``, holds no global state (safe in a long-lived code server) and
is freed with the object. Matplotlib is imported inside the functions (heavy import; DESIGN.md §5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CONDITION_COLOURS = {"A": "#4C72B0", "B": "#DD8452"}
_DPI = 110


def _axes(n_panels: int = 1, width: float = 9.0, height: float = 4.2):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(1, n_panels, squeeze=False)[0]
    return figure, axes


def _dated(ax, ylabel: str) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("date")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _save(figure, path: Path) -> Path:
    figure.savefig(path, dpi=_DPI, metadata={"Software": None})
    return path


def its_figure(path: Path, observed: pd.Series, changes: list[dict], effect: dict, title: str) -> Path:
    """Observed series and, for every analysed change, its counterfactual (posterior mean) with the 95% band over
    its treatment phase, and the intervention and withdrawal lines."""
    figure, (ax,) = _axes()
    ax.plot(observed.index, observed.to_numpy(), color="black", marker="o", markersize=3, linewidth=1,
            label="observed")
    for number, change in enumerate(changes):
        counterfactual, first = change["counterfactual"], number == 0
        dates = pd.to_datetime(counterfactual["dates"])
        treated = dates < pd.Timestamp(change["treatmentEnd"]) if change["treatmentEnd"] else np.ones(len(dates), bool)
        band = [np.asarray(counterfactual[key])[treated] for key in ("lower95", "upper95", "predicted")]
        ax.fill_between(dates[treated], band[0], band[1], color="#4C72B0", alpha=0.2,
                        label="counterfactual 95% band" if first else None)
        ax.plot(dates[treated], band[2], color="#4C72B0", linestyle="--",
                label="counterfactual (no intervention)" if first else None)
        ax.axvline(pd.Timestamp(change["intervention"]), color="#C44E52", linewidth=1.5,
                   label="intervention starts" if first else None)
        if change["treatmentEnd"]:
            ax.axvline(pd.Timestamp(change["treatmentEnd"]), color="#8172B2", linewidth=1.5, linestyle=":",
                       label="withdrawal starts" if first else None)
    low, high = effect["hdi95"]
    ax.set_title(f"{title}\npooled effect {effect['mean']:+.3g} per day (95% HDI {low:.3g} to {high:.3g})")
    _dated(ax, str(observed.name))
    ax.legend(loc="best", fontsize="small")
    return _save(figure, path)


def randomization_figure(path: Path, values: pd.Series, labels, distribution, observed: float, p_value: float,
                         alternative: str, title: str) -> Path:
    """Left: the phase plot with each phase's mean. Right: the randomization distribution and the observed
    statistic."""
    figure, (phase_ax, null_ax) = _axes(2, width=12.0)
    labels = np.asarray(labels)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    stops = np.r_[starts[1:], labels.size]
    seen = set()
    for start, stop in zip(starts, stops):
        condition = labels[start]
        block = values.iloc[start:stop]
        legend = None if condition in seen else f"{condition} ({'baseline' if condition == 'A' else 'intervention'})"
        seen.add(condition)
        colour = CONDITION_COLOURS[condition]
        phase_ax.plot(block.index, block.to_numpy(), marker="o", markersize=3, linewidth=1, color=colour, label=legend)
        phase_ax.hlines(block.mean(), block.index[0], block.index[-1], colors=colour, linewidth=2.5)
        if start:
            phase_ax.axvline(block.index[0], color="grey", linewidth=0.8, linestyle=":")
    phase_ax.set_title("phases (thick lines: phase means)")
    _dated(phase_ax, str(values.name))
    phase_ax.legend(loc="best", fontsize="small")
    null_ax.hist(np.asarray(distribution), bins=40, color="#999999", edgecolor="white")
    null_ax.axvline(observed, color="#C44E52", linewidth=2, label=f"observed {observed:+.3g}")
    null_ax.set_xlabel("B - A statistic under admissible phase-change placements")
    null_ax.set_ylabel("number of placements")
    null_ax.set_title(f"randomization distribution: p = {p_value:.3g} ({alternative})")
    null_ax.legend(loc="best", fontsize="small")
    figure.suptitle(title)
    return _save(figure, path)


def change_points_figure(path: Path, series: pd.Series, detected: list[dict], planned: list[pd.Timestamp],
                         title: str) -> Path:
    """The series with its segment means, detected changes (solid, with bootstrap confidence) and planned ones
    (dashed)."""
    figure, (ax,) = _axes()
    ax.plot(series.index, series.to_numpy(), color="black", marker="o", markersize=3, linewidth=1, label="observed")
    edges = [series.index[0], *pd.to_datetime([c["date"] for c in detected]), series.index[-1] + pd.Timedelta(days=1)]
    for left, right in zip(edges[:-1], edges[1:]):
        segment = series[(series.index >= left) & (series.index < right)]
        ax.hlines(segment.mean(), segment.index[0], segment.index[-1], colors="#55A868", linewidth=2.5)
    for number, day in enumerate(planned):
        ax.axvline(day, color="#8172B2", linestyle="--", linewidth=1.2, label="planned phase change" if not number else None)
    for number, change in enumerate(detected):
        day = pd.Timestamp(change["date"])
        ax.axvline(day, color="#C44E52", linewidth=1.8, label="detected change" if not number else None)
        ax.annotate(f"{change['confidence']:.0%}", (day, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize="small", color="#C44E52")
    ax.set_title(f"{title}\n{len(detected)} detected vs {len(planned)} planned changes (bootstrap confidence on top)")
    _dated(ax, str(series.name))
    ax.legend(loc="best", fontsize="small")
    return _save(figure, path)


def sequential_figure(path: Path, boundaries: list[dict], position: dict, sides: int, mode: str, title: str) -> Path:
    """Stopping boundaries at each look's sample size (the planned final one dashed), the z of the randomization
    test at each evaluated look, and where the data stand now."""
    figure, (ax,) = _axes(width=8.0)
    evaluated = [b for b in boundaries if not b.get("projected")]
    segments = [(evaluated, "-", "boundary at each look")]
    if boundaries[-1].get("projected"):  # drawn from the last evaluated look to the planned final one
        segments.append((boundaries[-2:], "--", "planned final look"))
    for bounds, style, label in segments:
        if not bounds:
            continue
        n = [b["n"] for b in bounds]
        critical = np.array([b["criticalValue"] for b in bounds])
        ax.plot(n, critical, color="#C44E52", marker="s", linestyle=style, label=label)
        if sides == 2:
            ax.plot(n, -critical, color="#C44E52", marker="s", linestyle=style)
    reached = [look for look in position["looks"] if look["z"] is not None]
    if reached:
        ax.plot([look["n"] for look in reached], [look["z"] for look in reached], color="#4C72B0", marker="o",
                linestyle="none", label="z at evaluated looks")
    if position["z"] is not None:
        ax.plot([position["nAtCurrentLook"]], [position["z"]], color="black", marker="*", markersize=14,
                linestyle="none", label=f"current look: n = {position['nAtCurrentLook']}, z = {position['z']:+.2f}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("observations (A + B days)")
    ax.set_ylabel("z of the randomization p (registered direction)" if sides == 1 else "z of the randomization p")
    crossed = position["firstCrossingLook"]
    verdict = f"crossed at look {crossed} ({position['firstCrossingLabel']})" if crossed else "no boundary crossed"
    ax.set_title(f"{title}\n{mode}: {verdict}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return _save(figure, path)
