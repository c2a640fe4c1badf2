{# Reads two models: Dagster attaches the check to the phases (dagster-dbt's meta.dagster.ref). #}
{{ config(meta={'dagster': {'ref': {'name': 'stg_phase_assignments'}}}) }}

{% call explain_failures() %}

with

phases as (

    select * from {{ ref('stg_phase_assignments') }}

),

protocols as (

    select * from {{ ref('stg_experiment_protocols') }}

),

measured_phases as (

    -- an open phase (end_date null) lasts until its protocol's end_date; no length while both are open. The
    -- last phase is the last of its tier for MULTIPLE_BASELINE (tiers overlap), of the protocol otherwise
    select
        phases.protocol_id,
        phases.phase_id,
        phases.phase_label,
        phases.start_date,
        phases.end_date,
        protocols.min_phase_length,
        coalesce(phases.end_date, protocols.end_date) as last_date,
        coalesce(phases.end_date, protocols.end_date) - phases.start_date + 1 as phase_days,
        row_number() over (
            partition by
                phases.protocol_id,
                case when protocols.design_type = 'MULTIPLE_BASELINE' then phases.tier end
            order by phases.start_date desc, phases.phase_id desc
        ) = 1 as is_last_phase
    from phases
    inner join protocols
        on protocols.protocol_id = phases.protocol_id

),

today as (

    select {{ local_date('current_timestamp') }} as today

),

judged_phases as (

    -- the running phase (the protocol's or the tier's last, today within its days) may still be extended or
    -- closed early; every other phase has its final length
    select
        measured_phases.*,
        measured_phases.is_last_phase
            and measured_phases.start_date <= today.today
            and coalesce(measured_phases.last_date >= today.today, true) as is_running
    from measured_phases
    cross join today

)

select
    protocol_id,
    phase_id,
    phase_days,
    min_phase_length,
    'protocol ' || protocol_id || ': ' || {{ phase_description('judged_phases') }} || ' lasts ' || phase_days
        || ' days (min ' || min_phase_length || ')' as failure
from judged_phases
where phase_days < min_phase_length
    and not is_running

{% endcall %}
