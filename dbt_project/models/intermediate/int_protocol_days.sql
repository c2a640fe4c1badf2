with

protocols as (

    select * from {{ ref('stg_experiment_protocols') }}

),

series_phases as (

    -- all phases, or a MULTIPLE_BASELINE protocol's primary tier (macros/protocol_series_phases.sql)
    {{ protocol_series_phases() }}

),

phases as (

    select
        *,
        row_number() over (partition by protocol_id order by start_date, phase_id) as phase_number
    from series_phases

),

observed_days as (

    select local_date from {{ ref('stg_behavioral_events') }}
    union all
    select local_date from {{ ref('stg_context_metadata') }}

),

snapshot as (

    select max(local_date) as observed_until from observed_days

),

protocol_series as (

    -- a protocol's daily series runs from its first day to its last, or to the snapshot's last observed day
    -- while it is ongoing (or registered beyond the data): no rows for days that have not happened yet
    select
        protocols.protocol_id,
        protocols.user_id,
        protocols.start_date as protocol_start_date,
        least(coalesce(protocols.end_date, snapshot.observed_until), snapshot.observed_until) as series_end_date
    from protocols
    cross join snapshot

),

protocol_days as (

    select
        *,
        cast(unnest(generate_series(protocol_start_date, series_end_date, interval 1 day)) as date) as date
    from protocol_series

),

days_in_phases as (

    select
        protocol_days.protocol_id,
        protocol_days.user_id,
        protocol_days.date,
        protocol_days.date - protocol_days.protocol_start_date + 1 as protocol_day_index,
        protocol_days.series_end_date,
        phases.phase_id,
        phases.phase_label,
        phases.phase_type,
        phases.phase_number,
        phases.condition,
        coalesce(phases.is_washout, false) as is_washout,
        protocol_days.date - phases.start_date + 1 as day_index_in_phase,
        phases.criterion
    from protocol_days
    left join phases
        on phases.protocol_id = protocol_days.protocol_id
        and protocol_days.date between phases.start_date and coalesce(phases.end_date, protocol_days.date)

)

select * from days_in_phases
