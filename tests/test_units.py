"""Units are a safety issue: conversions round-trip, mislabels are caught, nothing is guessed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.units import UnitError, check_value, convert, parse_unit

KNOWLEDGE = load_knowledge()
UNIT_PAIRS = [
    (analyte.id, a, b)
    for analyte in KNOWLEDGE.units.analyte
    for a in analyte.units
    for b in analyte.units
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(UNIT_PAIRS), st.floats(min_value=1e-3, max_value=1e4))
def test_conversion_round_trips(pair: tuple[str, str, str], value: float) -> None:
    """Any unit to any other unit of the same analyte and back gives the value again."""
    analyte, a, b = pair
    there = convert(value, a, b, analyte, KNOWLEDGE)
    assert convert(there, b, a, analyte, KNOWLEDGE) == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "mmol"),
    [
        ("magnesium", 2.4305, "mg/dL", 1.0),
        ("magnesium", 2.0, "meq/L", 1.0),
        ("calcium", 4.0078, "mg/dL", 1.0),
        ("potassium", 4.0, "meq/L", 4.0),
    ],
)
def test_conversion_factors_match_clinical_md(
    analyte: str, value: float, unit: str, mmol: float
) -> None:
    """clinical.md 4.2: Mg 1 mmol/L = 2.4305 mg/dL = 2 mEq/L; Ca 1 mmol/L = 4.008 mg/dL; K is monovalent."""
    assert convert(value, unit, "mmol/L", analyte, KNOWLEDGE) == pytest.approx(mmol, rel=1e-4)


def test_creatinine_factor() -> None:
    """clinical.md 4.2 / 8.1: creatinine umol/L = mg/dL x 88.4."""
    assert convert(1.0, "mg/dL", "umol/L", "creatinine", KNOWLEDGE) == pytest.approx(88.4, rel=1e-3)


@pytest.mark.parametrize("spelling", ["mmol/L", "mmol/l", "MMOL/L", " mmol/L "])
def test_unit_spellings(spelling: str) -> None:
    assert parse_unit(spelling, "magnesium", KNOWLEDGE) == "mmol/L"


@pytest.mark.parametrize("spelling", ["µmol/L", "μmol/L", "umol/L"])
def test_micro_signs(spelling: str) -> None:
    """Micro sign and Greek mu both mean micro."""
    assert parse_unit(spelling, "creatinine", KNOWLEDGE) == "umol/L"


@pytest.mark.parametrize(
    ("unit", "analyte"),
    [
        (None, "magnesium"),
        ("", "magnesium"),
        ("furlongs", "magnesium"),
        ("umol/L", "magnesium"),
        ("mg/dL", "potassium"),
    ],
)
def test_missing_or_wrong_unit_is_an_error(unit: str | None, analyte: str) -> None:
    """A value without a unit, or with a unit not valid for the analyte, is an input error."""
    with pytest.raises(UnitError):
        parse_unit(unit, analyte, KNOWLEDGE)


def test_calcium_mislabel_is_implausible_and_suggests_mg_dl() -> None:
    """clinical.md 4.2: Ca 9.4 'mmol/L' is impossible; plausible in mg/dL."""
    check = check_value(9.4, "mmol/L", "calcium", KNOWLEDGE)
    assert check.implausible and not check.absurd
    assert "mg/dL" in check.likely_units


def test_magnesium_overlap_is_suspect_not_guessed() -> None:
    """clinical.md 4.2: 1.8 is normal in mg/dL and grade 3 in mmol/L; flag, do not convert."""
    check = check_value(1.8, "mmol/L", "magnesium", KNOWLEDGE)
    assert not check.implausible and check.suspect
    assert "mg/dL" in check.likely_units


def test_absurd_in_every_unit() -> None:
    check = check_value(50000, "mg/dL", "magnesium", KNOWLEDGE)
    assert check.implausible and check.absurd


def test_typical_value_is_clean(knowledge: Knowledge) -> None:
    check = check_value(0.85, "mmol/L", "magnesium", knowledge)
    assert not (check.implausible or check.suspect)
