"""The demo's results table survives a corrupt result.json: the protocol keeps its row, the file's cells read
"unreadable result", and one line under the table names the file and why."""

import json

from americano_pipeline.demo.results_table import HEADERS, planted_text, summary_rows, summary_table

PROTOCOL = "c" + "p" * 24
PROVENANCE = {"protocolName": "Reward probability", "designType": "ABAB", "metric": "engagement_score"}
RESULTS = {
    "its_result": {"causalEffect": {"mean": 10.1, "hdi95": [-1.7, 25.2]}},
    "randomization_result": {"role": "confirmatory", "pValue": 0.00282, "alternative": "greater",
                             "test": "phase_randomization_test", "observedEffect": 9.84, "effectSizes": {},
                             "wwcDesignStandard": {"verdict": "meets"}},
    "change_points_result": {"comparison": {"detected": [], "matchedPlanned": 0, "planned": ["a", "b", "c"],
                                            "matchedByChanceProbability": 1}},
    "sequential_boundaries": {"mode": "retrospective", "maxN": 40,
                              "position": {"nObserved": 40, "z": 2.77, "firstCrossingLook": 3}},
}


def _publish(root, texts: dict[str, str]):
    """Every result of PROTOCOL under ``root``, with the file text of the assets in ``texts`` replaced."""
    for asset, result in RESULTS.items():
        path = root / asset / PROTOCOL / "result.json"
        path.parent.mkdir(parents=True)
        path.write_text(texts.get(asset, json.dumps({"provenance": PROVENANCE, **result})))
        yield asset, path


def test_a_valid_study_fills_every_column(tmp_path):
    dict(_publish(tmp_path, {}))
    [row] = summary_rows(tmp_path)
    assert dict(zip(HEADERS, row)) == {
        "protocol": f"{PROTOCOL} Reward probability", "design": "ABAB", "metric": "engagement_score",
        "planted": "-", "estimated": "B-A +9.8", "ITS effect (95% HDI)": "+10.1 (-1.7 to +25.2)",
        "randomization p": "*0.00282 (greater)",
        "WWC": "meets", "change points": "0 found, 0/3 planned matched (P by chance 1)",
        "sequential": "retro n=40/40 z=+2.77 crossed@3"}


def test_a_result_that_is_not_json_costs_its_cell_and_is_named_under_the_table(tmp_path):
    paths = dict(_publish(tmp_path, {"its_result": '{"causalEffect": {"mean": 10.'}))
    table = summary_table(tmp_path).splitlines()
    row = dict(zip(HEADERS, summary_rows(tmp_path)[0]))
    assert row["ITS effect (95% HDI)"] == "unreadable result"
    assert row["protocol"] == f"{PROTOCOL} Reward probability" and row["WWC"] == "meets"
    assert table[-1] == f"unreadable result {paths['its_result']}: Expecting ',' delimiter: line 1 column 29 (char 28)"
    assert table[0] == f"Reward probability ({PROTOCOL}, ABAB, engagement_score)"


def test_a_result_without_a_shown_field_marks_every_cell_of_that_file(tmp_path):
    paths = dict(_publish(tmp_path, {"randomization_result": json.dumps({"provenance": PROVENANCE, "pValue": 0.1})}))
    row = dict(zip(HEADERS, summary_rows(tmp_path)[0]))
    assert (row["randomization p"], row["WWC"], row["estimated"]) == ("unreadable result",) * 3
    assert row["sequential"] == "retro n=40/40 z=+2.77 crossed@3"
    assert summary_table(tmp_path).splitlines()[-1] == \
        f"unreadable result {paths['randomization_result']}: no field 'effectSizes'"


def test_a_protocol_whose_only_result_is_corrupt_keeps_its_row(tmp_path):
    path = tmp_path / "its_result" / PROTOCOL / "result.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe not text")
    row = dict(zip(HEADERS, summary_rows(tmp_path)[0]))
    assert (row["protocol"], row["design"], row["ITS effect (95% HDI)"], row["WWC"]) == \
        (PROTOCOL, "-", "unreadable result", "-")
    assert summary_table(tmp_path).splitlines()[-1].startswith(f"unreadable result {path}: 'utf-8' codec can't")


def test_a_design_that_cannot_reach_its_alpha_is_marked_and_explained_under_the_table(tmp_path):
    check = {"reachable": False, "message": "17 admissible phase-change placements: the smallest p is 1/17 = 0.0588"}
    unreachable = {**RESULTS["randomization_result"], "pValue": 0.0588, "alphaCheck": check}
    dict(_publish(tmp_path, {"randomization_result": json.dumps({"provenance": PROVENANCE, **unreachable})}))
    assert dict(zip(HEADERS, summary_rows(tmp_path)[0]))["randomization p"] == "*0.0588! (greater)"
    assert summary_table(tmp_path).splitlines()[-1] == f"! {PROTOCOL}: {check['message']}"


def test_the_table_fits_a_terminal_and_puts_planted_truth_beside_the_estimates(tmp_path):
    dict(_publish(tmp_path, {}))
    table = summary_table(tmp_path, planted={PROTOCOL: {"trueEffect": 10.0}}).splitlines()
    assert table[:5] == [
        f"Reward probability ({PROTOCOL}, ABAB, engagement_score)",
        "  planted    B-A +10.0",
        "  estimated  B-A +9.8   randomization p *0.00282 (greater)   WWC meets",
        "  ITS +10.1 (-1.7 to +25.2)",
        "  change points 0 found, 0/3 planned matched (P by chance 1)   sequential retro n=40/40 z=+2.77 crossed@3",
    ]
    assert table[5] == f"figures: {tmp_path / '<analysis>' / '<protocol>' / '*.png'}"
    assert max(map(len, table)) <= 120


def test_each_design_shows_its_planted_truth_in_the_terms_of_its_estimate(tmp_path):
    tiers = {"tiers": [{"tier": "study time", "trueEffect": 12.0}, {"tier": "engagement", "trueEffect": 10.0}]}
    criteria = {"criteria": [55.0, 65.0], "baselineLevel": 45.0, "trueEffect": 15.0}
    assert planted_text(tiers) == "engagement +10.0, study time +12.0"
    assert planted_text(criteria) == "phase means 45, 55, 65"
    mb = {**RESULTS["randomization_result"], "test": "multiple_baseline_test",
          "effectSizes": {"tiers": [{"tier": "study time", "difference": 11.94}, {"tier": "engagement",
                                                                                   "difference": 9.5}]}}
    dict(_publish(tmp_path, {"randomization_result": json.dumps({"provenance": PROVENANCE, **mb}),
                             "its_result": json.dumps({"provenance": PROVENANCE, "notRun": True})}))
    row = dict(zip(HEADERS, summary_rows(tmp_path, planted={PROTOCOL: tiers})[0]))
    assert (row["planted"], row["estimated"]) == ("engagement +10.0, study time +12.0",
                                                  "engagement +9.5, study time +11.9")
    assert row["ITS effect (95% HDI)"] == "not run (the design has no interruption to model)"
