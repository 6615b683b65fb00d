"""JSON built from the core for every adapter (CLI `--format json` and the REST API), so the
two always agree (DESIGN.md sections 4 and 7)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from mgcare.diet.evaluate import evaluate_intake, intake_json, plan_json
from mgcare.diet.foods import Food, FoodDatabase
from mgcare.diet.log import FoodLogError
from mgcare.diet.plan import PlanError, plan_foods
from mgcare.diet.reference import DEFAULT_STANDARD, LifeStage, ReferenceError, reference_intake
from mgcare.i18n import Lang
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import StandardId
from mgcare.model import Assessment, PatientRecord
from mgcare.rules import assess
from mgcare.rules.assess import age_on
from mgcare.rules.intake import intake_items


class ViewError(ValueError):
    """Bad input for a REST call: a 400 with this one-line reason."""


def assessment(
    record: PatientRecord,
    knowledge: Knowledge,
    db: FoodDatabase,
    as_of: date,
    lang: Lang,
) -> Assessment:
    """`assess`, with the day's food log evaluated first when the record has one (as the CLI)."""
    intake = plan = None
    context = food_log_context(record, as_of, lang)
    if context is not None:
        age, standard, stage = context
        intake, plan = _evaluate(
            record.food_log, knowledge, db, age, record.person.sex, standard, stage, (), True
        )
    return assess(record, knowledge, as_of=as_of, lang=lang, intake=intake, plan=plan)


def food_log_context(
    record: PatientRecord, as_of: date, lang: Lang
) -> tuple[float, StandardId, LifeStage] | None:
    """Age, reference standard and life stage for the record's food log (None without one);
    ViewError when the age needed to choose reference intakes is unknown."""
    if not record.food_log:
        return None
    age = age_on(record, as_of)
    if age is None:
        raise ViewError(
            "food_log: the person's age or birth date is needed to choose reference intakes"
        )
    stage: LifeStage = "general"
    if record.person.pregnant:
        stage = "pregnancy"
    elif record.person.lactating:
        stage = "lactation"
    return float(age), record.diet_standard or DEFAULT_STANDARD[lang], stage


def _evaluate(
    rows: Sequence[Mapping[str, Any]],
    knowledge: Knowledge,
    db: FoodDatabase,
    age: float,
    sex: str | None,
    standard: StandardId,
    stage: LifeStage,
    exclude: Sequence[str],
    common_only: bool,
) -> tuple[Any, Any]:
    try:
        return evaluate_intake(
            rows,
            db,
            knowledge,
            age_years=age,
            sex=sex,
            standard=standard,
            life_stage=stage,
            exclude=exclude,
            common_only=common_only,
        )
    except (FoodLogError, ReferenceError, PlanError) as exc:
        raise ViewError(" ".join(str(exc).split())) from None


def diet_report(
    rows: Sequence[Mapping[str, Any]],
    knowledge: Knowledge,
    db: FoodDatabase,
    *,
    age: float,
    sex: str,
    standard: StandardId | None,
    life_stage: LifeStage,
    exclude: Sequence[str],
    all_foods: bool,
    lang: Lang,
) -> dict[str, Any]:
    """`mgcare diet report --format json`."""
    chosen = standard or DEFAULT_STANDARD[lang]
    report, plan = _evaluate(
        rows, knowledge, db, age, sex, chosen, life_stage, exclude, not all_foods
    )
    data = intake_json(report, plan, knowledge, lang)
    findings, recommendations = intake_items(report, plan, knowledge, lang)
    data["findings"] = [f.model_dump() for f in findings]
    data["recommendations"] = [r.model_dump() for r in recommendations]
    data["disclaimer"] = (
        knowledge.texts.disclaimer_zh if lang == "zh" else knowledge.texts.disclaimer_en
    )
    return data


def diet_plan(
    knowledge: Knowledge,
    db: FoodDatabase,
    *,
    age: float,
    sex: str,
    intake_mg: float,
    standard: StandardId | None,
    life_stage: LifeStage,
    exclude: Sequence[str],
    all_foods: bool,
    max_foods: int,
    lang: Lang,
) -> dict[str, Any]:
    """`mgcare diet plan --format json`."""
    chosen = standard or DEFAULT_STANDARD[lang]
    try:
        reference = reference_intake(knowledge, chosen, age, sex, life_stage)
        plan = plan_foods(
            db,
            reference.recommended_mg - intake_mg,
            exclude=exclude,
            common_only=not all_foods,
            max_foods=max_foods,
        )
    except (ReferenceError, PlanError) as exc:
        raise ViewError(" ".join(str(exc).split())) from None
    return {
        "reference": {
            "standard": reference.standard,
            "recommended_mg": reference.recommended_mg,
            "recommended_kind": reference.recommended_kind,
            "ear_mg": reference.ear_mg,
            "source": reference.source,
            "fallback_from": reference.fallback_from,
        },
        "intake_mg": intake_mg,
        **plan_json(plan),
    }


def food_hit(food: Food) -> dict[str, Any]:
    """One row of `mgcare foods search --format json`."""
    return {
        "food": food.ndb_no,
        "name": food.name_en,
        "name_zh": food.name_zh,
        "magnesium_mg_per_100g": food.magnesium_mg_per_100g,
    }


def food_detail(item: Food) -> dict[str, Any]:
    """`mgcare foods show --format json`."""
    return {
        "food": item.ndb_no,
        "name": item.name_en,
        "name_zh": item.name_zh,
        "group": item.group.name,
        "per_100g": {
            "energy_kcal": item.energy_kcal_per_100g,
            "magnesium_mg": item.magnesium_mg_per_100g,
            "zinc_mg": item.zinc_mg_per_100g,
            "calcium_mg": item.calcium_mg_per_100g,
            "potassium_mg": item.potassium_mg_per_100g,
        },
        "portions": [
            {
                "amount": p.amount,
                "unit": p.description,
                "grams": p.grams,
                "magnesium_mg": round(p.grams * item.magnesium_mg_per_100g / 100, 1)
                if item.magnesium_mg_per_100g is not None
                else None,
            }
            for p in item.portions
        ],
        "source": "USDA SR28 (public domain)",
    }


def code_evidence(knowledge: Knowledge, code: str) -> dict[str, Any] | None:
    """A finding or recommendation code with its texts, references, facts and claims."""
    kind = "finding" if code in knowledge.texts.finding else "recommendation"
    table = knowledge.texts.finding if kind == "finding" else knowledge.texts.recommendation
    text = table.get(code)
    if text is None:
        return None
    return {
        "code": code,
        "kind": kind,
        "severity": text.severity,
        "severity_escalated": text.severity_escalated,
        "summary_en": text.summary_en,
        "summary_zh": text.summary_zh,
        "references": [
            knowledge.references[r].model_dump() for r in text.evidence if r in knowledge.references
        ],
        "facts": [knowledge.facts[f].model_dump() for f in text.facts if f in knowledge.facts],
        "claims": [c.model_dump() for c in knowledge.claims.claim if code in c.caveat_codes],
    }
