"""The synthetic study with planted ground truth (``protocols``, ``synthetic``, ``seeding``) and everything the
demo prints (``console``, ``phase_table``, ``results_table``). Nothing in the pipeline depends on this package;
it sits on top, beside the CLI, and reads what the pipeline produced."""
