{% call explain_failures() %}

with

daily as (

    select * from {{ ref('fct_daily_user_metrics') }}

),

steps as (

    select
        user_id,
        date,
        lead(date) over (partition by user_id order by date) as next_date
    from daily

)

select
    user_id,
    date,
    next_date,
    'user ' || user_id || ': the daily series jumps from ' || date || ' to ' || next_date
        || ' (' || (next_date - date - 1) || ' missing or ' || (next_date = date) || ' duplicated days)' as failure
from steps
where next_date <> date + 1

{% endcall %}
