{% call explain_failures() %}

with

phases as (

    select * from {{ ref('stg_phase_assignments') }}

)

select
    earlier.protocol_id,
    earlier.phase_id as phase_id,
    later.phase_id as overlapping_phase_id,
    'protocol ' || earlier.protocol_id || ': phase ' || earlier.phase_label || ' (' || earlier.phase_id || ', '
        || earlier.start_date || ' .. ' || coalesce(cast(earlier.end_date as varchar), 'ongoing')
        || ') overlaps phase ' || later.phase_label || ' (' || later.phase_id || ', '
        || later.start_date || ' .. ' || coalesce(cast(later.end_date as varchar), 'ongoing') || ')' as failure
from phases as earlier
inner join phases as later
    on later.protocol_id = earlier.protocol_id
    and later.phase_id <> earlier.phase_id
    and (later.start_date, later.phase_id) > (earlier.start_date, earlier.phase_id)
    and later.start_date <= coalesce(earlier.end_date, later.start_date)

{% endcall %}
