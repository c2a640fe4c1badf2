with

source as (

    select * from {{ source('raw', 'behavioral_events') }}

),

renamed as (

    select
        ---------- ids
        id as event_id,
        "userId" as user_id,
        "contextMetadataId" as context_metadata_id,
        json_extract_string("eventData", '$.sessionId') as session_id,

        ---------- event
        "eventType" as event_type,
        "completionQuality" as completion_quality,
        "contentType" as content_type,
        "difficultyLevel" as difficulty_level,
        "engagementLevel" as engagement_level,
        "sessionPerformanceScore" as session_performance_score,
        try_cast(json_extract_string("eventData", '$.durationMinutes') as double) as duration_minutes,
        try_cast(json_extract_string("eventData", '$.engagementScore') as double) as engagement_score,
        "eventData" as event_data,

        ---------- phase as recorded by the app
        "experimentPhase" as recorded_phase_label,
        "randomizationSeed" as randomization_seed,

        ---------- time
        "timestamp" as occurred_at,
        {{ local_date('"timestamp"') }} as local_date,
        "dayOfWeek" as utc_day_of_week,
        "timeOfDay" as utc_hour_of_day

    from source

)

select * from renamed
order by user_id, occurred_at
