{{ config(materialized="view") }}

with

events as (

    select * from {{ ref('stg_behavioral_events') }}

),

protocol_days as (

    select * from {{ ref('int_protocol_days') }}

),

events_in_phases as (

    select
        events.event_id,
        events.user_id,
        events.event_type,
        events.occurred_at,
        events.local_date,
        events.session_id,
        events.recorded_phase_label,
        protocol_days.protocol_id,
        protocol_days.phase_id,
        protocol_days.phase_label,
        protocol_days.phase_type,
        protocol_days.phase_number,
        protocol_days.condition,
        protocol_days.is_washout,
        protocol_days.day_index_in_phase
    from events
    left join protocol_days
        on protocol_days.user_id = events.user_id
        and protocol_days.date = events.local_date

)

select * from events_in_phases
