"""Typed rows of the knowledge pack: every clinical number the rules use, with its citation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["P", "S", "SEED", "CALC", "DERIVED", "UNVERIFIED", "SITE"]
Severity = Literal["info", "warning", "critical"]
Sex = Literal["male", "female"]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Fact(_Row):
    """One cited number. `site_rule` names the site override that replaced it, if any."""

    value: float
    unit: str
    source: str
    status: Status
    note: str = ""
    site_rule: str | None = None


class SerumMagnesiumThresholds(_Row):
    severe_from_ctcae_grade: Fact
    deficiency_below: Fact
    normal_lower: Fact
    normal_upper: Fact
    severe_excess_from: Fact


class CaMgThresholds(_Row):
    diabetes_cutoff: Fact


class RapidAfThresholds(_Row):
    heart_rate_above: Fact


class MonitoringThresholds(_Row):
    lookback: Fact


class RenalThresholds(_Row):
    supplement_contraindicated_below: Fact
    supplement_caution_below: Fact
    impairment_below: Fact
    kidney_failure_below: Fact


class CkdEpiAge(_Row):
    minimum_age: Fact


class PotassiumThresholds(_Row):
    """No default: clinical.md gives no potassium limit; a site may set one."""

    lower_limit: Fact | None = None


class Thresholds(_Row):
    version: str
    serum_magnesium: SerumMagnesiumThresholds
    ca_mg_ratio: CaMgThresholds
    rapid_af: RapidAfThresholds
    monitoring: MonitoringThresholds
    renal: RenalThresholds
    ckd_epi: CkdEpiAge
    potassium: PotassiumThresholds = PotassiumThresholds()


class CtcaeGrade(_Row):
    term: Literal["hypomagnesemia", "hypermagnesemia"]
    grade: int = Field(ge=1, le=5)
    unit: str
    bound: float | Literal["LLN", "ULN"]
    source: str
    status: Status


class Analyte(_Row):
    id: str
    name_en: str
    name_zh: str
    canonical_unit: str
    units: list[str]
    molar_mass_g_mol: float
    valence: int
    molar_mass_source: str
    typical_low: float
    typical_high: float
    typical_source: str
    typical_status: str
    typical_note: str
    plausible_low: float
    plausible_high: float
    plausible_source: str
    plausible_status: Status
    plausible_note: str


class Units(_Row):
    version: str
    analyte: list[Analyte]
    unit_aliases: dict[str, list[str]]


class LoincCode(_Row):
    code: str
    analyte: str
    display: str
    unit: str
    status: Status
    source: str
    note: str = ""


class ConditionGroup(_Row):
    id: str
    name_en: str
    name_zh: str
    icd10_prefixes: list[str]
    snomed: list[str]
    phrases: list[str]
    status: Status
    source: str
    note: str = ""


class ConditionExclusions(_Row):
    phrases: list[str]


class Codes(_Row):
    version: str
    loinc: list[LoincCode]
    condition: list[ConditionGroup]
    condition_exclusions: ConditionExclusions


class CkdEpiSex(_Row):
    kappa_mg_dl: float
    alpha: float
    sex_factor: float


class CkdEpi2021(_Row):
    multiplier: float
    upper_exponent: float
    age_base: float
    source: str
    status: Status
    female: CkdEpiSex
    male: CkdEpiSex


class KdigoCategory(_Row):
    category: str
    lower: float
    label_en: str
    label_zh: str


class Renal(_Row):
    version: str
    ckd_epi_2021: CkdEpi2021
    kdigo_category: list[KdigoCategory]


StandardId = Literal["cn-2023", "cn-2013", "us-iom-1997", "efsa-2015"]


class IntakeStandard(_Row):
    name_en: str
    name_zh: str
    fallback: str


class ReferenceIntake(_Row):
    standard: StandardId
    nutrient: Literal["magnesium", "zinc"]
    sex: Literal["any", "male", "female"]
    life_stage: Literal["general", "pregnancy", "lactation"]
    age_min: float
    age_max: float
    increment: bool = False
    ear_mg: float | None = None
    recommended_mg: float
    recommended_kind: Literal["RNI", "RDA", "AI"]
    ul_supplemental_mg: float | None = None
    source: str
    status: Status
    note: str = ""


class Intakes(_Row):
    version: str
    standards: dict[StandardId, IntakeStandard]
    intake: list[ReferenceIntake]


class Spacing(_Row):
    take_before_mg_h: float
    take_after_mg_h: float
    text_en: str
    text_zh: str
    source: str
    status: Status


DrugEffect = Literal["depletes", "raises", "chelates", "glycoside", "antidote", "magnesium-product"]


class Drug(_Row):
    id: str
    name_en: str
    name_zh: str
    synonyms: list[str]
    atc: list[str]
    rxcui: str
    rxcui_status: str
    drug_class: str
    class_en: str
    class_zh: str
    effects: list[DrugEffect]
    route: Literal["oral", "iv", ""]
    mechanism_en: str
    mechanism_zh: str
    sources: list[str]
    status: Status
    note_en: str
    note_zh: str
    spacing: Spacing | None = None


class Drugs(_Row):
    version: str
    drug: list[Drug]


class Salt(_Row):
    id: str
    name_en: str
    name_zh: str
    synonyms: list[str]
    formula: str
    molar_mass_g_mol: float
    elemental_fraction: float = Field(gt=0, lt=1)
    hydrate: str
    source: str
    status: Status
    label_check: str
    note: str


class Salts(_Row):
    version: str
    salt: list[Salt]


class TreatmentFact(_Row):
    id: str
    text_en: str
    text_zh: str
    source: str
    status: Status


class Treatment(_Row):
    version: str
    fact: list[TreatmentFact]


class CodeText(_Row):
    severity: Severity
    severity_escalated: Severity | None = None
    evidence: list[str]
    facts: list[str]
    summary_en: str
    summary_zh: str
    detail_en: str
    detail_zh: str


class Texts(_Row):
    version: str
    disclaimer_en: str
    disclaimer_zh: str
    finding: dict[str, CodeText]
    recommendation: dict[str, CodeText]


class Reference(_Row):
    id: str
    kind: Literal["review-reference", "external", "seed", "derived"]
    number: int
    citation: str
    title_zh: str
    doi: str
    pmid: str
    pmcid: str
    url: str
    verification: str
    where_read: str
    note: str


class Evidence(_Row):
    version: str
    reference: list[Reference]


class Claim(_Row):
    id: str
    topic: str
    summary_en: str
    summary_zh: str
    detail_en: str
    detail_zh: str
    caveat_en: str
    caveat_zh: str
    references: list[str]
    status: Status
    grade: Literal["moderate", "low", "very-low", "consensus"]
    caveat_codes: list[str]


class Claims(_Row):
    version: str
    claim: list[Claim]


MECHANISM_START = "mg"
"""Edge endpoint meaning magnesium itself (the left of the review's Figure 1)."""
MECHANISM_END = "outcome"
"""Edge endpoint meaning the outcome, lower blood pressure (the right of Figure 1)."""


class MechanismNode(_Row):
    """One step of a pathway, labelled in both languages, with the reference it comes from."""

    id: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    label_zh: str = Field(min_length=1)
    source: str


class MechanismEdge(_Row):
    """An arrow; `from`/`to` are node ids of the same pathway, or "mg" / "outcome"."""

    source_node: str = Field(alias="from")
    target_node: str = Field(alias="to")
    source: str


class MechanismPathway(_Row):
    id: str = Field(min_length=1)
    label_en: str
    label_zh: str
    sources: list[str] = Field(min_length=1)
    status: Status
    note: str = ""
    node: list[MechanismNode] = Field(min_length=1)
    edge: list[MechanismEdge] = Field(min_length=1)


class Mechanisms(_Row):
    """The review's Figure 1 (how Mg lowers blood pressure) as a cited graph."""

    version: str
    claim: str
    source: str
    status: Status
    title_en: str
    title_zh: str
    magnesium_en: str
    magnesium_zh: str
    outcome_en: str
    outcome_zh: str
    caveat_en: str
    caveat_zh: str
    pathway: list[MechanismPathway] = Field(min_length=1)
