"""Search-as-you-type over the knowledge pack's drugs and condition groups, in both languages.

The lists are small (tens of rows), so a prefix/substring scan over names prepared once at
start-up answers in microseconds; no index structure is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mgcare.i18n import Lang
from mgcare.knowledge import Knowledge

MAX_QUERY = 100
DEFAULT_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Entry:
    """One searchable row: its names (lower-case) and how it is shown, per language."""

    names: tuple[str, ...]
    sort_key: str
    show: Callable[[Lang], dict[str, Any]]


@dataclass(frozen=True)
class NameIndex:
    entries: tuple[Entry, ...]

    def search(self, query: str, lang: Lang, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
        """Rows whose name starts with the query first, then rows containing it."""
        text = " ".join(query.strip().lower().split())[:MAX_QUERY]
        if not text:
            return []
        ranked: list[tuple[int, str, Entry]] = []
        for entry in self.entries:
            if any(name.startswith(text) for name in entry.names):
                ranked.append((0, entry.sort_key, entry))
            elif any(text in name for name in entry.names):
                ranked.append((1, entry.sort_key, entry))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [entry.show(lang) for _, _, entry in ranked[:limit]]


def _lower(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip().lower() for n in names if n.strip()))


def drug_index(knowledge: Knowledge) -> NameIndex:
    """Every pack drug by English and Chinese name, synonyms and ATC code."""
    entries = []
    for drug in knowledge.drugs.drug:

        def show(lang: Lang, drug: Any = drug) -> dict[str, Any]:
            return {
                "code": drug.id,
                "name_en": drug.name_en,
                "name_zh": drug.name_zh,
                "class": drug.class_zh if lang == "zh" else drug.class_en,
            }

        entries.append(
            Entry(
                _lower([drug.name_en, drug.name_zh, *drug.synonyms, *drug.atc]),
                drug.name_en.lower(),
                show,
            )
        )
    return NameIndex(tuple(entries))


def condition_index(knowledge: Knowledge) -> NameIndex:
    """Every pack condition group by English and Chinese name and its recognised phrases."""
    entries = []
    for group in knowledge.codes.condition:

        def show(_lang: Lang, group: Any = group) -> dict[str, Any]:
            return {"code": group.id, "name_en": group.name_en, "name_zh": group.name_zh}

        entries.append(
            Entry(
                _lower([group.name_en, group.name_zh, *group.phrases, group.id]),
                group.name_en.lower(),
                show,
            )
        )
    return NameIndex(tuple(entries))
