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

tiered_phases as (

    -- the tiers of a MULTIPLE_BASELINE protocol overlap by design, so phases are compared within their tier;
    -- every other design is one series (tier null), whatever its rows record
    select
        phases.*,
        case when protocols.design_type = 'MULTIPLE_BASELINE' then phases.tier end as series_tier
    from phases
    inner join protocols
        on protocols.protocol_id = phases.protocol_id

)

select
    earlier.protocol_id,
    earlier.series_tier as tier,
    earlier.phase_id as phase_id,
    later.phase_id as overlapping_phase_id,
    'protocol ' || earlier.protocol_id || coalesce(' tier ''' || earlier.series_tier || '''', '')
        || ': ' || {{ phase_description('earlier') }} || ' overlaps ' || {{ phase_description('later') }} as failure
from tiered_phases as earlier
inner join tiered_phases as later
    on later.protocol_id = earlier.protocol_id
    and later.series_tier is not distinct from earlier.series_tier
    and later.phase_id <> earlier.phase_id
    and (later.start_date, later.phase_id) > (earlier.start_date, earlier.phase_id)
    and later.start_date <= coalesce(earlier.end_date, later.start_date)

{% endcall %}
