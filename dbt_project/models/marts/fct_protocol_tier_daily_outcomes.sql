with

protocols as (

    select * from {{ ref('stg_experiment_protocols') }}

),

phases as (

    select * from {{ ref('stg_phase_assignments') }}

),

protocol_days as (

    select * from {{ ref('int_protocol_days') }}

),

daily_metrics as (

    select * from {{ ref('fct_daily_user_metrics') }}

),

tier_phases as (

    select phases.*
    from phases
    inner join protocols
        on protocols.protocol_id = phases.protocol_id
    where protocols.design_type = 'MULTIPLE_BASELINE'
        and phases.tier is not null

),

tiers as (

    -- one row per tier: its outcome, its intervention (B) phase's first day and recorded start window
    select
        protocol_id,
        tier,
        min(tier_outcome) as tier_outcome,
        min(start_date) filter (where condition = 'B') as tier_start_date,
        min(start_window_earliest) filter (where condition = 'B') as start_window_earliest,
        min(start_window_latest) filter (where condition = 'B') as start_window_latest
    from tier_phases
    group by protocol_id, tier

),

numbered_tiers as (

    select
        *,
        row_number() over (partition by protocol_id order by tier_start_date nulls last, tier) as tier_number
    from tiers

),

series_days as (

    -- the protocol's daily series (one row per day, whatever its primary tier's phases)
    select distinct protocol_id, user_id, date, protocol_day_index
    from protocol_days

),

tier_days as (

    select
        series_days.protocol_id,
        series_days.user_id,
        numbered_tiers.tier,
        numbered_tiers.tier_outcome,
        numbered_tiers.tier_number,
        series_days.date,
        series_days.protocol_day_index,
        tier_phases.phase_id,
        tier_phases.phase_label,
        tier_phases.phase_type,
        tier_phases.condition,
        numbered_tiers.tier_start_date,
        numbered_tiers.start_window_earliest,
        numbered_tiers.start_window_latest
    from numbered_tiers
    inner join series_days
        on series_days.protocol_id = numbered_tiers.protocol_id
    left join tier_phases
        on tier_phases.protocol_id = numbered_tiers.protocol_id
        and tier_phases.tier = numbered_tiers.tier
        and series_days.date between tier_phases.start_date and coalesce(tier_phases.end_date, series_days.date)

),

final as (

    select
        tier_days.*,
        case tier_days.tier_outcome
            {%- for metric in metric_catalogue() %}
            when '{{ metric }}' then cast(daily_metrics.{{ metric }} as double)
            {%- endfor %}
        end as outcome_value
    from tier_days
    left join daily_metrics
        on daily_metrics.user_id = tier_days.user_id
        and daily_metrics.date = tier_days.date

)

select * from final
order by protocol_id, tier_number, date
