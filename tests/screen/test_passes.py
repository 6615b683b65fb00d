"""The two passes over the lab rows (mgcare.screen.sql): the first keeps per-person maxima only,
the second re-reads just the rows that can still decide a result. Each case here is a way the
first pass alone would be wrong; every person is checked against `assess`, column by column."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from mgcare.knowledge import Knowledge
from tests.screen.test_rules import DAY, _check, _mg, _tables

EARLIER = DAY - timedelta(days=20)
LATER = DAY + timedelta(days=3)


def _lab(
    pid: str, loinc: str, value: float | None, unit: str, when: datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "person_id": pid,
        "loinc": loinc,
        "value": value,
        "unit": unit,
        "effective": when,
        **extra,
    }


def _ca(pid: str, value: float, when: datetime, unit: str = "mmol/L") -> dict[str, Any]:
    return _lab(pid, "2000-8", value, unit, when)


def test_ties_same_day_calcium_and_later_suspects(tmp_path: Path, knowledge: Knowledge) -> None:
    """Results at the very same time (tie order, duplicates), Ca of the chosen Mg day when a
    later Ca exists, a later suspect Mg that wins (no corroboration) or loses (an implausible
    value the same day in the same unit corroborates it), and the lowest eGFR of the day."""
    persons = [
        {"person_id": f"t{i}", "birth_date": date(1960, 1, 1), "sex": "female"} for i in range(7)
    ]
    labs = [
        # t0: two Mg at the same minute in two units, and an exact duplicate
        _mg("t0", 0.74, "mmol/L"),
        _mg("t0", 1.78, "mg/dL"),
        _mg("t0", 1.78, "mg/dL"),
        _ca("t0", 2.3, DAY),
        # t1: Ca of the Mg day (2.1), not the later Ca without Mg (2.5)
        _mg("t1", 0.9, "mmol/L", EARLIER),
        _ca("t1", 2.1, EARLIER),
        _ca("t1", 2.5, DAY),
        # t2: a later suspect Mg (typical in mg/dL) without corroboration wins, with its Ca
        _mg("t2", 0.8, "mmol/L", EARLIER),
        _ca("t2", 2.3, EARLIER),
        _mg("t2", 1.9, "mmol/L", DAY),
        _ca("t2", 2.4, DAY),
        # t3: the same, corroborated by an implausible Ca that day: the earlier Mg counts
        _mg("t3", 0.8, "mmol/L", EARLIER),
        _ca("t3", 2.3, EARLIER),
        _mg("t3", 1.9, "mmol/L", DAY),
        _ca("t3", 9.4, DAY),
        # t4: two reported eGFR the same day (the lowest counts), creatinine a day earlier
        _lab("t4", "98979-8", 61.0, "mL/min/{1.73_m2}", DAY),
        _lab("t4", "33914-3", 58.5, "mL/min/1.73m2", DAY + timedelta(hours=2)),
        _lab("t4", "14682-9", 80.0, "umol/L", DAY - timedelta(days=1)),
        # t5: potassium tie at the same time, one with a flag and an interval
        _mg("t5", 0.6, "mmol/L"),
        _lab("t5", "2823-3", 3.4, "mmol/L", DAY, interpretation="L"),
        _lab("t5", "2823-3", 3.4, "mmol/L", DAY, reference_low=3.2, reference_high=5.1),
        # t6: only suspect Mg values (no settled one), the latest wins
        _mg("t6", 1.9, "mmol/L", EARLIER),
        _mg("t6", 2.1, "mmol/L", DAY),
    ]
    rows = _check(_tables(tmp_path, persons, labs), tmp_path, knowledge)
    assert rows["t1"]["ca_mg_molar"] == round(2.1 / 0.9, 3)
    assert rows["t2"]["mg_value"] == 1.9 and rows["t2"]["ca_mg_molar"] == round(2.4 / 1.9, 3)
    assert rows["t3"]["mg_value"] == 0.8 and "implausible-unit" in rows["t3"]["codes"]
    assert rows["t4"]["egfr"] == 58.5 and rows["t4"]["egfr_source"] == "reported"
    assert rows["t6"]["mg_value"] == 2.1


def test_rows_before_birth_and_missing_values(tmp_path: Path, knowledge: Knowledge) -> None:
    """Rows dated before birth are left out and counted, even when they are the latest of
    their kind in the first pass, and an implausible one is not an implausible-unit finding;
    a missing value and the value -1 (the value map's stand-in for missing) keep their own
    reasons."""
    born = date(2026, 1, 15)
    before = datetime(2026, 1, 10, 9, 0)
    persons = [
        {"person_id": "b0", "birth_date": born, "sex": "male"},
        {"person_id": "b1", "birth_date": born, "sex": "male"},
        {"person_id": "b2", "birth_date": date(1980, 1, 1), "sex": "male"},
    ]
    labs = [
        _mg("b0", 0.8, "mmol/L", before),
        _lab("b0", "14682-9", 80.0, "umol/L", before),
        _ca("b0", 9.4, before),
        _mg("b1", 0.8, "mmol/L", before),
        _mg("b1", 0.85, "mmol/L", DAY),
        _lab("b2", "2601-3", None, "mmol/L", DAY),
        _lab("b2", "2601-3", -1.0, "mmol/L", DAY),
        _mg("b2", 0.9, "mmol/L"),
    ]
    population = _tables(tmp_path, persons, labs)
    rows = _check(population, tmp_path, knowledge)
    assert rows["b0"]["mg_mmol_l"] is None and rows["b0"]["egfr"] is None
    assert "implausible-unit" not in rows["b0"]["codes"]
    assert rows["b1"]["mg_value"] == 0.85 and rows["b2"]["mg_value"] == 0.9
    from tests.screen.conftest import screen

    labs_summary = screen(population, tmp_path / "again").summary.data["tables"]["labs"]
    assert labs_summary["excluded"]["dated-before-birth"] == 4
    assert labs_summary["excluded"]["value-not-a-number"] == 1
    assert labs_summary["excluded"]["value-not-positive"] == 1
    assert labs_summary["used"] == 2
