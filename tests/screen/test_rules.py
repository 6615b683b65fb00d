"""The batch rules at each boundary of the pack, person by person against `assess`, and the
discipline that no clinical number lives in the screening code."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mgcare.knowledge import Knowledge
from mgcare.screen.exact import round_like_python, round_python_model
from mgcare.screen.reference import build_records, differences, expected_rows
from mgcare.units import convert
from tests.conftest import numeric_literals
from tests.screen.conftest import Population, screen

SCREEN = Path(__file__).resolve().parents[2] / "src" / "mgcare" / "screen"
RULE_MODULES = [SCREEN / "sql.py", SCREEN / "lookups.py"]
# Not clinical: identities, SI prefixes, months per year, rounding digits (as tests/knowledge).
ALLOWED_LITERALS = {0, 1, -1, 2, 3, 4, 10, 12, 1e-3}
AS_OF = date(2026, 6, 30)
DAY = datetime(2026, 6, 20, 8, 0)


def _tables(
    tmp_path: Path,
    persons: list[dict[str, Any]],
    labs: list[dict[str, Any]],
    meds: list[dict[str, Any]] | None = None,
    conds: list[dict[str, Any]] | None = None,
) -> Population:
    schemas = {
        "persons": pa.schema(
            [
                ("person_id", pa.string()),
                ("birth_date", pa.date32()),
                ("age_years", pa.float64()),
                ("sex", pa.string()),
                ("deceased_date", pa.date32()),
            ]
        ),
        "labs": pa.schema(
            [
                ("person_id", pa.string()),
                ("loinc", pa.string()),
                ("value", pa.float64()),
                ("unit", pa.string()),
                ("effective", pa.timestamp("us")),
                ("reference_low", pa.float64()),
                ("reference_high", pa.float64()),
                ("interpretation", pa.string()),
            ]
        ),
        "medications": pa.schema(
            [
                ("person_id", pa.string()),
                ("code", pa.string()),
                ("system", pa.string()),
                ("start", pa.date32()),
                ("end", pa.date32()),
                ("status", pa.string()),
            ]
        ),
        "conditions": pa.schema(
            [
                ("person_id", pa.string()),
                ("code", pa.string()),
                ("system", pa.string()),
                ("onset", pa.date32()),
                ("active", pa.bool_()),
            ]
        ),
    }
    data = {"persons": persons, "labs": labs, "medications": meds or [], "conditions": conds or []}
    paths = {}
    for name, rows in data.items():
        full = [{f.name: row.get(f.name) for f in schemas[name]} for row in rows]
        paths[name] = tmp_path / f"{name}.parquet"
        pq.write_table(pa.Table.from_pylist(full, schema=schemas[name]), paths[name])
    return Population(paths, AS_OF)


def _check(
    population: Population, tmp_path: Path, knowledge: Knowledge
) -> dict[str, dict[str, Any]]:
    result = screen(population, tmp_path / "out")
    p = population.paths
    records = build_records(
        p["persons"],
        p["labs"],
        p["medications"],
        p["conditions"],
        knowledge,
        max(AS_OF, date.today()),
        AS_OF,
    )
    expected = {r["person_id"]: r for r in expected_rows(records, knowledge, AS_OF)}
    problems = differences(expected, result.rows)
    assert not problems, "\n".join(problems)
    return result.rows


def _mg(pid: str, value: float, unit: str, when: datetime = DAY, **extra: Any) -> dict[str, Any]:
    return {
        "person_id": pid,
        "loinc": "2601-3",
        "value": value,
        "unit": unit,
        "effective": when,
        **extra,
    }


def test_every_status_boundary_in_every_unit(tmp_path: Path, knowledge: Knowledge) -> None:
    """Each serum Mg threshold of the pack and each CTCAE bound, exactly and just either side, in
    mmol/L, mg/dL and mEq/L: status and grade as `assess` gives them."""
    serum = knowledge.thresholds.serum_magnesium
    points = {
        serum.deficiency_below.value,
        serum.normal_lower.value,
        serum.normal_upper.value,
        serum.severe_excess_from.value,
    }
    values: list[tuple[float, str]] = []
    for unit in knowledge.analytes["magnesium"].units:
        for point in points:
            exact = convert(point, "mmol/L", unit, "magnesium", knowledge)
            values += [
                (exact, unit),
                (round(exact, 2), unit),
                (exact * (1 + 1e-9), unit),
                (exact * (1 - 1e-9), unit),
            ]
    for grade in knowledge.ctcae:
        if isinstance(grade.bound, float):
            values += [
                (grade.bound, grade.unit),
                (grade.bound + 0.01, grade.unit),
                (grade.bound - 0.01, grade.unit),
            ]
    persons = [
        {"person_id": f"b{i}", "birth_date": date(1960, 1, 1), "sex": "female"}
        for i in range(len(values))
    ]
    labs = [_mg(f"b{i}", v, u) for i, (v, u) in enumerate(values) if v > 0]
    rows = _check(_tables(tmp_path, persons, labs), tmp_path, knowledge)
    assert {r["mg_status"] for r in rows.values()} >= {
        "hypomagnesemia-severe",
        "hypomagnesemia",
        "low-normal",
        "normal",
        "hypermagnesemia",
        "hypermagnesemia-severe",
    }


def test_lab_interval_potassium_heart_rate_and_ratio(tmp_path: Path, knowledge: Knowledge) -> None:
    """The lab's own Mg interval, low potassium by interval and by flag, rapid AF on the as-of
    day, and the Ca/Mg ratio at the diabetes cut-off."""
    cutoff = knowledge.thresholds.ca_mg_ratio.diabetes_cutoff.value
    limit = knowledge.thresholds.rapid_af.heart_rate_above.value
    as_of_time = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 9, 0)
    persons = [
        {"person_id": f"c{i}", "birth_date": date(1950, 5, 5), "sex": "male"} for i in range(6)
    ]
    labs = [
        _mg("c0", 0.72, "mmol/L", reference_low=0.75, reference_high=1.0),
        _mg("c1", 1.15, "mmol/L", reference_low=0.7, reference_high=1.05),
        _mg("c2", 0.6, "mmol/L"),
        {
            "person_id": "c2",
            "loinc": "2823-3",
            "value": 3.2,
            "unit": "mmol/L",
            "effective": DAY,
            "reference_low": 3.5,
        },
        _mg("c3", 0.6, "mmol/L"),
        {
            "person_id": "c3",
            "loinc": "2823-3",
            "value": 3.9,
            "unit": "mEq/L",
            "effective": DAY,
            "interpretation": "l",
        },
        _mg("c4", 1.0, "mmol/L"),
        {"person_id": "c4", "loinc": "2000-8", "value": cutoff, "unit": "mmol/L", "effective": DAY},
        _mg("c5", 1.0, "mmol/L"),
        {
            "person_id": "c5",
            "loinc": "2000-8",
            "value": cutoff + 0.01,
            "unit": "mmol/L",
            "effective": DAY,
        },
        {
            "person_id": "c5",
            "loinc": "8867-4",
            "value": limit + 1,
            "unit": "/min",
            "effective": as_of_time,
        },
        {
            "person_id": "c4",
            "loinc": "8867-4",
            "value": limit,
            "unit": "bpm",
            "effective": as_of_time,
        },
    ]
    conds = [
        {"person_id": pid, "code": code, "system": system}
        for pid in ("c4", "c5")
        for code, system in (("E11.9", "icd10"), ("49436004", "snomed"))
    ]
    rows = _check(_tables(tmp_path, persons, labs, conds=conds), tmp_path, knowledge)
    assert rows["c0"]["mg_status"] == "hypomagnesemia"
    assert rows["c1"]["mg_status"] == "hypermagnesemia"
    assert "hypokalemia-with-low-magnesium" in rows["c2"]["codes"]
    assert "hypokalemia-with-low-magnesium" in rows["c3"]["codes"]
    assert not rows["c4"]["ca_mg_high"] and rows["c5"]["ca_mg_high"]
    assert "rapid-atrial-fibrillation" in rows["c5"]["codes"]
    assert "rapid-atrial-fibrillation" not in rows["c4"]["codes"]


def test_mislabelled_panel_and_egfr_rules(tmp_path: Path, knowledge: Knowledge) -> None:
    """A mg/dL panel labelled mmol/L is left out (Ca impossible, Mg typical in mg/dL); a lone
    suspect Mg stays in use; reported eGFR wins a tie with creatinine, lowest of a day; CKD-EPI
    uses the age on the creatinine date."""
    persons = [
        {"person_id": "m0", "birth_date": date(1970, 1, 1), "sex": "female"},
        {"person_id": "m1", "birth_date": date(1970, 1, 1), "sex": "female"},
        {"person_id": "e0", "birth_date": date(2008, 3, 1), "sex": "male"},
        {"person_id": "e1", "age_years": 70.0, "sex": "female"},
    ]
    earlier = DAY - timedelta(days=30)
    labs = [
        _mg("m0", 1.9, "mmol/L"),
        {"person_id": "m0", "loinc": "2000-8", "value": 9.4, "unit": "mmol/L", "effective": DAY},
        _mg("m0", 0.8, "mmol/L", earlier),
        _mg("m1", 1.9, "mmol/L"),
        {
            "person_id": "e0",
            "loinc": "2160-0",
            "value": 0.9,
            "unit": "mg/dL",
            "effective": datetime(2026, 2, 1, 8),
        },
        {"person_id": "e1", "loinc": "14682-9", "value": 130.0, "unit": "umol/L", "effective": DAY},
        {
            "person_id": "e1",
            "loinc": "98979-8",
            "value": 45.25,
            "unit": "mL/min/{1.73_m2}",
            "effective": DAY,
        },
        {
            "person_id": "e1",
            "loinc": "33914-3",
            "value": 59.95,
            "unit": "mL/min/1.73m2",
            "effective": DAY + timedelta(hours=1),
        },
    ]
    rows = _check(_tables(tmp_path, persons, labs), tmp_path, knowledge)
    assert rows["m0"]["mg_mmol_l"] == 0.8 and "implausible-unit" in rows["m0"]["codes"]
    assert (
        rows["m1"]["mg_status"] == "hypermagnesemia-severe"
        or rows["m1"]["mg_status"] == "hypermagnesemia"
    )
    assert rows["e0"]["egfr"] is None  # 17 on the creatinine date, 18 on the as-of date
    assert rows["e1"]["egfr"] == round(45.25, 1) and rows["e1"]["egfr_source"] == "reported"


def test_medications_and_conditions(tmp_path: Path, knowledge: Knowledge) -> None:
    """Drugs by ATC, RxCUI, English, brand and Chinese name; stopped, ended, future and invalid
    entries; conditions by ICD-10 prefix, SNOMED, text, with exclusions and inactive ones."""
    persons = [{"person_id": f"d{i}", "age_years": 60.0, "sex": "male"} for i in range(4)]
    meds = [
        {"person_id": "d0", "code": "A02BC01", "system": "atc"},
        {"person_id": "d0", "code": "4603", "system": "rxnorm"},
        {"person_id": "d0", "code": "速尿", "system": "text"},
        {"person_id": "d1", "code": "Lasix 40 MG", "system": "TEXT", "status": "stopped"},
        {"person_id": "d1", "code": "Milk of Magnesia", "system": "text"},
        {"person_id": "d1", "code": "Cipro 500 mg", "system": "text"},
        {"person_id": "d2", "code": "Digoxin 0.125 MG", "system": "text", "end": date(2026, 1, 1)},
        {"person_id": "d2", "code": "omeprazole", "system": "text", "start": date(2026, 7, 5)},
        {
            "person_id": "d3",
            "code": "hctz",
            "system": "text",
            "start": date(2026, 5, 1),
            "end": date(2026, 4, 1),
        },
    ]
    conds = [
        {"person_id": "d0", "code": "E11.65", "system": "icd10"},
        {"person_id": "d1", "code": "History of atrial fibrillation", "system": "text"},
        {"person_id": "d2", "code": "Prediabetes", "system": "text"},
        {"person_id": "d3", "code": "44054006", "system": "snomed", "active": False},
    ]
    rows = _check(_tables(tmp_path, persons, [], meds, conds), tmp_path, knowledge)
    assert rows["d0"]["depleting_classes"] == ["loop-diuretic", "ppi"]
    assert "supplement-interaction" in rows["d1"]["codes"] and rows["d1"]["depleting_classes"] == []
    assert rows["d2"]["depleting_classes"] == [] and rows["d3"]["depleting_classes"] == []
    assert rows["d0"]["condition_groups"] == ["diabetes"]
    assert (
        rows["d1"]["condition_groups"]
        == rows["d2"]["condition_groups"]
        == rows["d3"]["condition_groups"]
        == []
    )


def test_death_before_the_as_of_date_excludes_the_person(
    tmp_path: Path, knowledge: Knowledge
) -> None:
    """`assess` refuses an as-of date after death (validate_record: `as_of > deceased`); the
    batch excludes exactly those persons, with a counted reason, and screens someone who died
    on the as-of date or later like anyone else. The death check comes before the birth-date
    checks, as in validate_record."""
    day = timedelta(days=1)
    deaths = {"x0": AS_OF - day, "x1": AS_OF, "x2": AS_OF + day, "x3": None, "x4": date(2020, 1, 1)}
    persons = [
        {"person_id": pid, "birth_date": date(1948, 3, 1), "sex": "female", "deceased_date": d}
        for pid, d in deaths.items()
    ]
    persons.append(
        {
            "person_id": "x5",
            "birth_date": date(2999, 1, 1),
            "sex": "male",
            "deceased_date": AS_OF - day,
        }
    )
    labs = [_mg(pid, 0.5, "mmol/L") for pid in (*deaths, "x5")]
    population = _tables(tmp_path, persons, labs)
    rows = _check(population, tmp_path, knowledge)
    assert set(rows) == {"x1", "x2", "x3"}
    assert rows["x1"]["mg_status"] == "hypomagnesemia" and rows["x1"]["age_years"] == 78
    records = build_records(
        population.paths["persons"],
        population.paths["labs"],
        None,
        None,
        knowledge,
        max(AS_OF, date.today()),
        AS_OF,
    )
    assert {pid for pid, why in records.refused.items() if "died on" in why} == {"x0", "x4", "x5"}
    summary = screen(population, tmp_path / "again").summary.data["tables"]
    assert summary["persons"]["excluded"] == {"deceased-before-as-of": 3}
    assert summary["labs"]["excluded"] == {"person-excluded": 3}


def test_rounding_matches_python_round() -> None:
    """assess rounds with Python's round (ties to even on the exact binary value); the SQL does
    the same to the bit, where SQL round() would not (e.g. 45.25 -> 45.2, 0.125 -> 0.12)."""
    rng = random.Random(7)
    values = [rng.uniform(0, 200) for _ in range(20_000)] + [k / 8 for k in range(1600)]
    values += [k / 100 + 0.005 for k in range(3000)] + [45.25, 0.125, 2.675, 1.0005, 59.95]
    con = duckdb.connect()
    con.register("t", pa.table({"x": values}))
    naive_mismatches = 0
    for digits in (1, 3, 4):
        got = con.execute(
            f"SELECT x, {round_like_python('x', digits)}, round(x, {digits}) FROM t"
        ).fetchall()
        for x, exact, naive in got:
            assert exact == round(x, digits) == round_python_model(x, digits), (x, digits)
            naive_mismatches += naive != round(x, digits)
    assert naive_mismatches > 0


@pytest.mark.parametrize("module", RULE_MODULES, ids=lambda p: p.name)
def test_no_clinical_number_in_screening_code(module: Path) -> None:
    """Every threshold is read from the pack: the SQL generator holds no other number."""
    offending = numeric_literals(module, ALLOWED_LITERALS)
    assert not offending, (
        f"{module.name}: numeric literals {offending} belong in the knowledge pack"
    )
