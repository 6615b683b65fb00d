"""Form checks (pure): units must be chosen, values must fit their unit, dates must be real."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from mgcare.diet.foods import load_food_database
from mgcare.knowledge import Knowledge
from mgcare.units import check_value, parse_unit
from mgcare.web.forms import (
    check_condition,
    check_food,
    check_lab,
    check_medication,
    check_person,
    parse_number,
)

TODAY = date(2026, 11, 25)


def lab_form(**fields: str) -> dict[str, str]:
    return {
        "analyte": "magnesium",
        "value": "0.8",
        "unit": "mmol/L",
        "effective": "2026-11-20",
        **fields,
    }


def test_a_good_lab_result(knowledge: Knowledge) -> None:
    outcome = check_lab(lab_form(), knowledge, today=TODAY, birth_date=date(1960, 1, 1))
    assert outcome.value is not None
    assert outcome.value.unit == "mmol/L"
    assert outcome.value.value == 0.8
    assert not outcome.errors and not outcome.warnings


def test_lab_field_errors(knowledge: Knowledge) -> None:
    cases = {
        "unit": lab_form(unit=""),
        "analyte": lab_form(analyte="sodium"),
        "value": lab_form(value="abc"),
        "effective": lab_form(effective="2026-13-01"),
    }
    for field, form in cases.items():
        outcome = check_lab(form, knowledge, today=TODAY, birth_date=None)
        assert outcome.value is None
        assert field in outcome.errors, field
    wrong_unit = check_lab(lab_form(unit="umol/L"), knowledge, today=TODAY, birth_date=None)
    assert wrong_unit.errors["unit"].key == "error_unit_invalid"
    future = check_lab(lab_form(effective="2026-12-01"), knowledge, today=TODAY, birth_date=None)
    assert future.errors["effective"].key == "error_date_future"
    before_birth = check_lab(lab_form(), knowledge, today=TODAY, birth_date=date(2026, 11, 21))
    assert before_birth.errors["effective"].key == "error_date_too_early"
    assert check_lab(lab_form(value="-1"), knowledge, today=TODAY, birth_date=None).errors


def test_decimal_comma_is_read() -> None:
    assert parse_number("0,8") == 0.8
    assert parse_number("1,000.5") is None or parse_number("1,000.5") == 1000.5
    assert parse_number("nan") is None
    assert parse_number("inf") is None


UNIT_CASES = st.sampled_from(
    [
        (a, u)
        for a in ("magnesium", "calcium", "potassium", "creatinine")
        for u in ("mmol/L", "mg/dL", "meq/L", "umol/L")
    ]
)


@given(case=UNIT_CASES, value=st.floats(min_value=0.001, max_value=5000, allow_nan=False))
def test_lab_check_agrees_with_the_units_module(
    knowledge: Knowledge, case: tuple[str, str], value: float
) -> None:
    """Saved only when mgcare.units accepts the unit and finds the value plausible; a suspect
    value only with confirmation; never an error for a value the units module finds fine."""
    analyte, unit = case
    form = lab_form(analyte=analyte, unit=unit, value=repr(value))
    outcome = check_lab(form, knowledge, today=TODAY, birth_date=None)
    try:
        ucum = parse_unit(unit, analyte, knowledge)
    except ValueError:
        assert "unit" in outcome.errors
        return
    check = check_value(value, ucum, analyte, knowledge)
    if check.implausible:
        assert outcome.value is None
        assert outcome.errors["value"].key in ("error_value_implausible", "error_value_absurd")
    elif check.suspect:
        assert outcome.value is None
        assert outcome.warnings["value"].key == "warning_value_suspect"
        confirmed = check_lab({**form, "confirm": "on"}, knowledge, today=TODAY, birth_date=None)
        assert confirmed.value is not None
    else:
        assert outcome.value is not None
        assert outcome.value.value == value


def test_person_form() -> None:
    good = check_person(
        {"display_name": " Li  Hua ", "sex": "male", "birth_date": "1950-02-03", "external_id": ""},
        today=TODAY,
    )
    assert good.value is not None
    assert good.value.display_name == "Li Hua"
    assert good.value.person.id is None
    old = check_person(
        {"display_name": "x", "sex": "male", "birth_date": "1880-01-01"}, today=TODAY
    )
    assert old.errors["birth_date"].key == "error_birth_age"
    long = check_person(
        {"display_name": "x" * 201, "sex": "female", "birth_date": "1990-01-01"}, today=TODAY
    )
    assert long.errors["display_name"].key == "error_too_long"


def test_medication_known_by_chinese_name_and_unknown_needs_confirmation(
    knowledge: Knowledge,
) -> None:
    known = check_medication({"name": "呋塞米"}, knowledge, today=TODAY)
    assert known.value is not None
    assert known.value.name == "furosemide"
    assert known.value.codes and known.value.codes[0].system == "atc"
    picked = check_medication({"name": "whatever", "drug": "furosemide"}, knowledge, today=TODAY)
    assert picked.value is not None and picked.value.name == "furosemide"
    unknown = check_medication({"name": "Zzyzxomab"}, knowledge, today=TODAY)
    assert unknown.value is None and unknown.warnings["name"].key == "warning_drug_unknown"
    confirmed = check_medication({"name": "Zzyzxomab", "confirm": "on"}, knowledge, today=TODAY)
    assert confirmed.value is not None and confirmed.value.codes == ()
    assert check_medication({"name": ""}, knowledge, today=TODAY).errors["name"].key == (
        "error_required"
    )


def test_condition_group_by_phrase_but_not_with_an_exclusion(knowledge: Knowledge) -> None:
    heart = check_condition({"name": "心衰"}, knowledge, today=TODAY)
    assert heart.value is not None and heart.value.name == "heart failure"
    excluded = check_condition({"name": "prediabetes"}, knowledge, today=TODAY)
    assert excluded.value is None and "name" in excluded.warnings
    future = check_condition({"name": "diabetes", "onset": "2030-01-01"}, knowledge, today=TODAY)
    assert future.errors["onset"].key == "error_date_future"


def test_food_entry() -> None:
    foods = load_food_database()
    good = check_food(
        {"food_id": "11457", "grams": "120", "date": "2026-11-24"}, foods, today=TODAY
    )
    assert good.value == {"food": "11457", "amount": 120.0, "unit": "g", "date": "2026-11-24"}
    for food_id in ("", "99999", "custom:thing", "abc"):
        outcome = check_food(
            {"food_id": food_id, "grams": "1", "date": "2026-11-24"}, foods, today=TODAY
        )
        assert "food_id" in outcome.errors, food_id
    too_much = check_food(
        {"food_id": "11457", "grams": "6000", "date": "2026-11-24"}, foods, today=TODAY
    )
    assert too_much.errors["grams"].key == "error_grams_too_many"
