{#
  The calendar day of an instant in the user's time zone (var `timezone`, env AMERICANO_TIMEZONE, default UTC).
  Why one macro: events, context entries and phase boundaries must all be cut into days by the same rule, or
  an evening session would land in a different day than the phase that contains it.
#}
{% macro local_date(instant) -%}
    cast(timezone('{{ var("timezone") }}', {{ instant }}) as date)
{%- endmacro %}
