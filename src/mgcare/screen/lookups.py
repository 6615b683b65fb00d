"""Small lookup tables computed in Python from the knowledge pack and the DISTINCT codes of the
input, with the core's own functions, so the batch classifies every value exactly as `assess`.

Loops here run over distinct (LOINC, unit) pairs, medication codes and condition codes, never
over persons or rows.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import Analyte
from mgcare.model import Coding, Condition, Medication
from mgcare.rules.conditions import condition_groups
from mgcare.rules.medications import identify
from mgcare.units import MOLAR_UNIT, UnitError, _to_mmol_factor, parse_unit

MEDICATION_SYSTEMS = ("atc", "rxnorm", "text")
CONDITION_SYSTEMS = ("icd10", "snomed", "text")


@dataclass(frozen=True, slots=True)
class Conversion:
    """How `mgcare.units.convert` turns a value in `source` into `target`: identity when the
    units are equal, else `value * multiply / divide` (the same two roundings as the core)."""

    identity: bool
    multiply: float
    divide: float


def conversion(source: str, target: str, analyte: Analyte) -> Conversion:
    if source == target:
        return Conversion(True, 1.0, 1.0)
    return Conversion(False, _to_mmol_factor(source, analyte), _to_mmol_factor(target, analyte))


def apply(conv: Conversion, value: float) -> float:
    """The conversion with the core's two roundings (value * multiply, then / divide)."""
    return value if conv.identity else value * conv.multiply / conv.divide


_LARGEST = struct.unpack("<q", struct.pack("<d", float("inf")))[0] - 1
EMPTY = (1.0, 0.0)
"""An interval no value lies in."""


def _double(bits: int) -> float:
    return float(struct.unpack("<d", struct.pack("<q", bits))[0])


def _first(predicate: Callable[[float], bool]) -> int | None:
    """Bits of the smallest positive double for which a monotone predicate holds."""
    low, high = 1, _LARGEST
    if not predicate(_double(high)):
        return None
    while low < high:
        mid = (low + high) // 2
        if predicate(_double(mid)):
            high = mid
        else:
            low = mid + 1
    return low


def value_interval(conv: Conversion, low: float, high: float) -> tuple[float, float]:
    """The positive values v with low <= convert(v) <= high, as [v_low, v_high]. Conversion is
    monotone, so the set is an interval; found by bisection over doubles with the core's own
    arithmetic, so `v_low <= v <= v_high` in SQL decides exactly what the core decides, without
    converting every row."""
    start = _first(lambda v: apply(conv, v) >= low)
    end = _first(lambda v: apply(conv, v) > high)
    if start is None:
        return EMPTY
    last = _LARGEST if end is None else end - 1
    if last < start:
        return EMPTY
    return _double(start), _double(last)


def max_alternatives(knowledge: Knowledge) -> int:
    """The most other units any analyte has (columns of the lab map)."""
    return max((len(a.units) - 1 for a in knowledge.analytes.values()), default=0)


def mislabel_units(knowledge: Knowledge) -> tuple[str, ...]:
    """Units of analytes with a typical interval: only these can be 'suspect' (core check_value),
    so only they take part in same-day mislabel corroboration."""
    units: set[str] = set()
    for analyte in knowledge.analytes.values():
        if analyte.typical_high > analyte.typical_low > 0:
            units.update(analyte.units)
    return tuple(sorted(units))


LabReason = Literal["loinc-missing", "loinc-not-screened", "unit-not-valid-for-analyte"]


@dataclass(frozen=True, slots=True)
class LabMapRow:
    loinc: str
    unit_raw: str
    analyte: str
    ucum: str
    canon: Conversion
    plausible_low: float
    plausible_high: float
    typical_low: float
    typical_high: float
    has_typical: bool
    alternatives: tuple[tuple[str, Conversion], ...]

    def intervals(self) -> dict[str, tuple[float, float]]:
        """Value intervals (in the row's own unit) for plausible and typical, own and each other
        unit (alt1, alt2, ...), as `mgcare.units.check_value` tests them."""
        out = {
            "p": value_interval(self.canon, self.plausible_low, self.plausible_high),
            "t": value_interval(self.canon, self.typical_low, self.typical_high)
            if self.has_typical
            else EMPTY,
        }
        for index, (_, conv) in enumerate(self.alternatives, start=1):
            out[f"a{index}p"] = value_interval(conv, self.plausible_low, self.plausible_high)
            out[f"a{index}t"] = (
                value_interval(conv, self.typical_low, self.typical_high)
                if self.has_typical
                else EMPTY
            )
        return out


def lab_map(
    pairs: Iterable[tuple[str | None, str | None]], knowledge: Knowledge
) -> tuple[list[LabMapRow], dict[tuple[str | None, str | None], LabReason]]:
    """For each distinct (LOINC, unit spelling): the analyte, UCUM unit and conversion constants,
    or the reason the rows are left out (unknown LOINC, unit not valid for the analyte)."""
    rows: list[LabMapRow] = []
    rejected: dict[tuple[str | None, str | None], LabReason] = {}
    for loinc, unit in pairs:
        if loinc is None:
            rejected[(loinc, unit)] = "loinc-missing"
            continue
        code = knowledge.loinc.get(loinc)
        if code is None or code.analyte not in knowledge.analytes:
            rejected[(loinc, unit)] = "loinc-not-screened"
            continue
        analyte = knowledge.analytes[code.analyte]
        try:
            ucum = parse_unit(unit, analyte.id, knowledge)
        except UnitError:
            rejected[(loinc, unit)] = "unit-not-valid-for-analyte"
            continue
        assert unit is not None
        others = tuple(
            (other, conversion(other, analyte.canonical_unit, analyte))
            for other in analyte.units
            if other != ucum
        )
        rows.append(
            LabMapRow(
                loinc=loinc,
                unit_raw=unit,
                analyte=analyte.id,
                ucum=ucum,
                canon=conversion(ucum, analyte.canonical_unit, analyte),
                plausible_low=analyte.plausible_low,
                plausible_high=analyte.plausible_high,
                typical_low=analyte.typical_low,
                typical_high=analyte.typical_high,
                has_typical=analyte.typical_high > analyte.typical_low > 0,
                alternatives=others,
            )
        )
    return rows, rejected


def analyte_numbers(knowledge: Knowledge) -> dict[str, int]:
    """A small integer per analyte: the lab SQL compares integers on every row, not text."""
    return {analyte: index for index, analyte in enumerate(sorted(knowledge.analytes), start=1)}


def mislabel_bit(unit: str, knowledge: Knowledge) -> int:
    """The bit of `unit` in the per-row masks of likely units (0 when the unit cannot take part
    in mislabel corroboration): same-day corroboration is then one bitwise AND."""
    units = mislabel_units(knowledge)
    return 1 << units.index(unit) if unit in units else 0


def lab_map_columns(knowledge: Knowledge) -> list[tuple[str, str]]:
    """(name, type) of the lab map table: type is one of text, double, bool, bigint."""
    columns = [
        ("loinc", "text"),
        ("unit_raw", "text"),
        ("analyte", "text"),
        ("analyte_no", "bigint"),
        ("ucum", "text"),
        ("canon_ident", "bool"),
        ("canon_mul", "double"),
        ("canon_div", "double"),
        ("has_typ", "bool"),
        ("p_lo", "double"),
        ("p_hi", "double"),
        ("t_lo", "double"),
        ("t_hi", "double"),
    ]
    for index in range(1, max_alternatives(knowledge) + 1):
        columns += [
            (f"a{index}_unit", "text"),
            (f"a{index}_bit", "bigint"),
            (f"a{index}p_lo", "double"),
            (f"a{index}p_hi", "double"),
            (f"a{index}t_lo", "double"),
            (f"a{index}t_hi", "double"),
        ]
    return columns


def lab_map_tuples(rows: Sequence[LabMapRow], knowledge: Knowledge) -> list[tuple[object, ...]]:
    width = max_alternatives(knowledge)
    numbers = analyte_numbers(knowledge)
    out: list[tuple[object, ...]] = []
    for row in rows:
        bounds = row.intervals()
        values: list[object] = [
            row.loinc,
            row.unit_raw,
            row.analyte,
            numbers[row.analyte],
            row.ucum,
            row.canon.identity,
            row.canon.multiply,
            row.canon.divide,
            row.has_typical,
            *bounds["p"],
            *bounds["t"],
        ]
        for index in range(1, width + 1):
            if index <= len(row.alternatives):
                unit = row.alternatives[index - 1][0]
                values += [
                    unit,
                    mislabel_bit(unit, knowledge),
                    *bounds[f"a{index}p"],
                    *bounds[f"a{index}t"],
                ]
            else:
                values += [None, 0, *EMPTY, *EMPTY]
        out.append(tuple(values))
    return out


# --- medications ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrugFacts:
    drug_id: str
    drug_class: str
    depletes: bool
    raising: bool
    oral_product: bool
    chelates: bool
    glycoside: bool


def drug_facts(knowledge: Knowledge) -> list[DrugFacts]:
    """The effects the findings read, per pack drug (as assess derives them from `effects`)."""
    return [
        DrugFacts(
            drug_id=drug.id,
            drug_class=drug.drug_class,
            depletes="depletes" in drug.effects,
            raising="raises" in drug.effects or "magnesium-product" in drug.effects,
            oral_product="magnesium-product" in drug.effects and drug.route != "iv",
            chelates="chelates" in drug.effects,
            glycoside="glycoside" in drug.effects,
        )
        for drug in knowledge.drugs.drug
    ]


DRUG_FACT_COLUMNS = [
    ("drug_id", "text"),
    ("drug_class", "text"),
    ("depletes", "bool"),
    ("raising", "bool"),
    ("oral_product", "bool"),
    ("chelates", "bool"),
    ("glycoside", "bool"),
]


def medication_map(
    codes: Iterable[tuple[str, str]], knowledge: Knowledge
) -> list[tuple[str, str, str]]:
    """(system, code, drug id) for every pack drug the core's `identify` finds in one coding."""
    rows: list[tuple[str, str, str]] = []
    for system, code in codes:
        if system not in MEDICATION_SYSTEMS or not code:
            continue
        medication = Medication(codes=(Coding(system=system, code=code),))
        for drug in identify(medication, knowledge):
            rows.append((system, code, drug.id))
    return rows


def condition_map(
    codes: Iterable[tuple[str, str]], knowledge: Knowledge
) -> list[tuple[str, str, str]]:
    """(system, code, group id) for every condition group the core matches for one coding."""
    rows: list[tuple[str, str, str]] = []
    for system, code in codes:
        if system not in CONDITION_SYSTEMS or not code:
            continue
        condition = Condition(codes=(Coding(system=system, code=code),))
        for group in sorted(condition_groups(condition, knowledge)):
            rows.append((system, code, group))
    return rows


__all__ = [
    "CONDITION_SYSTEMS",
    "DRUG_FACT_COLUMNS",
    "MEDICATION_SYSTEMS",
    "MOLAR_UNIT",
    "Conversion",
    "DrugFacts",
    "LabMapRow",
    "analyte_numbers",
    "condition_map",
    "conversion",
    "drug_facts",
    "lab_map",
    "lab_map_columns",
    "lab_map_tuples",
    "max_alternatives",
    "medication_map",
    "mislabel_bit",
    "mislabel_units",
]
