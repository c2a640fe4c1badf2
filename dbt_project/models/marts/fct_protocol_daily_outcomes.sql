with

protocol_days as (

    select * from {{ ref('int_protocol_days') }}

),

protocols as (

    select * from {{ ref('stg_experiment_protocols') }}

),

daily_metrics as (

    select * from {{ ref('fct_daily_user_metrics') }}

),

final as (

    select
        protocol_days.protocol_id,
        protocol_days.user_id,
        protocol_days.date,
        protocol_days.protocol_day_index,
        protocol_days.phase_id,
        protocol_days.phase_label,
        protocol_days.phase_type,
        protocol_days.phase_number,
        protocol_days.condition,
        protocol_days.is_washout,
        protocol_days.day_index_in_phase,
        protocol_days.criterion,
        protocols.primary_outcome,
        case protocols.primary_outcome
            {%- for metric in metric_catalogue() %}
            when '{{ metric }}' then cast(daily_metrics.{{ metric }} as double)
            {%- endfor %}
        end as primary_outcome_value,
        {%- for metric in metric_catalogue() %}
        daily_metrics.{{ metric }}{{ "," if not loop.last }}
        {%- endfor %}
    from protocol_days
    inner join protocols
        on protocols.protocol_id = protocol_days.protocol_id
    left join daily_metrics
        on daily_metrics.user_id = protocol_days.user_id
        and daily_metrics.date = protocol_days.date

)

select * from final
order by protocol_id, date
