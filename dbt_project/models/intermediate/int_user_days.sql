with

observed_days as (

    select user_id, local_date as date from {{ ref('stg_behavioral_events') }}
    union all
    select user_id, local_date as date from {{ ref('stg_context_metadata') }}
    union all
    select user_id, date from {{ ref('int_protocol_days') }}

),

user_ranges as (

    select user_id, min(date) as first_date, max(date) as last_date
    from observed_days
    group by user_id

),

user_days as (

    select
        user_id,
        cast(unnest(generate_series(first_date, last_date, interval 1 day)) as date) as date
    from user_ranges

)

select * from user_days
