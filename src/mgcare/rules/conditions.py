"""Which condition groups (AF, heart failure, diabetes, ...) a person has."""

from __future__ import annotations

from collections.abc import Iterable

from mgcare.knowledge import Knowledge
from mgcare.model import Condition


def condition_groups(condition: Condition, knowledge: Knowledge) -> set[str]:
    """Groups matched by ICD-10-CM prefix or SNOMED id; failing codes, by whole-word text that
    carries no exclusion ('history of', 'prediabetes', ...)."""
    groups: set[str] = set()
    texts = [condition.name or ""]
    for group, _pattern in knowledge.condition_groups:
        for coding in condition.codes:
            code = coding.code.strip().upper()
            if (
                coding.system == "icd10" and any(code.startswith(p) for p in group.icd10_prefixes)
            ) or (coding.system == "snomed" and coding.code.strip() in group.snomed):
                groups.add(group.id)
    for coding in condition.codes:
        if coding.display:
            texts.append(coding.display)
        if coding.system == "text":
            texts.append(coding.code)
    text = " | ".join(texts).lower()
    if text.strip(" |") and not knowledge.condition_exclusion_pattern.search(text):
        for group, pattern in knowledge.condition_groups:
            if pattern.search(text):
                groups.add(group.id)
    return groups


def active_groups(conditions: Iterable[Condition], knowledge: Knowledge) -> set[str]:
    groups: set[str] = set()
    for condition in conditions:
        if condition.active:
            groups |= condition_groups(condition, knowledge)
    return groups
