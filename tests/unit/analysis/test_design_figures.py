"""The design figures on small deterministic cases: each saves a valid 300 dpi PNG of the expected size and an
SVG beside it, and the drawn Figure has the panels, lines, phase labels and legend it should."""

import xml.etree.ElementTree as ET

import matplotlib.colors as mcolors
import matplotlib.dates as mdates
import matplotlib.image as mimage
import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D

from americano_pipeline.analysis.design_figures import (
    _draw_alternating,
    _draw_changing_criterion,
    _draw_multiple_baseline,
    alternating_figure,
    changing_criterion_figure,
    multiple_baseline_figure,
)
from americano_pipeline.analysis.figures import _DPI, CONDITION_COLOURS, WIDTH

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DAYS = pd.date_range("2024-03-01", periods=20, freq="D")


def assert_png(path, width_in: float, height_in: float) -> None:
    """A PNG at 300 dpi of the figure size, and an SVG of the same figure beside it."""
    assert _DPI == 300
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = mimage.imread(path)
    assert image.shape[:2] == (round(height_in * _DPI), round(width_in * _DPI))
    svg = ET.parse(path.with_suffix(".svg")).getroot()
    assert svg.tag.endswith("svg")
    assert (svg.get("width"), svg.get("height")) == (f"{width_in * 72:g}pt", f"{height_in * 72:g}pt")


def figure_legend_labels(figure) -> list[str]:
    (legend,) = figure.legends
    return [text.get_text() for text in legend.get_texts()]


def bold_texts(ax) -> list[str]:
    """The phase labels: the bold texts inside the axes."""
    return [text.get_text() for text in ax.texts if text.get_fontweight() == "bold"]


def tiers(count: int = 3) -> list[dict]:
    result = []
    for number in range(count):
        start = 6 + 4 * number
        values = pd.Series(np.r_[np.full(start, 2.0), np.full(20 - start, 5.0)], index=DAYS, name="score")
        values.iloc[3] = np.nan
        result.append({"tier": f"tier {number + 1}", "outcome": "score", "values": values, "start": DAYS[start],
                       "window": (DAYS[start - 2], DAYS[start + 2]) if number != 1 else None,
                       "baselineMean": 2.0, "interventionMean": 5.0})
    return result


def line_colours(ax) -> list[str]:
    return [mcolors.to_hex(line.get_color()) for line in ax.get_lines()]


def test_multiple_baseline_saves_a_png_of_the_figure_size(tmp_path):
    path = multiple_baseline_figure(tmp_path / "mb.png", tiers(), "three tiers")
    assert path == tmp_path / "mb.png"
    assert_png(path, WIDTH, 1.2 + 1.9 * 3)


def test_multiple_baseline_has_one_panel_per_tier_in_order_with_both_phases_and_the_start():
    drawn = tiers()
    figure = _draw_multiple_baseline(drawn, "three tiers")
    assert len(figure.axes) == 3
    assert figure.get_suptitle() == "three tiers"
    for ax, tier in zip(figure.axes, drawn):
        assert ax.get_ylabel() == f"{tier['tier']}\nscore"
        colours = line_colours(ax)
        # A line, B line, intervention start (and, in the first panel only, the empty phase-mean legend proxy)
        assert colours.count(CONDITION_COLOURS["A"].lower()) == 1 and colours.count(CONDITION_COLOURS["B"].lower()) == 1
        start_line = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert len(start_line) == 1
        assert pd.Timestamp(start_line[0].get_xdata()[0]) == tier["start"] - pd.Timedelta(hours=12)
        a_line, b_line = (line for line in ax.get_lines() if line.get_marker() == "o")
        assert len(a_line.get_xdata()) + len(b_line.get_xdata()) == 20
        assert len(ax.collections) == 2  # the two phase-mean segments
        # A and B phase shading, and the hatched start window
        assert len(ax.patches) == (2 if tier["window"] is None else 3)
        assert bold_texts(ax) == ["A1", "B1"]
    assert figure.axes[-1].get_xlabel() == "date" and figure.axes[0].get_xlabel() == ""
    staircase = [artist for artist in figure.artists if isinstance(artist, Line2D)]
    assert len(staircase) == 2  # the connectors between consecutive panels
    for (upper, lower), step in zip(zip(drawn[:-1], drawn[1:]), staircase):
        x = step.get_xdata()  # from the start line above to the start line below
        half = pd.Timedelta(hours=12)
        assert (x[0], x[-1]) == pytest.approx(mdates.date2num([upper["start"] - half, lower["start"] - half]))
    assert figure_legend_labels(figure) == [
        "admissible start window", "A (baseline)", "B (intervention)", "phase mean", "intervention start"]


def test_multiple_baseline_with_one_tier_has_no_staircase_and_no_tiers_is_refused():
    figure = _draw_multiple_baseline(tiers(1), "one tier")
    assert len(figure.axes) == 1 and not any(isinstance(artist, Line2D) for artist in figure.artists)
    with pytest.raises(ValueError):
        _draw_multiple_baseline([], "none")


def alternating_case():
    conditions = ["A", "B", "B", "A", "B", "A", "A", "B", "A", "B"]
    values = pd.Series([1.0, 3.0, 4.0, 2.0, 5.0, np.nan, 3.0, 4.0, 2.0, 4.0], index=DAYS[:10], name="focus")
    return values, conditions


def test_alternating_saves_a_png(tmp_path):
    values, conditions = alternating_case()
    path = alternating_figure(tmp_path / "alt.png", values, conditions, "alternating")
    assert path == tmp_path / "alt.png"
    assert_png(path, WIDTH, 3.9)


def test_alternating_connects_each_condition_and_draws_its_mean():
    values, conditions = alternating_case()
    figure = _draw_alternating(values, conditions, "alternating")
    (ax,) = figure.axes
    assert ax.get_title() == "alternating" and ax.get_ylabel() == "focus" and ax.get_xlabel() == "date"
    a_line, a_mean, b_line, b_mean = ax.get_lines()
    assert len(a_line.get_xdata()) == 4 and len(b_line.get_xdata()) == 5  # the missing A day is skipped
    assert a_mean.get_ydata()[0] == pytest.approx(2.0) and b_mean.get_ydata()[0] == pytest.approx(4.0)
    assert a_mean.get_linestyle() == b_mean.get_linestyle() == "--"
    assert mcolors.to_hex(a_line.get_color()) == CONDITION_COLOURS["A"].lower()
    assert mcolors.to_hex(b_mean.get_color()) == CONDITION_COLOURS["B"].lower()
    labels = figure_legend_labels(figure)
    assert labels == ["A (control)", "A (control) mean 2", "B (treatment)", "B (treatment) mean 4"]


def test_alternating_uses_the_given_condition_names_and_checks_the_lengths():
    values, conditions = alternating_case()
    figure = _draw_alternating(values, conditions, "named", {"A": "no coffee", "B": "coffee"})
    labels = figure_legend_labels(figure)
    assert labels == ["no coffee", "no coffee mean 2", "coffee", "coffee mean 4"]
    with pytest.raises(ValueError):
        _draw_alternating(values, conditions[:-1], "short")


def criterion_case():
    values = pd.Series(np.r_[np.full(5, 1.0), np.full(5, 2.0), np.full(5, 3.0)], index=DAYS[:15], name="steps")
    phases = [{"label": "baseline", "start": DAYS[0], "end": DAYS[4], "criterion": None},
              {"label": "criterion 2", "start": DAYS[5], "end": DAYS[9], "criterion": 2.0},
              {"label": "criterion 3", "start": DAYS[10], "end": DAYS[14], "criterion": 3.0}]
    return values, phases


def test_changing_criterion_saves_a_png(tmp_path):
    values, phases = criterion_case()
    path = changing_criterion_figure(tmp_path / "cc.png", values, phases, "changing criterion")
    assert path == tmp_path / "cc.png"
    assert_png(path, WIDTH, 4.2)


def test_changing_criterion_draws_the_criterion_steps_boundaries_labels_and_means():
    values, phases = criterion_case()
    figure = _draw_changing_criterion(values, phases, "changing criterion")
    (ax,) = figure.axes
    *boundaries, observed, criterion = ax.get_lines()
    assert len(observed.get_xdata()) == 15
    # the criterion starts with the first criterion phase (none over the baseline) and steps from 2 to 3
    assert list(criterion.get_ydata()) == [2.0, 2.0, 3.0, 3.0]
    assert pd.Timestamp(criterion.get_xdata()[0]) == DAYS[5] - pd.Timedelta(hours=12)
    assert len(boundaries) == 2  # between the three phases
    # A1 for the baseline, the criterion phases numbered B1, B2 with their criterion
    assert [text.get_text() for text in ax.texts] == ["A1", "B1\ncriterion 2", "B2\ncriterion 3"]
    assert all(text.get_position()[1] < 1 for text in ax.texts)  # inside the plot area, under the title
    assert len(ax.patches) == 3  # one shading per phase
    means = [segments.get_segments()[0][0][1] for segments in ax.collections]
    assert means == pytest.approx([1.0, 2.0, 3.0])
    assert figure_legend_labels(figure) == ["observed", "criterion", "phase mean"]
    assert ax.get_ylim()[1] > 3.0  # headroom for the labels


def test_changing_criterion_breaks_the_step_line_over_a_gap_between_criterion_phases():
    values, phases = criterion_case()
    phases[2]["start"] = DAYS[12]
    figure = _draw_changing_criterion(values, phases, "gap")
    criterion = figure.axes[0].get_lines()[-1]
    assert np.isnan(criterion.get_ydata()).sum() == 1
