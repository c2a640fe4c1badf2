{% call explain_failures() %}

with

phases as (

    select * from {{ ref('stg_phase_assignments') }}

)

select
    earlier.protocol_id,
    earlier.phase_id as phase_id,
    later.phase_id as overlapping_phase_id,
    'protocol ' || earlier.protocol_id || ': ' || {{ phase_description('earlier') }} || ' overlaps '
        || {{ phase_description('later') }} as failure
from phases as earlier
inner join phases as later
    on later.protocol_id = earlier.protocol_id
    and later.phase_id <> earlier.phase_id
    and (later.start_date, later.phase_id) > (earlier.start_date, earlier.phase_id)
    and later.start_date <= coalesce(earlier.end_date, later.start_date)

{% endcall %}
