"""A day's food log (DESIGN.md section 7): rows of foods, amounts and units, and supplements.

Rows are validated and resolved against the food table before any total is computed, and every
problem is reported with its row number: nothing is silently dropped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mgcare.diet.foods import Food, FoodDatabase, UnknownFoodError, UnknownPortionError
from mgcare.diet.reference import UnknownSupplementError, elemental_magnesium_mg, find_salt
from mgcare.diet.search import search_foods
from mgcare.knowledge import Knowledge

GRAMS_PER_MASS_UNIT: Mapping[str, float] = {
    "g": 1.0,
    "kg": 1000.0,
    "oz": 28.349523125,
    "lb": 453.59237,
}
"""Avoirdupois definitions (exact); household portions come from the food table instead."""

MAX_GRAMS_PER_ENTRY = 5000.0
"""Input sanity limit, not a dietary rule: more than 5 kg of one food in a day is a typing error."""
MAX_ELEMENTAL_MG_PER_SUPPLEMENT = 5000.0
"""Input sanity limit for one supplement row (about 14x the US UL of 350 mg)."""
CUSTOM_COLUMNS = (
    "energy_kcal_per_100g",
    "magnesium_mg_per_100g",
    "zinc_mg_per_100g",
    "calcium_mg_per_100g",
    "potassium_mg_per_100g",
)


class FoodLogError(ValueError):
    """A log row cannot be used; the message names the row."""


@dataclass(frozen=True, slots=True)
class FoodEntry:
    """A resolved food row: the food, its grams, and how the name was matched."""

    row: int
    food: Food
    grams: float
    time: str | None
    matched_from: str | None


@dataclass(frozen=True, slots=True)
class SupplementEntry:
    row: int
    salt_name: str
    elemental_mg: float
    time: str | None


@dataclass(frozen=True, slots=True)
class FoodLog:
    foods: tuple[FoodEntry, ...]
    supplements: tuple[SupplementEntry, ...]
    warnings: tuple[str, ...]


def read_rows(text: str, name: str) -> list[dict[str, Any]]:
    """CSV with a header, or JSON (a list of objects, or {"entries": [...]})."""
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FoodLogError(f"{name}: malformed JSON ({exc.msg} at line {exc.lineno})") from None
        rows = document.get("entries") if isinstance(document, dict) else document
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise FoodLogError(
                f'{name}: JSON log must be a list of objects or {{"entries": [...]}}'
            )
        return rows
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise FoodLogError(f"{name}: empty log")
    return [dict(row) for row in reader]


def _number(value: Any, row: int, column: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise FoodLogError(f"row {row}: {column} {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FoodLogError(f"row {row}: {column} {value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise FoodLogError(f"row {row}: {column} must be a finite number")
    if number < 0:
        raise FoodLogError(f"row {row}: {column} {value!r} must not be negative")
    return number


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _custom_food(row_number: int, name: str, row: Mapping[str, Any]) -> Food | None:
    values = {column: _number(row.get(column), row_number, column) for column in CUSTOM_COLUMNS}
    if all(value is None for value in values.values()):
        return None
    from mgcare.diet.foods import FoodGroup

    return Food(
        ndb_no=f"custom:{name}",
        name_en=name,
        name_short=name,
        common_names="",
        name_zh=None,
        aliases_zh=(),
        group=FoodGroup("custom", "Custom foods"),
        energy_kcal_per_100g=values["energy_kcal_per_100g"],
        magnesium_mg_per_100g=values["magnesium_mg_per_100g"],
        zinc_mg_per_100g=values["zinc_mg_per_100g"],
        calcium_mg_per_100g=values["calcium_mg_per_100g"],
        potassium_mg_per_100g=values["potassium_mg_per_100g"],
        portions=(),
    )


def _resolve_food(row_number: int, query: str, db: FoodDatabase) -> tuple[Food, str | None]:
    if query.isdigit():
        try:
            return db.get(query), None
        except UnknownFoodError:
            raise FoodLogError(f"row {row_number}: no food with number {query!r}") from None
    hits = search_foods(db, query, limit=1)
    if not hits:
        raise FoodLogError(
            f"row {row_number}: no food matches {query!r}; use `mgcare foods search`"
        )
    return hits[0].food, query


def _grams(row_number: int, food: Food, amount: float, unit: str) -> float:
    mass = GRAMS_PER_MASS_UNIT.get(unit.lower())
    if mass is not None:
        return amount * mass
    try:
        return amount * food.find_portion(unit).grams_per_unit
    except UnknownPortionError as exc:
        raise FoodLogError(f"row {row_number}: {exc}") from None


def resolve_log(
    rows: Sequence[Mapping[str, Any]], db: FoodDatabase, knowledge: Knowledge
) -> FoodLog:
    """Resolve every row or raise FoodLogError naming the first bad row (rows count from 1)."""
    foods: list[FoodEntry] = []
    supplements: list[SupplementEntry] = []
    warnings: list[str] = []
    resolved: dict[str, tuple[Food, str | None]] = {}
    for row_number, row in enumerate(rows, start=1):
        time = _text(row.get("time")) or None
        supplement = _text(row.get("supplement"))
        query = _text(row.get("food"))
        if supplement and query:
            raise FoodLogError(
                f"row {row_number}: a row is either a food or a supplement, not both"
            )
        if supplement:
            try:
                find_salt(supplement, knowledge)
                elemental = elemental_magnesium_mg(
                    knowledge,
                    supplement,
                    dose_mg=_number(row.get("dose_mg"), row_number, "dose_mg"),
                    elemental_mg=_number(row.get("elemental_mg"), row_number, "elemental_mg"),
                )
            except FoodLogError:
                raise
            except (UnknownSupplementError, ValueError) as exc:
                raise FoodLogError(f"row {row_number}: {exc}") from None
            if elemental > MAX_ELEMENTAL_MG_PER_SUPPLEMENT:
                raise FoodLogError(
                    f"row {row_number}: {elemental:.0f} mg elemental Mg in one supplement row is not plausible"
                )
            supplements.append(SupplementEntry(row_number, supplement, elemental, time))
            continue
        if not query:
            raise FoodLogError(f"row {row_number}: needs `food` (number or name) or `supplement`")
        amount = _number(row.get("amount"), row_number, "amount")
        unit = _text(row.get("unit"))
        if amount is None or not unit:
            raise FoodLogError(f"row {row_number}: {query!r} needs an amount and a unit")
        custom = _custom_food(row_number, query, row)
        if custom is not None:
            if unit.lower() not in GRAMS_PER_MASS_UNIT:
                raise FoodLogError(
                    f"row {row_number}: custom food {query!r} needs a mass unit (g, kg, oz, lb)"
                )
            food, matched = custom, None
        else:
            if query not in resolved:
                try:
                    resolved[query] = _resolve_food(row_number, query, db)
                except UnknownFoodError as exc:
                    raise FoodLogError(f"row {row_number}: {exc}") from None
            food, matched = resolved[query]
        grams = _grams(row_number, food, amount, unit)
        if grams > MAX_GRAMS_PER_ENTRY:
            raise FoodLogError(
                f"row {row_number}: {grams:,.0f} g of {food.name_en!r} is not plausible for one day"
            )
        if matched is not None:
            warnings.append(
                f"row {row_number}: {matched!r} matched to {food.ndb_no} {food.name_en}"
            )
        if food.magnesium_mg_per_100g is None:
            warnings.append(f"row {row_number}: {food.name_en} has no magnesium value in SR28")
        foods.append(FoodEntry(row_number, food, grams, time, matched))
    return FoodLog(tuple(foods), tuple(supplements), tuple(warnings))


def parse_log(text: str, name: str, db: FoodDatabase, knowledge: Knowledge) -> FoodLog:
    return resolve_log(read_rows(text, name), db, knowledge)
