"""Charts as self-contained SVG strings, shared by the web page and the PDF report.

Pure and dependency-free: the same string is inlined in HTML and rendered by WeasyPrint, so the
page and the PDF always show the same picture. Clinical numbers never live here: the reference
band and deficiency cut-off are passed in (`mg_band_for` reads them from the knowledge pack), and
the mechanism figure is drawn from `mechanisms.toml`. Every chart is accessible (`role="img"`,
bilingual `<title>`/`<desc>`, WCAG AA colours, status shown by marker shape and text, not colour
alone) and deterministic (same input, same bytes).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from mgcare.i18n import L, Lang
from mgcare.knowledge import Knowledge
from mgcare.knowledge.models import MECHANISM_END, MECHANISM_START, MechanismPathway

__all__ = [
    "GRADE_LABEL",
    "Band",
    "IntakeBar",
    "TrendPoint",
    "intake_svg",
    "mechanism_svg",
    "mg_band_for",
    "mg_trend_svg",
]

# --- palette: every colour that carries meaning is >= 4.5:1 on white (WCAG AA) ---------------
INK = "#1b1b1b"
MUTED = "#4a4a4a"
GRID = "#d9d9d9"
LINE = "#1f4e8c"
LOW_HIGH = "#a8201a"
BAND_FILL = "#e2f0e4"
BAND_EDGE = "#2e6b32"
LANE_FILL = "#f4f6f9"
NODE_FILL = "#ffffff"
FONT = "'Noto Sans CJK SC', 'Noto Sans', 'WenQuanYi Micro Hei', 'DejaVu Sans', sans-serif"

GRADE_LABEL: dict[str, L] = {
    "moderate": L("moderate", "中等"),
    "low": L("low", "低"),
    "very-low": L("very low", "极低"),
    "consensus": L("expert consensus", "专家共识"),
}
"""Evidence grades of `claims.toml`, in words."""

_TXT: dict[str, L] = {
    "no_results": L("No magnesium results to show", "暂无血清镁检测结果"),
    "reference": L("Reference interval", "参考区间"),
    "deficiency": L("Deficiency below", "缺乏：低于"),
    "within": L("within the reference interval", "在参考区间内"),
    "below": L("below the reference interval", "低于参考区间"),
    "above": L("above the reference interval", "高于参考区间"),
    "legend_within": L("● within interval", "● 区间内"),
    "legend_below": L("▼ below", "▼ 偏低"),
    "legend_above": L("▲ above", "▲ 偏高"),
    "results": L("results", "次结果"),
    "latest": L("Latest", "最近一次"),
    "no_intake": L("No intake data to show", "暂无摄入数据"),
    "of": L("of", "占"),
    "below_ref": L("below", "低于"),
    "meets_ref": L("meets", "达到"),
    "source": L("Source", "来源"),
    "grade": L("evidence grade", "证据等级"),
    "figure": L("Figure 1", "图1"),
    "et_al": L("et al.", "等"),
}


def _t(key: str, lang: Lang) -> str:
    return _TXT[key].get(lang)


def _x(text: str) -> str:
    """XML-escape text and attribute values."""
    return escape(text, quote=True)


def _n(value: float) -> str:
    """A coordinate: finite, short, deterministic."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _chart_id(kind: str, *parts: object) -> str:
    """A stable id from the content, so that several charts on one page never collide."""
    digest = hashlib.sha1(repr((kind, parts)).encode("utf-8")).hexdigest()[:10]
    return f"mg-{kind}-{digest}"


def _open_svg(chart_id: str, width: float, height: float, title: str, desc: str, lang: Lang) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="mgcare-chart" '
        f'id="{chart_id}" lang="{"zh-Hans" if lang == "zh" else "en"}" '
        f'width="{width:d}" height="{height:d}" viewBox="0 0 {width:d} {height:d}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-family="{_x(FONT)}" style="font-family: {_x(FONT)}">'
        f'<title id="{chart_id}-title">{_x(title)}</title>'
        f'<desc id="{chart_id}-desc">{_x(desc)}</desc>'
        f'<rect x="0" y="0" width="{width:d}" height="{height:d}" fill="#ffffff"/>'
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: float = 11,
    anchor: str = "start",
    fill: str = INK,
    weight: str = "normal",
    extra: str = "",
) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size:g}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}"{extra}>{_x(text)}</text>'
    )


# --- text measuring and wrapping (approximate; CJK glyphs are square) -------------------------

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


_NO_LINE_START = frozenset("，。、；：！？）」』》〉”’")


def _text_width(text: str, size: float) -> float:
    wide = len(_CJK.findall(text))
    return (wide + (len(text) - wide) * 0.56) * size


def _wrap(text: str, width: float, size: float) -> list[str]:
    """Break at spaces for Latin text and between any two characters for CJK text."""
    tokens = re.findall(
        r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+\s*|\s+",
        text,
    )
    lines: list[str] = []
    current = ""
    for token in tokens:
        candidate = current + token
        no_break = token in _NO_LINE_START
        if current and not no_break and _text_width(candidate.rstrip(), size) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current = candidate
    if current.strip():
        lines.append(current.rstrip())
    return lines or [""]


def _lines(
    x: float, y: float, lines: Sequence[str], size: float, line_height: float, **kw: str
) -> str:
    """A multi-line <text> with one <tspan> per line (WeasyPrint and browsers both support it)."""
    anchor = kw.get("anchor", "start")
    fill = kw.get("fill", INK)
    weight = kw.get("weight", "normal")
    spans = "".join(
        f'<tspan x="{_n(x)}" y="{_n(y + i * line_height)}">{_x(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return (
        f'<text font-size="{size:g}" text-anchor="{anchor}" fill="{fill}" '
        f'font-weight="{weight}">{spans}</text>'
    )


# --- magnesium trend ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One result: its day, its value in mmol/L, and the value as reported (e.g. "1.7 mg/dL")."""

    effective: date
    value_mmol_l: float
    label: str


@dataclass(frozen=True, slots=True)
class Band:
    """The reference interval in mmol/L, and how to name it (e.g. "0.75–1.25 mmol/L")."""

    low: float
    high: float
    label: str


def mg_band_for(knowledge: Knowledge) -> tuple[Band, float]:
    """The serum Mg reference band and deficiency cut-off, read from the pack (site-overridable)."""
    serum = knowledge.thresholds.serum_magnesium
    low, high = serum.normal_lower, serum.normal_upper
    label = f"{low.value:g}–{high.value:g} {high.unit}"
    if knowledge.site_rule:
        label += f" ({knowledge.site_rule})"
    return Band(low=low.value, high=high.value, label=label), serum.deficiency_below.value


class _Linear:
    """value -> pixel. Works on halves so that any two finite floats give a finite span."""

    def __init__(self, lo: float, hi: float, p0: float, p1: float) -> None:
        if not hi > lo:
            lo, hi = lo - 1, hi + 1
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = -1.0, 1.0
        self.lo, self.hi, self.p0, self.p1 = lo, hi, p0, p1
        self.half_span = hi / 2 - lo / 2

    def __call__(self, value: float) -> float:
        share = (value / 2 - self.lo / 2) / self.half_span
        share = min(1.0, max(0.0, share))
        return self.p0 + share * (self.p1 - self.p0)


def _nice_step(half_span: float, target: int) -> float:
    raw = half_span * 2 / target
    if not math.isfinite(raw) or raw <= 0:
        raw = half_span / target * 2 if half_span > 0 else 1.0
    if not math.isfinite(raw) or raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw:
            return float(multiple * magnitude)
    return float(10 * magnitude)


def _tick_label(value: float, step: float) -> str:
    if abs(value) >= 1e5 or (step and step < 1e-4):
        return f"{value:.3g}"
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    text = f"{value:.{decimals}f}"
    return "0" if text.strip("-0.") == "" else text


def _y_ticks(scale: _Linear, target: int = 5) -> list[tuple[float, str]]:
    step = _nice_step(scale.half_span, target)
    first = math.ceil(scale.lo / step) * step
    ticks: list[tuple[float, str]] = []
    for i in range(target * 3):
        value = first + i * step
        if not math.isfinite(value) or value > scale.hi:
            break
        if value >= scale.lo:
            ticks.append((value, _tick_label(value, step)))
    return ticks


_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200, 2400, 6000, 12000, 24000, 60000)
_DAY_STEPS = (1, 2, 7, 14)


def _x_ticks(first: date, last: date, max_ticks: int) -> list[tuple[int, str]]:
    """(ordinal day, label): days for short spans, months, then years; never more than max."""
    start, end = first.toordinal(), last.toordinal()
    if end == start:
        return [(start, first.isoformat())]
    span = end - start
    if span <= 45:
        step = next((s for s in _DAY_STEPS if span // s + 1 <= max_ticks), _DAY_STEPS[-1])
        return [(d, date.fromordinal(d).isoformat()) for d in range(start, end + 1, step)]
    month0 = first.year * 12 + first.month - 1
    month1 = last.year * 12 + last.month - 1
    step = next(
        (s for s in _MONTH_STEPS if month1 // s - -(-month0 // s) + 1 <= max_ticks),
        _MONTH_STEPS[-1],
    )
    ticks: list[tuple[int, str]] = []
    month = -(-month0 // step) * step
    if month == month0 and first.day != 1:
        month += step
    while month <= month1 and len(ticks) <= max_ticks:
        year, month_index = divmod(month, 12)
        if 1 <= year <= 9999:
            day = date(year, month_index + 1, 1)
            label = str(year) if step >= 12 else f"{year:04d}-{month_index + 1:02d}"
            ticks.append((day.toordinal(), label))
        month += step
    return ticks


def _marker(kind: str, x: float, y: float, size: float, fill: str) -> str:
    if kind == "within":
        return (
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(size)}" fill="{fill}" '
            f'stroke="#ffffff" stroke-width="1"/>'
        )
    sign = 1 if kind == "below" else -1
    points = (
        f"{_n(x - size * 1.2)},{_n(y - sign * size)} {_n(x + size * 1.2)},{_n(y - sign * size)} "
        f"{_n(x)},{_n(y + sign * size * 1.3)}"
    )
    return f'<polygon points="{points}" fill="{fill}" stroke="#ffffff" stroke-width="1"/>'


def _day(moment: date) -> date:
    """A datetime's calendar day (datetime is a date subclass, but they do not compare)."""
    return moment.date() if isinstance(moment, datetime) else moment


def _status(value: float, band: Band) -> str:
    if value < band.low:
        return "below"
    if value > band.high:
        return "above"
    return "within"


def mg_trend_svg(
    points: Sequence[TrendPoint],
    *,
    band: Band,
    deficiency_below: float | None,
    lang: Lang,
    title: str,
    width: int = 640,
    height: int = 260,
) -> str:
    """Serum Mg over time in mmol/L: the reference band shaded, the deficiency cut-off dashed,
    one marker per result (shape says inside/below/above), the reported value in each tooltip."""
    usable = sorted(
        ((_day(p.effective), i, p) for i, p in enumerate(points) if math.isfinite(p.value_mmol_l)),
        key=lambda item: (item[0], item[1]),
    )
    chart_id = _chart_id(
        "trend",
        title,
        lang,
        width,
        height,
        band,
        deficiency_below,
        tuple((p.effective.isoformat(), repr(p.value_mmol_l), p.label) for _, _, p in usable),
    )
    left, right, top, bottom = 56, 18, 40, 48
    px0, px1 = float(left), float(max(left + 10, width - right))
    py0, py1 = float(top), float(max(top + 10, height - bottom))
    if not usable:
        desc = f"{title}: {_t('no_results', lang)}."
        return (
            _open_svg(chart_id, width, height, title, desc, lang)
            + _text(left, 22, title, size=14, weight="bold")
            + f'<rect x="{_n(px0)}" y="{_n(py0)}" width="{_n(px1 - px0)}" '
            f'height="{_n(py1 - py0)}" fill="none" stroke="{GRID}"/>'
            + _text(
                (px0 + px1) / 2,
                (py0 + py1) / 2,
                _t("no_results", lang),
                size=13,
                anchor="middle",
                fill=MUTED,
            )
            + "</svg>"
        )

    values = [p.value_mmol_l for _, _, p in usable]
    frame = [*values, band.low, band.high]
    if deficiency_below is not None and math.isfinite(deficiency_below):
        frame.append(deficiency_below)
    frame = [v for v in frame if math.isfinite(v)]
    lo, hi = min(frame), max(frame)
    pad = (hi / 2 - lo / 2) * 0.16
    y = _Linear(lo - pad, hi + pad, py1, py0)

    first, last = usable[0][0], usable[-1][0]
    d0, d1 = first.toordinal(), last.toordinal()
    xpad = max(1.0, (d1 - d0) * 0.04)
    x = _Linear(d0 - xpad, d1 + xpad, px0, px1)

    parts: list[str] = []
    overlay: list[str] = []  # drawn above the points
    # axes and grid
    for value, label in _y_ticks(y):
        py = y(value)
        parts.append(
            f'<line x1="{_n(px0)}" y1="{_n(py)}" x2="{_n(px1)}" y2="{_n(py)}" stroke="{GRID}"/>'
        )
        parts.append(_text(px0 - 6, py + 4, label, size=10, anchor="end", fill=MUTED))
    parts.append(
        _text(
            14,
            (py0 + py1) / 2,
            "mmol/L",
            size=10,
            anchor="middle",
            fill=MUTED,
            extra=f' transform="rotate(-90 14 {_n((py0 + py1) / 2)})"',
        )
    )
    max_ticks = max(2, int((px1 - px0) // 90))
    for ordinal, label in _x_ticks(first, last, max_ticks):
        px = x(ordinal)
        parts.append(
            f'<line x1="{_n(px)}" y1="{_n(py1)}" x2="{_n(px)}" y2="{_n(py1 + 4)}" stroke="{MUTED}"/>'
        )
        parts.append(_text(px, py1 + 16, label, size=10, anchor="middle", fill=MUTED))
    # band
    band_top, band_bottom = y(band.high), y(band.low)
    parts.append(
        f'<rect class="band" x="{_n(px0)}" y="{_n(band_top)}" width="{_n(px1 - px0)}" '
        f'height="{_n(max(0.0, band_bottom - band_top))}" fill="{BAND_FILL}" '
        f'data-low="{band.low!r}" data-high="{band.high!r}"/>'
    )
    for edge in (band_top, band_bottom):
        parts.append(
            f'<line x1="{_n(px0)}" y1="{_n(edge)}" x2="{_n(px1)}" y2="{_n(edge)}" '
            f'stroke="{BAND_EDGE}" stroke-width="1"/>'
        )
    parts.append(
        _text(
            px0 + 6, band_top + 12, f"{_t('reference', lang)} {band.label}", size=10, fill=BAND_EDGE
        )
    )
    # deficiency cut-off
    if deficiency_below is not None and math.isfinite(deficiency_below):
        dy = y(deficiency_below)
        parts.append(
            f'<line class="deficiency" x1="{_n(px0)}" y1="{_n(dy)}" x2="{_n(px1)}" y2="{_n(dy)}" '
            f'stroke="{LOW_HIGH}" stroke-width="1.5" stroke-dasharray="6 4" '
            f'data-value="{deficiency_below!r}"/>'
        )
    parts.append(
        f'<rect x="{_n(px0)}" y="{_n(py0)}" width="{_n(px1 - px0)}" height="{_n(py1 - py0)}" '
        f'fill="none" stroke="{MUTED}" stroke-width="1"/>'
    )
    # line and points
    coords = [(x(day.toordinal()), y(p.value_mmol_l)) for day, _, p in usable]
    if len(coords) > 1:
        path = " ".join(f"{_n(cx)},{_n(cy)}" for cx, cy in coords)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="1.8" '
            f'stroke-linejoin="round"/>'
        )
    size = 4.0 if len(coords) <= 24 else 3.0
    counts = {"within": 0, "below": 0, "above": 0}
    for (day, _, point), (cx, cy) in zip(usable, coords, strict=True):
        kind = _status(point.value_mmol_l, band)
        counts[kind] += 1
        tip = (
            f"{day.isoformat()}: {point.label} = {point.value_mmol_l:.2f} mmol/L ({_t(kind, lang)})"
        )
        parts.append(
            f'<g class="point {kind}" data-date="{day.isoformat()}" '
            f'data-mmol-l="{point.value_mmol_l!r}"><title>{_x(tip)}</title>'
            + _marker(kind, cx, cy, size, LINE if kind == "within" else LOW_HIGH)
            + "</g>"
        )
    if deficiency_below is not None and math.isfinite(deficiency_below):
        dy = y(deficiency_below)
        label = f"{_t('deficiency', lang)} {deficiency_below:g} mmol/L"
        label_w = _text_width(label, 10)
        overlay.append(
            f'<rect x="{_n(px1 - 8 - label_w)}" y="{_n(dy + 3)}" width="{_n(label_w + 6)}" '
            f'height="13" fill="#ffffff" fill-opacity="0.85"/>'
        )
        overlay.append(
            _text(
                px1 - 4,
                dy + 13,
                f"{_t('deficiency', lang)} {deficiency_below:g} mmol/L",
                size=10,
                anchor="end",
                fill=LOW_HIGH,
            )
        )
    parts.extend(overlay)
    # legend
    legend_y = height - 10
    legend = [("legend_within", LINE), ("legend_below", LOW_HIGH), ("legend_above", LOW_HIGH)]
    lx = px0
    for key, colour in legend:
        parts.append(_text(lx, legend_y, _t(key, lang), size=10, fill=colour))
        lx += _text_width(_t(key, lang), 10) + 18
    if deficiency_below is not None and math.isfinite(deficiency_below):
        parts.append(
            f'<line x1="{_n(lx)}" y1="{_n(legend_y - 4)}" x2="{_n(lx + 22)}" y2="{_n(legend_y - 4)}" '
            f'stroke="{LOW_HIGH}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        parts.append(
            _text(
                lx + 26,
                legend_y,
                f"{_t('deficiency', lang)} {deficiency_below:g}",
                size=10,
                fill=LOW_HIGH,
            )
        )

    latest = usable[-1][2]
    if lang == "zh":
        desc = (
            f"{title}：{len(usable)}{_t('results', lang)}，{first.isoformat()}至{last.isoformat()}。"
            f"最近一次{last.isoformat()}：{latest.label}（{latest.value_mmol_l:.2f} mmol/L，"
            f"{_t(_status(latest.value_mmol_l, band), lang)}）。参考区间{band.label}；"
            f"{counts['below']}次偏低，{counts['above']}次偏高。"
        )
    else:
        desc = (
            f"{title}: {len(usable)} {'result' if len(usable) == 1 else 'results'} from "
            f"{first.isoformat()} to "
            f"{last.isoformat()}. Latest on {last.isoformat()}: {latest.label} "
            f"({latest.value_mmol_l:.2f} mmol/L, {_t(_status(latest.value_mmol_l, band), lang)}). "
            f"Reference interval {band.label}; {counts['below']} below, {counts['above']} above."
        )
    return (
        _open_svg(chart_id, width, height, title, desc, lang)
        + _text(left, 22, title, size=14, weight="bold")
        + "".join(parts)
        + "</svg>"
    )


# --- intake against reference ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntakeBar:
    """A nutrient's daily intake and the reference it is judged against (e.g. "EAR", "RDA")."""

    label: str
    intake: float
    reference: float
    unit: str
    reference_label: str


def intake_svg(bars: Sequence[IntakeBar], *, lang: Lang, title: str, width: int = 640) -> str:
    """One horizontal bar per nutrient, each scaled to itself, with the reference marked and
    the share of it written out (so below/above is read from text and shape, not colour)."""
    usable = [b for b in bars if math.isfinite(b.intake) and math.isfinite(b.reference)]
    chart_id = _chart_id(
        "intake",
        title,
        lang,
        width,
        tuple(
            (b.label, repr(b.intake), repr(b.reference), b.unit, b.reference_label) for b in usable
        ),
    )
    row_h, top, label_w = 46, 40, 170
    height = top + max(1, len(usable)) * row_h + 12
    if not usable:
        desc = f"{title}: {_t('no_intake', lang)}."
        return (
            _open_svg(chart_id, width, height, title, desc, lang)
            + _text(12, 22, title, size=14, weight="bold")
            + _text(
                width / 2,
                top + row_h / 2,
                _t("no_intake", lang),
                size=13,
                anchor="middle",
                fill=MUTED,
            )
            + "</svg>"
        )
    bar_x0, bar_x1 = float(label_w), float(max(label_w + 20, width - 130))
    parts: list[str] = []
    sentences: list[str] = []
    for index, bar in enumerate(usable):
        y0 = top + index * row_h
        intake, reference = max(0.0, bar.intake), max(0.0, bar.reference)
        scale = _Linear(0.0, max(intake, reference, 1e-9) * 1.15, bar_x0, bar_x1)
        below = intake < reference
        share = f"{intake / reference:.0%}" if reference > 0 else "–"
        verdict = _t("below_ref" if below else "meets_ref", lang)
        mark = "▼" if below else "✓"
        colour = LOW_HIGH if below else LINE
        parts.append(_text(12, y0 + 22, bar.label, size=11, weight="bold"))
        parts.append(
            f'<rect x="{_n(bar_x0)}" y="{_n(y0 + 10)}" width="{_n(bar_x1 - bar_x0)}" height="18" '
            f'fill="{LANE_FILL}"/>'
        )
        parts.append(
            f'<g class="bar {"below" if below else "meets"}"><title>{_x(f"{bar.label}: {intake:g} {bar.unit}; {bar.reference_label} {reference:g} {bar.unit} ({share})")}</title>'
            f'<rect x="{_n(bar_x0)}" y="{_n(y0 + 10)}" width="{_n(scale(intake) - bar_x0)}" '
            f'height="18" fill="{colour}"/></g>'
        )
        rx = scale(reference)
        parts.append(
            f'<line class="reference" x1="{_n(rx)}" y1="{_n(y0 + 5)}" x2="{_n(rx)}" '
            f'y2="{_n(y0 + 33)}" stroke="{INK}" stroke-width="2"/>'
        )
        parts.append(
            _text(
                rx,
                y0 + 43,
                f"{bar.reference_label} {reference:g} {bar.unit}",
                size=9.5,
                anchor="middle",
                fill=INK,
            )
        )
        parts.append(
            _text(
                bar_x1 + 8,
                y0 + 24,
                f"{mark} {intake:g} {bar.unit} · {share}",
                size=11,
                fill=colour,
                weight="bold",
            )
        )
        sentences.append(
            f"{bar.label}: {intake:g} {bar.unit}, {share} {_t('of', lang)} "
            f"{bar.reference_label} {reference:g} {bar.unit} ({verdict})"
        )
    separator = "；" if lang == "zh" else "; "
    desc = f"{title}: " + separator.join(sentences) + "."
    return (
        _open_svg(chart_id, width, height, title, desc, lang)
        + _text(12, 22, title, size=14, weight="bold")
        + "".join(parts)
        + "</svg>"
    )


# --- the review's Figure 1 ---------------------------------------------------------------------


def short_citation(knowledge: Knowledge, source: str, lang: Lang) -> str:
    """'[R31] AlShanableh et al. 2024': the id, first author and year of a reference."""
    ref = knowledge.references.get(source)
    if ref is None:
        return f"[{source}]"
    authors = ref.citation.split(". ")[0]
    first = authors.split(",")[0].split()
    surname = " ".join(first[:-1]) if len(first) > 1 else " ".join(first)
    suffix = f" {_t('et_al', lang)}" if "," in authors else ""
    journal_year = re.search(r"\b((?:18|19|20)\d\d)\s*[;(]", ref.citation)
    any_year = re.search(r"\b(?:18|19|20)\d\d\b", ref.citation)
    found = journal_year.group(1) if journal_year else any_year.group(0) if any_year else ""
    year = f" {found}" if found else ""
    return f"[{source}] {surname}{suffix}{year}"


def _depths(pathway: MechanismPathway) -> dict[str, int]:
    """Column of each node: the longest path from magnesium (the pack guarantees a DAG)."""
    preds: dict[str, list[str]] = {node.id: [] for node in pathway.node}
    for edge in pathway.edge:
        if edge.target_node in preds:
            preds[edge.target_node].append(edge.source_node)
    depth: dict[str, int] = {}

    def of(node: str) -> int:
        if node == MECHANISM_START:
            return -1
        if node not in depth:
            depth[node] = 1 + max((of(p) for p in preds[node]), default=-1)
        return depth[node]

    for node in pathway.node:
        of(node.id)
    return depth


def mechanism_svg(knowledge: Knowledge, *, lang: Lang, width: int = 760) -> str:
    """The review's Figure 1 drawn from `mechanisms.toml`: magnesium on the left, four cited
    pathways as lanes of steps, all ending in "lower blood pressure" on the right."""
    figure = knowledge.mechanisms
    claim = knowledge.claims_by_id.get(figure.claim)
    grade = GRADE_LABEL[claim.grade].get(lang) if claim else figure.status
    title = figure.title_zh if lang == "zh" else figure.title_en
    mg_label = figure.magnesium_zh if lang == "zh" else figure.magnesium_en
    outcome_label = figure.outcome_zh if lang == "zh" else figure.outcome_en
    chart_id = _chart_id("mechanism", figure.version, lang, width)

    margin, side_w, gap = 12.0, 84.0, 26.0
    area0 = margin + side_w + gap
    area1 = width - margin - side_w - gap
    depth_of = {p.id: _depths(p) for p in figure.pathway}
    columns = max(1 + max(d.values(), default=0) for d in depth_of.values())
    col_w = (area1 - area0) / columns
    box_w = col_w - 22
    size, line_h, node_pad = 10.5, 13.0, 6.0

    top = 40.0
    lanes_top = top
    parts: list[str] = []
    node_boxes: dict[str, tuple[float, float, float, float]] = {}  # x, y, w, h
    lane_y = lanes_top
    lane_rects: list[str] = []
    described: list[str] = []
    for pathway in figure.pathway:
        depths = depth_of[pathway.id]
        label = pathway.label_zh if lang == "zh" else pathway.label_en
        cites = ", ".join(short_citation(knowledge, s, lang) for s in pathway.sources)
        header_h = 20.0
        wrapped = {
            node.id: _wrap(
                node.label_zh if lang == "zh" else node.label_en, box_w - 2 * node_pad, size
            )
            for node in pathway.node
        }
        heights = {nid: len(lines) * line_h + 2 * node_pad for nid, lines in wrapped.items()}
        stacks: dict[int, list[str]] = {}
        for node in pathway.node:
            stacks.setdefault(depths[node.id], []).append(node.id)
        stack_h = {
            col: sum(heights[n] for n in ids) + 8 * (len(ids) - 1) for col, ids in stacks.items()
        }
        body_h = max(stack_h.values())
        lane_h = header_h + body_h + 14
        lane_rects.append(
            f'<rect class="lane" data-pathway="{_x(pathway.id)}" x="{_n(area0 - 10)}" '
            f'y="{_n(lane_y)}" width="{_n(area1 - area0 + 20)}" height="{_n(lane_h - 6)}" '
            f'rx="6" fill="{LANE_FILL}"/>'
        )
        parts.append(
            _text(
                area0 - 4,
                lane_y + 14,
                f"{label} · {cites}",
                size=11,
                weight="bold",
                extra=f' class="pathway-label" data-pathway="{_x(pathway.id)}"',
            )
        )
        body_top = lane_y + header_h
        for col, ids in sorted(stacks.items()):
            y = body_top + (body_h - stack_h[col]) / 2
            for nid in ids:
                node_boxes[nid] = (area0 + col * col_w, y, box_w, heights[nid])
                y += heights[nid] + 8
        for node in pathway.node:
            bx, by, bw, bh = node_boxes[node.id]
            full = node.label_zh if lang == "zh" else node.label_en
            parts.append(
                f'<g class="node" data-node="{_x(node.id)}" data-source="{_x(node.source)}">'
                f"<title>{_x(full)} ({_x(short_citation(knowledge, node.source, lang))})</title>"
                f'<rect x="{_n(bx)}" y="{_n(by)}" width="{_n(bw)}" height="{_n(bh)}" rx="4" '
                f'fill="{NODE_FILL}" stroke="{LINE}" stroke-width="1.2"/>'
                + _lines(bx + node_pad, by + node_pad + size, wrapped[node.id], size, line_h)
                + "</g>"
            )
        order = " → ".join(n.label_zh if lang == "zh" else n.label_en for n in pathway.node)
        described.append(f"{label} ({', '.join(pathway.sources)}): {order}")
        lane_y += lane_h
    lanes_bottom = lane_y - 6
    height = math.ceil(lanes_bottom + 58)

    mg_box = (margin, lanes_top, side_w, lanes_bottom - lanes_top)
    out_box = (width - margin - side_w, lanes_top, side_w, lanes_bottom - lanes_top)
    marker = f"{chart_id}-arrow"
    edges: list[str] = []
    for pathway in figure.pathway:
        for edge in pathway.edge:
            if edge.source_node == MECHANISM_START:
                tx, ty, _, th = node_boxes[edge.target_node]
                y2 = ty + th / 2
                x1, y1, x2 = mg_box[0] + mg_box[2], y2, tx
            else:
                sx, sy, sw, sh = node_boxes[edge.source_node]
                x1, y1 = sx + sw, sy + sh / 2
                if edge.target_node == MECHANISM_END:
                    x2, y2 = out_box[0], y1
                else:
                    tx, ty, _, th = node_boxes[edge.target_node]
                    x2, y2 = tx, ty + th / 2
            mid = (x1 + x2) / 2
            edges.append(
                f'<path class="edge" data-from="{_x(edge.source_node)}" '
                f'data-to="{_x(edge.target_node)}" d="M{_n(x1)},{_n(y1)} C{_n(mid)},{_n(y1)} '
                f'{_n(mid)},{_n(y2)} {_n(x2 - 2)},{_n(y2)}" fill="none" stroke="{MUTED}" '
                f'stroke-width="1.2" marker-end="url(#{marker})"/>'
            )

    def side_box(box: tuple[float, float, float, float], text: str, kind: str) -> str:
        bx, by, bw, bh = box
        lines = _wrap(text, bw - 10, 13)
        first_y = by + bh / 2 - (len(lines) - 1) * 8 + 5
        return (
            f'<g class="{kind}"><rect x="{_n(bx)}" y="{_n(by)}" width="{_n(bw)}" '
            f'height="{_n(bh)}" rx="8" fill="{LINE}"/>'
            + _lines(
                bx + bw / 2, first_y, lines, 13, 16, anchor="middle", fill="#ffffff", weight="bold"
            )
            + "</g>"
        )

    claim_word = "论断" if lang == "zh" else "claim"
    review = knowledge.references.get(figure.source)
    review_cite = short_citation(knowledge, figure.source, lang) if review else figure.source
    footer = (
        f"{_t('source', lang)}{'：' if lang == 'zh' else ': '}{review_cite}, {_t('figure', lang)} · {claim_word} {figure.claim}"
        f" · {_t('grade', lang)}{'：' if lang == 'zh' else ': '}{grade} ({figure.status})"
        + ("。" if lang == "zh" else ". ")
        + (figure.caveat_zh if lang == "zh" else figure.caveat_en)
    )
    footer_lines = _wrap(footer, width - 2 * margin, 10)
    height += int(len(footer_lines) * 13)
    sep = "。" if lang == "zh" else ". "
    desc = (
        f"{title}{'：' if lang == 'zh' else ': '}{mg_label} → "
        + sep.join(described)
        + f" → {outcome_label}{sep}{footer}"
    )
    defs = (
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{MUTED}"/></marker></defs>'
    )
    return (
        _open_svg(chart_id, width, height, title, desc, lang)
        + defs
        + _text(margin, 24, title, size=15, weight="bold")
        + "".join(lane_rects)
        + "".join(edges)
        + "".join(parts)
        + side_box(mg_box, mg_label, "magnesium")
        + side_box(out_box, outcome_label, "outcome")
        + _lines(margin, lanes_bottom + 24, footer_lines, 10, 13, fill=MUTED)
        + "</svg>"
    )
