{#
  The grain test for multi-column keys (dbt core's `unique` takes one column): every combination of
  `columns` appears at most once. Failing rows show the duplicated key and how often it occurs.
#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(", ") }},
    count(*) as n_rows
from {{ model }}
group by {{ columns | join(", ") }}
having count(*) > 1

{% endtest %}
