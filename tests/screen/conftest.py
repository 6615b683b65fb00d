"""Shared fixtures for the screening tests: one generated population, screened once per engine.

The Spark session is session-scoped (local[2], few shuffle partitions); Spark tests skip only
when Java is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from mgcare.knowledge import Knowledge
from mgcare.screen.command import ScreenSummary, run_screen
from mgcare.screen.engines import java_available
from mgcare.screen.synthetic import Config, generate

AS_OF = date(2026, 6, 30)
PARITY_PERSONS = 10_000
SEED = 20261125


@dataclass(frozen=True)
class Population:
    paths: dict[str, Path]
    as_of: date


@dataclass(frozen=True)
class Screened:
    population: Population
    summary: ScreenSummary
    rows: dict[str, dict[str, Any]]


def screen(population: Population, out: Path, engine: str = "duckdb", **options: Any) -> Screened:
    p = population.paths
    summary = run_screen(
        p["persons"],
        p["labs"],
        p.get("medications"),
        p.get("conditions"),
        out,
        engine,
        population.as_of,
        None,
        False,
        **options,
    )
    rows = {r["person_id"]: r for r in pq.read_table(out / "persons.parquet").to_pylist()}
    return Screened(population, summary, rows)


@pytest.fixture(scope="session")
def population(tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge) -> Population:
    """10,000 generated persons with every boundary, unit, drug class and bad-row case."""
    out = tmp_path_factory.mktemp("population")
    paths = generate(
        out, Config(persons=PARITY_PERSONS, seed=SEED, as_of=AS_OF), knowledge=knowledge
    )
    return Population(paths, AS_OF)


@pytest.fixture(scope="session")
def screened(population: Population, tmp_path_factory: pytest.TempPathFactory) -> Screened:
    return screen(population, tmp_path_factory.mktemp("screened-duckdb"))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    if not java_available():
        pytest.skip("Spark tests need Java: `java` not on PATH and JAVA_HOME unset")
    from mgcare.screen.engines import spark_session

    session = spark_session("local[2]", shuffle_partitions="2")
    yield session
    session.stop()
