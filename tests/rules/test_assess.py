"""One test per rule of DESIGN.md section 4; each docstring names the rule's source."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.model import Assessment, PatientRecord
from mgcare.rules import assess
from mgcare.rules.assess import months_before
from tests.conftest import AS_OF, LAB_DAY, cond, lab, med, mg, record


def run(
    rec: PatientRecord, knowledge: Knowledge, lang: str = "en", as_of: date = AS_OF
) -> Assessment:
    return assess(rec, knowledge, as_of=as_of, lang=lang)  # type: ignore[arg-type]


def finding_codes(result: Assessment) -> list[str]:
    return [item.code for item in result.findings]


def rec_codes(result: Assessment) -> list[str]:
    return [item.code for item in result.recommendations]


# --- serum magnesium status (DESIGN.md section 3) -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (0.45, "hypomagnesemia-severe"),
        (0.62, "hypomagnesemia"),
        (0.72, "low-normal"),
        (0.9, "normal"),
        (1.4, "hypermagnesemia"),
        (2.0, "hypermagnesemia-severe"),
    ],
)
def test_status_bands(value: float, status: str, knowledge: Knowledge) -> None:
    """Review 3.2 (normal 0.75-1.25, deficiency < 0.7), CTCAE v5 (severe = grade >= 2),
    US MgSO4 label (DTRs fall above 2 mmol/L): each band maps to its DESIGN.md status."""
    result = run(record([mg(value)]), knowledge)
    assert result.serum_magnesium is not None
    assert result.serum_magnesium.status == status


def test_status_thresholds_come_from_pack(knowledge: Knowledge) -> None:
    """Review 3.2: the deficiency cut-off is the pack's value; just above it is not deficient."""
    cutoff = knowledge.thresholds.serum_magnesium.deficiency_below.value
    below = run(record([mg(cutoff - 0.001)]), knowledge).serum_magnesium
    at = run(record([mg(cutoff)]), knowledge).serum_magnesium
    assert below is not None and below.status == "hypomagnesemia"
    assert at is not None and at.status != "hypomagnesemia"


def test_lab_reference_range_replaces_default(knowledge: Knowledge) -> None:
    """clinical.md 12.2: use the lab's own interval when supplied (0.72 is low-normal by default,
    but hypomagnesaemia against a 0.75-1.0 lab interval)."""
    result = run(record([mg(0.72, reference_low=0.75, reference_high=1.0)]), knowledge)
    assert result.serum_magnesium is not None
    assert result.serum_magnesium.status == "hypomagnesemia"
    finding = next(f for f in result.findings if f.code == "hypomagnesemia")
    assert "laboratory" in finding.detail


def test_lab_upper_limit_flags_hypermagnesaemia(knowledge: Knowledge) -> None:
    """clinical.md 12.2: 1.15 mmol/L is normal by the review's 1.25 limit but high for a lab whose
    upper limit is 1.05."""
    default = run(record([mg(1.15)]), knowledge).serum_magnesium
    with_lab = run(
        record([mg(1.15, reference_low=0.7, reference_high=1.05)]), knowledge
    ).serum_magnesium
    assert default is not None and default.status == "normal"
    assert with_lab is not None and with_lab.status == "hypermagnesemia"


def test_ctcae_graded_in_reported_unit(knowledge: Knowledge) -> None:
    """CTCAE v5 (clinical.md 5.2): 1.21 mg/dL is grade 1 (>= 1.2 mg/dL) although it equals
    0.498 mmol/L, which would be grade 2 if converted first."""
    result = run(record([mg(1.21, "mg/dL")]), knowledge)
    assert result.serum_magnesium is not None
    assert result.serum_magnesium.ctcae_grade == 1
    assert result.serum_magnesium.mmol_l < 0.5
    assert result.serum_magnesium.status == "hypomagnesemia"


def test_meq_graded_as_mmol(knowledge: Knowledge) -> None:
    """clinical.md 4.2: Mg mEq/L = 2 x mmol/L, so 0.7 mEq/L is 0.35 mmol/L, CTCAE grade 3."""
    result = run(record([mg(0.7, "meq/L")]), knowledge)
    assert result.serum_magnesium is not None
    assert result.serum_magnesium.mmol_l == pytest.approx(0.35)
    assert result.serum_magnesium.ctcae_grade == 3


# --- look-back and targeted monitoring (review 3.2; UK oral guidance 3-6 months) -------------------


def test_old_result_counts_as_not_measured(knowledge: Knowledge) -> None:
    """Look-back (pack monitoring.lookback): a result older than the window is not current."""
    months = int(knowledge.thresholds.monitoring.lookback.value)
    old_day = months_before(AS_OF, months + 1)
    result = run(record([mg(0.6, day=old_day)], [med("furosemide 40 mg")]), knowledge)
    assert result.serum_magnesium is None
    assert "magnesium-not-measured" in finding_codes(result)
    assert "check-serum-magnesium" in rec_codes(result)
    assert "hypomagnesemia" not in finding_codes(result)


def test_recent_normal_result_suppresses_check(knowledge: Knowledge) -> None:
    """Review 3.2 / FDA11: people on depleting drugs need checks, but not after a recent normal result."""
    months = int(knowledge.thresholds.monitoring.lookback.value)
    recent = months_before(AS_OF, months - 1)
    result = run(record([mg(0.85, day=recent)], [med("furosemide 40 mg")]), knowledge)
    assert "check-serum-magnesium" not in rec_codes(result)
    assert "no-routine-supplementation" in rec_codes(result)


@pytest.mark.parametrize(
    "condition",
    [
        cond("Atrial fibrillation", ("snomed", "49436004")),
        cond("Heart failure", ("icd10", "I50.9")),
        cond("Diabetes", ("icd10", "E11.9")),
        cond("Hypertension", ("snomed", "38341003")),
    ],
)
def test_targeted_monitoring_for_conditions(condition: object, knowledge: Knowledge) -> None:
    """Review 3.2: check serum Mg in AF, heart failure, diabetes and hypertension when unmeasured."""
    result = run(record(conditions=[condition]), knowledge)  # type: ignore[list-item]
    assert "check-serum-magnesium" in rec_codes(result)


def test_no_monitoring_without_indication(knowledge: Knowledge) -> None:
    """Review 3.3: no routine testing or supplements without an indication; only the
    not-measured finding is reported."""
    result = run(record(conditions=[cond("Prediabetes", ("snomed", "15777000"))]), knowledge)
    assert finding_codes(result) == ["magnesium-not-measured"]
    assert rec_codes(result) == []


# --- Ca/Mg ratio (Liao 2023, R52; clinical.md 2.1 and 12.1) -----------------------------------------


def test_ca_mg_molar_ratio_in_diabetes(knowledge: Knowledge) -> None:
    """R52: molar Ca/Mg above 2.55 in diabetes is flagged, with weak evidence said."""
    diabetes = cond("Type 2 diabetes", ("icd10", "E11.9"))
    result = run(record([mg(0.8), lab("calcium", 2.4, "mmol/L")], conditions=[diabetes]), knowledge)
    assert result.ca_mg_ratio is not None
    assert result.ca_mg_ratio.molar == pytest.approx(3.0)
    assert result.ca_mg_ratio.applies
    finding = next(f for f in result.findings if f.code == "ca-mg-ratio-high")
    assert "weak" in finding.summary.lower()
    assert "R52" in finding.evidence


def test_ca_mg_ratio_uses_molar_basis_across_units(knowledge: Knowledge) -> None:
    """clinical.md 2.1: the ratio is molar; mg/dL inputs are converted, not divided raw."""
    result = run(record([mg(1.944, "mg/dL"), lab("calcium", 9.6, "mg/dL")]), knowledge)
    assert result.ca_mg_ratio is not None
    assert result.ca_mg_ratio.molar == pytest.approx(
        (9.6 * 10 / 40.078) / (1.944 * 10 / 24.305), rel=1e-3
    )


def test_ca_mg_cutoff_only_in_diabetes(knowledge: Knowledge) -> None:
    """R52 derived the cut-off in diabetic inpatients only: no finding without diabetes."""
    result = run(record([mg(0.8), lab("calcium", 2.4, "mmol/L")]), knowledge)
    assert result.ca_mg_ratio is not None and not result.ca_mg_ratio.applies
    assert "ca-mg-ratio-high" not in finding_codes(result)


def test_ca_mg_needs_same_day(knowledge: Knowledge) -> None:
    """Review 3.2 / DESIGN.md 3: the ratio uses results from the same day."""
    result = run(
        record([mg(0.8), lab("calcium", 2.4, "mmol/L", day=date(2026, 11, 19))]), knowledge
    )
    assert result.ca_mg_ratio is None


# --- kidney function (CKD-EPI 2021, KDIGO 2012, clinical.md 8.3) --------------------------------------


def test_ckd_epi_2021_from_creatinine(knowledge: Knowledge) -> None:
    """CKDEPI21: a 50-year-old man with creatinine 1.0 mg/dL has eGFR about 92 (published
    calculators give 92); 88.4 umol/L gives the same."""
    male_50 = date(AS_OF.year - 50, 1, 1)
    mass = run(record([lab("creatinine", 1.0, "mg/dL")], sex="male", birth=male_50), knowledge).egfr
    molar = run(
        record([lab("creatinine", 88.4, "umol/L")], sex="male", birth=male_50), knowledge
    ).egfr
    assert mass is not None and molar is not None
    assert mass.value == pytest.approx(92, abs=1)
    assert molar.value == pytest.approx(mass.value, abs=0.1)
    assert mass.category == "G1"
    assert "CKD-EPI 2021" in mass.method


def test_reported_egfr_wins_when_newer(knowledge: Knowledge) -> None:
    """DESIGN.md 4: eGFR from an eGFR result, or CKD-EPI from creatinine; the newer counts."""
    labs = [
        lab("creatinine", 1.0, "mg/dL", day=date(2026, 10, 1)),
        lab("egfr", 40, "mL/min/{1.73_m2}"),
    ]
    result = run(record(labs), knowledge)
    assert result.egfr is not None and result.egfr.value == 40 and result.egfr.category == "G3b"
    assert "renal-impairment" in finding_codes(result)


def test_severe_renal_impairment_blocks_oral_supplement(knowledge: Knowledge) -> None:
    """clinical.md 8.3 (DERIVED mapping; Magnaspartate SmPC GFR < 30; MAGiCAL-CKD): eGFR < 30
    means no routine oral supplementation without specialist oversight."""
    result = run(record([mg(0.6), lab("egfr", 25, "mL/min/{1.73_m2}")]), knowledge)
    assert "avoid-supplement-renal" in rec_codes(result)
    assert "oral-magnesium" not in rec_codes(result)


def test_moderate_renal_impairment_cautions(knowledge: Knowledge) -> None:
    """clinical.md 8.3: eGFR 30-59 allows oral Mg with caution and a recheck."""
    result = run(record([mg(0.6), lab("egfr", 45, "mL/min/{1.73_m2}")]), knowledge)
    oral = next(r for r in result.recommendations if r.code == "oral-magnesium")
    assert "MGCARE-TEAM" in oral.detail
    assert "recheck-serum-magnesium" in rec_codes(result)


def test_dialysis_condition_blocks_supplement(knowledge: Knowledge) -> None:
    """clinical.md 8.3: dialysis or G5, never auto-recommend supplementation."""
    result = run(
        record([mg(0.6)], conditions=[cond("End-stage renal disease", ("icd10", "N18.6"))]),
        knowledge,
    )
    assert "avoid-supplement-renal" in rec_codes(result)
    assert "oral-magnesium" not in rec_codes(result)


# --- replacement route (review 3.3) --------------------------------------------------------------------


def test_mild_asymptomatic_gets_oral(knowledge: Knowledge) -> None:
    """Review 3.3 (seed 1.5.15): mild or asymptomatic deficiency, oral magnesium."""
    result = run(record([mg(0.6)], symptomatic=False), knowledge)
    assert "oral-magnesium" in rec_codes(result)
    assert "iv-magnesium-sulfate" not in rec_codes(result)
    assert "increase-dietary-magnesium" in rec_codes(result)


def test_severe_gets_iv(knowledge: Knowledge) -> None:
    """Review 3.3 (seed 1.5.16): severe deficiency, IV magnesium sulfate (critical)."""
    result = run(record([mg(0.4)]), knowledge)
    iv = next(r for r in result.recommendations if r.code == "iv-magnesium-sulfate")
    assert iv.severity == "critical"
    assert "USPI-MgSO4" in iv.evidence
    assert "oral-magnesium" not in rec_codes(result)


@pytest.mark.parametrize("flag", ["symptomatic", "haemodynamically_unstable", "serious_arrhythmia"])
def test_mild_with_symptoms_instability_or_arrhythmia_gets_iv(
    flag: str, knowledge: Knowledge
) -> None:
    """Review 3.3 (seed 1.5.16): symptoms, instability or serious arrhythmia mean IV even when mild."""
    result = run(record([mg(0.65)], **{flag: True}), knowledge)
    assert "iv-magnesium-sulfate" in rec_codes(result)
    assert "oral-magnesium" not in rec_codes(result)


def test_iv_with_renal_impairment_carries_label_limit(knowledge: Knowledge) -> None:
    """US MgSO4 label: severe renal insufficiency, at most 20 g per 48 h."""
    result = run(record([mg(0.4), lab("egfr", 25, "mL/min/{1.73_m2}")]), knowledge)
    iv = next(r for r in result.recommendations if r.code == "iv-magnesium-sulfate")
    assert knowledge.facts["iv-renal-limit"].text_en in iv.detail


def test_normal_gets_no_routine_supplementation(knowledge: Knowledge) -> None:
    """Review 3.3 (seed 1.5.20): no routine supplements unless deficiency is shown."""
    result = run(record([mg(0.9)]), knowledge)
    assert rec_codes(result) == ["no-routine-supplementation"]


def test_low_normal_gets_diet_and_recheck(knowledge: Knowledge) -> None:
    """DESIGN.md 3: the 0.70-0.75 gap is not deficiency; diet and a recheck, no supplement."""
    result = run(record([mg(0.72)]), knowledge)
    assert set(rec_codes(result)) == {"increase-dietary-magnesium", "recheck-serum-magnesium"}


# --- hypermagnesaemia (review 3.3; MSD) ------------------------------------------------------------------


def test_mild_hyper_normal_kidneys_needs_no_treatment(knowledge: Knowledge) -> None:
    """Review 3.3 (seed 1.5.17-18): stop Mg products; mild with normal kidneys needs no treatment."""
    result = run(
        record([mg(1.4), lab("egfr", 95, "mL/min/{1.73_m2}")], [med("Magnesium oxide 400 mg")]),
        knowledge,
    )
    stop = next(r for r in result.recommendations if r.code == "stop-magnesium-products")
    assert "magnesium oxide" in stop.detail.lower()
    assert knowledge.facts["hyper-mild-normal-kidneys"].text_en in stop.detail
    assert "iv-calcium" not in rec_codes(result)


def test_severe_hyper_gets_calcium_and_dialysis(knowledge: Knowledge) -> None:
    """Review 3.3 (seed 1.5.19), MSD: severe hyperMg, IV calcium and consider dialysis."""
    result = run(record([mg(2.3)]), knowledge)
    codes = rec_codes(result)
    assert {"stop-magnesium-products", "iv-calcium", "consider-dialysis"} <= set(codes)
    assert all(
        r.severity == "critical"
        for r in result.recommendations
        if r.code in ("iv-calcium", "consider-dialysis")
    )


def test_symptomatic_mild_hyper_gets_calcium(knowledge: Knowledge) -> None:
    """Review 3.3: significant cardiovascular symptoms call for IV calcium even when mild."""
    result = run(record([mg(1.4)], symptomatic=True), knowledge)
    assert "iv-calcium" in rec_codes(result)


# --- medications (clinical.md 6) ----------------------------------------------------------------------------


def test_depleting_drugs_one_finding_each(knowledge: Knowledge) -> None:
    """Seed 1.5.11 / Liamis21 / FDA11: loop and thiazide diuretics, aminoglycosides and PPIs
    deplete Mg; matched by ATC, RxNorm ingredient and free text, one finding per drug."""
    meds = [
        med("Lasix", ("atc", "C03CA01")),
        med("Hydrochlorothiazide 25 MG Oral Tablet"),
        med("gentamicin IV"),
        med("PPI", ("rxnorm", "7646")),
    ]
    result = run(record([mg(0.9)], meds), knowledge)
    summaries = [f.summary.lower() for f in result.findings if f.code == "depleting-medication"]
    assert len(summaries) == 4
    for drug in ("furosemide", "hydrochlorothiazide", "gentamicin", "omeprazole"):
        assert any(drug in s for s in summaries)


def test_stopped_medication_ignored(knowledge: Knowledge) -> None:
    """A stopped drug no longer depletes Mg."""
    result = run(record([mg(0.9)], [med("furosemide", status="stopped")]), knowledge)
    assert "depleting-medication" not in finding_codes(result)


def test_ppi_finding_carries_fda_advice(knowledge: Knowledge) -> None:
    """FDA11: PPI hypomagnesaemia, usually after > 1 year; measure before and periodically."""
    result = run(record([mg(0.9)], [med("omeprazole 20 mg")]), knowledge)
    finding = next(f for f in result.findings if f.code == "depleting-medication")
    assert knowledge.facts["ppi-fda"].text_en in finding.detail


def test_raising_drugs(knowledge: Knowledge) -> None:
    """clinical.md 6.2 (MSD): Mg antacids/laxatives and lithium raise serum Mg."""
    result = run(
        record(
            [mg(0.9)], [med("Milk of magnesia (magnesium hydroxide)"), med("lithium carbonate")]
        ),
        knowledge,
    )
    assert len([f for f in result.findings if f.code == "magnesium-raising-medication"]) == 2


def test_supplement_interaction_with_spacing(knowledge: Knowledge) -> None:
    """Cipro US label (clinical.md 6.3): take ciprofloxacin >= 2 h before or >= 6 h after Mg."""
    result = run(
        record([mg(0.9)], [med("magnesium citrate"), med("ciprofloxacin 500 mg")]), knowledge
    )
    cipro = knowledge.drugs_by_id["ciprofloxacin"]
    assert cipro.spacing is not None
    spacing = next(r for r in result.recommendations if r.code == "separate-dosing")
    assert cipro.spacing.text_en in spacing.detail
    assert "supplement-interaction" in finding_codes(result)


def test_no_interaction_without_magnesium_product(knowledge: Knowledge) -> None:
    """Spacing advice applies only when a Mg-containing product is taken."""
    result = run(record([mg(0.9)], [med("levothyroxine 100 mcg")]), knowledge)
    assert "supplement-interaction" not in finding_codes(result)


def test_hypokalaemia_coupling(knowledge: Knowledge) -> None:
    """clinical.md 5.4: hypoMg often coexists with hypokalaemia (lab interval decides 'low')."""
    k_low = lab("potassium", 3.1, "mmol/L", reference_low=3.5, reference_high=5.1)
    result = run(record([mg(0.6), k_low]), knowledge)
    assert "hypokalemia-with-low-magnesium" in finding_codes(result)
    normal_mg = run(record([mg(0.9), k_low]), knowledge)
    assert "hypokalemia-with-low-magnesium" not in finding_codes(normal_mg)


def test_potassium_without_interval_is_not_classified(knowledge: Knowledge) -> None:
    """clinical.md gives no potassium limit: without a lab interval, flag or site rule, no finding."""
    result = run(record([mg(0.6), lab("potassium", 3.1, "mmol/L")]), knowledge)
    assert "hypokalemia-with-low-magnesium" not in finding_codes(result)


def test_digoxin_with_low_magnesium(knowledge: Knowledge) -> None:
    """FDA11: hypoMg raises the risk of digoxin toxicity; severe hypoMg escalates to critical."""
    mild = run(record([mg(0.6)], [med("Digoxin 0.125 MG Oral Tablet")]), knowledge)
    severe = run(record([mg(0.4)], [med("Digoxin 0.125 MG Oral Tablet")]), knowledge)
    normal = run(record([mg(0.9)], [med("Digoxin 0.125 MG Oral Tablet")]), knowledge)
    assert (
        next(f for f in mild.findings if f.code == "digoxin-with-low-magnesium").severity
        == "warning"
    )
    assert (
        next(f for f in severe.findings if f.code == "digoxin-with-low-magnesium").severity
        == "critical"
    )
    assert "digoxin-with-low-magnesium" not in finding_codes(normal)


# --- rapid AF (R44-R46) ----------------------------------------------------------------------------------------


def test_rapid_af_adjunct(knowledge: Knowledge) -> None:
    """R46 (AF with rate > 110/min), R44/R45: IV Mg as an adjunct for rate control, with caveats."""
    af = cond("Atrial fibrillation", ("snomed", "49436004"))
    result = run(
        record([mg(0.9), lab("heart-rate", 128, "/min", day=AS_OF)], conditions=[af]), knowledge
    )
    assert "rapid-atrial-fibrillation" in finding_codes(result)
    adjunct = next(r for r in result.recommendations if r.code == "magnesium-adjunct-rapid-af")
    assert "Flushing" in adjunct.detail
    assert {"R44", "R45", "R46"} <= set(adjunct.evidence)


def test_rate_at_threshold_is_not_rapid(knowledge: Knowledge) -> None:
    """R46 enrolled rates above 110/min: exactly the threshold is not 'rapid'."""
    limit = knowledge.thresholds.rapid_af.heart_rate_above.value
    af = cond("Atrial fibrillation", ("snomed", "49436004"))
    result = run(record([lab("heart-rate", limit, "/min", day=AS_OF)], conditions=[af]), knowledge)
    assert "rapid-atrial-fibrillation" not in finding_codes(result)


def test_no_af_adjunct_in_hypermagnesaemia(knowledge: Knowledge) -> None:
    """Do not suggest more Mg when serum Mg is already high."""
    af = cond("Atrial fibrillation", ("snomed", "49436004"))
    result = run(
        record([mg(1.5), lab("heart-rate", 130, "/min", day=AS_OF)], conditions=[af]), knowledge
    )
    assert "magnesium-adjunct-rapid-af" not in rec_codes(result)


# --- units in the rules (DESIGN.md 4 implausible-unit) -----------------------------------------------------------


def test_mislabelled_panel_is_left_out(knowledge: Knowledge) -> None:
    """clinical.md 4.2: Mg 1.9 'mmol/L' next to Ca 9.4 'mmol/L' is a mg/dL panel mislabelled;
    both values are left out and said so, never silently converted."""
    result = run(record([mg(1.9), lab("calcium", 9.4, "mmol/L")]), knowledge)
    assert result.serum_magnesium is None
    assert finding_codes(result).count("implausible-unit") == 2
    assert result.ca_mg_ratio is None


def test_suspect_unit_alone_warns(knowledge: Knowledge) -> None:
    """clinical.md 4.2: 1.8 'mmol/L' alone may be real hyperMg or a mislabel: classify, and ask
    to confirm the unit."""
    result = run(record([mg(1.8)]), knowledge)
    assert result.serum_magnesium is not None and result.serum_magnesium.status == "hypermagnesemia"
    recheck = next(r for r in result.recommendations if r.code == "recheck-serum-magnesium")
    assert "unit" in recheck.summary


def test_results_after_as_of_are_ignored(knowledge: Knowledge) -> None:
    """Assessing as of a past date uses only what was known then."""
    result = run(record([mg(0.4, day=LAB_DAY)]), knowledge, as_of=date(2026, 11, 1))
    assert result.serum_magnesium is None


# --- output contract ------------------------------------------------------------------------------------------------


def test_every_item_has_evidence_from_the_pack_and_disclaimer(knowledge: Knowledge) -> None:
    """Standards: every recommendation shows its evidence and a decision-support disclaimer."""
    rec = record(
        [
            mg(0.4),
            lab("calcium", 2.4, "mmol/L"),
            lab("potassium", 3.0, "mmol/L", reference_low=3.5, reference_high=5),
            lab("egfr", 25, "mL/min/{1.73_m2}"),
            lab("heart-rate", 130, "/min", day=AS_OF),
        ],
        [med("furosemide"), med("magnesium oxide"), med("ciprofloxacin"), med("digoxin")],
        [cond("AF", ("snomed", "49436004")), cond("T2DM", ("icd10", "E11.9"))],
        symptomatic=True,
    )
    for lang in ("en", "zh"):
        result = run(rec, knowledge, lang=lang)
        assert result.disclaimer
        for item in [*result.findings, *result.recommendations]:
            assert item.evidence
            assert all(ref in knowledge.references for ref in item.evidence)
            assert item.summary and item.detail


def test_languages_give_same_codes(knowledge: Knowledge) -> None:
    """Both languages carry the same decisions; only the text differs."""
    rec = record(
        [mg(0.6), lab("calcium", 2.4, "mmol/L")],
        [med("furosemide")],
        [cond("T2DM", ("icd10", "E11.9"))],
    )
    en, zh = run(rec, knowledge, "en"), run(rec, knowledge, "zh")
    assert finding_codes(en) == finding_codes(zh)
    assert rec_codes(en) == rec_codes(zh)
    assert en.findings[0].summary != zh.findings[0].summary


def test_site_override_changes_interval_and_is_named(tmp_path: Path) -> None:
    """DESIGN.md 2: a site may replace the reference interval; output names the site rule."""
    site = tmp_path / "site.toml"
    site.write_text(
        'name = "Example Lab 2026"\n'
        "[thresholds.serum_magnesium.normal_upper]\nvalue = 1.05\n"
        '[thresholds.potassium.lower_limit]\nvalue = 3.5\nunit = "mmol/L"\n',
        encoding="utf-8",
    )
    knowledge = load_knowledge(site)
    assert "Example Lab 2026" in knowledge.version
    result = run(record([mg(1.15)]), knowledge)
    finding = next(f for f in result.findings if f.code == "hypermagnesemia")
    assert "Example Lab 2026" in finding.detail
    assert "SITE" in finding.evidence
    coupled = run(record([mg(0.6), lab("potassium", 3.2, "mmol/L")]), knowledge)
    assert "hypokalemia-with-low-magnesium" in finding_codes(coupled)


def test_conflicting_same_day_egfr_takes_lowest(knowledge: Knowledge) -> None:
    """Conflicting same-day eGFRs (seen in Synthea): the most cautious value decides renal gating."""
    labs = [lab("egfr", 84, "mL/min/{1.73_m2}"), lab("egfr", 25, "mL/min/{1.73_m2}"), mg(0.6)]
    result = run(record(labs), knowledge)
    assert result.egfr is not None and result.egfr.value == 25
    assert "avoid-supplement-renal" in rec_codes(result)


def test_ckd_epi_uses_age_on_creatinine_date(knowledge: Knowledge) -> None:
    """CKDEPI21: the equation takes the age when the creatinine was measured."""
    born = date(1980, 6, 1)
    old_result = lab("creatinine", 1.0, "mg/dL", day=date(2000, 6, 2))
    result = run(record([old_result], sex="male", birth=born), knowledge)
    recent = run(
        record([lab("creatinine", 1.0, "mg/dL", day=date(2026, 6, 2))], sex="male", birth=born),
        knowledge,
    )
    assert result.egfr is not None and recent.egfr is not None
    assert result.egfr.value > recent.egfr.value


def test_clinician_can_overrule_coded_rapid_af(knowledge: Knowledge) -> None:
    """DESIGN.md 4: explicit context wins over what is inferred from codes."""
    af = cond("Atrial fibrillation", ("snomed", "49436004"))
    labs = [mg(0.6), lab("heart-rate", 130, "/min", day=AS_OF)]
    inferred = run(record(labs, conditions=[af]), knowledge)
    overruled = run(record(labs, conditions=[af], serious_arrhythmia=False), knowledge)
    assert "iv-magnesium-sulfate" in rec_codes(inferred)
    assert "iv-magnesium-sulfate" not in rec_codes(overruled)
    assert "oral-magnesium" in rec_codes(overruled)


def test_lookback_at_the_start_of_the_calendar(knowledge: Knowledge) -> None:
    """An as-of date near year 1 must not crash the look-back arithmetic (found by schemathesis)."""
    assert months_before(date(1, 3, 1), 6) == date.min
    result = run(record([]), knowledge, as_of=date(1, 1, 1))
    assert "magnesium-not-measured" in finding_codes(result)
