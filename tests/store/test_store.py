"""Store: migrations, FHIR import round-trip, atomic failure, audit, backup, concurrency."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from mgcare.inputs import InputError, record_from_document
from mgcare.knowledge import Knowledge
from mgcare.model import LabResult, PatientRecord, Person
from mgcare.rules.assess import assess
from mgcare.store import make_engine, upgrade
from mgcare.store import repository as repo
from mgcare.store.db import default_url, sqlite_url
from mgcare.store.migrations import current_revision
from mgcare.store.schema import AuditRow, Base, LabResultRow, PersonRow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
BUNDLE = FIXTURES / "mg_low_on_ppi_bundle.json"
TODAY = date(2026, 11, 25)
HEAD = "0002"
TABLES = {
    "persons",
    "lab_results",
    "medications",
    "conditions",
    "food_log_entries",
    "assessments",
    "cds_feedback",
    "audit_log",
}


def bundle() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(BUNDLE.read_text(encoding="utf-8"))
    return document


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table: [
                tuple(row)
                for row in connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")
            ]
            for table in sorted(TABLES)
        }


def test_migrations_create_schema_matching_models(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert current_revision(engine) == HEAD
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    upgrade(engine)  # idempotent
    assert current_revision(engine) == HEAD


def test_sqlite_pragmas(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_default_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MGCARE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert default_url() == "postgresql+psycopg://u@h/db"
    monkeypatch.delenv("MGCARE_DATABASE_URL")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    url = default_url()
    assert url.startswith("sqlite:///") and url.endswith("mgcare.sqlite3")
    assert "mgcare" in url


def test_fhir_import_round_trips(engine: Engine, knowledge: Knowledge) -> None:
    expected = record_from_document(bundle(), knowledge, TODAY)
    person_id = repo.import_record(engine, bundle(), knowledge, TODAY)
    stored = repo.person_record(engine, person_id)
    assert stored == expected
    assert stored.labs and stored.medications and stored.conditions
    # the JSON export is an mgcare record that reads back to the same record
    exported = json.loads(repo.export_json(engine, person_id))
    assert record_from_document(exported, knowledge, TODAY) == expected
    # importing the same bundle again adds nothing
    assert repo.import_record(engine, bundle(), knowledge, TODAY) == person_id
    assert repo.person_record(engine, person_id) == expected
    assert repo.count_rows(engine, PersonRow) == 1


def test_labs_keep_unit_and_canonical_value(engine: Engine, knowledge: Knowledge) -> None:
    person_id = repo.add_person(engine, Person(id="p1", sex="female"))
    repo.add_lab(
        engine,
        person_id,
        LabResult(analyte="magnesium", value=1.8, unit="mg/dL", effective=date(2026, 1, 2)),
        knowledge,
    )
    repo.add_lab(
        engine,
        person_id,
        LabResult(analyte="magnesium", value=0.6, unit="mmol/L", effective=date(2025, 6, 1)),
        knowledge,
    )
    points = repo.history(engine, person_id)
    assert [p.effective for p in points] == ["2025-06-01", "2026-01-02"]
    assert points[1].unit == "mg/dL" and points[1].value == 1.8
    assert points[1].value_mmol_l == pytest.approx(0.74, abs=0.01)
    assert points[0].value_mmol_l == pytest.approx(0.6)
    text = repo.export_csv(engine)
    lines = text.splitlines()
    assert lines[0].startswith("person_id,external_id,analyte,effective,value,unit,value_mmol_l")
    assert len(lines) == 3 and ",mg/dL," in lines[2]


def test_invalid_document_changes_nothing(engine: Engine, knowledge: Knowledge) -> None:
    repo.import_record(engine, bundle(), knowledge, TODAY)
    before = snapshot(engine)
    broken = bundle()
    broken["entry"][1]["resource"]["valueQuantity"].pop("unit", None)
    broken["entry"][1]["resource"]["valueQuantity"].pop("code", None)
    with pytest.raises(InputError):
        repo.import_record(engine, broken, knowledge, TODAY)
    with pytest.raises(InputError):
        repo.import_record(engine, {"person": {"sex": "other"}}, knowledge, TODAY)
    assert snapshot(engine) == before


def test_failure_mid_transaction_rolls_back_everything(
    engine: Engine, knowledge: Knowledge
) -> None:
    before = snapshot(engine)
    good = LabResult(analyte="magnesium", value=0.7, unit="mmol/L", effective=date(2026, 1, 1))
    no_unit = LabResult(analyte="magnesium", value=0.7, unit=None, effective=date(2026, 2, 1))
    record = PatientRecord(person=Person(id="half"), labs=(good, no_unit))
    with pytest.raises(repo.StoreError, match="no unit"):
        repo.store_record(engine, record, knowledge)
    assert snapshot(engine) == before
    assert repo.find_person(engine, "half") is None


def test_every_write_is_audited(engine: Engine, knowledge: Knowledge) -> None:
    person_id = repo.import_record(engine, bundle(), knowledge, TODAY)
    record = repo.person_record(engine, person_id)
    assessment = assess(record, knowledge, as_of=TODAY)
    assessment_id = repo.save_assessment(engine, person_id, assessment, TODAY)
    repo.save_feedback(engine, "mgcare-mg", "card-1", "accepted", {"x": 1}, person_id)
    stored = repo.assessments(engine, person_id)
    assert stored == [assessment]
    assert stored[0].knowledge_version == knowledge.version
    rows = repo.audit_log(engine, person_id)
    assert [(r.action, r.entity) for r in rows] == [
        ("import", "person"),
        ("create", "assessment"),
        ("create", "cds_feedback"),
    ]
    assert rows[0].detail["labs"] == len(record.labs)
    assert rows[1].entity_id == assessment_id
    repo.delete_person(engine, person_id)
    assert repo.count_rows(engine, LabResultRow) == 0  # cascade
    assert repo.audit_log(engine, person_id)[-1].action == "delete"
    assert repo.count_rows(engine, AuditRow) == 4


def test_backup_has_same_rows(sqlite_engine: Engine, knowledge: Knowledge, tmp_path: Path) -> None:
    engine = sqlite_engine
    repo.import_record(engine, bundle(), knowledge, TODAY)
    target = repo.backup(engine, tmp_path / "copies" / "backup.sqlite3")
    copy = make_engine(sqlite_url(target))
    try:
        assert snapshot(copy) == snapshot(engine)
        assert current_revision(copy) == HEAD
    finally:
        copy.dispose()
    with sqlite3.connect(target) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_concurrent_writers_both_succeed(engine: Engine, knowledge: Knowledge) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            barrier.wait()
            for i in range(20):
                person_id = repo.add_person(engine, Person(id=f"{name}-{i}"))
                repo.add_lab(
                    engine,
                    person_id,
                    LabResult(
                        analyte="magnesium", value=0.8, unit="mmol/L", effective=date(2026, 1, 1)
                    ),
                    knowledge,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert repo.count_rows(engine, PersonRow) == 40
    assert repo.count_rows(engine, LabResultRow) == 40
    assert repo.count_rows(engine, AuditRow) == 80
