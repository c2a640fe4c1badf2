"""`americano protocol validate <file.yaml>` and `americano protocol new <file.yaml>`: pre-register a protocol.

Why a command: a protocol (CENT/SPIRIT fields, design, outcome, registered direction and confirmatory analysis,
and the phase schedule drawn by the design's randomization with a recorded seed) must be fixed before any data
exist, and checked then: a design whose randomization test can never reach its alpha, or a record the snapshot
checks would refuse weeks later, is refused now, with every problem named by its field.

The file's format: ``source.registration`` (module doc); one example per design in docs/protocols/. The checks, in
order (a step runs when the one before it passed; all problems of a step are listed):
1. the fields: required fields and types, the schema's enums and ranges, outcomes in the metric catalogue, the
   analysis plan (``parse_analysis_plan`` per key, then ``design_plan_problem``), the design's own fields, and
   whether totalDays holds the design's phases at minPhaseLength (``source.registration.parse_protocol``);
2. the schedule, drawn by the design's randomization (``demo.protocols``, the same builders the demo study uses)
   with ``randomizationSeed`` (drawn and printed when the file has none);
3. the protocol and phase rows, as a snapshot cut through the Pandera schemas (``checks.reports.validate_cut``),
   so the design rules of docs/DESIGNS.md apply exactly as they will to the snapshot;
4. whether the design's reference set can reach alpha (``source.design_registration.registration_alpha_check``):
   if 1/N > alpha it is refused with the arithmetic and the smallest fix;
5. whether its dates overlap another protocol of the same user (``source.registration.overlap_problems``):
   ``validate`` asks the source database when it can be read, ``new`` in the inserting transaction.
``validate`` prints the schedule it would register and writes nothing; ``new`` inserts the protocol and its phases
in one transaction as the maintenance login (only the owner may INSERT into the study app's tables: the pipeline's
logins read, or write provenance) and prints the new protocol id and the seed used.
"""

from __future__ import annotations

import io
import json
import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from americano_pipeline.commands.refusal import refused
from americano_pipeline.source.registration import MAX_SEED, ProtocolSpec, RegistrationError, parse_protocol


@dataclass(frozen=True)
class Registration:
    """A protocol that passed every check: its spec, drawn schedule, rows and reference-set check."""

    spec: ProtocolSpec
    schedule: object  # demo.protocols.Schedule
    seed_drawn: bool
    protocol: dict  # the experiment_protocols row
    phases: list[dict]  # the phase_assignments rows
    alpha: object  # stats AlphaCheck


def _loader():
    """``yaml.SafeLoader`` that leaves dates as text: the checks read them and name the field of an impossible one
    (``startDate: '2027-13-01' is not a date``), where the timestamp resolver would fail the whole file."""
    import yaml

    class DatesAsText(yaml.SafeLoader):
        pass

    DatesAsText.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return DatesAsText


def load(path: Path):
    """The YAML document in ``path`` (safe loading, dates as text), or ``RegistrationError`` saying why it cannot be
    read."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistrationError([f"{path}: cannot read it ({exc.strerror})"]) from None
    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RegistrationError([f"{path}: not YAML{where}: {problem}"]) from None
    except ValueError as exc:
        raise RegistrationError([f"{path}: not YAML: {exc}"]) from None


def _design(spec: ProtocolSpec):
    """The demo's ProtocolDesign for ``spec``: what its schedule builders and row writer read."""
    from americano_pipeline.demo.protocols import ProtocolDesign, Tier

    plan = spec.plan
    return ProtocolDesign(
        key="registered", name=spec.protocol_name, hypothesis=spec.hypothesis, design_type=spec.design_type,
        primary_outcome=spec.primary_outcome, total_days=spec.total_days, min_phase_length=spec.min_phase_length,
        true_effect=0.0, alternative=plan.alternative, params_a=spec.params_a, params_b=spec.params_b,
        phase_types=spec.phase_types, max_consecutive=plan.max_consecutive, criteria=spec.criteria,
        tiers=tuple(Tier(tier.name, tier.outcome, 0.0) for tier in spec.tiers), start_windows=spec.start_windows,
        scheme=plan.multiple_baseline_scheme,
    )


def draw_schedule(spec: ProtocolSpec, seed: int):
    """The schedule drawn by the design's randomization with ``seed`` (``demo.protocols``). The demo's multiple
    baseline draws Koehler-Levin (tiers in random order over the slots; with one-day windows that is
    Wampold-Worsham); Marascuilo-Busk draws each tier's start from its own window, tier by tier from one generator."""
    import numpy as np

    from americano_pipeline.demo.protocols import Schedule, draw_phases, schedule

    design = _design(spec)
    if design.design_type == "MULTIPLE_BASELINE" and design.scheme == "marascuilo_busk":
        rng = np.random.default_rng(seed)
        phases = tuple(phase for tier, window in zip(design.tiers, design.start_windows)
                       for phase in draw_phases(replace(design, tiers=(tier,), start_windows=(window,)),
                                                spec.start_date, rng))
        return Schedule(design, seed, phases)
    return schedule(design, spec.start_date, seed)


def _frame(table: str, rows: list[dict]):
    """``rows`` as the snapshot would hold them (the extract's Arrow types, read back by ``read_frame``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from americano_pipeline.checks.reports import read_frame
    from americano_pipeline.source.extract import arrow_schema
    from americano_pipeline.source.schema import tables

    schema = arrow_schema(table)
    json_columns = {c.name for c in tables()[table].columns if c.sql_type in ("JSONB", "JSONB[]")}
    data = pa.Table.from_pylist([{name: json.dumps(row.get(name)) if name in json_columns else row.get(name)
                                  for name in schema.names} for row in rows], schema=schema)
    buffer = io.BytesIO()
    pq.write_table(data, buffer)
    buffer.seek(0)
    return read_frame(buffer)


def cut_problems(protocol: dict, phases: list[dict]) -> list[str]:
    """What the snapshot's Pandera checks would report on these rows, as a cut of their own."""
    from americano_pipeline.checks.reports import validate_cut
    from americano_pipeline.source.schema import TABLES

    rows = {"experiment_protocols": [protocol], "phase_assignments": phases}
    reports = validate_cut({table: _frame(table, rows.get(table, [])) for table in TABLES})
    problems = []
    for table, report in reports.items():
        for violation in report.violations.itertuples():
            value = str(violation.value).removeprefix(f"protocol {protocol['id']}: ")
            value = re.sub(r"phase c[a-z0-9]{24} \((.*?)\)", r"phase '\1'", value)
            problems.append(f"schedule: {table}.{violation.column} breaks {violation.rule}: {value}")
    return problems


def prepare(doc) -> Registration:
    """Every check of the module doc on the document ``doc``; ``RegistrationError`` listing the problems."""
    import numpy as np

    from americano_pipeline.checks.schemas import metric_catalogue
    from americano_pipeline.demo.synthetic import _design_rows
    from americano_pipeline.source.design_registration import PhaseRecord, registration_alpha_check

    spec = parse_protocol(doc, metric_catalogue())
    seed_drawn = spec.randomization_seed is None
    seed = secrets.randbelow(MAX_SEED) + 1 if seed_drawn else spec.randomization_seed
    try:
        planned = draw_schedule(spec, seed)
    except ValueError as exc:
        raise RegistrationError([f"totalDays: the schedule cannot be drawn: {exc}"]) from None
    # fresh ids, never derived from the randomization seed (two protocols may share a seed)
    protocols, phases = _design_rows(np.random.default_rng(), spec.user_id, [planned])
    protocol = {**protocols[0], "analysisPlan": spec.plan.to_json(), **spec.consort}
    problems = cut_problems(protocol, phases)
    if problems:
        raise RegistrationError(problems)
    records = [PhaseRecord(phase.phase_type, phase.start, phase.end, phase.params) for phase in planned.phases]
    check = registration_alpha_check(spec.design_type, records, spec.min_phase_length, protocol["analysisPlan"])
    if check is None:
        raise RegistrationError([f"designType: the {spec.design_type} design's reference set cannot be counted "
                                 "from the drawn schedule"])
    if not check.reachable:
        raise RegistrationError([f"analysisPlan.alpha: {check.message}"])
    return Registration(spec, planned, seed_drawn, protocol, phases, check)


def _params(params: dict) -> str:
    return json.dumps(params, ensure_ascii=False)


def describe(registration: Registration) -> list[str]:
    """The lines ``validate`` and ``new`` print: the protocol, its schedule, its reference set."""
    spec, planned, check = registration.spec, registration.schedule, registration.alpha
    plan = json.loads(registration.protocol["analysisPlan"])
    plan_text = ", ".join(f"{key} {value}" for key, value in plan.items() if key != "description")
    seed_text = (f"randomization seed {planned.randomization_seed} (drawn: add `randomizationSeed: "
                 f"{planned.randomization_seed}` to the file to draw this schedule again)"
                 if registration.seed_drawn else f"randomization seed {planned.randomization_seed} (from the file)")
    label_width = max(len("label"), *(len(phase.label) for phase in planned.phases))
    lines = [
        f"{spec.protocol_name} ({spec.design_type}, primary outcome {spec.primary_outcome}, user {spec.user_id})",
        f"  {planned.start} .. {planned.end}: {spec.total_days} days, minimum phase {spec.min_phase_length}; "
        f"{seed_text}",
        f"  analysis plan: {plan_text}",
        f"  schedule ({len(planned.phases)} phases):",
        f"    {'label':<{label_width}}  {'type':<14}  {'start':<10}  {'end':<10}  {'days':>4}  params",
    ]
    lines += [f"    {phase.label:<{label_width}}  {phase.phase_type:<14}  {phase.start}  {phase.end}  "
              f"{phase.days:>4}  {_params(phase.params)}" for phase in planned.phases]
    lines.append(f"  reference set: {check.message}")
    return lines


def _refused(action: str, path: str, problems: list[str]) -> bool:
    return refused(f"americano protocol {action}: {path}", problems, "nothing registered")


def _overlaps(protocol: dict) -> tuple[list[str], str | None]:
    """``validate``'s look at the user's registered protocols (``overlap_problems``) through the read-only login:
    (the overlaps, None), or ([], why) when the source database cannot be read; ``new`` checks again under a lock."""
    import psycopg

    from americano_pipeline.source.cluster import ClusterError
    from americano_pipeline.source.connection import READER_ROLE, DatabaseUnavailable, connect
    from americano_pipeline.source.database import database_url
    from americano_pipeline.source.registration import overlap_problems

    try:
        with connect(database_url(), role=READER_ROLE) as conn:
            return overlap_problems(conn, protocol), None
    except (ClusterError, DatabaseUnavailable, psycopg.Error) as exc:  # no cluster yet, down, or no schema
        return [], " ".join(str(exc).split())


def protocol(action: str, path: str) -> bool:
    """Run ``validate`` or ``new`` on the file ``path``; False (after saying why on stderr) when it is refused."""
    try:
        registration = prepare(load(path))
    except RegistrationError as exc:
        return _refused(action, path, exc.problems)
    if action == "validate":
        overlaps, unchecked = _overlaps(registration.protocol)
        if overlaps:
            return _refused(action, path, overlaps)
    print(f"{path}: valid")
    for line in describe(registration):
        print(line)
    if action == "validate":
        if unchecked:
            print(f"overlap with the user's other protocols not checked ({unchecked}); `new` checks it")
        print("nothing written (validate); `americano protocol new` registers it"
              + (" with another drawn seed, so another schedule, unless the file records this one"
                 if registration.seed_drawn else ""))
        return True
    from americano_pipeline.source.database import owner_connection
    from americano_pipeline.source.registration import insert_protocol
    from americano_pipeline.source.schema import ensure_schema

    with owner_connection() as conn:
        ensure_schema(conn)
        try:
            insert_protocol(conn, registration.protocol, registration.phases)
        except RegistrationError as exc:
            return _refused(action, path, exc.problems)
    print(f"registered protocol {registration.protocol['id']} with {len(registration.phases)} phases; "
          f"randomization seed {registration.schedule.randomization_seed}")
    return True
