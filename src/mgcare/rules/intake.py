"""Intake findings (DESIGN.md 4): intake below the reference, supplements above the UL, and the
`increase-dietary-magnesium` recommendation with concrete foods from the plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgcare.i18n import L, Lang
from mgcare.knowledge import Knowledge
from mgcare.model import Item
from mgcare.rules.render import fmt, render

if TYPE_CHECKING:
    from mgcare.diet.intake import IntakeReport
    from mgcare.diet.plan import Plan


def _plan_text(plan: Plan | None) -> L:
    if plan is None or not plan.suggestions:
        return L("", "")
    en = "; ".join(
        f"{s.food.name_en} {fmt(s.grams, 0)} g ({fmt(s.servings, 1)} x {s.serving_description.removeprefix('1 ')}): "
        f"{fmt(s.magnesium_mg, 0)} mg Mg, {fmt(s.energy_kcal, 0)} kcal"
        for s in plan.suggestions
    )
    zh = "；".join(
        f"{s.food.name_zh or s.food.name_en} {fmt(s.grams, 0)} 克：镁 {fmt(s.magnesium_mg, 0)} mg，{fmt(s.energy_kcal, 0)} 千卡"
        for s in plan.suggestions
    )
    closes = (
        L("", "")
        if plan.closes_gap
        else L(" (does not fully close the gap)", "（未能完全补足差距）")
    )
    return L(
        f"Foods that close the {fmt(plan.gap_mg, 0)} mg gap with the least added energy{closes.en}: {en}.",
        f"以最少额外能量补足 {fmt(plan.gap_mg, 0)} mg 差距的食物{closes.zh}：{zh}。",
    )


def intake_items(
    report: IntakeReport, plan: Plan | None, knowledge: Knowledge, lang: Lang
) -> tuple[list[Item], list[Item]]:
    """(findings, recommendations) for a day's intake."""
    findings: list[Item] = []
    recommendations: list[Item] = []
    reference = report.reference
    standard = reference.standard_name
    if reference.fallback_from:
        standard = L(
            f"{standard.en} (fallback from {reference.fallback_from})",
            f"{standard.zh}（由 {reference.fallback_from} 回退）",
        )
    if report.below_recommended:
        findings.append(
            render(
                "finding",
                "intake-below-reference",
                {
                    "intake_mg": fmt(report.magnesium_mg, 0),
                    "kind": reference.recommended_kind,
                    "reference_mg": fmt(reference.recommended_mg, 0),
                    "standard": standard,
                },
                knowledge,
                lang,
                extra_evidence=[reference.source],
            )
        )
        increase = render(
            "recommendation",
            "increase-dietary-magnesium",
            {},
            knowledge,
            lang,
            extra_evidence=[reference.source],
        )
        foods = _plan_text(plan).get(lang)
        if foods:
            increase = increase.model_copy(update={"detail": f"{foods}\n{increase.detail}"})
        recommendations.append(increase)
    if report.above_ul and reference.ul_supplemental_mg is not None:
        findings.append(
            render(
                "finding",
                "supplement-above-upper-limit",
                {
                    "supplement_mg": fmt(report.supplemental_magnesium_mg, 0),
                    "ul_mg": fmt(reference.ul_supplemental_mg, 0),
                },
                knowledge,
                lang,
            )
        )
    return findings, recommendations
