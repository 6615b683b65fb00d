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


def _top_contributors(
    log: FoodLog, grams: np.ndarray, magnesium_per_entry: np.ndarray, food_mg: float
) -> tuple[Contributor, ...]:
    """Foods ranked by their Mg that day; a food logged in several rows counts once."""
    if not len(grams):
        return ()
    ndb = np.array([entry.food.ndb_no for entry in log.foods])
    foods, first_row, inverse = np.unique(ndb, return_index=True, return_inverse=True)
    magnesium = np.bincount(inverse, weights=magnesium_per_entry)
    food_grams = np.bincount(inverse, weights=grams)
    order = [int(i) for i in np.argsort(-magnesium, kind="stable")[:TOP_CONTRIBUTORS]]
    return tuple(
        Contributor(
            food=str(foods[i]),
            name=log.foods[first_row[i]].food.name_en,
            name_zh=log.foods[first_row[i]].food.name_zh,
            grams=round(float(food_grams[i]), 1),
            magnesium_mg=round(float(magnesium[i]), 1),
            share=round(float(magnesium[i] / food_mg), 3) if food_mg > 0 else 0.0,
        )
        for i in order
        if magnesium[i] > 0
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
    contributors = _top_contributors(log, grams, magnesium_per_entry, food_mg)
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
