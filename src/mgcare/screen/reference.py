"""The single-patient path over the same long tables: one PatientRecord per person, `assess` per
person. It exists to prove parity (tests, spot checks of a screening run), not to screen.

Row rules are re-implemented here in plain Python with the core's own functions (parse_unit,
check_value, the validation limits), independently of the SQL, so the parity test compares two
implementations, not one with itself. It loops over persons by design and is slow on purpose.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from mgcare.knowledge import Knowledge
from mgcare.model import Coding, Condition, LabResult, Medication, PatientRecord, Person
from mgcare.rules import assess
from mgcare.rules.medications import current_drugs
from mgcare.screen.lookups import CONDITION_SYSTEMS, MEDICATION_SYSTEMS
from mgcare.units import UnitError, check_value, parse_unit, to_canonical
from mgcare.validation import EARLIEST_RESULT, MAX_AGE_YEARS, RecordError, validate_record

OUTPUT_COLUMNS = (
    "person_id",
    "age_years",
    "sex",
    "mg_mmol_l",
    "mg_status",
    "ctcae_grade",
    "mg_value",
    "mg_unit",
    "mg_date",
    "ca_mg_molar",
    "ca_mg_high",
    "egfr",
    "egfr_category",
    "egfr_source",
    "depleting_classes",
    "codes",
    "condition_groups",
)
SEX_WORDS = {"male": "male", "m": "male", "female": "female", "f": "female"}


def _rows(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    return [dict(row) for row in pq.read_table(path).to_pylist()]


def _sql_trim(text: str) -> str:
    return text.strip(" ")


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass
class Records:
    """Valid persons with their records, in input order, and the persons the single-patient
    path refuses (validate_record: a death before the as-of date, a birth date in the future
    or giving an impossible age) with its one-line reason."""

    records: dict[str, PatientRecord]
    condition_groups: dict[str, list[str]]
    refused: dict[str, str]


def build_records(
    persons: Path,
    labs: Path,
    medications: Path | None,
    conditions: Path | None,
    knowledge: Knowledge,
    today: date,
    as_of: date,
) -> Records:
    """Records from Parquet long tables, applying the documented row rules; each record then
    goes through `validate_record`, as `mgcare assess` does, and is refused or kept."""
    people: dict[str, Person] = {}
    seen: set[tuple[Any, ...]] = set()
    for row in _rows(persons):
        key = tuple(sorted(row.items()))
        if key in seen:
            continue
        seen.add(key)
        pid = row.get("person_id")
        if pid is None:
            continue
        birth = row.get("birth_date")
        age = _finite(row.get("age_years"))
        if age is not None and (age < 0 or age > MAX_AGE_YEARS or age != math.floor(age)):
            continue
        raw_sex = row.get("sex")
        sex = SEX_WORDS.get(_sql_trim(raw_sex).lower()) if raw_sex is not None else None
        people[str(pid)] = Person(
            id=str(pid),
            birth_date=birth,
            age_years=int(age) if age is not None and birth is None else None,
            sex=sex,
            deceased=row.get("deceased_date"),
        )
    labs_by: dict[str, list[tuple[tuple[Any, ...], LabResult]]] = defaultdict(list)
    for row in _rows(labs):
        pid, code = row.get("person_id"), row.get("loinc")
        if pid is None or str(pid) not in people or code is None:
            continue
        loinc = knowledge.loinc.get(str(code))
        if loinc is None or loinc.analyte not in knowledge.analytes:
            continue
        try:
            ucum = parse_unit(row.get("unit"), loinc.analyte, knowledge)
        except UnitError:
            continue
        value = _finite(row.get("value"))
        effective: datetime | None = row.get("effective")
        if value is None or effective is None or value <= 0:
            continue
        if check_value(value, ucum, loinc.analyte, knowledge).absurd or effective.date() > today:
            continue
        birth = people[str(pid)].birth_date
        if effective.date() < EARLIEST_RESULT or (birth is not None and effective.date() < birth):
            continue
        low, high = _finite(row.get("reference_low")), _finite(row.get("reference_high"))
        if low is not None and high is not None and low >= high:
            low = high = None
        interpretation = row.get("interpretation")
        lab = LabResult(
            analyte=loinc.analyte,
            value=value,
            unit=row.get("unit"),
            effective=effective,
            reference_low=low,
            reference_high=high,
            interpretation=interpretation,
            loinc=str(code),
        )
        canonical = to_canonical(value, ucum, loinc.analyte, knowledge)
        tie = (
            effective,
            canonical,
            value,
            ucum,
            low is None,
            low or 0.0,
            high is None,
            high or 0.0,
            interpretation is None,
            interpretation or "",
        )
        labs_by[str(pid)].append((tie, lab))
    meds_by: dict[str, list[Medication]] = defaultdict(list)
    for row in _rows(medications):
        pid, code = row.get("person_id"), row.get("code")
        system = _sql_trim(str(row["system"])).lower() if row.get("system") is not None else None
        if pid is None or str(pid) not in people or not code or system not in MEDICATION_SYSTEMS:
            continue
        start, end = row.get("start"), row.get("end")
        if start is not None and end is not None and end < start:
            continue
        meds_by[str(pid)].append(
            Medication(
                codes=(Coding(system=system, code=str(code)),),
                status=row.get("status"),
                start=start,
                end=end,
            )
        )
    conds_by: dict[str, list[Condition]] = defaultdict(list)
    for row in _rows(conditions):
        pid, code = row.get("person_id"), row.get("code")
        system = _sql_trim(str(row["system"])).lower() if row.get("system") is not None else None
        if pid is None or str(pid) not in people or not code or system not in CONDITION_SYSTEMS:
            continue
        onset = row.get("onset")
        if onset is not None and onset > today:
            continue
        active = row.get("active")
        conds_by[str(pid)].append(
            Condition(
                codes=(Coding(system=system, code=str(code)),),
                onset=onset,
                active=True if active is None else bool(active),
            )
        )
    records: dict[str, PatientRecord] = {}
    groups: dict[str, list[str]] = {}
    refused: dict[str, str] = {}
    from mgcare.rules.conditions import active_groups

    for pid, person in people.items():
        ordered = [lab for _, lab in sorted(labs_by[pid], key=lambda item: item[0], reverse=True)]
        record = PatientRecord(
            person=person,
            labs=tuple(ordered),
            medications=tuple(meds_by[pid]),
            conditions=tuple(conds_by[pid]),
        )
        try:
            validate_record(record, knowledge, today, as_of)
        except RecordError as exc:
            refused[pid] = str(exc)
            continue
        records[pid] = record
        groups[pid] = sorted(active_groups(record.conditions, knowledge))
    return Records(records, groups, refused)


def expected_row(
    record: PatientRecord, groups: list[str], knowledge: Knowledge, as_of: date
) -> dict[str, Any]:
    """The persons.parquet row that `assess` implies for one record."""
    result = assess(record, knowledge, as_of=as_of)
    serum, ratio, egfr = result.serum_magnesium, result.ca_mg_ratio, result.egfr
    codes = sorted({item.code for item in result.findings})
    depleting = sorted(
        {
            drug.drug_class
            for _, drug in current_drugs(record.medications, as_of, knowledge)
            if "depletes" in drug.effects
        }
    )
    return {
        "person_id": record.person.id,
        "age_years": result.person.age_years,
        "sex": result.person.sex,
        "mg_mmol_l": serum.mmol_l if serum else None,
        "mg_status": serum.status if serum else None,
        "ctcae_grade": serum.ctcae_grade if serum else None,
        "mg_value": serum.value if serum else None,
        "mg_unit": serum.unit if serum else None,
        "mg_date": date.fromisoformat(serum.effective[:10]) if serum else None,
        "ca_mg_molar": ratio.molar if ratio else None,
        "ca_mg_high": "ca-mg-ratio-high" in codes,
        "egfr": egfr.value if egfr else None,
        "egfr_category": egfr.category if egfr else None,
        "egfr_source": (
            None
            if egfr is None
            else "reported"
            if egfr.method.startswith("reported")
            else "ckd-epi-2021"
        ),
        "depleting_classes": depleting,
        "codes": codes,
        "condition_groups": groups,
    }


def expected_rows(records: Records, knowledge: Knowledge, as_of: date) -> Iterator[dict[str, Any]]:
    for pid, record in records.records.items():
        yield expected_row(record, records.condition_groups[pid], knowledge, as_of)


def differences(
    expected: Mapping[str, Mapping[str, Any]],
    actual: Mapping[str, Mapping[str, Any]],
    limit: int = 10,
) -> list[str]:
    """Human-readable per-person, per-column differences (empty when identical)."""
    problems: list[str] = []
    for pid in sorted(set(expected) | set(actual)):
        if pid not in actual or pid not in expected:
            problems.append(f"{pid}: only in {'expected' if pid in expected else 'actual'}")
        else:
            for column in OUTPUT_COLUMNS:
                want, got = expected[pid][column], actual[pid][column]
                if want != got:
                    problems.append(f"{pid}.{column}: assess {want!r} != batch {got!r}")
        if len(problems) >= limit:
            break
    return problems
