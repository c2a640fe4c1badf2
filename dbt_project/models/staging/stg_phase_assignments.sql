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

        ---------- design parameters of the row (interventionParams, docs/DESIGNS.md)
        case when json_valid("interventionParams") then json_extract_string("interventionParams", '$.tier') end
            as tier,
        case when json_valid("interventionParams") then json_extract_string("interventionParams", '$.outcome') end
            as tier_outcome,
        case when json_valid("interventionParams")
            then try_cast(json_extract_string("interventionParams", '$.criterion') as double) end as criterion,
        case when json_valid("interventionParams")
            then try_cast(json_extract_string("interventionParams", '$.startWindow[0]') as date) end
            as start_window_earliest,
        case when json_valid("interventionParams")
            then try_cast(json_extract_string("interventionParams", '$.startWindow[1]') as date) end
            as start_window_latest,

        ---------- time
        "startDate" as started_at,
        "endDate" as ended_at,
        {{ local_date('"startDate"') }} as start_date,
        {{ local_date('"endDate"') }} as end_date

    from source

)

select * from renamed
