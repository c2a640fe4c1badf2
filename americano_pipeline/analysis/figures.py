"""The analysis figures, readable at print size: labelled axes, dated x axes, the design's phases shaded and
labelled (A1, B1, A2, B2 as in scan's ``plot``), a legend under the plot, the key number in the title. Every
figure is saved twice, a 300 dpi PNG (the name the result lists) and an SVG beside it.

Why ``matplotlib.figure.Figure`` and not pyplot: pyplot keeps global state and picks a GUI backend; a Figure
object renders with the Agg canvas on ``savefig``, holds no global state (safe in a long-lived code server) and
is freed with the object. For the same reason the sizes are set on the artists, not through ``rcParams``: the
figures are 7 inches wide (a page's text width), text 8-10 pt. Matplotlib is imported inside the functions (heavy
import; DESIGN.md §5).

Phases. A phase is a run of days with the same condition: A (baseline), B (intervention) or W (washout, any other
condition). A and B phases are numbered per condition in order (A1, B1, A2, B2); a boundary between two phases is
drawn half a day before the first day of the later phase, so it falls between the last point of one phase and the
first of the next.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

CONDITION_COLOURS = {"A": "#4C72B0", "B": "#DD8452"}
_PHASE_FILL = {"A": ("#4C72B0", 0.07), "B": ("#DD8452", 0.13), "W": ("#999999", 0.16)}
_DPI = 300
WIDTH = 7.0  # inches: a page's text width, so 9 pt on the figure is 9 pt on paper
TITLE_SIZE = 10
LABEL_SIZE = 9
SMALL_SIZE = 8
HALF_DAY = pd.Timedelta(hours=12)
_EFFECT_COLOUR = "#4C72B0"
_COUNTERFACTUAL_COLOUR = "#1B7F79"
_CHANGE_COLOUR = "#C44E52"
_PLANNED_COLOUR = "#8172B2"
_MEAN_COLOUR = "#55A868"
_RESIDUAL_COLOUR = "#666666"


# --- shared helpers ----------------------------------------------------------------------------------------------

def _figure(width: float = WIDTH, height: float = 3.6):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _axes(n_panels: int = 1, width: float = WIDTH, height: float = 3.6):
    """A figure of ``n_panels`` side by side."""
    figure = _figure(width, height)
    axes = figure.subplots(1, n_panels, squeeze=False)[0]
    return figure, axes


def _title(text: str, width: int = 88) -> str:
    """Long titles wrapped so they fit the 7-inch width at ``TITLE_SIZE``."""
    return "\n".join(textwrap.fill(line, width) for line in str(text).split("\n"))


def _suptitle(figure, text: str) -> None:
    figure.suptitle(_title(text), fontsize=TITLE_SIZE)


def _style(ax) -> None:
    ax.tick_params(labelsize=SMALL_SIZE)
    ax.xaxis.label.set_size(LABEL_SIZE)
    ax.yaxis.label.set_size(LABEL_SIZE)
    ax.grid(alpha=0.3)


def _dated(ax, ylabel: str) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("date")
    ax.set_ylabel(ylabel)
    _style(ax)
    ax.xaxis.get_offset_text().set_size(SMALL_SIZE)


def _legend(figure, ax=None, ncols: int = 4, handles=None, labels=None):
    """The legend under the plot (outside the axes, so it never hides data or the phase labels)."""
    axes = figure.axes if ax is None else [ax]
    if handles is None:
        handles, labels, seen = [], [], set()
        for each in axes:
            for handle, label in zip(*each.get_legend_handles_labels()):
                if label not in seen:
                    seen.add(label)
                    handles.append(handle)
                    labels.append(label)
    if handles:
        return figure.legend(handles, labels, loc="outside lower center", ncols=min(ncols, len(handles)),
                             fontsize=SMALL_SIZE, frameon=False)
    return None


def _headroom(ax, fraction: float = 0.16) -> None:
    """Room above the data for the phase labels (they sit at the top inside the axes)."""
    ax.autoscale_view()
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + fraction * (high - low or 1.0))


def phase_runs(dates, conditions, breaks=()) -> list[dict]:
    """The phases of a daily series: one ``{"label", "condition", "start", "end"}`` per run of equal conditions
    (``end`` inclusive), labelled A1, B1, A2 ... per condition and W for a washout (any condition but A and B).
    ``breaks``: first days of phases that start a new phase even with the condition unchanged (the criterion
    phases of a changing-criterion design, all B)."""
    dates = pd.DatetimeIndex(dates)
    labels = np.asarray(["W" if pd.isna(c) or str(c) not in ("A", "B") else str(c) for c in conditions])
    if len(labels) != len(dates):
        raise ValueError(f"{len(labels)} conditions for {len(dates)} dates")
    if not len(labels):
        return []
    new = np.r_[True, labels[1:] != labels[:-1]] | dates.isin(pd.DatetimeIndex(list(breaks)))
    starts = np.flatnonzero(new)
    stops = np.r_[starts[1:], labels.size]
    counts: dict[str, int] = {}
    phases = []
    for start, stop in zip(starts, stops):
        condition = str(labels[start])
        counts[condition] = counts.get(condition, 0) + 1
        phases.append({"label": "W" if condition == "W" else f"{condition}{counts[condition]}",
                       "condition": condition, "start": dates[start], "end": dates[stop - 1]})
    return phases


def shade_phases(ax, phases: list[dict], *, lines: bool = True, labels: bool = True) -> None:
    """Light shading per phase (A blue, B orange, W grey), phase-change lines and each phase's label at the top
    inside the axes. ``phases`` as ``phase_runs`` returns them (``condition`` A, B or W; ``label`` the text).
    A phase following one of the same condition is shaded lighter, so consecutive phases always alternate. When a
    phase is too short for its label (under 4% of the time span: an alternating design's one- and two-day phases)
    the phases are shaded but not labelled (all or none, so the numbering never skips)."""
    from matplotlib.transforms import blended_transform_factory

    if not phases:
        return
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    span = pd.Timestamp(phases[-1]["end"]) - pd.Timestamp(phases[0]["start"]) + 2 * HALF_DAY
    labels = labels and all(pd.Timestamp(p["end"]) - pd.Timestamp(p["start"]) + 2 * HALF_DAY >= 0.04 * span
                            for p in phases)
    previous = None
    for number, phase in enumerate(phases):
        start, end = pd.Timestamp(phase["start"]) - HALF_DAY, pd.Timestamp(phase["end"]) + HALF_DAY
        colour, alpha = _PHASE_FILL.get(phase["condition"], _PHASE_FILL["W"])
        repeated = phase["condition"] == previous
        previous = None if repeated else phase["condition"]
        ax.axvspan(start, end, color=colour, alpha=alpha * (0.5 if repeated else 1.0), linewidth=0, zorder=0)
        if lines and number:
            ax.axvline(start, color="#555555", linewidth=0.9, zorder=1)
        if labels and phase.get("label"):
            ax.text(start + (end - start) / 2, 0.975, phase["label"], transform=transform, ha="center", va="top",
                    fontsize=LABEL_SIZE, fontweight="bold", color="#333333", zorder=5)


def _save(figure, path: Path) -> Path:
    """``path`` as a 300 dpi PNG and ``path.with_suffix('.svg')`` beside it (text kept as text, no date, stable
    ids so a re-run writes the same file); returns ``path``."""
    import matplotlib

    path = Path(path)
    figure.savefig(path, dpi=_DPI, metadata={"Software": None})
    with matplotlib.rc_context({"svg.hashsalt": "americano", "svg.fonttype": "none"}):
        figure.savefig(path.with_suffix(".svg"), format="svg", metadata={"Date": None, "Creator": None})
    return path


# --- interrupted time series -------------------------------------------------------------------------------------

def _its_phases(observed: pd.Series, changes: list[dict], conditions) -> list[dict]:
    """The phases from the days' conditions or, without them, from the analysed changes (A before each
    intervention and from each treatment end, B from each intervention)."""
    if conditions is not None:
        return phase_runs(observed.index, conditions)
    labels = np.full(len(observed), "A", dtype=object)
    for change in changes:
        treated = observed.index >= pd.Timestamp(change["intervention"])
        if change.get("treatmentEnd"):
            treated &= observed.index < pd.Timestamp(change["treatmentEnd"])
        else:
            later = [pd.Timestamp(c["intervention"]) for c in changes
                     if pd.Timestamp(c["intervention"]) > pd.Timestamp(change["intervention"])]
            if later:
                treated &= observed.index < min(later)
        labels[treated] = "B"
    return phase_runs(observed.index, labels)


def _draw_its(observed: pd.Series, changes: list[dict], effect: dict, title: str, conditions=None):
    """Three panels on one date axis, as CausalPy's ITS plot: (a) observed, each change's model fit over its pre
    period and its counterfactual after, with their 95% bands, (b) the pointwise residual (pre) and effect (post),
    (c) the cumulative effect of each change's treatment phase."""
    figure = _figure(height=7.6)
    fit_ax, point_ax, total_ax = figure.subplots(3, 1, sharex=True, height_ratios=[1.6, 1, 1])
    phases = _its_phases(observed, changes, conditions)
    for ax in (fit_ax, point_ax, total_ax):
        shade_phases(ax, phases, labels=ax is fit_ax)
    fit_ax.plot(observed.index, observed.to_numpy(dtype=float), color="black", marker="o", markersize=2.5,
                linewidth=0.9, label="observed", zorder=4)
    for number, change in enumerate(changes):
        first = number == 0
        _draw_pre_fit(fit_ax, point_ax, change["preFit"], first)
        dates, predicted, lower, upper, seen = _its_path(change["counterfactual"], "predicted")
        fit_ax.fill_between(dates, lower, upper, color=_COUNTERFACTUAL_COLOUR, alpha=0.22, linewidth=0,
                            label="counterfactual 95% HDI" if first else None)
        fit_ax.plot(dates, predicted, color=_COUNTERFACTUAL_COLOUR, linestyle="--", linewidth=1.6,
                    label="counterfactual: pre-period model projected" if first else None)
        pointwise = seen - predicted
        point_ax.fill_between(dates, seen - upper, seen - lower, color=_COUNTERFACTUAL_COLOUR, alpha=0.22,
                              linewidth=0, label="effect 95% HDI (per day)" if first else None)
        point_ax.plot(dates, pointwise, color=_COUNTERFACTUAL_COLOUR, linewidth=1.5, marker="o", markersize=2,
                      label="effect: observed - counterfactual" if first else None)
        end = pd.Timestamp(change["treatmentEnd"]) if change.get("treatmentEnd") else None
        treated = dates < end if end is not None else np.ones(len(dates), bool)
        running = np.nancumsum(pointwise[treated])
        total_ax.plot(dates[treated], running, color=_COUNTERFACTUAL_COLOUR, linewidth=1.6,
                      label="running sum of the effect (treatment days)" if first else None)
        total = change.get("causalEffect") or {}
        if total.get("cumulativeHdi95") and len(running):
            low, high = total["cumulativeHdi95"]
            mean = total.get("cumulative", running[-1])
            total_ax.errorbar([dates[treated][-1]], [mean], yerr=[[mean - low], [high - mean]], fmt="D",
                              color=_CHANGE_COLOUR, markersize=4, capsize=3, linewidth=1.3,
                              label="phase total, 95% HDI" if first else None)
    _span(fit_ax, [observed.to_numpy(dtype=float)]
          + [np.asarray(change["preFit"]["fitted"], dtype=float) for change in changes]
          + [np.asarray(change["counterfactual"][key], dtype=float) for change in changes
             for key in ("lower95", "upper95")])
    _span(point_ax, [np.asarray(path["observed"], dtype=float) - np.asarray(path[key], dtype=float)
                     for change in changes for path, key in ((change["preFit"], "fitted"),
                                                             (change["counterfactual"], "lower95"),
                                                             (change["counterfactual"], "upper95"))])
    _headroom(fit_ax, 0.14)
    for ax in (point_ax, total_ax):
        ax.axhline(0, color="#333333", linewidth=0.8)
    fit_ax.set_title("(a) observed, model fit before each intervention and counterfactual after", loc="left",
                     fontsize=LABEL_SIZE)
    point_ax.set_title("(b) observed - model per day: residual before each intervention, effect after", loc="left",
                       fontsize=LABEL_SIZE)
    pooled = effect.get("cumulative")
    pooled_hdi = effect.get("cumulativeHdi95")
    pooled_text = (f"; pooled total {pooled:+.3g} (95% HDI {pooled_hdi[0]:.3g} to {pooled_hdi[1]:.3g})"
                   if pooled is not None and pooled_hdi else "")
    total_ax.set_title(f"(c) cumulative effect over each treatment phase{pooled_text}", loc="left",
                       fontsize=LABEL_SIZE)
    _dated(fit_ax, str(observed.name))
    _dated(point_ax, "observed - model\nper day")
    _dated(total_ax, "cumulative effect\n(bar: HDI of total)")
    for ax in (fit_ax, point_ax):
        ax.set_xlabel("")
    low, high = effect["hdi95"]
    _suptitle(figure, f"{title}\npooled effect {effect['mean']:+.3g} per day (95% HDI {low:.3g} to {high:.3g}) "
                      f"over {len(changes)} change{'s' if len(changes) != 1 else ''}")
    _legend(figure, ncols=2)
    return figure


def _span(ax, values: list[np.ndarray]) -> None:
    """The y axis over ``values`` (and 5% more each way), not over every band drawn: the pre-period fit's band is
    left out, because on the first day of a short baseline (predicted without a previous day, with phi barely
    identified) it can be many times wider than everything else, and would flatten the series to a line."""
    finite = np.concatenate(values)
    finite = finite[np.isfinite(finite)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        margin = 0.05 * (high - low or 1.0)
        ax.set_ylim(low - margin, high + margin)


def _its_path(path: dict, name: str) -> tuple:
    """Dates, the model's values (``name``), the band's bounds and the observations of a result's ``counterfactual``
    or ``preFit``."""
    return (pd.to_datetime(path["dates"]),
            *(np.asarray(path[key], dtype=float) for key in (name, "lower95", "upper95", "observed")))


def _draw_pre_fit(fit_ax, point_ax, pre_fit: dict, first: bool) -> None:
    """A change's fit over its pre period: the fitted values and their 95% band on the series (solid, in the
    counterfactual's colour: one model, fitted then projected), the residuals and their band on the pointwise
    panel (grey: they measure the fit, not an effect)."""
    dates, fitted, lower, upper, seen = _its_path(pre_fit, "fitted")
    fit_ax.fill_between(dates, lower, upper, color=_COUNTERFACTUAL_COLOUR, alpha=0.12, linewidth=0,
                        label="model fit 95% HDI (pre)" if first else None)
    fit_ax.plot(dates, fitted, color=_COUNTERFACTUAL_COLOUR, linewidth=1.4,
                label="model fit (pre)" if first else None)
    point_ax.fill_between(dates, seen - upper, seen - lower, color=_RESIDUAL_COLOUR, alpha=0.18, linewidth=0)
    point_ax.plot(dates, seen - fitted, color=_RESIDUAL_COLOUR, linewidth=1.0, marker="o", markersize=1.5,
                  label="residual: observed - model fit (pre), 95% HDI" if first else None)


def its_figure(path: Path, observed: pd.Series, changes: list[dict], effect: dict, title: str,
               conditions=None) -> Path:
    """CausalPy's three ITS panels over every analysed change (all B phases of an ABAB): (a) the observed series,
    each change's model fit over its pre period (``preFit``: fitted values, solid, and their 95% HDI) and its
    counterfactual (posterior mean, dashed) with its 95% HDI over its treatment and withdrawal days; (b) the
    pointwise residual over each pre period and effect after it, observed minus fit or counterfactual, with their
    95% HDIs; (c) the running sum of the pointwise effect over each treatment phase and that phase's total with
    its posterior 95% HDI. The phases (A1, B1, A2, B2, W) are shaded and labelled, from ``conditions`` (each day's
    condition, aligned with ``observed``) or, without them, from the changes.

    The y axes of (a) and (b) span the observations, the model's values and the counterfactual's band; the fit's
    band may run off them on the first day of a short baseline (``_span``). What the result does not hold, so the
    figure does not draw: a band for the running cumulative effect on each day (only the posterior of each phase's
    total is published)."""
    return _save(_draw_its(observed, changes, effect, title, conditions), path)


# --- randomization test ------------------------------------------------------------------------------------------

def _draw_randomization(values: pd.Series, labels, distribution, observed: float, p_value: float, alternative: str,
                        title: str):
    figure = _figure(height=6.2)
    phase_ax, null_ax = figure.subplots(2, 1, height_ratios=[1.35, 1])
    labels = np.asarray(labels)
    phases = phase_runs(values.index, labels)
    shade_phases(phase_ax, phases)
    seen = set()
    for phase in phases:
        condition = phase["condition"]
        block = values.loc[phase["start"]:phase["end"]]
        legend = None if condition in seen else f"{condition} ({'baseline' if condition == 'A' else 'intervention'})"
        seen.add(condition)
        colour = CONDITION_COLOURS.get(condition, "#555555")
        phase_ax.plot(block.index, block.to_numpy(dtype=float), marker="o", markersize=3, linewidth=1, color=colour,
                      label=legend, zorder=4)
        phase_ax.hlines(block.mean(), block.index[0], block.index[-1], colors=colour, linewidth=2.5, zorder=3)
    phase_ax.plot([], [], color="grey", linewidth=2.5, label="phase mean")
    phase_ax.set_title("(a) phases", loc="left", fontsize=LABEL_SIZE)
    _headroom(phase_ax)
    _dated(phase_ax, str(values.name))
    null_ax.hist(np.asarray(distribution), bins=40, color="#999999", edgecolor="white")
    null_ax.axvline(observed, color=_CHANGE_COLOUR, linewidth=2, label=f"observed statistic {observed:+.3g}")
    null_ax.set_xlabel("B - A statistic under admissible phase-change placements")
    null_ax.set_ylabel("placements")
    null_ax.set_title(f"(b) randomization distribution: p = {p_value:.3g} ({alternative})", loc="left",
                      fontsize=LABEL_SIZE)
    _style(null_ax)
    _suptitle(figure, title)
    _legend(figure, ncols=4)
    return figure


def randomization_figure(path: Path, values: pd.Series, labels, distribution, observed: float, p_value: float,
                         alternative: str, title: str) -> Path:
    """(a) The phase plot: each phase shaded and labelled (A1, B1, A2, B2), its days and mean; (b) the
    randomization distribution and the observed statistic."""
    return _save(_draw_randomization(values, labels, distribution, observed, p_value, alternative, title), path)


# --- change points -----------------------------------------------------------------------------------------------

def _draw_change_points(series: pd.Series, detected: list[dict], planned: list[pd.Timestamp], title: str,
                        conditions=None):
    from matplotlib.transforms import blended_transform_factory

    figure = _figure(height=4.0)
    ax = figure.subplots()
    if conditions is not None:
        shade_phases(ax, phase_runs(series.index, conditions, breaks=planned), lines=False)
    ax.plot(series.index, series.to_numpy(dtype=float), color="black", marker="o", markersize=2.5, linewidth=0.9,
            label="observed", zorder=4)
    edges = [series.index[0], *pd.to_datetime([c["date"] for c in detected]), series.index[-1] + pd.Timedelta(days=1)]
    for number, (left, right) in enumerate(zip(edges[:-1], edges[1:])):
        segment = series[(series.index >= left) & (series.index < right)]
        if len(segment):
            ax.hlines(segment.mean(), segment.index[0], segment.index[-1], colors=_MEAN_COLOUR, linewidth=2.5,
                      zorder=3, label="segment mean" if not number else None)
    for number, day in enumerate(planned):
        ax.axvline(pd.Timestamp(day) - HALF_DAY, color=_PLANNED_COLOUR, linestyle="--", linewidth=1.2,
                   label="planned phase change" if not number else None)
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    planned_lines = [pd.Timestamp(day) - HALF_DAY for day in planned]
    for number, change in enumerate(detected):
        day = pd.Timestamp(change["date"]) - HALF_DAY
        ax.axvline(day, color=_CHANGE_COLOUR, linewidth=1.8, label="detected change" if not number else None)
        # the bootstrap confidence in a row under the phase labels, inside the axes (never on the title), on the
        # side of the line away from the nearest planned change (not over its dashed line)
        nearest = min(planned_lines, key=lambda line: abs(line - day), default=day)
        left = nearest > day
        ax.text(day, 0.86, f"{change['confidence']:.0%} " if left else f" {change['confidence']:.0%}",
                transform=transform, ha="right" if left else "left", va="top",
                fontsize=SMALL_SIZE, color=_CHANGE_COLOUR, fontweight="bold", zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    _headroom(ax, 0.3)
    ax.set_title(f"{len(detected)} detected vs {len(planned)} planned changes; % = bootstrap confidence of each "
                 "detected change", loc="left", fontsize=LABEL_SIZE)
    _dated(ax, str(series.name))
    _suptitle(figure, title)
    _legend(figure, ncols=4)
    return figure


def change_points_figure(path: Path, series: pd.Series, detected: list[dict], planned: list[pd.Timestamp],
                         title: str, conditions=None) -> Path:
    """The series with its segment means, detected changes (solid, their bootstrap confidence inside the axes
    under the phase labels) and planned ones (dashed); the phases shaded and labelled when ``conditions`` (each
    day's condition, aligned with ``series``) are given."""
    return _save(_draw_change_points(series, detected, planned, title, conditions), path)


# --- sequential monitoring ---------------------------------------------------------------------------------------

def _draw_sequential(boundaries: list[dict], position: dict, sides: int, mode: str, title: str):
    figure = _figure(height=4.0)
    ax = figure.subplots()
    evaluated = [b for b in boundaries if not b.get("projected")]
    segments = [(evaluated, "-", "boundary at each look")]
    if boundaries[-1].get("projected"):  # drawn from the last evaluated look to the planned final one
        segments.append((boundaries[-2:], "--", "planned final look"))
    for bounds, style, label in segments:
        if not bounds:
            continue
        n = [b["n"] for b in bounds]
        critical = np.array([b["criticalValue"] for b in bounds])
        ax.plot(n, critical, color=_CHANGE_COLOUR, marker="s", linestyle=style, label=label)
        if sides == 2:
            ax.plot(n, -critical, color=_CHANGE_COLOUR, marker="s", linestyle=style)
    reached = [look for look in position["looks"] if look["z"] is not None]
    if reached:
        ax.plot([look["n"] for look in reached], [look["z"] for look in reached], color=_EFFECT_COLOUR, marker="o",
                linestyle="none", label="z at evaluated looks")
    if position["z"] is not None:
        ax.plot([position["nAtCurrentLook"]], [position["z"]], color="black", marker="*", markersize=12,
                linestyle="none", label=f"current look: n = {position['nAtCurrentLook']}, z = {position['z']:+.2f}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("observations (A + B days)")
    ax.set_ylabel("z of the randomization p (registered direction)" if sides == 1 else "z of the randomization p")
    crossed = position["firstCrossingLook"]
    verdict = f"crossed at look {crossed} ({position['firstCrossingLabel']})" if crossed else "no boundary crossed"
    ax.set_title(f"{mode}: {verdict}", loc="left", fontsize=LABEL_SIZE)
    _style(ax)
    _suptitle(figure, title)
    _legend(figure, ncols=2)
    return figure


def sequential_figure(path: Path, boundaries: list[dict], position: dict, sides: int, mode: str, title: str) -> Path:
    """Stopping boundaries at each look's sample size (the planned final one dashed), the z of the randomization
    test at each evaluated look, and where the data stand now."""
    return _save(_draw_sequential(boundaries, position, sides, mode, title), path)
