"""`mgcare foods` and `mgcare diet` as a user meets them, and `assess` with a food log."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_mgcare

FOOD_LOG_CSV = """food,amount,unit,time,supplement,dose_mg,elemental_mg
11457,60,g,12:30,,,
12061,1,oz,15:00,,,
rice white cooked,1,cup,08:00,,,
11458,0.5,cup,19:00,,,
,,,21:00,magnesium oxide,400,
"""
REPORT_KEYS = {
    "totals",
    "magnesium_known_share",
    "reference",
    "supplemental_magnesium_mg",
    "mg_zn_ratio",
    "top_contributors",
}
TOTALS_KEYS = {"magnesium_mg", "zinc_mg", "calcium_mg", "potassium_mg", "energy_kcal"}
REFERENCE_KEYS = {"standard", "ear_mg", "recommended_mg", "ul_supplemental_mg"}


mgcare = run_mgcare


def json_out(*args: str) -> Any:
    done = mgcare(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mgcare: ")
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def log_csv(tmp_path: Path) -> Path:
    path = tmp_path / "day.csv"
    path.write_text(FOOD_LOG_CSV, encoding="utf-8")
    return path


# --- foods ----------------------------------------------------------------------------


def test_foods_search_json_contract() -> None:
    hits = json_out("foods", "search", "almonds", "--format", "json")
    assert isinstance(hits, list) and hits
    for hit in hits:
        assert set(hit) == {"food", "name", "name_zh", "magnesium_mg_per_100g"}
        assert isinstance(hit["food"], str) and len(hit["food"]) == 5 and hit["food"].isdigit()
        assert isinstance(hit["name"], str)
        assert hit["name_zh"] is None or isinstance(hit["name_zh"], str)
        mg = hit["magnesium_mg_per_100g"]
        assert mg is None or isinstance(mg, int | float)
    assert hits[0] == {
        "food": "12061",
        "name": "Nuts, almonds",
        "name_zh": "扁桃仁（巴旦木）",
        "magnesium_mg_per_100g": 270.0,
    }


def test_foods_search_chinese() -> None:
    hits = json_out("foods", "search", "豆腐", "--format", "json", "--limit", "5")
    assert 0 < len(hits) <= 5
    assert "豆腐" in (hits[0]["name_zh"] or "")
    assert "tofu" in hits[0]["name"].lower()


def test_foods_show_almonds() -> None:
    data = json_out("foods", "show", "12061", "--format", "json")
    assert data["food"] == "12061"
    assert data["name"] == "Nuts, almonds"
    assert data["per_100g"]["magnesium_mg"] == 270
    portions = {p["unit"]: p for p in data["portions"]}
    assert portions["cup, whole"]["grams"] == 143
    assert portions["cup, whole"]["magnesium_mg"] == pytest.approx(143 * 2.7, abs=0.05)
    text = mgcare("foods", "show", "12061")
    assert text.returncode == 0
    assert "Nuts, almonds" in text.stdout


def test_foods_show_unknown_number() -> None:
    assert_one_line_error(mgcare("foods", "show", "99999"), "99999")


# --- diet report ----------------------------------------------------------------------


def test_diet_report_json_contract(log_csv: Path) -> None:
    data = json_out(
        "diet", "report", str(log_csv), "--age", "45", "--sex", "female",
        "--format", "json", "--lang", "en",
    )  # fmt: skip
    assert set(data) >= REPORT_KEYS
    assert set(data["totals"]) >= TOTALS_KEYS
    assert all(isinstance(data["totals"][k], int | float) for k in TOTALS_KEYS)
    assert set(data["reference"]) >= REFERENCE_KEYS
    assert isinstance(data["magnesium_known_share"], float)
    assert 0 <= data["magnesium_known_share"] <= 1
    assert isinstance(data["top_contributors"], list) and data["top_contributors"]
    # The default standard for --lang en is US IOM 1997: women 31+ EAR 265, RDA 320, UL 350.
    assert data["reference"]["standard"] == "us-iom-1997"
    assert (
        data["reference"]["ear_mg"],
        data["reference"]["recommended_mg"],
        data["reference"]["ul_supplemental_mg"],
    ) == (265, 320, 350)
    assert data["supplemental_magnesium_mg"] == pytest.approx(241.2)
    food_mg = data["totals"]["magnesium_mg"] - data["supplemental_magnesium_mg"]
    assert data["mg_zn_ratio"] == pytest.approx(food_mg / data["totals"]["zinc_mg"], rel=0.01)
    first = data["top_contributors"][0]
    assert first["food"] == "11458"  # half a cup of boiled spinach: 90 g x 87 mg/100 g
    assert first["magnesium_mg"] == pytest.approx(78.3)


def test_diet_report_default_standard_follows_language(log_csv: Path) -> None:
    zh = json_out(
        "diet", "report", str(log_csv), "--age", "45", "--sex", "female",
        "--format", "json", "--lang", "zh",
    )  # fmt: skip
    assert zh["reference"]["standard"] == "cn-2023"
    assert zh["reference"]["recommended_mg"] == 320
    assert zh["reference"]["ear_mg"] is None
    assert zh["reference"]["ul_supplemental_mg"] == 350  # from IOM97, said so
    assert zh["reference"]["ul_standard"] == "us-iom-1997"
    explicit = json_out(
        "diet", "report", str(log_csv), "--age", "45", "--sex", "female",
        "--format", "json", "--lang", "zh", "--standard", "efsa-2015",
    )  # fmt: skip
    assert explicit["reference"]["standard"] == "efsa-2015"
    assert explicit["reference"]["recommended_mg"] == 300


def test_diet_report_child_under_china_2023_says_fallback(log_csv: Path) -> None:
    data = json_out(
        "diet", "report", str(log_csv), "--age", "10", "--sex", "male",
        "--standard", "cn-2023", "--format", "json",
    )  # fmt: skip
    assert data["reference"]["standard"] == "cn-2013"
    assert data["reference"]["fallback_from"] == "cn-2023"
    assert data["reference"]["recommended_mg"] == 220


def test_diet_report_json_log_and_text_output(tmp_path: Path) -> None:
    path = tmp_path / "day.json"
    rows = [{"food": "11457", "amount": 100, "unit": "g"}]
    path.write_text(json.dumps({"entries": rows}), encoding="utf-8")
    data = json_out("diet", "report", str(path), "--age", "45", "--sex", "male", "--format", "json")
    assert data["totals"]["magnesium_mg"] == 79
    assert data["totals"]["zinc_mg"] == 0.53
    assert "intake-below-reference" in {f["code"] for f in data["findings"]}
    text = mgcare("diet", "report", str(path), "--age", "45", "--sex", "male", "--lang", "zh")
    assert text.returncode == 0, text.stderr
    assert "菠菜" in text.stdout


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ("11457,-60,g,,,,", ["row 3", "negative"]),
        ("11457,abc,g,,,,", ["row 3", "'abc'"]),
        ("11457,50,kg,,,,", ["row 3", "not plausible"]),
        ("11109,1,cup,,,,", ["row 3", "valid portions", "'cup, chopped'"]),
        (",,,,magnesium unobtainate,100,", ["row 3", "unknown supplement salt"]),
    ],
)
def test_bad_log_exits_2_naming_the_row(tmp_path: Path, line: str, fragments: list[str]) -> None:
    path = tmp_path / "bad.csv"
    header, first, second = FOOD_LOG_CSV.splitlines()[:3]
    path.write_text("\n".join([header, first, second, line]) + "\n", encoding="utf-8")
    done = mgcare("diet", "report", str(path), "--age", "45", "--sex", "female")
    assert_one_line_error(done, *fragments)


def test_missing_log_file_exits_2(tmp_path: Path) -> None:
    done = mgcare("diet", "report", str(tmp_path / "none.csv"), "--age", "45", "--sex", "male")
    assert_one_line_error(done, "none.csv")


# --- diet plan ------------------------------------------------------------------------


def test_diet_plan_json() -> None:
    data = json_out(
        "diet", "plan", "--age", "45", "--sex", "male", "--intake-mg", "200",
        "--exclude", "nuts", "--format", "json",
    )  # fmt: skip
    assert data["reference"]["standard"] == "us-iom-1997"
    assert data["gap_mg"] == 420 - 200
    assert data["closes_gap"] is True
    assert data["magnesium_mg"] >= 220 - 0.5
    assert 1 <= len(data["foods"]) <= 4
    for food in data["foods"]:
        assert food["name_zh"]  # common foods by default
        assert not food["name"].lower().startswith(("nuts", "peanut"))
    assert data["magnesium_mg"] == pytest.approx(
        sum(f["magnesium_mg"] for f in data["foods"]), abs=0.1
    )


def test_diet_plan_unknown_exclusion_exits_2() -> None:
    done = mgcare("diet", "plan", "--age", "45", "--sex", "male", "--exclude", "chocolate")
    assert_one_line_error(done, "chocolate")


# --- assess with a food log -----------------------------------------------------------


def write_record(tmp_path: Path, food_log: list[dict[str, Any]], **person: Any) -> Path:
    record = {
        "person": {"id": "diet-1", "birth_date": "1975-06-01", "sex": "female", **person},
        "food_log": food_log,
        "diet_standard": "us-iom-1997",
    }
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def assess(path: Path) -> Any:
    return json_out("assess", str(path), "--format", "json", "--as-of", "2026-11-25")


def test_assess_with_low_food_log(tmp_path: Path) -> None:
    path = write_record(tmp_path, [{"food": "11457", "amount": 50, "unit": "g"}])
    data = assess(path)
    assert data["intake"] is not None
    assert data["intake"]["totals"]["magnesium_mg"] == pytest.approx(39.5)
    assert data["intake"]["reference"]["recommended_mg"] == 320
    codes = {f["code"] for f in data["findings"]}
    assert "intake-below-reference" in codes
    assert "increase-dietary-magnesium" in {r["code"] for r in data["recommendations"]}


def test_assess_with_supplement_above_ul(tmp_path: Path) -> None:
    rows = [{"supplement": "magnesium oxide", "dose_mg": 800}]  # 482 mg elemental
    data = assess(write_record(tmp_path, rows))
    codes = {f["code"] for f in data["findings"]}
    assert "supplement-above-upper-limit" in codes
    assert "intake-below-reference" not in codes


def test_assess_without_food_log_has_no_intake(tmp_path: Path) -> None:
    data = assess(write_record(tmp_path, []))
    assert data["intake"] is None


def test_assess_bad_food_log_exits_2(tmp_path: Path) -> None:
    rows = [
        {"food": "11457", "amount": 50, "unit": "g"},
        {"food": "99999", "amount": 1, "unit": "g"},
    ]
    done = mgcare("assess", str(write_record(tmp_path, rows)), "--as-of", "2026-11-25")
    assert_one_line_error(done, "row 2", "99999")


def test_assess_supplement_above_ul_without_sex(tmp_path: Path) -> None:
    record = {
        "person": {"id": "diet-2", "birth_date": "1975-06-01"},
        "food_log": [{"supplement": "magnesium citrate", "elemental_mg": 1000}],
        "diet_standard": "cn-2023",
    }
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    codes = {f["code"] for f in assess(path)["findings"]}
    assert "supplement-above-upper-limit" in codes
