"""new_phase_sensor: re-analyse a protocol as soon as one of its phases starts or ends, or it is registered.

Why it reads PostgreSQL (through the read-only role) and never the warehouse: the sensor runs every few minutes
in the daemon while a dbt build may hold the DuckDB file; and the source database is where a new phase appears.
The cursor stores one signature per protocol: its phase rows (id, start, end) and which of them have started
and ended by the database's clock. A changed signature means a phase started, ended or was (re)scheduled; a new
protocol gets its partition added. Each change requests one run of snapshot -> warehouse -> that protocol's
analyses, keyed by protocol and signature, so no tick ever requests the same work twice (the first tick sees
every protocol as new). When the database is unavailable the tick is skipped with the reason and the cursor
kept, so nothing is missed. A new protocol whose scheduled design cannot reach its registered alpha in the
randomization test (1/N > alpha) is reported in the sensor's log with the arithmetic and the smallest fix.
"""

import hashlib
import json

import dagster as dg
from americano_pipeline.automation.jobs import ALL_HISTORY_CONFIG, whole_graph_job
from americano_pipeline.source.connection import DatabaseUnavailable
from americano_pipeline.partitions import protocols, valid_protocol_ids
from americano_pipeline.resources.postgres import PostgresResource

PHASES_SQL = """
    SELECT p.id, a.id, a."startDate", a."endDate", a."startDate" <= now(), a."endDate" <= now()
    FROM experiment_protocols AS p
    LEFT JOIN phase_assignments AS a ON a."protocolId" = p.id
    ORDER BY p.id, a."startDate", a.id
"""


def phase_signatures(rows) -> dict[str, str]:
    """Protocol id -> a short hash of its phase rows and their started/ended state (``PHASES_SQL`` rows)."""
    phases: dict[str, list] = {}
    for protocol_id, *phase in rows:
        phases.setdefault(protocol_id, [])
        if phase[0] is not None:
            phases[protocol_id].append([str(value) for value in phase])
    return {protocol_id: hashlib.sha256(json.dumps(rows_of).encode()).hexdigest()[:16]
            for protocol_id, rows_of in phases.items()}


# Dagster lists runs and partitions by key, a CUID; the run's tag gives the protocol's name beside it in the UI.
NAME_TAG = "americano/protocol_name"
NAMES_SQL = 'SELECT id, "protocolName" FROM experiment_protocols WHERE id = ANY(%s)'

DESIGNS_SQL = """
    SELECT p.id, p."designType"::text, p."minPhaseLength", p."analysisPlan", a."phaseType"::text,
           a."startDate"::date, coalesce(a."endDate", p."endDate")::date, a."interventionParams"
    FROM experiment_protocols AS p
    JOIN phase_assignments AS a ON a."protocolId" = p.id
    WHERE p.id = ANY(%s)
    ORDER BY p.id, a."startDate", a.id
"""


def unreachable_alpha(rows) -> list[str]:
    """For each new protocol (``DESIGNS_SQL`` rows: one per phase) whose registered design cannot reach its alpha
    in its randomization test, the arithmetic and the smallest fix (``source.design_registration``; DESIGN.md
    §4b): said when the protocol appears, not after weeks of data. A record that cannot be read as its design
    (or an open phase of an open protocol) is left to the snapshot checks, which name it."""
    from americano_pipeline.source.design_registration import PhaseRecord, registration_alpha_check

    protocols: dict[str, tuple] = {}
    for protocol_id, design_type, min_phase_length, plan, phase_type, start, end, params in rows:
        design = protocols.setdefault(protocol_id, (design_type, int(min_phase_length), plan, []))
        if end is not None:
            design[3].append(PhaseRecord(phase_type, start, end, params or {}))
    warnings = []
    for protocol_id, (design_type, min_phase_length, plan, phases) in protocols.items():
        check = registration_alpha_check(design_type, phases, min_phase_length, plan)
        if check is not None and not check.reachable:
            warnings.append(f"protocol {protocol_id}: {check.message}")
    return warnings


def changed_protocols(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    """Protocols that are new or whose signature changed, in id order."""
    return sorted(protocol_id for protocol_id, signature in current.items() if previous.get(protocol_id) != signature)


@dg.sensor(job=whole_graph_job, minimum_interval_seconds=300,
           description="A phase started or ended, or a protocol appeared: refresh and re-analyse that protocol.")
def new_phase_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    try:
        with postgres.reader() as conn:
            current = phase_signatures(conn.execute(PHASES_SQL).fetchall())
    except DatabaseUnavailable as exc:
        return dg.SkipReason(f"the study database is unavailable ({exc}); the cursor is kept and the next tick retries")
    changed = valid_protocol_ids(changed_protocols(json.loads(context.cursor) if context.cursor else {}, current),
                                 report=context.log.warning)
    if not changed:
        return dg.SkipReason(f"no phase started or ended and no new protocol among {len(current)} protocols")
    known = set(context.instance.get_dynamic_partitions(protocols.name))
    new = [protocol_id for protocol_id in changed if protocol_id not in known]
    with postgres.reader() as conn:
        names = dict(conn.execute(NAMES_SQL, [changed]).fetchall())
        for warning in unreachable_alpha(conn.execute(DESIGNS_SQL, [new]).fetchall()) if new else []:
            context.log.warning(warning)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"{protocol_id}:{current[protocol_id]}", partition_key=protocol_id,
                                    run_config=ALL_HISTORY_CONFIG, tags={NAME_TAG: names.get(protocol_id, "")})
                      for protocol_id in changed],
        dynamic_partitions_requests=[protocols.build_add_request(new)] if new else [],
        cursor=json.dumps(current, sort_keys=True),
    )
