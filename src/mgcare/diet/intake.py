"""Daily intake from a resolved food log, compared with the person's reference intake.

Totals are computed column-wise with numpy (a 10,000-row log is one pass). The Mg:Zn ratio is
reported with its corrected interpretation (clinical.md 2.2): in MESA a *higher* Mg:Zn intake
ratio went with more coronary calcification progression, and no cut-off exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mgcare.diet.log import FoodLog
from mgcare.diet.reference import LifeStage, Reference, reference_intake
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import StandardId

NUTRIENTS = ("magnesium", "zinc", "calcium", "potassium", "energy")
TOP_CONTRIBUTORS = 5


@dataclass(frozen=True, slots=True)
class Contributor:
    food: str
    name: str
    name_zh: str | None
    grams: float
    magnesium_mg: float
    share: float


@dataclass(frozen=True, slots=True)
class IntakeReport:
    magnesium_mg: float
    zinc_mg: float
    calcium_mg: float
    potassium_mg: float
    energy_kcal: float
    magnesium_known_share: float
    food_magnesium_mg: float
    supplemental_magnesium_mg: float
    reference: Reference
    mg_zn_ratio: float | None
    top_contributors: tuple[Contributor, ...]
    below_ear: bool | None
    below_recommended: bool
    above_ul: bool
    warnings: tuple[str, ...]


def _per_100g(log: FoodLog, attribute: str) -> np.ndarray:
    return np.array(
        [
            getattr(entry.food, attribute) if getattr(entry.food, attribute) is not None else np.nan
            for entry in log.foods
        ],
        dtype=float,
    )


def daily_intake(
    log: FoodLog,
    knowledge: Knowledge,
    *,
    age_years: float,
    sex: str | None,
    standard: StandardId,
    life_stage: LifeStage = "general",
) -> IntakeReport:
    """Totals of Mg, Zn, Ca, K and energy; Mg against the reference; top Mg contributors."""
    grams = np.array([entry.grams for entry in log.foods], dtype=float)
    totals: dict[str, float] = {}
    for nutrient, attribute in (
        ("magnesium", "magnesium_mg_per_100g"),
        ("zinc", "zinc_mg_per_100g"),
        ("calcium", "calcium_mg_per_100g"),
        ("potassium", "potassium_mg_per_100g"),
        ("energy", "energy_kcal_per_100g"),
    ):
        values = _per_100g(log, attribute) if len(grams) else np.zeros(0)
        totals[nutrient] = float(np.nansum(values * grams / 100.0)) if len(grams) else 0.0
    magnesium_per_entry = (
        np.nan_to_num(_per_100g(log, "magnesium_mg_per_100g")) * grams / 100.0
        if len(grams)
        else np.zeros(0)
    )
    known = (
        ~np.isnan(_per_100g(log, "magnesium_mg_per_100g"))
        if len(grams)
        else np.zeros(0, dtype=bool)
    )
    total_grams = float(grams.sum()) if len(grams) else 0.0
    known_share = float(grams[known].sum() / total_grams) if total_grams > 0 else 1.0
    supplemental = float(sum(s.elemental_mg for s in log.supplements))
    food_mg = totals["magnesium"]
    total_mg = food_mg + supplemental
    reference = reference_intake(knowledge, standard, age_years, sex, life_stage)
    order: list[int] = [
        int(i) for i in np.argsort(-magnesium_per_entry, kind="stable")[:TOP_CONTRIBUTORS]
    ]
    contributors = tuple(
        Contributor(
            food=log.foods[i].food.ndb_no,
            name=log.foods[i].food.name_en,
            name_zh=log.foods[i].food.name_zh,
            grams=round(float(grams[i]), 1),
            magnesium_mg=round(float(magnesium_per_entry[i]), 1),
            share=round(float(magnesium_per_entry[i] / food_mg), 3) if food_mg > 0 else 0.0,
        )
        for i in order
        if magnesium_per_entry[i] > 0
    )
    zinc = totals["zinc"]
    return IntakeReport(
        magnesium_mg=total_mg,
        zinc_mg=zinc,
        calcium_mg=totals["calcium"],
        potassium_mg=totals["potassium"],
        energy_kcal=totals["energy"],
        magnesium_known_share=known_share,
        food_magnesium_mg=food_mg,
        supplemental_magnesium_mg=supplemental,
        reference=reference,
        mg_zn_ratio=food_mg / zinc if zinc > 0 else None,
        top_contributors=contributors,
        below_ear=(total_mg < reference.ear_mg) if reference.ear_mg is not None else None,
        below_recommended=total_mg < reference.recommended_mg,
        above_ul=reference.ul_supplemental_mg is not None
        and supplemental > reference.ul_supplemental_mg,
        warnings=log.warnings,
    )
