"""The analysis figures on small deterministic cases: every figure saves a 300 dpi PNG and an SVG beside it, the
time-series figures shade and label the design's phases (A1, B1, A2, B2), the ITS figure has CausalPy's three
panels over every analysed change (the model's fit over each pre period included), and the change-point
confidences stay inside the axes, clear of the title."""

import copy
import xml.etree.ElementTree as ET

import matplotlib.image as mimage
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from americano_pipeline.analysis import figures
from americano_pipeline.analysis.figures import (
    _DPI,
    WIDTH,
    _draw_change_points,
    _draw_its,
    _draw_randomization,
    _draw_sequential,
    _save,
    phase_runs,
)

DAYS = pd.date_range("2024-03-01", periods=40, freq="D")
ABAB = ["A"] * 10 + ["B"] * 10 + ["A"] * 10 + ["B"] * 10


def phase_labels(ax) -> list[str]:
    return [text.get_text() for text in ax.texts if text.get_fontweight() == "bold"]


def assert_saved(path, width_in: float, height_in: float) -> None:
    image = mimage.imread(path)
    assert image.shape[:2] == (round(height_in * 300), round(width_in * 300))
    svg = ET.parse(path.with_suffix(".svg")).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"


def its_case():
    series = pd.Series(np.r_[np.full(10, 1.0), np.full(10, 3.0), np.full(10, 1.5), np.full(10, 3.5)], index=DAYS,
                       name="score")

    def path(first: int, last: int, level: float, name: str) -> dict:
        dates = DAYS[first:last]
        return {"dates": [day.date().isoformat() for day in dates], name: [level] * len(dates),
                "observed": list(series.iloc[first:last]), "lower95": [level - 1] * len(dates),
                "upper95": [level + 1] * len(dates)}

    changes = [
        {"intervention": "2024-03-11", "treatmentEnd": "2024-03-21", "preDays": 10, "treatmentDays": 10,
         "preFit": path(0, 10, 0.75, "fitted"), "counterfactual": path(10, 30, 1.0, "predicted"),
         "causalEffect": {"cumulative": 20.0, "cumulativeHdi95": [10.0, 30.0]}},
        {"intervention": "2024-03-31", "treatmentEnd": None, "preDays": 10, "treatmentDays": 10,
         "preFit": path(20, 30, 1.5, "fitted"), "counterfactual": path(30, 40, 1.5, "predicted"),
         "causalEffect": {"cumulative": 20.0, "cumulativeHdi95": [12.0, 28.0]}},
    ]
    effect = {"mean": 2.0, "hdi95": [1.0, 3.0], "cumulative": 40.0, "cumulativeHdi95": [25.0, 55.0]}
    return series, changes, effect


def test_save_writes_a_300_dpi_png_and_an_svg_beside_it(tmp_path):
    figure = figures._figure(height=2.0)
    figure.subplots().plot([0, 1], [0, 1])
    path = _save(figure, tmp_path / "plot.png")
    assert path == tmp_path / "plot.png" and _DPI == 300
    assert_saved(path, WIDTH, 2.0)
    first = path.with_suffix(".svg").read_bytes()
    _save(figure, tmp_path / "plot.png")  # stable ids, no date: the same file again
    assert path.with_suffix(".svg").read_bytes() == first


def test_phase_runs_number_each_condition_and_mark_washouts():
    conditions = ["A", "A", "B", "B", None, "A", "washout", "B", "B"]
    phases = phase_runs(pd.date_range("2024-01-01", periods=9), conditions)
    assert [phase["label"] for phase in phases] == ["A1", "B1", "W", "A2", "W", "B2"]
    assert phases[1]["start"] == pd.Timestamp("2024-01-03") and phases[1]["end"] == pd.Timestamp("2024-01-04")
    split = phase_runs(pd.date_range("2024-01-01", periods=6), ["A", "A", "B", "B", "B", "B"],
                       breaks=[pd.Timestamp("2024-01-05")])
    assert [phase["label"] for phase in split] == ["A1", "B1", "B2"]
    with pytest.raises(ValueError):
        phase_runs(pd.date_range("2024-01-01", periods=2), ["A"])


def test_its_figure_has_three_panels_over_every_change_and_the_abab_phases(tmp_path):
    series, changes, effect = its_case()
    given = copy.deepcopy(changes)
    path = figures.its_figure(tmp_path / "its.png", series, changes, effect, "ABAB", conditions=ABAB)
    assert_saved(path, WIDTH, 7.6)
    assert changes == given  # the result's changes are not modified
    figure = _draw_its(series, changes, effect, "ABAB", conditions=ABAB)
    fit_ax, point_ax, total_ax = figure.axes
    assert phase_labels(fit_ax) == ["A1", "B1", "A2", "B2"]
    # both changes (both B phases) drawn: a dashed counterfactual and a band each, over every counterfactual day
    dashed = [line for line in fit_ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 2 and [len(line.get_xdata()) for line in dashed] == [20, 10]
    assert pd.Timestamp(dashed[1].get_xdata()[-1]) == DAYS[-1]
    # and each change's model fit over its own pre period (A1; A2), solid, with its band
    solid = [line for line in fit_ax.get_lines()
             if line.get_linestyle() == "-" and line.get_color() == figures._COUNTERFACTUAL_COLOUR]
    assert [(pd.Timestamp(line.get_xdata()[0]), len(line.get_xdata())) for line in solid] == [(DAYS[0], 10),
                                                                                             (DAYS[20], 10)]
    assert [list(line.get_ydata()[:1]) for line in solid] == [[0.75], [1.5]]
    assert len([c for c in fit_ax.collections if isinstance(c, PolyCollection)]) == 4
    # the pointwise panel: residuals (observed - fit) over the pre periods, then the effect (observed -
    # counterfactual); each band is observed minus the model's band
    pointwise = [line for line in point_ax.get_lines() if line.get_marker() == "o"]
    assert [(len(line.get_xdata()), line.get_ydata()[0]) for line in pointwise] == [(10, 0.25), (20, 2.0),
                                                                                   (10, 0.0), (10, 2.0)]
    bands = [c for c in point_ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 4 and bands[0].get_paths()[0].vertices[:, 1].min() == pytest.approx(-0.75)
    # the running sum over each treatment phase (10 days), ending at the phase's total with its HDI
    running = [line for line in total_ax.get_lines() if len(line.get_xdata()) == 10]
    assert [line.get_ydata()[-1] for line in running] == pytest.approx([20.0, 20.0])
    assert len(total_ax.containers) == 2  # one error bar per change
    assert "pooled total +40" in total_ax.get_title(loc="left")
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert {"model fit (pre)", "model fit 95% HDI (pre)", "residual: observed - model fit (pre), 95% HDI",
            "counterfactual: pre-period model projected"} <= set(labels)


def test_its_figure_without_conditions_derives_the_phases_from_the_changes():
    series, changes, effect = its_case()
    figure = _draw_its(series, changes, effect, "ABAB")
    assert phase_labels(figure.axes[0]) == ["A1", "B1", "A2", "B2"]


def test_randomization_figure_labels_the_phases_of_the_series_panel(tmp_path):
    values = pd.Series(np.arange(40, dtype=float), index=DAYS, name="score")
    path = figures.randomization_figure(tmp_path / "r.png", values, ABAB, np.linspace(-1, 1, 50), 0.5, 0.2,
                                        "greater", "ABAB")
    assert_saved(path, WIDTH, 6.2)
    figure = _draw_randomization(values, ABAB, np.linspace(-1, 1, 50), 0.5, 0.2, "greater", "ABAB")
    phase_ax, null_ax = figure.axes
    assert phase_labels(phase_ax) == ["A1", "B1", "A2", "B2"]
    assert "p = 0.2" in null_ax.get_title(loc="left")


def test_change_point_confidences_sit_inside_the_axes_clear_of_the_titles(tmp_path):
    series = pd.Series(np.r_[np.full(10, 1.0), np.full(10, 3.0), np.full(10, 1.0), np.full(10, 3.0)], index=DAYS,
                       name="score")
    detected = [{"date": "2024-03-11", "confidence": 0.93}, {"date": "2024-03-20", "confidence": 0.61}]
    planned = [DAYS[10], DAYS[20], DAYS[30]]
    path = figures.change_points_figure(tmp_path / "cp.png", series, detected, planned, "title " * 30,
                                        conditions=ABAB)
    assert_saved(path, WIDTH, 4.0)
    figure = _draw_change_points(series, detected, planned, "title " * 30, conditions=ABAB)
    (ax,) = figure.axes
    assert phase_labels(ax)[:4] == ["A1", "B1", "A2", "B2"]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    confidences = [text for text in ax.texts if text.get_text().strip().endswith("%")]
    assert [text.get_text().strip() for text in confidences] == ["93%", "61%"]
    inside = ax.get_window_extent(renderer)
    titles = [ax.title, ax._left_title, figure._suptitle]
    for text in confidences:
        box = text.get_window_extent(renderer)
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1
        assert not any(box.overlaps(title.get_window_extent(renderer)) for title in titles if title.get_text())
    # each confidence on the side of its line away from the nearest planned change (one day right of the second)
    assert [text.get_horizontalalignment() for text in confidences] == ["left", "right"]


def test_sequential_figure_saves_both_formats(tmp_path):
    boundaries = [{"n": 10, "criticalValue": 3.0}, {"n": 20, "criticalValue": 2.2},
                  {"n": 30, "criticalValue": 2.0, "projected": True}]
    position = {"looks": [{"n": 10, "z": 1.0}, {"n": 20, "z": 1.5}], "z": 1.5, "nAtCurrentLook": 20,
                "firstCrossingLook": None, "firstCrossingLabel": None}
    path = figures.sequential_figure(tmp_path / "s.png", boundaries, position, 1, "prospective", "AB")
    assert_saved(path, WIDTH, 4.0)
    assert len(_draw_sequential(boundaries, position, 1, "prospective", "AB").legends) == 1
