"""Input checks that turn bad records into one clear reason naming the offending resource.

Runs before `assess` in every adapter, so the rules only ever see values they can use; a value
that is merely implausible for its unit is not an error (the rules report it as a finding).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from mgcare.knowledge import Knowledge
from mgcare.model import LabResult, PatientRecord
from mgcare.units import UnitError, check_value, parse_unit

MAX_AGE_YEARS = 130
EARLIEST_RESULT = date(1900, 1, 1)
"""Input sanity: laboratory results older than this are typing errors, not history."""


class RecordError(ValueError):
    """The record cannot be assessed; the message is one line for the user."""


def _where(lab: LabResult, index: int) -> str:
    return lab.source or f"labs[{index}]"


def _day(value: datetime | date) -> date:
    """Calendar day in UTC; a time at the edge of the calendar keeps its local day."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return value.date()
    try:
        return value.astimezone(UTC).date()
    except OverflowError:
        return value.date()


def validate_record(
    record: PatientRecord, knowledge: Knowledge, today: date, as_of: date | None = None
) -> None:
    """Raise RecordError for the first problem: units, absurd values, future dates, ages, and
    an assessment date after the person's death."""
    person = record.person
    where_person = f"Patient/{person.id}" if person.id else "person"
    if person.deceased is not None and as_of is not None and as_of > person.deceased:
        raise RecordError(
            f"{where_person}: died on {person.deceased}; assess with --as-of on or before that date"
        )
    if person.birth_date is not None:
        if person.birth_date > today:
            raise RecordError(f"{where_person}: birth date {person.birth_date} is in the future")
        if today.year - person.birth_date.year > MAX_AGE_YEARS:
            raise RecordError(
                f"{where_person}: birth date {person.birth_date} gives an impossible age"
            )
    if person.pregnant and person.sex == "male":
        raise RecordError(f"{where_person}: pregnancy recorded for a male person")
    for index, lab in enumerate(record.labs):
        where = _where(lab, index)
        try:
            unit = parse_unit(lab.unit, lab.analyte, knowledge)
        except UnitError as exc:
            raise RecordError(f"{where}: {exc}") from None
        if not lab.value > 0:
            raise RecordError(f"{where}: {lab.analyte} value {lab.value:g} must be positive")
        check = check_value(lab.value, unit, lab.analyte, knowledge)
        if check.absurd:
            raise RecordError(
                f"{where}: {lab.analyte} value {lab.value:g} {unit} is impossible in every unit"
            )
        day = _day(lab.effective)
        if day < EARLIEST_RESULT or (person.birth_date is not None and day < person.birth_date):
            raise RecordError(
                f"{where}: date {lab.effective.isoformat()} is before the person could be tested"
            )
        if day > today:
            raise RecordError(f"{where}: date {lab.effective.isoformat()} is in the future")
    for index, medication in enumerate(record.medications):
        where = medication.source or f"medications[{index}]"
        if medication.start and medication.end and medication.end < medication.start:
            raise RecordError(f"{where}: ends before it starts")
    for index, condition in enumerate(record.conditions):
        where = condition.source or f"conditions[{index}]"
        if condition.onset and condition.onset > today:
            raise RecordError(f"{where}: onset {condition.onset} is in the future")
