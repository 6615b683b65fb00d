"""Turn a code plus parameters into a localized finding or recommendation, with its evidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mgcare.i18n import STATUS_LABEL, L, Lang
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import CodeText
from mgcare.model import Item

Param = str | float | int | L


def fmt(number: float, digits: int = 2) -> str:
    """A number as people read it: rounded, without trailing zeros."""
    text = f"{number:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _value(param: Param, lang: Lang) -> str:
    if isinstance(param, L):
        return param.get(lang)
    if isinstance(param, float):
        return fmt(param)
    return str(param)


def fill(template: str, params: Mapping[str, Param], lang: Lang) -> str:
    return template.format_map({key: _value(value, lang) for key, value in params.items()})


def _facts_text(knowledge: Knowledge, fact_ids: Sequence[str], lang: Lang) -> list[str]:
    """Fact lines with source and status label; constant per pack, so memoised on it."""

    def lines() -> tuple[str, ...]:
        out = []
        for fact_id in fact_ids:
            fact = knowledge.facts[fact_id]
            text = fact.text_zh if lang == "zh" else fact.text_en
            out.append(f"{text} [{fact.source}; {STATUS_LABEL[fact.status].get(lang)}]")
        return tuple(out)

    return list(knowledge.memo(("facts", lang, tuple(fact_ids)), lines))


def render(
    kind: str,
    code: str,
    params: Mapping[str, Param],
    knowledge: Knowledge,
    lang: Lang,
    *,
    escalated: bool = False,
    extra_facts: Sequence[str] = (),
    extra_evidence: Sequence[str] = (),
) -> Item:
    """Build an Item from the pack's texts. `escalated` picks the pack's escalated severity."""
    text: CodeText = (
        knowledge.finding_text(code) if kind == "finding" else knowledge.recommendation_text(code)
    )
    severity = text.severity_escalated if escalated and text.severity_escalated else text.severity
    summary = fill(text.summary_zh if lang == "zh" else text.summary_en, params, lang)
    detail_lines = [fill(text.detail_zh if lang == "zh" else text.detail_en, params, lang)]
    fact_ids = [*text.facts, *(f for f in extra_facts if f not in text.facts)]
    detail_lines.extend(_facts_text(knowledge, fact_ids, lang))
    evidence = list(dict.fromkeys([*text.evidence, *extra_evidence]))
    return Item(
        code=code,
        severity=severity,
        summary=summary,
        detail="\n".join(line for line in detail_lines if line.strip()),
        evidence=evidence,
    )
