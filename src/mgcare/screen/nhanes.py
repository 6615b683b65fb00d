"""NHANES 2017-2018 worked example: magnesium intake against the US EAR by DRI age/sex group,
and the survey-weighted screen of kidney function, with the NHANES design.

Intake: day-1 24-h recalls (DR1TOT_J, foods and beverages, not supplements) that are reliable
(DR1DRSTZ == 1), weight WTDRD1, design SDMVSTRA/SDMVPSU from DEMO_J. Each DRI group is a domain
of the full design, so every PSU keeps its place in the variance. The EAR comes from the pack
(intakes.toml, us-iom-1997); pregnant women (RIDEXPRG == 1) are compared with the pregnancy EAR.
A single day's intake spreads wider than usual intake, so the share below the EAR from one day
overstates inadequacy (the NCI method needs the second day); the example says so.

Screening: adults 20+ examined at the MEC (WTMEC2YR > 0) with a serum creatinine from BIOPRO_J
become the long tables of DESIGN.md section 6 (LBDSCASI calcium in mmol/L, LBXSCR creatinine in
mg/dL, self-reported diabetes DIQ010 == 1 as a condition), screened by `run_screen`. NHANES has
no serum magnesium, so every person is 'magnesium-not-measured'; the example shows eGFR (CKD-EPI
2021) and the survey-weighted prevalence of eGFR < 60.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import ReferenceIntake
from mgcare.screen.survey import Estimate, weighted_mean, weighted_prevalence
from mgcare.validation import MAX_AGE_YEARS

FILES = {
    "demo": "DEMO_J.XPT",
    "diet": "DR1TOT_J.csv.gz",
    "biochemistry": "BIOPRO_J.XPT",
    "diabetes": "DIQ_J.XPT",
}
COLUMNS = {
    "demo": ["SEQN", "RIAGENDR", "RIDAGEYR", "RIDEXPRG", "SDMVSTRA", "SDMVPSU", "WTMEC2YR"],
    "diet": ["SEQN", "WTDRD1", "DR1DRSTZ", "DR1TMAGN"],
    "biochemistry": ["SEQN", "LBDSCASI", "LBXSCR"],
    "diabetes": ["SEQN", "DIQ010"],
}
RELIABLE_RECALL = 1
MALE, FEMALE = 1, 2
PREGNANT = 1
DIABETES_YES = 1
ADULT_AGE = 20
STANDARD = "us-iom-1997"
EXAM_DAY = date(2018, 6, 30)
"""Nominal date of the 2017-2018 examinations (NHANES releases only the six-month period)."""
LABEL = 34
CALCIUM_LOINC = "2000-8"
CREATININE_LOINC = "2160-0"


def load(folder: Path) -> pd.DataFrame:
    """One row per DEMO_J participant, with day-1 intake, biochemistry and diabetes merged."""
    demo = pd.read_sas(folder / FILES["demo"], format="xport")[COLUMNS["demo"]]
    diet = pd.read_csv(folder / FILES["diet"], usecols=COLUMNS["diet"])
    bio = pd.read_sas(folder / FILES["biochemistry"], format="xport")[COLUMNS["biochemistry"]]
    diq = pd.read_sas(folder / FILES["diabetes"], format="xport")[COLUMNS["diabetes"]]
    frame = demo.merge(diet, on="SEQN", how="left").merge(bio, on="SEQN", how="left")
    frame = frame.merge(diq, on="SEQN", how="left")
    frame["SEQN"] = frame["SEQN"].astype("int64")
    return frame


def load_sample(path: Path) -> pd.DataFrame:
    """The committed sample (tests/screen/fixtures/nhanes_2017_2018_sample.csv), same columns."""
    return pd.read_csv(path)


def _intake_rows(knowledge: Knowledge) -> list[ReferenceIntake]:
    return [
        row
        for row in knowledge.intakes.intake
        if row.standard == STANDARD and row.nutrient == "magnesium" and row.ear_mg is not None
    ]


@dataclass(frozen=True)
class Group:
    """A DRI group of the pack (age range, sex, life stage) with its EAR."""

    label: str
    row: ReferenceIntake

    def members(self, frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
        age = frame["RIDAGEYR"].to_numpy(dtype=float)
        sex = frame["RIAGENDR"].to_numpy(dtype=float)
        pregnant = frame["RIDEXPRG"].to_numpy(dtype=float) == PREGNANT
        row = self.row
        in_age = (age >= row.age_min) & (age < row.age_max)
        in_sex = (
            np.ones(len(frame), dtype=bool)
            if row.sex == "any"
            else sex == (MALE if row.sex == "male" else FEMALE)
        )
        stage = pregnant if row.life_stage == "pregnancy" else ~pregnant
        return np.asarray(in_age & in_sex & stage)


def groups(knowledge: Knowledge) -> list[Group]:
    out = []
    for row in _intake_rows(knowledge):
        if row.life_stage == "lactation":
            continue  # lactation is not recorded in DEMO_J
        last = row.age_max - 1
        if row.age_min == 0:
            ages = f"{last:g} y or younger"
        elif row.age_max > MAX_AGE_YEARS:
            ages = f"{row.age_min:g}+ y"
        else:
            ages = f"{row.age_min:g}-{last:g} y"
        who = {"any": "both sexes", "male": "male", "female": "female"}[row.sex]
        stage = ", pregnant" if row.life_stage == "pregnancy" else ""
        out.append(Group(f"{ages} {who}{stage}", row))
    return out


@dataclass(frozen=True)
class IntakeResult:
    label: str
    ear_mg: float
    mean: Estimate
    below_ear: Estimate


def _design(
    frame: pd.DataFrame,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    reliable = (frame["DR1DRSTZ"].to_numpy(dtype=float) == RELIABLE_RECALL) & (
        frame["WTDRD1"].fillna(0).to_numpy(dtype=float) > 0
    )
    weights = frame["WTDRD1"].fillna(0).to_numpy(dtype=float)
    return reliable, weights, frame["SDMVSTRA"].to_numpy(), frame["SDMVPSU"].to_numpy()


def intake_by_group(frame: pd.DataFrame, knowledge: Knowledge) -> list[IntakeResult]:
    """Weighted mean Mg intake and share below the EAR, with linearised SEs, per DRI group."""
    reliable, weights, strata, psu = _design(frame)
    intake = frame["DR1TMAGN"].to_numpy(dtype=float)
    results = []
    for group in groups(knowledge):
        domain = reliable & group.members(frame)
        ear = float(group.row.ear_mg or 0.0)
        results.append(
            IntakeResult(
                group.label,
                ear,
                weighted_mean(intake, weights, strata, psu, domain),
                weighted_prevalence(intake < ear, weights, strata, psu, domain),
            )
        )
    return results


def adult_mean_by_sex(frame: pd.DataFrame) -> dict[str, Estimate]:
    """WTDRD1-weighted mean DR1TMAGN of adults 20+ with reliable recalls, by sex."""
    reliable, weights, strata, psu = _design(frame)
    adult = frame["RIDAGEYR"].to_numpy(dtype=float) >= ADULT_AGE
    sex = frame["RIAGENDR"].to_numpy(dtype=float)
    intake = frame["DR1TMAGN"].to_numpy(dtype=float)
    return {
        name: weighted_mean(intake, weights, strata, psu, reliable & adult & (sex == code))
        for name, code in (("male", MALE), ("female", FEMALE))
    }


def screening_tables(frame: pd.DataFrame, out: Path) -> dict[str, Path]:
    """Adults 20+ examined with a serum creatinine, as persons/labs/conditions Parquet files."""
    adults = frame[
        (frame["RIDAGEYR"] >= ADULT_AGE) & (frame["WTMEC2YR"] > 0) & frame["LBXSCR"].notna()
    ].copy()
    ids = adults["SEQN"].astype("int64").astype(str)
    sex = adults["RIAGENDR"].map({MALE: "male", FEMALE: "female"})
    persons = pd.DataFrame(
        {
            "person_id": ids,
            "age_years": adults["RIDAGEYR"].astype(float),
            "sex": sex,
            "weight": adults["WTMEC2YR"].astype(float),
            "strata": adults["SDMVSTRA"].astype("int64").astype(str),
            "psu": adults["SDMVPSU"].astype("int64").astype(str),
        }
    )
    when = datetime(EXAM_DAY.year, EXAM_DAY.month, EXAM_DAY.day)
    calcium = adults[adults["LBDSCASI"].notna()]
    labs = pd.concat(
        [
            pd.DataFrame(
                {
                    "person_id": calcium["SEQN"].astype("int64").astype(str),
                    "loinc": CALCIUM_LOINC,
                    "value": calcium["LBDSCASI"].astype(float),
                    "unit": "mmol/L",
                    "effective": when,
                }
            ),
            pd.DataFrame(
                {
                    "person_id": ids,
                    "loinc": CREATININE_LOINC,
                    "value": adults["LBXSCR"].astype(float),
                    "unit": "mg/dL",
                    "effective": when,
                }
            ),
        ],
        ignore_index=True,
    )
    diabetic = adults[adults["DIQ010"] == DIABETES_YES]
    conditions = pd.DataFrame(
        {
            "person_id": diabetic["SEQN"].astype("int64").astype(str),
            "code": "diabetes (self-reported, DIQ010)",
            "system": "text",
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"nhanes_{name}.parquet" for name in ("persons", "labs", "conditions")}
    persons.to_parquet(paths["persons"], index=False)
    labs.to_parquet(paths["labs"], index=False)
    conditions.to_parquet(paths["conditions"], index=False)
    return paths


def format_intake(results: Sequence[IntakeResult]) -> list[str]:
    """A fixed-width table for people."""
    lines = [
        f"{'DRI group':<{LABEL}}{'EAR mg':>7}{'n':>6}{'mean mg':>9}{'SE':>6}{'< EAR %':>9}{'SE':>6}   95% CI",
    ]
    for r in results:
        if r.mean.n == 0:
            lines.append(f"{r.label:<{LABEL}}{r.ear_mg:>7.0f}{0:>6}   (no participants)")
            continue
        lines.append(
            f"{r.label:<{LABEL}}{r.ear_mg:>7.0f}{r.mean.n:>6}{r.mean.estimate:>9.1f}{r.mean.se:>6.1f}"
            f"{100 * r.below_ear.estimate:>9.1f}{100 * r.below_ear.se:>6.1f}"
            f"   {100 * r.below_ear.ci_low:.1f}-{100 * r.below_ear.ci_high:.1f}"
        )
    return lines
