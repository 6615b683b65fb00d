"""`assess(record, knowledge)`: every finding and recommendation of DESIGN.md section 4.

Pure and deterministic: the same record, knowledge, date and language give the same result.
Each rule's source is in the pack row it reads and in the test that checks it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from mgcare import __version__
from mgcare.i18n import L, Lang, join
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import Drug
from mgcare.model import (
    Assessment,
    CaMgRatio,
    Egfr,
    Item,
    PatientRecord,
    PersonSummary,
    SerumMagnesium,
)
from mgcare.rules.conditions import active_groups
from mgcare.rules.labs import (
    HIGH_MAGNESIUM,
    LOW_MAGNESIUM,
    CheckedLab,
    MagnesiumStatus,
    check_labs,
    latest,
    magnesium_status,
    potassium_is_low,
)
from mgcare.rules.medications import current_drugs
from mgcare.rules.renal import KidneyFunction, kidney_function
from mgcare.rules.render import Param, fmt, render

MONTHS_PER_YEAR = 12
if TYPE_CHECKING:
    from mgcare.diet.intake import IntakeReport
    from mgcare.diet.plan import Plan

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
MONITORED_CONDITIONS = ("atrial-fibrillation", "heart-failure", "diabetes", "hypertension")


def age_on(record: PatientRecord, as_of: date) -> int | None:
    """Whole years on `as_of` from the birth date, else the stated age."""
    birth = record.person.birth_date
    if birth is None:
        return record.person.age_years
    years = as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
    return max(years, 0)


def months_before(day: date, months: int) -> date:
    """The same calendar day `months` earlier (clamped to the end of a shorter month, and to the
    first representable date)."""
    year, month_zero_based = divmod(
        day.year * MONTHS_PER_YEAR + day.month - 1 - months, MONTHS_PER_YEAR
    )
    if year < date.min.year:
        return date.min
    month = month_zero_based + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class _Builder:
    knowledge: Knowledge
    lang: Lang
    findings: list[Item] = field(default_factory=list)
    recommendations: list[Item] = field(default_factory=list)

    def finding(self, code: str, params: dict[str, Param], **options: object) -> None:
        self.findings.append(render("finding", code, params, self.knowledge, self.lang, **options))  # type: ignore[arg-type]

    def replace_or_add(self, item: Item) -> None:
        """Put a more specific recommendation in the place of a generic one with the same code."""
        for index, existing in enumerate(self.recommendations):
            if existing.code == item.code:
                self.recommendations[index] = item
                return
        self.recommendations.append(item)

    def recommend(self, code: str, params: dict[str, Param], **options: object) -> None:
        """One recommendation per code, except spacing advice, which is per drug."""
        if code != "separate-dosing" and any(r.code == code for r in self.recommendations):
            return
        self.recommendations.append(
            render("recommendation", code, params, self.knowledge, self.lang, **options)  # type: ignore[arg-type]
        )


CLASS_FACTS: dict[str, tuple[str, ...]] = {
    "ppi": ("ppi-fda",),
    "cardiac-glycoside": ("digoxin-fda",),
}
"""Management facts shown with every depleting drug of a class."""


def _drug_name(drug: Drug) -> L:
    name = drug.name_en[:1].upper() + drug.name_en[1:]
    return L(name, drug.name_zh or drug.name_en)


def _sentence(text_en: str, text_zh: str) -> L:
    """Pack text as a full sentence in each language."""
    en = text_en.strip()
    zh = text_zh.strip()
    return L(
        en if en.endswith((".", "!", "?")) else en + ".", zh if zh.endswith("。") else zh + "。"
    )


def _implausible_findings(
    builder: _Builder, checked: list[CheckedLab], knowledge: Knowledge
) -> None:
    for item in checked:
        if item.usable:
            continue
        analyte = knowledge.analytes[item.lab.analyte]
        likely = " or ".join(item.check.likely_units)
        likely_zh = "或".join(item.check.likely_units)
        if item.corroborated_mislabel:
            reason = L(
                f"Another result of the same day labelled {item.unit} is impossible in that unit, "
                f"and this value is typical in {likely}: the panel was probably reported in {likely}.",
                f"同日另一项标为{item.unit}的结果在该单位下不可能，且本值在{likely_zh}下属典型值：该组结果很可能以{likely_zh}报告。",
            )
        else:
            reason = L(
                f"Outside the plausible range for {item.unit}; plausible if the unit were {likely}.",
                f"超出{item.unit}的合理范围；若单位为{likely_zh}则合理。",
            )
        builder.finding(
            "implausible-unit",
            {
                "analyte": L(analyte.name_en.capitalize(), analyte.name_zh),
                "value": f"{item.lab.value:g}",
                "unit": item.unit,
                "reason": reason,
            },
        )


def _magnesium_findings(
    builder: _Builder, mg: CheckedLab, status: MagnesiumStatus, knowledge: Knowledge
) -> None:
    serum = knowledge.thresholds.serum_magnesium
    grade_text = (
        L(f", CTCAE grade {status.grade}", f"，CTCAE {status.grade} 级")
        if status.grade
        else L("", "")
    )
    params: dict[str, Param] = {
        "value": f"{mg.lab.value:g}",
        "unit": mg.unit,
        "mmol_l": fmt(status.mmol_l),
        "mmol_text": ""
        if mg.unit == "mmol/L"
        else L(f" ({fmt(status.mmol_l)} mmol/L)", f"（{fmt(status.mmol_l)} mmol/L）"),
        "grade": status.grade or 0,
        "grade_text": grade_text,
        "rule": status.rule,
    }
    extra_evidence = ["SITE"] if status.site_rule else []
    code = {
        "hypomagnesemia-severe": "hypomagnesemia-severe",
        "hypomagnesemia": "hypomagnesemia",
        "low-normal": "low-normal-magnesium",
        "hypermagnesemia": "hypermagnesemia",
        "hypermagnesemia-severe": "hypermagnesemia-severe",
    }.get(status.status)
    if code is None:
        return
    if code in ("hypomagnesemia-severe", "hypomagnesemia"):
        params["threshold"] = fmt(status.lower_mmol_l)
    elif code == "low-normal-magnesium":
        params["low"] = fmt(status.lower_mmol_l)
        params["high"] = fmt(serum.normal_lower.value)
    elif code == "hypermagnesemia":
        params["threshold"] = fmt(status.upper_mmol_l)
    else:
        params["threshold"] = fmt(serum.severe_excess_from.value)
    builder.finding(code, params, extra_evidence=extra_evidence)
    if status.unit_suspect:
        likely = " or ".join(status.unit_suspect)
        builder.recommend(
            "recheck-serum-magnesium",
            {
                "reason": L(
                    f"confirm the unit: {mg.lab.value:g} would be a typical value in {likely}",
                    f"确认单位：{mg.lab.value:g} 在{'或'.join(status.unit_suspect)}下为典型值",
                )
            },
        )


def _no_usable_result(checked: list[CheckedLab]) -> L:
    if any(item.lab.analyte == "magnesium" for item in checked):
        return L(
            "only results left out as implausible (see above)", "仅有因不合理而被排除的结果（见上）"
        )
    return L("none on record", "无记录")


def _egfr_gate(kidney: KidneyFunction | None, kidney_failure: bool, knowledge: Knowledge) -> str:
    """'block' | 'caution' | 'none' | 'unknown' per the clinical.md 8.3 mapping (DERIVED)."""
    renal = knowledge.thresholds.renal
    if kidney_failure:
        return "block"
    if kidney is None:
        return "unknown"
    if kidney.egfr < renal.supplement_contraindicated_below.value:
        return "block"
    if kidney.egfr < renal.supplement_caution_below.value:
        return "caution"
    return "none"


def assess(
    record: PatientRecord,
    knowledge: Knowledge,
    *,
    as_of: date,
    lang: Lang = "en",
    intake: IntakeReport | None = None,
    plan: Plan | None = None,
) -> Assessment:
    """Assess one person on `as_of`. Results dated after `as_of` are not used. `intake` (and
    its food `plan`) come from `mgcare.diet.evaluate_intake` when the record has a food log."""
    builder = _Builder(knowledge, lang)
    thresholds = knowledge.thresholds
    context = record.context
    age = age_on(record, as_of)
    checked = check_labs(record.labs, knowledge)
    groups = active_groups(record.conditions, knowledge)
    drugs = current_drugs(record.medications, as_of, knowledge)
    has_diabetes = "diabetes" in groups

    _implausible_findings(builder, checked, knowledge)

    # --- serum magnesium within the look-back window ------------------------------------------
    lookback_months = int(thresholds.monitoring.lookback.value)
    since = months_before(as_of, lookback_months)
    mg = latest(checked, "magnesium", as_of, since)
    status = magnesium_status(mg, knowledge) if mg is not None else None
    serum_out: SerumMagnesium | None = None
    if mg is not None and status is not None:
        serum_out = SerumMagnesium(
            value=mg.lab.value,
            unit=mg.unit,
            mmol_l=round(status.mmol_l, 4),
            status=status.status,
            ctcae_grade=status.grade,
            effective=mg.lab.effective.isoformat(),
        )
        _magnesium_findings(builder, mg, status, knowledge)
    else:
        older = latest(checked, "magnesium", as_of)
        latest_text = (
            L(
                f"{older.lab.value:g} {older.unit} on {older.lab.effective_date.isoformat()}",
                f"{older.lab.effective_date.isoformat()} 为 {older.lab.value:g} {older.unit}",
            )
            if older is not None
            else _no_usable_result(checked)
        )
        builder.finding(
            "magnesium-not-measured", {"lookback": lookback_months, "latest": latest_text}
        )
    mg_status = status.status if status is not None else None
    low_mg = mg_status in LOW_MAGNESIUM
    high_mg = mg_status in HIGH_MAGNESIUM

    # --- kidney function ------------------------------------------------------------------------
    kidney = kidney_function(
        checked, lambda day: age_on(record, day), record.person.sex, as_of, knowledge
    )
    kidney_failure = "kidney-failure" in groups or (
        kidney is not None and kidney.egfr < thresholds.renal.kidney_failure_below.value
    )
    gate = _egfr_gate(kidney, kidney_failure, knowledge)
    if kidney is not None and kidney.egfr < thresholds.renal.impairment_below.value:
        builder.finding(
            "renal-impairment",
            {
                "egfr": fmt(kidney.egfr, 0),
                "category": L(
                    f"{kidney.category}, {kidney.category_label.en}",
                    f"{kidney.category}，{kidney.category_label.zh}",
                ),
                "method": kidney.method,
            },
        )

    # --- Ca/Mg molar ratio, same day --------------------------------------------------------------
    ratio_out: CaMgRatio | None = None
    if mg is not None and status is not None:
        mg_day = mg.lab.effective_date
        calcium = latest(checked, "calcium", mg_day, mg_day)
        if calcium is not None:
            cutoff = thresholds.ca_mg_ratio.diabetes_cutoff.value
            molar = calcium.canonical / status.mmol_l
            ratio_out = CaMgRatio(molar=round(molar, 3), cutoff=cutoff, applies=has_diabetes)
            if has_diabetes and molar > cutoff:
                builder.finding(
                    "ca-mg-ratio-high",
                    {
                        "ratio": fmt(molar),
                        "cutoff": fmt(cutoff),
                        "ca_mmol_l": fmt(calcium.canonical),
                        "mg_mmol_l": fmt(status.mmol_l),
                        "date": mg_day.isoformat(),
                    },
                )

    # --- medications ------------------------------------------------------------------------------
    depleting = [(m, d) for m, d in drugs if "depletes" in d.effects]
    magnesium_products = [(m, d) for m, d in drugs if "magnesium-product" in d.effects]
    raising = [
        (m, d) for m, d in drugs if "raises" in d.effects or "magnesium-product" in d.effects
    ]
    chelating = [(m, d) for m, d in drugs if "chelates" in d.effects]
    on_digoxin = any("glycoside" in d.effects for _, d in drugs)
    for _, drug in depleting:
        builder.finding(
            "depleting-medication",
            {
                "drug": _drug_name(drug),
                "drug_class": L(drug.class_en.lower(), drug.class_zh),
                "mechanism": _sentence(drug.mechanism_en, drug.mechanism_zh),
            },
            escalated=low_mg or mg_status == "low-normal",
            extra_facts=CLASS_FACTS.get(drug.drug_class, ()),
            extra_evidence=drug.sources,
        )
    for _, drug in raising:
        builder.finding(
            "magnesium-raising-medication",
            {
                "drug": _drug_name(drug),
                "mechanism": _sentence(drug.mechanism_en, drug.mechanism_zh),
            },
            escalated=high_mg or gate == "block",
            extra_evidence=drug.sources,
        )
    oral_products = [d for _, d in magnesium_products if d.route != "iv"]
    if oral_products:
        for _, drug in chelating:
            spacing = drug.spacing
            spacing_text = L(spacing.text_en, spacing.text_zh) if spacing else L("", "")
            params: dict[str, Param] = {
                "drug": _drug_name(drug),
                "mechanism": _sentence(drug.mechanism_en, drug.mechanism_zh),
                "spacing": spacing_text,
            }
            source = [spacing.source] if spacing and spacing.source else []
            builder.finding(
                "supplement-interaction", params, extra_evidence=[*drug.sources, *source]
            )
            builder.recommend("separate-dosing", params, extra_evidence=[*drug.sources, *source])

    # --- electrolytes and digoxin coupling ----------------------------------------------------------
    if low_mg and mg is not None:
        potassium = latest(checked, "potassium", as_of, since)
        if potassium is not None:
            is_low, limit, k_rule = potassium_is_low(potassium, knowledge)
            if is_low:
                builder.finding(
                    "hypokalemia-with-low-magnesium",
                    {
                        "k_value": f"{potassium.lab.value:g}",
                        "k_unit": potassium.unit,
                        "k_rule": k_rule,
                        "k_limit": fmt(limit)
                        if limit is not None
                        else L("(flagged low)", "（标记为低）"),
                    },
                )
    if on_digoxin and status is not None and (low_mg or mg_status == "low-normal"):
        builder.finding(
            "digoxin-with-low-magnesium",
            {"mmol_l": fmt(status.mmol_l)},
            escalated=mg_status == "hypomagnesemia-severe",
        )

    # --- rapid atrial fibrillation ----------------------------------------------------------------------
    rapid_af = False
    if "atrial-fibrillation" in groups:
        heart_rate = latest(checked, "heart-rate", as_of, as_of)
        limit_hr = thresholds.rapid_af.heart_rate_above.value
        if heart_rate is not None and heart_rate.canonical > limit_hr:
            rapid_af = True
            builder.finding(
                "rapid-atrial-fibrillation",
                {
                    "hr": f"{heart_rate.lab.value:g}",
                    "threshold": fmt(limit_hr),
                    "date": str(heart_rate.lab.effective),
                },
            )

    # --- recommendations by magnesium status ------------------------------------------------------------
    renal_facts = ["iv-renal-limit"] if gate in ("block", "caution") else []
    if low_mg:
        reasons: list[L] = []
        if mg_status == "hypomagnesemia-severe":
            reasons.append(L("severe deficiency", "重度缺乏"))
        if context.symptomatic:
            reasons.append(L("symptomatic", "有症状"))
        if context.haemodynamically_unstable:
            reasons.append(L("haemodynamically unstable", "血流动力学不稳定"))
        if context.serious_arrhythmia:
            reasons.append(L("serious arrhythmia", "严重心律失常"))
        elif rapid_af and context.serious_arrhythmia is None:
            reasons.append(L("rapid atrial fibrillation", "快速心房颤动"))
        if reasons:
            builder.recommend(
                "iv-magnesium-sulfate", {"reasons": join(reasons)}, extra_facts=renal_facts
            )
        elif gate == "block":
            _avoid_supplement(builder, kidney, kidney_failure, knowledge)
        else:
            extra = ["renal-gating"] if gate == "caution" else []
            builder.recommend("oral-magnesium", {}, extra_facts=extra)
        builder.recommend("increase-dietary-magnesium", {})
        builder.recommend(
            "recheck-serum-magnesium",
            {"reason": L("after starting replacement", "开始补充后")},
        )
    elif mg_status == "low-normal":
        builder.recommend("increase-dietary-magnesium", {})
        builder.recommend(
            "recheck-serum-magnesium", {"reason": L("low-normal result", "结果处于正常低限")}
        )
    elif mg_status == "normal":
        builder.recommend("no-routine-supplementation", {})
    elif high_mg:
        severe = mg_status == "hypermagnesemia-severe"
        products = (
            L(
                "Current magnesium products: "
                + ", ".join(d.name_en for _, d in magnesium_products)
                + ". ",
                "当前含镁产品："
                + "、".join(d.name_zh or d.name_en for _, d in magnesium_products)
                + "。",
            )
            if magnesium_products
            else L("", "")
        )
        if not severe and not context.symptomatic and gate == "none":
            kidney_note = L(
                knowledge.facts["hyper-mild-normal-kidneys"].text_en,
                knowledge.facts["hyper-mild-normal-kidneys"].text_zh,
            )
        else:
            kidney_note = L("", "")
        builder.recommend(
            "stop-magnesium-products",
            {"products": products, "kidney_note": kidney_note},
            escalated=severe,
        )
        hyper_reasons: list[L] = []
        if severe:
            hyper_reasons.append(L("severe hypermagnesaemia", "重度高镁血症"))
        if context.symptomatic:
            hyper_reasons.append(L("symptomatic", "有症状"))
        if context.haemodynamically_unstable:
            hyper_reasons.append(L("haemodynamically unstable", "血流动力学不稳定"))
        if hyper_reasons:
            builder.recommend("iv-calcium", {"reasons": join(hyper_reasons)})
            dialysis_reasons = list(hyper_reasons)
            if gate in ("block", "caution"):
                dialysis_reasons.append(L("reduced kidney function", "肾功能下降"))
            builder.recommend("consider-dialysis", {"reasons": join(dialysis_reasons)})
        builder.recommend("recheck-serum-magnesium", {"reason": L("hypermagnesaemia", "高镁血症")})

    if gate == "block" and oral_products and not low_mg:
        _avoid_supplement(builder, kidney, kidney_failure, knowledge)

    # --- targeted monitoring ---------------------------------------------------------------------------
    if mg is None:
        monitor_reasons = [
            L(f"on {d.name_en}", f"正在使用{d.name_zh or d.name_en}") for _, d in depleting
        ]
        for group_id in MONITORED_CONDITIONS:
            if group_id in groups:
                group = knowledge.condition_groups[group_id]
                monitor_reasons.append(L(group.name_en, group.name_zh))
        if monitor_reasons:
            builder.recommend(
                "check-serum-magnesium",
                {"reasons": join(monitor_reasons), "lookback": lookback_months},
                escalated=bool(depleting) or on_digoxin,
            )

    if rapid_af and not high_mg:
        builder.recommend("magnesium-adjunct-rapid-af", {}, extra_facts=renal_facts)

    if intake is not None:
        from mgcare.rules.intake import intake_items

        intake_findings, intake_recommendations = intake_items(intake, plan, knowledge, lang)
        builder.findings.extend(intake_findings)
        for item in intake_recommendations:
            builder.replace_or_add(item)

    intake_out = None
    if intake is not None:
        from mgcare.diet.evaluate import intake_json

        intake_out = intake_json(intake, plan, knowledge, lang)
    return _assessment(
        record, builder, knowledge, lang, age, serum_out, ratio_out, kidney, intake_out
    )


def _avoid_supplement(
    builder: _Builder, kidney: KidneyFunction | None, kidney_failure: bool, knowledge: Knowledge
) -> None:
    limit = knowledge.thresholds.renal.supplement_contraindicated_below.value
    egfr_text: Param = (
        fmt(kidney.egfr, 0)
        if kidney is not None
        else L("unknown (kidney failure)", "未知（肾衰竭）")
    )
    if kidney is None and kidney_failure:
        egfr_text = L("unknown (kidney failure or dialysis)", "未知（肾衰竭或透析）")
    builder.recommend("avoid-supplement-renal", {"egfr": egfr_text, "limit": fmt(limit, 0)})


def _assessment(
    record: PatientRecord,
    builder: _Builder,
    knowledge: Knowledge,
    lang: Lang,
    age: int | None,
    serum_out: SerumMagnesium | None,
    ratio_out: CaMgRatio | None,
    kidney: KidneyFunction | None,
    intake_out: dict[str, object] | None,
) -> Assessment:
    egfr_out = (
        Egfr(value=round(kidney.egfr, 1), category=kidney.category, method=kidney.method.get(lang))
        if kidney is not None
        else None
    )
    by_severity = lambda item: SEVERITY_ORDER[item.severity]  # noqa: E731
    return Assessment(
        mgcare_version=__version__,
        knowledge_version=knowledge.version,
        person=PersonSummary(id=record.person.id, age_years=age, sex=record.person.sex),
        serum_magnesium=serum_out,
        ca_mg_ratio=ratio_out,
        egfr=egfr_out,
        intake=intake_out,
        findings=sorted(builder.findings, key=by_severity),
        recommendations=sorted(builder.recommendations, key=by_severity),
        disclaimer=knowledge.texts.disclaimer_zh if lang == "zh" else knowledge.texts.disclaimer_en,
    )
