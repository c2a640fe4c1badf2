"""The parsed schema is what the SQL file says (the one definition every layer derives from)."""

from americano_pipeline.source.schema import TABLES, enums, tables


def test_all_five_tables_with_prisma_column_names():
    parsed = tables()
    assert set(parsed) == set(TABLES)
    events = parsed["behavioral_events"]
    assert events.column_names == [
        "id", "userId", "eventType", "eventData", "timestamp", "completionQuality", "contentType", "dayOfWeek",
        "difficultyLevel", "engagementLevel", "sessionPerformanceScore", "timeOfDay", "experimentPhase",
        "randomizationSeed", "contextMetadataId"]
    assert not events.column("eventType").nullable and events.column("eventType").is_enum
    assert events.column("engagementLevel").nullable
    assert parsed["context_metadata"].column("sleepHours").sql_type == "DOUBLE PRECISION"
    assert parsed["experiment_protocols"].column("deviations").sql_type == "JSONB[]"
    assert parsed["analysis_runs"].column_names[-2:] == ["startedAt", "completedAt"]


def test_enums_and_ranges():
    assert set(enums()) == {"ExperimentDesignType", "PhaseType", "MoodLevel", "LocationType", "EventType",
                            "CompletionQuality", "EngagementLevel", "ContextSource"}
    assert enums()["PhaseType"] == ("BASELINE", "INTERVENTION_A", "INTERVENTION_B", "WASHOUT")
    assert len(enums()["EventType"]) == 13
    assert tables()["behavioral_events"].ranges == {
        "dayOfWeek": (0, 6), "timeOfDay": (0, 23), "sessionPerformanceScore": (0, 100)}
    assert tables()["context_metadata"].ranges["energyLevel"] == (1, 10)
    assert tables()["context_metadata"].ranges["sleepHours"] == (0, 24)
