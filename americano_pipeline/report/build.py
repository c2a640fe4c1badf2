"""``build_report``: the CENT 2015 checklist (Vohra et al., BMJ 2015;350:h1738) of one protocol, item by item.

Every item is filled from the inputs or carries the reason it cannot be (``Item.not_reported``). Results come in
the registered order: the confirmatory analysis first (its test, p-value, registered alpha and direction, the
alpha check), then the supportive ones, each labelled. Numbers are rounded for display (``numbers.sig``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from americano_pipeline.report.inputs import ANALYSES, ReportInputs
from americano_pipeline.report.model import Figure, Item, Report, Table
from americano_pipeline.report.numbers import interval, p_value, sig

DESIGN_NAMES = {
    "ABAB": "phase-reversal (withdrawal) design",
    "ALTERNATING": "alternating-treatments design",
    "MULTIPLE_BASELINE": "multiple-baseline design across behaviours",
    "CHANGING_CRITERION": "changing-criterion design",
}
ANALYSIS_TITLES = {
    "randomization_result": "Randomization test, single-case effect sizes and WWC design standard",
    "its_result": "Bayesian interrupted time series",
    "change_points_result": "Change-point detection",
    "sequential_boundaries": "Group-sequential monitoring",
}
NOT_IN_SOURCE = "the study app's database (experiment_protocols, phase_assignments) has no field for it"
# Effect-size measures of a reversal design, in display order, with their reference definitions.
REVERSAL_MEASURES = (
    ("NAP", "Non-overlap of all pairs"), ("Tau", "Tau (A vs B)"), ("Tau_BC", "Tau, baseline-corrected"),
    ("TauU", "Tau-U (A vs B - trend A)"), ("PND", "Percentage of non-overlapping data"),
    ("PEM", "Percentage exceeding the median"), ("SMD_baseline", "SMD, baseline SD"),
    ("SMD_pooled", "SMD, pooled SD"), ("LRRi", "Log response ratio (increase)"),
    ("LRRd", "Log response ratio (decrease)"), ("cohens_d", "Cohen's d"),
)


def _short(commit) -> str:
    return str(commit)[:12] if commit else "—"


def _plan(protocol: dict) -> dict:
    plan = protocol.get("analysis_plan")
    return plan if isinstance(plan, dict) else {}


def _direction(alternative) -> str:
    return {"greater": "B > A (one-sided)", "less": "B < A (one-sided)", "two-sided": "two-sided",
            "tracking": "closer tracking of the criteria (one-sided)"}.get(alternative, str(alternative))



def _looks(sequential: dict) -> str:
    count = len(sequential.get("boundaries") or [])
    return f"{count} look{'' if count == 1 else 's'}"

class _Builder:
    def __init__(self, inputs: ReportInputs):
        self.inputs = inputs
        self.protocol = inputs.protocol
        self.design = str(self.protocol.get("design_type") or "")
        self.results = {asset: inputs.results.get(asset) for asset in ANALYSES}
        confirmatory = [a for a, r in self.results.items() if r and r.get("role") == "confirmatory"]
        registered = self.protocol.get("confirmatory_analysis")
        # The registered confirmatory analysis is the randomization test of every design (docs/DESIGNS.md); when its
        # result is missing, it is still listed first, as not reported.
        self.confirmatory = confirmatory[0] if confirmatory else "randomization_result"
        self.registered = registered
        self.supportive = [a for a in ANALYSES if a != self.confirmatory]

    def missing(self, asset: str) -> str:
        return self.inputs.missing.get(asset) or f"analysis/{asset} published no result for this protocol"

    # ---- title, abstract, introduction ---------------------------------------------------------------------------
    def title(self) -> Item:
        name = self.protocol.get("protocol_name")
        design = DESIGN_NAMES.get(self.design, self.design or "unknown design")
        return Item("1a", "Title and abstract", "Title", fields=(
            ("Title", f"{name}: an n-of-1 trial ({design})"),
            ("Protocol", str(self.protocol.get("protocol_id"))),
            ("Participant", f"one participant (study app user {self.protocol.get('user_id')})")))

    def abstract(self) -> Item:
        result = self.results.get(self.confirmatory)
        if not result:
            return Item("1b", "Title and abstract", "Structured summary",
                        not_reported=f"the confirmatory analysis has no result: {self.missing(self.confirmatory)}")
        return Item("1b", "Title and abstract", "Structured summary", label="confirmatory",
                    paragraphs=(str(result.get("interpretation") or ""),))

    def background(self) -> Item:
        return Item("2a", "Introduction", "Background and rationale",
                    not_reported=f"no rationale is recorded: {NOT_IN_SOURCE} (only the hypothesis, item 2b)")

    def objectives(self) -> Item:
        hypothesis = self.protocol.get("hypothesis")
        if not hypothesis:
            return Item("2b", "Introduction", "Objectives and hypothesis",
                        not_reported="experiment_protocols.hypothesis is empty")
        return Item("2b", "Introduction", "Objectives and hypothesis", paragraphs=(str(hypothesis),))

    # ---- methods -------------------------------------------------------------------------------------------------
    def design_item(self) -> Item:
        p = self.protocol
        fields = [("Design", f"{self.design} ({DESIGN_NAMES.get(self.design, 'unrecognised design type')})"),
                  ("Registered phase sequence", str(p.get("phase_sequence") or "—")),
                  ("Phases", f"{p.get('phase_count')} ({p.get('baseline_phase_count')} A, "
                             f"{p.get('intervention_phase_count')} B, {p.get('washout_phase_count')} washout)"),
                  ("Minimum phase length", f"{p.get('min_phase_length')} days"),
                  ("Planned duration", f"{sig(p.get('planned_duration_days'))} days"),
                  ("Scheduled period", f"{p.get('start_date')} to {p.get('end_date') or 'open (ongoing)'}")]
        if p.get("tier_count"):
            fields.append(("Tiers", str(p.get("tier_count"))))
        if self.design == "ALTERNATING":
            limit = p.get("max_consecutive")
            fields.append(("Run limit", "none (completely randomized order)" if limit is None
                           else f"at most {limit} days in a row of one condition"))
        washout = ("washout days are excluded from the A/B comparisons" if p.get("washout_phase_count")
                   else "no washout phases were registered; carryover is not modelled")
        fields.append(("Carryover", washout))
        return Item("3a", "Methods", "Trial design", fields=tuple(fields))

    def deviations(self) -> Item:
        registration = self.inputs.registration
        title = "Important changes to methods after trial commencement (deviations)"
        if registration is None:
            return Item("3b", "Methods", title, not_reported=self.inputs.registration_missing
                        or "the registration record could not be read")
        deviations = registration.get("deviations")
        if deviations is None:
            return Item("3b", "Methods", title, not_reported="experiment_protocols.deviations is null")
        if not deviations:
            return Item("3b", "Methods", title, fields=(
                ("Deviations", "none recorded (experiment_protocols.deviations is empty)"),))
        rows = tuple((str(i), json.dumps(d, sort_keys=True) if not isinstance(d, str) else d)
                     for i, d in enumerate(deviations, 1))
        return Item("3b", "Methods", title, fields=(("Deviations", f"{len(deviations)} recorded"),),
                    tables=(Table(("#", "deviation as recorded"), rows),))

    def participants(self) -> tuple[Item, ...]:
        return (
            Item("4a", "Methods", "Diagnosis and eligibility criteria",
                 not_reported=f"no eligibility criteria are recorded: {NOT_IN_SOURCE}"),
            Item("4b", "Methods", "Settings and locations of data collection", fields=(
                ("Setting", "the participant's own use of the study app; outcomes are daily aggregates of its "
                            "behavioral_events (dbt mart fct_protocol_daily_outcomes)"),)),
        )

    def interventions(self) -> Item:
        rows = []
        for phase in self.inputs.phases:
            if phase.get("condition") != "B" and not phase.get("is_washout"):
                continue
            params = phase.get("intervention_params")
            rows.append((str(phase.get("tier") or "—"), str(phase.get("phase_label")), str(phase.get("phase_type")),
                         json.dumps(params, sort_keys=True) if isinstance(params, (dict, list)) else str(params)))
        if not rows:
            return Item("5", "Methods", "Interventions",
                        not_reported="no intervention or washout phase is recorded in phase_assignments")
        return Item("5", "Methods", "Interventions", tables=(Table(
            ("tier", "phase", "type", "interventionParams as registered"), tuple(rows),
            "Condition B phases (INTERVENTION_A/B) and washouts; A phases are the baseline."),))

    def outcomes(self) -> Item:
        p = self.protocol
        fields = [("Primary outcome", f"{p.get('primary_outcome')} (daily value, metric catalogue of the "
                                      "warehouse)")]
        tiers = sorted({(ph.get("tier"), ph.get("tier_outcome")) for ph in self.inputs.phases if ph.get("tier")},
                       key=lambda t: str(t[0]))
        if tiers:
            fields.append(("Tier outcomes", "; ".join(f"{tier}: {outcome}" for tier, outcome in tiers)))
        fields.append(("Changes to outcomes after registration",
                       "none: every analysis reads the registered primary outcome"
                       if all((r or {}).get("provenance", {}).get("metric", p.get("primary_outcome"))
                              == p.get("primary_outcome") for r in self.results.values())
                       else "an analysis used another metric (see provenance)"))
        return Item("6a", "Methods", "Outcomes", fields=tuple(fields))

    def sample_size(self) -> Item:
        p = self.protocol
        fields = [("Target", f"{p.get('sample_size_target')} daily observations (sampleSizeTarget)")]
        sequential = self.results.get("sequential_boundaries")
        if sequential and not sequential.get("notRun"):
            fields.append(("Interim analyses and stopping",
                           f"{_looks(sequential)} at {sequential.get('looksFrom')}, "
                           f"{sequential.get('spendingFunction')} alpha spending, "
                           f"alpha {sig(sequential.get('alpha'))}, "
                           f"mode {sequential.get('mode')}"))
        elif sequential:
            fields.append(("Interim analyses and stopping", f"none: {sequential.get('reason')}"))
        return Item("7a", "Methods", "Sample size and stopping", fields=tuple(fields))

    def randomization(self) -> tuple[Item, ...]:
        p = self.protocol
        result = self.results.get(self.confirmatory) or {}
        design = result.get("design") or {}
        fields = [("Randomization seed", str(p.get("randomization_seed")) if p.get("randomization_seed") is not None
                   else "not recorded")]
        if self.design == "ABAB":
            fields.append(("Sequence generation", "the phase-change days were drawn among the placements that keep "
                                                  f"every phase at least {p.get('min_phase_length')} days"))
        elif self.design == "ALTERNATING":
            fields.append(("Sequence generation", "the order of A and B days was drawn among the orders with "
                                                  f"no run longer than {p.get('max_consecutive')}"))
        elif self.design == "MULTIPLE_BASELINE":
            fields.append(("Sequence generation", f"tier starts drawn by the {p.get('multiple_baseline_scheme')} "
                                                  "scheme from each tier's start window"))
        elif self.design == "CHANGING_CRITERION":
            fields.append(("Sequence generation", "the criterion-change days were drawn among the splits with every "
                                                  f"phase at least {p.get('min_phase_length')} days"))
        if result.get("nAssignments"):
            fields.append(("Admissible assignments", sig(int(result["nAssignments"]))))
        if design.get("tiers"):
            fields.append(("Tier starts", "; ".join(f"{t.get('tier')}: day {t.get('start')} of window "
                                                    f"{t.get('window')}" for t in design["tiers"])))
        return (
            Item("8", "Methods", "Randomization: sequence generation", fields=tuple(fields)),
            Item("9", "Methods", "Allocation concealment",
                 not_reported=f"how the drawn schedule was concealed is not recorded: {NOT_IN_SOURCE}"),
            Item("10", "Methods", "Implementation",
                 not_reported=f"who generated and enacted the schedule is not recorded: {NOT_IN_SOURCE}"),
            Item("11", "Methods", "Blinding",
                 not_reported=f"no blinding is recorded: {NOT_IN_SOURCE}; a self-experiment's participant "
                              "usually knows the condition"),
        )

    def methods(self) -> Item:
        result = self.results.get(self.confirmatory)
        plan = _plan(self.protocol)
        fields = [("Registered confirmatory analysis", str(self.registered or plan.get("confirmatory") or "—")),
                  ("Registered direction", _direction(self.protocol.get("registered_alternative"))),
                  ("Registered alpha", sig(self.protocol.get("plan_alpha")))]
        if result:
            fields += [("Test run", str(result.get("test"))), ("Statistic", str(result.get("statistic"))),
                       ("Reference set", f"{sig(result.get('nAssignments'))} assignments, "
                                         f"{'exact' if result.get('exact') else 'Monte Carlo'}")]
        supportive = ", ".join(ANALYSIS_TITLES[a].lower() for a in self.supportive)
        fields.append(("Supportive analyses", f"{supportive}; not adjusted for multiplicity and unable to confirm "
                                              "the hypothesis on their own"))
        if plan.get("description"):
            fields.append(("Analysis plan", str(plan["description"])))
        return Item("12a", "Methods", "Statistical methods", fields=tuple(fields))

    # ---- results -------------------------------------------------------------------------------------------------
    def flow(self) -> Item:
        registration = self.inputs.registration
        if registration is None:
            return Item("13a", "Results", "Participant flow (periods)",
                        not_reported=self.inputs.registration_missing or "registration not read")
        counts = {k: registration.get(k) for k in ("screened", "eligible", "enrolled", "completed")}
        p = self.protocol
        fields = [(k, "not recorded" if v is None else str(v)) for k, v in counts.items()]
        fields.append(("Phases completed", f"{sum(1 for ph in self.inputs.phases if ph.get('observed_days'))} of "
                                           f"{len(self.inputs.phases)} registered phase rows have observed days"))
        fields.append(("Status", "ongoing" if p.get("is_ongoing") else f"ended {p.get('end_date')}"))
        if all(v is None for v in counts.values()):
            return Item("13a", "Results", "Participant flow (periods)", fields=tuple(fields[-2:]),
                        paragraphs=("not reported: experiment_protocols has no screened/eligible/enrolled/completed "
                                    "counts for this protocol",))
        return Item("13a", "Results", "Participant flow (periods)", fields=tuple(fields))

    def phases(self) -> Item:
        rows = []
        for i, phase in enumerate(self.inputs.phases, 1):
            rows.append((str(i), str(phase.get("tier") or "—"), str(phase.get("phase_label")),
                         str(phase.get("phase_type")), str(phase.get("condition") or "washout"),
                         f"{phase.get('start_date')} to {phase.get('end_date') or 'open'}",
                         str(phase.get("planned_duration")), str(phase.get("observed_days") or 0),
                         str(phase.get("measured_days") or 0), sig(phase.get("outcome_mean")),
                         "—" if phase.get("criterion") is None else sig(phase.get("criterion"))))
        if not rows:
            return Item("14a", "Results", "Phases as run", not_reported="phase_assignments has no rows for it")
        p = self.protocol
        fields = (("Observed series", f"{p.get('start_date')} to {p.get('series_end_date')} "
                                      f"({p.get('actual_duration_days')} days)"),
                  ("Shortest phase", f"{p.get('shortest_phase_days')} days "
                                     f"({'meets' if p.get('meets_min_phase_length') else 'BELOW'} the registered "
                                     f"minimum of {p.get('min_phase_length')})"))
        return Item("14a", "Results", "Phases as run", fields=fields, tables=(Table(
            ("#", "tier", "phase", "type", "condition", "dates", "planned days", "observed days",
             "days with outcome", "mean outcome", "criterion"), tuple(rows),
            "Planned (phase_assignments) against observed (fct_protocol_daily_outcomes; tiers: "
            "fct_protocol_tier_daily_outcomes). Means rounded to 3 significant digits."),))

    def analysed(self) -> Item:
        result = self.results.get(self.confirmatory)
        if not result:
            return Item("16", "Results", "Numbers analysed", not_reported=self.missing(self.confirmatory))
        excluded = result.get("excluded") or {}
        missing_days = excluded.get("missingOutcomeDays") or []
        listed = f" ({', '.join(map(str, missing_days))})" if missing_days else ""
        fields = [("Washout days excluded", str(excluded.get("washoutDays", 0))),
                  ("Days without an outcome value", f"{len(missing_days)}{listed}")]
        position = (self.results.get("sequential_boundaries") or {}).get("position") or {}
        if position.get("nA") is not None:
            fields.insert(0, ("Days analysed", f"{position.get('nObserved')} (A {position.get('nA')}, "
                                               f"B {position.get('nB')})"))
        return Item("16", "Results", "Numbers analysed", fields=tuple(fields))

    def confirmatory_result(self) -> Item:
        title = f"Confirmatory analysis: {ANALYSIS_TITLES.get(self.confirmatory, self.confirmatory)}"
        result = self.results.get(self.confirmatory)
        if not result:
            return Item("17a", "Results", title, label="confirmatory", not_reported=self.missing(self.confirmatory))
        alpha = self.protocol.get("plan_alpha")
        if alpha is None:
            alpha = (result.get("alphaCheck") or {}).get("alpha")
        p = result.get("pValue")
        verdict = "—"
        if p is not None and alpha is not None:
            verdict = (f"p = {p_value(p)} ≤ alpha = {sig(alpha)}: the registered hypothesis is supported"
                       if p <= alpha else f"p = {p_value(p)} > alpha = {sig(alpha)}: not significant at the "
                                          "registered alpha")
        check = result.get("alphaCheck") or {}
        wwc = result.get("wwcDesignStandard") or {}
        fields = (("Test", str(result.get("test"))),
                  ("Direction", f"{_direction(result.get('alternative'))} ({result.get('alternativeSource')})"),
                  ("Observed effect", sig(result.get("observedEffect"))),
                  ("p-value", p_value(p)),
                  ("Alpha", sig(alpha)),
                  ("Decision", verdict),
                  ("Cohen's d", sig(result.get("effectSize"))),
                  ("Alpha check", str(check.get("message") or "not recorded")),
                  ("WWC design standard", f"{wwc.get('verdict')} ({wwc.get('standard')}): {wwc.get('reason')}"
                   if wwc else "not recorded"),
                  ("Multiplicity", str(result.get("multiplicity") or "—")))
        return Item("17a", "Results", title, label="confirmatory", fields=fields,
                    paragraphs=(str(result.get("interpretation") or ""),))

    def effect_sizes(self) -> Item:
        title = "Effect sizes with 95% intervals"
        result = self.results.get(self.confirmatory)
        if not result:
            return Item("17b", "Results", title, label="confirmatory", not_reported=self.missing(self.confirmatory))
        sizes = result.get("effectSizes") or {}
        if not sizes:
            return Item("17b", "Results", title, label="confirmatory",
                        not_reported="the confirmatory result has no effectSizes")
        tables = []
        if sizes.get("tiers"):
            tables.append(Table(("tier", "outcome", "A mean", "B mean", "B - A", "NAP [95% CI]", "Tau-U",
                                 "SMD baseline [95% CI]"),
                                tuple((str(t.get("tier")), str(t.get("outcome")), sig(t.get("baselineMean")),
                                       sig(t.get("interventionMean")), sig(t.get("difference")),
                                       f"{sig(t.get('NAP'))} [{interval(t.get('NAP_CI'))}]", sig(t.get("TauU")),
                                       f"{sig(t.get('SMD_baseline'))} [{interval(t.get('SMD_baseline_CI'))}]")
                                      for t in sizes["tiers"]),
                                f"Per tier; mean within-tier B - A: {sig(sizes.get('meanDifference'))}."))
        elif sizes.get("phases"):
            tables.append(Table(("phase", "days", "mean", "criterion", "mean - criterion", "mean |deviation|"),
                                tuple((str(ph.get("label")), str(ph.get("days")), sig(ph.get("mean")),
                                       sig(ph.get("criterion")), sig(ph.get("meanMinusCriterion")),
                                       sig(ph.get("meanAbsoluteDeviation"))) for ph in sizes["phases"]),
                                "Per criterion phase; no interval is defined for these descriptive measures."))
        else:
            if sizes.get("conditions"):
                tables.append(Table(("condition", "n", "mean", "sd"),
                                    tuple((c, str(v.get("n")), sig(v.get("mean")), sig(v.get("sd")))
                                          for c, v in sizes["conditions"].items()),
                                    f"B - A: {sig(sizes.get('difference'))}."))
            rows = []
            for key, label in REVERSAL_MEASURES:
                if key not in sizes or sizes[key] is None:
                    continue
                ci = sizes.get(f"{key}_CI")
                se = sizes.get(f"{key}_SE")
                rows.append((label, sig(sizes[key]), interval(ci) if ci else "no interval defined",
                             sig(se) if se is not None else "—"))
            if rows:
                tables.append(Table(("measure", "estimate", f"{sig(sizes.get('confidence', 0.95))} interval", "SE"),
                                    tuple(rows), str(sizes.get("variant") or sizes.get("TauU_variant") or "")))
        if sizes.get("LRR_reason"):
            tables.append(Table(("note",), ((f"log response ratio: {sizes['LRR_reason']}",),)))
        return Item("17b", "Results", title, label="confirmatory", tables=tuple(tables),
                    paragraphs=(f"Variant: {sizes.get('variant')}",) if sizes.get("variant") else ())

    def supportive_results(self) -> Item:
        title = "Ancillary analyses (supportive; not adjusted for multiplicity)"
        tables, paragraphs = [], []
        reported = 0
        for asset in self.supportive:
            result = self.results.get(asset)
            name = ANALYSIS_TITLES.get(asset, asset)
            if not result:
                paragraphs.append(f"{name}: not reported: {self.missing(asset)}")
                continue
            if result.get("notRun"):
                paragraphs.append(f"{name} (supportive): not run: {result.get('reason')}")
                reported += 1
                continue
            reported += 1
            table, text = {"its_result": self._its, "change_points_result": self._change_points,
                           "sequential_boundaries": self._sequential}.get(asset, self._generic)(result)
            tables.append(Table(table.columns, table.rows, f"{name} (supportive). {table.caption}".strip()))
            paragraphs.append(f"{name} (supportive): {text}")
        if not reported:
            return Item("18", "Results", title, label="supportive",
                        not_reported="no supportive analysis published a result: " + " ".join(paragraphs))
        return Item("18", "Results", title, label="supportive", tables=tuple(tables), paragraphs=tuple(paragraphs))

    @staticmethod
    def _its(result: dict) -> tuple[Table, str]:
        rows = []
        effect = result.get("causalEffect") or {}
        rows.append(("pooled over changes", "—", sig(effect.get("mean")), interval(effect.get("hdi95")),
                     sig(effect.get("probability_positive"))))
        for change in result.get("changes") or []:
            ce = change.get("causalEffect") or {}
            rows.append((f"change at {change.get('intervention')}", str(change.get("treatmentDays")),
                         sig(ce.get("mean")), interval(ce.get("hdi95")), sig(ce.get("probability_positive"))))
        persistence = result.get("persistence")
        if persistence:
            rows.append(("after withdrawal (persistence)", "—", sig(persistence.get("mean")),
                         interval(persistence.get("hdi95")), sig(persistence.get("probability_positive"))))
        cross = result.get("crossCheck") or {}
        if cross:
            rows.append((f"cross-check: {cross.get('method')}", str(cross.get("nObs")), sig(cross.get("levelChange")),
                         f"{interval(cross.get('ci95'))} (95% CI; p = {p_value(cross.get('pValue'))})", "—"))
        diag = result.get("diagnostics") or {}
        caption = (f"Posterior mean per day of observed - counterfactual, 95% HDI. Diagnostics: R-hat "
                   f"{sig(diag.get('rhat'))}, bulk ESS {sig(diag.get('ess_bulk'))}.")
        return (Table(("effect", "treatment days", "mean", "95% interval", "P(effect > 0)"), tuple(rows), caption),
                str(result.get("interpretation") or ""))

    @staticmethod
    def _change_points(result: dict) -> tuple[Table, str]:
        rows = tuple((str(c.get("date")), sig(c.get("confidence")), sig(c.get("beforeMean")),
                      sig(c.get("afterMean")), sig(c.get("percentChange"))) for c in result.get("changePoints") or [])
        comparison = result.get("comparison") or {}
        planned = comparison.get("planned") or []
        text = (f"{len(result.get('changePoints') or [])} change points detected ({result.get('algorithm')}); "
                f"{comparison.get('matchedPlanned', 0)} of {len(planned)} planned phase changes matched within "
                f"{comparison.get('toleranceDays')} days (probability of at least as many matches by chance "
                f"{sig(comparison.get('matchedByChanceProbability'))}).")
        return Table(("date", "confidence", "mean before", "mean after", "% change"), rows or (("none",) + ("—",) * 4,),
                     ""), text

    @staticmethod
    def _sequential(result: dict) -> tuple[Table, str]:
        position = result.get("position") or {}
        rows = tuple((str(look.get("look")), str(look.get("day")), str(look.get("label")), str(look.get("n")),
                      sig(look.get("informationFraction")), sig(look.get("estimate")), p_value(look.get("pValue")),
                      p_value(look.get("nominalP")), "yes" if look.get("crossed") else "no")
                     for look in position.get("looks") or [])
        crossing = position.get("firstCrossingLabel")
        text = (f"{result.get('spendingFunction')} spending of alpha {sig(result.get('alpha'))} over "
                f"{_looks(result)} ({result.get('mode')}); "
                + (f"first crossing at {crossing}." if crossing else "no look crossed its boundary."))
        return Table(("look", "day", "label", "n", "information", "B - A", "p", "nominal p bound", "crossed"),
                     rows or (("none",) + ("—",) * 8,), ""), text

    @staticmethod
    def _generic(result: dict) -> tuple[Table, str]:
        return Table(("role",), ((str(result.get("role")),),)), str(result.get("interpretation") or "")

    def harms(self) -> Item:
        return Item("19", "Results", "Harms",
                    not_reported=f"adverse events are not recorded: {NOT_IN_SOURCE}")

    def figures(self) -> Item:
        figures, notes = [], []
        for asset in [self.confirmatory, *self.supportive]:
            result = self.results.get(asset)
            label = "confirmatory" if asset == self.confirmatory else "supportive"
            if not result:
                notes.append(f"{ANALYSIS_TITLES.get(asset, asset)}: not reported: {self.missing(asset)}")
                continue
            names = (result.get("provenance") or {}).get("figures") or []
            if not names:
                notes.append(f"{ANALYSIS_TITLES.get(asset, asset)} ({label}): no figure"
                             + (f" ({result.get('reason')})" if result.get("notRun") else ""))
            directory = self.inputs.result_dirs.get(asset)
            for name in names:
                path = directory / name if directory else None
                if path is None or not path.is_file():
                    notes.append(f"{name}: not reported: the figure file {path} is missing")
                    continue
                figures.append(Figure(f"{ANALYSIS_TITLES.get(asset, asset)} ({label})", path,
                                      f"analysis/{asset}: {name}"))
        if not figures:
            return Item("", "Figures", "Figures", not_reported="; ".join(notes) or "no analysis published a figure")
        return Item("", "Figures", "Figures", figures=tuple(figures), paragraphs=tuple(notes))

    # ---- discussion ----------------------------------------------------------------------------------------------
    def limitations(self) -> Item:
        p = self.protocol
        notes = ["A single participant: the estimate is this person's effect under these conditions."]
        confirmatory = self.results.get(self.confirmatory)
        if confirmatory:
            wwc = confirmatory.get("wwcDesignStandard") or {}
            if wwc and wwc.get("verdict") != "meets":
                notes.append(f"WWC design standard: {wwc.get('verdict')} ({wwc.get('reason')}).")
            check = confirmatory.get("alphaCheck") or {}
            if check and not check.get("reachable", True):
                notes.append(f"The design cannot reach the registered alpha: {check.get('message')}")
            notes.append("The randomization p-value is valid only if the schedule was randomly drawn in advance, "
                         "as registered.")
        for asset in ANALYSES:
            if not self.results.get(asset):
                notes.append(f"{ANALYSIS_TITLES[asset]}: no result ({self.missing(asset)}).")
        its = self.results.get("its_result") or {}
        diagnostics = its.get("diagnostics") or {}
        if diagnostics.get("rhat") is not None and diagnostics["rhat"] > 1.01:
            notes.append(f"ITS sampler: R-hat {sig(diagnostics['rhat'])} > 1.01, the posterior may not have converged.")
        if diagnostics.get("autocorrelationWarning"):
            notes.append("ITS: residual autocorrelation remains after the AR(1) model.")
        sequential = self.results.get("sequential_boundaries") or {}
        if sequential.get("mode") == "retrospective":
            notes.append("Sequential monitoring was computed retrospectively on the complete series.")
        if p.get("is_ongoing"):
            notes.append("The protocol is ongoing: these are interim results.")
        if p.get("meets_min_phase_length") is False:
            notes.append(f"A phase is shorter ({p.get('shortest_phase_days')} days) than the registered minimum "
                         f"({p.get('min_phase_length')}).")
        if p.get("deviation_count"):
            notes.append(f"{p.get('deviation_count')} deviations from the protocol were recorded (item 3b).")
        versions = {(r.get("provenance") or {}).get("dataVersionHash") for r in self.results.values() if r}
        if len(versions) > 1:
            notes.append(f"The analyses read different data versions ({', '.join(sorted(map(str, versions)))}).")
        current = self.inputs.warehouse_data_version
        stale = [analysis for analysis, result in self.results.items()
                 if result and (result.get("provenance") or {}).get("dataVersionHash") != current]
        if current and stale:
            notes.append(f"The warehouse is now at data version {current}; {', '.join(stale)} "
                         f"{'was' if len(stale) == 1 else 'were'} computed on an older one (its latest run failed "
                         "or has not run yet), so read with care.")
        dirty = [a for a, r in self.results.items() if r and (r.get("provenance") or {}).get("codeDirty")]
        if dirty:
            notes.append(f"{', '.join(dirty)} ran on code with uncommitted changes: the commit alone does not "
                         "reproduce them.")
        excluded = (confirmatory or {}).get("excluded") or {}
        if excluded.get("missingOutcomeDays"):
            notes.append(f"{len(excluded['missingOutcomeDays'])} days had no outcome value and were left out.")
        return Item("20", "Discussion", "Limitations", paragraphs=tuple(notes))

    def generalisability(self) -> Item:
        return Item("21", "Discussion", "Generalisability",
                    not_reported="a judgement for the investigator; the data say only that the result concerns "
                                 "this participant (item 20)")

    def interpretation(self) -> Item:
        result = self.results.get(self.confirmatory)
        if not result:
            return Item("22", "Discussion", "Interpretation", not_reported=self.missing(self.confirmatory))
        return Item("22", "Discussion", "Interpretation", label="confirmatory",
                    paragraphs=(str(result.get("interpretation") or ""),))

    # ---- other information ---------------------------------------------------------------------------------------
    def registration(self) -> Item:
        p = self.protocol
        plan = _plan(p)
        fields = (("Registered in", "the study app's experiment_protocols table (the analysis plan is fixed there "
                                    "before the analyses run)"),
                  ("Protocol id", str(p.get("protocol_id"))),
                  ("Registered start", str(p.get("start_date"))),
                  ("External registry", "not reported: no trial registry id is recorded in experiment_protocols"),
                  ("Analysis plan", json.dumps(plan, sort_keys=True) if plan else str(p.get("analysis_plan"))))
        return Item("23", "Other information", "Registration", fields=fields)

    def protocol_access(self) -> Item:
        return Item("24", "Other information", "Protocol", fields=(
            ("Where to read it", f"experiment_protocols row {self.protocol.get('protocol_id')} and its "
                                 "phase_assignments rows; the warehouse's dim_protocols"),))

    def funding(self) -> Item:
        return Item("25", "Other information", "Funding",
                    not_reported=f"sources of funding are not recorded: {NOT_IN_SOURCE}")

    def provenance(self) -> Item:
        rows = []
        for asset in [self.confirmatory, *self.supportive]:
            result = self.results.get(asset)
            role = "confirmatory" if asset == self.confirmatory else "supportive"
            if not result:
                rows.append((f"analysis/{asset}", role, "not reported", "—", "—", "—", "—"))
                continue
            prov = result.get("provenance") or {}
            commit = _short(prov.get("codeCommit")) + (" (dirty)" if prov.get("codeDirty") else "")
            rows.append((f"analysis/{asset}", str(result.get("role") or role), commit,
                         str(prov.get("dataVersionHash") or "—"), str(prov.get("mlflowRunId") or "—"),
                         str(prov.get("analysisRunId") or "—"), str(prov.get("completedAt") or "—")))
        code = self.inputs.report_code
        fields = [("Warehouse data version", self.inputs.warehouse_data_version
                   or f"unknown: {self.inputs.warehouse_note or 'not read'}")]
        if code:
            fields.append(("Report built by", f"commit {_short(code.get('commit'))}"
                                              + (" (dirty)" if code.get("dirty") else "")
                                              + (f", Dagster run {code['run_id']}" if code.get("run_id") else "")))
        return Item("", "Provenance", "Provenance", fields=tuple(fields), tables=(Table(
            ("analysis", "role", "code commit", "data version (DVC)", "MLflow run", "analysis_runs id", "completed"),
            tuple(rows), "Every id is also in the analysis's result.json (provenance) and its MLflow run tags."),))

    def items(self) -> tuple[Item, ...]:
        return (self.title(), self.abstract(), self.background(), self.objectives(), self.design_item(),
                self.deviations(), *self.participants(), self.interventions(), self.outcomes(), self.sample_size(),
                *self.randomization(), self.methods(), self.flow(), self.phases(), self.analysed(),
                self.confirmatory_result(), self.effect_sizes(), self.supportive_results(), self.harms(),
                self.figures(), self.limitations(), self.generalisability(), self.interpretation(),
                self.registration(), self.protocol_access(), self.funding(), self.provenance())


def build_report(inputs: ReportInputs, *, generated_at: str | None = None) -> Report:
    """The CENT 2015 report of ``inputs``' protocol (module doc)."""
    builder = _Builder(inputs)
    name = str(inputs.protocol.get("protocol_name") or inputs.protocol.get("protocol_id"))
    sources = {asset: str(directory) for asset, directory in inputs.result_dirs.items()}
    return Report(protocol_id=str(inputs.protocol.get("protocol_id")), protocol_name=name,
                  design_type=builder.design, title=f"{name}: an n-of-1 trial",
                  generated_at=generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  items=builder.items(), sources=sources)
