"""Removing one wrongly entered entry: audited with the old values, refused for another
person's row, and later appends keep a well-defined order (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mgcare.knowledge import Knowledge
from mgcare.model import Coding, Condition, LabResult, Medication, PatientRecord, Person
from mgcare.store import repository as repo
from mgcare.store.schema import LabResultRow


def mg_lab(value: float, day: date) -> LabResult:
    return LabResult(analyte="magnesium", value=value, unit="mmol/L", effective=day)


def test_removed_lab_is_gone_and_the_audit_log_keeps_its_values(
    engine: Engine, knowledge: Knowledge
) -> None:
    person = repo.add_person(engine, Person(id="p1"))
    low = repo.add_lab(engine, person, mg_lab(0.45, date(2026, 11, 20)), knowledge)
    kept = repo.add_lab(engine, person, mg_lab(0.84, date(2026, 11, 10)), knowledge)
    before = repo.person_listing(engine, person).updated_at

    repo.remove_entry(engine, person, "lab_result", low, reason="  typed 0.45 for 0.54 ")

    stored = repo.stored_record(engine, person)
    assert stored.lab_ids == (kept,)
    assert [lab.value for lab in stored.record.labs] == [0.84]
    assert [p.value for p in repo.history(engine, person)] == [0.84]
    listing = repo.person_listing(engine, person)
    assert listing.lab_count == 1 and listing.latest_mg is not None
    assert listing.latest_mg.value == 0.84
    assert listing.updated_at > before
    last = repo.audit_log(engine, person)[-1]
    assert (last.action, last.entity, last.entity_id) == ("delete", "lab_result", low)
    assert last.detail["reason"] == "typed 0.45 for 0.54"
    removed = last.detail["removed"]
    assert (removed["analyte"], removed["value"], removed["unit"]) == ("magnesium", 0.45, "mmol/L")
    assert removed["effective"] == "2026-11-20" and removed["value_mmol_l"] == pytest.approx(0.45)


def test_every_kind_can_be_removed(engine: Engine) -> None:
    person = repo.add_person(engine, Person(id="p2"))
    medication = Medication(
        name="omeprazole", codes=(Coding(system="atc", code="A02BC01"),), start=date(2025, 1, 1)
    )
    condition = Condition(name="atrial fibrillation", codes=(Coding(system="icd10", code="I48"),))
    food = {"food": "12061", "amount": 30, "unit": "g", "date": "2026-11-24"}
    ids = {
        "medication": repo.add_medication(engine, person, medication),
        "condition": repo.add_condition(engine, person, condition),
        "food_log_entry": repo.add_food_entry(engine, person, food),
    }
    entry = repo.get_entry(engine, person, "medication", ids["medication"])
    assert entry.values["name"] == "omeprazole" and entry.values["start"] == "2025-01-01"
    for kind in ("medication", "condition", "food_log_entry"):
        repo.remove_entry(engine, person, kind, ids[kind])  # type: ignore[arg-type]
    assert repo.person_record(engine, person) == PatientRecord(person=Person(id="p2"))
    audit = [(r.action, r.entity, r.entity_id) for r in repo.audit_log(engine, person)][-3:]
    assert audit == [("delete", kind, ids[kind]) for kind in ids]
    details = [r.detail for r in repo.audit_log(engine, person)[-3:]]
    assert details[0]["removed"]["codes"] == [{"system": "atc", "code": "A02BC01", "display": None}]
    assert details[1]["removed"]["name"] == "atrial fibrillation"
    assert details[2]["removed"]["entry"] == food
    assert all(d["reason"] is None for d in details)


def test_another_persons_or_unknown_entry_is_refused_and_nothing_changes(
    engine: Engine, knowledge: Knowledge
) -> None:
    owner = repo.add_person(engine, Person(id="owner"))
    other = repo.add_person(engine, Person(id="other"))
    lab = repo.add_lab(engine, owner, mg_lab(0.7, date(2026, 11, 1)), knowledge)
    audit_before = len(repo.audit_log(engine))
    with pytest.raises(repo.StoreError, match=f"person {other} has no lab result with id {lab}"):
        repo.remove_entry(engine, other, "lab_result", lab)
    with pytest.raises(repo.StoreError, match="no medication with id"):
        repo.remove_entry(engine, owner, "medication", lab)
    with pytest.raises(repo.StoreError, match="no person with id 999"):
        repo.remove_entry(engine, 999, "lab_result", lab)
    with pytest.raises(repo.StoreError, match="unknown entry kind"):
        repo.remove_entry(engine, owner, "person", lab)  # type: ignore[arg-type]
    with pytest.raises(repo.StoreError, match="longer than 500"):
        repo.remove_entry(engine, owner, "lab_result", lab, reason="x" * 501)
    with pytest.raises(repo.StoreError, match="NUL"):
        repo.remove_entry(engine, owner, "lab_result", lab, reason="a\x00b")
    with pytest.raises(repo.StoreError):
        repo.get_entry(engine, other, "lab_result", lab)
    assert repo.stored_record(engine, owner).lab_ids == (lab,)
    assert len(repo.audit_log(engine)) == audit_before


def test_appends_after_a_removal_never_repeat_a_position(
    engine: Engine, knowledge: Knowledge
) -> None:
    """0, 1, 2 stored; remove 0; the next append must not take position 2 again."""
    person = repo.add_person(engine, Person(id="p3"))
    days = [date(2026, 11, d) for d in (1, 2, 3)]
    ids = [repo.add_lab(engine, person, mg_lab(0.8, day), knowledge) for day in days]
    repo.remove_entry(engine, person, "lab_result", ids[0])
    added = repo.add_lab(engine, person, mg_lab(0.9, date(2026, 11, 3)), knowledge)
    imported = repo.store_record(
        engine,
        PatientRecord(person=Person(id="p3"), labs=(mg_lab(0.6, date(2026, 11, 4)),)),
        knowledge,
    )
    assert imported == person
    with Session(engine) as session:
        positions = list(
            session.scalars(
                select(LabResultRow.position)
                .where(LabResultRow.person_id == person)
                .order_by(LabResultRow.position)
            )
        )
    assert positions == [1, 2, 3, 4]
    stored = repo.stored_record(engine, person)
    assert stored.lab_ids[:3] == (ids[1], ids[2], added)
    # same day: entry order decides, so the later entry comes last
    assert [p.value for p in repo.history(engine, person)] == [0.8, 0.8, 0.9, 0.6]
