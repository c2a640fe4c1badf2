{#
  The single declarations (dbt_project.yml vars) that models and tests read, behind names that say what they are.
#}
{% macro metric_catalogue() -%}
    {{ return(var("metric_catalogue")) }}
{%- endmacro %}

{% macro source_enum(enum_name) -%}
    {{ return(var("source_enums")[enum_name]) }}
{%- endmacro %}

{% macro sql_list(values) -%}
    {%- for value in values -%}'{{ value }}'{{ ", " if not loop.last }}{%- endfor -%}
{%- endmacro %}
