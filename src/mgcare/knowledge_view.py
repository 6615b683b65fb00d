"""What `mgcare knowledge` shows: pack version, every threshold with source and status, sources."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from mgcare.i18n import STATUS_LABEL, Lang
from mgcare.knowledge import Knowledge


def _threshold_rows(knowledge: Knowledge) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, fact in knowledge.threshold_facts():
        if fact is None:
            rows.append(
                {
                    "name": name,
                    "value": None,
                    "unit": None,
                    "source": None,
                    "status": "not set",
                    "site_rule": None,
                    "note": "no default; set by the lab interval or a site override",
                }
            )
        else:
            rows.append(
                {
                    "name": name,
                    "value": fact.value,
                    "unit": fact.unit,
                    "source": fact.source,
                    "status": fact.status,
                    "site_rule": fact.site_rule,
                    "note": fact.note,
                }
            )
    return rows


def knowledge_summary(knowledge: Knowledge) -> dict[str, Any]:
    """The pack as JSON: version, site rule, thresholds, row counts, sources."""
    return {
        "knowledge_version": knowledge.version,
        "site_rule": knowledge.site_rule,
        "thresholds": _threshold_rows(knowledge),
        "counts": {
            "references": len(knowledge.evidence.reference),
            "review_references": sum(
                1 for r in knowledge.evidence.reference if r.kind == "review-reference"
            ),
            "claims": len(knowledge.claims.claim),
            "drugs": len(knowledge.drugs.drug),
            "salts": len(knowledge.salts.salt),
            "reference_intakes": len(knowledge.intakes.intake),
            "loinc_codes": len(knowledge.codes.loinc),
            "condition_groups": len(knowledge.codes.condition),
            "ctcae_bounds": len(knowledge.ctcae),
        },
        "sources": [
            {
                "id": r.id,
                "kind": r.kind,
                "citation": r.citation,
                "doi": r.doi or None,
                "pmid": r.pmid or None,
                "verification": r.verification,
            }
            for r in knowledge.evidence.reference
        ],
    }


def print_knowledge(knowledge: Knowledge, lang: Lang) -> None:
    console = Console(highlight=False, soft_wrap=True)
    summary = knowledge_summary(knowledge)
    site = f" · site rule: {knowledge.site_rule}" if knowledge.site_rule else ""
    console.print(f"[bold]mgcare knowledge pack {knowledge.version}[/bold]{site}")
    console.print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary["counts"].items()))
    table = Table(title="Thresholds" if lang == "en" else "阈值", show_lines=False)
    for column in ("threshold", "value", "unit", "source", "status"):
        table.add_column(column)
    for row in summary["thresholds"]:
        status = row["status"]
        label = STATUS_LABEL[status].get(lang) if status in STATUS_LABEL else status
        value = "-" if row["value"] is None else f"{row['value']:g}"
        table.add_row(
            row["name"], value, row["unit"] or "-", row["source"] or "-", f"{status} ({label})"
        )
    console.print(table)
    sources = Table(title="Sources" if lang == "en" else "文献来源")
    for column in ("id", "citation", "DOI / PMID", "verification"):
        sources.add_column(column)
    for ref in summary["sources"]:
        ident = " / ".join(x for x in (ref["doi"], ref["pmid"]) if x) or "-"
        sources.add_row(ref["id"], ref["citation"][:90], ident, ref["verification"])
    console.print(sources)
