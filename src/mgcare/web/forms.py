"""Form checks for the web app: submitted text in, a typed value or per-field messages out.

Pure functions (no HTTP, no SQL) so every rule is testable on its own. Units and plausibility
go through `mgcare.units`, the same code the CLI and API use; a value impossible in its unit is
an error, a value that fits its unit but looks like a mislabel is a warning the user must
confirm. Messages are catalogue keys (`Msg`), rendered in the reader's language by the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from mgcare.diet.foods import FoodDatabase, UnknownFoodError
from mgcare.diet.log import MAX_GRAMS_PER_ENTRY
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import ConditionGroup, Drug
from mgcare.model import Coding, Condition, LabResult, Medication, Person
from mgcare.units import UnitError, check_value, parse_unit
from mgcare.validation import EARLIEST_RESULT, MAX_AGE_YEARS
from mgcare.web.i18n import Msg

T = TypeVar("T")

MAX_TEXT = 200
"""Longest name or identifier accepted from a form (the store's column width)."""
SOURCE = "web form"
SEXES = ("female", "male")
UNIT_LABELS: Mapping[str, str] = {
    "umol/L": "µmol/L",
    "meq/L": "mEq/L",
    "ug/dL": "µg/dL",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
}
"""How UCUM codes are shown to people (the form still submits the UCUM code)."""


def unit_label(unit: str) -> str:
    return UNIT_LABELS.get(unit, unit)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A checked form: `value` when it may be saved; otherwise errors and/or warnings.

    A warning blocks saving until the user ticks `confirm`, which is how a merely suspect value
    is saved deliberately rather than by accident."""

    value: T | None
    errors: dict[str, Msg] = field(default_factory=dict)
    warnings: dict[str, Msg] = field(default_factory=dict)


def _text(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def _confirmed(form: Mapping[str, str]) -> bool:
    return _text(form, "confirm").lower() in ("on", "1", "true", "yes")


def parse_number(text: str) -> float | None:
    """A finite number from a form; a lone decimal comma is read as a point ("0,8")."""
    cleaned = text.strip().replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _day(
    form: Mapping[str, str],
    name: str,
    errors: dict[str, Msg],
    *,
    today: date,
    required: bool,
    not_before: date | None = None,
    future_ok: bool = False,
    floor: date | None = EARLIEST_RESULT,
) -> date | None:
    """An ISO date field; errors name what is wrong (missing, malformed, future, too early)."""
    text = _text(form, name)
    if not text:
        if required:
            errors[name] = Msg.of("error_date_missing")
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[name] = Msg.of("error_date_invalid", value=text)
        return None
    bounds = [d for d in (floor, not_before) if d is not None]
    earliest = max(bounds) if bounds else None
    if day > today and not future_ok:
        errors[name] = Msg.of("error_date_future", value=text)
    elif earliest is not None and day < earliest:
        errors[name] = Msg.of("error_date_too_early", value=text, earliest=earliest.isoformat())
    return day


def _name(form: Mapping[str, str], name: str, errors: dict[str, Msg], *, required: bool) -> str:
    text = " ".join(_text(form, name).split())
    if required and not text:
        errors[name] = Msg.of("error_required")
    elif len(text) > MAX_TEXT:
        errors[name] = Msg.of("error_too_long", limit=MAX_TEXT)
    return text


# --- person ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewPerson:
    person: Person
    display_name: str


def check_person(form: Mapping[str, str], *, today: date) -> Outcome[NewPerson]:
    """Name, sex and birth date are needed (age chooses reference intakes and eGFR)."""
    errors: dict[str, Msg] = {}
    display_name = _name(form, "display_name", errors, required=True)
    external_id = _name(form, "external_id", errors, required=False)
    sex = _text(form, "sex")
    if sex not in SEXES:
        errors["sex"] = Msg.of("error_sex")
    birth = _day(form, "birth_date", errors, today=today, required=True, floor=None)
    if birth is not None and "birth_date" not in errors and today.year - birth.year > MAX_AGE_YEARS:
        errors["birth_date"] = Msg.of("error_birth_age", limit=MAX_AGE_YEARS)
    if errors:
        return Outcome(None, errors)
    person = Person(id=external_id or None, birth_date=birth, sex=sex)
    return Outcome(NewPerson(person, display_name))


# --- laboratory result -----------------------------------------------------------------------


def check_lab(
    form: Mapping[str, str], knowledge: Knowledge, *, today: date, birth_date: date | None
) -> Outcome[LabResult]:
    """Analyte, value, an explicitly chosen unit and a date; plausibility via mgcare.units."""
    errors: dict[str, Msg] = {}
    warnings: dict[str, Msg] = {}
    analyte_id = _text(form, "analyte")
    analyte = knowledge.analytes.get(analyte_id)
    if analyte is None:
        errors["analyte"] = Msg.of("error_analyte")
    value_text = _text(form, "value")
    value = parse_number(value_text) if value_text else None
    if not value_text:
        errors["value"] = Msg.of("error_required")
    elif value is None:
        errors["value"] = Msg.of("error_number", value=value_text)
    elif value <= 0:
        errors["value"] = Msg.of("error_positive")
    unit_text = _text(form, "unit")
    unit: str | None = None
    if not unit_text:
        errors["unit"] = Msg.of("error_unit_missing")
    elif analyte is not None:
        try:
            unit = parse_unit(unit_text, analyte.id, knowledge)
        except UnitError:
            allowed = ", ".join(unit_label(u) for u in analyte.units)
            errors["unit"] = Msg.of("error_unit_invalid", unit=unit_text, allowed=allowed)
    effective = _day(form, "effective", errors, today=today, required=True, not_before=birth_date)
    if analyte is not None and unit is not None and value is not None and "value" not in errors:
        check = check_value(value, unit, analyte.id, knowledge)
        shown = {"value": f"{value:g}", "unit": unit_label(unit)}
        likely = ", ".join(unit_label(u) for u in check.likely_units)
        if check.absurd:
            errors["value"] = Msg.of("error_value_absurd", **shown)
        elif check.implausible:
            errors["value"] = Msg.of("error_value_implausible", likely=likely, **shown)
        elif check.suspect and not _confirmed(form):
            warnings["value"] = Msg.of("warning_value_suspect", likely=likely, **shown)
    if errors or warnings or analyte is None or value is None or effective is None:
        return Outcome(None, errors, warnings)
    lab = LabResult(
        analyte=analyte.id,
        value=value,
        unit=unit,
        effective=effective,
        source=SOURCE,
    )
    return Outcome(lab, errors, warnings)


# --- medication ------------------------------------------------------------------------------


def find_drug(text: str, chosen: str, knowledge: Knowledge) -> Drug | None:
    """The pack drug picked from the suggestions (`chosen` id), else one named in `text`."""
    drug = knowledge.drugs_by_id.get(chosen)
    if drug is not None:
        return drug
    found = knowledge.drug_names.find(text)
    return found[0] if len(found) == 1 else None


def check_medication(
    form: Mapping[str, str], knowledge: Knowledge, *, today: date
) -> Outcome[Medication]:
    """A medicine mgcare knows is stored by its ATC code; an unknown name is kept as free text
    only after the user confirms that mgcare cannot check it for magnesium effects."""
    errors: dict[str, Msg] = {}
    warnings: dict[str, Msg] = {}
    name = _name(form, "name", errors, required=True)
    start = _day(form, "start", errors, today=today, required=False, future_ok=True)
    drug = find_drug(name, _text(form, "drug"), knowledge) if name else None
    if name and drug is None and "name" not in errors and not _confirmed(form):
        warnings["name"] = Msg.of("warning_drug_unknown", name=name)
    if errors or warnings:
        return Outcome(None, errors, warnings)
    codes: tuple[Coding, ...] = ()
    if drug is not None and drug.atc:
        codes = (Coding(system="atc", code=drug.atc[0], display=drug.name_en),)
    medication = Medication(
        name=drug.name_en if drug is not None else name,
        codes=codes,
        status="active",
        start=start,
        source=SOURCE,
    )
    return Outcome(medication)


# --- condition -------------------------------------------------------------------------------


def find_condition(text: str, chosen: str, knowledge: Knowledge) -> ConditionGroup | None:
    """The pack condition group picked (`chosen` id), else the one group `text` names (a text
    with an exclusion such as "history of" or "prediabetes" names none)."""
    group = knowledge.condition_groups.get(chosen)
    if group is not None:
        return group
    lowered = text.strip().lower()
    for candidate in knowledge.condition_groups.values():
        if lowered in (candidate.id, candidate.name_en.lower(), candidate.name_zh):
            return candidate
    if knowledge.condition_exclusions.find(text):
        return None
    ids = knowledge.condition_phrases.find(text)
    return knowledge.condition_groups.get(ids[0]) if len(ids) == 1 else None


def check_condition(
    form: Mapping[str, str], knowledge: Knowledge, *, today: date
) -> Outcome[Condition]:
    """A condition group from the pack (coded with its SNOMED id so the rules see it), or free
    text confirmed by the user."""
    errors: dict[str, Msg] = {}
    warnings: dict[str, Msg] = {}
    name = _name(form, "name", errors, required=True)
    onset = _day(form, "onset", errors, today=today, required=False)
    group = find_condition(name, _text(form, "group"), knowledge) if name else None
    if name and group is None and "name" not in errors and not _confirmed(form):
        warnings["name"] = Msg.of("warning_condition_unknown", name=name)
    if errors or warnings:
        return Outcome(None, errors, warnings)
    codes: tuple[Coding, ...] = ()
    if group is not None and group.snomed:
        codes = (Coding(system="snomed", code=group.snomed[0], display=group.name_en),)
    condition = Condition(
        name=group.name_en if group is not None else name,
        codes=codes,
        onset=onset,
        active=True,
        source=SOURCE,
    )
    return Outcome(condition)


# --- food-log entry --------------------------------------------------------------------------


def check_food(
    form: Mapping[str, str], foods: FoodDatabase, *, today: date
) -> Outcome[dict[str, Any]]:
    """A food chosen from the table (its SR28 number), grams eaten and the day: one food-log
    row in the DESIGN.md section 7 format plus its `date`."""
    errors: dict[str, Msg] = {}
    food_id = _text(form, "food_id")
    ndb_no: str | None = None
    if not food_id:
        errors["food_id"] = Msg.of("error_food_choose")
    elif food_id.startswith("custom:"):
        errors["food_id"] = Msg.of("error_food_unknown", food=food_id)
    else:
        try:
            ndb_no = foods.get(food_id).ndb_no
        except (UnknownFoodError, ValueError):
            errors["food_id"] = Msg.of("error_food_unknown", food=food_id)
    grams_text = _text(form, "grams")
    grams = parse_number(grams_text) if grams_text else None
    if not grams_text:
        errors["grams"] = Msg.of("error_required")
    elif grams is None:
        errors["grams"] = Msg.of("error_number", value=grams_text)
    elif grams <= 0:
        errors["grams"] = Msg.of("error_positive")
    elif grams > MAX_GRAMS_PER_ENTRY:
        errors["grams"] = Msg.of("error_grams_too_many", limit=f"{MAX_GRAMS_PER_ENTRY:g}")
    day = _day(form, "date", errors, today=today, required=True)
    if errors or ndb_no is None or grams is None or day is None:
        return Outcome(None, errors)
    return Outcome({"food": ndb_no, "amount": grams, "unit": "g", "date": day.isoformat()})
