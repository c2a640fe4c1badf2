"""The new-phase sensor's change detection, on phase rows as the sensor's query returns them."""

from americano_pipeline.automation.sensors import changed_protocols, phase_signatures


def test_signatures_change_when_a_phase_starts_ends_or_is_added():
    rows = [("p1", "a1", "2026-01-01", "2026-01-07", True, False)]
    before = phase_signatures(rows)
    assert changed_protocols(before, phase_signatures(rows)) == []
    assert changed_protocols(before, phase_signatures([(*rows[0][:5], True)])) == ["p1"]  # the phase ended
    assert changed_protocols(before, phase_signatures([*rows, ("p1", "a2", "2026-01-08", None, False, False)])) == ["p1"]
    assert changed_protocols(before, phase_signatures([*rows, ("p2", None, None, None, None, None)])) == ["p2"]
