"""Ranked, typo-tolerant food search in English, Chinese or by NDB number.

Index design (built once per database, on first search):

* English: SR28 descriptions are split into lower-case, singularised tokens and
  stored in an inverted index (token -> foods). Query tokens expand to index
  tokens by exact match, prefix (for half-typed words) and, for unknown words,
  a bounded edit distance computed only on the vocabulary words that share
  character trigrams with the query word. Only the foods in the postings of the
  expanded tokens are scored, so a query never scans all foods.
* Chinese: names and aliases from ``food_names_zh.csv`` are indexed by single
  characters and character bigrams, which matches text typed without spaces.
* A 4-5 digit query that is an NDB number returns that food first.

Ranking prefers foods that match more (and rarer) query words, then short,
generic descriptions ("Spinach, raw" before "Spinach souffle, home-prepared"),
then descriptions whose leading words are the query words.
"""

from __future__ import annotations

import heapq
import math
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from mgcare.diet.foods import Food, FoodDatabase, normalize_ndb_no

__all__ = ["SearchHit", "search_foods"]

Language = Literal["en", "zh"]

_WORD_PATTERN = re.compile(r"[a-z0-9]+")
_CJK_PATTERN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_NDB_PATTERN = re.compile(r"\d{4,5}")
_CHINESE_TEXT_PATTERN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffa-z0-9]+")
_QUALIFIER_PATTERN = re.compile(r"[（(]")

_BRAND_PATTERN = re.compile(r"\b[A-Z][A-Z'&-]{2,}\b")

# Quality of a query-word match, by kind of match (exact word = 1).
_PREFIX_QUALITY = 0.8
_MIN_PREFIX_LENGTH = 3
# A completion's quality mixes how many foods share it with how much of it is typed.
_PREFIX_SHARE_WEIGHT = 0.6
_TYPO_SCALE_WHEN_COMPLETING = 0.7
_TYPO_QUALITY_BY_DISTANCE = {1: 0.7, 2: 0.5}
_MAX_PREFIX_EXPANSIONS = 40
_MAX_TYPO_CANDIDATES = 60
_MAX_CACHED_EXPANSIONS = 20_000
_MAX_QUERY_WORDS = 32  # bounds the work for pasted paragraphs; SR28 names are shorter
# Weight of an English match by where the word occurs: SR28 descriptions lead
# with the food ("Spinach, raw"; "Nuts, almonds"), so early segments count more.
_SEGMENT_WEIGHTS = (1.1, 1.05, 1.0)
_COMMON_NAME_WEIGHT = 0.9
# Candidate bound when no food matches every query word.
_MAX_PARTIAL_CANDIDATES = 1500
# Static ranking modifiers (see _generic_prior).
_WORD_COUNT_PENALTY = 0.05
_CURATED_FOOD_BONUS = 0.06
_SPECIALISED_FOOD_PENALTY = 0.05
# Baby foods, luncheon meats, fast foods, American Indian foods, restaurant foods.
_SPECIALISED_GROUPS = frozenset({"0300", "0700", "2100", "3500", "3600"})
# Bonus when the query words are exactly a leading segment ("rice" -> "Rice, white, ...").
_SEGMENT_MATCH_BONUS = 0.08
_SEGMENTS_FOR_MATCH = 2
_NDB_MATCH_SCORE = 2.0
# Chinese: aliases count slightly less than the curated name.
_ALIAS_WEIGHT = 0.95
_EXACT_ALIAS_SCORE = 0.99


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A food found by ``search_foods`` with its relevance (higher is better)."""

    food: Food
    score: float


def singular(word: str) -> str:
    """Crude English singular so "almonds" finds "almond" and "berries" "berry"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("oes", "ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def english_words(text: str) -> list[str]:
    """Lower-case singular words of ``text``; apostrophes join ("KELLOGG'S" -> "kellogg")."""
    cleaned = text.lower().replace("'", "").replace("\u2019", "")
    return [singular(word) for word in _WORD_PATTERN.findall(cleaned)]


def _trigrams(word: str) -> set[str]:
    padded = f"^{word}$"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def bounded_edit_distance(left: str, right: str, limit: int) -> int:
    """Optimal-string-alignment distance, or ``limit + 1`` once it must exceed ``limit``."""
    if abs(len(left) - len(right)) > limit:
        return limit + 1
    previous_previous: list[int] = []
    previous = list(range(len(right) + 1))
    for i, left_char in enumerate(left, start=1):
        current = [i] + [0] * len(right)
        for j, right_char in enumerate(right, start=1):
            cost = 0 if left_char == right_char else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and left_char == right[j - 2] and left[i - 2] == right_char:
                value = min(value, previous_previous[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous_previous, previous = previous, current
    return min(previous[-1], limit + 1)


def _allowed_typos(word: str) -> int:
    if len(word) < 4:
        return 0
    return 1 if len(word) < 7 else 2


class _EnglishIndex:
    """Inverted index of description words with a trigram index over the vocabulary."""

    def __init__(self, foods: list[Food]) -> None:
        self.postings: dict[str, dict[int, float]] = {}
        self.prior: list[float] = []
        self.segment_foods: dict[frozenset[str], set[int]] = {}
        for index, food in enumerate(foods):
            description_words: set[str] = set()
            for position, segment in enumerate(food.name_en.split(",")):
                weight = _SEGMENT_WEIGHTS[min(position, len(_SEGMENT_WEIGHTS) - 1)]
                for word in english_words(segment):
                    description_words.add(word)
                    weights = self.postings.setdefault(word, {})
                    weights[index] = max(weights.get(index, 0.0), weight)
            for word in english_words(food.common_names):
                weights = self.postings.setdefault(word, {})
                weights[index] = max(weights.get(index, 0.0), _COMMON_NAME_WEIGHT)
            self.prior.append(_generic_prior(food, len(description_words)))
            for segment in food.name_en.split(",")[:_SEGMENTS_FOR_MATCH]:
                key = frozenset(english_words(segment))
                self.segment_foods.setdefault(key, set()).add(index)
        total = len(foods)
        self.idf = {
            word: math.log(1.0 + total / len(weights)) for word, weights in self.postings.items()
        }
        self.vocabulary = sorted(self.postings)
        self.trigram_words: dict[str, list[str]] = {}
        for word in self.vocabulary:
            for trigram in _trigrams(word):
                self.trigram_words.setdefault(trigram, []).append(word)
        self._expansions: dict[str, tuple[tuple[str, float], ...]] = {}

    def expand(self, word: str) -> tuple[tuple[str, float], ...]:
        """Index words that ``word`` may mean, with match quality in (0, 1]; memoised."""
        cached = self._expansions.get(word)
        if cached is None:
            if len(self._expansions) >= _MAX_CACHED_EXPANSIONS:
                self._expansions.clear()
            cached = self._expansions[word] = self._expand(word)
        return cached

    def _expand(self, word: str) -> tuple[tuple[str, float], ...]:
        expansions: dict[str, float] = {}
        if word in self.postings:
            expansions[word] = 1.0
        completions: list[str] = []
        if len(word) >= _MIN_PREFIX_LENGTH:
            start = bisect_left(self.vocabulary, word)
            for candidate in self.vocabulary[start : start + _MAX_PREFIX_EXPANSIONS]:
                if not candidate.startswith(word):
                    break
                if candidate != word:
                    completions.append(candidate)
        if completions:
            # A half-typed word most likely continues as a word many foods share ("spin" is
            # spinach before spiny), and shorter completions need less typing to be meant.
            most_foods = math.log1p(max(len(self.postings[c]) for c in completions))
            for candidate in completions:
                share = math.log1p(len(self.postings[candidate])) / most_foods
                closeness = len(word) / len(candidate)
                expansions.setdefault(
                    candidate,
                    _PREFIX_QUALITY
                    * (_PREFIX_SHARE_WEIGHT * share + (1 - _PREFIX_SHARE_WEIGHT) * closeness),
                )
        limit = _allowed_typos(word)
        if word not in self.postings and limit:
            # While a word is being typed, its completions beat look-alike words.
            typo_scale = _TYPO_SCALE_WHEN_COMPLETING if completions else 1.0
            for candidate in self._similar_words(word):
                distance = bounded_edit_distance(word, candidate, limit)
                if distance <= limit:
                    quality = _TYPO_QUALITY_BY_DISTANCE[distance] * typo_scale
                    if quality > expansions.get(candidate, 0.0):
                        expansions[candidate] = quality
        return tuple(expansions.items())

    def _similar_words(self, word: str) -> list[str]:
        shared: dict[str, int] = {}
        for trigram in _trigrams(word):
            for candidate in self.trigram_words.get(trigram, ()):
                shared[candidate] = shared.get(candidate, 0) + 1
        ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))
        return [candidate for candidate, _ in ranked[:_MAX_TYPO_CANDIDATES]]

    def _word_matches(self, word: str) -> tuple[dict[int, float], float] | None:
        """Best match quality per food for one query word, and the word's weight (idf)."""
        expansions = self.expand(word)
        if not expansions:
            return None
        if len(expansions) == 1 and expansions[0][1] == 1.0:
            return self.postings[word], self.idf[word]
        best: dict[int, float] = {}
        for candidate, quality in expansions:
            for index, field_weight in self.postings[candidate].items():
                value = quality * field_weight
                if value > best.get(index, 0.0):
                    best[index] = value
        strongest = max(expansions, key=lambda expansion: (expansion[1], self.idf[expansion[0]]))
        return best, self.idf[strongest[0]]

    def search(self, query: str, limit: int) -> dict[int, float]:
        """Food index -> relevance for the words of ``query``, over a bounded candidate set."""
        query_words = list(dict.fromkeys(english_words(query)))[:_MAX_QUERY_WORDS]
        if not query_words:
            return {}
        matches = self._with_compounds(query_words, [self._word_matches(w) for w in query_words])
        total_weight = sum(match[1] if match else self.unknown_word_weight for match in matches)
        found = sorted((match for match in matches if match), key=lambda match: len(match[0]))
        if not found:
            return {}
        candidates: set[int] = set(found[0][0])
        for best, _ in found[1:]:
            candidates &= best.keys()
        if len(candidates) < limit:
            # Too few foods match every word: also rank foods matching some words,
            # taken from the selective words only so the set stays bounded.
            for best, _ in found:
                if len(best) <= _MAX_PARTIAL_CANDIDATES or best is found[0][0]:
                    candidates |= best.keys()
        prior = self.prior
        scores = {
            index: sum(best.get(index, 0.0) * weight for best, weight in found) / total_weight
            + prior[index]
            for index in candidates
        }
        for index in self.segment_foods.get(frozenset(query_words), set()) & candidates:
            scores[index] += _SEGMENT_MATCH_BONUS
        return scores

    def _with_compounds(
        self, words: list[str], matches: list[tuple[dict[int, float], float] | None]
    ) -> list[tuple[dict[int, float], float] | None]:
        """Let "soy milk" match "Soymilk": a food containing the joined word matches both parts."""
        for position in range(len(words) - 1):
            compound = words[position] + words[position + 1]
            compound_postings = self.postings.get(compound)
            if compound_postings is None:
                continue
            for part in (position, position + 1):
                best, weight = matches[part] or ({}, self.idf[compound])
                merged = dict(best)  # never mutate the shared postings
                for index, value in compound_postings.items():
                    if value > merged.get(index, 0.0):
                        merged[index] = value
                matches[part] = (merged, weight)
        return matches

    @property
    def unknown_word_weight(self) -> float:
        """Weight of a query word that matches nothing: as rare as the rarest word."""
        return math.log(1.0 + len(self.prior))


def _generic_prior(food: Food, description_word_count: int) -> float:
    """Static preference for short, generic, commonly eaten foods."""
    prior = -_WORD_COUNT_PENALTY * math.log1p(description_word_count)
    if food.name_zh is not None:
        prior += _CURATED_FOOD_BONUS
    if food.group.code in _SPECIALISED_GROUPS or _BRAND_PATTERN.search(food.name_en):
        prior -= _SPECIALISED_FOOD_PENALTY
    return prior


class _ChineseIndex:
    """Character and bigram index over Chinese names and aliases."""

    def __init__(self, foods: list[Food]) -> None:
        self.names: dict[int, tuple[tuple[str, float], ...]] = {}
        self.postings: dict[str, set[int]] = {}
        for index, food in enumerate(foods):
            if food.name_zh is None:
                continue
            names = ((food.name_zh, 1.0), *((alias, _ALIAS_WEIGHT) for alias in food.aliases_zh))
            self.names[index] = names
            for name, _ in names:
                text = chinese_text(name)
                for key in set(text) | _bigrams(text):
                    self.postings.setdefault(key, set()).add(index)

    def search(self, query: str) -> dict[int, float]:
        """Food index -> relevance for the Chinese text in ``query``."""
        text = chinese_text(query)
        if not _CJK_PATTERN.search(text):
            return {}
        keys = _bigrams(text) or set(text)
        candidates: set[int] = set()
        for key in keys:
            candidates |= self.postings.get(key, set())
        if not candidates and len(text) > 1:
            for character in set(text):
                candidates |= self.postings.get(character, set())
        query_bigrams = _bigrams(text)
        scores: dict[int, float] = {}
        for index in candidates:
            scores[index] = max(
                _weighted(_chinese_similarity(text, query_bigrams, name), weight)
                for name, weight in self.names[index]
            )
        return {index: score for index, score in scores.items() if score > 0.0}


def chinese_text(text: str) -> str:
    """Comparable form of Chinese text: Han characters, digits and lower-case Latin only."""
    return "".join(_CHINESE_TEXT_PATTERN.findall(text.lower()))


def _weighted(similarity: float, weight: float) -> float:
    """An exact alias ranks just below an exact name, other alias matches a bit lower."""
    if similarity == 1.0:
        return _EXACT_ALIAS_SCORE if weight < 1.0 else 1.0
    return similarity * weight


def _chinese_similarity(query: str, query_bigrams: set[str], name: str) -> float:
    """How well ``query`` matches one Chinese name, in [0, 1].

    Exact names score highest, then the head name without its parenthesised
    qualifier ("糙米饭（长粒）" -> "糙米饭"), then substrings, shorter names first.
    Chinese compounds put the head noun last, so a name ending in the query
    ("油豆腐" for "豆腐") beats one merely starting with it ("豆腐菜").
    """
    text = chinese_text(name)
    head = chinese_text(_QUALIFIER_PATTERN.split(name, maxsplit=1)[0])
    if query == text:
        return 1.0
    if query == head:
        return 0.97
    if query in text:
        score = 0.75 + 0.15 * len(query) / len(text)
        if head.endswith(query):
            score += 0.05
        return score
    if head and head in query:
        return 0.55 * len(head) / len(query)
    name_bigrams = _bigrams(text)
    bigram_score = 0.0
    if query_bigrams and name_bigrams:
        shared = len(query_bigrams & name_bigrams)
        bigram_score = 0.6 * 2 * shared / (len(query_bigrams) + len(name_bigrams))
    character_score = 0.3 * len(set(query) & set(text)) / max(len(query), len(text))
    return max(bigram_score, character_score)


class _SearchIndex:
    """Both language indexes plus NDB lookup for one database."""

    def __init__(self, database: FoodDatabase) -> None:
        self.foods = list(database)
        self.english = _EnglishIndex(self.foods)
        self.chinese = _ChineseIndex(self.foods)
        self.position = {food.ndb_no: position for position, food in enumerate(self.foods)}


@lru_cache(maxsize=8)
def _index_for(database: FoodDatabase) -> _SearchIndex:
    """One index per database object, built on its first search (~0.1-0.2 s)."""
    return _SearchIndex(database)


def _top(scores: dict[int, float], foods: list[Food], limit: int) -> list[SearchHit]:
    ranked = heapq.nsmallest(limit, scores.items(), key=lambda item: (-item[1], item[0]))
    return [SearchHit(foods[index], round(score, 6)) for index, score in ranked]


def _merge(into: dict[int, float], scores: Iterable[tuple[int, float]]) -> None:
    for index, score in scores:
        if score > into.get(index, float("-inf")):
            into[index] = score


def search_foods(
    db: FoodDatabase, query: str, limit: int = 10, lang: Language | None = None
) -> list[SearchHit]:
    """Foods best matching ``query``, best first (at most ``limit``).

    ``lang=None`` detects the language: a query with Chinese characters
    searches Chinese names and aliases, any other query searches English
    descriptions, and a 4-5 digit number also matches the NDB number.
    ``lang="en"``/``"zh"`` forces one language (and skips NDB matching).
    """
    if lang not in (None, "en", "zh"):
        raise ValueError(f"lang must be None, 'en' or 'zh', not {lang!r}")
    if limit <= 0 or not query.strip():
        return []
    index = _index_for(db)
    scores: dict[int, float] = {}
    stripped = query.strip()
    if lang is None and _NDB_PATTERN.fullmatch(stripped):
        position = index.position.get(normalize_ndb_no(stripped))
        if position is not None:
            scores[position] = _NDB_MATCH_SCORE
    has_chinese = _CJK_PATTERN.search(query) is not None
    if lang == "zh" or (lang is None and has_chinese):
        _merge(scores, index.chinese.search(query).items())
    if lang == "en" or (lang is None and not has_chinese):
        _merge(scores, index.english.search(query, limit).items())
    return _top(scores, index.foods, limit)
