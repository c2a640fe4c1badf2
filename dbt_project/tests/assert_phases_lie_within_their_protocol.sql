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

placed_phases as (

    -- an open phase (end_date null) passes while it starts by the protocol's last day; an ongoing protocol
    -- (end_date null) bounds its phases by its start only
    select
        phases.protocol_id,
        phases.phase_id,
        phases.phase_label,
        phases.start_date,
        phases.end_date,
        protocols.start_date as protocol_start_date,
        protocols.end_date as protocol_end_date,
        case
            when phases.start_date < protocols.start_date then 'starts before the protocol'
            when coalesce(phases.end_date, phases.start_date) > protocols.end_date then 'runs past the protocol''s end'
        end as problem
    from phases
    inner join protocols
        on protocols.protocol_id = phases.protocol_id

)

select
    protocol_id,
    phase_id,
    problem,
    'protocol ' || protocol_id || ': ' || {{ phase_description('placed_phases') }} || ' ' || problem || ' ('
        || protocol_start_date || ' .. ' || coalesce(cast(protocol_end_date as varchar), 'ongoing') || ')' as failure
from placed_phases
where problem is not null

{% endcall %}
