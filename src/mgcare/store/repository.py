"""Typed repository functions over an engine. Each write is one transaction that also appends
an audit row; on any error the transaction rolls back and nothing is stored.

Every public function turns a database that is locked, missing or unreachable into
`StoreUnavailable` and a refused value (unique or length constraint) into `StoreError`, each
with one line, so callers never show a driver traceback.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, ParamSpec, TextIO, TypeVar, get_args

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.exc import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    ProgrammingError,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

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
from mgcare.store.db import StoreUnavailable as StoreUnavailable  # re-exported
from mgcare.store.db import describe_failure
from mgcare.store.schema import (
    AssessmentRow,
    AuditRow,
    ConditionRow,
    FeedbackRow,
    FoodLogRow,
    LabResultRow,
    MedicationRow,
    PersonRow,
    utcnow,
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


MAX_NAME = 200  # persons.external_id and persons.display_name are String(200)
MAX_REASON = 500
MAX_LISTING = 1000
MAGNESIUM = "magnesium"

P = ParamSpec("P")
R = TypeVar("R")


class StoreError(ValueError):
    """A request the store refuses (unknown person, lab without unit, ...)."""


@dataclass(frozen=True, slots=True)
class LabPoint:
    """One stored result, for trends: as reported and, when convertible, in mmol/L."""

    effective: str
    value: float
    unit: str
    value_mmol_l: float | None


@dataclass(frozen=True, slots=True)
class PersonListing:
    """One row of a person list: who, and their latest serum magnesium as reported.
    `age_years` is computed from the birth date today (at death if deceased) when there is
    one, else the stored age."""

    person_id: int
    external_id: str | None
    display_name: str | None
    sex: str | None
    birth_date: date | None
    age_years: int | None
    latest_mg: LabPoint | None
    lab_count: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one import did: the person, whether new, and how many rows it added."""

    person_id: int
    created: bool
    labs: int
    medications: int
    conditions: int
    food_log: int


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


def _guarded(function: Callable[P, R]) -> Callable[P, R]:
    """Translate driver failures into StoreUnavailable / StoreError (one line each)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        engine = args[0] if args else kwargs.get("engine")
        url = (
            engine.url.render_as_string(hide_password=False)
            if isinstance(engine, Engine)
            else "the database"
        )
        try:
            return function(*args, **kwargs)
        except IntegrityError as exc:
            raise StoreError(f"the database refused the change: {_first_line(exc)}") from exc
        except DataError as exc:
            raise StoreError(f"a value does not fit the database: {_first_line(exc)}") from exc
        except ProgrammingError as exc:
            text = _first_line(exc).lower()
            if "does not exist" in text or "no such table" in text:
                raise StoreUnavailable(describe_failure(exc, url)) from exc
            raise
        except (DatabaseError, InterfaceError, sqlite3.Error) as exc:
            raise StoreUnavailable(describe_failure(exc, url)) from exc
        except ValueError as exc:
            if isinstance(exc, StoreError) or "NUL" not in str(exc):
                raise
            # psycopg refuses NUL characters before anything reaches the server
            raise StoreError("text may not contain NUL (0x00) characters") from exc

    return wrapper


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


def _person_row(session: Session, person_id: int, *, lock: bool = False) -> PersonRow:
    """The person, or StoreError. `lock` holds the row until commit (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), so concurrent appends
    to one person get distinct positions."""
    row = session.get(PersonRow, person_id, with_for_update=True if lock else None)
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


@_guarded
def add_person(engine: Engine, person: Person, *, display_name: str | None = None) -> int:
    """Store a new person; returns the store id. An external id already stored is refused."""
    display_name = _checked_name(display_name, "display name")
    _checked_name(person.id, "external id")
    with _write(engine) as session:
        if person.id is not None:
            existing = session.scalar(
                select(PersonRow.id).where(PersonRow.external_id == person.id)
            )
            if existing is not None:
                raise StoreError(
                    f"a person with external id {person.id!r} is already stored (id {existing})"
                )
        row = PersonRow(context={}, display_name=display_name)
        _set_person(row, person)
        session.add(row)
        session.flush()
        _audit(session, "create", "person", row.id, row.id, external_id=person.id)
        return row.id


RowT = TypeVar("RowT", LabResultRow, MedicationRow, ConditionRow, FoodLogRow)


def _next_position(rows: Sequence[LabResultRow | MedicationRow | ConditionRow | FoodLogRow]) -> int:
    """One past the highest stored position: after a removal leaves a gap, `len(rows)` would
    repeat the last row's position and make the order of the two rows undefined."""
    return max((row.position for row in rows), default=-1) + 1


def _append(
    engine: Engine,
    person_id: int,
    entity: str,
    collection: Callable[[PersonRow], list[RowT]],
    build: Callable[[int], RowT],
    **details: Any,
) -> int:
    """Append one row at the end of a person's list in one audited transaction. The person's
    row is locked first, so concurrent writers get distinct positions."""
    with _write(engine) as session:
        person = _person_row(session, person_id, lock=True)
        rows = collection(person)
        row = build(_next_position(rows))
        rows.append(row)
        person.updated_at = utcnow()
        session.flush()
        _audit(session, "create", entity, row.id, person_id, **details)
        return row.id


@_guarded
def add_medication(engine: Engine, person_id: int, medication: Medication) -> int:
    """Append one medication to a stored person; returns its row id."""
    return _append(
        engine,
        person_id,
        "medication",
        lambda person: person.medications,
        lambda position: _medication_row(medication, position),
        name=medication.name,
    )


@_guarded
def add_condition(engine: Engine, person_id: int, condition: Condition) -> int:
    """Append one condition to a stored person; returns its row id."""
    return _append(
        engine,
        person_id,
        "condition",
        lambda person: person.conditions,
        lambda position: _condition_row(condition, position),
        name=condition.name,
    )


@_guarded
def add_food_entry(engine: Engine, person_id: int, entry: dict[str, Any]) -> int:
    """Append one food-log row (DESIGN.md section 7 columns: `food` + `amount` + `unit`, or
    `supplement` + `dose_mg`/`elemental_mg`). The row is checked for shape only; the diet
    module resolves foods when the log is evaluated."""
    checked = _checked_food_entry(entry)
    return _append(
        engine,
        person_id,
        "food_log_entry",
        lambda person: person.food_log,
        lambda position: FoodLogRow(position=position, entry=checked),
        kind="supplement" if "supplement" in checked else "food",
    )


def _checked_name(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        return None
    if len(value) > MAX_NAME:
        raise StoreError(f"{what} is longer than {MAX_NAME} characters")
    return value


def _checked_food_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise StoreError("a food-log row must be an object with food/amount/unit or supplement")
    row = {str(key): value for key, value in entry.items()}
    has_food = bool(str(row.get("food") or "").strip())
    has_supplement = bool(str(row.get("supplement") or "").strip())
    if has_food == has_supplement:
        raise StoreError("a food-log row needs exactly one of 'food' or 'supplement'")
    if has_food and (row.get("amount") in (None, "") or not str(row.get("unit") or "").strip()):
        raise StoreError(f"food-log row for {row['food']!r} needs 'amount' and 'unit'")
    if has_supplement and all(row.get(k) in (None, "") for k in ("dose_mg", "elemental_mg")):
        raise StoreError(
            f"supplement row for {row['supplement']!r} needs 'dose_mg' or 'elemental_mg'"
        )
    try:
        json.dumps(row, allow_nan=False)
    except (TypeError, ValueError):
        raise StoreError("a food-log row may hold only text and finite numbers") from None
    return row


@_guarded
def store_record(
    engine: Engine,
    record: PatientRecord,
    knowledge: Knowledge | None = None,
    *,
    display_name: str | None = None,
) -> int:
    """Store a validated record in one transaction. A person whose `person.id` is already
    stored is updated: demographics and context replaced (and the display name, when one is
    given), new labs, medications, conditions and food-log rows appended (exact duplicates
    skipped). Returns the store id. Two writers importing the same new person at once: the
    loser's insert hits the unique external id, so it retries once as an update."""
    return store_record_counted(engine, record, knowledge, display_name=display_name).person_id


@_guarded
def store_record_counted(
    engine: Engine,
    record: PatientRecord,
    knowledge: Knowledge | None = None,
    *,
    display_name: str | None = None,
) -> ImportResult:
    """`store_record`, saying what was new."""
    display_name = _checked_name(display_name, "display name")
    _checked_name(record.person.id, "external id")
    try:
        return _store_record(engine, record, knowledge, display_name)
    except IntegrityError:
        return _store_record(engine, record, knowledge, display_name)


def _store_record(
    engine: Engine, record: PatientRecord, knowledge: Knowledge | None, display_name: str | None
) -> ImportResult:
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
        if display_name is not None:
            row.display_name = display_name
        row.context = record.context.model_dump(mode="json")
        if record.diet_standard is not None or created:
            row.diet_standard = record.diet_standard
        session.flush()

        known_labs = set(existing.labs)  # frozen models hash: large imports stay linear
        new_labs = [lab for lab in record.labs if lab not in known_labs]
        start = _next_position(row.labs)
        for offset, lab in enumerate(new_labs):
            row.labs.append(_lab_row(lab, start + offset, knowledge))
        known_meds = set(existing.medications)
        new_meds = [m for m in record.medications if m not in known_meds]
        start = _next_position(row.medications)
        for offset, medication in enumerate(new_meds):
            row.medications.append(_medication_row(medication, start + offset))
        known_conds = set(existing.conditions)
        new_conds = [c for c in record.conditions if c not in known_conds]
        start = _next_position(row.conditions)
        for offset, condition in enumerate(new_conds):
            row.conditions.append(_condition_row(condition, start + offset))
        new_food = [f for f in record.food_log if f not in existing.food_log]
        start = _next_position(row.food_log)
        for offset, entry in enumerate(new_food):
            row.food_log.append(FoodLogRow(position=start + offset, entry=entry))
        if not created and (new_labs or new_meds or new_conds or new_food):
            row.updated_at = utcnow()
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
        return ImportResult(
            person_id=row.id,
            created=created,
            labs=len(new_labs),
            medications=len(new_meds),
            conditions=len(new_conds),
            food_log=len(new_food),
        )


def import_record(
    engine: Engine, document: Any, knowledge: Knowledge, today: date | None = None
) -> int:
    """Import a FHIR Bundle/resource or an mgcare JSON record (parsed and validated by
    `mgcare.inputs.record_from_document`, which raises InputError) in one transaction. The
    FHIR Patient's name, which the record does not carry, becomes the display name."""
    return import_document(engine, document, knowledge, today).person_id


def import_document(
    engine: Engine, document: Any, knowledge: Knowledge, today: date | None = None
) -> ImportResult:
    """`import_record`, saying whether the person is new and what was added."""
    record = record_from_document(document, knowledge, today or date.today())
    return store_record_counted(engine, record, knowledge, display_name=display_name_of(document))


def display_name_of(document: Any) -> str | None:
    """The Patient's name in a FHIR Bundle or Patient resource (official name first: given
    names then family), or None. Reads the raw JSON: `record_from_document` drops names."""
    if not isinstance(document, Mapping):
        return None
    patient: Any = None
    if document.get("resourceType") == "Patient":
        patient = document
    elif document.get("resourceType") == "Bundle" and isinstance(document.get("entry"), list):
        for entry in document["entry"]:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if isinstance(resource, Mapping) and resource.get("resourceType") == "Patient":
                patient = resource
                break
    names = patient.get("name") if isinstance(patient, Mapping) else None
    if not isinstance(names, list):
        return None
    candidates = [n for n in names if isinstance(n, Mapping)]
    candidates.sort(key=lambda n: {"official": 0, "usual": 1}.get(str(n.get("use")), 2))
    for name in candidates:
        given = name.get("given")
        parts = [g for g in given if isinstance(g, str)] if isinstance(given, list) else []
        family = name.get("family")
        if isinstance(family, str):
            parts.append(family)
        text = " ".join(" ".join(parts).split())
        if not text and isinstance(name.get("text"), str):
            text = " ".join(str(name["text"]).split())
        if text:
            return text[:MAX_NAME]
    return None


@_guarded
def add_lab(engine: Engine, person_id: int, lab: LabResult, knowledge: Knowledge) -> int:
    """Add one result; the unit must be valid for the analyte (UnitError otherwise)."""
    parse_unit(lab.unit, lab.analyte, knowledge)
    return _append(
        engine,
        person_id,
        "lab_result",
        lambda person: person.labs,
        lambda position: _lab_row(lab, position, knowledge),
        analyte=lab.analyte,
    )


@_guarded
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


@_guarded
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


@_guarded
def save_feedback_many(
    engine: Engine,
    service_id: str,
    items: Sequence[tuple[str, str, dict[str, Any]]],
    person_id: int | None = None,
) -> list[int]:
    """Several (card_id, outcome, data) feedback items in one transaction: all or none."""
    with _write(engine) as session:
        rows = [
            FeedbackRow(
                person_id=person_id,
                service_id=service_id,
                card_id=card_id,
                outcome=outcome,
                data=data,
            )
            for card_id, outcome, data in items
        ]
        session.add_all(rows)
        session.flush()
        for row in rows:
            _audit(session, "create", "cds_feedback", row.id, person_id, outcome=row.outcome)
        return [row.id for row in rows]


@_guarded
def feedback_rows(engine: Engine) -> list[FeedbackRow]:
    """Every stored feedback item, oldest first (for operators and tests)."""
    with Session(engine, expire_on_commit=False) as session:
        rows = list(session.scalars(select(FeedbackRow).order_by(FeedbackRow.id)))
        session.expunge_all()
        return rows


@_guarded
def delete_person(engine: Engine, person_id: int) -> None:
    with _write(engine) as session:
        row = _person_row(session, person_id)
        external_id = row.external_id
        session.delete(row)
        _audit(session, "delete", "person", person_id, person_id, external_id=external_id)


EntryKind = Literal["lab_result", "medication", "condition", "food_log_entry"]
ENTRY_KINDS: tuple[EntryKind, ...] = get_args(EntryKind)
_ENTRY_TABLES: dict[str, type[LabResultRow | MedicationRow | ConditionRow | FoodLogRow]] = {
    "lab_result": LabResultRow,
    "medication": MedicationRow,
    "condition": ConditionRow,
    "food_log_entry": FoodLogRow,
}


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One stored lab result, medication, condition or food-log row with its row id, as JSON
    values (what a confirmation page shows and the audit log keeps after a removal)."""

    kind: EntryKind
    entry_id: int
    person_id: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A person's record plus the row id of every entry, index for index
    (`lab_ids[i]` is `record.labs[i]`), so pages can offer to remove one entry."""

    record: PatientRecord
    lab_ids: tuple[int, ...]
    medication_ids: tuple[int, ...]
    condition_ids: tuple[int, ...]
    food_log_ids: tuple[int, ...]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _entry_values(row: LabResultRow | MedicationRow | ConditionRow | FoodLogRow) -> dict[str, Any]:
    """Every stored column of an entry (but ids), JSON-ready."""
    if isinstance(row, LabResultRow):
        return {
            "analyte": row.analyte,
            "value": row.value,
            "unit": row.unit,
            "value_mmol_l": row.value_mmol_l,
            "effective": row.effective,
            "reference_low": row.reference_low,
            "reference_high": row.reference_high,
            "interpretation": row.interpretation,
            "loinc": row.loinc,
            "method": row.method,
            "source": row.source,
            "position": row.position,
        }
    if isinstance(row, MedicationRow):
        return {
            "name": row.name,
            "codes": list(row.codes or []),
            "status": row.status,
            "start": _iso(row.start),
            "end": _iso(row.end),
            "draft": row.draft,
            "source": row.source,
            "position": row.position,
        }
    if isinstance(row, ConditionRow):
        return {
            "name": row.name,
            "codes": list(row.codes or []),
            "onset": _iso(row.onset),
            "active": row.active,
            "source": row.source,
            "position": row.position,
        }
    return {"entry": dict(row.entry), "position": row.position}


def _entry_row(
    session: Session, person_id: int, kind: str, entry_id: int
) -> LabResultRow | MedicationRow | ConditionRow | FoodLogRow:
    """The entry, or StoreError when the kind is unknown or the row is not this person's
    (the same message either way: a guessed id tells nothing about other persons)."""
    table = _ENTRY_TABLES.get(kind)
    if table is None:
        raise StoreError(f"unknown entry kind {kind!r}; use one of {', '.join(ENTRY_KINDS)}")
    row = session.get(table, entry_id)
    entry_types = (LabResultRow, MedicationRow, ConditionRow, FoodLogRow)
    if not isinstance(row, entry_types) or row.person_id != person_id:
        raise StoreError(f"person {person_id} has no {kind.replace('_', ' ')} with id {entry_id}")
    return row


def _checked_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if "\x00" in reason:
        raise StoreError("the reason may not contain NUL (0x00) characters")
    text = " ".join(reason.split())
    if len(text) > MAX_REASON:
        raise StoreError(f"the reason is longer than {MAX_REASON} characters")
    return text or None


@_guarded
def remove_entry(
    engine: Engine,
    person_id: int,
    kind: EntryKind,
    entry_id: int,
    *,
    reason: str | None = None,
) -> None:
    """Delete one wrongly entered lab result, medication, condition or food-log row in one
    audited transaction. The audit row keeps the removed values and the reason, so the log
    still says what was there. Positions of the other rows are left as they are (gaps are
    harmless: order is by position, and appends continue after the highest)."""
    text = _checked_reason(reason)
    with _write(engine) as session:
        person = _person_row(session, person_id, lock=True)
        row = _entry_row(session, person_id, kind, entry_id)
        values = _entry_values(row)
        session.delete(row)
        person.updated_at = utcnow()
        _audit(session, "delete", kind, entry_id, person_id, removed=values, reason=text)


# --- reads -------------------------------------------------------------------------------------


@_guarded
def get_entry(engine: Engine, person_id: int, kind: EntryKind, entry_id: int) -> StoredEntry:
    """One stored entry of a person; StoreError if unknown or another person's."""
    with Session(engine) as session:
        _person_row(session, person_id)
        row = _entry_row(session, person_id, kind, entry_id)
        return StoredEntry(kind, entry_id, person_id, _entry_values(row))


@_guarded
def stored_record(engine: Engine, person_id: int) -> StoredRecord:
    """`person_record` plus the row ids of its entries, read in one session."""
    with Session(engine) as session:
        row = _person_row(session, person_id)
        return StoredRecord(
            record=_record_of(row),
            lab_ids=tuple(lab.id for lab in row.labs),
            medication_ids=tuple(m.id for m in row.medications),
            condition_ids=tuple(c.id for c in row.conditions),
            food_log_ids=tuple(f.id for f in row.food_log),
        )


@_guarded
def person_ids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(PersonRow.id).order_by(PersonRow.id)))


@_guarded
def find_person(engine: Engine, external_id: str) -> int | None:
    with Session(engine) as session:
        return session.scalar(select(PersonRow.id).where(PersonRow.external_id == external_id))


@_guarded
def person_record(engine: Engine, person_id: int) -> PatientRecord:
    with Session(engine) as session:
        return _record_of(_person_row(session, person_id))


@_guarded
def export_json(engine: Engine, person_id: int, *, indent: int | None = 2) -> str:
    """The person as an mgcare JSON record (readable by `record_from_document`)."""
    return person_record(engine, person_id).model_dump_json(indent=indent, exclude_defaults=True)


@_guarded
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


@_guarded
def assessments(engine: Engine, person_id: int) -> list[Assessment]:
    with Session(engine) as session:
        rows = session.scalars(
            select(AssessmentRow)
            .where(AssessmentRow.person_id == person_id)
            .order_by(AssessmentRow.as_of, AssessmentRow.id)
        )
        return [Assessment.model_validate(row.data) for row in rows]


@_guarded
def audit_log(engine: Engine, person_id: int | None = None) -> list[AuditRow]:
    with Session(engine, expire_on_commit=False) as session:
        query = select(AuditRow).order_by(AuditRow.id)
        if person_id is not None:
            query = query.where(AuditRow.person_id == person_id)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


@_guarded
def count_rows(engine: Engine, table: type[Any]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


@_guarded
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


@_guarded
def backup(engine: Engine, path: Path | str) -> Path:
    """A consistent copy of a SQLite database via the online backup API (safe while in use)."""
    if engine.dialect.name != "sqlite":
        raise StoreError("backup() supports SQLite; use pg_dump for PostgreSQL")
    target = Path(path)
    database = engine.url.database
    if database and Path(database).resolve() == target.resolve():
        raise StoreError(f"{target} is the database itself; choose another backup path")
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        if not isinstance(source, sqlite3.Connection):
            raise StoreError("backup() needs the sqlite3 driver")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            destination = sqlite3.connect(target)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot write the backup to {target}: {exc}") from None
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        raw.close()
    return target


# --- listings ----------------------------------------------------------------------------------


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _listings(session: Session, rows: Sequence[PersonRow]) -> list[PersonListing]:
    """Listings for `rows` with two grouped queries (lab counts, latest Mg), not one per person."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    counts: dict[int, int] = {
        person_id: int(count)
        for person_id, count in session.execute(
            select(LabResultRow.person_id, func.count())
            .where(LabResultRow.person_id.in_(ids))
            .group_by(LabResultRow.person_id)
        )
    }
    rank = (
        func.row_number()
        .over(
            partition_by=LabResultRow.person_id,
            order_by=(LabResultRow.effective.desc(), LabResultRow.position.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            LabResultRow.person_id,
            LabResultRow.effective,
            LabResultRow.value,
            LabResultRow.unit,
            LabResultRow.value_mmol_l,
            rank,
        )
        .where(LabResultRow.person_id.in_(ids), LabResultRow.analyte == MAGNESIUM)
        .subquery()
    )
    latest: dict[int, LabPoint] = {
        person_id: LabPoint(effective, value, unit, value_mmol_l)
        for person_id, effective, value, unit, value_mmol_l in session.execute(
            select(
                ranked.c.person_id,
                ranked.c.effective,
                ranked.c.value,
                ranked.c.unit,
                ranked.c.value_mmol_l,
            ).where(ranked.c.rank == 1)
        )
    }
    today = date.today()
    return [
        PersonListing(
            person_id=row.id,
            external_id=row.external_id,
            display_name=row.display_name,
            sex=row.sex,
            birth_date=row.birth_date,
            age_years=(
                _age(row.birth_date, row.deceased or today)
                if row.birth_date is not None
                else row.age_years
            ),
            latest_mg=latest.get(row.id),
            lab_count=counts.get(row.id, 0),
            updated_at=row.updated_at,
        )
        for row in rows
    ]


@_guarded
def list_persons(
    engine: Engine, *, search: str | None = None, limit: int = 200, offset: int = 0
) -> list[PersonListing]:
    """Stored persons in store-id order, a page at a time. `search` matches part of the
    external id or display name (case-insensitive), or the store id exactly."""
    if not 1 <= limit <= MAX_LISTING:
        raise StoreError(f"limit must be between 1 and {MAX_LISTING}")
    if offset < 0:
        raise StoreError("offset must not be negative")
    query = select(PersonRow).order_by(PersonRow.id).limit(limit).offset(offset)
    text = " ".join((search or "").split())
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        matches: list[ColumnElement[bool]] = [
            PersonRow.external_id.ilike(pattern, escape="\\"),
            PersonRow.display_name.ilike(pattern, escape="\\"),
        ]
        if text.isdigit():
            matches.append(PersonRow.id == int(text))
        query = query.where(or_(*matches))
    with Session(engine) as session:
        return _listings(session, list(session.scalars(query)))


@_guarded
def person_listing(engine: Engine, person_id: int) -> PersonListing:
    """The listing of one person; StoreError if unknown."""
    with Session(engine) as session:
        return _listings(session, [_person_row(session, person_id)])[0]


@_guarded
def resolve_person(engine: Engine, reference: str) -> int:
    """A store id from what a user typed: a store id (digits) or an external id."""
    text = reference.strip()
    with Session(engine) as session:
        if text.isdigit() and session.get(PersonRow, int(text)) is not None:
            return int(text)
        found = session.scalar(select(PersonRow.id).where(PersonRow.external_id == text))
    if found is None:
        raise StoreError(f"no person with store id or external id {text!r}")
    return found


TABLES: tuple[type[Any], ...] = (
    PersonRow,
    LabResultRow,
    MedicationRow,
    ConditionRow,
    FoodLogRow,
    AssessmentRow,
    FeedbackRow,
    AuditRow,
)


@_guarded
def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, in schema order."""
    with Session(engine) as session:
        return {
            str(table.__tablename__): int(
                session.scalar(select(func.count()).select_from(table)) or 0
            )
            for table in TABLES
        }


@_guarded
def ensure_schema(engine: Engine) -> str | None:
    """Bring the database to the newest schema (a no-op when it is there already); returns
    the revision. A database from a newer mgcare is refused rather than guessed at."""
    from mgcare.store.migrations import current_revision, head_revision, upgrade

    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return head
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from mgcare.store.migrations import HERE

    if current is not None:
        try:
            ScriptDirectory(str(HERE)).get_revision(current)
        except CommandError:
            raise StoreUnavailable(
                f"the database at {engine.url.render_as_string(hide_password=True)} has schema "
                f"revision {current!r}, unknown to this mgcare (written by a newer version?)"
            ) from None
    upgrade(engine)
    return head
