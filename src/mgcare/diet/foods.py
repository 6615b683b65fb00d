"""Food composition table: USDA SR28 foods with Mg, Zn, Ca, K, energy and portions.

The data ship inside the package (``data/foods.json.gz``, built by
``scripts/build_foods.py``) so mgcare runs without the raw SR28 release.
Hand-curated Simplified Chinese names come from ``data/food_names_zh.csv``.
All nutrient amounts are per 100 g edible portion; ``None`` means SR28 has no
value (such foods are kept, not dropped, so a missing value is never read as 0).
This module holds data only: no clinical thresholds.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = [
    "Food",
    "FoodDatabase",
    "FoodGroup",
    "Portion",
    "UnknownFoodError",
    "UnknownPortionError",
    "load_food_database",
    "normalize_ndb_no",
]

FOODS_RESOURCE = "foods.json.gz"
CHINESE_NAMES_RESOURCE = "food_names_zh.csv"
SUPPORTED_FORMAT_VERSION = 1
NDB_NO_LENGTH = 5


class UnknownFoodError(ValueError, KeyError):
    """No food has this NDB number (a ``ValueError``; also a ``KeyError`` for mapping-style use)."""

    __str__ = ValueError.__str__  # KeyError would wrap the message in quotes.


class UnknownPortionError(ValueError):
    """The food has no household portion with this description."""


@dataclass(frozen=True, slots=True)
class FoodGroup:
    """SR28 food group, e.g. ``1100`` Vegetables and Vegetable Products."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Portion:
    """SR28 household measure: ``amount`` x ``description`` weighs ``grams``.

    ``description`` is SR28's Msre_Desc verbatim (e.g. ``"cup, chopped"``), so
    ``amount=0.5, description="cup", grams=124`` means half a cup weighs 124 g.
    """

    amount: float
    description: str
    grams: float

    @property
    def grams_per_unit(self) -> float:
        """Weight of one ``description`` unit (SR28 lists some portions as 0.5 or 3 units)."""
        return self.grams / self.amount


@dataclass(frozen=True, slots=True)
class Food:
    """One SR28 food with per-100 g composition and household portions."""

    ndb_no: str
    name_en: str
    name_short: str
    common_names: str
    name_zh: str | None
    aliases_zh: tuple[str, ...]
    group: FoodGroup
    energy_kcal_per_100g: float | None
    magnesium_mg_per_100g: float | None
    zinc_mg_per_100g: float | None
    calcium_mg_per_100g: float | None
    potassium_mg_per_100g: float | None
    portions: tuple[Portion, ...]

    def find_portion(self, description: str) -> Portion:
        """Portion whose description equals ``description`` ignoring case.

        When SR28 lists the same measure twice (e.g. ``0.5 cup`` and ``1 cup``),
        the amount-1 entry wins, then the first in SR28 sequence order.
        """
        wanted = description.strip().casefold()
        matches = [p for p in self.portions if p.description.casefold() == wanted]
        if not matches:
            valid = ", ".join(repr(p.description) for p in self.portions) or "none"
            raise UnknownPortionError(
                f"food {self.ndb_no} ({self.name_en}) has no portion {description!r}; "
                f"valid portions: {valid}"
            )
        return next((p for p in matches if p.amount == 1), matches[0])


def normalize_ndb_no(ndb_no: str | int) -> str:
    """Canonical 5-character NDB number: ``1077`` and ``"1077"`` become ``"01077"``."""
    text = str(ndb_no).strip()
    if text.isdigit() and len(text) < NDB_NO_LENGTH:
        return text.zfill(NDB_NO_LENGTH)
    return text


class FoodDatabase:
    """Immutable, ordered collection of foods keyed by NDB number.

    ``Food`` objects are built from the columnar table on first access and then
    kept, so loading the database costs one JSON parse, not 8,789 constructions.
    """

    def __init__(
        self,
        ndb_numbers: Sequence[str],
        make_food: Callable[[int], Food],
        provenance: Mapping[str, Any],
    ) -> None:
        self._ndb_numbers: tuple[str, ...] = tuple(ndb_numbers)
        self._position: dict[str, int] = {n: i for i, n in enumerate(self._ndb_numbers)}
        if len(self._position) != len(self._ndb_numbers):
            raise ValueError("duplicate NDB numbers in food table")
        self._make_food = make_food
        self._built: list[Food | None] = [None] * len(self._ndb_numbers)
        self.provenance: Mapping[str, Any] = provenance

    @classmethod
    def from_foods(
        cls, foods: Sequence[Food], provenance: Mapping[str, Any] | None = None
    ) -> FoodDatabase:
        """Database over ready-made ``Food`` objects (small fixtures, derived tables)."""
        ready = tuple(foods)
        return cls([food.ndb_no for food in ready], ready.__getitem__, provenance or {})

    def __len__(self) -> int:
        return len(self._ndb_numbers)

    def __iter__(self) -> Iterator[Food]:
        return (self._food_at(index) for index in range(len(self._ndb_numbers)))

    def __contains__(self, ndb_no: object) -> bool:
        if not isinstance(ndb_no, str | int):
            return False
        return normalize_ndb_no(ndb_no) in self._position

    def __repr__(self) -> str:
        return f"FoodDatabase({len(self)} foods)"

    def _food_at(self, index: int) -> Food:
        food = self._built[index]
        if food is None:
            food = self._built[index] = self._make_food(index)
        return food

    def get(self, ndb_no: str | int) -> Food:
        """Food by NDB number; raises ``UnknownFoodError`` if SR28 has no such food."""
        key = normalize_ndb_no(ndb_no)
        index = self._position.get(key)
        if index is None:
            raise UnknownFoodError(f"no food with NDB number {key!r}")
        return self._food_at(index)

    def portion_grams(self, ndb_no: str | int, description: str, amount: float = 1.0) -> float:
        """Grams in ``amount`` units of the portion named ``description`` (case-insensitive).

        Scaling by unit weight lets callers ask for ``0.5`` cup when SR28 lists
        ``1 cup`` (or the reverse). Raises ``UnknownPortionError`` listing the
        food's valid portion descriptions when there is no exact match.
        """
        return self.get(ndb_no).find_portion(description).grams_per_unit * amount


def _parse_aliases(text: str) -> tuple[str, ...]:
    return tuple(alias.strip() for alias in text.split("|") if alias.strip())


def read_chinese_names(csv_text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Parse ``ndb_no,name_zh,aliases_zh`` rows into NDB number -> (name, aliases)."""
    names: dict[str, tuple[str, tuple[str, ...]]] = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        ndb_no = normalize_ndb_no(row["ndb_no"])
        if ndb_no in names:
            raise ValueError(f"{CHINESE_NAMES_RESOURCE}: NDB number {ndb_no} listed twice")
        names[ndb_no] = (row["name_zh"].strip(), _parse_aliases(row.get("aliases_zh") or ""))
    return names


class _ColumnarFoods:
    """Builds one ``Food`` from the columnar payload written by ``scripts/build_foods.py``."""

    def __init__(
        self, payload: Mapping[str, Any], chinese_names: Mapping[str, tuple[str, tuple[str, ...]]]
    ) -> None:
        if payload.get("format_version") != SUPPORTED_FORMAT_VERSION:
            raise ValueError(f"unsupported food table format {payload.get('format_version')!r}")
        self.columns: Mapping[str, list[Any]] = payload["foods"]
        self.portions: Mapping[str, list[Any]] = payload["portions"]
        self.groups = {code: FoodGroup(code, name) for code, name in payload["food_groups"].items()}
        unknown = chinese_names.keys() - set(self.columns["ndb_no"])
        if unknown:
            raise ValueError(f"{CHINESE_NAMES_RESOURCE} has unknown NDB numbers: {sorted(unknown)}")
        self.chinese_names = chinese_names

    def food_at(self, index: int) -> Food:
        columns = self.columns
        ndb_no: str = columns["ndb_no"][index]
        name_zh, aliases_zh = self.chinese_names.get(ndb_no, (None, ()))
        first, end = columns["portion_offsets"][index], columns["portion_offsets"][index + 1]
        amounts, descriptions, grams = (
            self.portions["amount"],
            self.portions["description"],
            self.portions["grams"],
        )
        return Food(
            ndb_no=ndb_no,
            name_en=columns["name_en"][index],
            name_short=columns["name_short"][index],
            common_names=columns["common_names"][index],
            name_zh=name_zh,
            aliases_zh=aliases_zh,
            group=self.groups[columns["group_code"][index]],
            energy_kcal_per_100g=columns["energy_kcal"][index],
            magnesium_mg_per_100g=columns["magnesium_mg"][index],
            zinc_mg_per_100g=columns["zinc_mg"][index],
            calcium_mg_per_100g=columns["calcium_mg"][index],
            potassium_mg_per_100g=columns["potassium_mg"][index],
            portions=tuple(
                Portion(amounts[i], descriptions[i], grams[i]) for i in range(first, end)
            ),
        )


def build_food_database(
    payload: Mapping[str, Any], chinese_names: Mapping[str, tuple[str, tuple[str, ...]]]
) -> FoodDatabase:
    """Database over the columnar payload written by ``scripts/build_foods.py``."""
    table = _ColumnarFoods(payload, chinese_names)
    return FoodDatabase(table.columns["ndb_no"], table.food_at, payload["provenance"])


@cache
def load_food_database() -> FoodDatabase:
    """The shipped SR28 food table with Chinese names; loaded once per process."""
    data_dir = files("mgcare.diet").joinpath("data")
    payload = json.loads(gzip.decompress(data_dir.joinpath(FOODS_RESOURCE).read_bytes()))
    chinese_names = read_chinese_names(
        data_dir.joinpath(CHINESE_NAMES_RESOURCE).read_text(encoding="utf-8")
    )
    return build_food_database(payload, chinese_names)
