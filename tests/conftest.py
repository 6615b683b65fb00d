"""Shared fixtures: the real knowledge pack and small record builders."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pytest

from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.model import (
    ClinicalContext,
    Coding,
    Condition,
    LabResult,
    Medication,
    PatientRecord,
    Person,
)

AS_OF = date(2026, 11, 25)
LAB_DAY = date(2026, 11, 20)


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


def lab(
    analyte: str, value: float, unit: str | None, day: date = LAB_DAY, **extra: Any
) -> LabResult:
    return LabResult(analyte=analyte, value=value, unit=unit, effective=day, **extra)  # type: ignore[arg-type]


def mg(value: float, unit: str = "mmol/L", day: date = LAB_DAY, **extra: Any) -> LabResult:
    return lab("magnesium", value, unit, day, **extra)


def med(name: str, *codes: tuple[str, str], status: str = "active") -> Medication:
    return Medication(
        name=name,
        codes=tuple(Coding(system=system, code=code) for system, code in codes),  # type: ignore[arg-type]
        status=status,
    )


def cond(name: str, *codes: tuple[str, str], active: bool = True) -> Condition:
    return Condition(
        name=name,
        codes=tuple(Coding(system=system, code=code) for system, code in codes),  # type: ignore[arg-type]
        active=active,
    )


def record(
    labs: Iterable[LabResult] = (),
    medications: Iterable[Medication] = (),
    conditions: Iterable[Condition] = (),
    *,
    sex: str = "female",
    birth: date = date(1960, 5, 1),
    **context: bool,
) -> PatientRecord:
    return PatientRecord(
        person=Person(id="t", birth_date=birth, sex=sex),  # type: ignore[arg-type]
        labs=tuple(labs),
        medications=tuple(medications),
        conditions=tuple(conditions),
        context=ClinicalContext(**context),
    )
