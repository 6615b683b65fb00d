"""FHIR Bundle export: valid R4B, and import -> export -> import gives the same record and the
same assessment."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from mgcare.fhir import record_from_fhir
from mgcare.inputs import record_from_document
from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.model import Coding, Condition, LabResult, Medication, PatientRecord, Person
from mgcare.rules.assess import assess
from mgcare.store import repository as repo
from mgcare.store.fhir_export import bundle_of, export_fhir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
TODAY = date(2026, 11, 25)
ROUND_TRIP = [
    "mg_low_on_ppi_bundle.json",
    "mg_high_severe_searchset.json",
    "mg_mislabel_panel.json",
    "transaction_with_urn_refs.json",
    "real/Floyd_Connelly_66843218-a9f9-4f16-8347-bdc2a0d14265.json",
    "real/bundle-example.json",
    "real/medicationrequestexample1.json",
    "real/patient-example.json",
]


def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


def test_export_is_a_valid_collection_bundle(engine: Engine, knowledge: Knowledge) -> None:
    person_id = repo.import_record(engine, document("mg_low_on_ppi_bundle.json"), knowledge, TODAY)
    moment = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    bundle = export_fhir(engine, person_id, knowledge, timestamp=moment)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert bundle["timestamp"].startswith("2026-11-25T08:30:00")
    types = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert types[0] == "Patient"
    assert types.count("Observation") == 5 and types.count("Condition") == 2
    assert {"MedicationRequest", "MedicationStatement"} <= set(types)
    patient = bundle["entry"][0]["resource"]
    assert patient["id"] == "mg-low-ppi-pt" and patient["gender"] == "female"
    assert patient["name"][0]["given"] == ["Ruth"] and patient["name"][0]["family"] == "Example"
    subject = bundle["entry"][0]["fullUrl"]
    magnesium = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["coding"][0]["code"] in {"19123-9", "2601-3"}
    ]
    assert magnesium
    for observation in magnesium:
        assert observation["subject"]["reference"] == subject
        quantity = observation["valueQuantity"]
        assert quantity["system"] == "http://unitsofmeasure.org"
        assert quantity["code"] in knowledge.analytes["magnesium"].units
        assert "effectiveDateTime" in observation
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(set(full_urls)) == len(full_urls)
    with pytest.raises(repo.StoreError):
        export_fhir(engine, 999, knowledge)


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_import_export_import_round_trips(engine: Engine, knowledge: Knowledge, name: str) -> None:
    original = record_from_document(document(name), knowledge, TODAY)
    person_id = repo.import_record(engine, document(name), knowledge, TODAY)
    exported = export_fhir(engine, person_id, knowledge)
    again = record_from_document(exported, knowledge, TODAY)
    assert again == original
    assert assess(again, knowledge, as_of=TODAY) == assess(original, knowledge, as_of=TODAY)
    if original.person.id is not None:  # into the store again: same person, nothing added
        assert repo.import_record(engine, exported, knowledge, TODAY) == person_id
        assert repo.person_record(engine, person_id) == original


def test_reference_range_interpretation_and_inactive_condition_survive() -> None:
    knowledge = load_knowledge()
    record = PatientRecord(
        person=Person(id="rr", sex="male", birth_date=date(1950, 1, 1), deceased=date(2026, 1, 1)),
        labs=(
            LabResult(
                analyte="magnesium",
                value=1.4,
                unit="mg/dL",
                effective=datetime(2025, 12, 1, 9, 15, tzinfo=UTC),
                reference_low=1.7,
                reference_high=2.2,
                interpretation="L",
                loinc="19123-9",
                source="Observation/o1",
            ),
        ),
        medications=(
            Medication(
                name="furosemide",
                codes=(Coding(system="rxnorm", code="4603", display="furosemide"),),
                status="stopped",
                start=date(2024, 1, 1),
                end=date(2025, 1, 1),
                source="MedicationStatement/m1",
            ),
            Medication(name="home remedy", status="active", source="MedicationStatement/m2"),
        ),
        conditions=(
            Condition(
                name="Heart failure",
                codes=(
                    Coding(system="icd10", code="I50.9", display="Heart failure, unspecified"),
                    Coding(system="text", code="Heart failure"),
                ),
                onset=date(2020, 5, 1),
                active=False,
                source="Condition/c1",
            ),
        ),
    )
    listing = repo.PersonListing(
        person_id=7,
        external_id="rr",
        display_name="Zhang Wei 张伟",
        sex="male",
        birth_date=date(1950, 1, 1),
        age_years=75,
        latest_mg=None,
        lab_count=1,
        updated_at=datetime.now(UTC),
    )
    bundle = bundle_of(record, listing, knowledge)
    assert record_from_fhir(bundle, knowledge) == record
    assert repo.display_name_of(bundle) == "Zhang Wei 张伟"
    observation = bundle["entry"][1]["resource"]
    assert observation["referenceRange"][0]["low"]["value"] == 1.7
    assert observation["valueQuantity"]["unit"] == "mg/dL"


KNOWLEDGE = load_knowledge()
ANALYTE_UNITS = sorted(
    (analyte.id, unit)
    for analyte in KNOWLEDGE.units.analyte
    if any(row.analyte == analyte.id for row in KNOWLEDGE.codes.loinc)
    and analyte.id in {"magnesium", "calcium", "potassium", "creatinine", "zinc", "egfr"}
    for unit in analyte.units
)


@st.composite
def labs(draw: st.DrawFn) -> LabResult:
    analyte, unit = draw(st.sampled_from(ANALYTE_UNITS))
    value = draw(st.floats(min_value=0.01, max_value=500, allow_nan=False, allow_infinity=False))
    day = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)))
    return LabResult(analyte=analyte, value=value, unit=unit, effective=day)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(labs(), max_size=6))
def test_any_lab_round_trips_in_its_reported_unit(items: list[LabResult]) -> None:
    record = PatientRecord(person=Person(id="prop"), labs=tuple(items))
    listing = repo.PersonListing(
        1, "prop", None, None, None, None, None, len(items), datetime.now(UTC)
    )
    again = record_from_fhir(bundle_of(record, listing, KNOWLEDGE), KNOWLEDGE)
    assert len(again.labs) == len(items)
    for before, after in zip(items, again.labs, strict=True):
        assert (after.analyte, after.value, after.unit, after.effective) == (
            before.analyte,
            before.value,
            before.unit,
            before.effective,
        )
        assert after.loinc is not None and KNOWLEDGE.loinc[after.loinc].analyte == before.analyte
