"""Build a person's report (pure): assessment, trend, intake, evidence, all in one language.

The clinical content is the assessment's (`mgcare.views.assessment`, the same as the CLI and
API); this module only gathers it, attaches the cited sources, flags weak evidence and draws the
shared charts. `report_for_person` is the thin store adapter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from mgcare.charts import (
    GRADE_LABEL,
    IntakeBar,
    TrendPoint,
    intake_svg,
    mg_band_for,
    mg_trend_svg,
)
from mgcare.diet.foods import FoodDatabase
from mgcare.i18n import MAGNESIUM_STATUS, SEX, STATUS_LABEL, UI, L, Lang
from mgcare.knowledge import Knowledge
from mgcare.model import Assessment, Item, PatientRecord
from mgcare.reports.model import (
    EvidenceRef,
    LatestMagnesium,
    ListEntry,
    Report,
    ReportError,
    ReportItem,
    Row,
)
from mgcare.units import UnitError, check_value, parse_unit, to_canonical

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mgcare.store.repository import LabPoint

REVIEW_SOURCE = "SEED"
"""The review itself: cited by nearly every item, so it says nothing about a given item's support."""
WEAK_GRADES = frozenset({"low", "very-low"})
UNCONFIRMED = frozenset({"SEED", "UNVERIFIED"})
GRADE_ORDER = ("very-low", "low", "consensus", "moderate")

TEXT: dict[str, L] = {
    "title": L("Magnesium and cardiovascular health report", "镁与心血管健康报告"),
    "summary": L("Summary", "概要"),
    "person": L("Person", "个人"),
    "name": L("Name", "姓名"),
    "id": L("ID", "编号"),
    "age": L("Age", "年龄"),
    "age_unit": L("years", "岁"),
    "sex": L("Sex", "性别"),
    "as_of": L("Assessed as of", "评估日期"),
    "serum_mg": UI["serum_mg"],
    "ca_mg": UI["ca_mg"],
    "egfr": UI["egfr"],
    "intake": L("Dietary magnesium (food log)", "膳食镁（饮食记录）"),
    "not_measured": UI["not_measured"],
    "trend": L("Serum magnesium over time", "血清镁变化趋势"),
    "trend_title": L("Serum magnesium (mmol/L)", "血清镁（mmol/L）"),
    "intake_title": L("Daily magnesium intake against the reference", "每日镁摄入量与参考值"),
    "intake_bar": L("Magnesium", "镁"),
    "findings": UI["findings"],
    "recommendations": UI["recommendations"],
    "evidence": UI["evidence"],
    "none": UI["none"],
    "medications": L("Medications", "用药"),
    "conditions": L("Conditions", "疾病与诊断"),
    "disclaimer": UI["disclaimer"],
    "versions": L("Versions", "版本"),
    "knowledge": L("knowledge pack", "知识库"),
    "generated": L("Report date", "报告日期"),
    "weak": L("Weak evidence", "证据较弱"),
    "grade": L("Evidence grade", "证据等级"),
    "weak_grade": L(
        "the supporting claims are graded low or very low", "相关论断的证据等级为低或极低"
    ),
    "weak_unverified": L("its sources are not independently confirmed", "其来源未经独立核实"),
    "cutoff": L("cut-off", "切点"),
    "applies": UI["applies"],
    "not_applies": UI["not_applies"],
    "grade_ctcae": UI["grade"],
    "active": L("active", "在用"),
    "inactive": L("inactive", "已停用"),
    "since": L("since", "起始"),
    "until": L("until", "截至"),
    "left_out": L(
        "result(s) left out of the chart: implausible for the stated unit",
        "个结果因数值与单位不符未纳入图表",
    ),
    "results": L("results", "次结果"),
    "page_prefix": L("Page ", "第"),
    "page_middle": L(" of ", "页，共"),
    "page_suffix": L("", "页"),
    "intake_value": L("mg/day", "毫克/天"),
    "below_ref": L("below", "低于"),
    "meets_ref": L("meets", "达到"),
    "severity_critical": L("Critical", "危急"),
    "severity_warning": L("Warning", "警告"),
    "severity_info": L("Information", "提示"),
    "colon": L(": ", "："),
    "period": L(".", "。"),
    "open": L(" (", "（"),
    "close": L(")", "）"),
    "method": L("method", "方法"),
    "decision_support": L(
        "Decision support for clinicians and informed individuals, not a diagnosis.",
        "供临床医生及知情个人参考的决策支持信息，不构成诊断。",
    ),
}


def labels(lang: Lang) -> dict[str, str]:
    """Every interface word of the report in one language (templates read only these)."""
    return {key: text.get(lang) for key, text in TEXT.items()}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _plausible_mmol_l(value: float, unit: str, knowledge: Knowledge) -> float | None:
    """The value in mmol/L, or None when it cannot be a magnesium result in that unit."""
    try:
        parsed = parse_unit(unit, "magnesium", knowledge)
        if value <= 0 or check_value(value, parsed, "magnesium", knowledge).implausible:
            return None
        return to_canonical(value, parsed, "magnesium", knowledge)
    except (UnitError, KeyError, ZeroDivisionError):
        return None


def trend_points(
    record: PatientRecord, history: Sequence[LabPoint], knowledge: Knowledge, as_of: date
) -> tuple[list[TrendPoint], int]:
    """Mg results up to `as_of` for the chart (stored history, else the record's own labs), and
    how many were left out as implausible for their unit."""
    raw: list[tuple[date, float, str]] = []
    if history:
        for point in history:
            day = _day(point.effective)
            if day is not None:
                raw.append((day, point.value, point.unit))
    else:
        for lab in record.labs:
            if lab.analyte == "magnesium" and lab.unit:
                raw.append((lab.effective_date, lab.value, lab.unit))
    points: list[TrendPoint] = []
    left_out = 0
    for day, value, unit in raw:
        if day > as_of:
            continue
        mmol_l = _plausible_mmol_l(value, unit, knowledge)
        if mmol_l is None or not math.isfinite(mmol_l):
            left_out += 1
            continue
        points.append(TrendPoint(effective=day, value_mmol_l=mmol_l, label=f"{value:g} {unit}"))
    return points, left_out


def _evidence_refs(knowledge: Knowledge, ids: Sequence[str], lang: Lang) -> tuple[EvidenceRef, ...]:
    refs: list[EvidenceRef] = []
    for source in ids:
        ref = knowledge.references.get(source)
        if ref is None:
            continue
        doi = ref.doi or None
        link = f"https://doi.org/{doi}" if doi else (ref.url or None)
        status = STATUS_LABEL.get(ref.verification)
        refs.append(
            EvidenceRef(
                id=ref.id,
                citation=ref.citation,
                link=link,
                doi=doi,
                verification=ref.verification,
                verification_label=status.get(lang) if status else ref.verification,
            )
        )
    return tuple(refs)


def evidence_strength(
    knowledge: Knowledge, evidence: Sequence[str]
) -> tuple[str | None, str | None]:
    """(best claim grade, weak reason key) for an item's sources. The review itself is left out
    (it is cited everywhere); weak = the best supporting claim is low/very low, or none of the
    specific sources is confirmed."""
    specific = [s for s in evidence if s != REVIEW_SOURCE and s in knowledge.references]

    def compute() -> tuple[str | None, str | None]:
        grades = [
            claim.grade for claim in knowledge.claims.claim if set(claim.references) & set(specific)
        ]
        best = max(grades, key=GRADE_ORDER.index) if grades else None
        if best in WEAK_GRADES:
            return best, "weak_grade"
        if specific and all(knowledge.references[s].verification in UNCONFIRMED for s in specific):
            return best, "weak_unverified"
        return best, None

    return knowledge.memo(("report-strength", tuple(specific)), compute)


def _item(item: Item, knowledge: Knowledge, lang: Lang) -> ReportItem:
    grade, weak = evidence_strength(knowledge, item.evidence)
    return ReportItem(
        code=item.code,
        severity=item.severity,
        severity_label=TEXT[f"severity_{item.severity}"].get(lang),
        summary=item.summary,
        detail=item.detail,
        evidence=_evidence_refs(knowledge, item.evidence, lang),
        grade=grade,
        grade_label=GRADE_LABEL[grade].get(lang) if grade in GRADE_LABEL else None,
        weak=weak is not None,
        weak_reason=TEXT[weak].get(lang) if weak else None,
    )


def _summary_rows(assessment: Assessment, lang: Lang, knowledge: Knowledge) -> list[Row]:
    rows: list[Row] = []
    serum = assessment.serum_magnesium
    if serum is None:
        rows.append(Row(TEXT["serum_mg"].get(lang), TEXT["not_measured"].get(lang)))
    else:
        status = MAGNESIUM_STATUS.get(serum.status)
        grade = (
            f" · {TEXT['grade_ctcae'].get(lang)} {serum.ctcae_grade}" if serum.ctcae_grade else ""
        )
        rows.append(
            Row(
                TEXT["serum_mg"].get(lang),
                f"{serum.value:g} {serum.unit} = {serum.mmol_l:.2f} mmol/L · "
                f"{status.get(lang) if status else serum.status}{grade}",
                serum.effective[:10],
            )
        )
    ratio = assessment.ca_mg_ratio
    if ratio is not None:
        applies = TEXT["applies" if ratio.applies else "not_applies"].get(lang)
        ratio_grade, reason = evidence_strength(
            knowledge, knowledge.finding_text("ca-mg-ratio-high").evidence
        )
        weak = ""
        if reason is not None:
            grade_word = GRADE_LABEL[ratio_grade].get(lang) if ratio_grade in GRADE_LABEL else ""
            weak = f"⚠ {TEXT['weak'].get(lang)}" + (f" ({grade_word})" if grade_word else "")
        rows.append(
            Row(
                TEXT["ca_mg"].get(lang),
                f"{ratio.molar:.2f} ({TEXT['cutoff'].get(lang)} {ratio.cutoff:g}; {applies})",
                weak,
            )
        )
    egfr = assessment.egfr
    if egfr is not None:
        rows.append(
            Row(
                TEXT["egfr"].get(lang),
                f"{egfr.value:.0f} mL/min/1.73 m² ({egfr.category})",
                egfr.method,
            )
        )
    intake = assessment.intake
    if intake is not None:
        totals: dict[str, Any] = intake.get("totals", {})  # type: ignore[assignment]
        reference: dict[str, Any] = intake.get("reference", {})  # type: ignore[assignment]
        mg = totals.get("magnesium_mg")
        recommended = reference.get("recommended_mg")
        if isinstance(mg, int | float) and isinstance(recommended, int | float):
            verdict = "below_ref" if mg < recommended else "meets_ref"
            rows.append(
                Row(
                    TEXT["intake"].get(lang),
                    f"{mg:g} {TEXT['intake_value'].get(lang)} · {TEXT[verdict].get(lang)} "
                    f"{reference.get('recommended_kind', '')} {recommended:g} mg",
                    str(reference.get("standard_name") or ""),
                )
            )
    return rows


def _intake_chart(assessment: Assessment, lang: Lang) -> str | None:
    intake = assessment.intake
    if intake is None:
        return None
    totals: dict[str, Any] = intake.get("totals", {})  # type: ignore[assignment]
    reference: dict[str, Any] = intake.get("reference", {})  # type: ignore[assignment]
    mg = totals.get("magnesium_mg")
    if not isinstance(mg, int | float):
        return None
    name = TEXT["intake_bar"].get(lang)
    bars: list[IntakeBar] = []
    ear = reference.get("ear_mg")
    if isinstance(ear, int | float):
        bars.append(IntakeBar(f"{name} · EAR", float(mg), float(ear), "mg", "EAR"))
    recommended = reference.get("recommended_mg")
    kind = str(reference.get("recommended_kind") or "")
    if isinstance(recommended, int | float):
        bars.append(IntakeBar(f"{name} · {kind}", float(mg), float(recommended), "mg", kind))
    if not bars:
        return None
    return intake_svg(bars, lang=lang, title=TEXT["intake_title"].get(lang))


def _when(start: date | None, end: date | None, lang: Lang) -> str:
    parts = []
    if start:
        parts.append(f"{TEXT['since'].get(lang)} {start.isoformat()}")
    if end:
        parts.append(f"{TEXT['until'].get(lang)} {end.isoformat()}")
    return ", ".join(parts)


def _lists(record: PatientRecord, lang: Lang) -> tuple[list[ListEntry], list[ListEntry]]:
    medications = []
    for med in record.medications:
        codes = ", ".join(f"{c.system.upper()} {c.code}" for c in med.codes)
        name = med.name or codes or "-"
        status = med.status or ""
        detail = " · ".join(
            p for p in (codes if med.name else "", status, _when(med.start, med.end, lang)) if p
        )
        medications.append(ListEntry(name, detail))
    conditions = []
    for condition in record.conditions:
        codes = ", ".join(f"{c.system.upper()} {c.code}" for c in condition.codes)
        name = condition.name or codes or "-"
        state = TEXT["active" if condition.active else "inactive"].get(lang)
        onset = (
            f"{TEXT['since'].get(lang)} {condition.onset.isoformat()}" if condition.onset else ""
        )
        detail = " · ".join(p for p in (codes if condition.name else "", state, onset) if p)
        conditions.append(ListEntry(name, detail))
    return medications, conditions


def build_report(
    record: PatientRecord,
    *,
    knowledge: Knowledge,
    foods: FoodDatabase,
    history: Sequence[LabPoint],
    lang: Lang,
    as_of: date,
    display_name: str | None = None,
) -> Report:
    """The report for one person as of one day. Raises ReportError on input the assessment
    refuses (e.g. a food log without an age)."""
    from mgcare.views import ViewError, assessment

    try:
        result = assessment(record, knowledge, foods, as_of, lang)
    except ViewError as exc:
        raise ReportError(str(exc)) from None
    points, left_out = trend_points(record, history, knowledge, as_of)
    band, deficiency = mg_band_for(knowledge)
    trend = mg_trend_svg(
        points,
        band=band,
        deficiency_below=deficiency,
        lang=lang,
        title=TEXT["trend_title"].get(lang),
    )
    serum = result.serum_magnesium
    latest = None
    if serum is not None:
        status = MAGNESIUM_STATUS.get(serum.status)
        latest = LatestMagnesium(
            value=serum.value,
            unit=serum.unit,
            mmol_l=serum.mmol_l,
            status=serum.status,
            status_label=status.get(lang) if status else serum.status,
            ctcae_grade=serum.ctcae_grade,
            effective=serum.effective[:10],
        )
    medications, conditions = _lists(record, lang)
    sex = result.person.sex
    ui = labels(lang)
    if left_out:
        ui["left_out_note"] = f"{left_out} {ui['left_out']}"
    return Report(
        lang=lang,
        html_lang="zh-Hans" if lang == "zh" else "en",
        title=TEXT["title"].get(lang),
        as_of=as_of,
        display_name=display_name,
        person_id=result.person.id,
        age_years=result.person.age_years,
        sex_label=SEX[sex].get(lang) if sex in SEX else None,
        latest_mg=latest,
        summary=tuple(_summary_rows(result, lang, knowledge)),
        trend_svg=trend,
        trend_count=len(points),
        intake_svg=_intake_chart(result, lang),
        findings=tuple(_item(i, knowledge, lang) for i in result.findings),
        recommendations=tuple(_item(i, knowledge, lang) for i in result.recommendations),
        medications=tuple(medications),
        conditions=tuple(conditions),
        mgcare_version=result.mgcare_version,
        knowledge_version=result.knowledge_version,
        disclaimer=result.disclaimer,
        labels=ui,
    )


def report_for_person(
    engine: Engine,
    person_id: int,
    *,
    knowledge: Knowledge,
    foods: FoodDatabase,
    lang: Lang,
    as_of: date | None = None,
) -> Report:
    """Read one stored person (record, Mg history, display name) and build the report.
    Raises ReportError for an unknown person."""
    from mgcare.store import repository

    try:
        record = repository.person_record(engine, person_id)
        history = repository.history(engine, person_id, "magnesium")
    except repository.StoreError as exc:
        raise ReportError(str(exc)) from None
    display_name: str | None = None
    listing = getattr(repository, "person_listing", None)
    if listing is not None:
        display_name = getattr(listing(engine, person_id), "display_name", None)
    return build_report(
        record,
        knowledge=knowledge,
        foods=foods,
        history=history,
        lang=lang,
        as_of=as_of or date.today(),
        display_name=display_name,
    )


__all__ = ["build_report", "evidence_strength", "labels", "report_for_person", "trend_points"]
