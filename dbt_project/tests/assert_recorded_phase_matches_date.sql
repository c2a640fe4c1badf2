{{ config(severity="warn") }}

{% call explain_failures() %}

with

events as (

    select * from {{ ref('int_events_in_phases') }}

)

select
    user_id,
    local_date,
    recorded_phase_label,
    'user ' || user_id || ' on ' || local_date || ': ' || count(distinct event_id) || ' events carry experimentPhase '''
        || recorded_phase_label || ''' but the phase schedule puts the day in '
        || coalesce(string_agg(distinct phase_label, ', '), 'no phase') as failure
from events
where recorded_phase_label is not null
group by user_id, local_date, recorded_phase_label
having not coalesce(bool_or(phase_label = recorded_phase_label), false)

{% endcall %}
