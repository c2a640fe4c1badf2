with

source as (

    select * from {{ source('raw', 'phase_assignments') }}

),

renamed as (

    select
        ---------- ids
        id as phase_id,
        "protocolId" as protocol_id,

        ---------- phase
        "phaseLabel" as phase_label,
        "phaseType" as phase_type,
        case "phaseType"
            when 'BASELINE' then 'A'
            when 'INTERVENTION_A' then 'B'
            when 'INTERVENTION_B' then 'B'
        end as condition,
        "phaseType" = 'WASHOUT' as is_washout,
        "plannedDuration" as planned_duration,
        "randomizationSeed" as randomization_seed,
        "interventionParams" as intervention_params,

        ---------- time
        "startDate" as started_at,
        "endDate" as ended_at,
        {{ local_date('"startDate"') }} as start_date,
        {{ local_date('"endDate"') }} as end_date

    from source

)

select * from renamed
