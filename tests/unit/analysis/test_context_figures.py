"""The context-outcome figures and the choices around them on a small deterministic user: which pairs get a
cross-correlation panel, the heatmap's cells (q-values, n/a for pairs without enough days), 300 dpi PNG + SVG."""

import matplotlib.image as mimage
import numpy as np
import pandas as pd
import pytest

from americano_pipeline.analysis.context_figures import _draw_ccf, _draw_q_heatmap, ccf_figure, q_heatmap_figure
from americano_pipeline.analysis.context_relations import MAX_PANELS, metrics_of, shown_pairs
from americano_pipeline.analysis.figures import _DPI
from americano_pipeline.stats.context_relations import context_relations

DAYS = pd.date_range("2025-01-06", periods=120, freq="D")


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(7)
    sleep = rng.normal(7, 1, len(DAYS))
    context = pd.DataFrame({"sleep_hours": sleep, "steps": rng.normal(8000, 2000, len(DAYS)), "hrv_score": np.nan},
                           index=DAYS)
    outcomes = pd.DataFrame({"mean_performance": 3 * sleep + rng.normal(0, 2, len(DAYS)),
                             "study_minutes": rng.normal(45, 6, len(DAYS))}, index=DAYS)
    return context_relations(context, outcomes, same_day=["sleep_hours"])


def test_the_panels_are_the_significant_pairs_else_the_best_one(result):
    assert [(p.context, p.outcome) for p in shown_pairs(result)] == [("sleep_hours", "mean_performance")]
    nothing = context_relations(pd.DataFrame({"steps": np.random.default_rng(1).normal(size=120)}, index=DAYS),
                                pd.DataFrame({"y": np.random.default_rng(2).normal(size=120)}, index=DAYS))
    assert not nothing.significant_pairs and len(shown_pairs(nothing)) == 1
    assert MAX_PANELS == 12


def test_the_metrics_name_every_analysed_pairs_q_value(result):
    metrics = metrics_of(result)
    assert (metrics["pairs"], metrics["pairs_analysed"], metrics["pairs_significant"]) == (6, 4, 1)
    assert metrics["granger_q.sleep_hours.mean_performance"] < 1e-6
    assert "granger_q.hrv_score.study_minutes" not in metrics


def test_the_ccf_panels_show_the_band_and_the_granger_q(result):
    figure = _draw_ccf(result, shown_pairs(result), "title")
    [ax] = [ax for ax in figure.axes if ax.get_visible()]
    assert ax.get_title().startswith("sleep_hours -> mean_performance\nGranger q = ")
    assert ax.get_xticks().tolist() == list(range(8))
    empty = _draw_ccf(result, [], "nothing to show")
    assert "no context-outcome pair" in empty.axes[0].texts[0].get_text()


def test_the_heatmap_marks_significant_and_missing_pairs(result):
    figure = _draw_q_heatmap(result, "title")
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts.count("n/a") == 2 and sum(t.endswith("*") for t in texts) == 1 and len(texts) == 6


def test_both_figures_are_300_dpi_png_with_an_svg(result, tmp_path):
    for path in (ccf_figure(tmp_path / "ccf.png", result, shown_pairs(result), "t"),
                 q_heatmap_figure(tmp_path / "q_heatmap.png", result, "t")):
        assert mimage.imread(path).shape[1] == round(7.0 * _DPI)
        assert path.with_suffix(".svg").read_text().lstrip().startswith("<?xml")
