"""Food table loader: SR28 facts, portions, Chinese names, reproducible build."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mgcare.diet.foods import (
    Food,
    FoodDatabase,
    Portion,
    UnknownFoodError,
    UnknownPortionError,
    load_food_database,
    normalize_ndb_no,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SR28_DIR = REPO_ROOT.parent / "shared" / "data" / "usda_sr28"
SR28_FOOD_COUNT = 8789
SR28_PORTION_COUNT = 15438
SR28_FOODS_WITHOUT_MAGNESIUM = 739
MIN_CHINESE_NAMES = 320
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def db() -> FoodDatabase:
    return load_food_database()


@pytest.fixture(scope="module")
def foods(db: FoodDatabase) -> list[Food]:
    return list(db)


def chinese_name_rows() -> list[dict[str, str]]:
    text = files("mgcare.diet").joinpath("data/food_names_zh.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


# --- SR28 facts -------------------------------------------------------------------------


def test_every_sr28_food_is_shipped(db: FoodDatabase, foods: list[Food]) -> None:
    assert len(db) == SR28_FOOD_COUNT
    assert len({food.ndb_no for food in foods}) == SR28_FOOD_COUNT
    assert all(re.fullmatch(r"\d{5}", food.ndb_no) for food in foods)
    assert sum(len(food.portions) for food in foods) == SR28_PORTION_COUNT


def test_provenance_records_source_and_counts(db: FoodDatabase) -> None:
    assert "SR28" in db.provenance["source"]
    assert db.provenance["licence"] == "US public domain"
    assert db.provenance["counts"]["foods"] == SR28_FOOD_COUNT
    assert db.provenance["counts"]["portions"] == SR28_PORTION_COUNT


def test_spinach_raw_matches_sr28(db: FoodDatabase) -> None:
    spinach = db.get("11457")
    assert spinach.name_en == "Spinach, raw"
    assert spinach.magnesium_mg_per_100g == 79
    assert spinach.energy_kcal_per_100g == 23
    assert spinach.calcium_mg_per_100g == 99
    assert spinach.potassium_mg_per_100g == 558
    assert spinach.zinc_mg_per_100g == pytest.approx(0.53)
    assert spinach.group.code == "1100"
    assert spinach.group.name == "Vegetables and Vegetable Products"


@pytest.mark.parametrize(
    ("ndb_no", "magnesium_mg_per_100g"),
    [("12061", 270), ("20137", 64), ("01077", 10)],
)
def test_magnesium_sanity_values(
    db: FoodDatabase, ndb_no: str, magnesium_mg_per_100g: float
) -> None:
    assert db.get(ndb_no).magnesium_mg_per_100g == magnesium_mg_per_100g


def test_foods_without_magnesium_are_kept_with_none(foods: list[Food]) -> None:
    missing = [food for food in foods if food.magnesium_mg_per_100g is None]
    assert len(missing) == SR28_FOODS_WITHOUT_MAGNESIUM
    assert all(food.energy_kcal_per_100g is not None for food in missing)


def test_lookup_accepts_ints_and_unpadded_numbers(db: FoodDatabase) -> None:
    assert db.get(1077) is db.get("1077") is db.get("01077")
    assert "01077" in db
    assert 1077 in db
    assert "99999" not in db


def test_unknown_food_is_a_clear_value_error(db: FoodDatabase) -> None:
    with pytest.raises(UnknownFoodError, match="99999") as caught:
        db.get("99999")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "no food with NDB number '99999'"


def test_foods_are_immutable(db: FoodDatabase) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        db.get("11457").magnesium_mg_per_100g = 0  # type: ignore[misc]


def test_database_is_loaded_once() -> None:
    assert load_food_database() is load_food_database()


def test_loading_needs_neither_pyarrow_nor_pydantic() -> None:
    code = (
        "import sys; from mgcare.diet.foods import load_food_database; load_food_database(); "
        "print(sorted({'pyarrow', 'pydantic', 'numpy'} & set(sys.modules)))"
    )
    src = str(REPO_ROOT / "src")
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src},
    )
    assert result.stdout.strip() == "[]"


@given(st.integers(min_value=0, max_value=99_999))
def test_ndb_normalisation_is_idempotent(number: int) -> None:
    once = normalize_ndb_no(number)
    assert len(once) == 5
    assert normalize_ndb_no(once) == once
    assert int(once) == number


@given(st.data())
def test_every_nutrient_is_none_or_non_negative(data: st.DataObject) -> None:
    food = data.draw(st.sampled_from(list(load_food_database())))
    for value in (
        food.energy_kcal_per_100g,
        food.magnesium_mg_per_100g,
        food.zinc_mg_per_100g,
        food.calcium_mg_per_100g,
        food.potassium_mg_per_100g,
    ):
        assert value is None or value >= 0


# --- portions ---------------------------------------------------------------------------


def test_portions_keep_sr28_descriptions(db: FoodDatabase) -> None:
    spinach = db.get("11457")
    assert Portion(1.0, "cup", 30.0) in spinach.portions
    assert Portion(1.0, "package (10 oz)", 284.0) in spinach.portions


def test_portion_grams_is_case_insensitive_and_scales(db: FoodDatabase) -> None:
    assert db.portion_grams("11457", "cup") == 30.0
    assert db.portion_grams("11457", "  CUP ") == 30.0
    assert db.portion_grams("11458", "cup", amount=0.5) == 90.0


def test_portion_listed_for_several_units_is_per_unit(db: FoodDatabase) -> None:
    # SR28 lists salmon as "3 oz = 85 g"; one ounce is a third of that.
    salmon = db.get("15237").find_portion("oz")
    assert salmon.amount == 3
    assert salmon.grams_per_unit == pytest.approx(85 / 3)
    assert db.portion_grams("15237", "oz", amount=3) == pytest.approx(85)


def test_duplicate_measure_prefers_the_amount_one_entry(db: FoodDatabase) -> None:
    # 01036 lists both "0.5 cup = 124 g" and "1 cup = 246 g".
    descriptions = [p.description for p in db.get("01036").portions]
    assert descriptions.count("cup") == 2
    assert db.portion_grams("01036", "cup") == 246


def test_unknown_portion_lists_the_valid_ones(db: FoodDatabase) -> None:
    with pytest.raises(UnknownPortionError) as caught:
        db.portion_grams("11457", "bowl")
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "'bowl'" in message
    for portion in db.get("11457").portions:
        assert repr(portion.description) in message


def test_portion_grams_on_unknown_food_raises_unknown_food(db: FoodDatabase) -> None:
    with pytest.raises(UnknownFoodError):
        db.portion_grams("99999", "cup")


@given(st.data())
def test_each_portion_is_found_by_its_own_description(data: st.DataObject) -> None:
    database = load_food_database()
    food = data.draw(st.sampled_from([food for food in database if food.portions]))
    portion = data.draw(st.sampled_from(food.portions))
    found = food.find_portion(portion.description.upper())
    assert found.description == portion.description
    assert found.grams > 0
    assert database.portion_grams(food.ndb_no, portion.description) == found.grams_per_unit


# --- Chinese names ----------------------------------------------------------------------


def test_at_least_320_foods_have_chinese_names(foods: list[Food]) -> None:
    named = [food for food in foods if food.name_zh is not None]
    assert len(named) >= MIN_CHINESE_NAMES
    assert all(HAN.search(food.name_zh or "") for food in named)
    assert all(HAN.search(alias) for food in named for alias in food.aliases_zh)


def test_chinese_name_file_is_consistent(db: FoodDatabase) -> None:
    rows = chinese_name_rows()
    numbers = [row["ndb_no"] for row in rows]
    assert len(rows) >= MIN_CHINESE_NAMES
    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(r"\d{5}", number) for number in numbers)
    assert all(number in db for number in numbers)
    assert len({row["name_zh"] for row in rows}) == len(rows)
    for row in rows:
        assert db.get(row["ndb_no"]).name_zh == row["name_zh"]


@pytest.mark.parametrize(
    ("ndb_no", "name_zh"),
    [
        ("11457", "菠菜"),
        ("16427", "豆腐"),
        ("20037", "糙米饭（长粒）"),
        ("09040", "香蕉"),
        ("01077", "全脂牛奶"),
    ],
)
def test_known_chinese_names(db: FoodDatabase, ndb_no: str, name_zh: str) -> None:
    assert db.get(ndb_no).name_zh == name_zh


def test_cooked_rice_is_mifan_and_raw_rice_is_dami(foods: list[Food]) -> None:
    rice = [food for food in foods if food.name_en.startswith("Rice, white") and food.name_zh]
    assert rice
    for food in rice:
        cooked = re.search(r"\b(cooked|steamed)\b", food.name_en) is not None
        assert ("饭" in (food.name_zh or "")) == cooked, food.name_en


def test_every_ods_table_food_has_a_chinese_name(db: FoodDatabase) -> None:
    ods_foods = ["12016", "12006", "12063", "11458", "12085", "16389", "08147", "16120"]
    ods_foods += ["16015", "11212", "16098", "11674", "20037", "01117", "08122", "16029"]
    ods_foods += ["09040", "15237", "01077", "15037", "09298", "18075", "09037", "05064"]
    ods_foods += ["23564", "11093", "20045", "09003", "11124"]
    missing = [n for n in ods_foods if db.get(n).name_zh is None]
    assert missing == []


# --- reproducible build -----------------------------------------------------------------


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_foods", REPO_ROOT / "scripts" / "build_foods.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.mark.skipif(not SR28_DIR.exists(), reason="raw SR28 files are not available here")
def test_shipped_table_is_the_reproducible_build_of_sr28() -> None:
    build = load_build_script()
    rebuilt = build.encode_payload(build.build_payload(SR28_DIR))
    shipped = files("mgcare.diet").joinpath("data/foods.json.gz").read_bytes()
    assert rebuilt == shipped
