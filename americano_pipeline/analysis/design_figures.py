"""Figures of the single-case designs beyond the AB phase plot (300 dpi PNG and SVG): the multiple baseline across
tiers (stacked panels joined by the staircase of staggered starts), alternating treatments (one line per condition)
and the changing criterion (the criterion as a step line over the series).

Same conventions as ``figures``: ``matplotlib.figure.Figure`` objects (no pyplot), matplotlib imported inside the
functions, the condition colours, dated x axes, phase shading and labels (A1, B1 ...), sizes and saving taken from
there. Each public function saves a PNG to ``path`` and an SVG beside it and returns ``path``; the ``_draw_*``
functions return the ``Figure`` itself (for tests).

Days are points; a boundary between two phases is drawn half a day before the first day of the later phase, so it
falls between the last point of one phase and the first of the next.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from americano_pipeline.analysis.figures import (
    CONDITION_COLOURS,
    HALF_DAY,
    TITLE_SIZE,
    WIDTH,
    _dated,
    _headroom,
    _legend,
    _save,
    _suptitle,
    _title,
    phase_runs,
    shade_phases,
)

_HALF_DAY = HALF_DAY
_WIDTH = WIDTH
_START_COLOUR = "#C44E52"
_CRITERION_COLOUR = "#C44E52"
_MEAN_COLOUR = "#55A868"
_WINDOW_COLOUR = "#8172B2"
DEFAULT_CONDITION_NAMES = {"A": "A (control)", "B": "B (treatment)"}


def _figure(height: float, width: float = _WIDTH):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _colour(condition: str) -> str:
    return CONDITION_COLOURS.get(condition, "#555555")


def _segment_mean(ax, mean, days: pd.DatetimeIndex, colour: str, **style) -> None:
    """A horizontal segment at ``mean`` over ``days`` (nothing for no days or a missing mean)."""
    if len(days) and mean is not None and np.isfinite(mean):
        ax.hlines(mean, days[0], days[-1], colors=colour, **style)


# --- multiple baseline -------------------------------------------------------------------------------------------

def _draw_multiple_baseline(tiers: list[dict], title: str):
    """One panel per tier (in the given order) on a shared dated x axis; the staggered start lines joined across
    the gaps between panels into the multiple-baseline staircase."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    if not tiers:
        raise ValueError("a multiple-baseline figure needs at least one tier")
    figure = _figure(height=1.2 + 1.9 * len(tiers))
    figure.get_layout_engine().set(h_pad=0.06, hspace=0.06)
    axes = figure.subplots(len(tiers), 1, sharex=True, squeeze=False)[:, 0]
    boundaries = []
    for number, (ax, tier) in enumerate(zip(axes, tiers)):
        first = number == 0
        values: pd.Series = tier["values"]
        start = pd.Timestamp(tier["start"])
        boundary = start - _HALF_DAY
        boundaries.append(boundary)
        shade_phases(ax, phase_runs(values.index, np.where(values.index < start, "A", "B")), lines=False)
        if tier.get("window") is not None:
            low, high = (pd.Timestamp(day) for day in tier["window"])
            ax.axvspan(low - _HALF_DAY, high + _HALF_DAY, facecolor="none", edgecolor=_WINDOW_COLOUR, hatch="///",
                       alpha=0.5, linewidth=0, label="admissible start window" if first else None)
        for condition, days in (("A", values.index[values.index < start]), ("B", values.index[values.index >= start])):
            phase = values.loc[days]
            colour = _colour(condition)
            ax.plot(phase.index, phase.to_numpy(dtype=float), color=colour, marker="o", markersize=3.5, linewidth=1,
                    label=("A (baseline)" if condition == "A" else "B (intervention)") if first else None)
            mean = tier.get("baselineMean" if condition == "A" else "interventionMean")
            _segment_mean(ax, mean, days, colour, linewidth=2.5, alpha=0.8)
        if first:  # a legend entry for the phase-mean segments, drawn in neutral grey
            ax.plot([], [], color="grey", linewidth=2.5, alpha=0.8, label="phase mean")
        ax.axvline(boundary, color=_START_COLOUR, linestyle="--", linewidth=1.4,
                   label="intervention start" if first else None)
        _headroom(ax, 0.22)
        _dated(ax, f"{tier['tier']}\n{tier['outcome']}")
        if number < len(axes) - 1:
            ax.set_xlabel("")
    _suptitle(figure, title)
    _legend(figure, axes[0], ncols=3)
    if len(axes) > 1:
        # Freeze the constrained layout so the panels' positions are known, then draw the staircase in the gaps:
        # x in data coordinates (shared by every panel), y in figure coordinates.
        figure.draw_without_rendering()
        figure.set_layout_engine("none")
        transform = blended_transform_factory(axes[0].transData, figure.transFigure)
        for upper, lower, left, right in zip(axes[:-1], axes[1:], boundaries[:-1], boundaries[1:]):
            bottom, top = upper.get_position().y0, lower.get_position().y1
            middle = (bottom + top) / 2
            left, right = axes[0].convert_xunits([left, right])  # figure artists skip the axes' date conversion
            figure.add_artist(Line2D([left, left, right, right], [bottom, middle, middle, top], transform=transform,
                                     color=_START_COLOUR, linestyle="--", linewidth=1.4, clip_on=False))
    return figure


def multiple_baseline_figure(path: Path, tiers: list[dict], title: str) -> Path:
    """Stacked panels, one per tier: A days and B days in their condition colours, the phase means, the
    intervention start (dashed, joined across panels as a staircase) and the admissible start window (shaded).

    Each tier is ``{"tier", "outcome", "values" (date-indexed daily series, NaN allowed), "start" (first B day),
    "window" ((first, last) admissible start day, or None), "baselineMean", "interventionMean"}``."""
    return _save(_draw_multiple_baseline(tiers, title), path)


# --- alternating treatments --------------------------------------------------------------------------------------

def _draw_alternating(values: pd.Series, conditions: list[str], title: str, condition_names: dict | None = None):
    """Each condition's days connected by their own line, each condition's mean as a dashed horizontal line."""
    if len(conditions) != len(values):
        raise ValueError(f"{len(conditions)} conditions for {len(values)} values")
    names = {**DEFAULT_CONDITION_NAMES, **(condition_names or {})}
    labels = np.asarray(conditions, dtype=object)
    figure = _figure(height=3.9)
    ax = figure.subplots()
    known = [c for c in CONDITION_COLOURS if c in set(conditions)]
    for condition in [*known, *(c for c in dict.fromkeys(conditions) if c not in known)]:  # A, B, then others
        series = values[labels == condition].dropna()  # missing days skipped: a condition's line joins its days
        colour = _colour(condition)
        name = names.get(condition, str(condition))
        ax.plot(series.index, series.to_numpy(dtype=float), color=colour, marker="o", markersize=4, linewidth=1.2,
                label=name)
        if len(series):
            mean = float(series.mean())
            ax.axhline(mean, color=colour, linestyle="--", linewidth=1.2, alpha=0.9, label=f"{name} mean {mean:.3g}")
    ax.set_title(_title(title), fontsize=TITLE_SIZE)
    _dated(ax, str(values.name) if values.name is not None else "value")
    _legend(figure, ax, ncols=4)
    return figure


def alternating_figure(path: Path, values: pd.Series, conditions: list[str], title: str,
                       condition_names: dict | None = None) -> Path:
    """Alternating treatments: one line through the A days and one through the B days (``conditions`` gives each
    day's condition, aligned with ``values``), each condition's mean dashed; ``condition_names`` maps "A"/"B" to
    the legend's names (default "A (control)" / "B (treatment)")."""
    return _save(_draw_alternating(values, conditions, title, condition_names), path)


# --- changing criterion ------------------------------------------------------------------------------------------

def criterion_phases(phases: list[dict]) -> list[dict]:
    """The criterion design's phases for ``figures.shade_phases``: the baseline phases A1, A2 ..., the criterion
    phases B1, B2 ... each labelled with its criterion."""
    counts: dict[str, int] = {}
    shown = []
    for phase in phases:
        criterion = phase.get("criterion")
        condition = "A" if criterion is None else "B"
        counts[condition] = counts.get(condition, 0) + 1
        label = f"{condition}{counts[condition]}" + ("" if criterion is None else f"\ncriterion {criterion:g}")
        shown.append({"label": label, "condition": condition, "start": phase["start"], "end": phase["end"]})
    return shown


def _draw_changing_criterion(values: pd.Series, phases: list[dict], title: str):
    """The series, the criterion as a step line over the criterion phases, phase shading, boundaries, labels (with
    the criterion) and means."""
    figure = _figure(height=4.2)
    ax = figure.subplots()
    shade_phases(ax, criterion_phases(phases))
    ax.plot(values.index, values.to_numpy(dtype=float), color="black", marker="o", markersize=3, linewidth=1,
            label="observed", zorder=4)
    step_x, step_y, last_end = [], [], None
    for phase in phases:
        start, end = pd.Timestamp(phase["start"]), pd.Timestamp(phase["end"])
        if phase.get("criterion") is None:
            continue
        if last_end is not None and start - _HALF_DAY > last_end:  # a gap between criterion phases: break the line
            step_x.append(last_end)
            step_y.append(np.nan)
        step_x += [start - _HALF_DAY, end + _HALF_DAY]
        step_y += [float(phase["criterion"])] * 2
        last_end = end + _HALF_DAY
    if step_x:
        ax.plot(step_x, step_y, color=_CRITERION_COLOUR, linewidth=2, label="criterion", zorder=3)
    for phase in phases:
        start, end = pd.Timestamp(phase["start"]), pd.Timestamp(phase["end"])
        days = values.loc[start:end].dropna().index
        if len(days):
            mean = float(values.loc[days].mean())
            inset = (end - start) * 0.2
            ax.hlines(mean, start + inset, end - inset, colors=_MEAN_COLOUR, linestyles=":", linewidth=2.5,
                      zorder=3, label="phase mean" if "phase mean" not in ax.get_legend_handles_labels()[1] else None)
    finite = np.r_[values.to_numpy(dtype=float), [y for y in step_y if np.isfinite(y)]]
    finite = finite[np.isfinite(finite)]
    if finite.size:  # headroom for the two-line phase labels above the data
        low, high = finite.min(), finite.max()
        span = high - low or 1.0
        ax.set_ylim(low - 0.08 * span, high + 0.35 * span)
    ax.set_title(_title(title), fontsize=TITLE_SIZE)
    _dated(ax, str(values.name) if values.name is not None else "value")
    _legend(figure, ax, ncols=3)
    return figure


def changing_criterion_figure(path: Path, values: pd.Series, phases: list[dict], title: str) -> Path:
    """Changing criterion: the series, each criterion phase's criterion as a step line (none in the baseline), the
    phases shaded, their boundaries, their labels along the top (A1 for the baseline, B1, B2 ... with their
    criterion) and each phase's mean as a short dotted segment.

    ``phases`` is ``[{"label", "start", "end" (last day, inclusive), "criterion" (None for the baseline)}]``."""
    return _save(_draw_changing_criterion(values, phases, title), path)
