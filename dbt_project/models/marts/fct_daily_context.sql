with

user_days as (

    select * from {{ ref('int_user_days') }}

),

context as (

    select * from {{ ref('stg_context_metadata') }}

),

daily_context as (

    select
        user_id,
        local_date as date,
        count(*) as context_entries,
        arg_max(mood, recorded_at) as mood,
        avg(mood_score) as mood_score,
        avg(energy_level) as energy_level,
        avg(sleep_hours) as sleep_hours,
        avg(sleep_quality) as sleep_quality,
        avg(hrv_score) as hrv_score,
        avg(resting_heart_rate) as resting_heart_rate,
        avg(activity_strain) as activity_strain,
        arg_max(location, recorded_at) as location
    from context
    group by user_id, local_date

),

final as (

    select
        user_days.user_id,
        user_days.date,
        coalesce(daily_context.context_entries, 0) as context_entries,
        daily_context.mood,
        daily_context.mood_score,
        daily_context.energy_level,
        daily_context.sleep_hours,
        daily_context.sleep_quality,
        daily_context.hrv_score,
        daily_context.resting_heart_rate,
        daily_context.activity_strain,
        daily_context.location
    from user_days
    left join daily_context
        on daily_context.user_id = user_days.user_id
        and daily_context.date = user_days.date

)

select * from final
order by user_id, date
