"""Reproduce NIH ODS magnesium fact sheet Table 2 from the shipped SR28 table.

Source: clinical reference pack, section 9 (ODS Table 2, "Selected food sources of
magnesium"). Each ODS serving is converted to grams with the gram weight of a
matching SR28 household portion (WEIGHT.txt), then multiplied by SR28's
magnesium per 100 g. Every row must agree within 10 % or be listed in
EXPECTED_DIFFERENCES with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mgcare.diet.foods import FoodDatabase, load_food_database

TOLERANCE = 0.10
# Avoirdupois ounce; SR28 uses 28.35 g for its own "oz" portions.
GRAMS_PER_OUNCE = 28.349523125


@dataclass(frozen=True)
class OdsRow:
    """One ODS Table 2 row and the SR28 food and portion chosen to reproduce it."""

    food: str
    serving: str
    magnesium_mg: float
    ndb_no: str | None
    portion: str | None  # SR28 Msre_Desc; None when SR28 has no matching portion
    units: float  # how many SR28 portion units (or ounces when portion is None)


ODS_TABLE_2 = [
    OdsRow("Pumpkin seeds, roasted", "1 oz", 156, "12016", "oz", 1),
    OdsRow("Chia seeds", "1 oz", 111, "12006", "oz", 1),
    OdsRow("Almonds, dry roasted", "1 oz", 80, "12063", "oz (22 whole kernels)", 1),
    OdsRow("Spinach, boiled", "½ cup", 78, "11458", "cup", 0.5),
    OdsRow("Cashews, dry roasted", "1 oz", 74, "12085", "oz", 1),
    OdsRow("Peanuts, oil roasted", "¼ cup", 63, "16389", "cup,", 0.25),
    OdsRow("Shredded wheat cereal", "2 large biscuits", 61, "08147", "biscuits (1 NLEA serving)", 2),
    OdsRow("Soymilk, plain or vanilla", "1 cup", 61, "16120", "cup", 1),
    OdsRow("Black beans, cooked", "½ cup", 60, "16015", "cup", 0.5),
    OdsRow("Edamame, shelled, cooked", "½ cup", 50, "11212", "cup", 0.5),
    OdsRow("Peanut butter, smooth", "2 tbsp", 49, "16098", "tbsp", 2),
    OdsRow("Potato, baked with skin", "3.5 oz", 43, "11674", None, 3.5),
    OdsRow("Rice, brown, cooked", "½ cup", 42, "20037", "cup", 0.5),
    OdsRow("Yogurt, plain, low fat", "8 oz", 42, "01117", "container (8 oz)", 1),
    OdsRow("Breakfast cereal fortified with 10% DV Mg", "1 serving", 42, None, None, 1),
    OdsRow("Oatmeal, instant", "1 packet", 36, "08122", "packet", 1),
    OdsRow("Kidney beans, canned", "½ cup", 35, "16029", "cup", 0.5),
    OdsRow("Banana", "1 medium", 32, "09040", 'medium (7" to 7-7/8" long)', 1),
    OdsRow("Salmon, Atlantic, farmed, cooked", "3 oz", 26, "15237", "oz", 3),
    OdsRow("Milk", "1 cup", 24, "01077", "cup", 1),
    OdsRow("Halibut, cooked", "3 oz", 24, "15037", "oz", 3),
    OdsRow("Raisins", "½ cup", 23, "09298", "cup (not packed)", 0.5),
    OdsRow("Bread, whole wheat", "1 slice", 23, "18075", "slice", 1),
    OdsRow("Avocado, cubed", "½ cup", 22, "09037", "cup, cubes", 0.5),
    OdsRow("Chicken breast, roasted", "3 oz", 22, "05064", None, 3),
    OdsRow("Beef, ground, 90% lean, pan broiled", "3 oz", 20, "23564", "oz", 3),
    OdsRow("Broccoli, chopped, cooked", "½ cup", 12, "11093", "cup", 0.5),
    OdsRow("Rice, white, cooked", "½ cup", 10, "20045", "cup", 0.5),
    OdsRow("Apple", "1 medium", 9, "09003", 'medium (3" dia)', 1),
    OdsRow("Carrot, raw", "1 medium", 7, "11124", "medium", 1),
]  # fmt: skip

SKIPPED_ROWS = {
    "Breakfast cereal fortified with 10% DV Mg": (
        "a class of products, not one food: no single SR28 entry represents it"
    ),
}

# Rows outside 10 % and why. Each reason names the SR28 numbers it rests on.
EXPECTED_DIFFERENCES = {
    "Chia seeds": (
        "different composition data: SR28 12006 has 335 mg/100 g (95 mg per 28.35 g oz); "
        "ODS's 111 mg/oz implies ~392 mg/100 g from a later FoodData Central record"
    ),
    "Potato, baked with skin": (
        "different composition data: every SR28 baked potato with skin (11356, 11357, "
        "11358, 11674) has 27-30 mg/100 g, so 3.5 oz gives ~28 mg; ODS's 43 mg implies "
        "~43 mg/100 g from another (older) dataset. SR28 also has no 'oz' portion for this "
        "food, so 3.5 oz is converted at 28.35 g/oz"
    ),
    "Chicken breast, roasted": (
        "different composition data and no 'oz' portion in SR28 05064: 3 oz (85 g) at "
        "SR28's 29 mg/100 g gives 24.7 mg (+12 %); ODS's 22 mg implies ~26 mg/100 g"
    ),
}


@pytest.fixture(scope="module")
def db() -> FoodDatabase:
    return load_food_database()


def serving_grams(db: FoodDatabase, row: OdsRow) -> float:
    """Grams in the ODS serving, from the matching SR28 portion where there is one."""
    assert row.ndb_no is not None
    if row.portion is None:
        return row.units * GRAMS_PER_OUNCE
    return db.portion_grams(row.ndb_no, row.portion, amount=row.units)


def relative_difference(db: FoodDatabase, row: OdsRow) -> float:
    assert row.ndb_no is not None
    magnesium_mg_per_100g = db.get(row.ndb_no).magnesium_mg_per_100g
    assert magnesium_mg_per_100g is not None
    magnesium_mg = serving_grams(db, row) * magnesium_mg_per_100g / 100
    return (magnesium_mg - row.magnesium_mg) / row.magnesium_mg


@pytest.mark.parametrize("row", ODS_TABLE_2, ids=[row.food for row in ODS_TABLE_2])
def test_ods_row_is_reproduced_or_explained(db: FoodDatabase, row: OdsRow) -> None:
    if row.food in SKIPPED_ROWS:
        pytest.skip(SKIPPED_ROWS[row.food])
    difference = relative_difference(db, row)
    if row.food in EXPECTED_DIFFERENCES:
        # Keep the exception list honest: an explained row must really be outside 10 %.
        assert abs(difference) > TOLERANCE, f"{row.food} now agrees; drop its exception"
    else:
        assert abs(difference) <= TOLERANCE, f"{row.food}: {difference:+.1%} vs ODS"


def test_ods_table_is_complete_and_exceptions_are_known_rows() -> None:
    foods = [row.food for row in ODS_TABLE_2]
    assert len(foods) == 30
    assert len(set(foods)) == len(foods)
    assert set(EXPECTED_DIFFERENCES) <= set(foods)
    assert set(SKIPPED_ROWS) <= set(foods)
    assert all(reason.strip() for reason in EXPECTED_DIFFERENCES.values())


def test_ods_rows_use_existing_sr28_portions(db: FoodDatabase) -> None:
    for row in ODS_TABLE_2:
        if row.ndb_no is None or row.portion is None:
            continue
        assert db.portion_grams(row.ndb_no, row.portion) > 0
