"""Reference intakes by standard, age, sex and life stage; supplements as elemental magnesium.

Pure lookups over the knowledge pack. China 2023 covers adults only, so children, pregnancy and
lactation fall back to China 2013, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mgcare.i18n import L
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import ReferenceIntake, Salt, StandardId

LifeStage = Literal["general", "pregnancy", "lactation"]
DEFAULT_STANDARD: dict[str, StandardId] = {"en": "us-iom-1997", "zh": "cn-2023"}
UL_STANDARD: StandardId = "us-iom-1997"


class ReferenceError(ValueError):
    """No reference intake exists for this person under this standard."""


class UnknownSupplementError(ValueError):
    """The supplement salt is not in the knowledge pack."""


@dataclass(frozen=True, slots=True)
class Reference:
    """The reference intake that applies to one person, with where each number comes from."""

    standard: StandardId
    standard_name: L
    ear_mg: float | None
    recommended_mg: float
    recommended_kind: str
    ul_supplemental_mg: float | None
    ul_standard: StandardId | None
    source: str
    status: str
    fallback_from: StandardId | None


def _matches(row: ReferenceIntake, age: float, sex: str | None, life_stage: LifeStage) -> bool:
    return (
        row.age_min <= age < row.age_max
        and (row.sex == "any" or row.sex == sex)
        and row.life_stage == life_stage
    )


def _rows(
    knowledge: Knowledge,
    standard: StandardId,
    nutrient: str,
    age: float,
    sex: str | None,
    stage: LifeStage,
) -> list[ReferenceIntake]:
    return [
        row
        for row in knowledge.intakes.intake
        if row.standard == standard and row.nutrient == nutrient and _matches(row, age, sex, stage)
    ]


def _values(row: ReferenceIntake) -> tuple[float | None, float, str, float | None, str, str]:
    return (
        row.ear_mg,
        row.recommended_mg,
        row.recommended_kind,
        row.ul_supplemental_mg,
        row.source,
        row.status,
    )


def _lookup(
    knowledge: Knowledge,
    standard: StandardId,
    nutrient: str,
    age: float,
    sex: str | None,
    stage: LifeStage,
) -> tuple[float | None, float, str, float | None, str, str] | None:
    """(EAR, recommended, kind, UL, source, status) or None when the standard has no row.
    Pregnancy/lactation rows either replace the general row (IOM, EFSA) or add to it (China
    2013 increments); EFSA sets them equal to non-pregnant women, also under 18."""
    general = _rows(knowledge, standard, nutrient, age, sex, "general")
    if stage == "general":
        return _values(general[0]) if general else None
    staged = _rows(knowledge, standard, nutrient, age, sex, stage)
    if staged and not staged[0].increment:
        return _values(staged[0])
    if staged and general:
        base, extra = general[0], staged[0]
        ear = base.ear_mg + (extra.ear_mg or 0.0) if base.ear_mg is not None else None
        return (
            ear,
            base.recommended_mg + extra.recommended_mg,
            base.recommended_kind,
            base.ul_supplemental_mg,
            base.source,
            base.status,
        )
    if not staged and general and standard == "efsa-2015":
        return _values(general[0])
    return None


def _upper_limit(
    knowledge: Knowledge,
    standard: StandardId,
    nutrient: str,
    age: float,
    sex: str | None,
    stage: LifeStage,
) -> float | None:
    """The UL for this person; with sex unknown, the UL when both sexes share it."""
    sexes = (sex,) if sex is not None else ("male", "female")
    limits = set()
    for candidate in sexes:
        found = _lookup(knowledge, standard, nutrient, age, candidate, stage)
        limits.add(found[3] if found is not None else None)
    return limits.pop() if len(limits) == 1 else None


def reference_intake(
    knowledge: Knowledge,
    standard: StandardId,
    age_years: float,
    sex: str | None,
    life_stage: LifeStage = "general",
    nutrient: str = "magnesium",
) -> Reference:
    """The applicable reference intake. Sex is needed where a standard differs by sex."""
    chosen: StandardId = standard
    found = _lookup(knowledge, standard, nutrient, age_years, sex, life_stage)
    fallback_from: StandardId | None = None
    fallback = knowledge.intakes.standards[standard].fallback
    if found is None and fallback:
        chosen = fallback  # type: ignore[assignment]
        fallback_from = standard
        found = _lookup(knowledge, chosen, nutrient, age_years, sex, life_stage)
    if found is None:
        who = f"age {age_years:g}, sex {sex or 'unknown'}, {life_stage}"
        raise ReferenceError(f"{standard} has no {nutrient} reference intake for {who}")
    ear, recommended, kind, ul, source, status = found
    ul_standard: StandardId | None = chosen if ul is not None else None
    if ul is None and nutrient == "magnesium":
        ul = _upper_limit(knowledge, UL_STANDARD, nutrient, age_years, sex, life_stage)
        ul_standard = UL_STANDARD if ul is not None else None
    names = knowledge.intakes.standards[chosen]
    return Reference(
        standard=chosen,
        standard_name=L(names.name_en, names.name_zh),
        ear_mg=ear,
        recommended_mg=recommended,
        recommended_kind=kind,
        ul_supplemental_mg=ul,
        ul_standard=ul_standard,
        source=source,
        status=status,
        fallback_from=fallback_from,
    )


def find_salt(name: str, knowledge: Knowledge) -> Salt:
    salt = knowledge.salts_by_name.get(name.strip().lower())
    if salt is None:
        known = ", ".join(sorted({s.name_en for s in knowledge.salts.salt}))
        raise UnknownSupplementError(f"unknown supplement salt {name!r} (known: {known})")
    return salt


def elemental_magnesium_mg(
    knowledge: Knowledge,
    salt_name: str,
    dose_mg: float | None = None,
    elemental_mg: float | None = None,
) -> float:
    """Elemental Mg of a supplement dose: the label's elemental amount when given, else the
    compound weight times the salt's elemental fraction (clinical.md 4.3)."""
    if elemental_mg is not None:
        if elemental_mg < 0:
            raise ValueError("elemental_mg must not be negative")
        find_salt(salt_name, knowledge)
        return elemental_mg
    if dose_mg is None:
        raise ValueError("a supplement needs dose_mg (compound weight) or elemental_mg")
    if dose_mg < 0:
        raise ValueError("dose_mg must not be negative")
    return dose_mg * find_salt(salt_name, knowledge).elemental_fraction
