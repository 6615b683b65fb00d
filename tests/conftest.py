"""Shared fixtures: the real knowledge pack and small record builders."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
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


ASSESSMENT_KEYS = frozenset(
    {
        "mgcare_version",
        "knowledge_version",
        "person",
        "serum_magnesium",
        "ca_mg_ratio",
        "egfr",
        "intake",
        "findings",
        "recommendations",
        "disclaimer",
    }
)
"""Top-level keys of the DESIGN.md section 4 assessment JSON."""


def run_mgcare(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mgcare.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        cwd=cwd,
    )


def numeric_literals(module: Path, allowed: set[float]) -> list[tuple[int, float]]:
    """(line, value) of every number in a module that is not in `allowed`: clinical numbers
    belong in the knowledge pack, so rule code may hold only identities and unit prefixes."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
        and node.value not in allowed
    ]
