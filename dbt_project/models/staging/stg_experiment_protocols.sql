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
        -- a whole JSON number only (2.5 or "2" would otherwise be cast silently); anything else stays null
        case when json_valid("analysisPlan") then
            case when json_type("analysisPlan", '$.maxConsecutive') in ('UBIGINT', 'BIGINT')
                then try_cast(json_extract_string("analysisPlan", '$.maxConsecutive') as integer) end
        end as max_consecutive,
        case when json_valid("analysisPlan") then json_exists("analysisPlan", '$.maxConsecutive') else false end
            as has_max_consecutive_key,
        case when json_valid("analysisPlan") then json_extract_string("analysisPlan", '$.multipleBaselineScheme') end
            as multiple_baseline_scheme,
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
