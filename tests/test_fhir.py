"""FHIR R4 input: real Synthea/HL7 data and hand-written fixtures, read and assessed end to end.

Real data lives in two places:
- `/work/shared/data` (all 22 Synthea bundles and 13 HL7 examples): tests that need it are
  skipped, with the reason, when it is absent;
- `tests/fixtures/fhir/real/` (2 Synthea bundles, 3 HL7 examples, copied unchanged): always run.

Hand-written fixtures in `tests/fixtures/fhir/` are assessed as of 2026-11-25; the expected codes
follow DESIGN.md sections 3-4 and the rules in `mgcare.rules.assess`.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mgcare.inputs import load_record
from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.model import Assessment, ClinicalContext, PatientRecord
from mgcare.rules import assess
from tests.conftest import ASSESSMENT_KEYS

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = REPO / "tests" / "fixtures" / "fhir"
REAL = FIXTURES / "real"
AS_OF = date(2026, 11, 25)

SYNTHEA_NAMES = (
    sorted(p.name for p in (SHARED_DATA / "synthea_r4").glob("*.json"))
    if (SHARED_DATA / "synthea_r4").is_dir()
    else ["shared-data-absent"]
)
HL7_NAMES = (
    sorted(p.name for p in (SHARED_DATA / "fhir_r4_examples").glob("*.json"))
    if (SHARED_DATA / "fhir_r4_examples").is_dir()
    else ["shared-data-absent"]
)
REAL_SYNTHEA = {
    # file: (patient id, sex, birth date) as in /work/shared/data/synthea_r4/manifest.csv
    "Lupe_Little_f8a42e66-8c03-4ee6-85e3-3817c2942de1.json": (
        "31052ccc-7804-4268-b953-741322eed47e",
        "male",
        date(1982, 4, 7),
    ),
    "Floyd_Connelly_66843218-a9f9-4f16-8347-bdc2a0d14265.json": (
        "6f8ccac9-41a3-42a2-a97b-06bfc0a91c26",
        "male",
        date(1979, 12, 19),
    ),
}
CREATININE_LOINC = ("2160-0", "14682-9", "38483-4")


# --- helpers and fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def knowledge() -> Iterator[Knowledge]:
    """The shipped pack, never a site override picked up from the environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MGCARE_SITE_CONFIG", raising=False)
        yield load_knowledge()


@pytest.fixture(scope="module")
def shared_data() -> Path:
    """`/work/shared/data` located from the repo root; skip when the staged data is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"staged real data not found at {SHARED_DATA} (/work/shared is absent)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def synthea_manifest(shared_data: Path) -> dict[str, dict[str, str]]:
    """Rows of synthea_r4/manifest.csv by file name."""
    with (shared_data / "synthea_r4" / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def _codes(items: list[Any]) -> Counter[str]:
    return Counter(item.code for item in items)


def _item(items: list[Any], code: str) -> Any:
    matches = [item for item in items if item.code == code]
    assert len(matches) == 1, f"expected one {code}, got {[i.code for i in items]}"
    return matches[0]


def _years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@cache
def _load(path: Path, today: date = AS_OF) -> PatientRecord:
    return load_record(path, load_knowledge(), today)


def _assess(path: Path, knowledge: Knowledge, as_of: date = AS_OF, lang: str = "en") -> Assessment:
    return assess(_load(path), knowledge, as_of=as_of, lang=lang)  # type: ignore[arg-type]


def _as_of_for(row: dict[str, str]) -> date:
    """Assess the living as of 2026-11-25 and the deceased on their date of death."""
    return date.fromisoformat(row["deceased"][:10]) if row["deceased"] else AS_OF


def _day(text: str) -> date:
    return datetime.fromisoformat(text).date() if "T" in text else date.fromisoformat(text)


def _latest_observation(
    bundle: dict[str, Any], codes: tuple[str, ...], as_of: date
) -> tuple[date, list[float]] | None:
    """Latest day (on or before as_of) with an Observation of one of these LOINC codes, and all
    values of that day, read straight from the JSON (independently of mgcare)."""
    by_day: dict[date, list[float]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "Observation" or "valueQuantity" not in resource:
            continue
        if not any(c.get("code") in codes for c in resource["code"].get("coding", [])):
            continue
        day = _day(resource["effectiveDateTime"])
        if day <= as_of:
            by_day.setdefault(day, []).append(float(resource["valueQuantity"]["value"]))
    if not by_day:
        return None
    latest = max(by_day)
    return latest, by_day[latest]


# --- every staged real file loads and assesses ----------------------------------------------------


@pytest.mark.parametrize("name", SYNTHEA_NAMES)
def test_every_synthea_bundle_loads_and_assesses(
    name: str, shared_data: Path, knowledge: Knowledge, synthea_manifest: dict[str, dict[str, str]]
) -> None:
    """Every staged Synthea transaction bundle (urn:uuid references, 118-308 entries) is read and
    assessed in both languages without an exception, and the Patient is the manifest's."""
    path = shared_data / "synthea_r4" / name
    row = synthea_manifest[name]
    for lang in ("en", "zh"):
        result = _assess(path, knowledge, _as_of_for(row), lang)
        assert result.person.id == row["patient_id"]
        assert result.findings, "every assessment says at least whether Mg was measured"


@pytest.mark.parametrize("name", HL7_NAMES)
def test_every_hl7_example_loads_and_assesses(
    name: str, shared_data: Path, knowledge: Knowledge
) -> None:
    """Every staged official HL7 R4 example (single resources and a searchset Bundle) is read and
    assessed without an exception."""
    result = _assess(shared_data / "fhir_r4_examples" / name, knowledge)
    assert result.knowledge_version == knowledge.version


def test_synthea_demographics_are_read(
    shared_data: Path, knowledge: Knowledge, synthea_manifest: dict[str, dict[str, str]]
) -> None:
    """Sex and age (whole years on the assessment date, from Patient.birthDate) of every Synthea
    patient match the manifest."""
    for name, row in synthea_manifest.items():
        as_of = _as_of_for(row)
        result = _assess(shared_data / "synthea_r4" / name, knowledge, as_of)
        assert result.person.sex == row["gender"], name
        assert result.person.age_years == _years(date.fromisoformat(row["birthDate"]), as_of), name


def test_hydrochlorothiazide_patients_get_finding_and_check(
    shared_data: Path, knowledge: Knowledge, synthea_manifest: dict[str, dict[str, str]]
) -> None:
    """Synthea patients on active hydrochlorothiazide (RxNorm product codes, no Mg result) get a
    `depleting-medication` finding naming hydrochlorothiazide and an escalated
    `check-serum-magnesium` recommendation that gives the drug as the reason."""
    rows = [r for n, r in synthea_manifest.items() if "Hydrochlorothiazide" in r["diuretics"]]
    assert len(rows) >= 12
    for row in rows:
        result = _assess(shared_data / "synthea_r4" / row["file"], knowledge, _as_of_for(row))
        assert result.serum_magnesium is None
        assert "magnesium-not-measured" in _codes(result.findings)
        depleting = [f.summary for f in result.findings if f.code == "depleting-medication"]
        assert any(s.startswith("Hydrochlorothiazide (thiazide") for s in depleting), (
            row["file"],
            depleting,
        )
        check = _item(result.recommendations, "check-serum-magnesium")
        assert "hydrochlorothiazide" in check.summary
        assert check.severity == "warning"


def test_furosemide_patients_get_furosemide_finding(
    shared_data: Path, knowledge: Knowledge, synthea_manifest: dict[str, dict[str, str]]
) -> None:
    """The four Synthea CHF patients given 'Lasix 40mg' / 'Furosemide 10 MG/ML Injection' (product
    RxCUIs, found by name and brand) get one furosemide `depleting-medication` finding, assessed
    on their date of death (all four are deceased)."""
    rows = [r for r in synthea_manifest.values() if "Furosemide" in r["diuretics"]]
    assert len(rows) == 4
    for row in rows:
        result = _assess(shared_data / "synthea_r4" / row["file"], knowledge, _as_of_for(row))
        summaries = [f.summary for f in result.findings if f.code == "depleting-medication"]
        assert sum(s.startswith("Furosemide (loop diuretic)") for s in summaries) == 1, summaries
        assert "check-serum-magnesium" in _codes(result.recommendations)


def test_digoxin_patients_get_digoxin_finding(
    shared_data: Path, knowledge: Knowledge, synthea_manifest: dict[str, dict[str, str]]
) -> None:
    """Synthea patients on 'Digoxin 0.125 MG Oral Tablet' get a digoxin `depleting-medication`
    finding, but no digoxin-with-low-magnesium finding since no Mg was measured."""
    rows = [r for r in synthea_manifest.values() if "Digoxin" in r["other_relevant_meds"]]
    assert len(rows) == 2
    for row in rows:
        result = _assess(shared_data / "synthea_r4" / row["file"], knowledge, _as_of_for(row))
        summaries = [f.summary for f in result.findings if f.code == "depleting-medication"]
        assert any(s.startswith("Digoxin (cardiac glycoside)") for s in summaries), summaries
        assert "digoxin-with-low-magnesium" not in _codes(result.findings)


def test_synthea_controls_have_no_depleting_medication(
    shared_data: Path, knowledge: Knowledge, synthea_manifest: dict[str, dict[str, str]]
) -> None:
    """Control patients (no diuretic, no digoxin) get no `depleting-medication` finding: naproxen,
    metformin, amoxicillin and the like are not mistaken for Mg-depleting drugs."""
    rows = [
        r
        for r in synthea_manifest.values()
        if not r["diuretics"] and "Digoxin" not in r["other_relevant_meds"]
    ]
    assert len(rows) == 4
    for row in rows:
        result = _assess(shared_data / "synthea_r4" / row["file"], knowledge, _as_of_for(row))
        assert "depleting-medication" not in _codes(result.findings), row["file"]


def test_synthea_egfr_33914_3_is_used_with_its_method(
    shared_data: Path, knowledge: Knowledge, synthea_manifest: dict[str, dict[str, str]]
) -> None:
    """Synthea's reported eGFR (LOINC 33914-3, MDRD) is the `egfr` whenever it is at least as recent
    as the latest creatinine, with a method naming LOINC 33914-3; otherwise CKD-EPI 2021 from
    creatinine is used. Checked against the bundle JSON read independently."""
    reported_used = 0
    for name, row in synthea_manifest.items():
        as_of = _as_of_for(row)
        bundle = json.loads((shared_data / "synthea_r4" / name).read_text(encoding="utf-8"))
        egfr = _latest_observation(bundle, ("33914-3",), as_of)
        creatinine = _latest_observation(bundle, CREATININE_LOINC, as_of)
        result = _assess(shared_data / "synthea_r4" / name, knowledge, as_of)
        assert result.egfr is not None, name
        if egfr is not None and (creatinine is None or egfr[0] >= creatinine[0]):
            reported_used += 1
            assert "LOINC 33914-3" in result.egfr.method, name
            assert egfr[0].isoformat() in result.egfr.method
            # Synthea sometimes has two different 33914-3 values at the same instant: any of them.
            assert result.egfr.value in {round(value, 1) for value in egfr[1]}, name
        else:
            assert result.egfr.method.startswith("CKD-EPI 2021 from creatinine"), name
    assert reported_used >= 15


# --- real copies that always run ------------------------------------------------------------------


def test_real_copies_match_shared_data(shared_data: Path) -> None:
    """The copies in tests/fixtures/fhir/real/ are unchanged copies of the staged originals."""
    for path in sorted(REAL.glob("*.json")):
        folder = "synthea_r4" if path.name in REAL_SYNTHEA else "fhir_r4_examples"
        assert path.read_bytes() == (shared_data / folder / path.name).read_bytes(), path.name


@pytest.mark.parametrize("name", sorted(REAL_SYNTHEA))
def test_real_synthea_control_assessment(name: str, knowledge: Knowledge) -> None:
    """A real Synthea control (transaction bundle, urn:uuid refs; no diuretic, no Mg, no reported
    eGFR; 'Prediabetes' and 'History of ...' conditions): identity, sex and age are read, eGFR
    comes from CKD-EPI 2021 on the latest creatinine (38483-4, mg/dL), and the only finding is
    `magnesium-not-measured` with no monitoring recommendation (prediabetes is not diabetes)."""
    patient_id, sex, born = REAL_SYNTHEA[name]
    result = _assess(REAL / name, knowledge)
    assert (result.person.id, result.person.sex) == (patient_id, sex)
    assert result.person.age_years == _years(born, AS_OF)
    bundle = json.loads((REAL / name).read_text(encoding="utf-8"))
    assert _latest_observation(bundle, ("33914-3",), AS_OF) is None
    creatinine = _latest_observation(bundle, CREATININE_LOINC, AS_OF)
    assert creatinine is not None
    assert result.egfr is not None
    assert result.egfr.method.startswith("CKD-EPI 2021 from creatinine")
    assert creatinine[0].isoformat() in result.egfr.method
    assert result.egfr.category == "G2"
    assert result.serum_magnesium is None and result.ca_mg_ratio is None
    assert _codes(result.findings) == Counter({"magnesium-not-measured": 1})
    assert not result.recommendations


def test_real_hl7_patient_example(knowledge: Knowledge) -> None:
    """HL7's patient-example (a bare Patient resource, not a Bundle): id, sex and age are read."""
    result = _assess(REAL / "patient-example.json", knowledge)
    assert (result.person.id, result.person.sex, result.person.age_years) == ("example", "male", 51)
    assert _codes(result.findings) == Counter({"magnesium-not-measured": 1})


def test_real_hl7_contained_chlorthalidone(knowledge: Knowledge) -> None:
    """HL7's medicationrequestexample1 references a contained Medication ('#med0316', SNOMED
    'Chlorthalidone 50mg tablet'): while the prescription is valid (2015) the thiazide-like
    diuretic is found by its US spelling; after validityPeriod.end (2016-01-15) it is not current."""
    path = REAL / "medicationrequestexample1.json"
    during = assess(_load(path), knowledge, as_of=date(2015, 6, 1))
    finding = _item(during.findings, "depleting-medication")
    assert finding.summary.startswith("Chlortalidone (thiazide-like diuretic)")
    assert "chlortalidone" in _item(during.recommendations, "check-serum-magnesium").summary
    after = _assess(path, knowledge)
    assert "depleting-medication" not in _codes(after.findings)
    assert "check-serum-magnesium" not in _codes(after.recommendations)


def test_real_hl7_searchset_with_included_medication(knowledge: Knowledge) -> None:
    """HL7's bundle-example (searchset; a MedicationRequest referencing an `_include`d Medication
    that has no code): the reference resolves, nothing is identified, nothing is invented."""
    record = _load(REAL / "bundle-example.json")
    assert len(record.medications) == 1
    assert record.medications[0].source == "MedicationRequest/3123"
    result = _assess(REAL / "bundle-example.json", knowledge)
    assert _codes(result.findings) == Counter({"magnesium-not-measured": 1})
    assert not result.recommendations


# --- hand-written fixtures -------------------------------------------------------------------------


def _ckd_epi_2021_female(creatinine_umol_l: float, age: int) -> float:
    """Inker 2021 race-free CKD-EPI creatinine equation for a woman (88.4 umol/L per mg/dL)."""
    scr = creatinine_umol_l / 88.4
    ratio = scr / 0.7
    return 142 * min(ratio, 1) ** -0.241 * max(ratio, 1) ** -1.200 * 0.9938**age * 1.012


def test_low_mg_on_ppi_findings(knowledge: Knowledge) -> None:
    """Collection bundle: woman born 1958 on omeprazole (RxNorm 7646) and digoxin (text only),
    AF (SNOMED 49436004), type 2 diabetes (ICD-10-CM E11.9); Mg 0.55 mmol/L against the lab's
    0.70-1.00 interval, Ca 2.3 mmol/L the same day, K 3.1 (lab low 3.5), creatinine 80 umol/L,
    heart rate 128/min on the assessment day. Every coupling rule fires exactly once."""
    result = _assess(FIXTURES / "mg_low_on_ppi_bundle.json", knowledge)
    assert (result.person.id, result.person.sex, result.person.age_years) == (
        "mg-low-ppi-pt",
        "female",
        68,
    )

    serum = result.serum_magnesium
    assert serum is not None
    assert (serum.value, serum.unit, serum.status) == (0.55, "mmol/L", "hypomagnesemia")
    assert serum.mmol_l == pytest.approx(0.55)
    assert serum.ctcae_grade == 1  # below LLN, not below 0.5 mmol/L: grade 1, not "severe"
    assert serum.effective.startswith("2026-11-20")

    ratio = result.ca_mg_ratio
    assert ratio is not None
    assert ratio.molar == pytest.approx(2.3 / 0.55, abs=1e-3)
    assert (ratio.cutoff, ratio.applies) == (2.55, True)

    assert result.egfr is not None
    assert result.egfr.method.startswith("CKD-EPI 2021 from creatinine 80 umol/L")
    assert result.egfr.value == pytest.approx(_ckd_epi_2021_female(80, 68), abs=0.3)
    assert result.egfr.category == "G2"

    assert _codes(result.findings) == Counter(
        {
            "hypomagnesemia": 1,
            "depleting-medication": 2,
            "hypokalemia-with-low-magnesium": 1,
            "digoxin-with-low-magnesium": 1,
            "rapid-atrial-fibrillation": 1,
            "ca-mg-ratio-high": 1,
        }
    )
    depleting = sorted(f.summary for f in result.findings if f.code == "depleting-medication")
    assert depleting[0].startswith("Digoxin (cardiac glycoside)")
    assert depleting[1].startswith("Omeprazole (proton pump inhibitor)")
    # With low Mg the depleting drugs are escalated from info to warning.
    assert {f.severity for f in result.findings if f.code == "depleting-medication"} == {"warning"}
    assert (
        "FDA11" in next(f for f in result.findings if f.summary.startswith("Omeprazole")).evidence
    )
    assert "3.1" in _item(result.findings, "hypokalemia-with-low-magnesium").summary
    assert "128" in _item(result.findings, "rapid-atrial-fibrillation").summary


def test_low_mg_on_ppi_recommendations(knowledge: Knowledge) -> None:
    """Low Mg with a recent result and rapid AF: IV magnesium sulfate (critical), diet, recheck
    and the rapid-AF adjunct, each once; no monitoring prompt (a recent result exists), no oral
    replacement, no 'no routine supplementation', nothing for high Mg or the kidney."""
    result = _assess(FIXTURES / "mg_low_on_ppi_bundle.json", knowledge)
    assert _codes(result.recommendations) == Counter(
        {
            "iv-magnesium-sulfate": 1,
            "increase-dietary-magnesium": 1,
            "recheck-serum-magnesium": 1,
            "magnesium-adjunct-rapid-af": 1,
        }
    )
    assert result.recommendations[0].code == "iv-magnesium-sulfate"
    assert result.recommendations[0].severity == "critical"


def test_low_mg_explicit_serious_arrhythmia_gives_iv(knowledge: Knowledge) -> None:
    """Clinical context given explicitly (as `--arrhythmia` does) turns replacement into IV
    magnesium sulfate, a critical recommendation, instead of oral magnesium."""
    record = _load(FIXTURES / "mg_low_on_ppi_bundle.json")
    record = record.model_copy(update={"context": ClinicalContext(serious_arrhythmia=True)})
    result = assess(record, knowledge, as_of=AS_OF)
    assert _item(result.recommendations, "iv-magnesium-sulfate").severity == "critical"
    assert "oral-magnesium" not in _codes(result.recommendations)


def test_low_mg_with_rapid_af_recommends_iv(knowledge: Knowledge) -> None:
    """DESIGN.md section 4: serious arrhythmia 'is read from Conditions/Observations where coded
    (e.g. AF with heart rate > 110/min)', and `iv-magnesium-sulfate` is for deficiency with
    serious arrhythmia; so coded AF at 128/min with Mg 0.55 mmol/L (on digoxin, K 3.1) should
    give IV, not oral, magnesium without any CLI flag."""
    result = _assess(FIXTURES / "mg_low_on_ppi_bundle.json", knowledge)
    codes = _codes(result.recommendations)
    assert codes["iv-magnesium-sulfate"] == 1
    assert "oral-magnesium" not in codes


def test_low_mg_codes_are_language_independent(knowledge: Knowledge) -> None:
    """Codes and severities are the stable contract: the zh assessment has the same ones as en."""
    path = FIXTURES / "mg_low_on_ppi_bundle.json"
    english, chinese = _assess(path, knowledge, lang="en"), _assess(path, knowledge, lang="zh")
    for kind in ("findings", "recommendations"):
        assert [(i.code, i.severity) for i in getattr(english, kind)] == [
            (i.code, i.severity) for i in getattr(chinese, kind)
        ]
    assert english.findings[0].summary != chinese.findings[0].summary


def test_mislabelled_panel_is_left_out(knowledge: Knowledge) -> None:
    """Mg 1.9 and Ca 9.4, both labelled mmol/L on the same day (a mg/dL panel mislabelled): Ca is
    impossible in mmol/L, which corroborates the Mg mislabel, so both get `implausible-unit`
    naming mg/dL, and neither is used: no serum Mg, no Ca/Mg ratio, and above all no
    hypermagnesaemia from reading 1.9 as mmol/L."""
    result = _assess(FIXTURES / "mg_mislabel_panel.json", knowledge)
    assert result.serum_magnesium is None
    assert result.ca_mg_ratio is None
    implausible = [f for f in result.findings if f.code == "implausible-unit"]
    assert sorted(f.summary.split(" is ")[0] for f in implausible) == [
        "Serum calcium 9.4 mmol/L",
        "Serum magnesium 1.9 mmol/L",
    ]
    assert all("mg/dL" in f.detail for f in implausible)
    codes = _codes(result.findings)
    assert not {"hypermagnesemia", "hypermagnesemia-severe", "ca-mg-ratio-high"} & set(codes)
    assert not {"stop-magnesium-products", "iv-calcium"} & set(_codes(result.recommendations))


def test_severe_hypermagnesaemia_in_ckd(knowledge: Knowledge) -> None:
    """Searchset: Mg 5.2 mg/dL (2.14 mmol/L, >= 2.0: severe; CTCAE grade 3 graded in mg/dL),
    reported eGFR 22 (98979-8), active magnesium oxide by text, CKD N18.4. Expected: severe
    hypermagnesaemia, renal impairment G4, Mg product escalated; stop Mg products (critical),
    IV calcium, consider dialysis, avoid supplements for the kidney, recheck; no replacement."""
    result = _assess(FIXTURES / "mg_high_severe_searchset.json", knowledge)
    assert (result.person.id, result.person.sex, result.person.age_years) == (
        "mg-high-pt",
        "male",
        82,
    )
    serum = result.serum_magnesium
    assert serum is not None
    assert (serum.value, serum.unit, serum.status, serum.ctcae_grade) == (
        5.2,
        "mg/dL",
        "hypermagnesemia-severe",
        3,
    )
    assert serum.mmol_l == pytest.approx(5.2 * 10 / 24.305, abs=1e-3)
    assert result.egfr is not None
    assert (result.egfr.value, result.egfr.category) == (22.0, "G4")
    assert "LOINC 98979-8" in result.egfr.method

    assert _codes(result.findings) == Counter(
        {"hypermagnesemia-severe": 1, "renal-impairment": 1, "magnesium-raising-medication": 1}
    )
    assert _item(result.findings, "hypermagnesemia-severe").severity == "critical"
    raising = _item(result.findings, "magnesium-raising-medication")
    assert raising.summary.startswith("Magnesium oxide")
    assert raising.severity == "warning"

    assert _codes(result.recommendations) == Counter(
        {
            "stop-magnesium-products": 1,
            "iv-calcium": 1,
            "consider-dialysis": 1,
            "avoid-supplement-renal": 1,
            "recheck-serum-magnesium": 1,
        }
    )
    stop = _item(result.recommendations, "stop-magnesium-products")
    assert stop.severity == "critical"
    assert "magnesium oxide" in stop.summary + stop.detail
    assert (
        "22"
        in _item(result.recommendations, "avoid-supplement-renal").summary
        + _item(result.recommendations, "avoid-supplement-renal").detail
    )


def test_transaction_bundle_resolves_urn_uuid_medication(knowledge: Knowledge) -> None:
    """Transaction bundle with urn:uuid fullUrls: the MedicationRequest references its Medication
    (furosemide, RxNorm 4603) as `urn:uuid:...`, as Synthea and most EHR exports do. The reference
    must resolve: furosemide is a depleting drug; Mg 0.9 mmol/L is normal."""
    result = _assess(FIXTURES / "transaction_with_urn_refs.json", knowledge)
    assert result.person.sex == "male" and result.person.age_years == 64
    assert result.serum_magnesium is not None and result.serum_magnesium.status == "normal"
    summaries = [f.summary for f in result.findings if f.code == "depleting-medication"]
    assert len(summaries) == 1 and summaries[0].startswith("Furosemide (loop diuretic)")
    assert "no-routine-supplementation" in _codes(result.recommendations)


@pytest.mark.parametrize("effective", ["2026-11", "2026"])
def test_partial_fhir_dates_keep_their_year(effective: str, knowledge: Knowledge) -> None:
    """FHIR R4 dateTime allows year and year-month precision. A Mg Observation dated '2026-11' or
    '2026' is valid FHIR and must be read as a 2026 result, never rejected or moved to 1970."""
    from mgcare.inputs import record_from_document

    observation = {
        "resourceType": "Observation",
        "id": "mg-partial",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2601-3"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": effective,
        "valueQuantity": {
            "value": 0.62,
            "unit": "mmol/L",
            "system": "http://unitsofmeasure.org",
            "code": "mmol/L",
        },
    }
    record = record_from_document(observation, knowledge, AS_OF)
    assert [lab.effective_date.year for lab in record.labs] == [2026]


def test_hand_written_fixtures_are_fhir_r4(knowledge: Knowledge) -> None:
    """Every resource in the hand-written fixtures parses with the FHIR models mgcare uses, and
    every fixture dates its data in 2026 on or before the assessment date."""
    from fhir.resources.R4B import get_fhir_model_class

    for path in sorted(FIXTURES.glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        get_fhir_model_class("Bundle").model_validate(bundle)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            for key in ("effectiveDateTime", "authoredOn"):
                if key in resource:
                    assert date(2026, 1, 1) <= _day(resource[key]) <= AS_OF, (path.name, key)


def test_cli_json_output_contract(tmp_path: Path) -> None:
    """`mgcare assess FILE --format json` prints exactly the DESIGN.md section 4 object, exit 0,
    nothing on stderr."""
    env = {k: v for k, v in os.environ.items() if k != "MGCARE_SITE_CONFIG"}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mgcare.cli",
            "assess",
            str(FIXTURES / "mg_high_severe_searchset.json"),
            "--as-of",
            "2026-11-25",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    output = json.loads(completed.stdout)
    assert set(output) == ASSESSMENT_KEYS
    assert set(output["person"]) == {"id", "age_years", "sex"}
    assert set(output["serum_magnesium"]) == {
        "value",
        "unit",
        "mmol_l",
        "status",
        "ctcae_grade",
        "effective",
    }
    assert set(output["egfr"]) == {"value", "category", "method"}
    for item in output["findings"] + output["recommendations"]:
        assert set(item) == {"code", "severity", "summary", "detail", "evidence"}
        assert item["severity"] in ("info", "warning", "critical")
