"""A day's intake evaluation, remembered between page views.

Evaluating a food log solves a small MILP for the food plan (about 20 ms), far more than the
rest of the dashboard. The answer depends only on the day's rows and the person's age, sex,
standard and life stage, which change far less often than lab results, so it is memoised on
exactly those inputs. The food-log context comes from `mgcare.views.food_log_context`, as in
`mgcare.views.assessment` (a parity test keeps them equal); the clinical work stays in
`mgcare.diet` and `mgcare.rules`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from functools import lru_cache

from mgcare.diet.evaluate import evaluate_intake
from mgcare.diet.foods import FoodDatabase
from mgcare.diet.intake import IntakeReport
from mgcare.diet.log import FoodLogError
from mgcare.diet.plan import Plan, PlanError
from mgcare.diet.reference import LifeStage, ReferenceError
from mgcare.i18n import Lang
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import StandardId
from mgcare.model import Assessment, PatientRecord
from mgcare.rules import assess
from mgcare.views import ViewError, food_log_context

CACHE_SIZE = 1024

Evaluated = tuple[IntakeReport, Plan | None]


class IntakeCache:
    """`evaluate(record, as_of, lang)`: (intake, plan) of the record's food log, memoised."""

    def __init__(self, knowledge: Knowledge, foods: FoodDatabase, size: int = CACHE_SIZE) -> None:
        self.knowledge = knowledge

        @lru_cache(maxsize=size)
        def evaluate(
            rows: str, age: float, sex: str | None, standard: StandardId, stage: LifeStage
        ) -> Evaluated:
            return evaluate_intake(
                json.loads(rows),
                foods,
                knowledge,
                age_years=age,
                sex=sex,
                standard=standard,
                life_stage=stage,
            )

        self._evaluate: Callable[[str, float, str | None, StandardId, LifeStage], Evaluated] = (
            evaluate
        )

    def evaluate(self, record: PatientRecord, as_of: date, lang: Lang) -> Evaluated | None:
        """None without a food log; ViewError (one line) when the log cannot be evaluated."""
        context = food_log_context(record, as_of, lang)
        if context is None:
            return None
        age, standard, stage = context
        rows = json.dumps(list(record.food_log), sort_keys=True, ensure_ascii=False)
        try:
            return self._evaluate(rows, age, record.person.sex, standard, stage)
        except (FoodLogError, ReferenceError, PlanError) as exc:
            raise ViewError(" ".join(str(exc).split())) from None

    def assessment(self, record: PatientRecord, as_of: date, lang: Lang) -> Assessment:
        """Same result as `mgcare.views.assessment`, with the intake memoised."""
        evaluated = self.evaluate(record, as_of, lang)
        intake, plan = evaluated if evaluated is not None else (None, None)
        return assess(record, self.knowledge, as_of=as_of, lang=lang, intake=intake, plan=plan)
