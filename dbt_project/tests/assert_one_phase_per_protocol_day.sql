{% call explain_failures() %}

with

outcomes as (

    select * from {{ ref('fct_protocol_daily_outcomes') }}

)

select
    protocol_id,
    date,
    count(phase_id) as phase_count,
    'protocol ' || protocol_id || ' on ' || date || ' is in ' || count(phase_id) || ' phases'
        || coalesce(': ' || string_agg(phase_label || ' (' || phase_id || ')', ', ' order by phase_id), '')
        || ' (every protocol day must be in exactly one phase)' as failure
from outcomes
group by protocol_id, date
having count(*) <> 1 or count(phase_id) <> 1

{% endcall %}
