"""Pandera schemas for the five source tables, derived from ``source/schema.sql`` (via ``source.schema``).

Why derived: enum values, nullability and ranges must be the database's own, so a rule can never drift from
the DDL. On top of them come the rules a Prisma-managed app database does not enforce: CUID ids, unique ids,
valid JSON, a registered analysis plan (``source.analysis_plan``), timestamps not in the future, and the
cross-column and cross-table rules the analyses rely on (an interval's end after its start; a protocol's phases
do not overlap, lie within the protocol's dates and last at least its minPhaseLength; an event's experimentPhase is
a phase of its user's protocols that contains the event's day; references point at rows in the same cut).
Each schema is built for one consistent cut (``cut`` maps table -> DataFrame) so cross-table rules see exactly
the rows being validated.

Phase rules work on calendar days (UTC): a phase covers startDate..endDate inclusive. An open phase (endDate
null) ends at the latest with its protocol. Why the phase rules exist: a phase row dated outside its protocol
passes the overlap rule and the warehouse's one-phase-per-day test (the protocol's daily series never reaches
it), yet it changes the protocol's phase sequence, its shortest phase and the randomization seed that
dim_protocols reads from phase rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pandera.pandas as pa

from americano_pipeline.source.analysis_plan import parse_analysis_plan
from americano_pipeline.source.schema import CUID_PATTERN, enums, tables

CLOCK_SKEW = pd.Timedelta(minutes=5)
NOT_IN_FUTURE = {"behavioral_events": ("timestamp",), "context_metadata": ("timestamp",),
                 "analysis_runs": ("startedAt", "completedAt")}
INTERVALS = {"experiment_protocols": ("startDate", "endDate"), "phase_assignments": ("startDate", "endDate"),
             "analysis_runs": ("startedAt", "completedAt")}
REFERENCES = {("phase_assignments", "protocolId"): "experiment_protocols",
              ("analysis_runs", "protocolId"): "experiment_protocols",
              ("behavioral_events", "contextMetadataId"): "context_metadata"}

# Rules checked on whole rows are reported against one column, the one a reader should look at.
ROW_RULE_COLUMNS = {"phases_do_not_overlap": "startDate", "phase_within_protocol_dates": "startDate",
                    "phase_meets_min_phase_length": "endDate",
                    "experiment_phase_exists_at_event_time": "experimentPhase",
                    **{f"{end}_not_before_{start}": end for start, end in INTERVALS.values()}}


def _valid_json(series: pd.Series) -> pd.Series:
    def parses(text) -> bool:
        try:
            json.loads(text)
        except (TypeError, ValueError):
            return False
        return True

    return series.map(parses).astype(bool)


def plan_problem(text) -> str | None:
    """Why ``text`` is not a registered analysis plan (``source.analysis_plan``), or None when it is one."""
    try:
        parse_analysis_plan(text)
    except ValueError as exc:
        return str(exc)
    return None


def _interval_rule(start: str, end: str) -> pa.Check:
    return pa.Check(lambda df: df[end].isna() | (df[end] >= df[start]), name=f"{end}_not_before_{start}")


def overlapping_phase(phases: pd.DataFrame) -> pd.Series:
    """Per phase row: the label of another phase of the same protocol whose days overlap it, else None.

    Phases cover the calendar days startDate..endDate inclusive; an open phase (endDate null) runs forever.
    """
    if phases.empty:
        return pd.Series([], dtype=object, index=phases.index)
    frame = phases[["protocolId", "phaseLabel", "startDate", "endDate"]].copy()
    frame["first"] = frame["startDate"].dt.floor("D")
    frame["last"] = frame["endDate"].dt.floor("D").fillna(pd.Timestamp.max.tz_localize("UTC").floor("D"))
    frame["row"] = frame.index
    pairs = frame.merge(frame, on="protocolId", suffixes=("", "_other"))
    pairs = pairs[(pairs["row"] != pairs["row_other"]) & (pairs["first"] <= pairs["last_other"])
                  & (pairs["first_other"] <= pairs["last"])]
    other = pairs.groupby("row")["phaseLabel_other"].first()
    return pd.Series(other.reindex(phases.index).to_numpy(dtype=object), index=phases.index)


def _overlap_reasons(phases: pd.DataFrame, protocols: pd.DataFrame, today: pd.Timestamp) -> pd.Series:
    """Per phase row: 'overlaps <label>' naming another phase of its protocol that shares a day, else None."""
    other = overlapping_phase(phases)
    return ("overlaps " + other.fillna("")).where(other.notna(), None)


def _phase_calendar(phases: pd.DataFrame, protocols: pd.DataFrame) -> pd.DataFrame:
    """Per phase row: its first and last day (NaT while open), its protocol's first and last day and minimum.

    A phase whose protocol is not in the cut, or ends before it starts, gets NaT/NaN protocol values: the
    ``references_*`` and interval rules report that protocol, not each of its phases.
    """
    dated = protocols[~(protocols["endDate"] < protocols["startDate"])].drop_duplicates("id")
    protocol = dated.set_index("id").reindex(phases["protocolId"]).set_axis(phases.index)
    return pd.DataFrame({"first": phases["startDate"].dt.floor("D"), "last": phases["endDate"].dt.floor("D"),
                         "protocol_first": protocol["startDate"].dt.floor("D"),
                         "protocol_last": protocol["endDate"].dt.floor("D"),
                         "minimum": protocol["minPhaseLength"].astype(float)}, index=phases.index)


def _outside_protocol_reasons(phases: pd.DataFrame, protocols: pd.DataFrame, today: pd.Timestamp) -> pd.Series:
    """Per phase row: how it leaves its protocol's days, else None.

    An open phase (endDate null) of a protocol with an endDate is accepted when it starts by the protocol's last
    day: the app closes the running phase when it ends, and the warehouse cuts the phase at the protocol's end.
    A protocol without an endDate is ongoing, so only its start bounds its phases.
    """
    days = _phase_calendar(phases, protocols)
    early = days["first"] < days["protocol_first"]
    late = days["last"].fillna(days["first"]) > days["protocol_last"]
    reasons = np.select([early, late], ["starts before the protocol", "runs past the protocol's end"], None)
    return pd.Series(reasons, index=phases.index, dtype=object)


def _is_last_phase(phases: pd.DataFrame) -> pd.Series:
    """True for the phase of each protocol that starts last (ties by id, the order the warehouse gives phases)."""
    last = phases.sort_values(["startDate", "id"]).drop_duplicates("protocolId", keep="last").index
    return pd.Series(phases.index.isin(last), index=phases.index)


def _short_phase_reasons(phases: pd.DataFrame, protocols: pd.DataFrame, today: pd.Timestamp) -> pd.Series:
    """Per phase row: 'lasts <n> days (min <m>)' when it is shorter than its protocol's minPhaseLength, else None.

    Length = last day - first day + 1, so a phase that ends before it starts lasts 0 days or less and fails. An
    open phase lasts until its protocol's endDate (no length while both are open). Exempt is only the running
    phase: the protocol's last phase when today lies within its days (or it is open and has started), since it
    may still be extended or closed early; every earlier or finished phase has its final length.
    """
    days = _phase_calendar(phases, protocols)
    last = days["last"].fillna(days["protocol_last"])
    length = (last - days["first"]).dt.days + 1
    running = _is_last_phase(phases) & (days["first"] <= today) & (last.isna() | (last >= today))
    short = (length < days["minimum"]) & ~running
    return pd.Series([f"lasts {n:.0f} days (min {m:.0f})" if fails else None
                      for fails, n, m in zip(short, length, days["minimum"])], index=phases.index, dtype=object)


# Each phase rule: (phase rows, protocol rows, today) -> per phase row what breaks the rule, or None.
PHASE_RULES = {"phases_do_not_overlap": _overlap_reasons, "phase_within_protocol_dates": _outside_protocol_reasons,
               "phase_meets_min_phase_length": _short_phase_reasons}


def phase_problems(rule: str, phases: pd.DataFrame, cut: dict[str, pd.DataFrame], now: pd.Timestamp) -> pd.Series:
    """Per phase row: 'protocol <id>: <phase label> <what breaks rule>', or None where the row keeps ``rule``.

    Why one text for check and report: the row fails exactly when it has a problem, and the report names the
    protocol and the phase a researcher must fix, in the words the dbt tests use.
    """
    reasons = PHASE_RULES[rule](phases, cut["experiment_protocols"], pd.Timestamp(now).floor("D"))
    named = "protocol " + phases["protocolId"].astype(str) + ": " + phases["phaseLabel"].astype(str) + " "
    return (named + reasons.fillna("")).where(reasons.notna(), None)


def phase_of_event(events: pd.DataFrame, phases: pd.DataFrame, protocols: pd.DataFrame) -> pd.Series:
    """Per event with an experimentPhase: True if one of its user's protocols has that phase on the event's day."""
    labelled = events.loc[events["experimentPhase"].notna(), ["userId", "experimentPhase", "timestamp"]]
    candidates = phases.merge(protocols[["id", "userId"]], left_on="protocolId", right_on="id",
                              suffixes=("", "_protocol"))
    joined = labelled.reset_index().merge(candidates, left_on=["userId", "experimentPhase"],
                                          right_on=["userId", "phaseLabel"], how="left")
    day = joined["timestamp"].dt.floor("D")
    inside = (day >= joined["startDate"].dt.floor("D")) & (joined["endDate"].isna()
                                                            | (day <= joined["endDate"].dt.floor("D")))
    found = inside.groupby(joined["index"]).any()
    result = pd.Series(True, index=events.index)
    result.loc[found.index] = found.to_numpy()
    return result


def _column(table: str, name: str, cut: dict[str, pd.DataFrame], now: pd.Timestamp) -> pa.Column:
    column = tables()[table].column(name)
    checks = []
    if column.is_enum:
        checks.append(pa.Check.isin(list(enums()[column.sql_type])))
    if name in tables()[table].ranges:
        low, high = tables()[table].ranges[name]
        checks.append(pa.Check.in_range(low, high))
    if name == "id" or (table, name) in REFERENCES:  # not mlflowRunId (MLflow's own id) nor userId (the app's)
        checks.append(pa.Check.str_matches(CUID_PATTERN))
    if column.sql_type in ("JSONB", "JSONB[]"):
        checks.append(pa.Check(_valid_json, name="valid_json"))
    if (table, name) == ("experiment_protocols", "analysisPlan"):
        checks.append(pa.Check(lambda s: s.map(plan_problem).isna(), name="registered_analysis_plan"))
    if name in NOT_IN_FUTURE.get(table, ()):
        checks.append(pa.Check(lambda s: s <= now + CLOCK_SKEW, name="not_in_future"))
    target = REFERENCES.get((table, name))
    if target:
        known = set(cut[target]["id"])
        checks.append(pa.Check(lambda s, known=known: s.isin(known), name=f"references_{target}"))
    return pa.Column(None, checks=checks, nullable=column.nullable, unique=name == "id", required=True)


def schema_for(table: str, cut: dict[str, pd.DataFrame], now: pd.Timestamp | None = None) -> pa.DataFrameSchema:
    """The Pandera schema of ``table`` for the consistent cut ``cut`` (all five tables as DataFrames)."""
    now = now or pd.Timestamp.now(tz="UTC")
    checks = []
    if table in INTERVALS:
        checks.append(_interval_rule(*INTERVALS[table]))
    if table == "phase_assignments":
        checks += [pa.Check(lambda df, rule=rule: phase_problems(rule, df, cut, now).isna(), name=rule)
                   for rule in PHASE_RULES]
    if table == "behavioral_events":
        checks.append(pa.Check(
            lambda df: phase_of_event(df, cut["phase_assignments"], cut["experiment_protocols"]),
            name="experiment_phase_exists_at_event_time"))
    columns = {name: _column(table, name, cut, now) for name in tables()[table].column_names}
    return pa.DataFrameSchema(columns, checks=checks, strict=True, name=table)
