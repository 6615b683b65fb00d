"""Kidney function: CKD-EPI 2021 from creatinine, KDIGO category, and the eGFR that counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from mgcare.i18n import L
from mgcare.knowledge import Knowledge
from mgcare.rules.labs import CheckedLab, latest
from mgcare.units import convert


def ckd_epi_2021(
    creatinine_mg_dl: float, age_years: float, sex: str, knowledge: Knowledge
) -> float:
    """Race-free CKD-EPI 2021 creatinine equation (Inker 2021), mL/min/1.73 m²."""
    equation = knowledge.renal.ckd_epi_2021
    coefficients = equation.female if sex == "female" else equation.male
    ratio = creatinine_mg_dl / coefficients.kappa_mg_dl
    return float(
        equation.multiplier
        * min(ratio, 1.0) ** coefficients.alpha
        * max(ratio, 1.0) ** equation.upper_exponent
        * equation.age_base**age_years
        * coefficients.sex_factor
    )


def kdigo_category(egfr: float, knowledge: Knowledge) -> tuple[str, L]:
    for row in sorted(knowledge.renal.kdigo_category, key=lambda r: -r.lower):
        if egfr >= row.lower:
            return row.category, L(row.label_en, row.label_zh)
    last = min(knowledge.renal.kdigo_category, key=lambda r: r.lower)
    return last.category, L(last.label_en, last.label_zh)


@dataclass(frozen=True, slots=True)
class KidneyFunction:
    egfr: float
    category: str
    category_label: L
    method: L
    effective: date


def _lowest_on_latest_day(
    checked: Sequence[CheckedLab], analyte: str, as_of: date
) -> CheckedLab | None:
    """The latest day's result; of conflicting results that day, the most cautious (lowest)."""
    newest = latest(checked, analyte, as_of)
    if newest is None:
        return None
    day = newest.lab.effective_date
    same_day = [
        c for c in checked if c.lab.analyte == analyte and c.usable and c.lab.effective_date == day
    ]
    return min(same_day, key=lambda c: c.canonical)


def kidney_function(
    checked: Sequence[CheckedLab],
    age_at: Callable[[date], int | None],
    sex: str | None,
    as_of: date,
    knowledge: Knowledge,
) -> KidneyFunction | None:
    """The most recent of a reported eGFR and a CKD-EPI 2021 value from creatinine (a reported
    eGFR wins a tie; conflicting same-day eGFRs give the lowest). CKD-EPI uses the age on the
    creatinine date and needs age >= 18 and sex."""
    reported = _lowest_on_latest_day(checked, "egfr", as_of)
    creatinine = latest(checked, "creatinine", as_of)
    age_years = age_at(creatinine.lab.effective_date) if creatinine is not None else None
    computed: KidneyFunction | None = None
    minimum_age = knowledge.thresholds.ckd_epi.minimum_age.value
    if (
        creatinine is not None
        and age_years is not None
        and sex is not None
        and age_years >= minimum_age
    ):
        mg_dl = convert(creatinine.lab.value, creatinine.unit, "mg/dL", "creatinine", knowledge)
        value = ckd_epi_2021(mg_dl, age_years, sex, knowledge)
        category, label = kdigo_category(value, knowledge)
        shown = f"{creatinine.lab.value:g} {creatinine.unit}, {creatinine.lab.effective_date.isoformat()}"
        computed = KidneyFunction(
            egfr=value,
            category=category,
            category_label=label,
            method=L(
                f"CKD-EPI 2021 from creatinine {shown}", f"CKD-EPI 2021公式，依据肌酐 {shown}"
            ),
            effective=creatinine.lab.effective_date,
        )
    if reported is not None and (
        computed is None or reported.lab.effective_date >= computed.effective
    ):
        category, label = kdigo_category(reported.canonical, knowledge)
        code = reported.lab.loinc or "eGFR"
        day = reported.lab.effective_date.isoformat()
        return KidneyFunction(
            egfr=reported.canonical,
            category=category,
            category_label=label,
            method=L(
                f"reported eGFR (LOINC {code}), {day}", f"检验报告eGFR（LOINC {code}），{day}"
            ),
            effective=reported.lab.effective_date,
        )
    return computed
