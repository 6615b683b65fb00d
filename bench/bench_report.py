"""Benchmark the PDF report: `render_pdf(build_report(...))` for a person with 5 years of history.

Target (issue 5): a PDF report in under 3 s. The person has monthly Mg, Ca and creatinine for
five years (180 results), four medications, two conditions and a day's food log. "Cold" is a
fresh interpreter (imports, knowledge pack, food data, WeasyPrint and fonts included); "warm" is
the median of repeated reports in one process, as in the running service. Run from the
repository root::

    .venv/bin/python bench/bench_report.py

Prints the figures and writes them to ``bench/results/report.json``.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = REPO_ROOT / "src"
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "report.json"
sys.path.insert(0, str(SRC_DIR))

TARGET_S = 3.0
YEARS = 5
COLD_RUNS = 3
WARM_RUNS = 7
AS_OF = date(2026, 11, 25)


def person() -> dict[str, Any]:
    """mgcare JSON record: monthly labs for YEARS years, medications, conditions, a food log."""
    labs: list[dict[str, Any]] = []
    for i in range(YEARS * 12):
        year, month = divmod(AS_OF.year * 12 + AS_OF.month - 1 - (YEARS * 12 - 1 - i), 12)
        day = date(year, month + 1, 10).isoformat()
        labs += [
            {"analyte": "magnesium", "value": round(1.6 + 0.4 * ((i * 7) % 10) / 10, 2),
             "unit": "mg/dL", "effective": day},
            {"analyte": "calcium", "value": 2.3, "unit": "mmol/L", "effective": day},
            {"analyte": "creatinine", "value": 90 + i % 15, "unit": "umol/L", "effective": day},
        ]  # fmt: skip
    return {
        "person": {"id": "bench-5y", "birth_date": "1955-04-02", "sex": "male"},
        "labs": labs,
        "medications": [
            {
                "name": "Furosemide 40 mg",
                "codes": [{"system": "atc", "code": "C03CA01"}],
                "status": "active",
            },
            {
                "name": "Omeprazole 20 mg",
                "codes": [{"system": "atc", "code": "A02BC01"}],
                "status": "active",
            },
            {
                "name": "Digoxin 125 micrograms",
                "codes": [{"system": "atc", "code": "C01AA05"}],
                "status": "active",
            },
            {"name": "Metformin 500 mg", "status": "active"},
        ],
        "conditions": [
            {"name": "Heart failure", "codes": [{"system": "icd10", "code": "I50.9"}]},
            {"name": "Type 2 diabetes mellitus", "codes": [{"system": "icd10", "code": "E11.9"}]},
        ],
        "food_log": [
            {"food": "20045", "amount": 1, "unit": "cup"},
            {"food": "11457", "amount": 30, "unit": "g"},
            {"food": "16126", "amount": 100, "unit": "g"},
            {"food": "01077", "amount": 250, "unit": "g"},
        ],
    }


def one_report(lang: str = "en") -> tuple[float, int]:
    """Seconds for knowledge + food data + build + PDF (all loaded lazily), and PDF size."""
    start = time.perf_counter()
    from mgcare.diet.foods import load_food_database
    from mgcare.inputs import record_from_document
    from mgcare.knowledge import load_knowledge
    from mgcare.reports import build_report, render_pdf
    from mgcare.store.repository import LabPoint
    from mgcare.units import to_canonical

    knowledge = load_knowledge()
    record = record_from_document(person(), knowledge, AS_OF)
    history = [
        LabPoint(
            lab.effective_date.isoformat(),
            lab.value,
            lab.unit or "",
            to_canonical(lab.value, lab.unit or "", "magnesium", knowledge),
        )
        for lab in record.labs
        if lab.analyte == "magnesium"
    ]
    report = build_report(
        record,
        knowledge=knowledge,
        foods=load_food_database(),
        history=history,
        lang=lang,  # type: ignore[arg-type]
        as_of=AS_OF,
    )
    pdf = render_pdf(report)
    return time.perf_counter() - start, len(pdf)


def main() -> int:
    if "--once" in sys.argv:
        seconds, size = one_report(sys.argv[-1] if sys.argv[-1] in ("en", "zh") else "en")
        print(json.dumps({"seconds": seconds, "bytes": size}))
        return 0
    cold: list[float] = []
    for lang in ("en", "zh", "en")[:COLD_RUNS]:
        done = subprocess.run(
            [sys.executable, __file__, "--once", lang],
            capture_output=True,
            text=True,
            check=True,
        )
        cold.append(json.loads(done.stdout)["seconds"])
    first, _ = one_report("en")
    warm = {lang: [one_report(lang)[0] for _ in range(WARM_RUNS)] for lang in ("en", "zh")}
    sizes = {lang: one_report(lang)[1] for lang in ("en", "zh")}
    results: dict[str, Any] = {
        "person": {"years": YEARS, "mg_results": YEARS * 12, "labs": YEARS * 12 * 3},
        "cold_s": {"runs": cold, "median": statistics.median(cold), "max": max(cold)},
        "first_in_process_s": first,
        "warm_s": {
            lang: {"median": statistics.median(runs), "max": max(runs), "runs": len(runs)}
            for lang, runs in warm.items()
        },
        "pdf_bytes": sizes,
        "target_s": TARGET_S,
    }
    results["meets_targets"] = {
        "cold_median": results["cold_s"]["median"] < TARGET_S,
        "warm_median": all(v["median"] < TARGET_S for v in results["warm_s"].values()),
    }
    results["python"] = platform.python_version()
    results["machine"] = platform.machine()
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"cold (fresh interpreter): median {results['cold_s']['median']:.2f} s, runs {cold}")
    for lang, row in results["warm_s"].items():
        print(f"warm {lang}: median {row['median']:.3f} s, max {row['max']:.3f} s")
    print(f"PDF size: {sizes}")
    for name, ok in results["meets_targets"].items():
        print(f"{name} < {TARGET_S} s: {'yes' if ok else 'NO'}")
    return 0 if all(results["meets_targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
