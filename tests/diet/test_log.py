"""Food log rows: units, household portions and the traps around them; every bad row is named.

Expected grams and nutrient amounts are computed here from the food table's own values
(portion grams, per-100 g composition), never copied from the code under test.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from mgcare.diet.foods import FoodDatabase, load_food_database
from mgcare.diet.intake import IntakeReport, daily_intake
from mgcare.diet.log import (
    GRAMS_PER_MASS_UNIT,
    MAX_GRAMS_PER_ENTRY,
    FoodLog,
    FoodLogError,
    read_rows,
    resolve_log,
)
from mgcare.knowledge import Knowledge

SPINACH_RAW = "11457"
SPINACH_BOILED = "11458"  # SR28 lists "1 cup" = 180 g
CABBAGE_RAW = "11109"  # SR28 lists "cup, chopped" and "cup, shredded", no bare "cup"
TOFU_REGULAR = "16427"  # SR28 lists only "0.5 cup" = 124 g
ALMONDS = "12061"


@pytest.fixture(scope="module")
def db() -> FoodDatabase:
    return load_food_database()


def resolve(rows: Sequence[Mapping[str, Any]], db: FoodDatabase, knowledge: Knowledge) -> FoodLog:
    return resolve_log(rows, db, knowledge)


def grams_of(row: Mapping[str, Any], db: FoodDatabase, knowledge: Knowledge) -> float:
    log = resolve([row], db, knowledge)
    assert len(log.foods) == 1
    return log.foods[0].grams


def report(log: FoodLog, knowledge: Knowledge) -> IntakeReport:
    return daily_intake(log, knowledge, age_years=40, sex="female", standard="us-iom-1997")


def error_of(rows: Sequence[Mapping[str, Any]], db: FoodDatabase, knowledge: Knowledge) -> str:
    with pytest.raises(FoodLogError) as caught:
        resolve(rows, db, knowledge)
    return str(caught.value)


GOOD_ROW: dict[str, Any] = {"food": SPINACH_RAW, "amount": 100, "unit": "g"}


# --- mass units -------------------------------------------------------------------------


def test_one_ounce_is_28_35_grams(db: FoodDatabase, knowledge: Knowledge) -> None:
    assert GRAMS_PER_MASS_UNIT["oz"] == pytest.approx(28.35, abs=0.001)
    assert grams_of({"food": ALMONDS, "amount": 1, "unit": "oz"}, db, knowledge) == pytest.approx(
        28.3495, abs=1e-4
    )


def test_oz_is_the_mass_unit_not_a_food_specific_portion(
    db: FoodDatabase, knowledge: Knowledge
) -> None:
    """Some SR28 foods list an "oz" portion of 28 g; the unit "oz" always means 28.35 g."""
    food = next(f for f in db if any(p.description == "oz" and p.grams == 28 for p in f.portions))
    assert grams_of({"food": food.ndb_no, "amount": 2, "unit": "oz"}, db, knowledge) == (
        pytest.approx(2 * 28.349523125)
    )


@pytest.mark.parametrize(
    ("amount", "unit", "grams"),
    [
        (0.1, "kg", 100.0),
        (1, "lb", 453.59237),
        (0.5, "lb", 226.796185),
        (250, "g", 250.0),
        (250, "G", 250.0),
        (2, "KG", 2000.0),
    ],
)
def test_mass_units(
    db: FoodDatabase, knowledge: Knowledge, amount: float, unit: str, grams: float
) -> None:
    row = {"food": SPINACH_RAW, "amount": amount, "unit": unit}
    assert grams_of(row, db, knowledge) == pytest.approx(grams)


# --- household portions -----------------------------------------------------------------


def test_cup_chopped_is_exact(db: FoodDatabase, knowledge: Knowledge) -> None:
    cabbage = db.get(CABBAGE_RAW)
    chopped = next(p for p in cabbage.portions if p.description == "cup, chopped")
    shredded = next(p for p in cabbage.portions if p.description == "cup, shredded")
    assert chopped.grams != shredded.grams
    row = {"food": CABBAGE_RAW, "amount": 1, "unit": "cup, chopped"}
    assert grams_of(row, db, knowledge) == chopped.grams / chopped.amount
    row = {"food": CABBAGE_RAW, "amount": 2, "unit": "Cup, Shredded"}
    assert grams_of(row, db, knowledge) == 2 * shredded.grams / shredded.amount


def test_bare_cup_is_not_guessed_as_cup_chopped(db: FoodDatabase, knowledge: Knowledge) -> None:
    cabbage = db.get(CABBAGE_RAW)
    assert "cup" not in {p.description for p in cabbage.portions}
    message = error_of([GOOD_ROW, {"food": CABBAGE_RAW, "amount": 1, "unit": "cup"}], db, knowledge)
    assert message.startswith("row 2: ")
    assert "'cup'" in message
    for portion in cabbage.portions:  # the message lists every valid portion
        assert repr(portion.description) in message


def test_half_cup_via_a_one_cup_portion(db: FoodDatabase, knowledge: Knowledge) -> None:
    spinach = db.get(SPINACH_BOILED)
    cup = next(p for p in spinach.portions if p.description == "cup")
    assert cup.amount == 1
    row = {"food": SPINACH_BOILED, "amount": 0.5, "unit": "cup"}
    assert grams_of(row, db, knowledge) == pytest.approx(cup.grams / 2)


def test_one_cup_via_a_half_cup_portion(db: FoodDatabase, knowledge: Knowledge) -> None:
    tofu = db.get(TOFU_REGULAR)
    cups = [p for p in tofu.portions if p.description == "cup"]
    assert [p.amount for p in cups] == [0.5]
    row = {"food": TOFU_REGULAR, "amount": 1, "unit": "cup"}
    assert grams_of(row, db, knowledge) == pytest.approx(2 * cups[0].grams)


def test_magnesium_of_a_cup_is_per_100g_times_grams(db: FoodDatabase, knowledge: Knowledge) -> None:
    """1 cup of boiled spinach: portion grams x Mg per 100 g / 100, not the per-100 g figure."""
    spinach = db.get(SPINACH_BOILED)
    cup = next(p for p in spinach.portions if p.description == "cup")
    assert spinach.magnesium_mg_per_100g is not None
    expected = cup.grams / cup.amount * spinach.magnesium_mg_per_100g / 100
    result = report(
        resolve([{"food": SPINACH_BOILED, "amount": 1, "unit": "cup"}], db, knowledge), knowledge
    )
    assert result.magnesium_mg == pytest.approx(expected)
    assert result.magnesium_mg != pytest.approx(spinach.magnesium_mg_per_100g)
    assert expected == pytest.approx(156.6)  # 180 g x 87 mg/100 g (SR28)


def test_zinc_is_in_milligrams(db: FoodDatabase, knowledge: Knowledge) -> None:
    """SR28 zinc is mg/100 g: 100 g of raw spinach (0.53) gives 0.53 mg, not 530."""
    assert db.get(SPINACH_RAW).zinc_mg_per_100g == pytest.approx(0.53)
    result = report(resolve([GOOD_ROW], db, knowledge), knowledge)
    assert result.zinc_mg == pytest.approx(0.53)


# --- bad rows: each error names its row -------------------------------------------------


@pytest.mark.parametrize(
    ("row", "fragments"),
    [
        ({"food": "99999", "amount": 1, "unit": "g"}, ["no food", "99999"]),
        ({"food": "xyzzyqq", "amount": 1, "unit": "g"}, ["no food matches", "xyzzyqq"]),
        ({"food": SPINACH_RAW, "amount": -5, "unit": "g"}, ["amount", "negative"]),
        ({"food": SPINACH_RAW, "amount": "abc", "unit": "g"}, ["amount", "'abc'", "not a number"]),
        ({"food": SPINACH_RAW, "amount": "nan", "unit": "g"}, ["amount", "finite"]),
        ({"food": SPINACH_RAW, "amount": "inf", "unit": "g"}, ["amount", "finite"]),
        ({"food": SPINACH_RAW, "amount": 50, "unit": "kg"}, ["not plausible"]),
        ({"food": SPINACH_RAW, "amount": "", "unit": "g"}, ["needs an amount and a unit"]),
        ({"food": SPINACH_RAW, "amount": 100, "unit": ""}, ["needs an amount and a unit"]),
        ({"food": SPINACH_RAW, "amount": 1, "unit": "furlong"}, ["no portion 'furlong'", "'cup'"]),
        ({"food": "", "amount": 1, "unit": "g"}, ["needs `food`"]),
        ({"supplement": "magnesium unobtainate", "dose_mg": 100}, ["unknown supplement salt"]),
        ({"supplement": "magnesium oxide"}, ["dose_mg", "elemental_mg"]),
        ({"supplement": "magnesium oxide", "elemental_mg": 6000}, ["not plausible"]),
        (
            {"food": "my bar", "amount": 1, "unit": "cup", "magnesium_mg_per_100g": 100},
            ["custom food", "mass unit"],
        ),
        (
            {"food": "my bar", "amount": 50, "unit": "g", "magnesium_mg_per_100g": "lots"},
            ["magnesium_mg_per_100g", "not a number"],
        ),
    ],
)
def test_bad_row_is_rejected_with_its_row_number(
    db: FoodDatabase, knowledge: Knowledge, row: dict[str, Any], fragments: list[str]
) -> None:
    message = error_of([GOOD_ROW, GOOD_ROW, row], db, knowledge)
    assert message.startswith("row 3: "), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_unknown_salt_error_lists_known_salts(db: FoodDatabase, knowledge: Knowledge) -> None:
    message = error_of([{"supplement": "magnesium unobtainate", "dose_mg": 100}], db, knowledge)
    assert "magnesium oxide" in message
    assert "magnesium citrate" in message


def test_fifty_kilograms_of_spinach_is_rejected(db: FoodDatabase, knowledge: Knowledge) -> None:
    message = error_of([{"food": "spinach raw", "amount": 50, "unit": "kg"}], db, knowledge)
    assert message.startswith("row 1: ")
    assert "50,000 g" in message


def test_sanity_limit_boundary(db: FoodDatabase, knowledge: Knowledge) -> None:
    at_limit = {"food": SPINACH_RAW, "amount": MAX_GRAMS_PER_ENTRY, "unit": "g"}
    assert grams_of(at_limit, db, knowledge) == MAX_GRAMS_PER_ENTRY
    over = {"food": SPINACH_RAW, "amount": MAX_GRAMS_PER_ENTRY + 1, "unit": "g"}
    assert error_of([over], db, knowledge).startswith("row 1: ")


def test_first_bad_row_is_reported(db: FoodDatabase, knowledge: Knowledge) -> None:
    rows = [GOOD_ROW, {"food": "99999", "amount": 1, "unit": "g"}, {"food": "", "amount": 1}]
    assert error_of(rows, db, knowledge).startswith("row 2: ")


@pytest.mark.parametrize("dose", ["-4", "abc"])
def test_bad_supplement_dose_names_the_row_once(
    db: FoodDatabase, knowledge: Knowledge, dose: str
) -> None:
    message = error_of([{"supplement": "magnesium oxide", "dose_mg": dose}], db, knowledge)
    assert message.startswith("row 1: dose_mg")
    assert message.count("row 1") == 1


def test_row_with_food_and_supplement_is_not_silently_half_dropped(
    db: FoodDatabase, knowledge: Knowledge
) -> None:
    row = {
        "food": SPINACH_RAW,
        "amount": 100,
        "unit": "g",
        "supplement": "magnesium oxide",
        "dose_mg": 400,
    }
    try:
        log = resolve([row], db, knowledge)
    except FoodLogError as exc:  # rejecting the ambiguous row is acceptable
        assert str(exc).startswith("row 1: ")
        return
    assert len(log.foods) == 1  # or both parts are counted
    assert len(log.supplements) == 1


def test_boolean_amount_is_rejected(db: FoodDatabase, knowledge: Knowledge) -> None:
    error_of([{"food": SPINACH_RAW, "amount": True, "unit": "g"}], db, knowledge)


# --- supplements and custom foods ---------------------------------------------------------


def test_supplement_rows(db: FoodDatabase, knowledge: Knowledge) -> None:
    rows: list[dict[str, Any]] = [
        {"supplement": "magnesium oxide", "dose_mg": 400, "time": "08:00"},
        {"supplement": "magnesium citrate", "dose_mg": "500", "elemental_mg": "80"},
    ]
    log = resolve(rows, db, knowledge)
    assert log.foods == ()
    assert [s.row for s in log.supplements] == [1, 2]
    assert log.supplements[0].elemental_mg == pytest.approx(400 * 0.603)
    assert log.supplements[0].time == "08:00"
    assert log.supplements[1].elemental_mg == 80  # the label's elemental amount wins


def test_custom_food_row(db: FoodDatabase, knowledge: Knowledge) -> None:
    row = {
        "food": "grandma's sesame bar",
        "amount": 2,
        "unit": "oz",
        "magnesium_mg_per_100g": "150",
        "zinc_mg_per_100g": "2",
        "energy_kcal_per_100g": "480",
    }
    log = resolve([row], db, knowledge)
    entry = log.foods[0]
    assert entry.food.ndb_no == "custom:grandma's sesame bar"
    grams = 2 * 28.349523125
    assert entry.grams == pytest.approx(grams)
    result = report(log, knowledge)
    assert result.magnesium_mg == pytest.approx(grams * 1.5)
    assert result.zinc_mg == pytest.approx(grams * 0.02)
    assert result.energy_kcal == pytest.approx(grams * 4.8)
    assert result.calcium_mg == 0  # unknown, not invented
    assert log.warnings == ()  # no search was involved


def test_custom_food_without_magnesium_is_flagged(db: FoodDatabase, knowledge: Knowledge) -> None:
    row = {"food": "mystery stew", "amount": 300, "unit": "g", "energy_kcal_per_100g": 90}
    log = resolve([row], db, knowledge)
    assert len(log.foods) == 1
    assert any("row 1" in w and "no magnesium" in w for w in log.warnings)
    assert report(log, knowledge).magnesium_known_share == 0


# --- formats and nothing dropped --------------------------------------------------------

MIXED_ROWS: list[dict[str, Any]] = [
    {"food": "rice white cooked", "amount": "1", "unit": "cup", "time": "08:00"},
    {"food": SPINACH_RAW, "amount": "60", "unit": "g", "time": "12:30"},
    {"food": "tofu firm", "amount": "100", "unit": "g", "time": "12:30"},
    {"food": ALMONDS, "amount": "1", "unit": "oz", "time": "15:00"},
    {"food": CABBAGE_RAW, "amount": "0.5", "unit": "cup, shredded", "time": "18:00"},
    {"food": "菠菜", "amount": "0.25", "unit": "lb", "time": "18:00"},
    {"food": "milk whole", "amount": "0.25", "unit": "kg", "time": "21:00"},
    {"supplement": "magnesium citrate", "dose_mg": "500", "time": "21:00"},
]
COLUMNS = ["food", "amount", "unit", "time", "supplement", "dose_mg", "elemental_mg"]


def as_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def totals(report_: IntakeReport) -> tuple[float, ...]:
    return (
        report_.magnesium_mg,
        report_.zinc_mg,
        report_.calcium_mg,
        report_.potassium_mg,
        report_.energy_kcal,
        report_.supplemental_magnesium_mg,
        report_.magnesium_known_share,
    )


def test_csv_and_json_logs_give_identical_totals(db: FoodDatabase, knowledge: Knowledge) -> None:
    csv_rows = read_rows(as_csv(MIXED_ROWS), "log.csv")
    json_rows = read_rows(json.dumps(MIXED_ROWS, ensure_ascii=False), "log.json")
    wrapped = read_rows(json.dumps({"entries": MIXED_ROWS}), "log.json")
    # JSON numbers instead of strings must not change anything either.
    typed = [
        {k: (float(v) if k in ("amount", "dose_mg") else v) for k, v in row.items()}
        for row in MIXED_ROWS
    ]
    results = [
        totals(report(resolve(rows, db, knowledge), knowledge))
        for rows in (csv_rows, json_rows, wrapped, typed)
    ]
    assert results[0] == results[1] == results[2] == results[3]
    assert results[0][0] > 0


def test_nothing_is_silently_dropped(db: FoodDatabase, knowledge: Knowledge) -> None:
    no_magnesium = next(f for f in db if f.magnesium_mg_per_100g is None)
    rows = [*MIXED_ROWS, {"food": no_magnesium.ndb_no, "amount": 30, "unit": "g"}]
    log = resolve(rows, db, knowledge)
    assert len(log.foods) + len(log.supplements) == len(rows)
    resolved_rows = sorted([e.row for e in log.foods] + [s.row for s in log.supplements])
    assert resolved_rows == list(range(1, len(rows) + 1))
    # Every name that was searched is reported with what it matched.
    searched = [
        i for i, row in enumerate(rows, 1) if row.get("food") and not str(row["food"]).isdigit()
    ]
    for number in searched:
        assert any(w.startswith(f"row {number}: ") and "matched to" in w for w in log.warnings)
    numbered = [i for i, row in enumerate(rows, 1) if str(row.get("food", "")).isdigit()]
    for number in numbered:
        assert not any(w.startswith(f"row {number}: ") and "matched" in w for w in log.warnings)
    assert any(
        w.startswith(f"row {len(rows)}: ") and "no magnesium value" in w for w in log.warnings
    )


def test_name_match_records_the_food(db: FoodDatabase, knowledge: Knowledge) -> None:
    log = resolve([{"food": "菠菜", "amount": 100, "unit": "g"}], db, knowledge)
    entry = log.foods[0]
    assert entry.matched_from == "菠菜"
    assert entry.food.name_zh == "菠菜"
    assert entry.food.ndb_no in log.warnings[0]


def test_food_numbers_without_leading_zero(db: FoodDatabase, knowledge: Knowledge) -> None:
    log = resolve([{"food": 1077, "amount": 100, "unit": "g"}], db, knowledge)
    assert log.foods[0].food.ndb_no == "01077"
    assert log.warnings == ()


def test_read_rows_errors_name_the_file() -> None:
    with pytest.raises(FoodLogError, match=r"^day\.json: malformed JSON"):
        read_rows('[{"food": ', "day.json")
    with pytest.raises(FoodLogError, match=r"^day\.json: JSON log must be"):
        read_rows('{"entries": 3}', "day.json")
    with pytest.raises(FoodLogError, match=r"^day\.csv: empty log"):
        read_rows("", "day.csv")


def test_header_only_csv_is_an_empty_day(db: FoodDatabase, knowledge: Knowledge) -> None:
    log = resolve(read_rows("food,amount,unit\n", "day.csv"), db, knowledge)
    result = report(log, knowledge)
    assert (result.magnesium_mg, result.magnesium_known_share, result.mg_zn_ratio) == (0, 1, None)


def test_time_is_kept(db: FoodDatabase, knowledge: Knowledge) -> None:
    log = resolve([{**GOOD_ROW, "time": " 07:45 "}], db, knowledge)
    assert log.foods[0].time == "07:45"
    assert log.foods[0].food is db.get(SPINACH_RAW)
