"""Domain model: the patient record the rules read, and the assessment they produce.

The record is also mgcare's own JSON input format (`PatientRecord.model_validate_json`), so
clinical state FHIR carries poorly (symptomatic, unstable, serious arrhythmia) has a home.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mgcare.knowledge.models import Severity

AnalyteId = Literal["magnesium", "calcium", "potassium", "creatinine", "zinc", "egfr", "heart-rate"]
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
CodeSystem = Literal["atc", "rxnorm", "icd10", "snomed", "loinc", "text", "other"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coding(_Model):
    system: CodeSystem
    code: str = Field(min_length=1)
    display: str | None = None


class Person(_Model):
    id: str | None = None
    birth_date: date | None = None
    age_years: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["male", "female"] | None = None
    pregnant: bool = False
    lactating: bool = False
    deceased: date | None = None


class LabResult(_Model):
    """One result. `unit` is required and must be a unit of the analyte (see mgcare.units)."""

    analyte: AnalyteId
    value: float
    effective: datetime | date
    unit: str | None = None
    reference_low: float | None = None
    reference_high: float | None = None
    interpretation: str | None = None
    loinc: str | None = None
    method: str | None = None
    source: str | None = None

    @field_validator("effective", mode="before")
    @classmethod
    def _iso_dates_only(cls, value: object) -> object:
        """Numbers and partial strings would be read as Unix timestamps: refuse them."""
        if isinstance(value, bool | int | float):
            raise ValueError(
                "effective must be an ISO date (YYYY-MM-DD) or date-time, not a number"
            )
        if isinstance(value, str) and not ISO_DAY.match(value.strip()):
            raise ValueError("effective must be an ISO date (YYYY-MM-DD) or date-time")
        return value

    @model_validator(mode="after")
    def _reference_range_ordered(self) -> LabResult:
        if (
            self.reference_low is not None
            and self.reference_high is not None
            and self.reference_low >= self.reference_high
        ):
            raise ValueError("reference_low must be below reference_high")
        return self

    @property
    def effective_date(self) -> date:
        return self.effective.date() if isinstance(self.effective, datetime) else self.effective


class Medication(_Model):
    name: str | None = None
    codes: tuple[Coding, ...] = ()
    status: str | None = None
    start: date | None = None
    end: date | None = None
    draft: bool = False
    source: str | None = None


class Condition(_Model):
    name: str | None = None
    codes: tuple[Coding, ...] = ()
    onset: date | None = None
    active: bool = True
    source: str | None = None


class ClinicalContext(_Model):
    """State that FHIR carries poorly. None means unknown (treated as absent, and said so)."""

    symptomatic: bool | None = None
    haemodynamically_unstable: bool | None = None
    serious_arrhythmia: bool | None = None


class PatientRecord(_Model):
    """One person. `food_log` holds a day's log rows (DESIGN.md 7 columns); `diet_standard`
    chooses the reference intakes (default by language)."""

    person: Person = Person()
    labs: tuple[LabResult, ...] = ()
    medications: tuple[Medication, ...] = ()
    conditions: tuple[Condition, ...] = ()
    context: ClinicalContext = ClinicalContext()
    food_log: tuple[dict[str, Any], ...] = ()
    diet_standard: Literal["cn-2023", "cn-2013", "us-iom-1997", "efsa-2015"] | None = None


# --- output: the DESIGN.md section 4 contract ------------------------------------------------


class PersonSummary(_Model):
    id: str | None
    age_years: int | None
    sex: str | None


class SerumMagnesium(_Model):
    value: float
    unit: str
    mmol_l: float
    status: str
    ctcae_grade: int | None
    effective: str


class CaMgRatio(_Model):
    molar: float
    cutoff: float
    applies: bool


class Egfr(_Model):
    value: float
    category: str
    method: str


class Item(_Model):
    """A finding or a recommendation."""

    code: str
    severity: Severity
    summary: str
    detail: str
    evidence: list[str]


class Assessment(_Model):
    mgcare_version: str
    knowledge_version: str
    person: PersonSummary
    serum_magnesium: SerumMagnesium | None
    ca_mg_ratio: CaMgRatio | None
    egfr: Egfr | None
    intake: dict[str, object] | None
    findings: list[Item]
    recommendations: list[Item]
    disclaimer: str
