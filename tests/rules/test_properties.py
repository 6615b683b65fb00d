"""Property tests of the rules: status monotone in value, CTCAE boundaries in both units."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mgcare.knowledge import load_knowledge
from mgcare.rules.labs import CheckedLab, ctcae_grade, magnesium_status
from mgcare.units import check_value, convert
from tests.conftest import mg

KNOWLEDGE = load_knowledge()
ORDER = [
    "hypomagnesemia-severe",
    "hypomagnesemia",
    "low-normal",
    "normal",
    "hypermagnesemia",
    "hypermagnesemia-severe",
]


def status_of(value: float, unit: str) -> str:
    lab = mg(value, unit)
    checked = CheckedLab(
        lab,
        unit,
        convert(value, unit, "mmol/L", "magnesium", KNOWLEDGE),
        check_value(value, unit, "magnesium", KNOWLEDGE),
    )
    return magnesium_status(checked, KNOWLEDGE).status


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["mmol/L", "mg/dL", "meq/L"]),
    st.floats(min_value=0.05, max_value=10),
    st.floats(min_value=0.05, max_value=10),
)
def test_status_is_monotone_in_value(unit: str, a: float, b: float) -> None:
    """A higher serum Mg never gets a lower status (within one unit)."""
    low, high = sorted((a, b))
    assert ORDER.index(status_of(low, unit)) <= ORDER.index(status_of(high, unit))


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.05, max_value=10), st.floats(min_value=0.05, max_value=10))
def test_grade_is_monotone_below_normal(a: float, b: float) -> None:
    """Lower values never get a lower hypomagnesaemia grade (mmol/L and mg/dL)."""
    serum = KNOWLEDGE.thresholds.serum_magnesium
    lln, uln = serum.deficiency_below.value, serum.normal_upper.value
    for unit in ("mmol/L", "mg/dL"):
        low, high = sorted((a, b))
        g_low = ctcae_grade(low, unit, lln, uln, KNOWLEDGE) or 0
        g_high = ctcae_grade(high, unit, lln, uln, KNOWLEDGE) or 0
        if convert(high, unit, "mmol/L", "magnesium", KNOWLEDGE) < lln:
            assert g_low >= g_high


def test_ctcae_boundaries_both_units() -> None:
    """CTCAE v5 (clinical.md 5.2): each bound is exclusive ('<'/'>') in its own unit. Uses a
    lab-style upper limit (1.0 mmol/L) because the review's 1.25 lies above the grade-3 bound."""
    lln, uln = KNOWLEDGE.thresholds.serum_magnesium.deficiency_below.value, 1.0
    for grade in KNOWLEDGE.ctcae:
        if isinstance(grade.bound, str):
            continue
        bound = grade.bound
        unit = grade.unit
        if grade.term == "hypomagnesemia":
            assert (ctcae_grade(bound * 0.999, unit, lln, uln, KNOWLEDGE) or 0) >= grade.grade
            assert (ctcae_grade(bound, unit, lln, uln, KNOWLEDGE) or 0) < grade.grade
        else:
            assert (ctcae_grade(bound * 1.001, unit, lln, uln, KNOWLEDGE) or 0) >= grade.grade
            assert (ctcae_grade(bound, unit, lln, uln, KNOWLEDGE) or 0) < grade.grade
