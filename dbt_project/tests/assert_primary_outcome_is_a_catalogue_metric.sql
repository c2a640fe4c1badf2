{% call explain_failures() %}

with

protocols as (

    select * from {{ ref('stg_experiment_protocols') }}

)

select
    protocol_id,
    protocol_name,
    primary_outcome,
    'protocol ' || protocol_id || ' (' || protocol_name || ') names primaryOutcome '
        || coalesce('''' || primary_outcome || '''', 'NULL')
        || ', which is not a metric of the catalogue ({{ metric_catalogue() | join(", ") }})' as failure
from protocols
where primary_outcome is null
    or primary_outcome not in ({{ sql_list(metric_catalogue()) }})

{% endcall %}
