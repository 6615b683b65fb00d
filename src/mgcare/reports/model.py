"""The report as typed data: everything the HTML/PDF templates show, already in one language.

Built by `mgcare.reports.build` (pure), rendered by `mgcare.reports.render`. Keeping the data
separate from the markup lets the web page, the PDF and tests read the same object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mgcare.i18n import Lang


class ReportError(ValueError):
    """A report cannot be made (bad input, unknown person, PDF engine missing): one line."""


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """One cited source behind an item, with its DOI link where the pack has one."""

    id: str
    citation: str
    link: str | None
    doi: str | None
    verification: str
    verification_label: str


@dataclass(frozen=True, slots=True)
class ReportItem:
    """A finding or recommendation with its evidence; `weak` flags low/unverified support."""

    code: str
    severity: str
    severity_label: str
    summary: str
    detail: str
    evidence: tuple[EvidenceRef, ...]
    grade: str | None
    grade_label: str | None
    weak: bool
    weak_reason: str | None


@dataclass(frozen=True, slots=True)
class LatestMagnesium:
    value: float
    unit: str
    mmol_l: float
    status: str
    status_label: str
    ctcae_grade: int | None
    effective: str


@dataclass(frozen=True, slots=True)
class Row:
    """A labelled value in the summary table."""

    label: str
    value: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class ListEntry:
    name: str
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    """One person's report in one language (`lang`), as of one day."""

    lang: Lang
    html_lang: str
    title: str
    as_of: date
    display_name: str | None
    person_id: str | None
    age_years: int | None
    sex_label: str | None
    latest_mg: LatestMagnesium | None
    summary: tuple[Row, ...]
    trend_svg: str
    trend_count: int
    intake_svg: str | None
    findings: tuple[ReportItem, ...]
    recommendations: tuple[ReportItem, ...]
    medications: tuple[ListEntry, ...]
    conditions: tuple[ListEntry, ...]
    mgcare_version: str
    knowledge_version: str
    disclaimer: str
    labels: dict[str, str]
