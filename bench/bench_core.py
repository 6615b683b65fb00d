"""Clinical-core benchmark: assess() throughput, largest Synthea bundle, CLI start-up.

Targets (issue 2): >= 5,000 records/s for assess() on one core; the largest Synthea bundle
parsed and assessed in < 0.5 s; `mgcare --help` in < 0.3 s. Writes bench/results/core.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results" / "core.json"
AS_OF = date(2026, 11, 25)


def _records() -> list[object]:
    from mgcare.model import (
        ClinicalContext,
        Coding,
        Condition,
        LabResult,
        Medication,
        PatientRecord,
        Person,
    )

    records = []
    for index in range(200):
        mg_value = 0.3 + (index % 40) * 0.05
        records.append(
            PatientRecord(
                person=Person(
                    id=str(index),
                    birth_date=date(1940 + index % 50, 1, 1),
                    sex="female" if index % 2 else "male",
                ),
                labs=(
                    LabResult(
                        analyte="magnesium",
                        value=mg_value,
                        unit="mmol/L",
                        effective=date(2026, 11, 20),
                    ),
                    LabResult(
                        analyte="calcium", value=2.3, unit="mmol/L", effective=date(2026, 11, 20)
                    ),
                    LabResult(
                        analyte="potassium",
                        value=3.2,
                        unit="mmol/L",
                        effective=date(2026, 11, 20),
                        reference_low=3.5,
                        reference_high=5.1,
                    ),
                    LabResult(
                        analyte="creatinine",
                        value=60 + index,
                        unit="umol/L",
                        effective=date(2026, 11, 1),
                    ),
                ),
                medications=(
                    Medication(name="Furosemide 40 MG Oral Tablet", status="active"),
                    Medication(
                        name="omeprazole",
                        codes=(Coding(system="atc", code="A02BC01"),),
                        status="active",
                    ),
                    Medication(name="magnesium oxide 400 mg", status="active"),
                    Medication(name="ciprofloxacin 500 mg", status="active"),
                ),
                conditions=(
                    Condition(
                        name="Type 2 diabetes", codes=(Coding(system="icd10", code="E11.9"),)
                    ),
                    Condition(
                        name="Atrial fibrillation",
                        codes=(Coding(system="snomed", code="49436004"),),
                    ),
                ),
                context=ClinicalContext(symptomatic=index % 7 == 0),
            )
        )
    return records


def bench_assess() -> dict[str, float]:
    from mgcare.knowledge import load_knowledge
    from mgcare.rules import assess

    knowledge = load_knowledge()
    records = _records()
    for rec in records[:20]:
        assess(rec, knowledge, as_of=AS_OF)  # type: ignore[arg-type]
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for rec in records:
            assess(rec, knowledge, as_of=AS_OF)  # type: ignore[arg-type]
        rounds.append(len(records) / (time.perf_counter() - start))
    return {
        "assess_records_per_s_median": statistics.median(rounds),
        "assess_records_per_s_min": min(rounds),
    }


def bench_largest_bundle() -> dict[str, float | str]:
    from mgcare.inputs import load_record
    from mgcare.knowledge import load_knowledge
    from mgcare.rules import assess

    folder = SHARED / "synthea_r4"
    if not folder.exists():
        folder = ROOT / "tests" / "fixtures" / "fhir" / "real"
    largest = max(folder.glob("*.json"), key=lambda p: p.stat().st_size)
    knowledge = load_knowledge()
    load_record(largest, knowledge, AS_OF)  # warm the FHIR model classes (start-up work)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        rec = load_record(largest, knowledge, AS_OF)
        assess(rec, knowledge, as_of=AS_OF)
        times.append(time.perf_counter() - start)
    return {
        "largest_bundle": largest.name,
        "largest_bundle_bytes": largest.stat().st_size,
        "bundle_parse_assess_s_median": statistics.median(times),
        "bundle_parse_assess_s_max": max(times),
    }


def bench_cli() -> dict[str, float]:
    exe = str(Path(sys.executable).with_name("mgcare"))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    subprocess.run([exe, "--help"], capture_output=True, check=True, env=env)
    help_times, demo_times = [], []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True, env=env)
        help_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([exe, "demo", "--format", "json"], capture_output=True, check=True, env=env)
        demo_times.append(time.perf_counter() - start)
    return {
        "cli_help_s_median": statistics.median(help_times),
        "cli_demo_assess_s_median": statistics.median(demo_times),
    }


def main() -> None:
    results: dict[str, object] = {"machine_cores": os.cpu_count(), "date": date.today().isoformat()}
    results.update(bench_assess())
    results.update(bench_largest_bundle())
    results.update(bench_cli())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
