"""Food plans: reach the gap, respect serving, group and variety limits, honour exclusions, and
add the least energy (checked against an independent brute force on a small candidate set)."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence

import pytest

from mgcare.diet.foods import Food, FoodDatabase, load_food_database
from mgcare.diet.plan import (
    CHOICE_COST_KCAL,
    MAX_SERVINGS,
    MAX_SHARE_PER_FOOD,
    MIN_GRAMS_PER_FOOD,
    MIN_SERVINGS,
    SMALL_GAP_SHARE_FLOOR_MG,
    Plan,
    PlanError,
    Suggestion,
    exclusions,
    plan_foods,
)
from mgcare.knowledge.pack import tokens

GRAMS_TOL = 0.06  # suggestions are rounded to 0.1 g
MG_TOL = 0.5


@pytest.fixture(scope="module")
def db() -> FoodDatabase:
    return load_food_database()


def serving_grams(suggestion: Suggestion) -> float:
    """Weight of the household serving the suggestion is expressed in, from the food table."""
    description = suggestion.serving_description.removeprefix("1 ")
    return suggestion.food.find_portion(description).grams_per_unit


def share_cap(gap: float) -> float:
    return max(MAX_SHARE_PER_FOOD * gap, SMALL_GAP_SHARE_FLOOR_MG)


def assert_within_limits(plan: Plan, max_foods: int = 4, max_per_group: int = 2) -> None:
    assert len(plan.suggestions) <= max_foods
    assert len({s.food.ndb_no for s in plan.suggestions}) == len(plan.suggestions)
    groups = Counter(s.food.group.code for s in plan.suggestions)
    assert max(groups.values(), default=0) <= max_per_group, groups
    for s in plan.suggestions:
        serving = serving_grams(s)
        low = max(MIN_SERVINGS * serving, MIN_GRAMS_PER_FOOD)
        assert low - GRAMS_TOL <= s.grams <= MAX_SERVINGS * serving + GRAMS_TOL, s
        assert s.servings == pytest.approx(s.grams / serving, abs=0.01)
        assert s.food.magnesium_mg_per_100g is not None
        assert s.food.energy_kcal_per_100g is not None
        assert s.magnesium_mg == pytest.approx(
            s.grams * s.food.magnesium_mg_per_100g / 100, abs=0.2
        )
        assert s.energy_kcal == pytest.approx(s.grams * s.food.energy_kcal_per_100g / 100, abs=0.2)
        assert s.magnesium_mg <= share_cap(plan.gap_mg) + MG_TOL, s
    assert plan.magnesium_mg == pytest.approx(
        sum(s.magnesium_mg for s in plan.suggestions), abs=0.1
    )
    assert plan.energy_kcal == pytest.approx(sum(s.energy_kcal for s in plan.suggestions), abs=0.1)
    magnesium = [s.magnesium_mg for s in plan.suggestions]
    assert magnesium == sorted(magnesium, reverse=True)


@pytest.mark.parametrize("gap", [25.0, 60.0, 145.5, 220.0, 320.0, 420.0])
def test_plan_reaches_the_gap(db: FoodDatabase, gap: float) -> None:
    plan = plan_foods(db, gap)
    assert plan.closes_gap
    assert plan.gap_mg == gap
    assert plan.magnesium_mg >= gap - MG_TOL
    assert plan.suggestions
    assert_within_limits(plan)


def test_large_gap_needs_at_least_three_foods(db: FoodDatabase) -> None:
    """Variety: no food supplies more than 40 % of a large gap."""
    plan = plan_foods(db, 400)
    assert len(plan.suggestions) >= 3
    assert all(s.magnesium_mg <= 0.4 * 400 + MG_TOL for s in plan.suggestions)


@pytest.mark.parametrize(("max_foods", "max_per_group"), [(3, 1), (4, 1), (2, 2), (6, 3)])
def test_custom_limits(db: FoodDatabase, max_foods: int, max_per_group: int) -> None:
    plan = plan_foods(db, 300, max_foods=max_foods, max_per_group=max_per_group)
    assert_within_limits(plan, max_foods, max_per_group)
    if plan.closes_gap:
        assert plan.magnesium_mg >= 300 - MG_TOL


def test_unreachable_gap_gives_the_most_magnesium_within_limits(db: FoodDatabase) -> None:
    plan = plan_foods(db, 100_000)
    assert not plan.closes_gap
    assert 0 < plan.magnesium_mg < 100_000
    assert_within_limits(plan)
    assert len(plan.suggestions) == 4  # every allowed food is used to get as close as possible


@pytest.mark.parametrize("gap", [0.0, -0.001, -150.0])
def test_no_gap_gives_an_empty_plan(db: FoodDatabase, gap: float) -> None:
    plan = plan_foods(db, gap)
    assert plan.suggestions == ()
    assert plan.closes_gap
    assert (plan.magnesium_mg, plan.energy_kcal) == (0, 0)


def test_unknown_exclusion_raises(db: FoodDatabase) -> None:
    with pytest.raises(PlanError, match="unknown exclusion 'peanut butter'") as caught:
        plan_foods(db, 100, exclude=("nuts", "peanut butter"))
    for known in ("nuts", "dairy", "soy", "fish"):
        assert known in str(caught.value)


@pytest.mark.parametrize(("max_foods", "max_per_group"), [(0, 2), (4, 0)])
def test_bad_limits_raise(db: FoodDatabase, max_foods: int, max_per_group: int) -> None:
    with pytest.raises(PlanError):
        plan_foods(db, 100, max_foods=max_foods, max_per_group=max_per_group)


# --- exclusions -----------------------------------------------------------------------

# Independent signs of each excluded kind of food, beyond the exclusion table's own words:
# (SR28 groups, English word patterns, Chinese substrings).
EXTRA_SIGNS: dict[str, tuple[frozenset[str], str, tuple[str, ...]]] = {
    "nuts": (
        frozenset(),
        r"\b(nuts?|peanuts?|almonds?|cashews?|walnuts?|pecans?|pistachios?)\b",
        ("花生", "核桃", "腰果", "扁桃仁", "榛子", "开心果"),
    ),
    "dairy": (frozenset({"0100"}), r"\b(milk|cheese|yogurt|whey)\b", ("牛奶", "奶酪", "酸奶")),
    "soy": (
        frozenset(),
        r"\b(soy\w*|tofu|edamame|okara|natto|tempeh|miso)\b",
        ("豆腐", "豆浆", "大豆", "黄豆", "毛豆", "豆渣"),
    ),
    "fish": (frozenset({"1500"}), r"\b(fish|salmon|tuna|cod|shrimp)\b", ("鱼", "虾")),
}


def violates(food: Food, key: str) -> bool:
    rule = exclusions()[key]
    if food.group.code in rule.groups or rule.words & set(tokens(food.name_en)):
        return True
    groups, english, chinese = EXTRA_SIGNS[key]
    return (
        food.group.code in groups
        or re.search(english, food.name_en.lower()) is not None
        or any(word in (food.name_zh or "") for word in chinese)
    )


def test_independent_signs_recognise_their_foods(db: FoodDatabase) -> None:
    """The checks below are not vacuous: they flag the obvious members of each kind."""
    for key, ndb in [("nuts", "12061"), ("dairy", "01077"), ("soy", "16427"), ("soy", "16130")]:
        assert violates(db.get(ndb), key), (key, ndb)
    assert not violates(db.get("11588"), "nuts")  # water chestnuts are not nuts


@pytest.mark.parametrize(
    "exclude",
    [
        ("nuts",),
        ("dairy",),
        ("soy",),
        ("fish",),
        ("nuts", "dairy", "soy", "fish"),
        ("nuts", "seeds"),
    ],
)
@pytest.mark.parametrize("common_only", [True, False])
def test_exclusions_never_appear(
    db: FoodDatabase, exclude: tuple[str, ...], common_only: bool
) -> None:
    for gap in (80.0, 350.0):
        plan = plan_foods(db, gap, exclude=exclude, common_only=common_only)
        assert plan.closes_gap
        assert_within_limits(plan)
        for suggestion in plan.suggestions:
            for key in exclude:
                if key in EXTRA_SIGNS:
                    assert not violates(suggestion.food, key), (key, suggestion.food.name_en)


def test_nuts_are_suggested_unless_excluded(db: FoodDatabase) -> None:
    """The exclusion test is not vacuous: some plan uses nuts or seeds when allowed."""
    names = [s.food.name_en for gap in (200.0, 420.0) for s in plan_foods(db, gap).suggestions]
    assert any(name.startswith(("Nuts", "Seeds", "Peanut")) for name in names), names


def test_excluded_foods_by_number(db: FoodDatabase) -> None:
    first = plan_foods(db, 200)
    skipped = [s.food.ndb_no for s in first.suggestions]
    second = plan_foods(db, 200, exclude_foods=skipped)
    assert second.closes_gap
    assert not {s.food.ndb_no for s in second.suggestions} & set(skipped)
    assert second.energy_kcal >= first.energy_kcal - 0.5  # fewer choices never cost less


def test_soy_exclusion_covers_okara(db: FoodDatabase) -> None:
    okara = db.get("16130")
    assert okara.name_en == "Okara"
    everything_else = [f.ndb_no for f in db if f.ndb_no != okara.ndb_no]
    allowed = plan_foods(db, 20, exclude_foods=everything_else)
    assert [s.food.ndb_no for s in allowed.suggestions] == [okara.ndb_no]  # Okara is plannable
    soy_free = plan_foods(db, 20, exclude=("soy",), exclude_foods=everything_else)
    assert soy_free.suggestions == ()


# --- common foods ---------------------------------------------------------------------


@pytest.mark.parametrize("gap", [100.0, 300.0])
def test_common_only_suggests_foods_with_chinese_names(db: FoodDatabase, gap: float) -> None:
    plan = plan_foods(db, gap, common_only=True)
    assert plan.suggestions
    assert all(s.food.name_zh is not None for s in plan.suggestions)


def test_all_foods_is_never_worse_than_common_only(db: FoodDatabase) -> None:
    """A larger candidate set cannot need more energy for the same gap."""
    for gap in (150.0, 400.0):
        common = plan_foods(db, gap, common_only=True)
        every = plan_foods(db, gap, common_only=False)
        assert every.closes_gap
        assert every.energy_kcal + len(every.suggestions) * CHOICE_COST_KCAL <= (
            common.energy_kcal + len(common.suggestions) * CHOICE_COST_KCAL + 0.5
        )
        assert_within_limits(every)


def test_exclusions_never_make_a_plan_cheaper(db: FoodDatabase) -> None:
    free = plan_foods(db, 300)
    for exclude in (("nuts",), ("nuts", "seeds", "soy")):
        restricted = plan_foods(db, 300, exclude=exclude)
        assert restricted.energy_kcal >= free.energy_kcal - 0.5


# --- least energy ---------------------------------------------------------------------


def objective(plan: Plan) -> float:
    return plan.energy_kcal + CHOICE_COST_KCAL * len(plan.suggestions)


def greedy_energy(foods: Sequence[tuple[float, float, float, float]], gap: float) -> float | None:
    """Least energy using every one of `foods` = (Mg/g, kcal/g, low g, high g) at least at its low
    bound: start at the lows, then fill by kcal per mg (optimal for a fixed set). None if the
    set cannot reach the gap within its highs."""
    if any(low > high + 1e-9 for _, _, low, high in foods):
        return None
    energy = sum(kcal * low for _, kcal, low, _ in foods)
    need = gap - sum(mg * low for mg, _, low, _ in foods)
    for mg, kcal, low, high in sorted(foods, key=lambda f: f[1] / f[0]):
        if need <= 0:
            break
        extra = min(high - low, need / mg)
        energy += kcal * extra
        need -= mg * extra
    return energy if need <= 1e-6 else None


def bounds_of(suggestion: Suggestion, gap: float) -> tuple[float, float, float, float]:
    food = suggestion.food
    assert food.magnesium_mg_per_100g is not None and food.energy_kcal_per_100g is not None
    mg, kcal = food.magnesium_mg_per_100g / 100, food.energy_kcal_per_100g / 100
    serving = serving_grams(suggestion)
    low = max(MIN_SERVINGS * serving, MIN_GRAMS_PER_FOOD)
    high = min(MAX_SERVINGS * serving, share_cap(gap) / mg)
    return mg, kcal, low, high


@pytest.mark.parametrize(("gap", "exclude"), [(200.0, ()), (300.0, ("nuts",)), (90.0, ("soy",))])
def test_energy_is_no_higher_than_greedy_on_the_same_foods(
    db: FoodDatabase, gap: float, exclude: tuple[str, ...]
) -> None:
    plan = plan_foods(db, gap, exclude=exclude)
    foods = [bounds_of(s, gap) for s in plan.suggestions]
    greedy = greedy_energy(foods, gap)
    assert greedy is not None
    assert plan.energy_kcal <= greedy + 0.5


def test_no_suggested_food_can_be_dropped_for_less_energy(db: FoodDatabase) -> None:
    """Perturbation: removing any one suggested food never meets the gap at lower energy."""
    gap = 250.0
    plan = plan_foods(db, gap)
    foods = [bounds_of(s, gap) for s in plan.suggestions]
    for index in range(len(foods)):
        rest = foods[:index] + foods[index + 1 :]
        energy = greedy_energy(rest, gap)
        if energy is not None:
            assert energy + CHOICE_COST_KCAL * len(rest) >= objective(plan) - 0.5


def test_plan_is_optimal_on_a_small_candidate_set(db: FoodDatabase) -> None:
    """Restrict the candidates (via exclude_foods) to foods the planner has suggested somewhere,
    then compare with a brute force over every subset of at most 4 foods, 2 per group."""
    candidates: dict[str, Suggestion] = {}
    for gap, exclude in [
        (200.0, ()),
        (300.0, ("nuts",)),
        (120.0, ("nuts", "soy", "dairy", "fish")),
        (400.0, ("nuts", "seeds")),
        (420.0, ("gluten",)),
    ]:
        for s in plan_foods(db, gap, exclude=exclude).suggestions:
            candidates.setdefault(s.food.ndb_no, s)
    assert len(candidates) >= 6
    others = [f.ndb_no for f in db if f.ndb_no not in candidates]
    for gap in (90.0, 260.0, 380.0):
        plan = plan_foods(db, gap, exclude_foods=others)
        assert {s.food.ndb_no for s in plan.suggestions} <= candidates.keys()
        best: float | None = None
        items = list(candidates.values())
        for size in range(1, 5):
            for subset in itertools.combinations(items, size):
                if max(Counter(s.food.group.code for s in subset).values()) > 2:
                    continue
                energy = greedy_energy([bounds_of(s, gap) for s in subset], gap)
                if energy is not None:
                    total = energy + CHOICE_COST_KCAL * size
                    best = total if best is None else min(best, total)
        assert best is not None
        assert plan.closes_gap
        assert objective(plan) == pytest.approx(best, abs=0.5), gap
