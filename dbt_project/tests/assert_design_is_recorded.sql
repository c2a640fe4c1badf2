{# Reads two models: Dagster attaches the check to the phases (dagster-dbt's meta.dagster.ref). #}
{{ config(meta={'dagster': {'ref': {'name': 'stg_phase_assignments'}}}) }}

{#
  The recording convention of the four designs (docs/DESIGNS.md): one row per broken rule, `rule` a short name,
  `failure` naming the protocol, its design, the phase (where the rule is about one) and what is wrong.
#}

{% set interventions = "('INTERVENTION_A', 'INTERVENTION_B')" %}
{% set schemes = var('analysis_plan')['multiple_baseline_schemes'] %}

{% call explain_failures() %}

with

protocols as (

    select * from {{ ref('stg_experiment_protocols') }}

),

phases as (

    select * from {{ ref('stg_phase_assignments') }}

),

designed_phases as (

    -- every phase with its protocol's design, what its interventionParams record whether or not it parses, and
    -- its place in the protocol (all phases, by start)
    select
        phases.*,
        protocols.design_type,
        protocols.primary_outcome,
        protocols.end_date as protocol_end_date,
        protocols.max_consecutive,
        case when json_valid(phases.intervention_params)
            then json_extract_string(phases.intervention_params, '$.criterion') end as recorded_criterion,
        case when json_valid(phases.intervention_params)
            then json_extract_string(phases.intervention_params, '$.startWindow') end as recorded_start_window,
        row_number() over protocol_order as phase_number,
        lag(phases.phase_id) over protocol_order as previous_phase_id,
        lag(phases.phase_label) over protocol_order as previous_phase_label,
        lag(phases.criterion) over protocol_order as previous_criterion
    from phases
    inner join protocols
        on protocols.protocol_id = phases.protocol_id
    window protocol_order as (partition by phases.protocol_id order by phases.start_date, phases.phase_id)

),

plans as (

    -- what each analysis plan records, whether or not it parses
    select
        protocols.*,
        case when json_valid(analysis_plan) then cast(json_extract(analysis_plan, '$.maxConsecutive') as varchar) end
            as recorded_max_consecutive,
        case when json_valid(analysis_plan) then json_exists(analysis_plan, '$.multipleBaselineScheme') else false end
            as has_multiple_baseline_scheme_key
    from protocols

),

---------- MULTIPLE_BASELINE

tier_phases as (

    select * from designed_phases
    where design_type = 'MULTIPLE_BASELINE' and tier is not null

),

tiers as (

    select
        protocol_id,
        tier,
        count(*) as n_phases,
        count(*) filter (where phase_type = 'BASELINE') as n_baselines,
        count(*) filter (where phase_type in {{ interventions }}) as n_interventions,
        min(start_date) filter (where phase_type = 'BASELINE') as baseline_start_date,
        min(start_date) filter (where phase_type in {{ interventions }}) as intervention_start_date,
        count(distinct tier_outcome) as n_outcomes,
        string_agg(distinct tier_outcome, ', ' order by tier_outcome) as outcomes,
        string_agg(phase_label || ' (' || phase_type || ', ' || phase_id || ', ' || start_date || ')', ', '
            order by start_date, phase_id) as phase_list
    from tier_phases
    group by protocol_id, tier

),

tier_outcomes as (

    select distinct protocol_id, tier, tier_outcome
    from tier_phases
    where tier_outcome is not null

),

shared_outcomes as (

    select
        protocol_id,
        tier_outcome,
        string_agg('''' || tier || '''', ', ' order by tier) as tier_list
    from tier_outcomes
    group by protocol_id, tier_outcome
    having count(*) > 1

),

primary_tiers as (

    select
        protocols.protocol_id,
        protocols.primary_outcome,
        count(tier_outcomes.tier) as n_primary_tiers,
        string_agg('''' || tier_outcomes.tier || '''', ', ' order by tier_outcomes.tier) as tier_list
    from protocols
    left join tier_outcomes
        on tier_outcomes.protocol_id = protocols.protocol_id
        and tier_outcomes.tier_outcome = protocols.primary_outcome
    where protocols.design_type = 'MULTIPLE_BASELINE'
    group by protocols.protocol_id, protocols.primary_outcome

),

---------- ALTERNATING

alternating_phases as (

    -- an open phase lasts until its protocol's end (or its first day while both are open)
    select
        *,
        coalesce(end_date, protocol_end_date, start_date) as last_date
    from designed_phases
    where design_type = 'ALTERNATING'

),

alternating_steps as (

    select
        *,
        lag(condition) over protocol_order as previous_condition,
        lag(last_date) over protocol_order as previous_last_date
    from alternating_phases
    window protocol_order as (partition by protocol_id order by start_date, phase_id)

),

alternating_runs as (

    -- a run of days with one condition: a phase, merged with the next while that one has the same condition and
    -- starts the day after it ends (a washout, with no condition, ends every run)
    select
        *,
        sum(case when condition = previous_condition and start_date = previous_last_date + 1 then 0 else 1 end)
            over (
                partition by protocol_id order by start_date, phase_id
                rows between unbounded preceding and current row
            ) as run_number
    from alternating_steps

),

runs as (

    select
        protocol_id,
        run_number,
        any_value(condition) as condition,
        any_value(max_consecutive) as max_consecutive,
        first(phase_id order by start_date, phase_id) as phase_id,
        first(phase_label order by start_date, phase_id) as phase_label,
        first(start_date order by start_date, phase_id) as start_date,
        first(end_date order by start_date, phase_id) as end_date,
        min(start_date) as run_start_date,
        max(last_date) as run_last_date,
        max(last_date) - min(start_date) + 1 as run_days,
        string_agg(phase_label || ' (' || phase_id || ')', ', ' order by start_date, phase_id) as phase_list
    from alternating_runs
    where condition is not null
    group by protocol_id, run_number

),

---------- the failures, one row per broken rule

failures as (

    -- MULTIPLE_BASELINE: every phase names its tier and the catalogue metric the tier measures
    select protocol_id, phase_id, phase_label, start_date, end_date, 'tier_missing' as rule,
        'records no tier (interventionParams "tier"): every MULTIPLE_BASELINE phase names its tier' as problem
    from designed_phases
    where design_type = 'MULTIPLE_BASELINE' and tier is null

    union all

    select protocol_id, phase_id, phase_label, start_date, end_date, 'tier_outcome_missing',
        'records no outcome (interventionParams "outcome"): every MULTIPLE_BASELINE phase names the catalogue '
            || 'metric its tier measures'
    from designed_phases
    where design_type = 'MULTIPLE_BASELINE' and tier_outcome is null

    union all

    select protocol_id, phase_id, phase_label, start_date, end_date, 'tier_outcome_not_in_catalogue',
        'names the outcome ''' || tier_outcome || ''' for tier ' || coalesce('''' || tier || '''', 'NULL')
            || ', which is not a metric of the catalogue ({{ metric_catalogue() | join(", ") }})'
    from designed_phases
    where design_type = 'MULTIPLE_BASELINE'
        and tier_outcome not in ({{ sql_list(metric_catalogue()) }})

    union all

    select protocol_id, null, null, null, null, 'tier_outcome_inconsistent',
        'tier ''' || tier || ''' names ' || n_outcomes || ' outcomes (' || outcomes || ') on its phases '
            || phase_list || ': a tier measures one outcome'
    from tiers
    where n_outcomes > 1

    union all

    -- the tiers' outcomes are distinct
    select protocol_id, null, null, null, null, 'tier_outcomes_not_distinct',
        'tiers ' || tier_list || ' all measure the outcome ''' || tier_outcome || ''': each tier measures its own'
    from shared_outcomes

    union all

    -- exactly one tier (the primary tier) measures the protocol's primary outcome
    select protocol_id, null, null, null, null, 'primary_tier',
        case when n_primary_tiers = 0
            then 'no tier measures the primary outcome ''' || primary_outcome || ''''
            else n_primary_tiers || ' tiers (' || tier_list || ') measure the primary outcome '''
                || primary_outcome || ''''
        end || ': exactly one tier, the primary tier, must'
    from primary_tiers
    where n_primary_tiers <> 1

    union all

    -- every tier: one BASELINE phase, then one INTERVENTION_A/B phase
    select protocol_id, null, null, null, null, 'tier_phases',
        'tier ''' || tier || ''' has the phases ' || phase_list
            || ': each tier is one BASELINE phase followed by one INTERVENTION_A or INTERVENTION_B phase'
    from tiers
    where n_phases <> 2
        or n_baselines <> 1
        or n_interventions <> 1
        or baseline_start_date >= intervention_start_date

    union all

    -- a tier's intervention records the window its start was drawn from, and starts within it
    select protocol_id, phase_id, phase_label, start_date, end_date, 'start_window',
        case when start_window_earliest is null or start_window_latest is null
            then 'records no startWindow of two dates (interventionParams "startWindow": ["YYYY-MM-DD", '
                || '"YYYY-MM-DD"], the days the tier''s start was drawn from)'
                || coalesce(', got ' || recorded_start_window, '')
            else 'starts on ' || start_date || ', outside its startWindow ' || start_window_earliest || ' .. '
                || start_window_latest
        end
    from designed_phases
    where design_type = 'MULTIPLE_BASELINE'
        and phase_type in {{ interventions }}
        and not coalesce(start_date between start_window_earliest and start_window_latest, false)

    union all

    select protocol_id, null, null, null, null, 'multiple_baseline_scheme',
        case when multiple_baseline_scheme is null
            then 'the analysisPlan has no multipleBaselineScheme'
            else 'the analysisPlan''s multipleBaselineScheme ''' || multiple_baseline_scheme || ''' is not a scheme'
        end || ' (required for MULTIPLE_BASELINE: {{ schemes | join(", ") }})'
    from protocols
    where design_type = 'MULTIPLE_BASELINE'
        and (multiple_baseline_scheme is null or multiple_baseline_scheme not in ({{ sql_list(schemes) }}))

    union all

    -- ALTERNATING: the plan registers the run limit (maxConsecutive, null for a completely randomized order)
    select protocol_id, null, null, null, null, 'max_consecutive_missing',
        'the analysisPlan has no maxConsecutive (required for ALTERNATING: the registered run limit, an integer '
            || '>= 1, or null for a completely randomized order)'
    from protocols
    where design_type = 'ALTERNATING' and not has_max_consecutive_key

    union all

    select protocol_id, null, null, null, null, 'max_consecutive_invalid',
        'the analysisPlan''s maxConsecutive ' || recorded_max_consecutive
            || ' is not a whole number >= 1 (or null for a completely randomized order)'
    from plans
    where design_type = 'ALTERNATING'
        and recorded_max_consecutive is not null
        and recorded_max_consecutive <> 'null'
        and coalesce(max_consecutive < 1, true)

    union all

    -- no run of consecutive days with one condition longer than the limit
    select protocol_id, phase_id, phase_label, start_date, end_date, 'max_consecutive_exceeded',
        'begins a run of ' || run_days || ' consecutive days of condition ' || condition || ' ('
            || run_start_date || ' .. ' || run_last_date || ': ' || phase_list || '), longer than maxConsecutive '
            || max_consecutive
    from runs
    where run_days > max_consecutive

    union all

    -- CHANGING_CRITERION: a BASELINE phase without criterion first, then intervention phases with criteria
    select protocol_id, phase_id, phase_label, start_date, end_date, 'criterion_baseline',
        case when phase_type <> 'BASELINE'
            then 'is the first phase, of type ' || phase_type || ': a CHANGING_CRITERION protocol starts with a '
                || 'BASELINE phase'
            else 'is the baseline but records the criterion ' || recorded_criterion || ': the baseline has none'
        end
    from designed_phases
    where design_type = 'CHANGING_CRITERION'
        and phase_number = 1
        and (phase_type <> 'BASELINE' or recorded_criterion is not null)

    union all

    select protocol_id, phase_id, phase_label, start_date, end_date, 'criterion_phase_type',
        'is of type ' || phase_type || ' after the first phase: after its baseline a CHANGING_CRITERION protocol '
            || 'has INTERVENTION_A/B phases only'
    from designed_phases
    where design_type = 'CHANGING_CRITERION'
        and phase_number > 1
        and phase_type not in {{ interventions }}

    union all

    select protocol_id, phase_id, phase_label, start_date, end_date, 'criterion_missing',
        case when recorded_criterion is null
            then 'records no criterion (interventionParams "criterion": the level the behaviour should meet)'
            else 'records the criterion ''' || recorded_criterion || ''', which is not a number'
        end || ': every CHANGING_CRITERION intervention phase has one'
    from designed_phases
    where design_type = 'CHANGING_CRITERION'
        and phase_type in {{ interventions }}
        and criterion is null

    union all

    select protocol_id, phase_id, phase_label, start_date, end_date, 'criterion_repeated',
        'has the criterion ' || criterion || ' of the phase before it, ' || previous_phase_label || ' ('
            || previous_phase_id || '): adjacent criteria differ'
    from designed_phases
    where design_type = 'CHANGING_CRITERION'
        and criterion = previous_criterion

    union all

    -- every design: the keys of another design are refused, so a mistyped designType cannot pass unnoticed
    select protocol_id, phase_id, phase_label, start_date, end_date, 'tier_on_other_design',
        'records the tier ''' || tier || ''', which only MULTIPLE_BASELINE phases carry'
    from designed_phases
    where design_type <> 'MULTIPLE_BASELINE' and tier is not null

    union all

    select protocol_id, phase_id, phase_label, start_date, end_date, 'criterion_on_other_design',
        'records the criterion ' || recorded_criterion || ', which only CHANGING_CRITERION phases carry'
    from designed_phases
    where design_type <> 'CHANGING_CRITERION' and recorded_criterion is not null

    union all

    select protocol_id, phase_id, phase_label, start_date, end_date, 'start_window_on_other_design',
        'records the startWindow ' || recorded_start_window || ', which only MULTIPLE_BASELINE phases carry'
    from designed_phases
    where design_type <> 'MULTIPLE_BASELINE' and recorded_start_window is not null

    union all

    select protocol_id, null, null, null, null, 'plan_key_of_other_design',
        'the analysisPlan holds maxConsecutive, which only ALTERNATING protocols register'
    from plans
    where design_type <> 'ALTERNATING' and has_max_consecutive_key

    union all

    select protocol_id, null, null, null, null, 'plan_key_of_other_design',
        'the analysisPlan holds multipleBaselineScheme, which only MULTIPLE_BASELINE protocols register'
    from plans
    where design_type <> 'MULTIPLE_BASELINE' and has_multiple_baseline_scheme_key

)

select
    failures.protocol_id,
    protocols.design_type,
    failures.phase_id,
    failures.phase_label,
    failures.rule,
    'protocol ' || failures.protocol_id || ' (' || protocols.design_type || '): '
        || coalesce({{ phase_description('failures') }} || ' ', '') || failures.problem
        || ' [' || failures.rule || ']' as failure
from failures
inner join protocols
    on protocols.protocol_id = failures.protocol_id

{% endcall %}
