"""Reference intakes by standard, age, sex and life stage; supplements as elemental magnesium.

Each expected figure is checked twice: against the clinical table (clinical.md section 3,
written out here) and against the knowledge pack row, so a change to either is caught.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgcare.diet.reference import (
    DEFAULT_STANDARD,
    UL_STANDARD,
    Reference,
    ReferenceError,
    UnknownSupplementError,
    elemental_magnesium_mg,
    find_salt,
    reference_intake,
)
from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.knowledge.models import ReferenceIntake, StandardId

STANDARDS: tuple[StandardId, ...] = ("cn-2023", "cn-2013", "us-iom-1997", "efsa-2015")
SALT_NAMES = [salt.name_en for salt in load_knowledge().salts.salt]


def pack_row(
    knowledge: Knowledge,
    standard: StandardId,
    age: float,
    sex: str,
    life_stage: str = "general",
    nutrient: str = "magnesium",
) -> ReferenceIntake:
    """The one pack row for this person (an oracle read straight from intakes.toml)."""
    rows = [
        row
        for row in knowledge.intakes.intake
        if row.standard == standard
        and row.nutrient == nutrient
        and row.life_stage == life_stage
        and row.sex in ("any", sex)
        and row.age_min <= age < row.age_max
    ]
    assert len(rows) == 1, f"expected one {standard} row for {age} {sex} {life_stage}: {rows}"
    return rows[0]


# --- US IOM 1997 ---------------------------------------------------------------------------


def test_iom_women_31_and_over(knowledge: Knowledge) -> None:
    ref = reference_intake(knowledge, "us-iom-1997", 45, "female")
    row = pack_row(knowledge, "us-iom-1997", 45, "female")
    assert (row.ear_mg, row.recommended_mg, row.ul_supplemental_mg) == (265, 320, 350)
    assert (ref.ear_mg, ref.recommended_mg, ref.ul_supplemental_mg) == (
        row.ear_mg,
        row.recommended_mg,
        row.ul_supplemental_mg,
    )
    assert ref.recommended_kind == "RDA"
    assert ref.standard == "us-iom-1997"
    assert ref.ul_standard == "us-iom-1997"
    assert ref.fallback_from is None
    assert ref.source == "IOM97"


def test_iom_men_19_to_30(knowledge: Knowledge) -> None:
    ref = reference_intake(knowledge, "us-iom-1997", 25, "male")
    row = pack_row(knowledge, "us-iom-1997", 25, "male")
    assert row.recommended_mg == 400
    assert row.ear_mg == 330
    assert ref.recommended_mg == row.recommended_mg
    assert ref.ear_mg == row.ear_mg


@pytest.mark.parametrize(
    ("sex", "age", "ear", "rda"),
    [
        ("female", 18.999, 300, 360),
        ("female", 19, 255, 310),
        ("female", 30.999, 255, 310),
        ("female", 31, 265, 320),
        ("male", 18.999, 340, 410),
        ("male", 19, 330, 400),
        ("male", 30.999, 330, 400),
        ("male", 31, 350, 420),
        ("male", 8.999, 110, 130),
        ("male", 9, 200, 240),
    ],
)
def test_iom_age_band_boundaries(
    knowledge: Knowledge, sex: str, age: float, ear: float, rda: float
) -> None:
    """Bands are [age_min, age_max): 30.999 is still 19-30, 31 is the 31+ band."""
    ref = reference_intake(knowledge, "us-iom-1997", age, sex)
    assert (ref.ear_mg, ref.recommended_mg) == (ear, rda)


@given(age=st.floats(min_value=19, max_value=31, exclude_max=True))
def test_iom_women_19_30_band_property(knowledge: Knowledge, age: float) -> None:
    assert reference_intake(knowledge, "us-iom-1997", age, "female").recommended_mg == 310


@given(age=st.floats(min_value=31, max_value=130))
def test_iom_women_31_plus_band_property(knowledge: Knowledge, age: float) -> None:
    ref = reference_intake(knowledge, "us-iom-1997", age, "female")
    assert (ref.ear_mg, ref.recommended_mg, ref.ul_supplemental_mg) == (265, 320, 350)


def test_iom_children_ul_is_lower_than_adult(knowledge: Knowledge) -> None:
    """IOM97 UL: 65 mg at 1-3 y, 110 mg at 4-8 y, none set for infants."""
    assert reference_intake(knowledge, "us-iom-1997", 2, "female").ul_supplemental_mg == 65
    assert reference_intake(knowledge, "us-iom-1997", 5, "male").ul_supplemental_mg == 110
    infant = reference_intake(knowledge, "us-iom-1997", 0.3, "male")
    assert infant.ul_supplemental_mg is None
    assert infant.ul_standard is None
    assert infant.recommended_kind == "AI"
    assert infant.ear_mg is None


def test_iom_pregnancy_row_replaces_general(knowledge: Knowledge) -> None:
    ref = reference_intake(knowledge, "us-iom-1997", 25, "female", "pregnancy")
    row = pack_row(knowledge, "us-iom-1997", 25, "female", "pregnancy")
    assert (row.ear_mg, row.recommended_mg) == (290, 350)
    assert (ref.ear_mg, ref.recommended_mg) == (row.ear_mg, row.recommended_mg)


def test_iom_adult_needs_sex(knowledge: Knowledge) -> None:
    """IOM97 adult values differ by sex: no sex, no reference (rather than a guess)."""
    with pytest.raises(ReferenceError, match="us-iom-1997"):
        reference_intake(knowledge, "us-iom-1997", 40, None)


# --- China 2023 and its fallback to China 2013 ---------------------------------------------


def test_china_2023_adult_30_64(knowledge: Knowledge) -> None:
    ref = reference_intake(knowledge, "cn-2023", 45, "male")
    row = pack_row(knowledge, "cn-2023", 45, "male")
    assert row.recommended_mg == 320
    assert row.ear_mg is None
    assert ref.recommended_mg == 320
    assert ref.recommended_kind == "RNI"
    assert ref.ear_mg is None  # China 2023 EAR is UNVERIFIED, so absent, never invented
    assert ref.standard == "cn-2023"
    assert ref.fallback_from is None


@pytest.mark.parametrize(
    ("age", "rni"),
    [(18, 330), (29.999, 330), (30, 320), (64.999, 320), (65, 310), (74.999, 310), (75, 300)],
)
def test_china_2023_age_band_boundaries(knowledge: Knowledge, age: float, rni: float) -> None:
    ref = reference_intake(knowledge, "cn-2023", age, "female")
    assert ref.recommended_mg == rni
    assert ref.recommended_mg == pack_row(knowledge, "cn-2023", age, "female").recommended_mg
    assert ref.fallback_from is None


@given(age=st.floats(min_value=30, max_value=65, exclude_max=True))
def test_china_2023_30_64_property(knowledge: Knowledge, age: float) -> None:
    ref = reference_intake(knowledge, "cn-2023", age, "male")
    assert (ref.standard, ref.recommended_mg, ref.ear_mg) == ("cn-2023", 320, None)


def test_china_2023_child_falls_back_to_2013_and_says_so(knowledge: Knowledge) -> None:
    ref = reference_intake(knowledge, "cn-2023", 10, "male")
    row = pack_row(knowledge, "cn-2013", 10, "male")
    assert row.recommended_mg == 220
    assert ref.recommended_mg == 220
    assert ref.ear_mg == row.ear_mg == 180
    assert ref.standard == "cn-2013"
    assert ref.fallback_from == "cn-2023"
    assert ref.source == "CN13"
    assert "2013" in ref.standard_name.en
    assert "2013" in ref.standard_name.zh


def test_china_2023_boundary_with_childhood(knowledge: Knowledge) -> None:
    """17.999 is a 14-17 year old (China 2013 fallback); 18 is a China 2023 adult."""
    teen = reference_intake(knowledge, "cn-2023", 17.999, "female")
    adult = reference_intake(knowledge, "cn-2023", 18, "female")
    assert (teen.standard, teen.fallback_from, teen.recommended_mg) == ("cn-2013", "cn-2023", 320)
    assert (adult.standard, adult.fallback_from, adult.recommended_mg) == ("cn-2023", None, 330)


@given(age=st.floats(min_value=0, max_value=18, exclude_max=True))
@settings(max_examples=60)
def test_china_2023_everyone_under_18_falls_back(knowledge: Knowledge, age: float) -> None:
    ref = reference_intake(knowledge, "cn-2023", age, "male")
    assert ref.fallback_from == "cn-2023"
    assert ref.standard == "cn-2013"
    assert ref.recommended_mg == pack_row(knowledge, "cn-2013", age, "male").recommended_mg


def test_china_2023_pregnancy_falls_back_to_2013_increment(knowledge: Knowledge) -> None:
    ref = reference_intake(knowledge, "cn-2023", 28, "female", "pregnancy")
    assert ref.fallback_from == "cn-2023"
    assert ref.standard == "cn-2013"
    assert ref.recommended_mg == 330 + 40


def test_china_2013_pregnancy_adds_40_rni(knowledge: Knowledge) -> None:
    base = reference_intake(knowledge, "cn-2013", 28, "female")
    pregnant = reference_intake(knowledge, "cn-2013", 28, "female", "pregnancy")
    increment = pack_row(knowledge, "cn-2013", 28, "female", "pregnancy")
    assert increment.increment
    assert (increment.recommended_mg, increment.ear_mg) == (40, 30)
    assert base.recommended_mg == 330
    assert pregnant.recommended_mg == base.recommended_mg + 40
    assert base.ear_mg is not None
    assert pregnant.ear_mg == base.ear_mg + 30
    assert pregnant.fallback_from is None


def test_china_2013_lactation_adds_nothing(knowledge: Knowledge) -> None:
    base = reference_intake(knowledge, "cn-2013", 28, "female")
    lactating = reference_intake(knowledge, "cn-2013", 28, "female", "lactation")
    assert (lactating.ear_mg, lactating.recommended_mg) == (base.ear_mg, base.recommended_mg)


def test_china_2013_pregnancy_applies_to_teenagers_too(knowledge: Knowledge) -> None:
    ref = reference_intake(knowledge, "cn-2013", 16, "female", "pregnancy")
    assert ref.recommended_mg == 320 + 40


# --- EFSA 2015 --------------------------------------------------------------------------


def test_efsa_adult_women_ai_300_without_ear(knowledge: Knowledge) -> None:
    ref = reference_intake(knowledge, "efsa-2015", 40, "female")
    row = pack_row(knowledge, "efsa-2015", 40, "female")
    assert row.recommended_mg == 300
    assert row.ear_mg is None
    assert ref.recommended_mg == 300
    assert ref.recommended_kind == "AI"
    assert ref.ear_mg is None


def test_efsa_adult_men_ai_350(knowledge: Knowledge) -> None:
    assert reference_intake(knowledge, "efsa-2015", 40, "male").recommended_mg == 350


@pytest.mark.parametrize(("age", "ai"), [(17.999, 250), (18, 300), (9.999, 230), (10, 250)])
def test_efsa_girls_boundaries(knowledge: Knowledge, age: float, ai: float) -> None:
    assert reference_intake(knowledge, "efsa-2015", age, "female").recommended_mg == ai


# --- upper limit of supplemental magnesium ---------------------------------------------


@pytest.mark.parametrize("standard", ["cn-2023", "cn-2013", "efsa-2015"])
def test_ul_comes_from_iom_when_the_standard_sets_none(
    knowledge: Knowledge, standard: StandardId
) -> None:
    ref = reference_intake(knowledge, standard, 40, "female")
    assert ref.ul_supplemental_mg == 350
    assert ref.ul_standard == UL_STANDARD == "us-iom-1997"
    own_rows = [
        row
        for row in knowledge.intakes.intake
        if row.standard == standard and row.nutrient == "magnesium"
    ]
    assert all(row.ul_supplemental_mg is None for row in own_rows)


def test_ul_for_a_child_under_china_fallback_is_the_child_ul(knowledge: Knowledge) -> None:
    """A 2-year-old under China 2023 falls back to China 2013 (no UL), so the IOM 1-3 y UL
    of 65 mg applies, not the adult 350 mg."""
    ref = reference_intake(knowledge, "cn-2023", 2, "male")
    assert ref.ul_supplemental_mg == 65
    assert ref.ul_standard == "us-iom-1997"


def test_ul_does_not_depend_on_sex_for_adults(knowledge: Knowledge) -> None:
    """IOM97 sets the same UL (350 mg) for men and women from 9 years, so an `assess` record
    without sex still gets its supplement checked against the UL."""
    ref = reference_intake(knowledge, "cn-2023", 40, None)
    assert ref.recommended_mg == 320
    assert ref.ul_supplemental_mg == 350


def test_default_standard_by_language() -> None:
    assert DEFAULT_STANDARD == {"en": "us-iom-1997", "zh": "cn-2023"}


# --- every pack row is reachable --------------------------------------------------------


@given(
    standard=st.sampled_from(STANDARDS),
    sex=st.sampled_from(["male", "female"]),
    age=st.floats(min_value=0, max_value=130),
)
@settings(max_examples=300)
def test_general_lookup_matches_pack_row(
    knowledge: Knowledge, standard: StandardId, sex: str, age: float
) -> None:
    """For anyone the pack covers, the result is that pack row; otherwise a ReferenceError
    (or, for China 2023, the China 2013 row with fallback_from set)."""
    candidates = [
        row
        for row in knowledge.intakes.intake
        if row.standard == standard
        and row.nutrient == "magnesium"
        and row.life_stage == "general"
        and row.sex in ("any", sex)
        and row.age_min <= age < row.age_max
    ]
    if not candidates and standard == "cn-2023":
        ref = reference_intake(knowledge, standard, age, sex)
        assert ref.fallback_from == "cn-2023"
        assert ref.recommended_mg == pack_row(knowledge, "cn-2013", age, sex).recommended_mg
        return
    if not candidates:
        with pytest.raises(ReferenceError):
            reference_intake(knowledge, standard, age, sex)
        return
    assert len(candidates) == 1
    row = candidates[0]
    ref = reference_intake(knowledge, standard, age, sex)
    assert isinstance(ref, Reference)
    assert (ref.ear_mg, ref.recommended_mg, ref.recommended_kind) == (
        row.ear_mg,
        row.recommended_mg,
        row.recommended_kind,
    )
    assert ref.standard == standard
    if row.ul_supplemental_mg is not None:
        assert ref.ul_supplemental_mg == row.ul_supplemental_mg


def test_recommended_is_never_below_ear(knowledge: Knowledge) -> None:
    for row in knowledge.intakes.intake:
        if row.ear_mg is not None and not row.increment:
            assert row.recommended_mg >= row.ear_mg, row


# --- supplements as elemental magnesium -------------------------------------------------


def test_400_mg_magnesium_oxide(knowledge: Knowledge) -> None:
    salt = find_salt("magnesium oxide", knowledge)
    assert salt.elemental_fraction == 0.603
    elemental = elemental_magnesium_mg(knowledge, "magnesium oxide", dose_mg=400)
    assert elemental == pytest.approx(0.603 * 400)
    assert round(elemental) == 241  # the MUSC label cross-check in clinical.md 4.3


@pytest.mark.parametrize("name", ["MgO", "Magnesium Oxide", "  magnesium oxide ", "氧化镁"])
def test_salt_names_resolve_case_insensitively(knowledge: Knowledge, name: str) -> None:
    assert elemental_magnesium_mg(knowledge, name, dose_mg=400) == pytest.approx(241.2)


def test_label_elemental_amount_wins(knowledge: Knowledge) -> None:
    assert (
        elemental_magnesium_mg(knowledge, "magnesium oxide", dose_mg=400, elemental_mg=250) == 250
    )
    assert elemental_magnesium_mg(knowledge, "magnesium citrate", elemental_mg=100) == 100


@pytest.mark.parametrize("name", SALT_NAMES)
def test_every_salt_uses_its_pack_fraction(knowledge: Knowledge, name: str) -> None:
    salt = find_salt(name, knowledge)
    assert elemental_magnesium_mg(knowledge, name, dose_mg=1000) == pytest.approx(
        1000 * salt.elemental_fraction
    )


def test_unknown_salt_lists_known_salts(knowledge: Knowledge) -> None:
    with pytest.raises(UnknownSupplementError) as caught:
        elemental_magnesium_mg(knowledge, "magnesium unobtainate", dose_mg=100)
    message = str(caught.value)
    assert "magnesium unobtainate" in message
    for salt in knowledge.salts.salt:
        assert salt.name_en in message


def test_unknown_salt_is_rejected_even_with_label_amount(knowledge: Knowledge) -> None:
    with pytest.raises(UnknownSupplementError):
        elemental_magnesium_mg(knowledge, "magnesium unobtainate", elemental_mg=100)


def test_supplement_without_dose(knowledge: Knowledge) -> None:
    with pytest.raises(ValueError, match="dose_mg"):
        elemental_magnesium_mg(knowledge, "magnesium oxide")


@pytest.mark.parametrize(("dose", "elemental"), [(-1.0, None), (None, -1.0)])
def test_negative_doses_are_rejected(
    knowledge: Knowledge, dose: float | None, elemental: float | None
) -> None:
    with pytest.raises(ValueError, match="negative"):
        elemental_magnesium_mg(knowledge, "magnesium oxide", dose_mg=dose, elemental_mg=elemental)
