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


def bar_chart(title: str, items: Sequence[tuple[str, float]], total: float | None = None) -> str:
    """Horizontal bars with labels and values (share of `total` when given)."""
    height = ROW_HEIGHT * (len(items) + 1)
    largest = max((value for _, value in items), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(items):
        y = ROW_HEIGHT * (index + 1)
        width = BAR_WIDTH * value / largest
        colour = STATUS_COLOURS.get(label, DEFAULT_COLOUR)
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


def write_html(summary: Mapping[str, Any], path: Path) -> None:
    counts = summary["counts"]
    persons = counts["persons"] or 1
    status_items = [(s, float(counts["mg_status"].get(s, 0))) for s in STATUS_COLOURS]
    code_items = sorted(((c, float(v)) for c, v in counts["codes"].items()), key=lambda cv: -cv[1])
    sections = [
        f"<h1>mgcare screen</h1><p>As of {escape(summary['as_of'])} · engine {escape(summary['engine'])}"
        f" · knowledge {escape(summary['knowledge_version'])} · mgcare {escape(summary['mgcare_version'])}"
        f" · look-back {summary['lookback_months']} months (since {escape(summary['lookback_since'])})</p>",
        f"<p><b>{counts['persons']:,}</b> persons screened; serum magnesium measured in the look-back "
        f"window for <b>{counts['magnesium_measured']:,}</b>; "
        f"<b>{counts['depleting-medication-without-magnesium-check']:,}</b> on a magnesium-depleting "
        f"drug without a recent magnesium result; {counts['persons_without_lab_results']:,} without any "
        f"screened lab result.</p>",
        "<h2>Serum magnesium status (latest result in the window)</h2>",
        bar_chart("Serum magnesium status", status_items, float(counts["magnesium_measured"] or 1)),
        "<h2>Findings (persons with each code)</h2>",
        bar_chart("Findings", code_items, float(persons)),
        "<h2>Depleting drug classes (current)</h2>",
        _table(sorted(counts["depleting_classes"].items()), ["drug class", "persons"]),
        "<h2>eGFR category</h2>",
        _table(sorted(counts["egfr_category"].items()), ["KDIGO category", "persons"]),
    ]
    weighted = summary.get("weighted")
    if weighted:
        design = weighted["design"]
        prevalence = weighted["prevalence"]
        items = [
            (name, e["estimate"], e["ci_low"], e["ci_high"])
            for name, e in prevalence.items()
            if e["n"] and e["estimate"] == e["estimate"]
        ]
        sections += [
            "<h2>Survey-weighted prevalence (95% CI)</h2>",
            f"<p>{escape(design['variance'])}; {design['strata_count']} strata, "
            f"{design['psu_count']:,} PSUs, {design['df']} degrees of freedom; "
            f"{design['persons_without_valid_weight']:,} persons without a valid weight left out.</p>",
            interval_chart("Weighted prevalence", items),
            _table(
                [
                    (
                        name,
                        e["n"],
                        100 * e["estimate"],
                        100 * e["se"],
                        100 * e["ci_low"],
                        100 * e["ci_high"],
                    )
                    for name, e in prevalence.items()
                ],
                ["indicator", "n", "%", "SE (%)", "95% CI low", "95% CI high"],
            ),
        ]
    sections.append("<h2>Input rows: used and excluded, with reasons</h2>")
    for table, info in summary["tables"].items():
        rows = [("rows", info["rows"])]
        rows += [
            (k, v)
            for k, v in info.items()
            if k
            not in ("rows", "excluded", "excluded_examples", "notes", "left_out_of_calculations")
        ]
        rows += [(f"excluded: {k}", v) for k, v in info.get("excluded", {}).items()]
        rows += [
            (f"left out of calculations: {k}", v)
            for k, v in info.get("left_out_of_calculations", {}).items()
        ]
        rows += [(f"note: {k}", v) for k, v in info.get("notes", {}).items()]
        sections.append(f"<h3>{escape(table)}</h3>" + _table(rows, ["", "count"]))
        for reason, examples in info.get("excluded_examples", {}).items():
            sections.append(
                f"<p>Most frequent {escape(reason)}:</p>"
                + _table(
                    [(e["loinc"], e["unit"], e["rows"]) for e in examples],
                    ["LOINC", "unit", "rows"],
                )
            )
    timings = summary.get("timings_s", {})
    sections.append("<h2>Run time (s)</h2>" + _table(sorted(timings.items()), ["step", "seconds"]))
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
        "text-align:left}th{background:#f3f3f3}"
    )
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mgcare screen '
        f"{escape(summary['as_of'])}</title><style>{style}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
