"""summary.json and summary.html: counts, exclusions with reasons and survey-weighted prevalence.

Charts are inline SVG written as text (no browser, no plotting library), so the page is one
self-contained file that can be mailed or archived.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from mgcare.i18n import UI, Lang
from mgcare.screen import words

BAR_WIDTH = 420
ROW_HEIGHT = 22
LABEL_WIDTH = 300
VALUE_WIDTH = 150
PERCENT = 100.0
STATUS_COLOURS = {
    "hypomagnesemia-severe": "#8b0000",
    "hypomagnesemia": "#d9534f",
    "low-normal": "#f0ad4e",
    "normal": "#5cb85c",
    "hypermagnesemia": "#5bc0de",
    "hypermagnesemia-severe": "#2a6496",
}
DEFAULT_COLOUR = "#4a6fa5"


def write_json(summary: Mapping[str, Any], path: Path) -> None:
    path.write_text(
        json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    total: float | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Horizontal bars with labels and values (share of `total` when given); `labels` shows
    each key in the reader's language while the key still picks its colour."""
    height = ROW_HEIGHT * (len(items) + 1)
    largest = max((value for _, value in items), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (key, value) in enumerate(items):
        y = ROW_HEIGHT * (index + 1)
        width = BAR_WIDTH * value / largest
        colour = STATUS_COLOURS.get(key, DEFAULT_COLOUR)
        label = labels.get(key, key) if labels else key
        shown = f"{value:,.0f}"
        if total:
            shown += f" ({PERCENT * value / total:.1f}%)"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y - 6}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y - ROW_HEIGHT + 4}" width="{width:.1f}" height="{ROW_HEIGHT - 6}" fill="{colour}"/>'
            f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{y - 6}">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def interval_chart(title: str, items: Sequence[tuple[str, float, float, float]]) -> str:
    """Point estimates with confidence intervals, as percentages on a shared axis."""
    height = ROW_HEIGHT * (len(items) + 2)
    top = max((high for _, _, _, high in items), default=0.0) or 1.0
    scale = BAR_WIDTH / top

    def x(value: float) -> float:
        return LABEL_WIDTH + max(value, 0.0) * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, estimate, low, high) in enumerate(items):
        y = ROW_HEIGHT * (index + 1)
        mid = y - ROW_HEIGHT / 2 + 2
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y - 6}" text-anchor="end">{escape(label)}</text>'
            f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{mid:.1f}" y2="{mid:.1f}" stroke="#333"/>'
            f'<circle cx="{x(estimate):.1f}" cy="{mid:.1f}" r="4" fill="{DEFAULT_COLOUR}"/>'
            f'<text x="{x(high) + 6:.1f}" y="{y - 6}">{PERCENT * estimate:.2f}% '
            f"({PERCENT * low:.2f}–{PERCENT * high:.2f})</text>"
        )
    axis_y = ROW_HEIGHT * (len(items) + 1)
    parts.append(
        f'<line x1="{LABEL_WIDTH}" x2="{LABEL_WIDTH + BAR_WIDTH}" y1="{axis_y - 12}" y2="{axis_y - 12}" stroke="#999"/>'
        f'<text x="{LABEL_WIDTH}" y="{axis_y + 2}">0%</text>'
        f'<text x="{LABEL_WIDTH + BAR_WIDTH}" y="{axis_y + 2}" text-anchor="end">{PERCENT * top:.1f}%</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def write_html(
    summary: Mapping[str, Any],
    path: Path,
    lang: Lang = "en",
    *,
    disclaimer: str = "",
    classes_zh: Mapping[str, str] | None = None,
) -> None:
    """The page for people, in English or Simplified Chinese; the keys and codes of
    summary.json stay visible beside each Chinese label. `disclaimer` (the pack's text in
    `lang`) is shown in Chinese pages; English pages are unchanged from before --lang."""

    def pick(en: str, zh: str) -> str:
        return zh if lang == "zh" else en

    counts = summary["counts"]
    persons = counts["persons"] or 1
    status_items = [(s, float(counts["mg_status"].get(s, 0))) for s in STATUS_COLOURS]
    code_items = sorted(((c, float(v)) for c, v in counts["codes"].items()), key=lambda cv: -cv[1])
    as_of, engine = escape(summary["as_of"]), escape(summary["engine"])
    knowledge, version = escape(summary["knowledge_version"]), escape(summary["mgcare_version"])
    months, since = summary["lookback_months"], escape(summary["lookback_since"])
    measured = counts["magnesium_measured"]
    unchecked = counts[words.DEPLETING_WITHOUT_CHECK]
    no_labs = counts["persons_without_lab_results"]
    sections = [
        pick(
            f"<h1>mgcare screen</h1><p>As of {as_of} · engine {engine} · knowledge {knowledge}"
            f" · mgcare {version} · look-back {months} months (since {since})</p>",
            f"<h1>mgcare 人群筛查</h1><p>截至 {as_of} · 引擎 {engine} · 知识库 {knowledge}"
            f" · mgcare {version} · 回溯 {months} 个月（自 {since} 起）</p>",
        ),
        pick(
            f"<p><b>{counts['persons']:,}</b> persons screened; serum magnesium measured in the "
            f"look-back window for <b>{measured:,}</b>; <b>{unchecked:,}</b> on a "
            f"magnesium-depleting drug without a recent magnesium result; {no_labs:,} without "
            f"any screened lab result.</p>",
            f"<p>共筛查 <b>{counts['persons']:,}</b> 人；回溯期内有血清镁结果 <b>{measured:,}</b> 人；"
            f"<b>{unchecked:,}</b> 人使用致镁丢失药物但近期无血清镁结果；{no_labs:,} 人无任何筛查用检验结果。</p>",
        ),
    ]
    if disclaimer:
        colon = "：" if lang == "zh" else ": "
        sections.append(
            f'<p class="disclaimer"><b>{escape(UI["disclaimer"].get(lang))}</b>{colon}'
            f"{escape(disclaimer)}</p>"
        )
    classes_zh = classes_zh or {}
    sections += [
        pick(
            "<h2>Serum magnesium status (latest result in the window)</h2>",
            "<h2>血清镁状态（回溯期内最近一次结果）</h2>",
        ),
        bar_chart(
            pick("Serum magnesium status", "血清镁状态"),
            status_items,
            float(measured or 1),
            {s: words.status(s, lang, show_code=False) for s, _ in status_items}
            if lang == "zh"
            else None,
        ),
        pick("<h2>Findings (persons with each code)</h2>", "<h2>发现（各代码的人数）</h2>"),
        bar_chart(
            pick("Findings", "发现"),
            code_items,
            float(persons),
            {c: words.finding(c, lang, show_code=False) for c, _ in code_items}
            if lang == "zh"
            else None,
        ),
        pick("<h2>Depleting drug classes (current)</h2>", "<h2>致镁丢失药物类别（当前使用）</h2>"),
        _table(
            [
                (words.drug_class(c, lang, classes_zh), n)
                for c, n in sorted(counts["depleting_classes"].items())
            ],
            [pick("drug class", "药物类别"), pick("persons", "人数")],
        ),
        pick("<h2>eGFR category</h2>", "<h2>eGFR 分期</h2>"),
        _table(
            sorted(counts["egfr_category"].items()),
            [pick("KDIGO category", "KDIGO 分期"), pick("persons", "人数")],
        ),
    ]
    weighted = summary.get("weighted")
    if weighted:
        design = weighted["design"]
        prevalence = weighted["prevalence"]
        items = [
            (words.indicator(name, lang, show_code=False), e["estimate"], e["ci_low"], e["ci_high"])
            for name, e in prevalence.items()
            if e["n"] and e["estimate"] == e["estimate"]
        ]
        variance = escape(words.variance(design["variance"], lang))
        strata, psus, df = design["strata_count"], design["psu_count"], design["df"]
        unweighted = design["persons_without_valid_weight"]
        sections += [
            pick(
                "<h2>Survey-weighted prevalence (95% CI)</h2>", "<h2>调查加权患病率（95% CI）</h2>"
            ),
            pick(
                f"<p>{variance}; {strata} strata, {psus:,} PSUs, {df} degrees of freedom; "
                f"{unweighted:,} persons without a valid weight left out.</p>",
                f"<p>{variance}；{strata} 个层，{psus:,} 个初级抽样单位（PSU），自由度 {df}；"
                f"{unweighted:,} 人无有效权重，未纳入。</p>",
            ),
            interval_chart(pick("Weighted prevalence", "加权患病率"), items),
            _table(
                [
                    (
                        words.indicator(name, lang),
                        e["n"],
                        100 * e["estimate"],
                        100 * e["se"],
                        100 * e["ci_low"],
                        100 * e["ci_high"],
                    )
                    for name, e in prevalence.items()
                ],
                [
                    pick("indicator", "指标"),
                    "n",
                    "%",
                    pick("SE (%)", "标准误 (%)"),
                    pick("95% CI low", "95% CI 下限"),
                    pick("95% CI high", "95% CI 上限"),
                ],
            ),
        ]
    sections.append(
        pick(
            "<h2>Input rows: used and excluded, with reasons</h2>",
            "<h2>输入行：使用与排除（附原因）</h2>",
        )
    )
    for table, info in summary["tables"].items():
        rows: list[tuple[str, object]] = [(words.field("rows", lang), info["rows"])]
        rows += [
            (words.field(k, lang), words.value(v, lang))
            for k, v in info.items()
            if k
            not in ("rows", "excluded", "excluded_examples", "notes", "left_out_of_calculations")
        ]
        rows += [
            (pick("excluded: ", "排除：") + words.reason(k, lang), v)
            for k, v in info.get("excluded", {}).items()
        ]
        rows += [
            (pick("left out of calculations: ", "未纳入计算：") + words.reason(k, lang), v)
            for k, v in info.get("left_out_of_calculations", {}).items()
        ]
        rows += [
            (pick("note: ", "备注：") + words.field(k, lang), v)
            for k, v in info.get("notes", {}).items()
        ]
        sections.append(
            f"<h3>{escape(words.table(table, lang))}</h3>"
            + _table(rows, ["", pick("count", "数量")])
        )
        for reason, examples in info.get("excluded_examples", {}).items():
            sections.append(
                pick(
                    f"<p>Most frequent {escape(reason)}:</p>",
                    f"<p>最常见的“{escape(words.reason(reason, lang))}”：</p>",
                )
                + _table(
                    [(e["loinc"], e["unit"], e["rows"]) for e in examples],
                    ["LOINC", pick("unit", "单位"), pick("rows", "行数")],
                )
            )
    timings = summary.get("timings_s", {})
    sections.append(
        pick("<h2>Run time (s)</h2>", "<h2>运行时间（秒）</h2>")
        + _table(
            [(words.step(k, lang), v) for k, v in sorted(timings.items())],
            [pick("step", "步骤"), pick("seconds", "秒")],
        )
    )
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
        "text-align:left}th{background:#f3f3f3}"
    )
    page = (
        f'<!doctype html><html lang="{pick("en", "zh-Hans")}"><head><meta charset="utf-8">'
        f"<title>{pick('mgcare screen', 'mgcare 人群筛查')} "
        f"{as_of}</title><style>{style}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
