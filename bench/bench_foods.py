"""Benchmark the food table: cold load time and search latency.

Budgets (from the diet design): loading the shipped table, imports included,
under 100 ms; search p50 under 2 ms and p99 under 10 ms over mixed English and
Chinese queries. Run from the repository root::

    .venv/bin/python bench/bench_foods.py

Prints the figures and writes them to ``bench/results/foods.json``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = REPO_ROOT / "src"
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "foods.json"
sys.path.insert(0, str(SRC_DIR))

from mgcare.diet.foods import FoodDatabase, load_food_database  # noqa: E402
from mgcare.diet.search import search_foods  # noqa: E402

LOAD_RUNS = 15
MIN_QUERIES = 200
# Measured in a fresh interpreter: imports plus load_food_database().
LOAD_SNIPPET = """
import time
start = time.perf_counter()
from mgcare.diet.foods import load_food_database
database = load_food_database()
print(time.perf_counter() - start)
"""

HAND_WRITTEN_ENGLISH = [
    "spinich boiled", "almnds", "brown rice cooked", "cooked brown rice", "pumpkin seeds",
    "chia", "cashews dry roasted", "peanut butter smooth", "soy milk", "black beans cooked",
    "edamame", "baked potato", "yoghurt plain low fat", "instant oatmeal", "kidney beans canned",
    "banana", "salmon atlantic farmed cooked", "whole milk", "halibut", "raisins",
    "whole wheat bread", "avocado", "chicken breast roasted", "ground beef 90% lean",
    "brocoli", "white rice cooked", "apple", "carrot raw", "tofu firm", "bok choy",
    "quinoa", "lentils boiled", "chick peas", "oats", "dark chocolate", "sesame seeds",
    "walnuts", "shrimp", "egg", "cheddar chese",
]  # fmt: skip
HAND_WRITTEN_CHINESE = [
    "豆腐", "糙米饭", "菠菜", "米饭", "大米", "小米", "豆浆", "黄豆", "绿豆", "红豆",
    "小白菜", "大白菜", "莲藕", "香菇", "木耳", "海带", "紫菜", "竹笋", "芋头", "山药",
    "空心菜", "冬瓜", "苦瓜", "荔枝", "龙眼", "红枣", "芝麻", "花生", "核桃", "栗子",
    "鸡蛋", "猪肉", "鸡胸肉", "鸭肉", "鱼", "虾", "牛奶", "酸奶", "西兰花", "土豆",
]  # fmt: skip


def sample_queries(database: FoodDatabase) -> list[str]:
    """A deterministic mix: hand-written queries plus names derived from the table."""
    foods = list(database)
    english = list(HAND_WRITTEN_ENGLISH)
    for food in foods[:: max(1, len(foods) // 80)]:
        words = food.name_en.replace(",", " ").split()
        english.append(" ".join(words[:3]).lower())
    chinese = list(HAND_WRITTEN_CHINESE)
    curated = [food for food in foods if food.name_zh is not None]
    for food in curated[:: max(1, len(curated) // 80)]:
        chinese.append(food.aliases_zh[0] if food.aliases_zh else food.name_zh or "")
    queries = [query for pair in zip(english, chinese, strict=False) for query in pair]
    return queries if len(queries) >= MIN_QUERIES else queries * (MIN_QUERIES // len(queries) + 1)


def measure_load() -> dict[str, float]:
    """Median over fresh interpreters: in-process time and whole-process wall time."""
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
        wall.append(time.perf_counter() - start)
        in_process.append(float(completed.stdout.strip()))
    return {
        "imports_and_load_ms_median": statistics.median(in_process) * 1000,
        "imports_and_load_ms_max": max(in_process) * 1000,
        "process_wall_ms_median": statistics.median(wall) * 1000,
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def measure_search(database: FoodDatabase, queries: list[str]) -> dict[str, float]:
    """Index build time, then per-query latency on a first and a repeated pass."""
    start = time.perf_counter()
    search_foods(database, "warm up the index")
    build_ms = (time.perf_counter() - start) * 1000
    figures: dict[str, float] = {"index_build_ms": build_ms, "queries": len(queries)}
    for label in ("first_pass", "repeat_pass"):
        by_language: dict[str, list[float]] = {"all": [], "en": [], "zh": []}
        for query in queries:
            start = time.perf_counter()
            search_foods(database, query)
            elapsed_ms = (time.perf_counter() - start) * 1000
            language = "zh" if any("\u4e00" <= char <= "\u9fff" for char in query) else "en"
            by_language["all"].append(elapsed_ms)
            by_language[language].append(elapsed_ms)
        for language, latencies in by_language.items():
            latencies.sort()
            prefix = label if language == "all" else f"{label}_{language}"
            figures[f"{prefix}_p50_ms"] = percentile(latencies, 0.50)
            figures[f"{prefix}_p99_ms"] = percentile(latencies, 0.99)
            figures[f"{prefix}_max_ms"] = latencies[-1]
    return figures


def main() -> int:
    """Run both benchmarks, print and save the figures."""
    load = measure_load()
    database = load_food_database()
    queries = sample_queries(database)
    search = measure_search(database, queries)
    results = {
        "load": load,
        "search": search,
        "foods": len(database),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for section in ("load", "search"):
        for name, value in results[section].items():  # type: ignore[attr-defined]
            print(f"{section:6s} {name:32s} {value:10.2f}")
    print(f"wrote {RESULTS_PATH.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
