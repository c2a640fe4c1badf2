with

source as (

    select * from {{ source('raw', 'context_metadata') }}

),

renamed as (

    select
        ---------- ids
        id as context_id,
        "userId" as user_id,

        ---------- self-report
        mood,
        case mood when 'LOW' then 1 when 'MEDIUM' then 2 when 'HIGH' then 3 end as mood_score,
        "energyLevel" as energy_level,
        location,
        notes,

        ---------- sleep and wearable
        "sleepHours" as sleep_hours,
        "sleepQuality" as sleep_quality,
        "hrvScore" as hrv_score,
        "restingHeartRate" as resting_heart_rate,
        "activityStrain" as activity_strain,
        steps,

        ---------- where it came from
        cast(source as varchar) as source,
        "externalId" as external_id,

        ---------- time: an imported row names its user's day; a self-report is dated by its instant
        "timestamp" as recorded_at,
        coalesce("localDate", {{ local_date('"timestamp"') }}) as local_date

    from source

)

select * from renamed
