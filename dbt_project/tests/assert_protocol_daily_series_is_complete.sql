{{ config(meta={"dagster": {"ref": {"name": "fct_protocol_daily_outcomes"}}}) }}

{% call explain_failures() %}

with

outcomes as (

    select * from {{ ref('fct_protocol_daily_outcomes') }}

),

protocols as (

    select * from {{ ref('dim_protocols') }}

),

coverage as (

    select
        protocol_id,
        count(*) as n_rows,
        count(distinct date) as n_days,
        min(date) as first_date,
        max(date) as last_date
    from outcomes
    group by protocol_id

)

select
    protocols.protocol_id,
    coverage.n_rows,
    protocols.actual_duration_days,
    'protocol ' || protocols.protocol_id || ': ' || coalesce(coverage.n_rows, 0) || ' daily rows over '
        || coalesce(coverage.n_days, 0) || ' distinct days from ' || coalesce(cast(coverage.first_date as varchar), '-')
        || ' to ' || coalesce(cast(coverage.last_date as varchar), '-') || ', expected one row for each of the '
        || protocols.actual_duration_days || ' days from ' || protocols.start_date || ' to '
        || coalesce(cast(protocols.series_end_date as varchar), '-') as failure
from protocols
left join coverage
    on coverage.protocol_id = protocols.protocol_id
where protocols.actual_duration_days > 0 and (
    coverage.protocol_id is null
    or coverage.n_rows <> protocols.actual_duration_days
    or coverage.n_days <> coverage.n_rows
    or coverage.first_date <> protocols.start_date
    or coverage.last_date <> protocols.series_end_date
)

{% endcall %}
