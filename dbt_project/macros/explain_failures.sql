{#
  Wrap a singular test's query so that, when it fails, the dbt output says WHAT is wrong, not only how many
  rows failed. The query must return a text column `failure`; while dbt builds or tests, each failing row's
  text (up to `limit`) is logged as "FAIL <test>: <failure>" before dbt counts the rows as usual. Not run
  when dbt only compiles or generates docs, so those never need a built warehouse.
#}
{% macro explain_failures(limit=20) -%}
    {%- set query = caller() -%}
    {%- if execute and flags.WHICH in ("build", "test") -%}
        {%- set failures = run_query("select failure from (" ~ query ~ ") as failures limit " ~ limit) -%}
        {%- for row in failures.rows -%}
            {{ log("FAIL " ~ model.name ~ ": " ~ row["failure"], info=True) }}
        {%- endfor -%}
    {%- endif -%}
    {{ query }}
{%- endmacro %}
