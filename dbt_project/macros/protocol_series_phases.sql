{#
  The phases that make up a protocol's daily series (docs/DESIGNS.md), as a query over stg_phase_assignments
  with its columns: every phase of an ABAB, ALTERNATING or CHANGING_CRITERION protocol; of a MULTIPLE_BASELINE
  protocol only the phases of its primary tier, the tier whose outcome is the protocol's primary_outcome (the
  tiers overlap in time, so the series of the primary outcome is that tier's). Should two tiers claim the primary
  outcome (a design assert_design_is_recorded refuses), the first by name is taken, so no day doubles; a
  protocol without a primary tier has no phases here and its days are in no phase. One definition, so
  int_protocol_days and the phase summaries of dim_protocols read the same phases.
#}
{% macro protocol_series_phases() -%}
    select phases.*
    from {{ ref('stg_phase_assignments') }} as phases
    inner join {{ ref('stg_experiment_protocols') }} as protocols
        on protocols.protocol_id = phases.protocol_id
    qualify protocols.design_type <> 'MULTIPLE_BASELINE'
        or phases.tier = min(phases.tier) filter (where phases.tier_outcome = protocols.primary_outcome)
            over (partition by phases.protocol_id)
{%- endmacro %}
