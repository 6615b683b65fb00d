"""Text (rich) rendering of food search, food details, diet reports and plans."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mgcare.i18n import L, Lang
from mgcare.report_text import print_items

WORDS: dict[str, L] = {
    "food": L("food", "食物"),
    "name": L("name", "名称"),
    "mg100": L("Mg mg/100 g", "镁 mg/100克"),
    "results": L("results for", "搜索结果："),
    "no_results": L("No food matches", "没有匹配的食物："),
    "portion": L("portion", "份量"),
    "grams": L("g", "克"),
    "mg": L("Mg mg", "镁 mg"),
    "kcal": L("kcal", "千卡"),
    "totals": L("Daily totals", "每日合计"),
    "reference": L("Reference intake", "参考摄入量"),
    "top": L("Top magnesium sources", "镁的主要来源"),
    "plan": L("Foods that close the gap", "补足差距的食物"),
    "known": L("share of logged grams with a known Mg value", "已知镁含量的记录克数占比"),
    "supplements": L("from supplements", "来自补充剂"),
    "ratio": L("Mg:Zn ratio", "镁锌比"),
    "warnings": L("Notes", "说明"),
    "gap": L("gap", "差距"),
    "not_closed": L(
        "The gap cannot be closed within the limits; these foods add the most magnesium.",
        "在限制条件内无法完全补足差距；以下食物可提供最多的镁。",
    ),
}


def _w(key: str, lang: Lang) -> str:
    return WORDS[key].get(lang)


def _name(row: dict[str, Any], lang: Lang) -> str:
    return str(row["name_zh"] if lang == "zh" and row.get("name_zh") else row["name"])


def print_food_hits(rows: list[dict[str, Any]], query: str, lang: Lang) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if not rows:
        console.print(f"{_w('no_results', lang)} {escape(query)!r}")
        return
    table = Table(title=f"{_w('results', lang)} {escape(query)}")
    table.add_column(_w("food", lang))
    table.add_column(_w("name", lang))
    table.add_column(_w("mg100", lang), justify="right")
    for row in rows:
        mg = row["magnesium_mg_per_100g"]
        other = row["name"] if lang == "zh" else (row["name_zh"] or "")
        label = escape(_name(row, lang)) + (f" [dim]{escape(other)}[/dim]" if other else "")
        table.add_row(row["food"], label, "-" if mg is None else f"{mg:g}")
    console.print(table)


def print_food(data: dict[str, Any], lang: Lang) -> None:
    console = Console(highlight=False, soft_wrap=True)
    console.print(
        f"[bold]{data['food']} {escape(_name(data, lang))}[/bold] · {escape(data['group'])}"
    )
    per = data["per_100g"]
    console.print(
        ", ".join(f"{k.replace('_', ' ')} {'-' if v is None else f'{v:g}'}" for k, v in per.items())
        + " (per 100 g)"
    )
    table = Table()
    for column in ("portion", "grams", "mg"):
        table.add_column(_w(column, lang), justify="right" if column != "portion" else "left")
    for portion in data["portions"]:
        mg = portion["magnesium_mg"]
        table.add_row(
            f"{portion['amount']:g} {escape(portion['unit'])}",
            f"{portion['grams']:g}",
            "-" if mg is None else f"{mg:g}",
        )
    console.print(table)
    console.print(f"[dim]{data['source']}[/dim]")


def _plan_table(foods: list[dict[str, Any]], lang: Lang) -> Table:
    table = Table(title=_w("plan", lang))
    for column in ("food", "name", "grams", "portion", "mg", "kcal"):
        table.add_column(_w(column, lang))
    for row in foods:
        table.add_row(
            row["food"],
            escape(_name(row, lang)),
            f"{row['grams']:g}",
            f"{row['servings']:g} x {escape(row['serving'].removeprefix('1 '))}",
            f"{row['magnesium_mg']:g}",
            f"{row['energy_kcal']:g}",
        )
    return table


def print_plan(data: dict[str, Any], lang: Lang) -> None:
    console = Console(highlight=False, soft_wrap=True)
    ref = data["reference"]
    console.print(
        f"{_w('reference', lang)}: {ref['recommended_kind']} {ref['recommended_mg']:g} mg/d ({ref['standard']}, {ref['source']}) · "
        f"{_w('gap', lang)} {data['gap_mg']:g} mg"
    )
    if not data["closes_gap"]:
        console.print(_w("not_closed", lang))
    console.print(_plan_table(data["foods"], lang))
    console.print(f"Σ {data['magnesium_mg']:g} mg Mg · {data['energy_kcal']:g} kcal")


def print_diet_report(data: dict[str, Any], lang: Lang) -> None:
    console = Console(highlight=False, soft_wrap=True)
    totals = data["totals"]
    console.print(
        f"[bold]{_w('totals', lang)}[/bold]: Mg {totals['magnesium_mg']:g} mg · Zn {totals['zinc_mg']:g} mg · "
        f"Ca {totals['calcium_mg']:g} mg · K {totals['potassium_mg']:g} mg · {totals['energy_kcal']:g} kcal"
    )
    console.print(
        f"  Mg {_w('supplements', lang)}: {data['supplemental_magnesium_mg']:g} mg · "
        f"{_w('known', lang)}: {data['magnesium_known_share']:.0%}"
    )
    ref = data["reference"]
    ear = f"EAR {ref['ear_mg']:g} · " if ref["ear_mg"] is not None else ""
    ul = (
        f" · UL (supplements) {ref['ul_supplemental_mg']:g} ({ref['ul_standard']})"
        if ref["ul_supplemental_mg"] is not None
        else ""
    )
    console.print(
        f"{_w('reference', lang)}: {escape(ref['standard_name'])} · {ear}{ref['recommended_kind']} {ref['recommended_mg']:g} mg/d{ul}"
    )
    if data["mg_zn_ratio"] is not None:
        console.print(
            f"{_w('ratio', lang)}: {data['mg_zn_ratio']:g} ({data['mg_zn_ratio_basis']}) [dim]{escape(data['mg_zn_interpretation'])}[/dim]"
        )
    if data["top_contributors"]:
        table = Table(title=_w("top", lang))
        for column in ("food", "name", "grams", "mg"):
            table.add_column(_w(column, lang))
        for row in data["top_contributors"]:
            table.add_row(
                row["food"],
                escape(_name(row, lang)),
                f"{row['grams']:g}",
                f"{row['magnesium_mg']:g}",
            )
        console.print(table)
    if data["plan"] and data["plan"]["foods"]:
        console.print(_plan_table(data["plan"]["foods"], lang))
    print_items(console, data["findings"], data["recommendations"], lang)
    if data["warnings"]:
        console.print(
            f"[dim]{_w('warnings', lang)}: "
            + "; ".join(escape(w) for w in data["warnings"])
            + "[/dim]"
        )
    console.print(f"[dim]{escape(data['disclaimer'])}[/dim]")
