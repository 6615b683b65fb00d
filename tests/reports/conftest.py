"""A store in tmp with the demo patient and two years of monthly Mg history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mgcare.demo import DEMO_AS_OF
from mgcare.diet.foods import FoodDatabase, load_food_database
from mgcare.knowledge import Knowledge
from mgcare.model import LabResult, PatientRecord
from mgcare.store import make_engine, upgrade
from mgcare.store import repository as repo
from mgcare.store.db import sqlite_url

HISTORY_MONTHS = 24


def demo_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        files("mgcare.demo").joinpath("demo_patient.json").read_text("utf-8")
    )
    return document


def monthly_history(months: int = HISTORY_MONTHS) -> tuple[LabResult, ...]:
    """Monthly serum Mg in mg/dL before the demo's own result, drifting down."""
    labs = []
    for i in range(months):
        year, month = divmod(2026 * 12 + 9 - (months - i), 12)
        value = round(2.1 - 0.03 * i, 2)
        labs.append(
            LabResult(
                analyte="magnesium",
                value=value,
                unit="mg/dL",
                effective=date(year, month + 1, 15),
            )
        )
    return tuple(labs)


@pytest.fixture(scope="module")
def foods() -> FoodDatabase:
    return load_food_database()


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge
) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path_factory.mktemp("store") / "mgcare.sqlite3"
    engine = make_engine(sqlite_url(path))
    upgrade(engine)
    repo.import_record(engine, demo_document(), knowledge, DEMO_AS_OF)
    record = repo.person_record(engine, repo.find_person(engine, "demo-1") or 0)
    repo.store_record(
        engine,
        PatientRecord(person=record.person, labs=monthly_history()),
        knowledge,
    )
    yield engine, path
    engine.dispose()
