with

source as (

    select * from {{ source('raw', 'experiment_protocols') }}

),

renamed as (

    select
        ---------- ids
        id as protocol_id,
        "userId" as user_id,

        ---------- design
        "protocolName" as protocol_name,
        hypothesis,
        "designType" as design_type,
        "primaryOutcome" as primary_outcome,
        "sampleSizeTarget" as sample_size_target,
        "minPhaseLength" as min_phase_length,
        "analysisPlan" as analysis_plan,
        case when json_valid("analysisPlan") then json_extract_string("analysisPlan", '$.confirmatory') end
            as confirmatory_analysis,
        case when json_valid("analysisPlan") then json_extract_string("analysisPlan", '$.alternative') end
            as registered_alternative,
        case when json_valid("analysisPlan") then try_cast(json_extract("analysisPlan", '$.alpha') as double) end
            as plan_alpha,
        deviations,
        json_array_length(deviations) as deviation_count,

        ---------- time
        "startDate" as started_at,
        "endDate" as ended_at,
        {{ local_date('"startDate"') }} as start_date,
        {{ local_date('"endDate"') }} as end_date,

        ---------- CONSORT-style flow counts
        screened,
        eligible,
        enrolled,
        completed

    from source

)

select * from renamed
