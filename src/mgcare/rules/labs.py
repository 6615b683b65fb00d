"""Lab results: unit checks, serum Mg status and CTCAE grade, choosing the result that counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from mgcare.i18n import UI, L
from mgcare.knowledge import Knowledge
from mgcare.model import LabResult
from mgcare.units import UnitCheck, UnitError, check_value, convert, parse_unit


@dataclass(frozen=True, slots=True)
class CheckedLab:
    """A lab result with its parsed unit, canonical value and unit check."""

    lab: LabResult
    unit: str
    canonical: float
    check: UnitCheck
    corroborated_mislabel: bool = False

    @property
    def usable(self) -> bool:
        return not self.check.implausible and not self.corroborated_mislabel


def check_labs(labs: Iterable[LabResult], knowledge: Knowledge) -> list[CheckedLab]:
    """Parse units and check plausibility. Results whose unit cannot be parsed are dropped here;
    `mgcare.validation` rejects them before assessment, so nothing is lost silently."""
    checked: list[CheckedLab] = []
    for lab in labs:
        try:
            unit = parse_unit(lab.unit, lab.analyte, knowledge)
        except UnitError:
            continue
        if lab.value <= 0:
            continue
        canonical = convert(
            lab.value, unit, knowledge.analytes[lab.analyte].canonical_unit, lab.analyte, knowledge
        )
        checked.append(
            CheckedLab(
                lab=lab,
                unit=unit,
                canonical=canonical,
                check=check_value(lab.value, unit, lab.analyte, knowledge),
            )
        )
    return _corroborate_mislabels(checked)


def _corroborate_mislabels(checked: list[CheckedLab]) -> list[CheckedLab]:
    """A suspect value is treated as mislabelled when another result of the same day, stated in
    the same unit, is implausible in that unit but plausible in the suspect's likely unit (the
    classic panel reported in mg/dL but labelled mmol/L)."""
    implausible_by_day_unit: dict[tuple[date, str], set[str]] = {}
    for item in checked:
        if item.check.implausible and item.check.likely_units:
            key = (item.lab.effective_date, item.unit)
            implausible_by_day_unit.setdefault(key, set()).update(item.check.likely_units)
    if not implausible_by_day_unit:
        return checked
    result = []
    for item in checked:
        likely = implausible_by_day_unit.get((item.lab.effective_date, item.unit), set())
        if item.check.suspect and likely & set(item.check.likely_units):
            result.append(
                CheckedLab(
                    item.lab, item.unit, item.canonical, item.check, corroborated_mislabel=True
                )
            )
        else:
            result.append(item)
    return result


def latest(
    checked: Sequence[CheckedLab], analyte: str, as_of: date, since: date | None = None
) -> CheckedLab | None:
    """The most recent usable result of an analyte on or before `as_of` (and on or after `since`)."""
    best: CheckedLab | None = None
    for item in checked:
        if item.lab.analyte != analyte or not item.usable:
            continue
        day = item.lab.effective_date
        if day > as_of or (since is not None and day < since):
            continue
        if best is None or _sort_key(item) > _sort_key(best):
            best = item
    return best


def _sort_key(item: CheckedLab) -> tuple[date, str]:
    return (item.lab.effective_date, str(item.lab.effective))


@dataclass(frozen=True, slots=True)
class MagnesiumStatus:
    status: str
    grade: int | None
    mmol_l: float
    lower_mmol_l: float
    upper_mmol_l: float
    rule: L
    site_rule: str | None
    unit_suspect: tuple[str, ...]


def _lab_interval_mmol(item: CheckedLab, knowledge: Knowledge) -> tuple[float, float] | None:
    lab = item.lab
    if lab.reference_low is None or lab.reference_high is None:
        return None
    return (
        convert(lab.reference_low, item.unit, "mmol/L", "magnesium", knowledge),
        convert(lab.reference_high, item.unit, "mmol/L", "magnesium", knowledge),
    )


def ctcae_grade(
    value: float, unit: str, lln_mmol: float, uln_mmol: float, knowledge: Knowledge
) -> int | None:
    """CTCAE v5 grade in the unit reported (mEq/L is graded as its exact mmol/L equivalent).
    A grade is given only beyond the limits of normal in use."""
    grading_unit = unit if unit in ("mg/dL", "mmol/L") else "mmol/L"
    graded_value = convert(value, unit, grading_unit, "magnesium", knowledge)
    lln = convert(lln_mmol, "mmol/L", grading_unit, "magnesium", knowledge)
    uln = convert(uln_mmol, "mmol/L", grading_unit, "magnesium", knowledge)
    if graded_value < lln:
        for grade in knowledge.ctcae_bounds("hypomagnesemia", grading_unit):
            lower_bound = lln if grade.bound == "LLN" else grade.bound
            if isinstance(lower_bound, float) and graded_value < lower_bound:
                return grade.grade
    if graded_value > uln:
        for grade in knowledge.ctcae_bounds("hypermagnesemia", grading_unit):
            upper_bound = uln if grade.bound == "ULN" else grade.bound
            if isinstance(upper_bound, float) and graded_value > upper_bound:
                return grade.grade
    return None


def magnesium_status(item: CheckedLab, knowledge: Knowledge) -> MagnesiumStatus:
    """Status of DESIGN.md section 3, using the lab's own interval when the result carries one."""
    serum = knowledge.thresholds.serum_magnesium
    mmol = item.canonical
    lab_interval = _lab_interval_mmol(item, knowledge)
    if lab_interval is not None:
        lower, upper = lab_interval
        low_normal_floor = lower
        rule = UI["lab_rule"]
        site_rule = None
    else:
        lower, upper = serum.deficiency_below.value, serum.normal_upper.value
        low_normal_floor = serum.normal_lower.value
        site_rule = next((fact.site_rule for _, fact in serum if fact.site_rule), None)
        rule = (
            L(f"site rule: {site_rule}", f"本机构规则：{site_rule}")
            if site_rule
            else UI["default_rule"]
        )
    grade = ctcae_grade(item.lab.value, item.unit, lower, upper, knowledge)
    if mmol < lower:
        severe = grade is not None and grade >= serum.severe_from_ctcae_grade.value
        status = "hypomagnesemia-severe" if severe else "hypomagnesemia"
    elif mmol < low_normal_floor:
        status = "low-normal"
    elif mmol >= serum.severe_excess_from.value:
        status = "hypermagnesemia-severe"
    elif mmol > upper:
        status = "hypermagnesemia"
    else:
        status = "normal"
    return MagnesiumStatus(
        status=status,
        grade=grade,
        mmol_l=mmol,
        lower_mmol_l=lower,
        upper_mmol_l=upper,
        rule=rule,
        site_rule=site_rule,
        unit_suspect=item.check.likely_units if item.check.suspect else (),
    )


LOW_MAGNESIUM = frozenset({"hypomagnesemia", "hypomagnesemia-severe"})
HIGH_MAGNESIUM = frozenset({"hypermagnesemia", "hypermagnesemia-severe"})


def potassium_is_low(item: CheckedLab, knowledge: Knowledge) -> tuple[bool, float | None, L]:
    """Low potassium by the lab's interval, its interpretation code, or a site limit.
    clinical.md gives no default, so without one of these the answer is 'not low'."""
    lab = item.lab
    if lab.reference_low is not None:
        limit = convert(lab.reference_low, item.unit, "mmol/L", "potassium", knowledge)
        return item.canonical < limit, limit, UI["lab_rule"]
    if lab.interpretation is not None and lab.interpretation.upper() in ("L", "LL", "LU"):
        return True, None, UI["lab_rule"]
    site_limit = knowledge.thresholds.potassium.lower_limit
    if site_limit is not None:
        rule = L(f"site rule: {site_limit.site_rule}", f"本机构规则：{site_limit.site_rule}")
        return item.canonical < site_limit.value, site_limit.value, rule
    return False, None, UI["lab_rule"]
