"""The CENT report builder on hand-made results of each design, and its HTML and PDF rendering."""

import re

import pytest

from americano_pipeline.report.build import build_report
from americano_pipeline.report.inputs import ANALYSES, ReportInputs
from americano_pipeline.report.numbers import interval, sig
from americano_pipeline.report.render import HTML_FILE, PDF_FILE, publish_report, render_html

# Every CENT 2015 item the report covers (1a .. 25; items the checklist splits further are reported together).
CENT_ITEMS = ["1a", "1b", "2a", "2b", "3a", "3b", "4a", "4b", "5", "6a", "7a", "8", "9", "10", "11", "12a", "13a",
              "14a", "16", "17a", "17b", "18", "19", "20", "21", "22", "23", "24", "25"]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d4944415478da63f8ff"
                    "ff3f0005fe02fea7d6a4be0000000049454e44ae426082")


def provenance(asset, figures=()):
    return {"asset": f"analysis/{asset}", "codeCommit": "03f538b6c0d442da3b6cd11437bb0882d8a02ab0", "codeDirty": False,
            "dataVersionHash": "1776.dir", "mlflowRunId": f"mlflow-{asset}", "analysisRunId": f"run-{asset}",
            "completedAt": "2026-12-01T19:17:44+00:00", "figures": list(figures), "metric": "mean_performance"}


def protocol(design="ABAB", **extra):
    return {"protocol_id": "cproto", "user_id": "cuser", "protocol_name": "Background music while reviewing",
            "design_type": design, "primary_outcome": "mean_performance", "hypothesis": "Music changes performance.",
            "analysis_plan": {"confirmatory": "phase_randomization_test", "alternative": "two-sided", "alpha": 0.05},
            "confirmatory_analysis": "phase_randomization_test", "registered_alternative": "two-sided",
            "plan_alpha": 0.05, "max_consecutive": None, "multiple_baseline_scheme": None, "tier_count": 0,
            "start_date": "2026-09-30", "end_date": "2026-10-31", "is_ongoing": False, "sample_size_target": 32,
            "planned_duration_days": 32.0, "series_end_date": "2026-10-31", "actual_duration_days": 32,
            "phase_count": 2, "baseline_phase_count": 1, "intervention_phase_count": 1, "washout_phase_count": 0,
            "phase_sequence": "AB", "min_phase_length": 5, "shortest_phase_days": 12, "meets_min_phase_length": True,
            "randomization_seed": 95, "deviation_count": 0, **extra}


PHASES = [
    {"phase_label": "baseline_1", "phase_type": "BASELINE", "condition": "A", "is_washout": False,
     "planned_duration": 16, "start_date": "2026-09-30", "end_date": "2026-10-15", "observed_days": 16,
     "measured_days": 16, "outcome_mean": 68.745324, "intervention_params": {"music": False}, "criterion": None},
    {"phase_label": "intervention_1", "phase_type": "INTERVENTION_A", "condition": "B", "is_washout": False,
     "planned_duration": 16, "start_date": "2026-10-16", "end_date": "2026-10-31", "observed_days": 16,
     "measured_days": 16, "outcome_mean": 70.1234, "intervention_params": {"music": True}, "criterion": None},
]


def randomization(design_type, effect_sizes, test="phase_randomization_test", p=0.6065934065934065, **extra):
    return {"role": "confirmatory", "multiplicity": "Confirmatory: the one registered analysis.",
            "observedEffect": -1.3311292518472388, "pValue": p, "effectSize": -0.18772080469131494,
            "interpretation": "The outcome was 1.33 lower under B than under A.", "nAssignments": 455, "exact": True,
            "test": test, "alternative": "two-sided", "alternativeSource": "registered", "statistic": "mean_difference",
            "design": {"designType": design_type}, "effectSizes": effect_sizes,
            "wwcDesignStandard": {"verdict": "meets", "reason": "4 phases", "standard": "reversal"},
            "alphaCheck": {"alpha": 0.05, "reachable": True, "message": "455 placements: smallest p 1/455 = 0.0022"},
            "excluded": {"washoutDays": 0, "missingOutcomeDays": []},
            "provenance": provenance("randomization_result", ["randomization.png"]), **extra}


REVERSAL_SIZES = {"NAP": 0.44, "NAP_SE": 0.10947, "NAP_CI": [0.22544133, 0.65455867], "TauU": -0.3333333,
                  "SMD_baseline": -0.0915714912, "SMD_baseline_CI": [-0.631522792906149, 0.44837981048366304],
                  "confidence": 0.95}
SIZES = {
    "ABAB": REVERSAL_SIZES,
    "ALTERNATING": {"conditions": {"A": {"n": 14, "mean": 72.07, "sd": 6.26},
                                   "B": {"n": 14, "mean": 80.45, "sd": 6.26}},
                    "difference": 8.3785, "NAP": 0.8265, "NAP_CI": [0.616, 0.929], "SMD_pooled": 1.2987,
                    "SMD_pooled_CI": [0.502, 2.095], "variant": "all A days vs all B days"},
    "MULTIPLE_BASELINE": {"tiers": [{"tier": "study time", "outcome": "study_minutes", "baselineMean": 40.569,
                                     "interventionMean": 57.127, "difference": 16.5578, "NAP": 0.98337,
                                     "NAP_CI": [0.8652, 0.99795], "TauU": 0.9854, "SMD_baseline": 2.7811,
                                     "SMD_baseline_CI": [1.5753, 3.98695]}],
                          "meanDifference": 11.8408, "variant": "per tier"},
    "CHANGING_CRITERION": {"phases": [{"label": "baseline_1", "days": 10, "mean": 47.82, "criterion": None},
                                      {"label": "criterion_1", "days": 9, "mean": 55.4667, "criterion": 55.0,
                                       "meanMinusCriterion": 0.46667, "meanAbsoluteDeviation": 3.68889}],
                           "variant": "per criterion phase"},
}


def results(design):
    supportive = {"role": "supportive", "multiplicity": "Supportive."}
    its = {**supportive, "causalEffect": {"mean": 0.1168, "hdi95": [-16.43, 20.32], "probability_positive": 0.487},
           "changes": [{"intervention": "2026-10-16", "treatmentDays": 16,
                        "causalEffect": {"mean": 1.25, "hdi95": [-24.9, 26.6], "probability_positive": 0.54}}],
           "crossCheck": {"method": "OLS with HAC errors", "levelChange": -1.33, "ci95": [-6.08, 3.42],
                          "pValue": 0.5716, "nObs": 32},
           "diagnostics": {"rhat": 1.002, "ess_bulk": 1806.0}, "interpretation": "ITS: compatible with no effect.",
           "provenance": provenance("its_result", ["its.png"])}
    not_run = {**supportive, "notRun": True, "reason": "no baseline period to project a counterfactual from",
               "provenance": provenance("its_result")}
    change_points = {**supportive, "changePoints": [{"date": "2026-10-17", "confidence": 0.91, "beforeMean": 68.7,
                                                     "afterMean": 70.1, "percentChange": 2.04}],
                     "algorithm": "PELT", "comparison": {"toleranceDays": 3, "planned": [{"date": "2026-10-16"}],
                                                         "matchedPlanned": 1, "matchedByChanceProbability": 0.2},
                     "provenance": provenance("change_points_result", ["change_points.png"])}
    sequential = {**supportive, "boundaries": [{"n": 32}], "alpha": 0.05, "spendingFunction": "obrien_fleming",
                  "mode": "retrospective", "looksFrom": "phase ends",
                  "position": {"nObserved": 32, "nA": 16, "nB": 16, "firstCrossingLabel": None,
                               "looks": [{"look": 1, "day": "2026-10-31", "label": "end of intervention_1",
                                          "n": 32, "informationFraction": 1.0, "estimate": -1.33, "pValue": 0.6,
                                          "nominalP": 0.05, "crossed": False}]},
                  "provenance": provenance("sequential_boundaries", ["sequential.png"])}
    interrupted = design in ("ABAB", "MULTIPLE_BASELINE")
    return {"randomization_result": randomization(design, SIZES[design]),
            "its_result": its if interrupted else not_run, "change_points_result": change_points,
            "sequential_boundaries": sequential if interrupted else {**not_run,
                                                                     "provenance": provenance("sequential_boundaries")}}


def inputs(tmp_path, design="ABAB", drop=(), **protocol_extra):
    found = results(design)
    dirs = {}
    for asset in ANALYSES:
        dirs[asset] = tmp_path / "analysis" / asset / "cproto"
        dirs[asset].mkdir(parents=True, exist_ok=True)
        for name in found[asset]["provenance"]["figures"]:
            (dirs[asset] / name).write_bytes(PNG)
    missing = {asset: f"no published result for analysis/{asset}" for asset in drop}
    return ReportInputs(protocol=protocol(design, **protocol_extra), registration={
        "deviations": [], "screened": 1, "eligible": 1, "enrolled": 1, "completed": 1},
        phases=PHASES, results={a: None if a in drop else found[a] for a in ANALYSES}, missing=missing,
        result_dirs=dirs, warehouse_data_version="1776.dir")


@pytest.mark.parametrize("design", list(SIZES))
def test_every_cent_item_is_filled_or_says_why_not(tmp_path, design):
    report = build_report(inputs(tmp_path, design))
    assert [item.number for item in report.items if item.number] == CENT_ITEMS
    for item in report.items:
        assert item.reported or len(item.not_reported) > 20, item
        assert item.reported == (item.status == "filled")
        if item.reported:
            assert item.fields or item.paragraphs or item.tables or item.figures, item
    assert {item.title for item in report.items if not item.number} == {"Figures", "Provenance"}
    # what the source database cannot say, and only that, is not reported
    assert {item.number for item in report.not_reported} == {"2a", "4a", "9", "10", "11", "19", "21", "25"}
    figures = next(item for item in report.items if item.title == "Figures").figures
    assert len(figures) == (4 if design in ("ABAB", "MULTIPLE_BASELINE") else 2)


def test_the_confirmatory_result_comes_first_then_the_supportive_ones_labelled(tmp_path):
    report = build_report(inputs(tmp_path))
    numbers = [item.number for item in report.items]
    assert numbers.index("17a") < numbers.index("17b") < numbers.index("18")
    confirmatory = report.item("17a")
    assert confirmatory.label == "confirmatory" and "Randomization test" in confirmatory.title
    fields = dict(confirmatory.fields)
    assert fields["p-value"] == "0.607" and fields["Alpha"] == "0.05" and fields["Test"] == "phase_randomization_test"
    assert fields["Direction"] == "two-sided (registered)"
    assert fields["Decision"].endswith("not significant at the registered alpha")
    assert "1/455" in fields["Alpha check"]
    supportive = report.item("18")
    assert supportive.label == "supportive"
    assert all("(supportive)" in table.caption for table in supportive.tables)
    assert [p.split(" (supportive)")[0] for p in supportive.paragraphs] == \
        ["Bayesian interrupted time series", "Change-point detection", "Group-sequential monitoring"]
    provenance_rows = next(i for i in report.items if i.title == "Provenance").tables[0].rows
    assert provenance_rows[0][:2] == ("analysis/randomization_result", "confirmatory")
    assert {row[4] for row in provenance_rows} == {f"mlflow-{a}" for a in ANALYSES}
    assert {row[5] for row in provenance_rows} == {f"run-{a}" for a in ANALYSES}
    assert provenance_rows[0][2] == "03f538b6c0d4"


def test_a_significant_result_is_called_so_at_the_registered_alpha(tmp_path):
    base = inputs(tmp_path)
    base.results["randomization_result"]["pValue"] = 0.0021978
    fields = dict(build_report(base).item("17a").fields)
    assert fields["p-value"] == "0.0022" and fields["Decision"].startswith("p = 0.0022 ≤ alpha = 0.05")


def test_a_missing_analysis_is_not_reported_with_the_reason(tmp_path):
    report = build_report(inputs(tmp_path, drop=("randomization_result", "change_points_result")))
    for number in ("1b", "16", "17a", "17b", "22"):
        assert "no published result for analysis/randomization_result" in report.item(number).not_reported
    assert report.item("17a").title.startswith("Confirmatory analysis")  # still listed first
    supportive = report.item("18")
    assert supportive.reported
    assert "Change-point detection: not reported: no published result for analysis/change_points_result" \
        in supportive.paragraphs
    limitations = " ".join(report.item("20").paragraphs)
    assert "Change-point detection: no result" in limitations
    rows = next(i for i in report.items if i.title == "Provenance").tables[0].rows
    assert ("analysis/change_points_result", "supportive", "not reported") == rows[2][:3]


def test_analyses_that_do_not_apply_to_the_design_say_why(tmp_path):
    report = build_report(inputs(tmp_path, "ALTERNATING"))
    text = " ".join(report.item("18").paragraphs)
    assert "Bayesian interrupted time series (supportive): not run: no baseline period" in text
    assert dict(report.item("7a").fields)["Interim analyses and stopping"].startswith("none: no baseline period")


@pytest.mark.parametrize("design,expected", [
    ("ABAB", ("Non-overlap of all pairs", "0.44", "0.225 to 0.655", "0.109")),
    ("MULTIPLE_BASELINE", ("study time", "study_minutes", "40.6", "57.1", "16.6", "0.983 [0.865 to 0.998]", "0.985",
                           "2.78 [1.58 to 3.99]")),
    ("CHANGING_CRITERION", ("criterion_1", "9", "55.5", "55", "0.467", "3.69")),
])
def test_effect_sizes_carry_their_intervals_rounded_to_3_significant_digits(tmp_path, design, expected):
    tables = build_report(inputs(tmp_path, design)).item("17b").tables
    assert expected in [row for table in tables for row in table.rows]


def test_alternating_effect_sizes_show_conditions_and_intervals(tmp_path):
    rows = [row for table in build_report(inputs(tmp_path, "ALTERNATING")).item("17b").tables for row in table.rows]
    assert ("B", "14", "80.5", "6.26") in rows and ("SMD, pooled SD", "1.3", "0.502 to 2.1", "—") in rows


def test_deviations_and_limitations_come_from_the_data(tmp_path):
    base = inputs(tmp_path, deviation_count=1, is_ongoing=True)
    base.registration["deviations"] = [{"date": "2026-10-20", "what": "missed two days"}]
    base.results["its_result"]["provenance"]["codeDirty"] = True
    report = build_report(base)
    assert report.item("3b").tables[0].rows == (("1", '{"date": "2026-10-20", "what": "missed two days"}'),)
    limitations = " ".join(report.item("20").paragraphs)
    assert "interim results" in limitations and "1 deviations" in limitations
    assert "its_result ran on code with uncommitted changes" in limitations
    assert "retrospectively" in limitations


def test_a_result_older_than_the_warehouse_is_named_in_the_limitations(tmp_path):
    base = inputs(tmp_path)
    assert "older one" not in " ".join(build_report(base).item("20").paragraphs)
    base.results["its_result"]["provenance"]["dataVersionHash"] = "0999.dir"
    limitations = " ".join(build_report(base).item("20").paragraphs)
    assert ("The warehouse is now at data version 1776.dir; its_result was computed on an older one (its latest run "
            "failed or has not run yet)") in limitations


def test_unreadable_registration_is_not_reported_with_the_reason(tmp_path):
    base = inputs(tmp_path)
    report = build_report(ReportInputs(**{**base.__dict__, "registration": None,
                                          "registration_missing": "no stg_experiment_protocols"}))
    assert report.item("3b").not_reported == "no stg_experiment_protocols"
    assert report.item("13a").not_reported == "no stg_experiment_protocols"


@pytest.mark.parametrize("value,text", [(0.6065934065934065, "0.607"), (0.05, "0.05"), (32.0, "32"),
                                        (-1.3311292518472388, "-1.33"), (1805.94, "1,810"), (455, "455"),
                                        (2.9596481570270924e-06, "2.96e-06"), (0.0004999, "0.0005"), (None, "—"),
                                        (0.0, "0"), (True, "yes")])
def test_numbers_are_rounded_to_3_significant_digits(value, text):
    assert sig(value) == text


def test_interval():
    assert interval([-16.43176642342949, 20.31858740273298]) == "-16.4 to 20.3" and interval(None) == "—"


def test_html_is_self_contained_and_the_pdf_is_a_pdf(tmp_path):
    report = build_report(inputs(tmp_path))
    html = render_html(report)
    assert "Background music while reviewing" in html and "0.607" in html
    assert html.count("data:image/png;base64,") == 4 and "src=\"/" not in html
    assert "Not reported: no eligibility criteria are recorded" in html
    assert html.index("Confirmatory analysis") < html.index("Ancillary analyses")
    html_path, pdf_path = publish_report(report, tmp_path / "reports" / "cproto")
    assert (html_path.name, pdf_path.name) == (HTML_FILE, PDF_FILE)
    assert html_path.read_text() == html
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF")
    from weasyprint import HTML

    assert len(HTML(string=html).render().pages) > 1
    assert sorted(p.name for p in pdf_path.parent.iterdir()) == [HTML_FILE, PDF_FILE]  # no staging left behind
    assert re.search(rb"%%EOF\s*$", pdf)


def test_a_failed_render_keeps_the_previous_report(tmp_path, monkeypatch):
    report = build_report(inputs(tmp_path))
    target = tmp_path / "reports" / "cproto"
    publish_report(report, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def broken(html, path):
        raise OSError("disk full")

    monkeypatch.setattr("americano_pipeline.report.render.render_pdf", broken)
    with pytest.raises(OSError, match="disk full"):
        publish_report(report, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
