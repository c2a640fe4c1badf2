{% set measurements = ['sleep_hours', 'sleep_quality', 'hrv_score', 'resting_heart_rate', 'activity_strain',
                        'steps'] %}

with

user_days as (

    select * from {{ ref('int_user_days') }}

),

context as (

    select * from {{ ref('stg_context_metadata') }}

),

-- one row per user, day and source: the mean of that source's entries of the day
per_source as (

    select
        user_id,
        local_date,
        source,
        list_position([{{ sql_list(var('context_source_priority')) }}], source) as source_rank,
        count(*) as entries,
        {% for column in measurements %}
        avg({{ column }}) as {{ column }}{{ "," if not loop.last }}
        {% endfor %}
    from context
    group by user_id, local_date, source

),

self_reports as (

    select
        user_id,
        local_date as date,
        count(*) as context_entries,
        arg_max(mood, recorded_at) as mood,
        avg(mood_score) as mood_score,
        avg(energy_level) as energy_level,
        arg_max(location, recorded_at) as location
    from context
    where source = 'SELF_REPORT'
    group by user_id, local_date

),

-- each measurement from the first source of var context_source_priority that has it that day
measured as (

    select
        user_id,
        local_date as date,
        sum(entries) filter (where source <> 'SELF_REPORT') as imported_entries,
        {% for column in measurements %}
        arg_min({{ column }}, source_rank) filter (where {{ column }} is not null) as {{ column }},
        arg_min(source, source_rank) filter (where {{ column }} is not null) as {{ column }}_source
        {{- "," if not loop.last }}
        {% endfor %}
    from per_source
    group by user_id, local_date

),

final as (

    select
        user_days.user_id,
        user_days.date,
        coalesce(self_reports.context_entries, 0) as context_entries,
        coalesce(measured.imported_entries, 0) as imported_entries,
        self_reports.mood,
        self_reports.mood_score,
        self_reports.energy_level,
        measured.sleep_hours,
        measured.sleep_hours_source,
        measured.sleep_quality,
        measured.sleep_quality_source,
        measured.hrv_score,
        measured.hrv_score_source,
        case measured.hrv_score_source
            when 'APPLE_HEALTH' then 'SDNN' when 'OURA' then 'RMSSD' when 'WHOOP' then 'RMSSD'
        end as hrv_method,
        measured.resting_heart_rate,
        measured.resting_heart_rate_source,
        measured.activity_strain,
        measured.activity_strain_source,
        measured.steps,
        measured.steps_source,
        self_reports.location
    from user_days
    left join self_reports
        on self_reports.user_id = user_days.user_id
        and self_reports.date = user_days.date
    left join measured
        on measured.user_id = user_days.user_id
        and measured.date = user_days.date

)

select * from final
order by user_id, date
