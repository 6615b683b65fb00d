"""Typed repository functions over an engine. Each write is one transaction that also appends
an audit row; on any error the transaction rolls back and nothing is stored."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from mgcare.inputs import record_from_document
from mgcare.knowledge import Knowledge
from mgcare.model import (
    Assessment,
    Condition,
    LabResult,
    Medication,
    PatientRecord,
    Person,
)
from mgcare.store.schema import (
    AssessmentRow,
    AuditRow,
    ConditionRow,
    FeedbackRow,
    FoodLogRow,
    LabResultRow,
    MedicationRow,
    PersonRow,
)
from mgcare.units import MOLAR_UNIT, UnitError, parse_unit, to_canonical

CSV_COLUMNS = (
    "person_id",
    "external_id",
    "analyte",
    "effective",
    "value",
    "unit",
    "value_mmol_l",
    "reference_low",
    "reference_high",
    "interpretation",
    "loinc",
    "method",
    "source",
)


class StoreError(ValueError):
    """A request the store refuses (unknown person, lab without unit, ...)."""


@dataclass(frozen=True, slots=True)
class LabPoint:
    """One stored result, for trends: as reported and, when convertible, in mmol/L."""

    effective: str
    value: float
    unit: str
    value_mmol_l: float | None


@contextmanager
def _write(engine: Engine) -> Iterator[Session]:
    """One write transaction: commit on success, roll back everything on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def _audit(
    session: Session,
    action: str,
    entity: str,
    entity_id: int | None,
    person_id: int | None,
    **detail: Any,
) -> None:
    session.add(
        AuditRow(
            action=action, entity=entity, entity_id=entity_id, person_id=person_id, detail=detail
        )
    )


def _person_row(session: Session, person_id: int) -> PersonRow:
    row = session.get(PersonRow, person_id)
    if row is None:
        raise StoreError(f"no person with id {person_id}")
    return row


def _set_person(row: PersonRow, person: Person) -> None:
    row.external_id = person.id
    row.birth_date = person.birth_date
    row.age_years = person.age_years
    row.sex = person.sex
    row.pregnant = person.pregnant
    row.lactating = person.lactating
    row.deceased = person.deceased


def _mmol_l(lab: LabResult, knowledge: Knowledge | None) -> float | None:
    if knowledge is None or lab.unit is None:
        return None
    try:
        analyte = knowledge.analytes[lab.analyte]
        if analyte.canonical_unit != MOLAR_UNIT:
            return None
        return to_canonical(
            lab.value, parse_unit(lab.unit, lab.analyte, knowledge), lab.analyte, knowledge
        )
    except (UnitError, KeyError):
        return None


def _lab_row(lab: LabResult, position: int, knowledge: Knowledge | None) -> LabResultRow:
    if lab.unit is None or not lab.unit.strip():
        raise StoreError(f"{lab.analyte} result on {lab.effective.isoformat()} has no unit")
    return LabResultRow(
        position=position,
        analyte=lab.analyte,
        value=lab.value,
        unit=lab.unit,
        value_mmol_l=_mmol_l(lab, knowledge),
        effective=lab.effective.isoformat(),
        reference_low=lab.reference_low,
        reference_high=lab.reference_high,
        interpretation=lab.interpretation,
        loinc=lab.loinc,
        method=lab.method,
        source=lab.source,
    )


def _medication_row(medication: Medication, position: int) -> MedicationRow:
    return MedicationRow(
        position=position,
        name=medication.name,
        codes=[code.model_dump(mode="json") for code in medication.codes],
        status=medication.status,
        start=medication.start,
        end=medication.end,
        draft=medication.draft,
        source=medication.source,
    )


def _condition_row(condition: Condition, position: int) -> ConditionRow:
    return ConditionRow(
        position=position,
        name=condition.name,
        codes=[code.model_dump(mode="json") for code in condition.codes],
        onset=condition.onset,
        active=condition.active,
        source=condition.source,
    )


def _record_of(row: PersonRow) -> PatientRecord:
    return PatientRecord.model_validate(
        {
            "person": {
                "id": row.external_id,
                "birth_date": row.birth_date,
                "age_years": row.age_years,
                "sex": row.sex,
                "pregnant": row.pregnant,
                "lactating": row.lactating,
                "deceased": row.deceased,
            },
            "labs": [
                {
                    "analyte": lab.analyte,
                    "value": lab.value,
                    "effective": lab.effective,
                    "unit": lab.unit,
                    "reference_low": lab.reference_low,
                    "reference_high": lab.reference_high,
                    "interpretation": lab.interpretation,
                    "loinc": lab.loinc,
                    "method": lab.method,
                    "source": lab.source,
                }
                for lab in row.labs
            ],
            "medications": [
                {
                    "name": m.name,
                    "codes": m.codes,
                    "status": m.status,
                    "start": m.start,
                    "end": m.end,
                    "draft": m.draft,
                    "source": m.source,
                }
                for m in row.medications
            ],
            "conditions": [
                {
                    "name": c.name,
                    "codes": c.codes,
                    "onset": c.onset,
                    "active": c.active,
                    "source": c.source,
                }
                for c in row.conditions
            ],
            "context": row.context,
            "food_log": [entry.entry for entry in row.food_log],
            "diet_standard": row.diet_standard,
        }
    )


# --- writes ------------------------------------------------------------------------------------


def add_person(engine: Engine, person: Person) -> int:
    """Store a new person; returns the store id."""
    with _write(engine) as session:
        row = PersonRow(context={})
        _set_person(row, person)
        session.add(row)
        session.flush()
        _audit(session, "create", "person", row.id, row.id, external_id=person.id)
        return row.id


def store_record(engine: Engine, record: PatientRecord, knowledge: Knowledge | None = None) -> int:
    """Store a validated record in one transaction. A person whose `person.id` is already
    stored is updated: demographics and context replaced, new labs, medications, conditions
    and food-log rows appended (exact duplicates skipped). Returns the store id."""
    with _write(engine) as session:
        row: PersonRow | None = None
        if record.person.id is not None:
            row = session.scalar(select(PersonRow).where(PersonRow.external_id == record.person.id))
        created = row is None
        if row is None:
            row = PersonRow()
            session.add(row)
            existing = PatientRecord()
        else:
            existing = _record_of(row)
        _set_person(row, record.person)
        row.context = record.context.model_dump(mode="json")
        if record.diet_standard is not None or created:
            row.diet_standard = record.diet_standard
        session.flush()

        new_labs = [lab for lab in record.labs if lab not in existing.labs]
        for offset, lab in enumerate(new_labs):
            row.labs.append(_lab_row(lab, len(existing.labs) + offset, knowledge))
        new_meds = [m for m in record.medications if m not in existing.medications]
        for offset, medication in enumerate(new_meds):
            row.medications.append(_medication_row(medication, len(existing.medications) + offset))
        new_conds = [c for c in record.conditions if c not in existing.conditions]
        for offset, condition in enumerate(new_conds):
            row.conditions.append(_condition_row(condition, len(existing.conditions) + offset))
        new_food = [f for f in record.food_log if f not in existing.food_log]
        for offset, entry in enumerate(new_food):
            row.food_log.append(FoodLogRow(position=len(existing.food_log) + offset, entry=entry))
        session.flush()
        _audit(
            session,
            "import" if created else "update",
            "person",
            row.id,
            row.id,
            external_id=record.person.id,
            labs=len(new_labs),
            medications=len(new_meds),
            conditions=len(new_conds),
            food_log=len(new_food),
        )
        return row.id


def import_record(
    engine: Engine, document: Any, knowledge: Knowledge, today: date | None = None
) -> int:
    """Import a FHIR Bundle/resource or an mgcare JSON record (parsed and validated by
    `mgcare.inputs.record_from_document`, which raises InputError) in one transaction."""
    record = record_from_document(document, knowledge, today or date.today())
    return store_record(engine, record, knowledge)


def add_lab(engine: Engine, person_id: int, lab: LabResult, knowledge: Knowledge) -> int:
    """Add one result; the unit must be valid for the analyte (UnitError otherwise)."""
    parse_unit(lab.unit, lab.analyte, knowledge)
    with _write(engine) as session:
        person = _person_row(session, person_id)
        position = len(person.labs)
        row = _lab_row(lab, position, knowledge)
        person.labs.append(row)
        session.flush()
        _audit(session, "create", "lab_result", row.id, person_id, analyte=lab.analyte)
        return row.id


def save_assessment(engine: Engine, person_id: int, assessment: Assessment, as_of: date) -> int:
    with _write(engine) as session:
        _person_row(session, person_id)
        row = AssessmentRow(
            person_id=person_id,
            as_of=as_of,
            mgcare_version=assessment.mgcare_version,
            knowledge_version=assessment.knowledge_version,
            data=assessment.model_dump(mode="json"),
        )
        session.add(row)
        session.flush()
        _audit(session, "create", "assessment", row.id, person_id, as_of=as_of.isoformat())
        return row.id


def save_feedback(
    engine: Engine,
    service_id: str,
    card_id: str,
    outcome: str,
    data: dict[str, Any],
    person_id: int | None = None,
) -> int:
    """Record CDS Hooks feedback for one card."""
    with _write(engine) as session:
        row = FeedbackRow(
            person_id=person_id, service_id=service_id, card_id=card_id, outcome=outcome, data=data
        )
        session.add(row)
        session.flush()
        _audit(session, "create", "cds_feedback", row.id, person_id, outcome=outcome)
        return row.id


def delete_person(engine: Engine, person_id: int) -> None:
    with _write(engine) as session:
        row = _person_row(session, person_id)
        external_id = row.external_id
        session.delete(row)
        _audit(session, "delete", "person", person_id, person_id, external_id=external_id)


# --- reads -------------------------------------------------------------------------------------


def person_ids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(PersonRow.id).order_by(PersonRow.id)))


def find_person(engine: Engine, external_id: str) -> int | None:
    with Session(engine) as session:
        return session.scalar(select(PersonRow.id).where(PersonRow.external_id == external_id))


def person_record(engine: Engine, person_id: int) -> PatientRecord:
    with Session(engine) as session:
        return _record_of(_person_row(session, person_id))


def export_json(engine: Engine, person_id: int, *, indent: int | None = 2) -> str:
    """The person as an mgcare JSON record (readable by `record_from_document`)."""
    return person_record(engine, person_id).model_dump_json(indent=indent, exclude_defaults=True)


def history(engine: Engine, person_id: int, analyte: str = "magnesium") -> list[LabPoint]:
    """Stored results of one analyte, oldest first."""
    with Session(engine) as session:
        _person_row(session, person_id)
        rows = session.scalars(
            select(LabResultRow)
            .where(LabResultRow.person_id == person_id, LabResultRow.analyte == analyte)
            .order_by(LabResultRow.effective, LabResultRow.position)
        )
        return [LabPoint(r.effective, r.value, r.unit, r.value_mmol_l) for r in rows]


def assessments(engine: Engine, person_id: int) -> list[Assessment]:
    with Session(engine) as session:
        rows = session.scalars(
            select(AssessmentRow)
            .where(AssessmentRow.person_id == person_id)
            .order_by(AssessmentRow.as_of, AssessmentRow.id)
        )
        return [Assessment.model_validate(row.data) for row in rows]


def audit_log(engine: Engine, person_id: int | None = None) -> list[AuditRow]:
    with Session(engine, expire_on_commit=False) as session:
        query = select(AuditRow).order_by(AuditRow.id)
        if person_id is not None:
            query = query.where(AuditRow.person_id == person_id)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def count_rows(engine: Engine, table: type[Any]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def export_csv(engine: Engine, out: TextIO | None = None, person_ids: Sequence[int] = ()) -> str:
    """Lab results as CSV (all persons, or `person_ids`). Writes to `out` if given; returns
    the text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    with Session(engine) as session:
        query = (
            select(LabResultRow, PersonRow.external_id)
            .join(PersonRow, LabResultRow.person_id == PersonRow.id)
            .order_by(LabResultRow.person_id, LabResultRow.effective, LabResultRow.position)
        )
        if person_ids:
            query = query.where(LabResultRow.person_id.in_(list(person_ids)))
        for lab, external_id in session.execute(query):
            writer.writerow(
                [
                    lab.person_id,
                    external_id or "",
                    lab.analyte,
                    lab.effective,
                    lab.value,
                    lab.unit,
                    "" if lab.value_mmol_l is None else lab.value_mmol_l,
                    "" if lab.reference_low is None else lab.reference_low,
                    "" if lab.reference_high is None else lab.reference_high,
                    lab.interpretation or "",
                    lab.loinc or "",
                    lab.method or "",
                    lab.source or "",
                ]
            )
    text = buffer.getvalue()
    if out is not None:
        out.write(text)
    return text


def backup(engine: Engine, path: Path | str) -> Path:
    """A consistent copy of a SQLite database via the online backup API (safe while in use)."""
    if engine.dialect.name != "sqlite":
        raise StoreError("backup() supports SQLite; use pg_dump for PostgreSQL")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        if not isinstance(source, sqlite3.Connection):
            raise StoreError("backup() needs the sqlite3 driver")
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        raw.close()
    return target
