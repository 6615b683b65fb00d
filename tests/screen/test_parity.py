"""Parity: the batch screen gives, for every person, exactly what the single-patient `assess`
gives, on 10,000 generated persons covering every status boundary, unit, drug class and
missing-data case; and Spark gives exactly what DuckDB gives."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from mgcare.knowledge import Knowledge
from mgcare.screen.reference import Records, build_records, differences, expected_rows
from mgcare.screen.sql import FINDINGS_IN_BATCH, MG_STATUSES
from tests.screen.conftest import PARITY_PERSONS, Screened, screen

REFUSALS = {
    "died on": "deceased-before-as-of",
    "is in the future": "birth-date-after-today",
    "gives an impossible age": "birth-date-impossible-age",
}
"""validate_record's one-line reasons for a person, and the screening exclusion for each."""


def _records(screened: Screened, knowledge: Knowledge) -> Records:
    p = screened.population.paths
    as_of = screened.population.as_of
    today = max(as_of, date.today())
    return build_records(
        p["persons"], p["labs"], p["medications"], p["conditions"], knowledge, today, as_of
    )


def test_duckdb_matches_assess_for_every_person(screened: Screened, knowledge: Knowledge) -> None:
    """Every column of persons.parquet equals what `assess` says for that person."""
    records = _records(screened, knowledge)
    expected = {
        row["person_id"]: row
        for row in expected_rows(records, knowledge, screened.population.as_of)
    }
    assert len(expected) >= PARITY_PERSONS * 0.97
    problems = differences(expected, screened.rows, limit=20)
    assert not problems, "\n".join(problems)


def test_persons_assess_refuses_are_the_persons_screening_excludes(
    screened: Screened, knowledge: Knowledge
) -> None:
    """A person the single-patient path refuses (died before the as-of date, impossible birth
    date) is absent from persons.parquet and counted under the matching exclusion; the deaths
    on, just before and just after the as-of date are all in the population."""
    records = _records(screened, knowledge)
    by_reason: dict[str, set[str]] = {}
    for pid, message in records.refused.items():
        reason = next(code for phrase, code in REFUSALS.items() if phrase in message)
        by_reason.setdefault(reason, set()).add(pid)
    assert not set(records.refused) & set(screened.rows)
    excluded = screened.summary.data["tables"]["persons"]["excluded"]
    for reason, pids in by_reason.items():
        assert excluded[reason] == len(pids), reason
    assert len(by_reason["deceased-before-as-of"]) >= PARITY_PERSONS * 0.01
    as_of = screened.population.as_of
    deaths = {
        r["person_id"]: r["deceased_date"]
        for r in pq.read_table(screened.population.paths["persons"]).to_pylist()
        if r["deceased_date"] is not None
    }
    day = timedelta(days=1)
    assert {as_of - day, as_of, as_of + day} <= set(deaths.values())
    died_before = {pid for pid, d in deaths.items() if d < as_of}
    assert died_before >= by_reason["deceased-before-as-of"]
    on_or_after = {pid for pid, d in deaths.items() if d >= as_of}
    assert on_or_after & set(screened.rows)


def test_population_covers_every_case(screened: Screened, knowledge: Knowledge) -> None:
    """The generated persons reach every status, grade, unit, finding, drug class and gap, so
    the parity above is not vacuous."""
    rows = list(screened.rows.values())
    assert {r["mg_status"] for r in rows} >= {*MG_STATUSES, "normal"}
    assert {r["mg_unit"] for r in rows} >= set(knowledge.analytes["magnesium"].units)
    grades = {(r["mg_unit"], r["ctcae_grade"]) for r in rows if r["ctcae_grade"]}
    for unit in ("mmol/L", "mg/dL"):
        assert {g for u, g in grades if u == unit} >= {1, 2, 3, 4}
    codes = {c for r in rows for c in r["codes"]}
    assert codes == set(FINDINGS_IN_BATCH)
    depleting = {d.drug_class for d in knowledge.drugs.drug if "depletes" in d.effects}
    assert {c for r in rows for c in r["depleting_classes"]} == depleting
    assert {r["egfr_source"] for r in rows} == {"reported", "ckd-epi-2021", None}
    assert any(r["ca_mg_high"] for r in rows)
    assert any(r["age_years"] is None for r in rows)
    assert any(r["sex"] is None for r in rows)
    assert any(r["mg_mmol_l"] is None and r["egfr"] is None for r in rows)
    serum = knowledge.thresholds.serum_magnesium
    at_boundary = {r["mg_mmol_l"] for r in rows if r["mg_unit"] == "mmol/L"}
    for fact in (
        serum.deficiency_below,
        serum.normal_lower,
        serum.normal_upper,
        serum.severe_excess_from,
    ):
        assert fact.value in at_boundary
    excluded = screened.summary.data["tables"]["labs"]["excluded"]
    assert set(excluded) >= {
        "unit-not-valid-for-analyte",
        "loinc-not-screened",
        "value-not-a-number",
        "value-not-positive",
        "value-impossible-in-every-unit",
        "dated-after-today",
        "unknown-person",
    }
    assert (
        screened.summary.data["tables"]["labs"]["left_out_of_calculations"]["mislabelled-panel"] > 0
    )


def test_every_input_row_is_accounted_for(screened: Screened) -> None:
    """Nothing silently dropped: used + excluded = rows, for every table."""
    tables = screened.summary.data["tables"]
    for name in ("labs", "medications", "conditions"):
        info = tables[name]
        assert info["used"] + sum(info["excluded"].values()) == info["rows"], name
    persons = tables["persons"]
    assert persons["screened"] + sum(persons["excluded"].values()) == persons["rows"]
    assert persons["screened"] == screened.summary.persons == len(screened.rows)


def test_csv_input_gives_the_same_result(screened: Screened, tmp_path: Path) -> None:
    """The same tables as CSV (all text, parsed by the shared typed views) screen identically."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from tests.screen.conftest import Population

    paths = {}
    for name, path in screened.population.paths.items():
        paths[name] = tmp_path / f"{name}.csv"
        pacsv.write_csv(pq.read_table(path), paths[name])
    again = screen(Population(paths, screened.population.as_of), tmp_path / "out")
    assert not differences(screened.rows, again.rows)
    assert again.summary.data["counts"] == screened.summary.data["counts"]


@pytest.mark.slow
def test_spark_matches_duckdb(screened: Screened, spark: Any, tmp_path: Path) -> None:
    """Spark local[2] runs the same SQL: identical per-person rows and counts; weighted
    estimates equal up to floating-point summation order."""
    on_spark = screen(screened.population, tmp_path / "spark", "spark", session=spark)
    problems = differences(screened.rows, on_spark.rows, limit=20)
    assert not problems, "\n".join(problems)
    a, b = screened.summary.data, on_spark.summary.data
    assert a["counts"] == b["counts"]
    assert a["tables"] == b["tables"]
    wa, wb = a["weighted"], b["weighted"]
    assert wa["design"] == wb["design"]
    for name, estimate in wa["prevalence"].items():
        for key, value in estimate.items():
            other = wb["prevalence"][name][key]
            if isinstance(value, float):
                assert math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-12), (name, key)
            else:
                assert value == other, (name, key)
