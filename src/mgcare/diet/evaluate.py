"""One call from a day's log rows to the intake report and, when short, a food plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mgcare.diet.foods import FoodDatabase
from mgcare.diet.intake import IntakeReport, daily_intake
from mgcare.diet.log import resolve_log
from mgcare.diet.plan import Plan, plan_foods
from mgcare.diet.reference import LifeStage
from mgcare.i18n import Lang
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import StandardId


def evaluate_intake(
    rows: Sequence[Mapping[str, Any]],
    db: FoodDatabase,
    knowledge: Knowledge,
    *,
    age_years: float,
    sex: str | None,
    standard: StandardId,
    life_stage: LifeStage = "general",
    exclude: Sequence[str] = (),
    common_only: bool = True,
) -> tuple[IntakeReport, Plan | None]:
    """Raises FoodLogError (bad row), ReferenceError (no reference), PlanError (bad exclusion)."""
    log = resolve_log(rows, db, knowledge)
    report = daily_intake(
        log, knowledge, age_years=age_years, sex=sex, standard=standard, life_stage=life_stage
    )
    plan = None
    if report.below_recommended:
        gap = report.reference.recommended_mg - report.magnesium_mg
        already = [entry.food.ndb_no for entry in log.foods]
        plan = plan_foods(db, gap, exclude=exclude, common_only=common_only, exclude_foods=already)
    return report, plan


def intake_json(
    report: IntakeReport, plan: Plan | None, knowledge: Knowledge, lang: Lang
) -> dict[str, Any]:
    """The DESIGN.md section 7 `diet report` object (also the assessment's `intake` block)."""
    reference = report.reference
    claim = next(c for c in knowledge.claims.claim if c.id == "2.2")
    return {
        "totals": {
            "magnesium_mg": round(report.magnesium_mg, 1),
            "zinc_mg": round(report.zinc_mg, 2),
            "calcium_mg": round(report.calcium_mg, 1),
            "potassium_mg": round(report.potassium_mg, 1),
            "energy_kcal": round(report.energy_kcal, 1),
        },
        "food_magnesium_mg": round(report.food_magnesium_mg, 1),
        "supplemental_magnesium_mg": round(report.supplemental_magnesium_mg, 1),
        "magnesium_known_share": round(report.magnesium_known_share, 4),
        "reference": {
            "standard": reference.standard,
            "standard_name": reference.standard_name.get(lang),
            "fallback_from": reference.fallback_from,
            "ear_mg": reference.ear_mg,
            "recommended_mg": reference.recommended_mg,
            "recommended_kind": reference.recommended_kind,
            "ul_supplemental_mg": reference.ul_supplemental_mg,
            "ul_standard": reference.ul_standard,
            "source": reference.source,
            "status": reference.status,
        },
        "below_ear": report.below_ear,
        "below_recommended": report.below_recommended,
        "mg_zn_ratio": round(report.mg_zn_ratio, 2) if report.mg_zn_ratio is not None else None,
        "mg_zn_ratio_basis": "mass (mg/mg)",
        "mg_zn_interpretation": (claim.summary_zh + "。" + claim.caveat_zh)
        if lang == "zh"
        else (claim.summary_en + ". " + claim.caveat_en),
        "top_contributors": [
            {
                "food": c.food,
                "name": c.name,
                "name_zh": c.name_zh,
                "grams": c.grams,
                "magnesium_mg": c.magnesium_mg,
                "share": c.share,
            }
            for c in report.top_contributors
        ],
        "plan": None if plan is None else plan_json(plan),
        "warnings": list(report.warnings),
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    """A food plan as JSON (used by `diet report`, `diet plan` and the assessment)."""
    return {
        "gap_mg": round(plan.gap_mg, 1),
        "closes_gap": plan.closes_gap,
        "magnesium_mg": plan.magnesium_mg,
        "energy_kcal": plan.energy_kcal,
        "foods": [
            {
                "food": s.food.ndb_no,
                "name": s.food.name_en,
                "name_zh": s.food.name_zh,
                "grams": s.grams,
                "servings": s.servings,
                "serving": s.serving_description,
                "magnesium_mg": s.magnesium_mg,
                "energy_kcal": s.energy_kcal,
            }
            for s in plan.suggestions
        ],
    }
