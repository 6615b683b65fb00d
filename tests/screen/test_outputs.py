"""The DESIGN.md section 6 outputs: persons.parquet columns and types, summary.json, summary.html."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mgcare.screen.sql import FINDINGS_IN_BATCH, MG_STATUSES
from tests.screen.conftest import Screened

EXPECTED_SCHEMA = {
    "person_id": pa.string(),
    "age_years": pa.int32(),
    "sex": pa.string(),
    "mg_mmol_l": pa.float64(),
    "mg_status": pa.string(),
    "ctcae_grade": pa.int32(),
    "mg_value": pa.float64(),
    "mg_unit": pa.string(),
    "mg_date": pa.date32(),
    "ca_mg_molar": pa.float64(),
    "ca_mg_high": pa.bool_(),
    "egfr": pa.float64(),
    "egfr_category": pa.string(),
    "egfr_source": pa.string(),
    "depleting_classes": pa.list_(pa.string()),
    "codes": pa.list_(pa.string()),
    "condition_groups": pa.list_(pa.string()),
}


def test_persons_parquet_schema(screened: Screened) -> None:
    schema = pq.read_schema(screened.summary.persons_path)
    assert {f.name: f.type for f in schema} == EXPECTED_SCHEMA
    assert list(schema.names)[:3] == ["person_id", "age_years", "sex"]


def test_persons_parquet_values(screened: Screened) -> None:
    for row in screened.rows.values():
        assert row["mg_status"] in (*MG_STATUSES, "normal", None)
        assert (
            (row["mg_status"] is None)
            == (row["mg_mmol_l"] is None)
            == ("magnesium-not-measured" in row["codes"])
        )
        assert row["codes"] == sorted(set(row["codes"])) and set(row["codes"]) <= set(
            FINDINGS_IN_BATCH
        )
        assert row["depleting_classes"] == sorted(set(row["depleting_classes"]))
        assert isinstance(row["ca_mg_high"], bool)


def test_summary_json(screened: Screened) -> None:
    data = json.loads(screened.summary.json_path.read_text(encoding="utf-8"))
    assert {
        "mgcare_version",
        "knowledge_version",
        "engine",
        "as_of",
        "counts",
        "tables",
        "weighted",
        "timings_s",
    } <= set(data)
    counts = data["counts"]
    assert counts["persons"] == len(screened.rows)
    assert sum(counts["mg_status"].values()) == counts["magnesium_measured"]
    assert set(counts["codes"]) == set(FINDINGS_IN_BATCH)
    for code, n in counts["codes"].items():
        assert n == sum(code in r["codes"] for r in screened.rows.values())
    prevalence = data["weighted"]["prevalence"]["renal-impairment"]
    assert 0 <= prevalence["ci_low"] <= prevalence["estimate"] <= prevalence["ci_high"] <= 1
    assert (
        data["weighted"]["design"]["df"]
        == data["weighted"]["design"]["psu_count"] - data["weighted"]["design"]["strata_count"]
    )


def test_summary_html_is_self_contained(screened: Screened) -> None:
    html = Path(screened.summary.html_path).read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.count("<svg") >= 3
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Survey-weighted prevalence" in html and "unit-not-valid-for-analyte" in html


def test_text_lines(screened: Screened) -> None:
    lines = screened.summary.lines()
    assert lines[0].startswith(f"Screened {screened.summary.persons:,} persons as of 2026-06-30")
    assert any(line.startswith("Excluded labs rows:") for line in lines)
