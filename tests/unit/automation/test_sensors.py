"""The new-phase sensor's change detection, on phase rows as the sensor's query returns them."""

from datetime import date, timedelta

from americano_pipeline.automation.sensors import changed_protocols, phase_signatures


def test_signatures_change_when_a_phase_starts_ends_or_is_added():
    rows = [("p1", "a1", "2026-01-01", "2026-01-07", True, False)]
    before = phase_signatures(rows)
    assert changed_protocols(before, phase_signatures(rows)) == []
    assert changed_protocols(before, phase_signatures([(*rows[0][:5], True)])) == ["p1"]  # the phase ended
    assert changed_protocols(before, phase_signatures([*rows, ("p1", "a2", "2026-01-08", None, False, False)])) == ["p1"]
    assert changed_protocols(before, phase_signatures([*rows, ("p2", None, None, None, None, None)])) == ["p2"]


def _phases(protocol_id, design, plan, lengths, *, minimum=5, types=None, params=None):
    """``DESIGNS_SQL`` rows: contiguous phases of ``lengths`` days from 2026-01-01 (types alternate A/B)."""
    rows, day = [], date(2026, 1, 1)
    for j, length in enumerate(lengths):
        phase_type = (types or ["BASELINE", "INTERVENTION_A"] * len(lengths))[j]
        end = day + timedelta(days=length - 1)
        rows.append((protocol_id, design, minimum, plan, phase_type, day, end, (params or [{}] * len(lengths))[j]))
        day = end + timedelta(days=1)
    return rows


PLAN = '{"confirmatory": "phase_randomization_test", "alternative": "greater", "alpha": 0.05'


def test_a_new_protocol_whose_design_cannot_reach_its_alpha_is_reported_with_the_fix():
    from americano_pipeline.automation.sensors import unreachable_alpha

    plan = PLAN + "}"
    rows = [*_phases("ab44", "ABAB", plan, [20, 24], minimum=14), *_phases("abab40", "ABAB", plan, [10] * 4),
            *_phases("unparsable", "ABAB", "{not json", [20, 24], minimum=14)]
    [warning] = unreachable_alpha(rows)
    assert warning.startswith("protocol ab44: 17 admissible phase-change placements")
    assert "1/17 = 0.0588 > alpha = 0.05" in warning


def test_registration_counts_each_designs_own_reference_set():
    from americano_pipeline.automation.sensors import unreachable_alpha

    # alternating: 3 A and 3 B days with at most 2 in a row: 14 of the C(6, 3) = 20 orders; 1/14 > 0.05
    alternating = _phases("alt6", "ALTERNATING", PLAN + ', "maxConsecutive": 2}', [1, 2, 1, 1, 1], minimum=1,
                          types=["BASELINE", "INTERVENTION_A", "BASELINE", "INTERVENTION_A", "BASELINE"])
    # multiple baseline, Koehler-Levin over 3 slots of 2 starts each: 3! x 2^3 = 48; 1/48 <= 0.05
    window = [["2026-01-04", "2026-01-05"], ["2026-01-08", "2026-01-09"], ["2026-01-12", "2026-01-13"]]
    mb = []
    for tier, (start, slot) in enumerate(zip([3, 7, 11], window)):
        mb += [("mb", "MULTIPLE_BASELINE", 3, PLAN + ', "multipleBaselineScheme": "koehler_levin"}', "BASELINE",
                date(2026, 1, 1), date(2026, 1, start), {"tier": str(tier)}),
               ("mb", "MULTIPLE_BASELINE", 3, PLAN + ', "multipleBaselineScheme": "koehler_levin"}', "INTERVENTION_A",
                date(2026, 1, start + 1), date(2026, 1, 20), {"tier": str(tier), "startWindow": slot})]
    # the same with Wampold-Worsham: only the 3! = 6 orders; 1/6 > 0.05
    ww = [(("ww", *row[1:3], row[3].replace("koehler_levin", "wampold_worsham"), *row[4:])) for row in mb]
    warnings = unreachable_alpha([*alternating, *mb, *ww])
    assert [w.split(":")[0] for w in warnings] == ["protocol alt6", "protocol ww"]
    assert "1/14 = 0.0714 > alpha = 0.05" in warnings[0] and "1/6 = 0.167 > alpha = 0.05" in warnings[1]
