"""Seeded synthetic long tables for tests and benchmarks (DESIGN.md section 6).

    python -m mgcare.screen.synthetic --persons 10000 --out DIR [--seed 7] [--as-of 2026-06-30]
        [--labs-per-person 12] [--format parquet|csv] [--clean]

Writes persons, labs, medications and conditions (.parquet or .csv). Generation is vectorised
with NumPy and written in chunks, so 1M persons / 50M lab rows need little memory.

Every value that matters is taken from the knowledge pack: each serum Mg status boundary and
CTCAE bound in mmol/L, mg/dL and mEq/L (exactly, and just either side), the Ca/Mg cut-off, eGFR
category limits (with values that are decimal rounding ties), every LOINC code and unit spelling,
every pack drug by ATC, RxCUI, English, brand and Chinese name, every condition group by ICD-10,
SNOMED and text (with 'history of' and 'prediabetes' exclusions), and 2% of persons with a death
date (on, just before and after the as-of date, and years before it). Bad rows are mixed in unless
`--clean`: unknown units and LOINC codes, mislabelled panels (a mg/dL panel labelled mmol/L),
implausible and impossible values, non-numbers, future dates, unknown persons, duplicates, and
persons without labs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.units import convert

DEFAULT_SEED = 20261125
DEFAULT_AS_OF = date(2026, 6, 30)
FAR_FUTURE = date(2126, 1, 1)
MINUTES_PER_DAY = 24 * 60
STEPS = (0.0, 0.001, -0.001, 0.01, -0.01)
"""Offsets around each boundary value (in the unit of the value)."""
DECEASED_SHARE = 0.02
"""Persons with a death date: half before the as-of date (not screened), half on or after it."""
DEATH_OFFSETS = (-1, 0, 1)
"""Death dates on and either side of the as-of date, the boundary of validate_record."""

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Config:
    persons: int
    seed: int = DEFAULT_SEED
    as_of: date = DEFAULT_AS_OF
    labs_per_person: float = 12.0
    bad_rows: bool = True
    chunk: int = 200_000
    id_prefix: str = "p"


@dataclass(frozen=True)
class Catalogue:
    """Values and codes drawn from the pack once."""

    loinc: dict[str, list[str]]
    code_for: dict[tuple[str, str], str]
    mg_boundaries: dict[str, list[float]]
    egfr_boundaries: list[float]
    ratio_cutoff: float
    heart_rate_limit: float
    drug_codes: list[tuple[str, str]]
    other_drugs: list[tuple[str, str]]
    condition_codes: list[tuple[str, str]]
    other_conditions: list[tuple[str, str]]


def catalogue(knowledge: Knowledge) -> Catalogue:
    loinc: dict[str, list[str]] = {}
    code_for: dict[tuple[str, str], str] = {}
    for row in knowledge.codes.loinc:
        loinc.setdefault(row.analyte, []).append(row.code)
        code_for.setdefault((row.analyte, row.unit), row.code)
    serum = knowledge.thresholds.serum_magnesium
    mmol_points = {
        serum.deficiency_below.value,
        serum.normal_lower.value,
        serum.normal_upper.value,
        serum.severe_excess_from.value,
    }
    magnesium = knowledge.analytes["magnesium"]
    mmol_points |= {magnesium.typical_low, magnesium.typical_high, magnesium.plausible_high}
    boundaries: dict[str, set[float]] = {unit: set() for unit in magnesium.units}
    for grade in knowledge.ctcae:
        if isinstance(grade.bound, float) and grade.unit in boundaries:
            boundaries[grade.unit].add(grade.bound)
    for point in mmol_points:
        for unit in magnesium.units:
            exact = convert(point, "mmol/L", unit, "magnesium", knowledge)
            boundaries[unit].update({exact, round(exact, 2)})
    mg_boundaries = {
        unit: sorted(
            {round(v + step, 6) if step else v for v in values for step in STEPS if v + step > 0}
        )
        for unit, values in boundaries.items()
    }
    renal = knowledge.thresholds.renal
    limits = {row.lower for row in knowledge.renal.kdigo_category if row.lower > 0}
    limits |= {
        renal.impairment_below.value,
        renal.kidney_failure_below.value,
        renal.supplement_caution_below.value,
        renal.supplement_contraindicated_below.value,
    }
    ties = (0.05, -0.05, 0.25, -0.25, 0.15)
    egfr = sorted({v + t for v in limits for t in (0.0, *ties)})
    drug_codes: list[tuple[str, str]] = []
    for drug in knowledge.drugs.drug:
        drug_codes += [("atc", code) for code in drug.atc]
        if drug.rxcui:
            drug_codes.append(("rxnorm", drug.rxcui))
        texts = [drug.name_en, f"{drug.name_en.capitalize()} 20 MG Oral Tablet", *drug.synonyms]
        if drug.name_zh:
            texts += [drug.name_zh, f"{drug.name_zh}片"]
        drug_codes += [("text", t) for t in texts]
    other_drugs = [
        ("text", "Metformin 500 MG Oral Tablet"),
        ("text", "atorvastatin"),
        ("text", "Lisinopril 10 MG Oral Tablet"),
        ("text", "Hydrochlorothiazide 25 MG / Lisinopril 10 MG Oral Tablet"),
        ("text", "二甲双胍片"),
        ("rxnorm", "860975"),
        ("atc", "A10BA02"),
        ("atc", "c03ca01"),
    ]
    condition_codes: list[tuple[str, str]] = []
    for group in knowledge.codes.condition:
        for prefix in group.icd10_prefixes:
            condition_codes.append(("icd10", prefix))
            if "." not in prefix:
                condition_codes.append(("icd10", f"{prefix}.9"))
        condition_codes += [("snomed", code) for code in group.snomed]
        condition_codes += [("text", phrase) for phrase in group.phrases]
        condition_codes += [("text", f"{group.name_en.capitalize()} (disorder)")]
    exclusions = knowledge.codes.condition_exclusions.phrases
    other_conditions = [
        ("text", f"{exclusions[0]} {group.name_en}") for group in knowledge.codes.condition
    ]
    other_conditions += [
        ("text", "Prediabetes"),
        ("icd10", "J45.909"),
        ("snomed", "195967001"),
        ("text", "Asthma"),
        ("text", "糖尿病家族史"),
    ]
    return Catalogue(
        loinc=loinc,
        code_for=code_for,
        mg_boundaries=mg_boundaries,
        egfr_boundaries=egfr,
        ratio_cutoff=knowledge.thresholds.ca_mg_ratio.diabetes_cutoff.value,
        heart_rate_limit=knowledge.thresholds.rapid_af.heart_rate_above.value,
        drug_codes=drug_codes,
        other_drugs=other_drugs,
        condition_codes=condition_codes,
        other_conditions=other_conditions,
    )


# --- persons ----------------------------------------------------------------------------------------


def _ids(prefix: str, numbers: Array) -> Array:
    width = 9
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object)


def _days(as_of: date, offsets: Array) -> Array:
    base = np.datetime64(as_of.isoformat(), "D")
    return base + offsets.astype("timedelta64[D]")


def _deaths(config: Config, start: int, n: int) -> Array:
    """Death dates (NaT: alive) for a chunk, from their own seeded stream so that adding them
    left every other generated value unchanged."""
    rng = np.random.default_rng([config.seed, start, 1])
    pick = rng.random(n)
    offsets = rng.integers(-5 * 365, 365, n)
    exact = rng.integers(0, len(DEATH_OFFSETS), n)
    offsets = np.where(pick < DECEASED_SHARE / 4, np.array(DEATH_OFFSETS)[exact], offsets)
    offsets = np.where(
        (pick >= DECEASED_SHARE / 4) & (pick < DECEASED_SHARE / 2), -np.abs(offsets) - 1, offsets
    )
    return np.where(pick < DECEASED_SHARE, _days(config.as_of, offsets), np.datetime64("NaT"))


def persons_chunk(
    rng: np.random.Generator, start: int, n: int, config: Config
) -> tuple[pa.Table, Array, Array]:
    """Persons; returns the table, the ids and each person's age (years) on as_of."""
    numbers = np.arange(start, start + n)
    ids = _ids(config.id_prefix, numbers)
    age = rng.integers(2, 96, n)
    days_into_year = rng.integers(0, 365, n)
    birth = _days(config.as_of, -(age * 365 + age // 4 + days_into_year))
    form = rng.random(n)
    birth_col = np.where(form < 0.9, birth, np.datetime64("NaT"))
    age_col = np.where((form >= 0.9) & (form < 0.98), age.astype(float), np.nan)
    sex = rng.choice(
        np.array(["female", "male", "F", "M", "unknown", ""], dtype=object),
        n,
        p=[0.48, 0.46, 0.02, 0.02, 0.01, 0.01],
    )
    sex[rng.random(n) < 0.005] = None
    strata = rng.integers(1, 31, n)
    psu = rng.integers(1, 3, n)
    weight = np.round(rng.lognormal(8.0, 0.7, n), 2)
    if config.bad_rows:
        bad = rng.random(n)
        birth_col = np.where(bad < 0.001, _days(FAR_FUTURE, np.zeros(n, dtype=int)), birth_col)
        age_col = np.where((bad >= 0.001) & (bad < 0.0015), 150.0, age_col)
        age_col = np.where((bad >= 0.0015) & (bad < 0.002), 45.5, age_col)
        weight = np.where((bad >= 0.002) & (bad < 0.003), np.nan, weight)
    table = pa.table(
        {
            "person_id": pa.array(ids, pa.string()),
            "birth_date": pa.array(birth_col.astype("datetime64[D]"), pa.date32()),
            "age_years": pa.array(age_col, pa.float64(), from_pandas=True),
            "sex": pa.array(sex, pa.string()),
            "weight": pa.array(weight, pa.float64(), from_pandas=True),
            "strata": pa.array(strata.astype(str).astype(object), pa.string()),
            "psu": pa.array(psu.astype(str).astype(object), pa.string()),
            "deceased_date": pa.array(
                _deaths(config, start, n).astype("datetime64[D]"), pa.date32()
            ),
        }
    )
    if config.bad_rows and n > 0:
        dup = rng.random(n) < 0.002
        table = pa.concat_tables([table, table.filter(pa.array(dup))])
    return table, ids, age


# --- labs --------------------------------------------------------------------------------------------

MG_UNITS = ("mmol/L", "mg/dL", "meq/L")
PANEL_ROWS = 3.3
"""Average rows per blood draw (sum of the panel probabilities below)."""
SPELLINGS = {
    "mmol/L": ["mmol/L", "mmol/l", "mmol"],
    "mg/dL": ["mg/dL", "mg/dl", "mg%"],
    "meq/L": ["mEq/L", "meq/l"],
    "umol/L": ["umol/L", "µmol/L", "μmol/l"],
    "mL/min/{1.73_m2}": ["mL/min/{1.73_m2}", "mL/min/1.73m2"],
    "/min": ["/min", "bpm"],
}


def _spell(rng: np.random.Generator, units: Array) -> Array:
    out = units.copy()
    for unit, spellings in SPELLINGS.items():
        mask = units == unit
        if mask.any():
            out[mask] = rng.choice(np.array(spellings, dtype=object), int(mask.sum()))
    return out


def _convert_array(
    values: Array, source: str, target: str, analyte: str, knowledge: Knowledge
) -> Array:
    factor = convert(1.0, source, target, analyte, knowledge)
    return values * factor


@dataclass
class LabParts:
    person: list[Array]
    day: list[Array]
    minute: list[Array]
    loinc: list[Array]
    value: list[Array]
    unit: list[Array]
    ref_low: list[Array]
    ref_high: list[Array]
    interp: list[Array]

    def add(
        self,
        person: Array,
        day: Array,
        minute: Array,
        loinc: Array,
        value: Array,
        unit: Array,
        ref_low: Array | None = None,
        ref_high: Array | None = None,
        interp: Array | None = None,
    ) -> None:
        n = len(person)
        self.person.append(person)
        self.day.append(day)
        self.minute.append(minute)
        self.loinc.append(loinc)
        self.value.append(value.astype(float))
        self.unit.append(unit)
        self.ref_low.append(ref_low if ref_low is not None else np.full(n, np.nan))
        self.ref_high.append(ref_high if ref_high is not None else np.full(n, np.nan))
        self.interp.append(interp if interp is not None else np.full(n, None, dtype=object))


def _swap(codes_units: tuple[Array, Array], values: Array) -> tuple[Array, Array, Array]:
    """(loinc, value, unit) in the order LabParts.add takes them."""
    codes, units = codes_units
    return codes, values, units


def labs_chunk(
    rng: np.random.Generator,
    ids: Array,
    config: Config,
    cat: Catalogue,
    knowledge: Knowledge,
) -> pa.Table:
    n = len(ids)
    without_labs = 0.05
    draws_per_person = rng.poisson(
        max(config.labs_per_person / PANEL_ROWS / (1 - without_labs), 0.1), n
    )
    draws_per_person[rng.random(n) < without_labs] = 0
    person = np.repeat(np.arange(n), draws_per_person)
    draws = len(person)
    day = rng.integers(-3 * 365, 21, draws)
    recent = rng.random(draws) < 0.25
    day[recent] = -rng.integers(0, 200, int(recent.sum()))
    minute = rng.integers(6 * 60, 20 * 60, draws)
    system = rng.choice(np.array(MG_UNITS, dtype=object), draws, p=[0.6, 0.3, 0.1])
    parts = LabParts([], [], [], [], [], [], [], [], [])

    def pick_loinc(analyte: str, count: int, unit_of: Array | None = None) -> Array:
        codes = cat.loinc[analyte]
        if unit_of is None:
            return rng.choice(np.array(codes, dtype=object), count)
        by_unit = {row.code: row.unit for row in knowledge.codes.loinc if row.analyte == analyte}
        out = rng.choice(np.array(codes, dtype=object), count)
        for code, unit in by_unit.items():
            mask = unit_of == unit
            out[mask] = code
        return out

    # magnesium
    has = rng.random(draws) < 0.7
    idx = np.flatnonzero(has)
    units = system[idx]
    mmol = rng.normal(0.85, 0.14, len(idx))
    tail = rng.random(len(idx))
    mmol = np.where(tail < 0.05, rng.uniform(0.25, 0.7, len(idx)), mmol)
    mmol = np.where(tail > 0.97, rng.uniform(1.25, 3.0, len(idx)), mmol)
    mmol = np.clip(mmol, 0.15, 4.0)
    values = np.empty(len(idx))
    for unit in MG_UNITS:
        mask = units == unit
        values[mask] = np.round(
            _convert_array(mmol[mask], "mmol/L", unit, "magnesium", knowledge), 2
        )
        boundary = mask & (rng.random(len(idx)) < 0.15)
        options = np.array(cat.mg_boundaries[unit])
        values[boundary] = options[rng.integers(0, len(options), int(boundary.sum()))]
    ref_low = np.full(len(idx), np.nan)
    ref_high = np.full(len(idx), np.nan)
    with_interval = rng.random(len(idx)) < 0.04
    for unit in MG_UNITS:
        mask = with_interval & (units == unit)
        ref_low[mask] = round(convert(0.66, "mmol/L", unit, "magnesium", knowledge), 2)
        ref_high[mask] = round(convert(1.07, "mmol/L", unit, "magnesium", knowledge), 2)
    inverted = with_interval & (rng.random(len(idx)) < 0.1)
    ref_low[inverted], ref_high[inverted] = ref_high[inverted], ref_low[inverted]
    parts.add(
        person[idx],
        day[idx],
        minute[idx],
        pick_loinc("magnesium", len(idx), units),
        values,
        units,
        ref_low,
        ref_high,
    )
    mg_idx, mg_values, mg_units = idx, values, units

    # calcium (same draw, same unit system; meq panels report Ca in mmol/L)
    has = rng.random(draws) < 0.8
    idx = np.flatnonzero(has)
    units = np.where(system[idx] == "mg/dL", "mg/dL", "mmol/L").astype(object)
    mmol = np.round(rng.normal(2.35, 0.13, len(idx)), 2)
    values = np.where(
        units == "mg/dL",
        np.round(_convert_array(mmol, "mmol/L", "mg/dL", "calcium", knowledge), 1),
        mmol,
    )
    parts.add(
        person[idx], day[idx], minute[idx], pick_loinc("calcium", len(idx), units), values, units
    )

    def fixed(analyte: str, unit: str, count: int) -> tuple[Array, Array]:
        return (
            np.full(count, cat.code_for[(analyte, unit)], dtype=object),
            np.full(count, unit, dtype=object),
        )

    # Ca/Mg ratio exactly at and just above the diabetes cut-off (Mg 1.0 mmol/L that day)
    exact = np.flatnonzero(rng.random(draws) < 0.01)
    for offset, ca in ((0, cat.ratio_cutoff), (1, round(cat.ratio_cutoff + 0.01, 2))):
        chosen = exact[offset::2]
        parts.add(
            person[chosen],
            day[chosen],
            minute[chosen] + 1,
            *_swap(fixed("magnesium", "mmol/L", len(chosen)), np.ones(len(chosen))),
        )
        parts.add(
            person[chosen],
            day[chosen],
            minute[chosen] + 1,
            *_swap(fixed("calcium", "mmol/L", len(chosen)), np.full(len(chosen), ca)),
        )

    # potassium, with lab intervals and interpretation codes
    has = rng.random(draws) < 0.6
    idx = np.flatnonzero(has)
    units = rng.choice(np.array(["mmol/L", "meq/L"], dtype=object), len(idx), p=[0.8, 0.2])
    values = np.round(rng.normal(4.1, 0.55, len(idx)), 1)
    ref_low = np.where(rng.random(len(idx)) < 0.3, 3.5, np.nan)
    interp = rng.choice(
        np.array([None, "L", "N", "H", "LL"], dtype=object),
        len(idx),
        p=[0.8, 0.08, 0.08, 0.02, 0.02],
    )
    parts.add(
        person[idx],
        day[idx],
        minute[idx],
        pick_loinc("potassium", len(idx)),
        values,
        units,
        ref_low,
        None,
        interp,
    )

    # creatinine (mg/dL or umol/L)
    has = rng.random(draws) < 0.7
    idx = np.flatnonzero(has)
    units = np.where(system[idx] == "mmol/L", "umol/L", "mg/dL").astype(object)
    mg_dl = np.clip(rng.lognormal(0.0, 0.45, len(idx)), 0.3, 15.0)
    values = np.where(
        units == "umol/L",
        np.round(_convert_array(mg_dl, "mg/dL", "umol/L", "creatinine", knowledge)),
        np.round(mg_dl, 2),
    )
    parts.add(
        person[idx], day[idx], minute[idx], pick_loinc("creatinine", len(idx), units), values, units
    )

    # reported eGFR, with category limits and rounding ties
    has = rng.random(draws) < 0.35
    idx = np.flatnonzero(has)
    values = np.round(np.clip(rng.normal(78, 25, len(idx)), 4, 140), 1).astype(np.float64)
    boundary = rng.random(len(idx)) < 0.2
    options = np.array(cat.egfr_boundaries)
    values[boundary] = options[rng.integers(0, len(options), int(boundary.sum()))]
    units = np.full(len(idx), "mL/min/{1.73_m2}", dtype=object)
    parts.add(person[idx], day[idx], minute[idx] + 5, pick_loinc("egfr", len(idx)), values, units)

    # heart rate, often on the as-of day
    has = rng.random(draws) < 0.06
    idx = np.flatnonzero(has)
    hr_day = np.where(rng.random(len(idx)) < 0.5, 0, day[idx])
    values = rng.choice(
        np.array([cat.heart_rate_limit, cat.heart_rate_limit + 1, 72.0, 95.0, 135.0, 160.0]),
        len(idx),
    )
    parts.add(
        person[idx],
        hr_day,
        minute[idx],
        pick_loinc("heart-rate", len(idx)),
        values,
        np.full(len(idx), "/min", dtype=object),
    )

    # zinc now and then
    has = rng.random(draws) < 0.03
    idx = np.flatnonzero(has)
    parts.add(
        person[idx],
        day[idx],
        minute[idx],
        pick_loinc("zinc", len(idx)),
        np.round(rng.normal(90, 15, len(idx))),
        np.full(len(idx), "ug/dL", dtype=object),
    )

    # mislabelled panels: conventional (mg/dL) values labelled mmol/L, with Ca corroborating
    chosen = np.flatnonzero(rng.random(draws) < 0.01)
    parts.add(
        person[chosen],
        day[chosen],
        minute[chosen] + 2,
        *_swap(
            fixed("magnesium", "mmol/L", len(chosen)),
            np.round(rng.uniform(1.75, 2.4, len(chosen)), 1),
        ),
    )
    parts.add(
        person[chosen],
        day[chosen],
        minute[chosen] + 2,
        *_swap(
            fixed("calcium", "mmol/L", len(chosen)),
            np.round(rng.uniform(8.6, 10.2, len(chosen)), 1),
        ),
    )
    # suspect values without corroboration (stay in use, flagged for recheck by assess)
    chosen = np.flatnonzero(rng.random(draws) < 0.005)
    parts.add(
        person[chosen],
        day[chosen],
        minute[chosen] + 3,
        *_swap(
            fixed("magnesium", "mmol/L", len(chosen)),
            np.round(rng.uniform(1.75, 2.4, len(chosen)), 1),
        ),
    )
    # implausible creatinine (umol/L value labelled mg/dL)
    chosen = np.flatnonzero(rng.random(draws) < 0.005)
    parts.add(
        person[chosen],
        day[chosen],
        minute[chosen] + 4,
        *_swap(
            fixed("creatinine", "mg/dL", len(chosen)), np.round(rng.uniform(60, 200, len(chosen)))
        ),
    )
    # two results at exactly the same time (tie rule)
    chosen = mg_idx[rng.random(len(mg_idx)) < 0.003]
    parts.add(
        person[chosen],
        day[chosen],
        minute[chosen],
        pick_loinc("magnesium", len(chosen), system[chosen]),
        np.round(rng.uniform(0.5, 1.2, len(chosen)), 2),
        system[chosen],
    )
    del mg_values, mg_units

    person_all = np.concatenate(parts.person)
    day_all = np.concatenate(parts.day)
    minute_all = np.concatenate(parts.minute)
    loinc_all = np.concatenate(parts.loinc)
    value_all = np.concatenate(parts.value)
    unit_all = _spell(rng, np.concatenate(parts.unit))
    ref_low_all = np.concatenate(parts.ref_low)
    ref_high_all = np.concatenate(parts.ref_high)
    interp_all = np.concatenate(parts.interp)
    id_all = ids[person_all].astype(object)
    effective = _days(config.as_of, day_all).astype("datetime64[m]") + minute_all.astype(
        "timedelta64[m]"
    )
    if config.bad_rows:
        size = len(id_all)
        u = rng.random(size)
        unit_all = np.where(
            u < 0.002,
            rng.choice(np.array(["g/L", "U/L", "mmol/kg", ""], dtype=object), size),
            unit_all,
        )
        unit_all[(u >= 0.002) & (u < 0.003)] = None
        loinc_all = np.where(
            (u >= 0.003) & (u < 0.005),
            rng.choice(np.array(["2951-2", "2600-5", "1994-3"], dtype=object), size),
            loinc_all,
        )
        value_all = np.where((u >= 0.005) & (u < 0.006), np.nan, value_all)
        value_all = np.where(
            (u >= 0.006) & (u < 0.007), rng.choice(np.array([0.0, -1.0]), size), value_all
        )
        impossible = (u >= 0.007) & (u < 0.0075)
        value_all = np.where(impossible, 5000.0, value_all)
        future = (u >= 0.0075) & (u < 0.0085)
        effective = np.where(future, np.datetime64(FAR_FUTURE.isoformat(), "m"), effective)
        id_all = np.where(
            (u >= 0.0085) & (u < 0.0095),
            np.char.add("x", id_all.astype(str)).astype(object),
            id_all,
        )
        id_all[(u >= 0.0095) & (u < 0.01)] = None
        after = (u >= 0.01) & (u < 0.012)
        effective = np.where(
            after, _days(config.as_of, rng.integers(1, 60, size)).astype("datetime64[m]"), effective
        )
    table = pa.table(
        {
            "person_id": pa.array(id_all, pa.string()),
            "loinc": pa.array(loinc_all, pa.string()),
            "value": pa.array(value_all, pa.float64()),
            "unit": pa.array(unit_all, pa.string()),
            "effective": pa.array(effective.astype("datetime64[us]"), pa.timestamp("us")),
            "reference_low": pa.array(ref_low_all, pa.float64(), from_pandas=True),
            "reference_high": pa.array(ref_high_all, pa.float64(), from_pandas=True),
            "interpretation": pa.array(interp_all, pa.string()),
        }
    )
    if config.bad_rows and table.num_rows:
        dup = rng.random(table.num_rows) < 0.001
        table = pa.concat_tables([table, table.filter(pa.array(dup))])
    # extracts are usually ordered by patient and time; nulls (bad rows) go last
    return table.sort_by([("person_id", "ascending"), ("effective", "ascending")])


# --- medications and conditions ---------------------------------------------------------------------


def medications_chunk(
    rng: np.random.Generator, ids: Array, config: Config, cat: Catalogue
) -> pa.Table:
    n = len(ids)
    count = rng.poisson(1.6, n)
    person = np.repeat(np.arange(n), count)
    size = len(person)
    pool = cat.drug_codes + cat.other_drugs * 6
    choice = rng.integers(0, len(pool), size)
    system = np.array([pool[i][0] for i in range(len(pool))], dtype=object)[choice]
    code = np.array([pool[i][1] for i in range(len(pool))], dtype=object)[choice]
    start_offset = -rng.integers(0, 1500, size)
    start_offset = np.where(rng.random(size) < 0.05, rng.integers(1, 90, size), start_offset)
    end_kind = rng.random(size)
    end_offset = np.where(
        end_kind < 0.15,
        -rng.integers(1, 300, size),
        np.where(end_kind < 0.3, rng.integers(0, 300, size), 0),
    )
    start = _days(config.as_of, start_offset)
    end = np.where(end_kind < 0.3, _days(config.as_of, end_offset), np.datetime64("NaT"))
    end = np.where(end_kind < 0.003, start - np.timedelta64(10, "D"), end)
    status = rng.choice(
        np.array(
            ["active", None, "stopped", "completed", "entered-in-error", "on-hold"], dtype=object
        ),
        size,
        p=[0.7, 0.15, 0.07, 0.05, 0.01, 0.02],
    )
    no_start = rng.random(size) < 0.1
    start = np.where(no_start, np.datetime64("NaT"), start)
    ids_out = ids[person].astype(object)
    if config.bad_rows:
        u = rng.random(size)
        system = np.where(u < 0.004, "ndc", system)
        code[(u >= 0.004) & (u < 0.006)] = None
        ids_out = np.where(
            (u >= 0.006) & (u < 0.008),
            np.char.add("x", ids_out.astype(str)).astype(object),
            ids_out,
        )
    system = np.where(
        rng.random(size) < 0.05, np.char.upper(system.astype(str)).astype(object), system
    )
    table = pa.table(
        {
            "person_id": pa.array(ids_out, pa.string()),
            "code": pa.array(code, pa.string()),
            "system": pa.array(system, pa.string()),
            "start": pa.array(start.astype("datetime64[D]"), pa.date32()),
            "end": pa.array(end.astype("datetime64[D]"), pa.date32()),
            "status": pa.array(status, pa.string()),
        }
    )
    if config.bad_rows and table.num_rows:
        table = pa.concat_tables(
            [table, table.filter(pa.array(rng.random(table.num_rows) < 0.002))]
        )
    return table


def conditions_chunk(
    rng: np.random.Generator, ids: Array, config: Config, cat: Catalogue
) -> pa.Table:
    n = len(ids)
    count = rng.poisson(0.9, n)
    person = np.repeat(np.arange(n), count)
    size = len(person)
    pool = cat.condition_codes + cat.other_conditions * 2
    choice = rng.integers(0, len(pool), size)
    system = np.array([p[0] for p in pool], dtype=object)[choice]
    code = np.array([p[1] for p in pool], dtype=object)[choice]
    onset = _days(config.as_of, -rng.integers(0, 5000, size))
    onset = np.where(rng.random(size) < 0.1, np.datetime64("NaT"), onset)
    active = rng.random(size) < 0.9
    ids_out = ids[person].astype(object)
    if config.bad_rows:
        u = rng.random(size)
        onset = np.where(u < 0.005, np.datetime64(FAR_FUTURE.isoformat(), "D"), onset)
        system = np.where((u >= 0.005) & (u < 0.008), "icd9", system)
    return pa.table(
        {
            "person_id": pa.array(ids_out, pa.string()),
            "code": pa.array(code, pa.string()),
            "system": pa.array(system, pa.string()),
            "onset": pa.array(onset.astype("datetime64[D]"), pa.date32()),
            "active": pa.array(active, pa.bool_()),
        }
    )


# --- writing ------------------------------------------------------------------------------------------


class _Sink:
    """Parquet or CSV writer for one table, fed chunk by chunk."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self._writer: Any = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            if self.fmt == "parquet":
                self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            else:
                self._writer = pacsv.CSVWriter(self.path, table.schema)
        if self.fmt == "parquet":
            self._writer.write_table(table, row_group_size=1_000_000)
        else:
            self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def generate(
    out: Path, config: Config, fmt: str = "parquet", knowledge: Knowledge | None = None
) -> dict[str, Path]:
    """Write the four tables to `out` and return their paths."""
    knowledge = knowledge or load_knowledge()
    cat = catalogue(knowledge)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".parquet" if fmt == "parquet" else ".csv"
    paths = {
        name: out / f"{name}{suffix}" for name in ("persons", "labs", "medications", "conditions")
    }
    sinks = {name: _Sink(path, fmt) for name, path in paths.items()}
    rng = np.random.default_rng(config.seed)
    try:
        for start in range(0, config.persons, config.chunk):
            n = min(config.chunk, config.persons - start)
            persons, ids, _ = persons_chunk(rng, start, n, config)
            sinks["persons"].write(persons)
            sinks["labs"].write(labs_chunk(rng, ids, config, cat, knowledge))
            sinks["medications"].write(medications_chunk(rng, ids, config, cat))
            sinks["conditions"].write(conditions_chunk(rng, ids, config, cat))
    finally:
        for sink in sinks.values():
            sink.close()
    return paths


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mgcare.screen.synthetic",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--persons", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF)
    parser.add_argument("--labs-per-person", type=float, default=12.0)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--clean", action="store_true", help="no bad rows")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    started = datetime.now()
    config = Config(
        persons=args.persons,
        seed=args.seed,
        as_of=args.as_of,
        labs_per_person=args.labs_per_person,
        bad_rows=not args.clean,
    )
    paths = generate(args.out, config, args.format)
    seconds = (datetime.now() - started) / timedelta(seconds=1)
    for name, path in paths.items():
        rows = pq.ParquetFile(path).metadata.num_rows if args.format == "parquet" else None
        shown = f"{rows:,} rows" if rows is not None else ""
        print(f"{name}: {path} {shown}")
    print(f"generated in {seconds:.1f} s (seed {args.seed}, as of {args.as_of})")


if __name__ == "__main__":
    main()
