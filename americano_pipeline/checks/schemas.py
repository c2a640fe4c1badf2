"""Pandera schemas for the five source tables, derived from ``source/schema.sql`` (via ``source.schema``).

Why derived: enum values, nullability and ranges must be the database's own, so a rule can never drift from
the DDL. On top of them come the rules a Prisma-managed app database does not enforce: CUID ids, unique ids,
valid JSON, a registered analysis plan (``source.analysis_plan``), timestamps not in the future, and the
cross-column and cross-table rules the analyses rely on (an interval's end after its start; a protocol's phases
do not overlap, lie within the protocol's dates and last at least its minPhaseLength; an event's experimentPhase is
a phase of its user's protocols that contains the event's day; references point at rows in the same cut), and
the recording convention of the four experiment designs (docs/DESIGNS.md; "Design rules" below).
Each schema is built for one consistent cut (``cut`` maps table -> DataFrame) so cross-table rules see exactly
the rows being validated.

Phase rules work on calendar days (UTC): a phase covers startDate..endDate inclusive. An open phase (endDate
null) ends at the latest with its protocol. Why the phase rules exist: a phase row dated outside its protocol
passes the overlap rule and the warehouse's one-phase-per-day test (the protocol's daily series never reaches
it), yet it changes the protocol's phase sequence, its shortest phase and the randomization seed that
dim_protocols reads from phase rows.

The phases of a protocol never overlap, except across the tiers of a MULTIPLE_BASELINE protocol: there the phase
rules see each tier as its own sequence of phases (a phase without a tier is one more sequence of its protocol).

Design rules (docs/DESIGNS.md), reported against ``interventionParams`` (``analysisPlan`` for the plan's rule),
each naming the protocol, the phase (id and label) and what breaks the rule:
- ``analysis_plan_fits_design``: the plan holds its design's key and no other design's
  (``source.analysis_plan.design_plan_problem``; a plan that does not parse fails its own rule instead).
- ``design_keys_belong_to_design``: ``tier``/``startWindow`` only on MULTIPLE_BASELINE phases, ``criterion`` only
  on CHANGING_CRITERION phases, so a mistyped designType cannot pass unnoticed.
- MULTIPLE_BASELINE: ``tier_and_outcome_recorded`` (every phase names its tier and outcome),
  ``tier_outcome_in_catalogue``, ``tier_outcomes_distinct`` (one outcome per tier, another per tier),
  ``one_tier_measures_primary_outcome``, ``tier_baseline_then_intervention`` (per tier one BASELINE phase then
  one INTERVENTION phase; a tier still in its running baseline may lack the intervention row yet) and
  ``tier_start_within_window`` (the tier's intervention starts on a day of its ``startWindow``).
- ALTERNATING: ``runs_within_max_consecutive``: no run of consecutive days in one condition (BASELINE = A,
  INTERVENTION_* = B; a WASHOUT or a day without a phase ends a run) longer than the plan's maxConsecutive; an
  open phase runs to its protocol's end, or to today while both are open.
- CHANGING_CRITERION: ``criterion_design_starts_with_baseline`` (the first phase is a BASELINE without
  criterion), ``criterion_phase_has_criterion`` (a finite number on every intervention phase) and
  ``criterion_changes_between_phases`` (adjacent phases' criteria differ).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date

import numpy as np
import pandas as pd
import pandera.pandas as pa

from americano_pipeline import settings
from americano_pipeline.source.analysis_plan import AnalysisPlan, design_plan_problem, parse_analysis_plan
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
# (the design rules are added to it below, with their definitions)


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


def _params(value) -> dict | None:
    """A phase's interventionParams as a dict: {} when it is JSON but no object, None when it is no JSON at all
    (the ``valid_json`` rule reports that row; the design rules skip it)."""
    if isinstance(value, dict):
        return value
    return _parsed_params(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=2**16)
def _parsed_params(text: str) -> dict | None:
    """``_params`` of a JSON text, parsed once: every phase rule reads it (the dict is shared: never changed)."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else {}


def phase_groups(phases: pd.DataFrame, protocols: pd.DataFrame) -> pd.Series:
    """Per phase row: the sequence of phases it belongs to, whose days must not overlap: its protocol, or for a
    MULTIPLE_BASELINE protocol its protocol's tier (``interventionParams.tier``; no tier is one more sequence)."""
    design = (protocols.drop_duplicates("id").set_index("id")["designType"].astype(object)
              .reindex(phases["protocolId"]).to_numpy())
    tier = phases["interventionParams"].map(lambda value: json.dumps((_params(value) or {}).get("tier")))
    return phases["protocolId"].astype(str) + np.where(design == "MULTIPLE_BASELINE", "\x1f" + tier, "")


def overlapping_phase(phases: pd.DataFrame, groups: pd.Series | None = None) -> pd.Series:
    """Per phase row: the label of another phase of the same group (``phase_groups``; by default its protocol)
    whose days overlap it, else None.

    Phases cover the calendar days startDate..endDate inclusive; an open phase (endDate null) runs forever.
    """
    if phases.empty:
        return pd.Series([], dtype=object, index=phases.index)
    frame = phases[["protocolId", "phaseLabel", "startDate", "endDate"]].copy()
    frame["group"] = phases["protocolId"].astype(str) if groups is None else groups
    frame["first"] = frame["startDate"].dt.floor("D")
    frame["last"] = frame["endDate"].dt.floor("D").fillna(pd.Timestamp.max.tz_localize("UTC").floor("D"))
    frame["row"] = frame.index
    pairs = frame.merge(frame, on="group", suffixes=("", "_other"))
    pairs = pairs[(pairs["row"] != pairs["row_other"]) & (pairs["first"] <= pairs["last_other"])
                  & (pairs["first_other"] <= pairs["last"])]
    other = pairs.groupby("row")["phaseLabel_other"].first()
    return pd.Series(other.reindex(phases.index).to_numpy(dtype=object), index=phases.index)


def _overlap_reasons(phases: pd.DataFrame, protocols: pd.DataFrame, today: pd.Timestamp) -> pd.Series:
    """Per phase row: 'overlaps <label>' naming another phase of its protocol (of its tier, for a multiple
    baseline) that shares a day, else None."""
    other = overlapping_phase(phases, phase_groups(phases, protocols))
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


def _is_last_phase(phases: pd.DataFrame, groups: pd.Series) -> pd.Series:
    """True for the phase of each protocol (each tier of a multiple baseline: ``phase_groups``) that starts last
    (ties by id, the order the warehouse gives phases)."""
    ordered = phases.assign(_group=groups).sort_values(["startDate", "id"])
    last = ordered.drop_duplicates("_group", keep="last").index
    return pd.Series(phases.index.isin(last), index=phases.index)


def _short_phase_reasons(phases: pd.DataFrame, protocols: pd.DataFrame, today: pd.Timestamp) -> pd.Series:
    """Per phase row: 'lasts <n> days (min <m>)' when it is shorter than its protocol's minPhaseLength, else None.

    Length = last day - first day + 1, so a phase that ends before it starts lasts 0 days or less and fails. An
    open phase lasts until its protocol's endDate (no length while both are open). Exempt is only the running
    phase: the protocol's last phase when today lies within its days (or it is open and has started), since it
    may still be extended or closed early; every earlier or finished phase has its final length. In a multiple
    baseline each tier has its own running phase.
    """
    days = _phase_calendar(phases, protocols)
    last = days["last"].fillna(days["protocol_last"])
    length = (last - days["first"]).dt.days + 1
    running = (_is_last_phase(phases, phase_groups(phases, protocols)) & (days["first"] <= today)
               & (last.isna() | (last >= today)))
    short = (length < days["minimum"]) & ~running
    return pd.Series([f"lasts {n:.0f} days (min {m:.0f})" if fails else None
                      for fails, n, m in zip(short, length, days["minimum"])], index=phases.index, dtype=object)


# Each phase rule: (phase rows, protocol rows, today) -> per phase row what breaks the rule, or None.
LAYOUT_RULES = {"phases_do_not_overlap": _overlap_reasons, "phase_within_protocol_dates": _outside_protocol_reasons,
                "phase_meets_min_phase_length": _short_phase_reasons}


# --- Design rules (docs/DESIGNS.md; module doc) -----------------------------------------------------------------

DBT_PROJECT_FILE = settings.PROJECT_ROOT / "dbt_project" / "dbt_project.yml"
CONDITIONS = {"BASELINE": "A", "INTERVENTION_A": "B", "INTERVENTION_B": "B"}  # a WASHOUT is neither
INTERVENTIONS = ("INTERVENTION_A", "INTERVENTION_B")
DESIGN_PARAM_KEYS = {"tier": "MULTIPLE_BASELINE", "startWindow": "MULTIPLE_BASELINE",
                     "criterion": "CHANGING_CRITERION"}
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ONE_DAY = pd.Timedelta(days=1)


@functools.cache
def metric_catalogue() -> tuple[str, ...]:
    """The daily metrics a tier may measure: the dbt var ``metric_catalogue``, read from the declaration that
    ``analysis.protocol.metric_catalogue`` reads (checks sit below analysis in the layers, so cannot import it)."""
    import yaml

    return tuple(yaml.safe_load(DBT_PROJECT_FILE.read_text())["vars"]["metric_catalogue"])


def _registered_plan(text) -> AnalysisPlan | None:
    """The registered plan in ``text``, or None when it breaks the ``registered_analysis_plan`` rule."""
    return _parsed_plan(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=2**14)
def _parsed_plan(text: str) -> AnalysisPlan | None:
    try:
        return parse_analysis_plan(text)
    except ValueError:
        return None


def _name(value) -> str | None:
    """A tier's or an outcome's name: a non-empty string, else None."""
    return value if isinstance(value, str) and value.strip() else None


def _number(value) -> float | None:
    """A criterion: a finite number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _window(value) -> tuple[date, date] | None:
    """A startWindow: two ISO dates [earliest, latest] with earliest <= latest, else None."""
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(day, str) and _ISO_DAY.fullmatch(day) for day in value)):
        return None
    try:
        earliest, latest = (date.fromisoformat(day) for day in value)
    except ValueError:
        return None
    return (earliest, latest) if earliest <= latest else None


def _design_view(phases: pd.DataFrame, protocols: pd.DataFrame) -> pd.DataFrame:
    """Per phase row what the design rules read: the phase (its days, its parsed interventionParams) and its
    protocol's designType, primaryOutcome, registered plan (None unless it parses) and last day."""
    protocols = protocols.drop_duplicates("id").set_index("id")
    protocols = protocols.assign(plan=protocols["analysisPlan"].map(_registered_plan).astype(object))
    protocol = protocols.reindex(phases["protocolId"]).set_axis(phases.index)
    return pd.DataFrame({
        "protocol": phases["protocolId"].astype(object), "id": phases["id"].astype(object),
        "label": phases["phaseLabel"].astype(object), "type": phases["phaseType"].astype(object),
        "first": phases["startDate"].dt.floor("D"), "last": phases["endDate"].dt.floor("D"),
        "params": phases["interventionParams"].map(_params).astype(object),
        "design": protocol["designType"].astype(object), "primary": protocol["primaryOutcome"].astype(object),
        "plan": protocol["plan"].astype(object),
        "protocol_last": protocol["endDate"].dt.floor("D")}, index=phases.index)


def _of_design(view: pd.DataFrame, design: str) -> pd.DataFrame:
    """The phases of ``design``'s protocols whose interventionParams parse."""
    return view[(view["design"] == design) & view["params"].notna()]


def _grouped(rows: pd.DataFrame, *keys: str) -> dict[tuple, list]:
    """``rows`` as tuples (``itertuples``) by the values of ``keys``, each group in the order of ``rows``. (One pass
    in Python: a pandas groupby per protocol costs far more on a cut of thousands of protocols.)"""
    groups = defaultdict(list)
    for row in rows.itertuples():
        groups[tuple(getattr(row, key) for key in keys)].append(row)
    return groups


def _by_protocol(view: pd.DataFrame, design: str) -> Iterator[list]:
    """The phases of each protocol of ``design``, in order (startDate, then id, as the warehouse orders them)."""
    yield from _grouped(view[view["design"] == design].sort_values(["first", "id"]), "protocol").values()


def _tiered(view: pd.DataFrame) -> pd.DataFrame:
    """The multiple-baseline phases with their tier's and outcome's names (None where one is not recorded)."""
    rows = _of_design(view, "MULTIPLE_BASELINE")
    return rows.assign(tier=rows["params"].map(lambda params: _name(params.get("tier"))).astype(object),
                       outcome=rows["params"].map(lambda params: _name(params.get("outcome"))).astype(object))


def _last_day(phase, today: pd.Timestamp) -> pd.Timestamp:
    """A phase's last day: its endDate's, else its protocol's; while both are open, today (its days so far)."""
    last = phase.last if pd.notna(phase.last) else phase.protocol_last
    if pd.isna(last):
        last = today
    return max(last, phase.first)


def _design_keys_belong_to_design(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    for phase in view[view["design"].notna() & view["params"].notna()].itertuples():
        foreign = [f"{key} (a {owner} key)" for key, owner in DESIGN_PARAM_KEYS.items()
                   if key in phase.params and phase.design != owner]
        if foreign:
            found[phase.Index] = f"records {', '.join(foreign)} but its protocol is {phase.design}"
    return found


def _tier_and_outcome_recorded(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    for phase in _of_design(view, "MULTIPLE_BASELINE").itertuples():
        problems = [f"lacks {key}" if key not in phase.params
                    else f"has {key} {json.dumps(phase.params[key])}, not a name"
                    for key in ("tier", "outcome") if _name(phase.params.get(key)) is None]
        if problems:
            found[phase.Index] = "; ".join(problems)
    return found


def _tier_outcome_in_catalogue(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    catalogue = metric_catalogue()
    return {phase.Index: f"measures {phase.outcome!r}, not a metric of the catalogue ({', '.join(catalogue)})"
            for phase in _tiered(view).itertuples() if phase.outcome is not None and phase.outcome not in catalogue}


def _tier_outcomes_distinct(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    rows = _tiered(view)
    for protocol in _grouped(rows[rows["tier"].notna() & rows["outcome"].notna()], "protocol").values():
        outcomes, tiers = defaultdict(set), defaultdict(set)
        for phase in protocol:
            outcomes[phase.tier].add(phase.outcome)
            tiers[phase.outcome].add(phase.tier)
        for phase in protocol:
            problems = []
            if len(outcomes[phase.tier]) > 1:
                problems.append(f"its tier's phases measure {', '.join(map(repr, sorted(outcomes[phase.tier])))}")
            others = sorted(tiers[phase.outcome] - {phase.tier})
            if others:
                problems.append(f"tier {', '.join(map(repr, others))} measures it too")
            if problems:
                found[phase.Index] = (f"in tier {phase.tier!r} measures {phase.outcome!r}, but "
                                      f"{' and '.join(problems)}; each tier measures one outcome of its own")
    return found


def _one_tier_measures_primary_outcome(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    rows = _tiered(view)
    for protocol in _grouped(rows[rows["tier"].notna() & rows["outcome"].notna()], "protocol").values():
        primary = protocol[0].primary
        measuring = sorted({phase.tier for phase in protocol if phase.outcome == primary})
        if len(measuring) == 1:
            continue
        for phase in protocol:
            if not measuring:
                found[phase.Index] = (f"in tier {phase.tier!r}: no tier measures the primaryOutcome {primary!r}; "
                                      "exactly one must")
            elif phase.tier in measuring:
                found[phase.Index] = (f"in tier {phase.tier!r}: tiers {', '.join(map(repr, measuring))} all measure "
                                      f"the primaryOutcome {primary!r}; exactly one may")
    return found


def _tier_baseline_then_intervention(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    rows = _tiered(view)
    rows = rows[rows["tier"].notna()].sort_values(["first", "id"])
    for (_, tier), tier_phases in _grouped(rows, "protocol", "tier").items():
        types = [str(phase.type) for phase in tier_phases]
        if len(types) == 2 and types[0] == "BASELINE" and types[1] in INTERVENTIONS:
            continue
        if types == ["BASELINE"] and _last_day(tier_phases[0], today) >= today:
            continue  # the tier is still in its baseline: its intervention row may not exist yet
        for phase in tier_phases:
            found[phase.Index] = (f"in tier {tier!r}: the tier's phases are {', '.join(types)} (by startDate), not one "
                          "BASELINE phase then one INTERVENTION phase")
    return found


def _tier_start_within_window(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    for phase in _of_design(view, "MULTIPLE_BASELINE").itertuples():
        recorded = phase.params.get("startWindow")
        if phase.type not in INTERVENTIONS:
            if "startWindow" in phase.params:
                found[phase.Index] = (f"is a {phase.type} phase with a startWindow; only its tier's INTERVENTION "
                                      "phase records one")
        elif "startWindow" not in phase.params:
            found[phase.Index] = "has no startWindow (the days its tier's start was drawn from)"
        elif (window := _window(recorded)) is None:
            found[phase.Index] = (f"has startWindow {json.dumps(recorded)}, not two ISO dates "
                                  "[earliest, latest]")
        elif pd.notna(phase.first) and not window[0] <= phase.first.date() <= window[1]:
            found[phase.Index] = (f"has startWindow {window[0]}..{window[1]} but starts "
                                  f"{phase.first.date().isoformat()}")
    return found


def _runs_within_max_consecutive(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    for phases in _by_protocol(view, "ALTERNATING"):
        plan = phases[0].plan
        limit = plan.max_consecutive if plan is not None else None
        if limit is None:
            continue
        runs, run, end = [], [], None  # run: (phase, run's first day, run's last day through this phase)
        for phase in phases:
            condition = CONDITIONS.get(phase.type)
            if condition is None or pd.isna(phase.first):
                runs.append(run)
                run = []
                continue
            last = _last_day(phase, today)
            if run and CONDITIONS[run[-1][0].type] == condition and phase.first <= end + _ONE_DAY:
                end = max(end, last)
            else:
                runs.append(run)
                run, end = [], last
            run.append((phase, run[0][1] if run else phase.first, end))
        runs.append(run)
        for run in runs:
            for phase, first, last in run:
                if (last - first).days + 1 > limit:
                    final = run[-1][2]
                    found[phase.Index] = (
                        f"brings a run of condition {CONDITIONS[phase.type]} to {(final - first).days + 1} "
                        f"consecutive days ({first.date().isoformat()}..{final.date().isoformat()}), more than "
                        f"maxConsecutive {limit}")
                    break
    return found


def _criterion_design_starts_with_baseline(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    for phases in _by_protocol(view, "CHANGING_CRITERION"):
        first = phases[0]
        if first.type != "BASELINE":
            found[first.Index] = (f"is the first phase but a {first.type} phase; a changing-criterion protocol "
                                  "starts with a BASELINE phase")
        elif first.params is not None and "criterion" in first.params:
            found[first.Index] = (f"is the baseline but records criterion {json.dumps(first.params['criterion'])}; "
                                  "the baseline has none")
    return found


def _criterion_phase_has_criterion(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    for phase in _of_design(view, "CHANGING_CRITERION").itertuples():
        if phase.type not in INTERVENTIONS:
            continue
        if "criterion" not in phase.params:
            found[phase.Index] = "records no criterion (the level the behaviour should meet)"
        elif _number(phase.params["criterion"]) is None:
            found[phase.Index] = f"has criterion {json.dumps(phase.params['criterion'])}, not a finite number"
    return found


def _criterion_changes_between_phases(view: pd.DataFrame, today: pd.Timestamp) -> dict:
    found = {}
    for phases in _by_protocol(view, "CHANGING_CRITERION"):
        for before, after in zip(phases, phases[1:]):
            earlier, later = (_number((phase.params or {}).get("criterion")) for phase in (before, after))
            if earlier is not None and earlier == later:
                found[after.Index] = (f"has criterion {json.dumps(after.params['criterion'])}, as the phase before "
                                      f"it ({before.label}) does; adjacent criteria differ")
    return found


def _design_rule(rule: Callable[[pd.DataFrame, pd.Timestamp], dict]) -> Callable:
    """A design rule as a phase rule: per phase row the reason (``rule``'s, by row) or None."""
    def reasons(phases: pd.DataFrame, protocols: pd.DataFrame, today: pd.Timestamp) -> pd.Series:
        found = rule(_design_view(phases, protocols), today) if len(phases) else {}
        return pd.Series([found.get(row) for row in phases.index], index=phases.index, dtype=object)

    return reasons


DESIGN_RULES = {name: _design_rule(rule) for name, rule in {
    "design_keys_belong_to_design": _design_keys_belong_to_design,
    "tier_and_outcome_recorded": _tier_and_outcome_recorded,
    "tier_outcome_in_catalogue": _tier_outcome_in_catalogue,
    "tier_outcomes_distinct": _tier_outcomes_distinct,
    "one_tier_measures_primary_outcome": _one_tier_measures_primary_outcome,
    "tier_baseline_then_intervention": _tier_baseline_then_intervention,
    "tier_start_within_window": _tier_start_within_window,
    "runs_within_max_consecutive": _runs_within_max_consecutive,
    "criterion_design_starts_with_baseline": _criterion_design_starts_with_baseline,
    "criterion_phase_has_criterion": _criterion_phase_has_criterion,
    "criterion_changes_between_phases": _criterion_changes_between_phases,
}.items()}
PHASE_RULES = {**LAYOUT_RULES, **DESIGN_RULES}


def _plan_design_reasons(protocols: pd.DataFrame) -> pd.Series:
    """Per protocol row: why its registered plan does not fit its designType, else None (a plan that does not
    parse is the ``registered_analysis_plan`` rule's)."""
    def reason(text, design) -> str | None:
        plan = _registered_plan(text)
        return design_plan_problem(plan, design) if plan is not None and isinstance(design, str) else None

    return pd.Series([reason(text, design) for text, design in
                      zip(protocols["analysisPlan"], protocols["designType"].astype(object))],
                     index=protocols.index, dtype=object)


# Each protocol rule: protocol rows -> per protocol row what breaks the rule, or None.
PROTOCOL_RULES = {"analysis_plan_fits_design": _plan_design_reasons}
ROW_RULE_COLUMNS |= {**dict.fromkeys(DESIGN_RULES, "interventionParams"), "analysis_plan_fits_design": "analysisPlan"}


SELF_REPORT_FIELDS = ("mood", "energyLevel", "location")


def _self_report_reasons(context: pd.DataFrame) -> pd.Series:
    """A SELF_REPORT row must carry what the user reported (mood, energy, location): schema.sql's
    context_metadata_self_report_complete, repeated for app databases that lack it."""
    missing = pd.concat([context[name].isna().rename(name) for name in SELF_REPORT_FIELDS], axis=1)
    own = context["source"].astype(object) == "SELF_REPORT"
    return pd.Series([f"a SELF_REPORT row without {', '.join(missing.columns[row])}" if is_own and row.any() else None
                      for is_own, row in zip(own, missing.to_numpy())], index=context.index, dtype=object)


def _import_reasons(context: pd.DataFrame) -> pd.Series:
    """An imported row (source not SELF_REPORT) is named by its vendor's id and its user's day, carries no
    self-reported field, and is the only row of its user, source and day (context_metadata_import_identified and
    the unique index, repeated)."""
    source = context["source"].astype(object)
    imported = source.notna() & (source != "SELF_REPORT")
    key = context[["userId", "localDate"]].assign(source=source)
    duplicated = imported & key.duplicated(keep=False) & context["localDate"].notna()

    def reason(i) -> str | None:
        if not imported[i]:
            return None
        problems = [f"no {name}" for name in ("externalId", "localDate") if pd.isna(context.at[i, name])]
        problems += [f"{name} = {context.at[i, name]!r} on an imported row" for name in SELF_REPORT_FIELDS
                     if not pd.isna(context.at[i, name])]
        if duplicated[i]:
            user, day = context.at[i, "userId"], context.at[i, "localDate"]
            problems.append(f"another {source[i]} row for user {user} on {day}")
        return f"{source[i]} row: " + "; ".join(problems) if problems else None

    return pd.Series([reason(i) for i in context.index], index=context.index, dtype=object)


# Each context rule: context_metadata rows -> per row what breaks the rule, or None.
CONTEXT_RULES = {"self_report_complete": _self_report_reasons, "import_identified": _import_reasons}
ROW_RULE_COLUMNS |= {"self_report_complete": "mood", "import_identified": "externalId"}


def context_problems(rule: str, context: pd.DataFrame) -> pd.Series:
    """Per context_metadata row: 'context <id>: <what breaks rule>', or None where the row keeps ``rule``."""
    reasons = CONTEXT_RULES[rule](context)
    return ("context " + context["id"].astype(str) + ": " + reasons.fillna("")).where(reasons.notna(), None)


def phase_problems(rule: str, phases: pd.DataFrame, cut: dict[str, pd.DataFrame], now: pd.Timestamp) -> pd.Series:
    """Per phase row: 'protocol <id>: <phase label> <what breaks rule>' ('protocol <id>: phase <id> (<label>)
    <...>' for a design rule), or None where the row keeps ``rule``.

    Why one text for check and report: the row fails exactly when it has a problem, and the report names the
    protocol and the phase a researcher must fix, in the words the dbt tests use.
    """
    reasons = PHASE_RULES[rule](phases, cut["experiment_protocols"], pd.Timestamp(now).floor("D"))
    label = phases["phaseLabel"].astype(str)
    phase = "phase " + phases["id"].astype(str) + " (" + label + ")" if rule in DESIGN_RULES else label
    named = "protocol " + phases["protocolId"].astype(str) + ": " + phase + " "
    return (named + reasons.fillna("")).where(reasons.notna(), None)


def protocol_problems(rule: str, protocols: pd.DataFrame) -> pd.Series:
    """Per protocol row: 'protocol <id>: <what breaks rule>', or None where the row keeps ``rule``."""
    reasons = PROTOCOL_RULES[rule](protocols)
    return ("protocol " + protocols["id"].astype(str) + ": " + reasons.fillna("")).where(reasons.notna(), None)


# The rules whose failures the report explains in words (table -> rule names), and the explanation.
EXPLAINED_RULES = {"phase_assignments": set(PHASE_RULES), "experiment_protocols": set(PROTOCOL_RULES),
                   "context_metadata": set(CONTEXT_RULES)}


def row_problems(table: str, rule: str, frame: pd.DataFrame, cut: dict[str, pd.DataFrame],
                 now: pd.Timestamp) -> pd.Series:
    """Per row of ``table``: what breaks ``rule`` (one of ``EXPLAINED_RULES[table]``), or None."""
    if table == "phase_assignments":
        return phase_problems(rule, frame, cut, now)
    if table == "context_metadata":
        return context_problems(rule, frame)
    return protocol_problems(rule, frame)


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
    if table == "experiment_protocols":
        checks += [pa.Check(lambda df, rule=rule: protocol_problems(rule, df).isna(), name=rule)
                   for rule in PROTOCOL_RULES]
    if table == "phase_assignments":
        checks += [pa.Check(lambda df, rule=rule: phase_problems(rule, df, cut, now).isna(), name=rule)
                   for rule in PHASE_RULES]
    if table == "context_metadata":
        checks += [pa.Check(lambda df, rule=rule: context_problems(rule, df).isna(), name=rule)
                   for rule in CONTEXT_RULES]
    if table == "behavioral_events":
        checks.append(pa.Check(
            lambda df: phase_of_event(df, cut["phase_assignments"], cut["experiment_protocols"]),
            name="experiment_phase_exists_at_event_time"))
    columns = {name: _column(table, name, cut, now) for name in tables()[table].column_names}
    return pa.DataFrameSchema(columns, checks=checks, strict=True, name=table)
