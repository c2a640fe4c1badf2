{#
  How a failing phase is named in the explanations of the phase tests: "phase <label> (<id>, <start> .. <end>)",
  "ongoing" for an open end. One definition, so every test names a phase the same way. `relation` is the alias
  (or CTE) holding phase_label, phase_id, start_date and end_date.
#}
{% macro phase_description(relation) -%}
    'phase ' || {{ relation }}.phase_label || ' (' || {{ relation }}.phase_id || ', ' || {{ relation }}.start_date
        || ' .. ' || coalesce(cast({{ relation }}.end_date as varchar), 'ongoing') || ')'
{%- endmacro %}
