"""The new-phase sensor's change detection, on phase rows as the sensor's query returns them."""

from americano_pipeline.automation.sensors import changed_protocols, phase_signatures


def test_signatures_change_when_a_phase_starts_ends_or_is_added():
    rows = [("p1", "a1", "2026-01-01", "2026-01-07", True, False)]
    before = phase_signatures(rows)
    assert changed_protocols(before, phase_signatures(rows)) == []
    assert changed_protocols(before, phase_signatures([(*rows[0][:5], True)])) == ["p1"]  # the phase ended
    assert changed_protocols(before, phase_signatures([*rows, ("p1", "a2", "2026-01-08", None, False, False)])) == ["p1"]
    assert changed_protocols(before, phase_signatures([*rows, ("p2", None, None, None, None, None)])) == ["p2"]


def test_a_new_protocol_whose_design_cannot_reach_its_alpha_is_reported_with_the_fix():
    from americano_pipeline.automation.sensors import unreachable_alpha

    plan = '{"confirmatory": "phase_randomization_test", "alternative": "greater", "alpha": 0.05}'
    rows = [("ab44", 2, 44, 14, plan), ("abab40", 4, 40, 5, plan), ("unscheduled", 0, 0, 5, plan),
            ("unparsable", 2, 44, 14, "{not json")]
    [warning] = unreachable_alpha(rows)
    assert warning.startswith("protocol ab44: 17 admissible phase-change placements")
    assert "1/17 = 0.0588 > alpha = 0.05" in warning
