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
from mgcare.screen.command import run_screen
from mgcare.screen.reference import differences, expected_row
from mgcare.validation import RecordError, validate_record

FIXTURE = Path(__file__).parent / "fixtures" / "fhir_bulk"
SYNTHEA = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea_r4"
AS_OF = date(2026, 6, 30)
TYPES = ("Patient", "Observation", "MedicationRequest", "Condition")


def _subject(resource: dict[str, Any]) -> str:
    if resource["resourceType"] == "Patient":
        return str(resource["id"])
    return str(resource["subject"]["reference"]).removeprefix("Patient/").removeprefix("urn:uuid:")


def _compare(
    folder: Path, tmp_path: Path, knowledge: Knowledge
) -> tuple[dict[str, dict[str, Any]], set[str], dict[str, Any]]:
    """Screen the export and compare with `assess` per patient: (screened rows, patients the
    single-patient path refuses as deceased on the as-of date, summary.json)."""
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for kind in TYPES:
        for line in (folder / f"{kind}.ndjson").read_text(encoding="utf-8").splitlines():
            resource = json.loads(line)
            if kind == "Observation" and "valueQuantity" not in resource:
                continue  # the single-patient adapter refuses these; the batch counts them
            by_person[_subject(resource)].append(resource)
    expected = {}
    deceased: set[str] = set()
    for resources in by_person.values():
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in resources],
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
    rows, deceased, data = _compare(FIXTURE, tmp_path, knowledge)
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
