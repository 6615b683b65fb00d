"""Food suggestions that close a magnesium gap at the least added energy.

A small mixed-integer programme solved by HiGHS (scipy.optimize.milp): choose at most
`max_foods` foods, each between half and two of its household servings, at most `max_per_group`
from one food group, so that their Mg reaches the gap while adding the fewest kilocalories.
The candidate pool (arrays) is built once per food table and reused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import numpy as np

from mgcare.diet.foods import Food, FoodDatabase
from mgcare.knowledge.pack import tokens

MIN_SERVINGS = 0.5
MAX_SERVINGS = 2.0
"""Serving-size bounds of a suggested food, in household servings (a usability choice)."""
SUGGESTED_GROUPS = frozenset({"0800", "0900", "1100", "1200", "1600", "2000"})
"""The review's Mg-rich foods (section 3.1: green leafy vegetables, nuts, whole grains, legumes),
plus breakfast cereals and fruit: SR28 groups 1100, 1200, 2000, 1600, 0800, 0900."""
NOT_FOOD_WORDS = frozenset(
    {
        "sauce",
        "water",
        "juice",
        "beverage",
        "beverages",
        "drink",
        "flour",
        "powder",
        "protein",
        "isolate",
    }
)
"""Drinks and ingredients are not suggested as foods to eat."""
MAX_SHARE_PER_FOOD = 0.4
"""Variety: no single food supplies more than this share of a large gap (so at least three foods)."""
SMALL_GAP_SHARE_FLOOR_MG = 60.0
"""For small gaps one food may close them: the per-food cap is never below this (a usability choice)."""
MIN_GRAMS_PER_FOOD = 20.0
"""A suggested food is eaten in at least this amount: no single leaves or pinches."""
CHOICE_COST_KCAL = 1.0
"""A small cost per chosen food, so that foods adding almost nothing are never picked."""


class PlanError(ValueError):
    """The request cannot be planned (unknown exclusion, bad limits)."""


@dataclass(frozen=True, slots=True)
class Exclusion:
    id: str
    name_en: str
    name_zh: str
    groups: frozenset[str]
    words: frozenset[str]


@cache
def exclusions() -> dict[str, Exclusion]:
    raw = tomllib.loads(files("mgcare.diet").joinpath("data", "exclusions.toml").read_text("utf-8"))
    return {
        key: Exclusion(
            key,
            value["name_en"],
            value["name_zh"],
            frozenset(value["groups"]),
            frozenset(value["words"]),
        )
        for key, value in raw.items()
    }


@dataclass(frozen=True, slots=True)
class Suggestion:
    food: Food
    grams: float
    servings: float
    serving_description: str
    magnesium_mg: float
    energy_kcal: float


@dataclass(frozen=True, slots=True)
class Plan:
    gap_mg: float
    suggestions: tuple[Suggestion, ...]
    magnesium_mg: float
    energy_kcal: float
    closes_gap: bool


@dataclass(frozen=True)
class _Pool:
    foods: tuple[Food, ...]
    serving_grams: np.ndarray
    serving_text: tuple[str, ...]
    magnesium_per_g: np.ndarray
    energy_per_g: np.ndarray
    groups: tuple[str, ...]
    words: tuple[frozenset[str], ...]
    common: np.ndarray


def _serving(food: Food) -> tuple[float, str] | None:
    if not food.portions:
        return None
    portion = next((p for p in food.portions if p.amount == 1), food.portions[0])
    if portion.grams_per_unit <= 0:
        return None
    return portion.grams_per_unit, f"1 {portion.description}"


@cache
def _pool(db: FoodDatabase) -> _Pool:
    """Foods that can be suggested: Mg and energy known, a household serving, an everyday group."""
    chosen: list[tuple[Food, float, str]] = []
    for food in db:
        if food.group.code not in SUGGESTED_GROUPS or NOT_FOOD_WORDS & set(tokens(food.name_en)):
            continue
        if not food.magnesium_mg_per_100g or food.energy_kcal_per_100g is None:
            continue
        serving = _serving(food)
        if serving is None or MAX_SERVINGS * serving[0] < MIN_GRAMS_PER_FOOD:
            continue
        chosen.append((food, *serving))
    return _Pool(
        foods=tuple(f for f, _, _ in chosen),
        serving_grams=np.array([g for _, g, _ in chosen]),
        serving_text=tuple(t for _, _, t in chosen),
        magnesium_per_g=np.array([(f.magnesium_mg_per_100g or 0.0) / 100 for f, _, _ in chosen]),
        energy_per_g=np.array([(f.energy_kcal_per_100g or 0.0) / 100 for f, _, _ in chosen]),
        groups=tuple(f.group.code for f, _, _ in chosen),
        words=tuple(frozenset(tokens(f.name_en)) for f, _, _ in chosen),
        common=np.array([f.name_zh is not None for f, _, _ in chosen]),
    )


def _candidate_mask(
    pool: _Pool, excluded: Sequence[str], common_only: bool, exclude_foods: Sequence[str]
) -> np.ndarray:
    table = exclusions()
    unknown = [e for e in excluded if e not in table]
    if unknown:
        raise PlanError(f"unknown exclusion {unknown[0]!r} (known: {', '.join(sorted(table))})")
    mask = pool.common.copy() if common_only else np.ones(len(pool.foods), dtype=bool)
    skip_ids = set(exclude_foods)
    for index, food in enumerate(pool.foods):
        if not mask[index]:
            continue
        if food.ndb_no in skip_ids:
            mask[index] = False
            continue
        for key in excluded:
            rule = table[key]
            if pool.groups[index] in rule.groups or pool.words[index] & rule.words:
                mask[index] = False
                break
    return mask


def plan_foods(
    db: FoodDatabase,
    gap_mg: float,
    *,
    exclude: Sequence[str] = (),
    common_only: bool = True,
    max_foods: int = 4,
    max_per_group: int = 2,
    exclude_foods: Sequence[str] = (),
) -> Plan:
    """Foods adding at least `gap_mg` of Mg with the least energy (or the most Mg possible
    when the gap cannot be closed within the limits). `common_only` keeps to everyday foods
    (those with curated Chinese names, which are the common foods of both cuisines)."""
    if max_foods < 1 or max_per_group < 1:
        raise PlanError("max_foods and max_per_group must be at least 1")
    if gap_mg <= 0:
        return Plan(0.0, (), 0.0, 0.0, True)
    from scipy.optimize import Bounds, LinearConstraint, milp

    pool = _pool(db)
    indices = np.flatnonzero(_candidate_mask(pool, exclude, common_only, exclude_foods))
    if len(indices) == 0:
        return Plan(gap_mg, (), 0.0, 0.0, False)
    count = len(indices)
    serving = pool.serving_grams[indices]
    magnesium = pool.magnesium_per_g[indices]
    energy = pool.energy_per_g[indices]
    # Variables: grams x (count), then choice z (count, binary).
    identity = np.eye(count)
    minimum = np.maximum(MIN_SERVINGS * serving, MIN_GRAMS_PER_FOOD)
    link_low = np.hstack([identity, -np.diag(minimum)])  # x - min z >= 0
    link_high = np.hstack([identity, -np.diag(MAX_SERVINGS * serving)])  # x - 2 s z <= 0
    choose = np.hstack([np.zeros(count), np.ones(count)])
    group_codes = sorted({pool.groups[i] for i in indices})
    per_group = np.array(
        [
            [0.0] * count + [1.0 if pool.groups[i] == g else 0.0 for i in indices]
            for g in group_codes
        ]
    )
    reach = np.hstack([magnesium, np.zeros(count)])
    share_cap = np.hstack([np.diag(magnesium), np.zeros((count, count))])
    constraints = [
        LinearConstraint(link_low, 0, np.inf),
        LinearConstraint(link_high, -np.inf, 0),
        LinearConstraint(choose, 0, max_foods),
        LinearConstraint(per_group, 0, max_per_group),
        LinearConstraint(share_cap, 0, max(MAX_SHARE_PER_FOOD * gap_mg, SMALL_GAP_SHARE_FLOOR_MG)),
    ]
    integrality = np.hstack([np.zeros(count), np.ones(count)])
    bounds = Bounds(np.zeros(2 * count), np.hstack([MAX_SERVINGS * serving, np.ones(count)]))
    result = milp(
        c=np.hstack([energy, np.full(count, CHOICE_COST_KCAL)]),
        constraints=[*constraints, LinearConstraint(reach, gap_mg, np.inf)],
        integrality=integrality,
        bounds=bounds,
    )
    closes = result.status == 0
    if not closes:
        result = milp(c=-reach, constraints=constraints, integrality=integrality, bounds=bounds)
    grams = np.asarray(result.x[:count]) if result.x is not None else np.zeros(count)
    suggestions = []
    for position in np.flatnonzero(grams > 1e-6):
        food_index = int(indices[position])
        amount = float(grams[position])
        suggestions.append(
            Suggestion(
                food=pool.foods[food_index],
                grams=round(amount, 1),
                servings=round(amount / float(pool.serving_grams[food_index]), 2),
                serving_description=pool.serving_text[food_index],
                magnesium_mg=round(amount * float(pool.magnesium_per_g[food_index]), 1),
                energy_kcal=round(amount * float(pool.energy_per_g[food_index]), 1),
            )
        )
    suggestions.sort(key=lambda s: -s.magnesium_mg)
    return Plan(
        gap_mg=gap_mg,
        suggestions=tuple(suggestions),
        magnesium_mg=round(sum(s.magnesium_mg for s in suggestions), 1),
        energy_kcal=round(sum(s.energy_kcal for s in suggestions), 1),
        closes_gap=closes,
    )
