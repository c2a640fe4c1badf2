{# Reads two models: Dagster attaches the check to the protocol series (dagster-dbt's meta.dagster.ref). #}
{{ config(meta={'dagster': {'ref': {'name': 'fct_protocol_daily_outcomes'}}}) }}

{% call explain_failures() %}

with

outcomes as (

    select * from {{ ref('fct_protocol_daily_outcomes') }}

),

tier_outcomes as (

    select * from {{ ref('fct_protocol_tier_daily_outcomes') }}

),

series_days as (

    -- per (protocol, tier): each tier of a MULTIPLE_BASELINE protocol, and the one series (tier null) of every
    -- other protocol; the series of a MULTIPLE_BASELINE protocol is its primary tier's, so it is read from
    -- there, unless no tier measures the primary outcome (then the series itself has days in no phase)
    select protocol_id, cast(null as varchar) as tier, date, phase_id, phase_label
    from outcomes
    where not exists (
        select 1 from tier_outcomes
        where tier_outcomes.protocol_id = outcomes.protocol_id
            and tier_outcomes.tier_outcome = outcomes.primary_outcome
    )
    union all
    select protocol_id, tier, date, phase_id, phase_label
    from tier_outcomes

)

select
    protocol_id,
    tier,
    date,
    count(phase_id) as phase_count,
    'protocol ' || protocol_id || coalesce(' tier ''' || tier || '''', '') || ' on ' || date || ' is in '
        || count(phase_id) || ' phases'
        || coalesce(': ' || string_agg(phase_label || ' (' || phase_id || ')', ', ' order by phase_id), '')
        || ' (every protocol day must be in exactly one phase'
        || case when tier is null then ')' else ' of each tier)' end as failure
from series_days
group by protocol_id, tier, date
having count(*) <> 1 or count(phase_id) <> 1

{% endcall %}
