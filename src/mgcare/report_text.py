"""Plain-text (rich) rendering of an assessment for people at a terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from mgcare.i18n import MAGNESIUM_STATUS, SEX, UI, Lang
from mgcare.model import Assessment, Item

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_LABEL = {
    "en": {"critical": "CRITICAL", "warning": "WARNING", "info": "INFO"},
    "zh": {"critical": "危急", "warning": "警告", "info": "提示"},
}


def _item_lines(console: Console, items: Sequence[Item | Mapping[str, Any]], lang: Lang) -> None:
    for raw in items:
        item = raw if isinstance(raw, Item) else Item.model_validate(raw)
        style = SEVERITY_STYLE[item.severity]
        label = SEVERITY_LABEL[lang][item.severity]
        console.print(
            f"  [{style}]{label}[/{style}] {escape(item.summary)}  [dim]({item.code})[/dim]"
        )
        for line in item.detail.splitlines():
            console.print(f"      {escape(line)}", highlight=False)
        console.print(f"      [dim]{UI['evidence'].get(lang)}: {', '.join(item.evidence)}[/dim]")


def print_items(
    console: Console,
    findings: Sequence[Item | Mapping[str, Any]],
    recommendations: Sequence[Item | Mapping[str, Any]],
    lang: Lang,
) -> None:
    """Findings and recommendations under their headings."""
    for key, items in (("findings", findings), ("recommendations", recommendations)):
        console.print(f"\n[bold]{UI[key].get(lang)}[/bold]")
        if items:
            _item_lines(console, items, lang)
        else:
            console.print(f"  {UI['none'].get(lang)}")


def print_assessment(assessment: Assessment, lang: Lang, console: Console | None = None) -> None:
    console = console or Console(highlight=False, soft_wrap=True)
    person = assessment.person
    console.print(
        f"[bold]mgcare {assessment.mgcare_version}[/bold] · knowledge {assessment.knowledge_version}"
    )
    console.print(
        f"{UI['person'].get(lang)}: {person.id or '-'} · {person.age_years if person.age_years is not None else '-'} · {SEX[person.sex].get(lang) if person.sex in SEX else '-'}"
    )
    serum = assessment.serum_magnesium
    if serum is None:
        console.print(f"{UI['serum_mg'].get(lang)}: {UI['not_measured'].get(lang)}")
    else:
        grade = f" · {UI['grade'].get(lang)} {serum.ctcae_grade}" if serum.ctcae_grade else ""
        console.print(
            f"{UI['serum_mg'].get(lang)}: {serum.value:g} {serum.unit} = {serum.mmol_l:.2f} mmol/L · "
            f"{UI['status'].get(lang)} [bold]{MAGNESIUM_STATUS[serum.status].get(lang)}[/bold] ({serum.status}){grade} · {serum.effective}"
        )
    if assessment.ca_mg_ratio is not None:
        ratio = assessment.ca_mg_ratio
        applies = UI["applies"] if ratio.applies else UI["not_applies"]
        console.print(
            f"{UI['ca_mg'].get(lang)}: {ratio.molar:.2f} (cut-off {ratio.cutoff:g}; {applies.get(lang)})"
        )
    if assessment.egfr is not None:
        egfr = assessment.egfr
        console.print(
            f"{UI['egfr'].get(lang)}: {egfr.value:.0f} ({egfr.category}) · {escape(egfr.method)}"
        )
    print_items(console, assessment.findings, assessment.recommendations, lang)
    console.print(f"\n[dim]{UI['disclaimer'].get(lang)}: {escape(assessment.disclaimer)}[/dim]")
