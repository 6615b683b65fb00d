"""Benchmark of `mgcare screen` (issue 6): 1M persons / 50M lab rows on this machine.

    python bench/bench_screen.py [--persons 1000000] [--labs-per-person 50] [--spark-persons 100000]
                                 [--pandas-persons 200000] [--spark-full]

Generates the tables once (seeded) in a temporary folder that later runs reuse, then, each in
its own process so peak memory is its own: DuckDB scanning the lab columns (the floor the
target is stated against) and the other input tables, one GROUP BY person over the lab columns
without any rule (the lower bound of any per-person screen), a skeleton screen (latest time per
analyte written per person, no rule: a lower bound of any exact screen), the end-to-end DuckDB
screen, a straightforward pandas implementation on a subset as large as pandas holds
comfortably here (10M lab rows by default; the target is judged on that measured pair, the time
scaled to all rows is reported beside it) next to DuckDB on the same subset, and Spark local[2]
on a subset (checked identical to DuckDB). Writes bench/results/screen.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mgcare.screen.schema import TableName

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "screen.json"
AS_OF = date(2026, 6, 30)
SEED = 20261125
TARGETS = {"vs_scan_at_most": 2.0, "vs_pandas_at_least": 5.0, "peak_rss_gb_at_most": 4.0}


def data_dir(persons: int, labs_per_person: float) -> Path:
    root = Path(os.environ.get("MGCARE_BENCH_DATA", tempfile.gettempdir())) / "mgcare-bench-screen"
    return root / f"p{persons}-l{labs_per_person:g}-s{SEED}"


def ensure_data(persons: int, labs_per_person: float) -> tuple[Path, float | None]:
    """Generate once; reuse when the folder is complete."""
    folder = data_dir(persons, labs_per_person)
    if (folder / "done.json").exists():
        return folder, None
    from mgcare.screen.synthetic import Config, generate

    started = time.perf_counter()
    generate(
        folder, Config(persons=persons, seed=SEED, as_of=AS_OF, labs_per_person=labs_per_person)
    )
    seconds = time.perf_counter() - started
    (folder / "done.json").write_text(json.dumps({"seconds": seconds}), encoding="utf-8")
    return folder, seconds


def peak_rss_gb() -> float:
    """Peak resident memory of this process (VmHWM: ru_maxrss would carry the parent's peak
    across exec on Linux), and of its waited-for children (the Spark JVM)."""
    own = 0.0
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = float(line.split()[1])
    else:
        own = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    children = float(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return max(own, children) / 1024 / 1024


# --- children (each prints one JSON line) ----------------------------------------------------------


def decode_sql(table: TableName) -> str:
    """One cheap aggregate per column of the screen's input table `table` (mgcare.screen.schema),
    so that every column is read and decoded and nothing else is done."""
    from mgcare.screen.schema import SPECS

    aggregate = {"number": "sum", "date": "max", "timestamp": "max", "bool": "bool_or"}
    return ", ".join(
        f'{aggregate.get(column.kind, "min")}("{column.name}")' for column in SPECS[table].columns
    )


def child_scan(folder: Path) -> dict[str, Any]:
    """DuckDB reading and decoding every column the screen reads, nothing else: the lab columns
    (the floor the target is stated against) and, separately, the persons, medications and
    conditions columns (the screen reads those too)."""
    import duckdb

    con = duckdb.connect()

    def scan(table: TableName) -> tuple[Any, ...] | None:
        parquet = folder / f"{table}.parquet"
        return con.execute(
            f"SELECT count(*), {decode_sql(table)} FROM read_parquet('{parquet}')"
        ).fetchone()

    timings = []
    other_timings = []
    for _ in range(3):
        started = time.perf_counter()
        rows = scan("labs")
        timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        for table in ("persons", "medications", "conditions"):
            scan(table)
        other_timings.append(time.perf_counter() - started)
    assert rows is not None
    return {
        "seconds": min(timings),
        "all_runs": timings,
        "other_tables_seconds": min(other_timings),
        "rows": int(rows[0]),
        "peak_rss_gb": peak_rss_gb(),
    }


def child_floor(folder: Path) -> dict[str, Any]:
    """The honest lower bound of any per-person screen: one GROUP BY person over the same lab
    columns, decoding every one of them, with no rule at all."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    path = str(folder / "labs.parquet")
    per_person = (
        "SELECT person_id, count(*) AS n, max(value) AS v, min(loinc) AS l, min(unit) AS u, "
        "max(effective) AS e, max(reference_low) AS a, max(reference_high) AS b, "
        f"min(interpretation) AS i FROM read_parquet('{path}') GROUP BY person_id"
    )
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE floor AS {per_person}")
        timings.append(time.perf_counter() - started)
    (groups,) = con.execute("SELECT count(*) FROM floor").fetchone() or (0,)
    return {"seconds": min(timings), "all_runs": timings, "groups": int(groups)}


def child_skeleton(folder: Path, out: Path) -> dict[str, Any]:
    """A deliberately incomplete screen, to show what the target leaves room for: per person
    only the row count and the latest timestamp of each screened analyte (by LOINC, from the
    pack), joined onto the persons and written as Parquet. No unit or plausibility check, no
    tie order, no medications, conditions, exclusion counts or summary. Any exact screen does
    at least this much work, so its time is a lower bound."""
    import duckdb

    from mgcare.knowledge import load_knowledge
    from mgcare.screen.sql import ANALYTE_SLOTS

    knowledge = load_knowledge()
    codes: dict[str, list[str]] = {}
    for row in knowledge.codes.loinc:
        codes.setdefault(row.analyte, []).append(row.code)
    latest = ", ".join(
        f"max(effective) FILTER (WHERE loinc IN ({', '.join(repr(c) for c in sorted(codes[analyte]))}))"
        f" AS latest_{slot}"
        for slot, analyte in ANALYTE_SLOTS.items()
    )
    labs = f"read_parquet('{folder / 'labs.parquet'}')"
    persons = f"read_parquet('{folder / 'persons.parquet'}')"
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    timings = []
    for run in range(3):
        target = out / f"skeleton-{run}.parquet"
        started = time.perf_counter()
        con.execute(
            f"COPY (SELECT p.person_id, l.* EXCLUDE (person_id) FROM {persons} p LEFT JOIN "
            f"(SELECT person_id, count(*) AS n_rows, {latest} FROM {labs} GROUP BY person_id) l "
            f"ON p.person_id = l.person_id) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
        )
        timings.append(time.perf_counter() - started)
    return {"seconds": min(timings), "all_runs": timings}


def child_screen(folder: Path, out: Path, engine: str) -> dict[str, Any]:
    from mgcare.screen.command import run_screen

    started = time.perf_counter()
    summary = run_screen(
        folder / "persons.parquet",
        folder / "labs.parquet",
        folder / "medications.parquet",
        folder / "conditions.parquet",
        out,
        engine,
        AS_OF,
        None,
        False,
        check_duplicates=False,
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "steps": summary.data["timings_s"],
        "persons": summary.persons,
        "lab_rows": summary.data["tables"]["labs"]["rows"],
        "peak_rss_gb": peak_rss_gb(),
    }


def child_pandas(folder: Path) -> dict[str, Any]:
    """A straightforward pandas version of the same screen (same pack, same rules, row by
    column with NumPy; no SQL engine), for the speed comparison."""
    import numpy as np
    import pandas as pd

    from mgcare.knowledge import load_knowledge
    from mgcare.rules.assess import months_before
    from mgcare.screen import lookups

    knowledge = load_knowledge()
    started = time.perf_counter()
    persons = pd.read_parquet(folder / "persons.parquet").drop_duplicates()
    labs = pd.read_parquet(folder / "labs.parquet")
    meds = pd.read_parquet(folder / "medications.parquet")
    conds = pd.read_parquet(folder / "conditions.parquet")
    pairs = labs[["loinc", "unit"]].drop_duplicates().dropna()
    rows, _ = lookups.lab_map(list(pairs.itertuples(index=False, name=None)), knowledge)
    table = pd.DataFrame(
        [
            {
                "loinc": r.loinc,
                "unit": r.unit_raw,
                "analyte": r.analyte,
                "ucum": r.ucum,
                **{
                    k: v
                    for k, v in zip(
                        ("p_lo", "p_hi", "t_lo", "t_hi"),
                        (*r.intervals()["p"], *r.intervals()["t"]),
                        strict=True,
                    )
                },
                "ident": r.canon.identity,
                "mul": r.canon.multiply,
                "div": r.canon.divide,
                "has_typ": r.has_typical,
            }
            for r in rows
        ]
    )
    labs = labs.merge(table, on=["loinc", "unit"], how="inner")
    labs = labs[
        labs["person_id"].isin(persons["person_id"])
        & labs["value"].gt(0)
        & labs["effective"].notna()
    ]
    labs["canon"] = np.where(
        labs["ident"], labs["value"], labs["value"] * labs["mul"] / labs["div"]
    )
    labs["plausible"] = labs["value"].between(labs["p_lo"], labs["p_hi"])
    labs["typical"] = labs["value"].between(labs["t_lo"], labs["t_hi"])
    labs["day"] = labs["effective"].dt.normalize()
    as_of = pd.Timestamp(AS_OF)
    since = pd.Timestamp(months_before(AS_OF, int(knowledge.thresholds.monitoring.lookback.value)))
    usable = labs[labs["plausible"] & (labs["day"] <= as_of)]
    usable = usable.sort_values(["person_id", "effective", "canon"])

    def latest(analyte: str, start: pd.Timestamp | None = None) -> pd.DataFrame:
        part = usable[usable["analyte"] == analyte]
        if start is not None:
            part = part[part["day"] >= start]
        return part.groupby("person_id").tail(1).set_index("person_id")

    mg = latest("magnesium", since)
    ca = usable[(usable["analyte"] == "calcium") & (usable["day"] >= since)]
    ca = (
        ca.merge(mg[["day"]].reset_index(), on=["person_id", "day"])
        .groupby("person_id")
        .tail(1)
        .set_index("person_id")
    )
    k = latest("potassium", since)
    cr = latest("creatinine")
    eg = latest("egfr")
    out = persons.set_index("person_id")[["sex", "birth_date", "age_years"]].copy()
    out["mg"] = mg["canon"]
    out["ca"] = ca["canon"]
    out["k"] = k["canon"]
    serum = knowledge.thresholds.serum_magnesium
    out["status"] = np.select(
        [
            out["mg"].isna(),
            out["mg"] < serum.deficiency_below.value,
            out["mg"] < serum.normal_lower.value,
            out["mg"] >= serum.severe_excess_from.value,
            out["mg"] > serum.normal_upper.value,
        ],
        [None, "hypomagnesemia", "low-normal", "hypermagnesemia-severe", "hypermagnesemia"],
        default="normal",
    )
    out["ratio"] = out["ca"] / out["mg"]
    equation = knowledge.renal.ckd_epi_2021
    age = (as_of - pd.to_datetime(out["birth_date"])).dt.days // 365
    to_mg_dl = lookups.conversion("umol/L", "mg/dL", knowledge.analytes["creatinine"])
    mg_dl = np.where(
        cr["ucum"] == "mg/dL", cr["value"], cr["value"] * to_mg_dl.multiply / to_mg_dl.divide
    )
    crs = pd.Series(mg_dl, index=cr.index).reindex(out.index)
    female = out["sex"].eq("female")
    kappa = np.where(female, equation.female.kappa_mg_dl, equation.male.kappa_mg_dl)
    alpha = np.where(female, equation.female.alpha, equation.male.alpha)
    ratio = crs / kappa
    out["egfr"] = (
        equation.multiplier
        * np.minimum(ratio, 1) ** alpha
        * np.maximum(ratio, 1) ** equation.upper_exponent
        * equation.age_base**age
    )
    out["egfr"] = eg["canon"].reindex(out.index).fillna(out["egfr"])
    drugs = pd.DataFrame(
        lookups.medication_map(
            list(
                meds[["system", "code"]]
                .dropna()
                .drop_duplicates()
                .itertuples(index=False, name=None)
            ),
            knowledge,
        ),
        columns=["system", "code", "drug_id"],
    )
    facts = pd.DataFrame([asdict(f) for f in lookups.drug_facts(knowledge)])
    current = meds[
        meds["status"].ne("stopped") & (meds["end"].isna() | (pd.to_datetime(meds["end"]) >= as_of))
    ]
    taking = current.merge(drugs, on=["system", "code"]).merge(facts, on="drug_id")
    classes = (
        taking[taking["depletes"]].groupby("person_id")["drug_class"].agg(lambda s: sorted(set(s)))
    )
    out["depleting_classes"] = classes
    groups = pd.DataFrame(
        lookups.condition_map(
            list(
                conds[["system", "code"]]
                .dropna()
                .drop_duplicates()
                .itertuples(index=False, name=None)
            ),
            knowledge,
        ),
        columns=["system", "code", "group_id"],
    )
    has = (
        conds.merge(groups, on=["system", "code"])
        .groupby("person_id")["group_id"]
        .agg(lambda s: sorted(set(s)))
    )
    out["groups"] = has
    out.to_parquet(folder / ".pandas_out.parquet")
    return {
        "seconds": time.perf_counter() - started,
        "lab_rows": len(pd.read_parquet(folder / "labs.parquet", columns=["loinc"])),
        "peak_rss_gb": peak_rss_gb(),
    }


def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def same_rows(a: Path, b: Path) -> bool:
    """Same persons with the same values in every column (column nullability flags may differ)."""
    import pyarrow.parquet as pq

    left = pq.read_table(a).sort_by("person_id").to_pylist()
    right = pq.read_table(b).sort_by("person_id").to_pylist()
    return bool(left == right)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--persons", type=int, default=int(os.environ.get("MGCARE_BENCH_PERSONS", 1_000_000))
    )
    parser.add_argument("--labs-per-person", type=float, default=50.0)
    parser.add_argument(
        "--pandas-persons",
        type=int,
        default=200_000,
        help="persons for the pandas comparison (default 200k = 10M lab rows: pandas cannot "
        "hold all 50M rows in this machine's memory)",
    )
    parser.add_argument("--spark-persons", type=int, default=100_000)
    parser.add_argument("--spark-full", action="store_true", help="also run Spark on the full set")
    parser.add_argument(
        "--spark-full-only",
        action="store_true",
        help="run only Spark on the full set and add it to an existing results file",
    )
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "scan":
            result = child_scan(Path(rest[0]))
        elif kind == "floor":
            result = child_floor(Path(rest[0]))
        elif kind == "skeleton":
            result = child_skeleton(Path(rest[0]), Path(rest[1]))
        elif kind == "screen":
            result = child_screen(Path(rest[0]), Path(rest[1]), rest[2])
        else:
            result = child_pandas(Path(rest[0]))
        print(json.dumps(result))
        return

    full, generated = ensure_data(args.persons, args.labs_per_person)
    if args.spark_full_only:
        work = Path(tempfile.mkdtemp(prefix="mgcare-bench-out-"))
        duck = run_child("screen", str(full), str(work / "duckdb"), "duckdb")
        spark = run_child("screen", str(full), str(work / "spark"), "spark")
        spark["duckdb_seconds"] = duck["seconds"]
        spark["identical_to_duckdb"] = same_rows(
            work / "spark" / "persons.parquet", work / "duckdb" / "persons.parquet"
        )
        results = json.loads(RESULTS.read_text(encoding="utf-8"))
        results["spark_local2_full"] = spark
        RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(spark, indent=2))
        return
    small, _ = ensure_data(args.pandas_persons, args.labs_per_person)
    spark_data, _ = ensure_data(args.spark_persons, args.labs_per_person)
    work = Path(tempfile.mkdtemp(prefix="mgcare-bench-out-"))
    print(
        f"data: {full} (generated in {generated:.0f} s)" if generated else f"data: {full} (reused)",
        flush=True,
    )

    scan = run_child("scan", str(full))
    screen = run_child("screen", str(full), str(work / "duckdb"), "duckdb")
    scan_after = run_child("scan", str(full))
    floor = min(scan["seconds"], scan_after["seconds"])
    floor_all = floor + min(scan["other_tables_seconds"], scan_after["other_tables_seconds"])
    ratio_to_scan = screen["seconds"] / floor
    group_floor = run_child("floor", str(full))
    (work / "skeleton").mkdir(parents=True, exist_ok=True)
    skeleton = run_child("skeleton", str(full), str(work / "skeleton"))
    print(
        f"DuckDB scan of {scan['rows']:,} lab rows: {floor:.2f} s; one GROUP BY person over the "
        f"same columns: {group_floor['seconds']:.2f} s; skeleton screen (latest time per analyte, "
        f"written per person, no rule): {skeleton['seconds']:.2f} s; screen end-to-end: "
        f"{screen['seconds']:.2f} s",
        flush=True,
    )

    pandas = run_child("pandas", str(small))
    duck_small = run_child("screen", str(small), str(work / "duckdb-small"), "duckdb")
    pandas_scaled = pandas["seconds"] * scan["rows"] / pandas["lab_rows"]
    speedup_same_subset = pandas["seconds"] / duck_small["seconds"]
    print(
        f"pandas on {pandas['lab_rows']:,} rows: {pandas['seconds']:.2f} s, "
        f"{pandas['peak_rss_gb']:.1f} GB (scaled to all rows: {pandas_scaled:.0f} s); DuckDB "
        f"same subset: {duck_small['seconds']:.2f} s, {duck_small['peak_rss_gb']:.1f} GB",
        flush=True,
    )

    spark_small = run_child("screen", str(spark_data), str(work / "spark-small"), "spark")
    duck_spark_data = run_child(
        "screen", str(spark_data), str(work / "duckdb-spark-data"), "duckdb"
    )
    spark_same = same_rows(
        work / "spark-small" / "persons.parquet", work / "duckdb-spark-data" / "persons.parquet"
    )
    print(
        f"Spark local[2] on {spark_small['lab_rows']:,} rows: {spark_small['seconds']:.1f} s (DuckDB {duck_spark_data['seconds']:.1f} s), identical: {spark_same}",
        flush=True,
    )
    spark_full: dict[str, Any] | None = None
    if args.spark_full:
        spark_full = run_child("screen", str(full), str(work / "spark"), "spark")
        spark_full["identical_to_duckdb"] = same_rows(
            work / "spark" / "persons.parquet", work / "duckdb" / "persons.parquet"
        )

    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "data": {
            "folder": str(full),
            "persons": screen["persons"],
            "lab_rows": screen["lab_rows"],
            "generated_seconds": generated,
        },
        "duckdb_scan_seconds": floor,
        "duckdb_scan_runs": scan["all_runs"] + scan_after["all_runs"],
        "duckdb_group_by_person_seconds": group_floor["seconds"],
        "duckdb_group_by_person_runs": group_floor["all_runs"],
        "duckdb_skeleton_screen_seconds": skeleton["seconds"],
        "duckdb_skeleton_screen_runs": skeleton["all_runs"],
        "ratio_skeleton_to_scan": skeleton["seconds"] / floor,
        "duckdb_scan_all_inputs_seconds": floor_all,
        "screen_duckdb": screen,
        "ratio_to_scan": ratio_to_scan,
        "ratio_to_scan_all_inputs": screen["seconds"] / floor_all,
        "ratio_to_group_by_person": screen["seconds"] / group_floor["seconds"],
        "pandas_subset": {
            **pandas,
            "scaled_seconds": pandas_scaled,
            "duckdb_same_subset_seconds": duck_small["seconds"],
            "duckdb_same_subset_peak_rss_gb": duck_small["peak_rss_gb"],
        },
        "speedup_vs_pandas_scaled_to_all_rows": pandas_scaled / screen["seconds"],
        "speedup_vs_pandas_same_subset": speedup_same_subset,
        "peak_rss_gb": screen["peak_rss_gb"],
        "spark_local2_subset": {
            **spark_small,
            "duckdb_seconds": duck_spark_data["seconds"],
            "identical_to_duckdb": spark_same,
        },
        "spark_local2_full": spark_full,
        "targets": TARGETS,
        "met": {
            "vs_scan": ratio_to_scan <= TARGETS["vs_scan_at_most"],
            "vs_pandas": speedup_same_subset >= TARGETS["vs_pandas_at_least"],
            "peak_memory": screen["peak_rss_gb"] <= TARGETS["peak_rss_gb_at_most"],
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {
                k: results[k]
                for k in (
                    "ratio_to_scan",
                    "ratio_to_scan_all_inputs",
                    "speedup_vs_pandas_same_subset",
                    "peak_rss_gb",
                    "met",
                )
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
