"""FHIR Bulk NDJSON input: each patient screens exactly as the single-patient FHIR adapter and
`assess` see the same resources as one Bundle."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from mgcare.fhir import record_from_fhir
from mgcare.knowledge import Knowledge
from mgcare.rules.conditions import active_groups
from mgcare.screen.command import LINES, run_screen
from mgcare.screen.errors import ScreenInputError
from mgcare.screen.reference import differences, expected_row
from mgcare.validation import RecordError, validate_record

FIXTURE = Path(__file__).resolve().parents[2] / "examples" / "fhir_bulk"
SYNTHEA = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea_r4"
AS_OF = date(2026, 6, 30)
TYPES = ("Patient", "Observation", "MedicationRequest", "Condition")


def _subject(resource: dict[str, Any]) -> str:
    if resource["resourceType"] == "Patient":
        return str(resource["id"])
    return str(resource["subject"]["reference"]).removeprefix("Patient/").removeprefix("urn:uuid:")


def _compare(
    folder: Path, tmp_path: Path, knowledge: Knowledge, medication_resources: Path | None = None
) -> tuple[dict[str, dict[str, Any]], set[str], dict[str, Any]]:
    """Screen the export and compare with `assess` per patient: (screened rows, patients the
    single-patient path refuses as deceased on the as-of date, summary.json). Medication
    resources (from `medication_resources` or among the medication lines) join every bundle."""
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    shared: list[dict[str, Any]] = []
    for path in [folder / f"{kind}.ndjson" for kind in TYPES] + [medication_resources]:
        for line in path.read_text(encoding="utf-8").splitlines() if path else ():
            resource = json.loads(line)
            if resource["resourceType"] == "Medication":
                shared.append(resource)
                continue
            if resource["resourceType"] == "Observation" and "valueQuantity" not in resource:
                continue  # the single-patient adapter refuses these; the batch counts them
            by_person[_subject(resource)].append(resource)
    expected = {}
    deceased: set[str] = set()
    for resources in by_person.values():
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in resources + shared],
        }
        record = record_from_fhir(bundle, knowledge)
        try:
            validate_record(record, knowledge, max(AS_OF, date.today()), AS_OF)
        except RecordError as exc:
            assert "died on" in str(exc), exc
            deceased.add(str(record.person.id))
            continue
        expected[str(record.person.id)] = expected_row(
            record, sorted(active_groups(record.conditions, knowledge)), knowledge, AS_OF
        )
    summary = run_screen(
        *(folder / f"{kind}.ndjson" for kind in TYPES),
        tmp_path / "out",
        "duckdb",
        AS_OF,
        None,
        False,
        medication_resources=medication_resources,
    )
    rows = {
        r["person_id"]: r for r in pq.read_table(tmp_path / "out" / "persons.parquet").to_pylist()
    }
    problems = differences(expected, rows)
    assert not problems, "\n".join(problems)
    assert summary.persons == len(expected)
    data = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    persons = data["tables"]["persons"]
    assert persons["excluded"].get("deceased-before-as-of", 0) == len(deceased)
    assert persons["screened"] + sum(persons["excluded"].values()) == persons["rows"]
    return rows, deceased, data


def test_bulk_fixture_matches_fhir_adapter(tmp_path: Path, knowledge: Knowledge) -> None:
    rows, deceased, data = _compare(FIXTURE, tmp_path, knowledge, FIXTURE / "Medication.ndjson")
    assert rows["pg"]["depleting_classes"] == ["thiazide-like"]  # a contained Medication
    assert rows["pd"]["depleting_classes"] == ["loop-diuretic"]  # a Medication in its own file
    assert rows["pa"]["mg_status"] == "hypomagnesemia" and rows["pa"]["depleting_classes"] == [
        "ppi"
    ]
    assert rows["pc"]["mg_mmol_l"] == 0.81 and "implausible-unit" in rows["pc"]["codes"]
    assert rows["pc"]["sex"] is None and rows["pb"]["age_years"] is not None
    assert rows["pd"]["mg_date"] == date(2026, 6, 29)
    assert deceased == {"pe"} and data["tables"]["labs"]["excluded"] == {"person-excluded": 1}
    assert rows["pf"]["age_years"] == 66  # deceasedBoolean without a date: living, as mgcare.fhir
    assert rows["pg"]["mg_status"] == "hypomagnesemia"  # died 2026-07 (the 1st), after as-of
    counts = data["inputs"]["fhir_ndjson"]["labs"]
    assert counts == {
        "observations": 15,
        "not_a_screened_loinc": 1,
        "status_skipped": 1,
        "no_quantity": 1,
    }


@pytest.mark.skipif(not SYNTHEA.exists(), reason="needs ../shared/data/synthea_r4")
def test_synthea_patients_as_bulk_export(tmp_path: Path, knowledge: Knowledge) -> None:
    """The shared Synthea bundles split into a Bulk Data export; the patients who died before
    the as-of date are excluded and counted, as `mgcare assess` refuses them."""
    folder = tmp_path / "bulk"
    folder.mkdir()
    files = {kind: (folder / f"{kind}.ndjson").open("w", encoding="utf-8") for kind in TYPES}
    for path in sorted(SYNTHEA.glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] in files:
                files[resource["resourceType"]].write(json.dumps(resource) + "\n")
    for handle in files.values():
        handle.close()
    rows, deceased, data = _compare(folder, tmp_path, knowledge)
    assert len(rows) >= 10 and deceased
    assert data["tables"]["persons"]["excluded"] == {"deceased-before-as-of": len(deceased)}


def _write_ndjson(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


def _request(rid: str, person: str, **medication: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{person}"},
        "authoredOn": "2026-05-01",
        **medication,
    }


def _medication(mid: str, display: str) -> dict[str, Any]:
    coding = {"system": "http://snomed.info/sct", "code": "0", "display": display}
    return {"resourceType": "Medication", "id": mid, "code": {"coding": [coding]}}


def _export_with_references(folder: Path) -> Path:
    """Patients r1 and r2 with medications by reference, r3 with none; returns the export's
    Medication .ndjson."""
    folder.mkdir()
    patients = [
        {"resourceType": "Patient", "id": pid, "birthDate": "1960-01-01", "gender": "female"}
        for pid in ("r1", "r2", "r3")
    ]
    _write_ndjson(folder / "Patient.ndjson", patients)
    magnesium = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "subject": {"reference": "Patient/r1"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "19123-9"}]},
        "effectiveDateTime": "2026-06-01",
        "valueQuantity": {
            "value": 0.6,
            "unit": "mmol/L",
            "system": "http://unitsofmeasure.org",
            "code": "mmol/L",
        },
    }
    _write_ndjson(folder / "Observation.ndjson", [magnesium])
    _write_ndjson(folder / "Condition.ndjson", [])
    contained = _request(
        "q1",
        "r1",
        medicationReference={"reference": "#m"},
        contained=[_medication("m", "Chlorthalidone 50mg tablet (product)")],
    )
    requests = [
        contained,  # contained Medication (the FHIR example medicationrequestexample1)
        _request("q2", "r1", medicationReference={"reference": "Medication/furo"}),  # other file
        _request(
            "q3",
            "r2",
            medicationReference={"reference": "Medication/lost", "display": "omeprazole 20 mg"},
        ),  # display
        _request("q4", "r2", medicationReference={"reference": "Medication/here"}),  # same file
        _medication("here", "Cisplatin 1 MG/ML Injectable Solution"),
    ]
    _write_ndjson(folder / "MedicationRequest.ndjson", requests)
    return _write_ndjson(
        folder.parent / "Medication.ndjson", [_medication("furo", "Furosemide 40 MG Oral Tablet")]
    )


def test_medication_references_resolve_as_the_fhir_adapter(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    medication_resources = _export_with_references(tmp_path / "bulk")
    rows, _, data = _compare(tmp_path / "bulk", tmp_path, knowledge, medication_resources)
    assert rows["r1"]["depleting_classes"] == ["loop-diuretic", "thiazide-like"]
    assert rows["r2"]["depleting_classes"] == ["platinum", "ppi"]
    assert rows["r3"]["depleting_classes"] == []
    assert data["inputs"]["fhir_ndjson"]["medications"] == {
        "resources": 4,
        "resources_with_rows": 4,
        "left_out (no code or text)": 0,
        "medication_reference_unresolved": 1,
        "medication_reference_display_used": 1,
    }


def test_unresolved_medication_references_are_counted_and_named(tmp_path: Path) -> None:
    """Without the export's Medication file, its references fall back to their display or are
    left out; the summary says how many and how to fix it, in both languages."""
    _export_with_references(tmp_path / "bulk")
    folder = tmp_path / "bulk"
    for lang in ("en", "zh"):
        summary = run_screen(
            *(folder / f"{kind}.ndjson" for kind in TYPES),
            tmp_path / f"out-{lang}",
            "duckdb",
            AS_OF,
            None,
            False,
            lang=lang,  # type: ignore[arg-type]
        )
        rows = {r["person_id"]: r for r in pq.read_table(summary.persons_path).to_pylist()}
        assert rows["r1"]["depleting_classes"] == ["thiazide-like"]  # furosemide not resolved
        counts = summary.data["inputs"]["fhir_ndjson"]["medications"]
        assert counts["medication_reference_unresolved"] == 2
        assert counts["left_out (no code or text)"] == 1
        said = LINES["unresolved"].get(lang).format(n=2)
        assert "--medication-resources" in said and said in summary.lines()


@pytest.mark.parametrize(
    ("medications_given", "resources", "reason"),
    [
        (False, "Medication.ndjson", "give --medications as FHIR"),
        (True, "missing.ndjson", "no such file"),
        (True, "broken.ndjson", "FHIR NDJSON: .*Malformed JSON"),
    ],
)
def test_bad_medication_resources_are_one_clear_error(
    tmp_path: Path, medications_given: bool, resources: str, reason: str
) -> None:
    _export_with_references(tmp_path / "bulk")
    (tmp_path / "broken.ndjson").write_text('{"resourceType": "Medication", "id": \n')
    folder = tmp_path / "bulk"
    medications = folder / "MedicationRequest.ndjson" if medications_given else None
    with pytest.raises(ScreenInputError, match=reason):
        run_screen(
            folder / "Patient.ndjson",
            folder / "Observation.ndjson",
            medications,
            None,
            tmp_path / "out",
            "duckdb",
            AS_OF,
            None,
            False,
            medication_resources=tmp_path / resources,
        )
