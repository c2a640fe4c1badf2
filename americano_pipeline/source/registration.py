"""A protocol to register, read from a YAML file, and the rows that record it (``americano protocol``).

Why a file checked before anything is written: a protocol is pre-registered: its design, outcome, direction,
confirmatory analysis and randomized schedule must be fixed before any data exist, and a mistake found after weeks
of data cannot be fixed without a deviation. So every rule that can be checked on the file is checked at once, and
every problem is reported with the path of the field that breaks it (``analysisPlan.alpha: 0.5 is not a number in
(0, 0.2]``), not just the first. This module reads the fields (``parse_protocol``) and writes the rows
(``insert_protocol``); drawing the schedule, checking the rows as a snapshot cut and the reachable alpha are
``commands.protocol``'s (they need the demo's schedule builders and the Pandera checks, layers above this one).

The file (one example per design in docs/protocols/; how each design is recorded: docs/DESIGNS.md):

    userId: cq2v8x0k3m5n7p9r1t3v5x7z9      the app's user id (any non-empty text)
    protocolName: Weekly goal setting        CENT/SPIRIT: the title ...
    hypothesis: Setting a weekly goal ...    ... and the hypothesis, in words
    designType: MULTIPLE_BASELINE            ABAB | MULTIPLE_BASELINE | ALTERNATING | CHANGING_CRITERION
    primaryOutcome: study_minutes            a metric of the catalogue (dbt var metric_catalogue)
    startDate: 2026-03-02                    the first day (UTC calendar day)
    minPhaseLength: 10                       the shortest phase, in days (1 to 365; ALTERNATING: 1)
    totalDays: 50                            the protocol's days (recorded as sampleSizeTarget)
    analysisPlan:                            the registered plan (source.analysis_plan)
      confirmatory: phase_randomization_test
      alternative: greater                   the registered direction: greater | less | two-sided
      alpha: 0.05                            in (0, 0.2]
      description: ...                       optional prose
      multipleBaselineScheme: koehler_levin  MULTIPLE_BASELINE only (required): marascuilo_busk | koehler_levin |
                                             wampold_worsham
      maxConsecutive: 2                      ALTERNATING only (required): the run limit, or null
    conditions:                              the interventionParams of each condition (any JSON values)
      A: {weekly_goal: false}                A: the BASELINE phases
      B: {weekly_goal: true}                 B: the INTERVENTION phases
    randomizationSeed: 12345                 optional: drawn (and printed) when absent
    consort: {screened: 1, eligible: 1, enrolled: 1, completed: null}   optional CONSORT counts
    # per design, and only there:
    phases: [BASELINE, INTERVENTION_A, BASELINE, INTERVENTION_A]   ABAB: the phase types in order (>= 2)
    criteria: [60, 75, 90]                   CHANGING_CRITERION: each intervention phase's criterion, in order
    tiers:                                   MULTIPLE_BASELINE: the tiers (>= 2), one measures primaryOutcome
      - {tier: study time, outcome: study_minutes}
      - {tier: engagement, outcome: engagement_score}
    startWindows: [[10, 14], [20, 24]]       MULTIPLE_BASELINE: per tier (koehler_levin: per staggered slot) the
                                             first and last day offset (0 = startDate) its intervention may start
                                             on; wampold_worsham fixes the starts: [d, d]

The schedule is drawn by the design's randomization, from the set its randomization test enumerates: phase
lengths of at least minPhaseLength for ABAB and CHANGING_CRITERION, a run-limited order of as many A as B days
(one phase per run) for ALTERNATING, the tiers' starts within their windows for MULTIPLE_BASELINE (koehler_levin:
the tiers in random order over the slots; marascuilo_busk: each tier in its own window; wampold_worsham: the
tiers in random order over the fixed starts).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from americano_pipeline.source.analysis_plan import (
    DESIGN_KEYS,
    REQUIRED,
    AnalysisPlan,
    design_plan_problem,
    parse_analysis_plan,
)
from americano_pipeline.source.schema import enums, tables

if TYPE_CHECKING:
    import psycopg

MAX_SEED = 2**31 - 1  # phase_assignments.randomizationSeed is an INTEGER
CONSORT = ("screened", "eligible", "enrolled", "completed")
RESERVED_PARAMS = ("tier", "outcome", "startWindow", "criterion")  # written by the design (docs/DESIGNS.md)
REVERSAL_PHASES = ("BASELINE", "INTERVENTION_A")  # what the reversal schedule draws (conditions A and B)
DESIGN_FIELDS = {"phases": ("ABAB",), "criteria": ("CHANGING_CRITERION",), "tiers": ("MULTIPLE_BASELINE",),
                 "startWindows": ("MULTIPLE_BASELINE",)}
FIELDS = ("userId", "protocolName", "hypothesis", "designType", "primaryOutcome", "startDate", "minPhaseLength",
          "totalDays", "analysisPlan", "conditions", "randomizationSeed", "consort", *DESIGN_FIELDS)
OPTIONAL = ("randomizationSeed", "consort", *DESIGN_FIELDS)
_GOOD_PLAN = {"confirmatory": "phase_randomization_test", "alternative": "greater", "alpha": 0.05}


class RegistrationError(ValueError):
    """The protocol cannot be registered; ``problems`` names every field that breaks a rule."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class TierSpec:
    name: str
    outcome: str


@dataclass(frozen=True)
class ProtocolSpec:
    """A protocol file's fields, read and checked (module doc)."""

    user_id: str
    protocol_name: str
    hypothesis: str
    design_type: str
    primary_outcome: str
    start_date: date
    min_phase_length: int
    total_days: int
    plan: AnalysisPlan
    params_a: dict
    params_b: dict
    randomization_seed: int | None = None
    consort: dict = field(default_factory=lambda: dict.fromkeys(CONSORT))
    phase_types: tuple[str, ...] = ()
    criteria: tuple[float, ...] = ()
    tiers: tuple[TierSpec, ...] = ()
    start_windows: tuple[tuple[int, int], ...] = ()


def _show(value) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Reader:
    """Reads fields of the document, collecting every problem as 'path: what is wrong'."""

    def __init__(self, catalogue: tuple[str, ...]):
        self.catalogue = catalogue
        self.problems: list[str] = []

    def problem(self, path: str, text: str) -> None:
        self.problems.append(f"{path}: {text}")

    def text(self, doc: dict, key: str) -> str | None:
        value = doc.get(key)
        if not isinstance(value, str) or not value.strip():
            self.problem(key, f"must be non-empty text, got {_show(value)}")
            return None
        return value.strip()

    def whole(self, path: str, value, low: int, high: int) -> int | None:
        if not _is_int(value) or not low <= value <= high:
            self.problem(path, f"{_show(value)} is not a whole number from {low} to {high}")
            return None
        return value

    def metric(self, path: str, value) -> str | None:
        if value not in self.catalogue:
            self.problem(path, f"{_show(value)} is not a catalogue metric ({', '.join(self.catalogue)})")
            return None
        return value

    def one_of(self, path: str, value, allowed: tuple[str, ...]) -> str | None:
        if value not in allowed:
            self.problem(path, f"{_show(value)} is not one of {', '.join(allowed)}")
            return None
        return value

    def day(self, path: str, value) -> date | None:
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                pass
        if not isinstance(value, date) or isinstance(value, datetime):
            self.problem(path, f"{_show(value)} is not a date (YYYY-MM-DD)")
            return None
        return value

    def plan(self, doc: dict, design_type: str | None) -> AnalysisPlan | None:
        """The plan, each key checked by ``parse_analysis_plan`` on its own (so every bad key is named)."""
        plan = doc.get("analysisPlan")
        if not isinstance(plan, dict):
            self.problem("analysisPlan", f"must be a mapping (confirmatory, alternative, alpha, ...), got "
                                         f"{_show(plan)}")
            return None
        before = len(self.problems)
        for key in REQUIRED:
            if key not in plan:
                self.problem(f"analysisPlan.{key}", "required")
        known = (*REQUIRED, "description", *DESIGN_KEYS.values())
        for key in plan:
            if key not in known:
                self.problem(f"analysisPlan.{key}", f"unknown key (known: {', '.join(known)})")
                continue
            try:
                parse_analysis_plan(json.dumps({**_GOOD_PLAN, key: plan[key]}, default=str))
            except ValueError as exc:
                self.problem(f"analysisPlan.{key}", str(exc).removeprefix(f"{key} "))
        design_keys = frozenset(set(plan) & set(DESIGN_KEYS.values()))
        problem = design_plan_problem(AnalysisPlan("", "", 0.0, keys=design_keys), design_type) if design_type \
            else None
        if problem:
            self.problem("analysisPlan", problem)
        if len(self.problems) > before:
            return None
        return parse_analysis_plan(json.dumps(plan))

    def conditions(self, doc: dict) -> tuple[dict, dict]:
        conditions = doc.get("conditions")
        if not isinstance(conditions, dict) or set(conditions) != {"A", "B"}:
            self.problem("conditions", "must be a mapping of A (baseline) and B (intervention) to their parameters, "
                                       f"got {_show(conditions)}")
            return {}, {}
        params = {}
        for name in ("A", "B"):
            value = {} if conditions[name] is None else conditions[name]
            params[name] = value if isinstance(value, dict) else {}
            if not isinstance(value, dict):
                self.problem(f"conditions.{name}", f"must be a mapping of parameters, got {_show(value)}")
                continue
            for key in value:
                if key in RESERVED_PARAMS:
                    self.problem(f"conditions.{name}.{key}", "reserved: the design writes it (docs/DESIGNS.md), "
                                                             "not a condition's parameter")
                elif not isinstance(key, str):
                    self.problem(f"conditions.{name}.{key}", "a parameter's name must be text")
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                self.problem(f"conditions.{name}", f"is not JSON ({exc}; quote dates and times)")
        return params["A"], params["B"]

    def consort(self, doc: dict) -> dict:
        counts = doc.get("consort") or {}
        if not isinstance(counts, dict):
            self.problem("consort", f"must be a mapping of {', '.join(CONSORT)} to counts, got {_show(counts)}")
            return dict.fromkeys(CONSORT)
        for key in counts:
            if key not in CONSORT:
                self.problem(f"consort.{key}", f"unknown count (known: {', '.join(CONSORT)})")
        result = {}
        for key in CONSORT:
            value = counts.get(key)
            if value is not None and self.whole(f"consort.{key}", value, 0, 2**31 - 1) is None:
                value = None
            result[key] = value
        present = [(key, result[key]) for key in CONSORT if result[key] is not None]
        for (before, more), (after, fewer) in zip(present, present[1:]):
            if fewer > more:
                self.problem(f"consort.{after}", f"{fewer} exceeds {before} {more}")
        return result


def _phase_types(reader: _Reader, value) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) < 2:
        reader.problem("phases", f"must list at least two phase types, e.g. [BASELINE, INTERVENTION_A], got "
                                 f"{_show(value)}")
        return ()
    phase_types = enums()["PhaseType"]
    for index, phase_type in enumerate(value):
        if phase_type not in phase_types:
            reader.problem(f"phases[{index}]", f"{_show(phase_type)} is not one of {', '.join(phase_types)}")
        elif phase_type not in REVERSAL_PHASES:
            reader.problem(f"phases[{index}]", f"{phase_type} is not drawn by registration yet (it draws "
                                               f"{' and '.join(REVERSAL_PHASES)}: conditions A and B)")
        elif index and phase_type == value[index - 1]:
            reader.problem(f"phases[{index}]", f"{phase_type} follows {phase_type}; adjacent phases differ")
    if not set(REVERSAL_PHASES) <= set(value):
        reader.problem("phases", f"needs both {' and '.join(REVERSAL_PHASES)}")
    return tuple(value)


def _criteria(reader: _Reader, value) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        reader.problem("criteria", f"must list the intervention phases' criteria (numbers), got {_show(value)}")
        return ()
    for index, criterion in enumerate(value):
        if isinstance(criterion, bool) or not isinstance(criterion, int | float) or not math.isfinite(criterion):
            reader.problem(f"criteria[{index}]", f"{_show(criterion)} is not a finite number")
        elif index and criterion == value[index - 1]:
            reader.problem(f"criteria[{index}]", f"{criterion} equals the criterion before it; adjacent criteria "
                                                 "differ")
    return tuple(value)


def _tiers(reader: _Reader, value, primary_outcome: str | None) -> tuple[TierSpec, ...]:
    if not isinstance(value, list) or len(value) < 2:
        reader.problem("tiers", f"must list at least two tiers ({{tier: name, outcome: metric}}), got {_show(value)}")
        return ()
    tiers = []
    for index, tier in enumerate(value):
        if not isinstance(tier, dict):
            reader.problem(f"tiers[{index}]", f"must be a mapping {{tier: name, outcome: metric}}, got {_show(tier)}")
            continue
        for key in set(tier) - {"tier", "outcome"}:
            reader.problem(f"tiers[{index}].{key}", "unknown key (known: tier, outcome)")
        name = tier.get("tier")
        if not isinstance(name, str) or not name.strip():
            reader.problem(f"tiers[{index}].tier", f"must be a non-empty name, got {_show(name)}")
        elif name in [t.name for t in tiers]:
            reader.problem(f"tiers[{index}].tier", f"{name!r} names another tier too; names are distinct")
        outcome = reader.metric(f"tiers[{index}].outcome", tier.get("outcome"))
        if outcome is not None and outcome in [t.outcome for t in tiers]:
            reader.problem(f"tiers[{index}].outcome", f"{outcome!r} is measured by another tier too; each tier "
                                                      "measures its own outcome")
        tiers.append(TierSpec(name, outcome))
    if primary_outcome and len(tiers) == len(value) and primary_outcome not in [t.outcome for t in tiers]:
        reader.problem("tiers", f"no tier measures primaryOutcome {primary_outcome!r}; exactly one must")
    return tuple(tiers)


def _windows(reader: _Reader, value, n_tiers: int, scheme: str | None) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list) or (n_tiers and len(value) != n_tiers):
        reader.problem("startWindows", f"must list one [earliest, latest] day offset per tier ({n_tiers}), got "
                                       f"{_show(value)}")
        return ()
    windows = []
    for index, window in enumerate(value):
        if not (isinstance(window, list) and len(window) == 2 and all(_is_int(day) for day in window)
                and 0 < window[0] <= window[1]):
            reader.problem(f"startWindows[{index}]", "must be [earliest, latest]: whole day offsets from startDate "
                                                     f"with 0 < earliest <= latest, got {_show(window)}")
            continue
        if scheme == "wampold_worsham" and window[0] != window[1]:
            reader.problem(f"startWindows[{index}]", f"wampold_worsham fixes each start: give [d, d], got "
                                                     f"{_show(window)}")
        windows.append((window[0], window[1]))
    return tuple(windows)


def _fit_problems(spec: ProtocolSpec) -> list[str]:
    """Whether totalDays holds the design's phases at minPhaseLength (the schedule can be drawn)."""
    total, minimum = spec.total_days, spec.min_phase_length
    n_phases = {"ABAB": len(spec.phase_types), "CHANGING_CRITERION": 1 + len(spec.criteria)}.get(spec.design_type)
    if n_phases and n_phases * minimum > total:
        return [f"totalDays: {total} days cannot hold {n_phases} phases of at least minPhaseLength {minimum} days "
                f"({n_phases * minimum} needed)"]
    if spec.design_type == "ALTERNATING":
        problems = [] if minimum == 1 else [f"minPhaseLength: an ALTERNATING design has one phase per run of days, "
                                            f"so its minPhaseLength is 1, got {minimum}"]
        return problems + ([] if total >= 2 else [f"totalDays: {total} cannot hold an A and a B day"])
    problems = []
    for index, (earliest, latest) in enumerate(spec.start_windows):
        if earliest < minimum:
            problems.append(f"startWindows[{index}]: a start on day {earliest} leaves a baseline of {earliest} days, "
                            f"shorter than minPhaseLength {minimum}")
        if total - latest < minimum:
            problems.append(f"startWindows[{index}]: a start on day {latest} leaves an intervention of "
                            f"{total - latest} days (totalDays {total}), shorter than minPhaseLength {minimum}")
    return problems


def parse_protocol(doc, catalogue: tuple[str, ...]) -> ProtocolSpec:
    """The protocol in ``doc`` (the YAML document), or ``RegistrationError`` listing every field that breaks a rule
    (module doc); ``catalogue``: the metrics an outcome may name."""
    if not isinstance(doc, dict):
        raise RegistrationError([f"(file): must be a mapping of the protocol's fields, got {_show(doc)}"])
    reader = _Reader(catalogue)
    for key in doc:
        if key not in FIELDS:
            reader.problem(str(key), f"unknown field (known: {', '.join(FIELDS)})")
    for key in FIELDS:
        if key not in doc and key not in OPTIONAL:
            reader.problem(key, "required")
    present = set(doc)
    user_id, name, hypothesis = (reader.text(doc, key) if key in present else None
                                 for key in ("userId", "protocolName", "hypothesis"))
    design_type = reader.one_of("designType", doc.get("designType"), enums()["ExperimentDesignType"]) \
        if "designType" in present else None
    primary = reader.metric("primaryOutcome", doc.get("primaryOutcome")) if "primaryOutcome" in present else None
    start = reader.day("startDate", doc.get("startDate")) if "startDate" in present else None
    ranges = tables()["experiment_protocols"].ranges
    minimum = reader.whole("minPhaseLength", doc.get("minPhaseLength"), *map(int, ranges["minPhaseLength"])) \
        if "minPhaseLength" in present else None
    total = reader.whole("totalDays", doc.get("totalDays"), *map(int, ranges["sampleSizeTarget"])) \
        if "totalDays" in present else None
    plan = reader.plan(doc, design_type) if "analysisPlan" in present else None
    params = reader.conditions(doc) if "conditions" in present else ({}, {})
    seed = doc.get("randomizationSeed")
    if seed is not None:
        seed = reader.whole("randomizationSeed", seed, 0, MAX_SEED)
    consort = reader.consort(doc)
    for key, designs in DESIGN_FIELDS.items():
        if key in present and design_type and design_type not in designs:
            reader.problem(key, f"belongs to a {' or '.join(designs)} design, not to {design_type}")
    design = {}
    if design_type == "ABAB":
        design["phase_types"] = _phase_types(reader, doc.get("phases"))
    elif design_type == "CHANGING_CRITERION":
        design["criteria"] = _criteria(reader, doc.get("criteria"))
    elif design_type == "MULTIPLE_BASELINE":
        design["tiers"] = _tiers(reader, doc.get("tiers"), primary)
        scheme = plan.multiple_baseline_scheme if plan else None
        design["start_windows"] = _windows(reader, doc.get("startWindows"), len(design["tiers"]), scheme)
    if reader.problems:
        raise RegistrationError(reader.problems)
    spec = ProtocolSpec(user_id, name, hypothesis, design_type, primary, start, minimum, total, plan, *params,
                        randomization_seed=seed, consort=consort, **design)
    problems = _fit_problems(spec)
    if problems:
        raise RegistrationError(problems)
    return spec


OVERLAP_SQL = """
    SELECT id, "protocolName", "startDate"::date, "endDate"::date FROM experiment_protocols
    WHERE "userId" = %(user)s AND "startDate" <= %(end)s AND coalesce("endDate", 'infinity') >= %(start)s
    ORDER BY "startDate", id
"""


def overlap_problems(conn: psycopg.Connection, protocol: dict) -> list[str]:
    """The user's registered protocols whose dates overlap ``protocol``'s (an ``experiment_protocols`` row), one
    problem each, naming it. Why refused: an n-of-1 participant runs one experiment at a time; a second
    intervention during a protocol's phases is a concurrent intervention that confounds both (CENT 5, 11a), and
    neither design's randomization accounts for it. An open protocol (no end date) runs until it is closed."""
    rows = conn.execute(OVERLAP_SQL, {"user": protocol["userId"], "start": protocol["startDate"],
                                      "end": protocol["endDate"]}).fetchall()
    return [_overlap(protocol, *row) for row in rows]


def _overlap(protocol: dict, other_id: str, name: str, start: date, end: date | None) -> str:
    fix = f"start after {end}" if end else "close it first"
    return (f"startDate: {protocol['startDate']:%Y-%m-%d}..{protocol['endDate']:%Y-%m-%d} overlaps protocol "
            f"{other_id} '{name}' of user {protocol['userId']} ({start}..{end or 'open'}): {fix}")


def insert_protocol(conn: psycopg.Connection, protocol: dict, phases: list[dict]) -> None:
    """Insert the protocol row and its phase rows in one transaction (all or nothing), after ``overlap_problems``
    under a per-user lock (two registrations for one user cannot both pass it); a protocol that overlaps another
    of its user's, or whose id exists already, is refused (``RegistrationError``)."""
    import psycopg
    from psycopg.types.json import Jsonb

    protocol_columns = [c for c in tables()["experiment_protocols"].column_names if c != "deviations"]
    phase_columns = tables()["phase_assignments"].column_names

    def statement(table: str, columns: list[str]) -> str:
        return (f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)}) '
                f'VALUES ({", ".join(["%s"] * len(columns))})')

    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [protocol["userId"]])
            if problems := overlap_problems(conn, protocol):
                raise RegistrationError(problems)
            cur.execute(statement("experiment_protocols", protocol_columns), [protocol[c] for c in protocol_columns])
            cur.executemany(statement("phase_assignments", phase_columns),
                            [[Jsonb(row[c]) if c == "interventionParams" else row[c] for c in phase_columns]
                             for row in phases])
    except psycopg.errors.UniqueViolation:
        raise RegistrationError([f"id: protocol {protocol['id']} (or one of its phases) exists already; run the "
                                 "command again to draw new ids"]) from None
