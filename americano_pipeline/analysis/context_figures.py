"""Figures of one user's context-outcome relations (300 dpi PNG and SVG): the prewhitened cross-correlations of
the pairs worth a look, and the Granger q-values of every context x outcome pair as a heatmap.

Same conventions as ``figures``: ``matplotlib.figure.Figure`` objects (no pyplot), matplotlib imported inside the
functions, sizes and saving taken from there. Each public function saves a PNG to ``path`` and an SVG beside it
and returns ``path``; the ``_draw_*`` functions return the ``Figure`` itself (for tests).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from americano_pipeline.analysis.figures import (
    CONDITION_COLOURS,
    LABEL_SIZE,
    SMALL_SIZE,
    WIDTH,
    _figure,
    _legend,
    _save,
    _style,
    _suptitle,
)
from americano_pipeline.stats.context_relations import ContextRelationsResult, PairResult

_COLUMNS = 3
_SIGNIFICANT = CONDITION_COLOURS["B"]
_NOT_SIGNIFICANT = CONDITION_COLOURS["A"]
_BAND = "#999999"


def _draw_ccf(result: ContextRelationsResult, pairs: list[PairResult], title: str):
    """One panel per pair: r at each lag (filled: q < alpha in the cross-correlation family) with the +-1.96/sqrt(n)
    band of the white-noise null, the pair's Granger q in the panel title."""
    from matplotlib.lines import Line2D

    if not pairs:  # the figure names are fixed per method, so a result without pairs still replaces the old one
        figure = _figure(WIDTH, 2.0)
        ax = figure.subplots()
        ax.text(0.5, 0.5, "no context-outcome pair had enough days to analyse", ha="center", va="center",
                fontsize=LABEL_SIZE)
        ax.set_axis_off()
        _suptitle(figure, title)
        return figure
    rows = math.ceil(len(pairs) / _COLUMNS)
    figure = _figure(WIDTH, 1.0 + 2.1 * rows)
    axes = figure.subplots(rows, _COLUMNS, squeeze=False, sharey=True).ravel()
    limit = max([0.3] + [abs(c.r) * 1.15 for p in pairs for c in p.ccf])
    for ax, pair in zip(axes, pairs):
        lags = np.array([c.lag for c in pair.ccf])
        r = np.array([c.r for c in pair.ccf])
        band = np.array([1.96 / math.sqrt(c.n) if c.n else np.nan for c in pair.ccf])
        found = np.array([c.q_value < result.alpha for c in pair.ccf])
        ax.fill_between(lags, -band, band, color=_BAND, alpha=0.2, linewidth=0, step="mid")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.vlines(lags, 0, r, color=np.where(found, _SIGNIFICANT, _NOT_SIGNIFICANT), linewidth=1.4)
        ax.scatter(lags[found], r[found], color=_SIGNIFICANT, s=14, zorder=3)
        ax.scatter(lags[~found], r[~found], facecolor="white", edgecolor=_NOT_SIGNIFICANT, s=14, zorder=3)
        ax.set_title(f"{pair.context} -> {pair.outcome}\nGranger q = {pair.granger.q_value:.2g}",
                     fontsize=SMALL_SIZE)
        ax.set_xlabel("lag (days, context leading)")
        ax.set_ylim(-limit, limit)
        ax.set_xticks(lags)
        _style(ax)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    for ax in axes[::_COLUMNS]:
        ax.set_ylabel("prewhitened r")
    handles = [Line2D([], [], color=_SIGNIFICANT, marker="o", linewidth=1.4),
               Line2D([], [], color=_NOT_SIGNIFICANT, marker="o", markerfacecolor="white", linewidth=1.4),
               Line2D([], [], color=_BAND, alpha=0.4, linewidth=6)]
    _legend(figure, handles=handles, labels=[f"q < {result.alpha} (all pairs x lags)", "not significant",
                                             "95% band of no relation (+-1.96/sqrt(n))"])
    _suptitle(figure, title)
    return figure


def ccf_figure(path: Path, result: ContextRelationsResult, pairs: list[PairResult], title: str) -> Path:
    """The cross-correlation panels of ``pairs`` (analysed ones; none: a note saying so) saved at ``path``."""
    return _save(_draw_ccf(result, pairs, title), path)


def _draw_q_heatmap(result: ContextRelationsResult, title: str):
    """Context (rows) x outcome (columns): -log10 of the Granger q-value, the q printed in each cell (bold and
    starred below alpha), "n/a" where the pair had too little data."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    contexts = list(dict.fromkeys(p.context for p in result.pairs))
    outcomes = list(dict.fromkeys(p.outcome for p in result.pairs))
    strength = np.full((len(contexts), len(outcomes)), np.nan)
    for pair in result.analysed:
        strength[contexts.index(pair.context), outcomes.index(pair.outcome)] = \
            -math.log10(max(pair.granger.q_value, 1e-10))
    figure = _figure(WIDTH, 1.6 + 0.38 * len(contexts))
    ax = figure.subplots()
    top = max(3.0, float(np.nanmax(strength)) if np.isfinite(strength).any() else 0.0)
    colours = colormaps["Oranges"].with_extremes(bad="#EEEEEE")
    image = ax.imshow(np.ma.masked_invalid(strength), cmap=colours, norm=Normalize(0, top), aspect="auto")
    for i, context in enumerate(contexts):
        for j, outcome in enumerate(outcomes):
            pair = result.pair(context, outcome)
            if pair.granger is None:
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=SMALL_SIZE, color="#777777")
                continue
            q = pair.granger.q_value
            dark = strength[i, j] > 0.6 * top
            ax.text(j, i, f"{q:.2g}" + ("*" if pair.significant else ""), ha="center", va="center",
                    fontsize=SMALL_SIZE, fontweight="bold" if pair.significant else "normal",
                    color="white" if dark else "black")
    ax.set_xticks(range(len(outcomes)), outcomes, rotation=20, ha="right", fontsize=SMALL_SIZE)
    ax.set_yticks(range(len(contexts)), contexts, fontsize=SMALL_SIZE)
    ax.set_xlabel("outcome", fontsize=LABEL_SIZE)
    ax.set_ylabel("context", fontsize=LABEL_SIZE)
    bar = figure.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label("-log10 q (Granger, BH over all pairs)", fontsize=SMALL_SIZE)
    bar.ax.tick_params(labelsize=SMALL_SIZE)
    _suptitle(figure, title)
    return figure


def q_heatmap_figure(path: Path, result: ContextRelationsResult, title: str) -> Path:
    """The Granger q-value heatmap of every pair saved at ``path`` (module doc)."""
    return _save(_draw_q_heatmap(result, title), path)
