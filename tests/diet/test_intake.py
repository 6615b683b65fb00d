"""Daily totals against hand computation from the food table, shares, contributors, Mg:Zn, UL."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from mgcare.diet.foods import Food, FoodDatabase, load_food_database
from mgcare.diet.intake import TOP_CONTRIBUTORS, IntakeReport, daily_intake
from mgcare.diet.log import GRAMS_PER_MASS_UNIT, FoodLog, resolve_log
from mgcare.diet.reference import reference_intake
from mgcare.knowledge import Knowledge

SPINACH_RAW = "11457"
ALMONDS = "12061"
BROWN_RICE = "20037"
BANANA = "09040"
MILK = "01077"
NUTRIENTS = {
    "magnesium_mg": "magnesium_mg_per_100g",
    "zinc_mg": "zinc_mg_per_100g",
    "calcium_mg": "calcium_mg_per_100g",
    "potassium_mg": "potassium_mg_per_100g",
    "energy_kcal": "energy_kcal_per_100g",
}


@pytest.fixture(scope="module")
def db() -> FoodDatabase:
    return load_food_database()


@pytest.fixture(scope="module")
def no_magnesium_food(db: FoodDatabase) -> Food:
    """A food SR28 gives no Mg value, but an energy value (so it is a real food, not a gap)."""
    return next(
        f for f in db if f.magnesium_mg_per_100g is None and f.energy_kcal_per_100g is not None
    )


def day(
    rows: list[dict[str, Any]],
    db: FoodDatabase,
    knowledge: Knowledge,
    *,
    age: float = 40,
    sex: str = "female",
) -> IntakeReport:
    log = resolve_log(rows, db, knowledge)
    return daily_intake(log, knowledge, age_years=age, sex=sex, standard="us-iom-1997")


def grams_rows(items: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"food": ndb, "amount": grams, "unit": "g"} for ndb, grams in items]


def hand_total(db: FoodDatabase, items: list[tuple[str, float]], attribute: str) -> float:
    total = 0.0
    for ndb, grams in items:
        value = getattr(db.get(ndb), attribute)
        if value is not None:
            total += grams * value / 100
    return total


DAY_ITEMS = [
    (SPINACH_RAW, 60.0),
    (ALMONDS, 28.35),
    (BROWN_RICE, 195.0),
    (BANANA, 118.0),
    (MILK, 244.0),
]


def test_totals_match_hand_computation(db: FoodDatabase, knowledge: Knowledge) -> None:
    result = day(grams_rows(DAY_ITEMS), db, knowledge)
    for field, attribute in NUTRIENTS.items():
        assert getattr(result, field) == pytest.approx(hand_total(db, DAY_ITEMS, attribute)), field
    # A figure written out from SR28 values, so a wrong per-100 g convention cannot hide:
    # 60 g spinach (79) + 28.35 g almonds (270) + 195 g brown rice (39) + 118 g banana (27)
    # + 244 g whole milk (10) = 47.4 + 76.545 + 76.05 + 31.86 + 24.4 mg.
    assert result.magnesium_mg == pytest.approx(256.255)
    assert result.food_magnesium_mg == result.magnesium_mg
    assert result.supplemental_magnesium_mg == 0
    assert result.magnesium_known_share == 1


def test_supplement_adds_to_total_but_not_to_food(db: FoodDatabase, knowledge: Knowledge) -> None:
    rows = [*grams_rows(DAY_ITEMS), {"supplement": "magnesium oxide", "dose_mg": 400}]
    result = day(rows, db, knowledge)
    food = hand_total(db, DAY_ITEMS, "magnesium_mg_per_100g")
    assert result.food_magnesium_mg == pytest.approx(food)
    assert result.supplemental_magnesium_mg == pytest.approx(241.2)
    assert result.magnesium_mg == pytest.approx(food + 241.2)


def test_magnesium_known_share_by_weight(
    db: FoodDatabase, knowledge: Knowledge, no_magnesium_food: Food
) -> None:
    items = [(SPINACH_RAW, 300.0), (no_magnesium_food.ndb_no, 100.0)]
    result = day(grams_rows(items), db, knowledge)
    assert result.magnesium_known_share == pytest.approx(0.75)
    assert result.magnesium_mg == pytest.approx(300 * 79 / 100)  # unknown is not counted as Mg
    assert result.energy_kcal == pytest.approx(hand_total(db, items, "energy_kcal_per_100g"))
    assert any("no magnesium value" in w for w in result.warnings)
    assert all(c.food != no_magnesium_food.ndb_no for c in result.top_contributors)


def test_only_unknown_magnesium(
    db: FoodDatabase, knowledge: Knowledge, no_magnesium_food: Food
) -> None:
    result = day(grams_rows([(no_magnesium_food.ndb_no, 50.0)]), db, knowledge)
    assert result.magnesium_known_share == 0
    assert result.magnesium_mg == 0
    assert result.top_contributors == ()


def test_empty_day(knowledge: Knowledge) -> None:
    empty = FoodLog((), (), ())
    result = daily_intake(empty, knowledge, age_years=40, sex="male", standard="us-iom-1997")
    assert (result.magnesium_mg, result.zinc_mg, result.energy_kcal) == (0, 0, 0)
    assert result.magnesium_known_share == 1
    assert result.mg_zn_ratio is None
    assert result.top_contributors == ()
    assert result.below_recommended
    assert result.below_ear
    assert not result.above_ul


def test_top_contributors_in_order(db: FoodDatabase, knowledge: Knowledge) -> None:
    items = [
        (MILK, 100.0),  # 10
        (ALMONDS, 50.0),  # 135
        (SPINACH_RAW, 100.0),  # 79
        (BANANA, 100.0),  # 27
        (BROWN_RICE, 300.0),  # 117
        (SPINACH_RAW, 10.0),  # 7.9
        (ALMONDS, 10.0),  # 27: a food logged twice counts once (50 + 10 g)
    ]
    result = day(grams_rows(items), db, knowledge)
    contributors = result.top_contributors
    assert len(contributors) == TOP_CONTRIBUTORS
    assert [(c.food, c.grams) for c in contributors] == [
        (ALMONDS, 60.0),
        (BROWN_RICE, 300.0),
        (SPINACH_RAW, 110.0),
        (BANANA, 100.0),
        (MILK, 100.0),
    ]
    magnesium = [c.magnesium_mg for c in contributors]
    assert magnesium == sorted(magnesium, reverse=True)
    assert magnesium[0] == pytest.approx(162)
    for contributor in contributors:
        assert contributor.share == pytest.approx(
            contributor.magnesium_mg / result.food_magnesium_mg, abs=1e-3
        )
    assert sum(c.share for c in contributors) <= 1
    assert contributors[0].name == db.get(ALMONDS).name_en
    assert contributors[0].name_zh == db.get(ALMONDS).name_zh


def test_supplement_is_not_a_contributor(db: FoodDatabase, knowledge: Knowledge) -> None:
    rows = [*grams_rows([(SPINACH_RAW, 100.0)]), {"supplement": "magnesium oxide", "dose_mg": 400}]
    result = day(rows, db, knowledge)
    assert [c.food for c in result.top_contributors] == [SPINACH_RAW]
    assert result.top_contributors[0].share == 1


def test_mg_zn_ratio_is_food_only_and_by_mass(db: FoodDatabase, knowledge: Knowledge) -> None:
    rows = [*grams_rows(DAY_ITEMS), {"supplement": "magnesium citrate", "elemental_mg": 200}]
    result = day(rows, db, knowledge)
    food_mg = hand_total(db, DAY_ITEMS, "magnesium_mg_per_100g")
    zinc_mg = hand_total(db, DAY_ITEMS, "zinc_mg_per_100g")
    assert result.mg_zn_ratio == pytest.approx(food_mg / zinc_mg)
    assert result.mg_zn_ratio != pytest.approx((food_mg + 200) / zinc_mg)
    molar = (food_mg / 24.305) / (zinc_mg / 65.38)
    assert result.mg_zn_ratio != pytest.approx(molar)


def test_mg_zn_ratio_without_zinc(db: FoodDatabase, knowledge: Knowledge) -> None:
    rows = [
        {
            "food": "mineral water",
            "amount": 1,
            "unit": "kg",
            "magnesium_mg_per_100g": 5,
            "zinc_mg_per_100g": 0,
        }
    ]
    assert day(rows, db, knowledge).mg_zn_ratio is None


def test_food_magnesium_above_350_does_not_trigger_ul(
    db: FoodDatabase, knowledge: Knowledge
) -> None:
    result = day(grams_rows([(ALMONDS, 400.0)]), db, knowledge)  # 1080 mg from food
    assert result.magnesium_mg > 350
    assert result.reference.ul_supplemental_mg == 350
    assert not result.above_ul


@pytest.mark.parametrize(("elemental", "above"), [(349.9, False), (350, False), (350.1, True)])
def test_ul_is_about_supplemental_magnesium(
    db: FoodDatabase, knowledge: Knowledge, elemental: float, above: bool
) -> None:
    rows = [{"supplement": "magnesium glycinate", "elemental_mg": elemental}]
    assert day(rows, db, knowledge).above_ul is above


def test_ul_adds_up_several_supplements(db: FoodDatabase, knowledge: Knowledge) -> None:
    rows = [
        {"supplement": "magnesium oxide", "dose_mg": 400},  # 241.2
        {"supplement": "magnesium citrate", "elemental_mg": 150},
    ]
    result = day(rows, db, knowledge)
    assert result.supplemental_magnesium_mg == pytest.approx(391.2)
    assert result.above_ul


def test_child_ul_is_used(db: FoodDatabase, knowledge: Knowledge) -> None:
    """IOM97 UL for 1-3 years is 65 mg: 100 mg of supplement is above it."""
    rows = [{"supplement": "magnesium citrate", "elemental_mg": 100}]
    assert day(rows, db, knowledge, age=2).above_ul
    assert not day(rows, db, knowledge, age=40).above_ul


def test_below_ear_and_below_recommended(db: FoodDatabase, knowledge: Knowledge) -> None:
    reference = reference_intake(knowledge, "us-iom-1997", 40, "female")
    assert (reference.ear_mg, reference.recommended_mg) == (265, 320)
    cases = [(200.0, True, True), (290.0, False, True), (330.0, False, False)]
    for elemental, below_ear, below_recommended in cases:
        rows = [{"supplement": "magnesium citrate", "elemental_mg": elemental}]
        result = day(rows, db, knowledge)
        assert result.below_ear is below_ear
        assert result.below_recommended is below_recommended


def test_below_ear_is_unknown_without_ear(db: FoodDatabase, knowledge: Knowledge) -> None:
    log = resolve_log(grams_rows([(SPINACH_RAW, 100.0)]), db, knowledge)
    result = daily_intake(log, knowledge, age_years=40, sex="female", standard="efsa-2015")
    assert result.below_ear is None
    assert result.below_recommended


def test_ten_thousand_entries(db: FoodDatabase, knowledge: Knowledge) -> None:
    rng = random.Random(20261125)
    foods = [f for f in db if f.portions][::7]
    rows: list[dict[str, Any]] = []
    while len(rows) < 10_000:
        food = rng.choice(foods)
        if rng.random() < 0.5:
            rows.append({"food": food.ndb_no, "amount": round(rng.uniform(1, 400), 2), "unit": "g"})
        else:
            portion = rng.choice(food.portions)
            if portion.grams_per_unit > 1000:  # "1 whole turkey" is over the per-row limit
                continue
            if portion.description.lower() in GRAMS_PER_MASS_UNIT:  # "oz" is the mass unit
                continue
            rows.append({"food": food.ndb_no, "amount": 1, "unit": portion.description})
    log = resolve_log(rows, db, knowledge)
    assert len(log.foods) == 10_000
    result = daily_intake(log, knowledge, age_years=40, sex="male", standard="us-iom-1997")
    for field, attribute in NUTRIENTS.items():
        expected = math.fsum(
            e.grams * getattr(e.food, attribute) / 100
            for e in log.foods
            if getattr(e.food, attribute) is not None
        )
        assert getattr(result, field) == pytest.approx(expected, rel=1e-9), field
    # grams themselves: the portion rows weigh what the food table says
    for row, entry in zip(rows, log.foods, strict=True):
        if row["unit"] == "g":
            assert entry.grams == row["amount"]
        else:
            portion = entry.food.find_portion(row["unit"])
            assert entry.grams == pytest.approx(portion.grams / portion.amount)
    known = math.fsum(e.grams for e in log.foods if e.food.magnesium_mg_per_100g is not None)
    assert result.magnesium_known_share == pytest.approx(
        known / math.fsum(e.grams for e in log.foods)
    )
