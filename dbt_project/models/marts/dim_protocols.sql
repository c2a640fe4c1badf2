with

protocols as (

    select * from {{ ref('stg_experiment_protocols') }}

),

all_phases as (

    select * from {{ ref('stg_phase_assignments') }}

),

phases as (

    -- the phases of the protocol's series: all, or a MULTIPLE_BASELINE protocol's primary tier
    {{ protocol_series_phases() }}

),

protocol_days as (

    select * from {{ ref('int_protocol_days') }}

),

phase_days as (

    select phase_id, count(*) as observed_days
    from protocol_days
    where phase_id is not null
    group by phase_id

),

phase_summary as (

    select
        phases.protocol_id,
        count(*) as phase_count,
        count(*) filter (where phases.condition = 'A') as baseline_phase_count,
        count(*) filter (where phases.condition = 'B') as intervention_phase_count,
        count(*) filter (where phases.is_washout) as washout_phase_count,
        string_agg(coalesce(phases.condition, 'W'), '' order by phases.start_date, phases.phase_id) as phase_sequence,
        list(phases.phase_label order by phases.start_date, phases.phase_id) as phase_labels,
        list(coalesce(phase_days.observed_days, 0) order by phases.start_date, phases.phase_id) as phase_lengths,
        list(phases.planned_duration order by phases.start_date, phases.phase_id) as planned_phase_lengths,
        min(coalesce(phase_days.observed_days, 0)) as shortest_phase_days,
        sum(phases.planned_duration) as planned_duration_days,
        min(phases.start_date) filter (where phases.condition = 'B') as intervention_start_date,
        min(phases.randomization_seed) as randomization_seed
    from phases
    left join phase_days
        on phase_days.phase_id = phases.phase_id
    group by phases.protocol_id

),

tiers as (

    select protocol_id, count(distinct tier) as tier_count
    from all_phases
    group by protocol_id

),

series as (

    select protocol_id, max(series_end_date) as series_end_date
    from protocol_days
    group by protocol_id

),

final as (

    select
        protocols.protocol_id,
        protocols.user_id,
        protocols.protocol_name,
        protocols.design_type,
        protocols.primary_outcome,
        protocols.hypothesis,
        protocols.analysis_plan,
        protocols.confirmatory_analysis,
        protocols.registered_alternative,
        protocols.plan_alpha,
        protocols.max_consecutive,
        protocols.multiple_baseline_scheme,
        case when protocols.design_type = 'MULTIPLE_BASELINE' then coalesce(tiers.tier_count, 0) else 0 end
            as tier_count,
        protocols.start_date,
        protocols.end_date,
        protocols.end_date is null as is_ongoing,
        protocols.sample_size_target,
        phase_summary.planned_duration_days,
        protocols.end_date - protocols.start_date + 1 as scheduled_duration_days,
        series.series_end_date,
        coalesce(series.series_end_date - protocols.start_date + 1, 0) as actual_duration_days,
        coalesce(phase_summary.phase_count, 0) as phase_count,
        coalesce(phase_summary.baseline_phase_count, 0) as baseline_phase_count,
        coalesce(phase_summary.intervention_phase_count, 0) as intervention_phase_count,
        coalesce(phase_summary.washout_phase_count, 0) as washout_phase_count,
        phase_summary.phase_sequence,
        phase_summary.phase_labels,
        phase_summary.phase_lengths,
        phase_summary.planned_phase_lengths,
        protocols.min_phase_length,
        phase_summary.shortest_phase_days,
        phase_summary.shortest_phase_days >= protocols.min_phase_length as meets_min_phase_length,
        phase_summary.intervention_start_date,
        phase_summary.randomization_seed,
        protocols.deviation_count
    from protocols
    left join phase_summary
        on phase_summary.protocol_id = protocols.protocol_id
    left join series
        on series.protocol_id = protocols.protocol_id
    left join tiers
        on tiers.protocol_id = protocols.protocol_id

)

select * from final
