with

user_days as (

    select * from {{ ref('int_user_days') }}

),

events as (

    select * from {{ ref('stg_behavioral_events') }}

),

daily_events as (

    select
        user_id,
        local_date as date,
        count(*) as event_count,
        count(*) filter (where event_type = 'SESSION_STARTED') as session_count,
        avg(engagement_score) filter (where event_type = 'SESSION_ENDED') as engagement_score,
        sum(duration_minutes) filter (where event_type = 'SESSION_ENDED') as study_minutes,
        count(*) filter (where event_type = 'MISSION_STARTED') as missions_started,
        count(*) filter (where event_type = 'MISSION_COMPLETED') as missions_completed,
        avg(session_performance_score) as mean_performance
    from events
    group by user_id, local_date

),

daily as (

    select
        user_days.user_id,
        user_days.date,
        coalesce(daily_events.event_count, 0) as event_count,
        coalesce(daily_events.session_count, 0) as session_count,
        daily_events.engagement_score,
        coalesce(daily_events.study_minutes, 0) as study_minutes,
        coalesce(daily_events.missions_started, 0) as missions_started,
        coalesce(daily_events.missions_completed, 0) as missions_completed,
        cast(daily_events.missions_completed as double)
            / nullif(daily_events.missions_started, 0) as completion_rate,
        daily_events.mean_performance
    from user_days
    left join daily_events
        on daily_events.user_id = user_days.user_id
        and daily_events.date = user_days.date

),

streak_groups as (

    -- gaps and islands: every day without a session starts a new group
    select
        *,
        count(*) filter (where session_count = 0) over (
            partition by user_id order by date rows between unbounded preceding and current row
        ) as streak_group
    from daily

),

final as (

    select
        user_id,
        date,
        engagement_score,
        session_count,
        study_minutes,
        completion_rate,
        mean_performance,
        case when session_count > 0 then count(*) filter (where session_count > 0) over (
            partition by user_id, streak_group order by date rows between unbounded preceding and current row
        ) else 0 end as streak_days,
        event_count,
        missions_started,
        missions_completed
    from streak_groups

)

select * from final
order by user_id, date
