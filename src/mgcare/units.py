"""Units of laboratory values: the one place where concentrations are parsed, converted and checked.

Units are a safety issue: Mg 1.8 is normal in mg/dL and grade-3 hypermagnesaemia in mmol/L.
So a value always carries a UCUM unit, conversions go through molar mass and valence from the
knowledge pack, and a value that does not fit its unit is reported, never silently re-labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import Analyte
from mgcare.knowledge.pack import normalise_unit_spelling

MOLAR_UNIT = "mmol/L"


class UnitError(ValueError):
    """A unit is missing, unknown, or not valid for the analyte."""


def parse_unit(unit: str | None, analyte_id: str, knowledge: Knowledge) -> str:
    """The UCUM code of a unit spelling, checked against the units allowed for the analyte."""
    analyte = knowledge.analytes[analyte_id]
    if unit is None or not unit.strip():
        raise UnitError(f"{analyte.name_en} value has no unit")
    ucum = knowledge.unit_aliases.get(normalise_unit_spelling(unit))
    if ucum is None or ucum not in analyte.units:
        allowed = ", ".join(analyte.units)
        raise UnitError(f"unit {unit!r} is not valid for {analyte.name_en} (use one of: {allowed})")
    return ucum


def _to_mmol_factor(unit: str, analyte: Analyte) -> float:
    """Multiply a value in `unit` by this to get mmol/L."""
    if unit == MOLAR_UNIT:
        return 1.0
    if unit == "umol/L":
        return 1e-3
    if unit == "meq/L":
        if analyte.valence <= 0:
            raise UnitError(f"{analyte.name_en} has no equivalent unit")
        return 1.0 / analyte.valence
    if unit in ("mg/dL", "ug/dL"):
        if analyte.molar_mass_g_mol <= 0:
            raise UnitError(f"{analyte.name_en} has no molar mass for mass units")
        per_mg_dl = 10.0 / analyte.molar_mass_g_mol
        return per_mg_dl if unit == "mg/dL" else per_mg_dl * 1e-3
    raise UnitError(f"no conversion for {unit} ({analyte.name_en})")


def convert(
    value: float, from_unit: str, to_unit: str, analyte_id: str, knowledge: Knowledge
) -> float:
    """Convert between two UCUM units of the same analyte (parse the units first)."""
    if from_unit == to_unit:
        return value
    analyte = knowledge.analytes[analyte_id]
    for unit in (from_unit, to_unit):
        if unit not in analyte.units:
            raise UnitError(f"unit {unit!r} is not valid for {analyte.name_en}")
    return value * _to_mmol_factor(from_unit, analyte) / _to_mmol_factor(to_unit, analyte)


def to_canonical(value: float, unit: str, analyte_id: str, knowledge: Knowledge) -> float:
    """The value in the analyte's canonical unit (mmol/L for electrolytes)."""
    analyte = knowledge.analytes[analyte_id]
    return convert(value, unit, analyte.canonical_unit, analyte_id, knowledge)


@dataclass(frozen=True, slots=True)
class UnitCheck:
    """Outcome of checking a value against its stated unit.

    `implausible`: impossible in the stated unit (leave it out). `likely_units`: units in which
    the number would be plausible (implausible) or typical (suspect). `suspect`: plausible, but
    outside the typical interval in its unit and typical in another, a classic mislabel pattern.
    """

    implausible: bool
    suspect: bool
    likely_units: tuple[str, ...]
    absurd: bool


def check_value(value: float, unit: str, analyte_id: str, knowledge: Knowledge) -> UnitCheck:
    """Plausibility of a positive value in its (parsed) unit."""
    analyte = knowledge.analytes[analyte_id]
    canonical = to_canonical(value, unit, analyte_id, knowledge)
    plausible = analyte.plausible_low <= canonical <= analyte.plausible_high
    other_units = [u for u in analyte.units if u != unit]
    if not plausible:
        alternatives = tuple(
            u
            for u in other_units
            if analyte.plausible_low
            <= to_canonical(value, u, analyte_id, knowledge)
            <= analyte.plausible_high
        )
        return UnitCheck(
            implausible=True, suspect=False, likely_units=alternatives, absurd=not alternatives
        )
    has_typical = analyte.typical_high > analyte.typical_low > 0
    if not has_typical or analyte.typical_low <= canonical <= analyte.typical_high:
        return UnitCheck(implausible=False, suspect=False, likely_units=(), absurd=False)
    typical_elsewhere = tuple(
        u
        for u in other_units
        if analyte.typical_low
        <= to_canonical(value, u, analyte_id, knowledge)
        <= analyte.typical_high
    )
    return UnitCheck(
        implausible=False,
        suspect=bool(typical_elsewhere),
        likely_units=typical_elsewhere,
        absurd=False,
    )
