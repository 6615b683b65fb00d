"""Which condition groups (AF, heart failure, diabetes, ...) a person has."""

from __future__ import annotations

from collections.abc import Iterable

from mgcare.knowledge import Knowledge
from mgcare.model import Condition


def condition_groups(condition: Condition, knowledge: Knowledge) -> set[str]:
    """Groups matched by ICD-10-CM prefix or SNOMED id, or by whole-word text (name, code
    displays) that carries no exclusion such as 'history of' or 'prediabetes'. Memoised on the
    pack, since the same conditions recur across people."""
    key = ("conditions", condition.name, condition.codes)
    return set(knowledge.memo(key, lambda: frozenset(_condition_groups(condition, knowledge))))


def _condition_groups(condition: Condition, knowledge: Knowledge) -> set[str]:
    groups: set[str] = set()
    texts = [condition.name or ""]
    for coding in condition.codes:
        code = coding.code.strip()
        for group in knowledge.condition_groups.values():
            if (
                coding.system == "icd10" and code.upper().startswith(tuple(group.icd10_prefixes))
            ) or (coding.system == "snomed" and code in group.snomed):
                groups.add(group.id)
        if coding.display:
            texts.append(coding.display)
        if coding.system == "text":
            texts.append(coding.code)
    for text in texts:
        if text.strip() and not knowledge.condition_exclusions.find(text):
            groups.update(knowledge.condition_phrases.find(text))
    return groups


def active_groups(conditions: Iterable[Condition], knowledge: Knowledge) -> set[str]:
    groups: set[str] = set()
    for condition in conditions:
        if condition.active:
            groups |= condition_groups(condition, knowledge)
    return groups
