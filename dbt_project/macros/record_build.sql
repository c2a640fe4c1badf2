{#
  on-run-end: every `dbt build`, `dbt run` and `dbt test` appends one row to main.warehouse_builds in the
  warehouse it wrote: the invocation, the command, when it finished, the data version of the snapshot cut it read
  (the DVC hash in raw/current.dvc, beside the Parquet files; 'unversioned' when there is none) and the nodes that
  failed (error-severity tests that failed, models that errored). Why in dbt and not in Dagster: a plain
  `dbt build` records itself the same way, so the analyses always know which cut the marts hold and whether
  their last build passed its blocking checks (americano_pipeline/analysis/marts.py reads it). The glob
  `current.dv[c]` matches nothing instead of failing when the cut is unversioned.
#}
{% macro record_build(results) %}
    {% if execute and flags.WHICH in ('build', 'run', 'test') %}
        {% set failed = [] %}
        {% for result in results if result.status in ('error', 'fail') %}
            {% do failed.append("'" ~ result.node.name ~ "'") %}
        {% endfor %}
        {% do run_query("
            create table if not exists main.warehouse_builds (
                invocation_id varchar, command varchar, finished_at timestamptz, data_version varchar,
                failed varchar[]
            )") %}
        {% do run_query("
            insert into main.warehouse_builds
            select
                '" ~ invocation_id ~ "',
                '" ~ flags.WHICH ~ "',
                current_timestamp,
                coalesce(
                    (select regexp_extract(content, 'md5: ([0-9a-f]{32}\\.dir)', 1)
                     from read_text('raw/current.dv[c]')),
                    'unversioned'
                ),
                [" ~ failed | join(', ') ~ "]::varchar[]") %}
    {% endif %}
{% endmacro %}
