"""Food search: ranking, typos, Chinese without spaces, NDB numbers, index built once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgcare.diet import search as search_module
from mgcare.diet.foods import Food, FoodDatabase, load_food_database
from mgcare.diet.search import SearchHit, bounded_edit_distance, search_foods, singular


@pytest.fixture(scope="module")
def db() -> FoodDatabase:
    return load_food_database()


def top(db: FoodDatabase, query: str, limit: int = 10, lang: str | None = None) -> list[Food]:
    return [hit.food for hit in search_foods(db, query, limit=limit, lang=lang)]  # type: ignore[arg-type]


def numbers(foods: list[Food]) -> list[str]:
    return [food.ndb_no for food in foods]


CURATED_FOODS = [food for food in load_food_database() if food.name_zh is not None]
SAMPLE_FOODS = list(load_food_database())[::7]


# --- English ----------------------------------------------------------------------------


def test_typo_spinich_boiled_finds_boiled_spinach(db: FoodDatabase) -> None:
    first = top(db, "spinich boiled")[0]
    assert first.name_en.startswith("Spinach, cooked, boiled")


def test_typo_almnds_finds_almonds_first(db: FoodDatabase) -> None:
    assert top(db, "almnds")[0].name_en == "Nuts, almonds"


@pytest.mark.parametrize("query", ["brown rice cooked", "cooked brown rice", "rice brown cooked"])
def test_words_match_in_any_order(db: FoodDatabase, query: str) -> None:
    first = top(db, query)[0]
    assert first.name_en.startswith("Rice, brown")
    assert "cooked" in first.name_en


@pytest.mark.parametrize(
    ("query", "expected_name"),
    [
        ("spinach", "Spinach, raw"),
        ("banana", "Bananas, raw"),
        ("almonds", "Nuts, almonds"),
        ("chia", "Seeds, chia seeds, dried"),
        ("watermelon", "Watermelon, raw"),
    ],
)
def test_short_generic_food_ranks_first(db: FoodDatabase, query: str, expected_name: str) -> None:
    assert top(db, query)[0].name_en == expected_name


@pytest.mark.parametrize(
    ("query", "expected_start"),
    [
        ("brocoli", "Broccoli"),
        ("bananna", "Bananas"),
        ("salmn", "Fish, salmon"),
        ("yoghurt plain", "Yogurt"),
        ("pumpkn seeds roasted", "Seeds, pumpkin"),
        ("cheddar chese", "Cheese, cheddar"),
    ],
)
def test_typos_are_tolerated(db: FoodDatabase, query: str, expected_start: str) -> None:
    assert top(db, query)[0].name_en.startswith(expected_start)


@pytest.mark.parametrize(
    ("query", "expected_word"),
    [("soy milk", "Soymilk"), ("chick peas", "Chickpeas"), ("water melon", "Watermelon")],
)
def test_split_compounds_match_the_joined_word(
    db: FoodDatabase, query: str, expected_word: str
) -> None:
    assert top(db, query)[0].name_en.startswith(expected_word)


def test_half_typed_word_matches_by_prefix(db: FoodDatabase) -> None:
    assert any(food.name_en.startswith("Broccoli") for food in top(db, "brocc", limit=5))


@pytest.mark.parametrize(
    ("typed", "expected_word"),
    [("spin", "Spinach"), ("almo", "Nuts, almonds"), ("pumpk", "Pumpkin"), ("len", "Lentils")],
)
def test_search_as_you_type_completes_to_the_common_food(
    db: FoodDatabase, typed: str, expected_word: str
) -> None:
    """The web form searches on every keystroke: a half-typed word continues as the word many
    foods share (spinach, not spiny lobster) and beats look-alikes (almonds, not FAMOUS AMOS)."""
    assert top(db, typed)[0].name_en.startswith(expected_word)


def test_common_names_are_searched(db: FoodDatabase) -> None:
    assert top(db, "bok choy")[0].ndb_no == "11116"
    assert top(db, "garbanzo")[0].name_en.startswith("Chickpeas")


def test_branded_products_rank_after_generic_foods(db: FoodDatabase) -> None:
    first = top(db, "chicken breast roasted")[0]
    assert first.name_en.startswith("Chicken, broilers or fryers, breast")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SAMPLE_FOODS))
def test_full_english_description_finds_its_food(food: Food) -> None:
    assert food.ndb_no in numbers(top(load_food_database(), food.name_en))


# --- Chinese ----------------------------------------------------------------------------


def test_tofu_query_returns_tofu_first(db: FoodDatabase) -> None:
    hits = top(db, "豆腐", limit=5)
    assert hits[0].name_zh == "豆腐"
    assert all("豆腐" in (food.name_zh or "") for food in hits)


def test_cooked_brown_rice_without_spaces(db: FoodDatabase) -> None:
    hits = top(db, "糙米饭", limit=2)
    assert all(food.name_en.startswith("Rice, brown") for food in hits)
    assert all("cooked" in food.name_en for food in hits)


def test_spinach_in_chinese_raw_before_cooked(db: FoodDatabase) -> None:
    assert numbers(top(db, "菠菜", limit=2)) == ["11457", "11458"]


def test_mifan_is_cooked_and_dami_is_raw(db: FoodDatabase) -> None:
    assert "cooked" in top(db, "米饭")[0].name_en
    assert "raw" in top(db, "大米")[0].name_en


@pytest.mark.parametrize(
    ("alias", "expected_ndb_no"),
    [("西蓝花", "11090"), ("马铃薯", "11352"), ("番茄", "11529"), ("蕹菜", "11503")],
)
def test_aliases_are_searched(db: FoodDatabase, alias: str, expected_ndb_no: str) -> None:
    assert top(db, alias)[0].ndb_no == expected_ndb_no


def test_spaces_and_punctuation_are_ignored_in_chinese(db: FoodDatabase) -> None:
    assert top(db, " 鸡 胸肉 ")[0].ndb_no == top(db, "鸡胸肉")[0].ndb_no


def test_partial_chinese_name_matches_by_bigram(db: FoodDatabase) -> None:
    # "糙米饭（长粒）" shares the bigrams of "长粒糙米".
    assert "20037" in numbers(top(db, "长粒糙米饭"))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(CURATED_FOODS))
def test_every_chinese_name_finds_its_food_first(food: Food) -> None:
    assert top(load_food_database(), food.name_zh or "")[0].ndb_no == food.ndb_no


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([(food, alias) for food in CURATED_FOODS for alias in food.aliases_zh]))
def test_every_alias_finds_its_food(food_and_alias: tuple[Food, str]) -> None:
    food, alias = food_and_alias
    assert food.ndb_no in numbers(top(load_food_database(), alias))


# --- NDB numbers, options and invariants ------------------------------------------------


def test_ndb_number_finds_the_food_first(db: FoodDatabase) -> None:
    assert top(db, "12061")[0].ndb_no == "12061"
    assert top(db, "1077")[0].ndb_no == "01077"


def test_lang_restricts_the_search(db: FoodDatabase) -> None:
    assert top(db, "spinach", lang="zh") == []
    assert top(db, "菠菜", lang="en") == []
    assert top(db, "菠菜", lang="zh")[0].ndb_no == "11457"
    with pytest.raises(ValueError, match="lang"):
        search_foods(db, "spinach", lang="fr")  # type: ignore[arg-type]


def test_limit_and_empty_queries(db: FoodDatabase) -> None:
    assert len(search_foods(db, "cheese", limit=3)) == 3
    assert search_foods(db, "cheese", limit=0) == []
    assert search_foods(db, "   ") == []
    assert search_foods(db, "zzqxj") == []


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=30), st.integers(min_value=1, max_value=20))
def test_any_text_gives_ranked_hits_within_limit(query: str, limit: int) -> None:
    hits = search_foods(load_food_database(), query, limit=limit)
    assert len(hits) <= limit
    assert all(isinstance(hit, SearchHit) for hit in hits)
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({hit.food.ndb_no for hit in hits}) == len(hits)


@given(st.text(alphabet="abcdefghij", max_size=8), st.text(alphabet="abcdefghij", max_size=8))
def test_bounded_edit_distance_is_symmetric_and_capped(left: str, right: str) -> None:
    distance = bounded_edit_distance(left, right, 2)
    assert distance == bounded_edit_distance(right, left, 2)
    assert 0 <= distance <= 3
    assert (distance == 0) == (left == right)


@pytest.mark.parametrize(
    ("word", "expected"),
    [("almonds", "almond"), ("berries", "berry"), ("potatoes", "potato"), ("hummus", "hummus")],
)
def test_singular(word: str, expected: str) -> None:
    assert singular(word) == expected


def test_the_index_is_built_once_per_database_not_per_query(
    db: FoodDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Speed itself is measured in bench/bench_diet.py; here: no index work on the query path.
    search_foods(db, "warm up")
    built: list[FoodDatabase] = []
    original = search_module._SearchIndex.__init__

    def counting(self: object, database: FoodDatabase) -> None:
        built.append(database)
        original(self, database)  # type: ignore[arg-type]

    monkeypatch.setattr(search_module._SearchIndex, "__init__", counting)
    for query in ["spinich boiled", "brown rice cooked", "豆腐", "糙米饭", "12061", "raw"]:
        assert search_foods(db, query)
    assert built == []
