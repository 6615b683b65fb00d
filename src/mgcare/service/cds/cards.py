"""CDS Hooks cards from the assessment's findings and recommendations.

Presentation only: each card carries an item's code, severity (as the indicator), summary and
detail, and its evidence as Markdown with links; nothing here decides anything clinical. Cards
follow the spec strictly: no null or empty optional fields, summary under 140 characters.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mgcare.i18n import L, Lang
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import Reference, Severity
from mgcare.model import Item

SOURCE_LABEL = "mgcare"
CODE_EXTENSION = "org.mgcare.code"
RELATED_EXTENSION = "org.mgcare.related-codes"
MAX_SUMMARY = 139
MAX_REFERENCE_LINKS = 3
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}

UI: dict[str, L] = {
    "evidence": L("Evidence", "证据"),
    "order_mg": L("Order serum magnesium", "开具血清镁检测"),
    "order_mg_description": L(
        "Create a draft order for {display} (LOINC {code})",
        "新建血清镁检测医嘱草稿：{display}（LOINC {code}）",
    ),
    "remove_draft": L("Remove the draft order: {name}", "删除医嘱草稿：{name}"),
    "remove_draft_description": L("Delete the draft order {reference}", "删除医嘱草稿 {reference}"),
    "code_link": L("mgcare evidence for {code}", "mgcare 证据：{code}"),
}
_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|"})


def markdown_text(text: str) -> str:
    """Plain pack text as GFM: special characters escaped, each line its own paragraph."""
    lines = [line.strip().translate(_MARKDOWN_SPECIAL) for line in text.splitlines()]
    return "\n\n".join(line for line in lines if line)


def short_summary(text: str) -> str:
    """One line under 140 characters (the spec's limit), cut at a word with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= MAX_SUMMARY:
        return text
    cut = text[: MAX_SUMMARY - 1]
    if " " in cut[MAX_SUMMARY // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"


def reference_url(reference: Reference) -> str | None:
    if reference.url:
        return reference.url
    if reference.doi:
        return f"https://doi.org/{reference.doi}"
    if reference.pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{reference.pmid}/"
    return None


@dataclass
class CardSpec:
    """What one card says: a lead item (its code names the card) and items folded into it."""

    lead: Item
    folded: list[Item] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def indicator(self) -> Severity:
        items = [self.lead, *self.folded]
        return max((i.severity for i in items), key=lambda s: SEVERITY_RANK[s])

    @property
    def evidence(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for item in (self.lead, *self.folded):
            for ref in item.evidence:
                seen.setdefault(ref, None)
        return tuple(seen)


class CardBuilder:
    """Builds cards for one knowledge pack; evidence Markdown and links are cached per list."""

    def __init__(self, knowledge: Knowledge) -> None:
        self._knowledge = knowledge
        self._evidence = lru_cache(maxsize=4096)(self._evidence_uncached)

    def card(self, spec: CardSpec, lang: Lang, base_url: str) -> dict[str, Any]:
        """The card without its uuids (see `stamp`), so that it can be memoised."""
        evidence_md, reference_links = self._evidence(spec.evidence, lang)
        parts = [markdown_text(spec.lead.detail)]
        for item in spec.folded:
            parts.append(f"**{markdown_text(item.summary)}**\n\n{markdown_text(item.detail)}")
        if evidence_md:
            parts.append(evidence_md)
        code = spec.lead.code
        links = [
            {
                "label": UI["code_link"].get(lang).format(code=code),
                "url": f"{base_url}/api/v1/evidence/codes/{code}",
                "type": "absolute",
            },
            *reference_links,
        ]
        extension: dict[str, Any] = {CODE_EXTENSION: code}
        related = [i.code for i in spec.folded if i.code != code]
        if related:
            extension[RELATED_EXTENSION] = list(dict.fromkeys(related))
        card: dict[str, Any] = {
            "summary": short_summary(spec.lead.summary),
            "indicator": spec.indicator,
            "detail": "\n\n".join(p for p in parts if p),
            "source": {"label": SOURCE_LABEL},
            "links": links,
            "extension": extension,
        }
        if spec.suggestions:
            card["suggestions"] = list(spec.suggestions)
            card["selectionBehavior"] = "at-most-one"
        return card

    def _evidence_uncached(
        self, evidence: tuple[str, ...], lang: Lang
    ) -> tuple[str, tuple[dict[str, str], ...]]:
        if not evidence:
            return "", ()
        references = self._knowledge.references
        lines = [f"**{UI['evidence'].get(lang)}**", ""]
        links: list[dict[str, str]] = []
        for ref_id in evidence:
            reference = references.get(ref_id)
            if reference is None:
                lines.append(f"- {markdown_text(ref_id)}")
                continue
            citation = markdown_text(reference.citation) or markdown_text(ref_id)
            url = reference_url(reference)
            shown = f"- \\[{markdown_text(ref_id)}\\] {citation}"
            lines.append(f"{shown} ({url})" if url else shown)
            if url and len(links) < MAX_REFERENCE_LINKS:
                label = " ".join(reference.citation.split())
                label = label if len(label) <= 80 else label[:79].rstrip() + "…"
                links.append({"label": f"{ref_id}: {label}", "url": url, "type": "absolute"})
        return "\n".join(lines), tuple(links)


def serum_magnesium_order(
    knowledge: Knowledge, patient_id: str | None, lang: Lang
) -> dict[str, Any]:
    """A suggestion to create a draft ServiceRequest for serum Mg, coded with the pack's first
    magnesium LOINC row (19123-9, the mass-concentration code most US labs report)."""
    row = next(r for r in knowledge.codes.loinc if r.analyte == "magnesium")
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [{"system": "http://loinc.org", "code": row.code, "display": row.display}],
            "text": row.display,
        },
    }
    if patient_id:
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
    return {
        "label": UI["order_mg"].get(lang),
        "isRecommended": True,
        "actions": [
            {
                "type": "create",
                "description": UI["order_mg_description"]
                .get(lang)
                .format(display=row.display, code=row.code),
                "resource": resource,
            }
        ],
    }


def remove_draft(reference: str, name: str, lang: Lang) -> dict[str, Any]:
    """A suggestion to delete one draft order (by its relative reference)."""
    return {
        "label": short_summary(UI["remove_draft"].get(lang).format(name=name)),
        "actions": [
            {
                "type": "delete",
                "description": UI["remove_draft_description"].get(lang).format(reference=reference),
                "resourceId": reference,
            }
        ],
    }


def render(
    builder: CardBuilder, specs: Sequence[CardSpec], lang: Lang, base_url: str
) -> list[dict[str, Any]]:
    """Cards without uuids, most urgent first (stable within a level)."""
    ordered = sorted(specs, key=lambda s: -SEVERITY_RANK[s.indicator])
    return [builder.card(spec, lang, base_url) for spec in ordered]


def new_uuid() -> str:
    """A random (version 4) UUID string; the same as str(uuid.uuid4()), a few times faster."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def stamp(card: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of a rendered card with new uuids for the card and its suggestions (the
    feedback endpoint identifies each card instance by them)."""
    stamped = {"uuid": new_uuid(), **card}
    if "suggestions" in card:
        stamped["suggestions"] = [{**s, "uuid": new_uuid()} for s in card["suggestions"]]
    return stamped


UUID_SLOT = "\x00mgcare-uuid\x00"
_UUID_SLOT_JSON = json.dumps(UUID_SLOT)


class ResponseTemplate:
    """A hook response serialised once, with a slot for every uuid (each card and suggestion);
    `fill` puts fresh uuids in the slots. The slot is a string with NUL characters, which pack
    text never contains."""

    def __init__(self, rendered: Sequence[dict[str, Any]]) -> None:
        slotted = []
        for card in rendered:
            copy = {"uuid": UUID_SLOT, **card}
            if "suggestions" in card:
                copy["suggestions"] = [{**s, "uuid": UUID_SLOT} for s in card["suggestions"]]
            slotted.append(copy)
        text = json.dumps({"cards": slotted}, ensure_ascii=False, separators=(",", ":"))
        self._parts = text.split(_UUID_SLOT_JSON)

    def fill(self) -> bytes:
        parts = self._parts
        out = [parts[0]]
        for part in parts[1:]:
            out.append('"' + new_uuid() + '"')
            out.append(part)
        return "".join(out).encode()


def cards(
    builder: CardBuilder, specs: Sequence[CardSpec], lang: Lang, base_url: str
) -> list[dict[str, Any]]:
    """Finished cards, most urgent first."""
    return [stamp(card) for card in render(builder, specs, lang, base_url)]
