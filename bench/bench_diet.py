"""Benchmark the diet pipeline: log totals, food plans, food data load, and search.

Targets (from the diet issue): totals for a 10,000-entry log under 50 ms; one plan under
200 ms; loading the food data in a fresh interpreter, imports included, under 100 ms; search
p50 under 2 ms and p99 under 10 ms over 200 mixed English and Chinese queries. Run from the
repository root::

    .venv/bin/python bench/bench_diet.py

Prints the figures and writes them to ``bench/results/diet.json``.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = REPO_ROOT / "src"
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "diet.json"
sys.path.insert(0, str(SRC_DIR))

from mgcare.diet.foods import FoodDatabase, load_food_database  # noqa: E402
from mgcare.diet.intake import daily_intake  # noqa: E402
from mgcare.diet.log import GRAMS_PER_MASS_UNIT, resolve_log  # noqa: E402
from mgcare.diet.plan import plan_foods  # noqa: E402
from mgcare.diet.search import search_foods  # noqa: E402
from mgcare.knowledge import Knowledge, load_knowledge  # noqa: E402

TARGETS_MS = {
    "search_p50": 2.0,
    "search_p99": 10.0,
    "totals_10000": 50.0,
    "plan": 200.0,
    "load": 100.0,
}
LOG_ENTRIES = 10_000
TOTALS_RUNS = 15
PLAN_RUNS = 20
LOAD_RUNS = 15
QUERIES = 200
SEED = 20261125
# Imports plus load_food_database() in a fresh interpreter.
LOAD_SNIPPET = """
import time
start = time.perf_counter()
from mgcare.diet.foods import load_food_database
database = load_food_database()
print(time.perf_counter() - start)
"""
ENGLISH = [
    "spinich boiled", "almnds", "brown rice cooked", "pumpkin seeds", "chia", "cashews dry roasted",
    "peanut butter smooth", "soy milk", "black beans cooked", "edamame", "baked potato",
    "yoghurt plain low fat", "instant oatmeal", "kidney beans canned", "banana", "whole milk",
    "salmon atlantic farmed cooked", "raisins", "whole wheat bread", "avocado", "brocoli",
    "white rice cooked", "tofu firm", "bok choy", "quinoa", "lentils boiled", "oats",
    "dark chocolate", "sesame seeds", "walnuts",
]  # fmt: skip
CHINESE = [
    "豆腐", "糙米饭", "菠菜", "米饭", "小米", "豆浆", "黄豆", "绿豆", "红豆", "小白菜",
    "大白菜", "莲藕", "香菇", "木耳", "海带", "紫菜", "芋头", "山药", "空心菜", "冬瓜",
    "苦瓜", "红枣", "芝麻", "花生", "核桃", "鸡蛋", "牛奶", "酸奶", "西兰花", "土豆",
]  # fmt: skip
PLAN_EXCLUSIONS: list[tuple[str, ...]] = [
    (),
    ("nuts",),
    ("dairy",),
    ("soy",),
    ("fish",),
    ("nuts", "seeds"),
    ("nuts", "dairy", "soy", "fish"),
    ("gluten",),
    ("meat", "fish", "shellfish"),
    ("peanuts", "soy"),
]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def timed_ms(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def log_rows(database: FoodDatabase, entries: int) -> list[dict[str, Any]]:
    """A deterministic log: food numbers in grams, oz and household portions, a few
    supplements; half a day's worth of foods repeated, as a long log would be."""
    rng = random.Random(SEED)
    foods = [food for food in database if food.portions][::5]
    rows: list[dict[str, Any]] = []
    while len(rows) < entries:
        food = rng.choice(foods)
        kind = rng.random()
        if kind < 0.01:
            rows.append({"supplement": "magnesium citrate", "dose_mg": "500"})
        elif kind < 0.5:
            rows.append({"food": food.ndb_no, "amount": f"{rng.uniform(5, 300):.1f}", "unit": "g"})
        elif kind < 0.6:
            rows.append({"food": food.ndb_no, "amount": "1", "unit": "oz"})
        else:
            portion = rng.choice(food.portions)
            if portion.grams_per_unit > 1000 or portion.description.lower() in GRAMS_PER_MASS_UNIT:
                continue
            rows.append({"food": food.ndb_no, "amount": "0.5", "unit": portion.description})
    return rows


def measure_totals(database: FoodDatabase, knowledge: Knowledge) -> dict[str, float]:
    rows = log_rows(database, LOG_ENTRIES)
    resolve_log(rows, database, knowledge)  # warm-up: builds Food objects once
    both, alone = [], []
    for _ in range(TOTALS_RUNS):
        start = time.perf_counter()
        log = resolve_log(rows, database, knowledge)
        middle = time.perf_counter()
        daily_intake(log, knowledge, age_years=45, sex="female", standard="us-iom-1997")
        end = time.perf_counter()
        both.append((end - start) * 1000)
        alone.append((end - middle) * 1000)
    return {
        "entries": LOG_ENTRIES,
        "resolve_and_totals_ms_median": statistics.median(both),
        "resolve_and_totals_ms_max": max(both),
        "totals_only_ms_median": statistics.median(alone),
        "totals_only_ms_max": max(alone),
    }


def measure_plans(database: FoodDatabase) -> dict[str, float]:
    cold = timed_ms(lambda: plan_foods(database, 250.0))  # scipy import + candidate pool
    rng = random.Random(SEED)
    times = []
    for index in range(PLAN_RUNS):
        gap = rng.uniform(30, 450)
        exclude = PLAN_EXCLUSIONS[index % len(PLAN_EXCLUSIONS)]
        times.append(timed_ms(partial(plan_foods, database, gap, exclude=exclude)))
    times.sort()
    return {
        "plans": PLAN_RUNS,
        "first_plan_ms": cold,
        "plan_ms_median": statistics.median(times),
        "plan_ms_p90": percentile(times, 0.90),
        "plan_ms_max": times[-1],
    }


def measure_load() -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), env.get("PYTHONPATH")]))
    in_process, wall = [], []
    for _ in range(LOAD_RUNS):
        start = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-c", LOAD_SNIPPET],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        wall.append((time.perf_counter() - start) * 1000)
        in_process.append(float(completed.stdout.strip()) * 1000)
    return {
        "imports_and_load_ms_median": statistics.median(in_process),
        "imports_and_load_ms_max": max(in_process),
        "process_wall_ms_median": statistics.median(wall),
    }


def search_queries(database: FoodDatabase) -> list[str]:
    """Exactly 200 queries, half English and half Chinese, alternating."""
    half = QUERIES // 2
    foods = list(database)
    english = list(ENGLISH)
    for food in foods[:: max(1, len(foods) // (half - len(ENGLISH)))]:
        english.append(" ".join(food.name_en.replace(",", " ").split()[:3]).lower())
    chinese = list(CHINESE)
    curated = [food for food in foods if food.name_zh is not None]
    for food in curated[:: max(1, len(curated) // (half - len(CHINESE)))]:
        chinese.append(food.aliases_zh[0] if food.aliases_zh else food.name_zh or "")
    return [query for pair in zip(english[:half], chinese[:half], strict=True) for query in pair]


def measure_search(database: FoodDatabase) -> dict[str, float]:
    queries = search_queries(database)
    build = timed_ms(lambda: search_foods(database, "warm up the index"))
    latencies = sorted(timed_ms(partial(search_foods, database, query)) for query in queries)
    return {
        "queries": len(queries),
        "index_build_ms": build,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": latencies[-1],
    }


def main() -> int:
    load = measure_load()
    database = load_food_database()
    knowledge = load_knowledge()
    results: dict[str, Any] = {
        "totals": measure_totals(database, knowledge),
        "plan": measure_plans(database),
        "load": load,
        "search": measure_search(database),
    }
    checks = {
        "totals_10000": results["totals"]["resolve_and_totals_ms_median"],
        "plan": results["plan"]["plan_ms_median"],
        "load": results["load"]["imports_and_load_ms_median"],
        "search_p50": results["search"]["p50_ms"],
        "search_p99": results["search"]["p99_ms"],
    }
    results["targets_ms"] = TARGETS_MS
    results["meets_targets"] = {name: value < TARGETS_MS[name] for name, value in checks.items()}
    results["python"] = platform.python_version()
    results["machine"] = platform.machine()
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for section in ("totals", "plan", "load", "search"):
        for name, value in results[section].items():
            print(f"{section:7s} {name:30s} {value:10.2f}")
    for name, ok in results["meets_targets"].items():
        print(
            f"target  {name:30s} {checks[name]:10.2f} < {TARGETS_MS[name]:g} ms: {'ok' if ok else 'MISSED'}"
        )
    print(f"wrote {RESULTS_PATH.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
