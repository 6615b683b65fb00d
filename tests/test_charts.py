"""Shared SVG charts: well-formed, accessible, inside their frame, thresholds from the pack."""

from __future__ import annotations

import ast
import math
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mgcare.charts import (
    Band,
    IntakeBar,
    TrendPoint,
    intake_svg,
    mechanism_svg,
    mg_band_for,
    mg_trend_svg,
)
from mgcare.knowledge import Knowledge, load_knowledge

NS = {"s": "http://www.w3.org/2000/svg"}
CHARTS = Path(__file__).resolve().parents[1] / "src" / "mgcare" / "charts.py"
COORDINATE_ATTRS = ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height")


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    assert root.find("s:title", NS) is not None and root.find("s:desc", NS) is not None
    return root


def viewbox(root: ET.Element) -> tuple[float, float]:
    _, _, width, height = (float(v) for v in (root.get("viewBox") or "").split())
    return width, height


def coordinates_inside(root: ET.Element) -> None:
    width, height = viewbox(root)
    for element in root.iter():
        for attr in COORDINATE_ATTRS:
            if element.get(attr) is not None:
                value = float(element.get(attr) or "nan")
                assert math.isfinite(value), (element.tag, attr)
                limit = width if attr in ("x", "x1", "x2", "cx", "width") else height
                assert -0.5 <= value <= limit + 0.5, (element.tag, attr, value)
        if element.get("points"):
            for pair in (element.get("points") or "").split():
                px, py = (float(v) for v in pair.split(","))
                assert math.isfinite(px) and math.isfinite(py)
                assert -6 <= px <= width + 6 and -6 <= py <= height + 6


def monthly(years: int, start: date = date(2021, 12, 1)) -> list[TrendPoint]:
    return [
        TrendPoint(start + timedelta(days=30 * i), 0.55 + 0.02 * (i % 30), f"{i} mg/dL")
        for i in range(12 * years)
    ]


def trend(points: list[TrendPoint], knowledge: Knowledge, lang: str = "en") -> str:
    band, deficiency = mg_band_for(knowledge)
    return mg_trend_svg(
        points,
        band=band,
        deficiency_below=deficiency,
        lang=lang,
        title="Serum Mg",  # type: ignore[arg-type]
    )


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{{{NS['s']}}}text")]


def test_band_and_cutoff_come_from_the_pack(knowledge: Knowledge) -> None:
    serum = knowledge.thresholds.serum_magnesium
    band, deficiency = mg_band_for(knowledge)
    assert (band.low, band.high, deficiency) == (
        serum.normal_lower.value,
        serum.normal_upper.value,
        serum.deficiency_below.value,
    )


def test_band_drawn_where_the_thresholds_are(knowledge: Knowledge) -> None:
    """A result exactly at each band edge sits on the shaded band's edge; the dashed
    deficiency line lies below the band (pack order) and carries the pack's value."""
    band, deficiency = mg_band_for(knowledge)
    points = [
        TrendPoint(date(2026, 1, 1), band.low, "low edge"),
        TrendPoint(date(2026, 6, 1), band.high, "high edge"),
    ]
    root = parse(trend(points, knowledge))
    rect = root.find(".//s:rect[@class='band']", NS)
    line = root.find(".//s:line[@class='deficiency']", NS)
    assert rect is not None and line is not None
    top = float(rect.get("y") or 0)
    bottom = top + float(rect.get("height") or 0)
    assert float(rect.get("data-low") or 0) == band.low
    assert float(line.get("data-value") or 0) == deficiency
    assert "6 4" in (line.get("stroke-dasharray") or "")
    assert float(line.get("y1") or 0) > bottom  # lower value, lower on the page
    circles = root.findall(".//s:g[@class='point within']/s:circle", NS)
    ys = sorted(float(c.get("cy") or 0) for c in circles)
    assert abs(ys[0] - top) <= 0.11 and abs(ys[1] - bottom) <= 0.11


def test_status_by_shape_and_tooltip(knowledge: Knowledge) -> None:
    points = [
        TrendPoint(date(2026, 1, 1), 0.5, "1.2 mg/dL"),
        TrendPoint(date(2026, 2, 1), 0.9, "0.9 mmol/L"),
        TrendPoint(date(2026, 3, 1), 1.6, "1.6 mmol/L"),
    ]
    root = parse(trend(points, knowledge))
    below = root.find(".//s:g[@class='point below']", NS)
    above = root.find(".//s:g[@class='point above']", NS)
    within = root.find(".//s:g[@class='point within']", NS)
    assert below is not None and below.find("s:polygon", NS) is not None
    assert above is not None and above.find("s:polygon", NS) is not None
    assert within is not None and within.find("s:circle", NS) is not None
    tip = below.find("s:title", NS)
    assert tip is not None and "1.2 mg/dL" in (tip.text or "") and "0.50 mmol/L" in (tip.text or "")


def test_five_years_monthly_gets_year_ticks(knowledge: Knowledge) -> None:
    root = parse(trend(monthly(5), knowledge))
    coordinates_inside(root)
    assert len(root.findall(".//s:g[@class]", NS)) == 60
    years = [t for t in texts(root) if re.fullmatch(r"\d{4}", t)]
    assert 3 <= len(years) <= 7 and years == sorted(years)


def test_one_point_and_two_on_the_same_day(knowledge: Knowledge) -> None:
    one = parse(trend(monthly(1)[:1], knowledge))
    coordinates_inside(one)
    assert "2021-12-01" in texts(one)
    day = date(2026, 3, 3)
    two = parse(trend([TrendPoint(day, 0.6, "a"), TrendPoint(day, 0.9, "b")], knowledge))
    coordinates_inside(two)
    assert texts(two).count("2026-03-03") == 1
    assert len(two.findall(".//s:g[@data-date='2026-03-03']", NS)) == 2


def test_chinese_title_and_language(knowledge: Knowledge) -> None:
    band, deficiency = mg_band_for(knowledge)
    svg = mg_trend_svg(
        monthly(1), band=band, deficiency_below=deficiency, lang="zh", title="血清镁趋势"
    )
    root = parse(svg)
    assert root.get("lang") == "zh-Hans"
    assert (root.findtext("s:title", namespaces=NS) or "") == "血清镁趋势"
    assert "血清镁趋势" in texts(root)
    assert "参考区间" in (root.findtext("s:desc", namespaces=NS) or "")


def test_empty_says_no_results(knowledge: Knowledge) -> None:
    for lang, words in (("en", "No magnesium results"), ("zh", "暂无血清镁检测结果")):
        root = parse(trend([], knowledge, lang))
        assert any(words in t for t in texts(root))
        assert root.find(".//s:g[@class]", NS) is None


def test_text_is_escaped_and_output_deterministic(knowledge: Knowledge) -> None:
    band, deficiency = mg_band_for(knowledge)
    points = [TrendPoint(date(2026, 1, 1), 0.8, '<b>"1" & 2</b>')]
    make = lambda: mg_trend_svg(  # noqa: E731
        points, band=band, deficiency_below=deficiency, lang="en", title="A <&> title"
    )
    svg = make()
    root = parse(svg)
    assert root.findtext("s:title", namespaces=NS) == "A <&> title"
    assert "<b>" not in svg
    assert make() == svg


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dates(min_value=date(1, 1, 2), max_value=date(9999, 12, 30)),
            st.floats(allow_nan=True, allow_infinity=True),
            st.text(max_size=12),
        ),
        max_size=30,
    ),
    st.sampled_from(["en", "zh"]),
)
def test_any_points_give_valid_svg_inside_the_frame(
    raw: list[tuple[date, float, str]], lang: str
) -> None:
    knowledge = load_knowledge()
    points = [
        TrendPoint(day, value, "".join(ch for ch in label if ch.isprintable()))
        for day, value, label in raw
    ]
    root = parse(trend(points, knowledge, lang))
    coordinates_inside(root)


def test_intake_bars() -> None:
    svg = intake_svg(
        [IntakeBar("Magnesium", 104.7, 320, "mg", "RDA"), IntakeBar("Zinc", 12, 8, "mg", "RDA")],
        lang="en",
        title="Intake",
    )
    root = parse(svg)
    coordinates_inside(root)
    assert root.find(".//s:g[@class='bar below']", NS) is not None
    assert root.find(".//s:g[@class='bar meets']", NS) is not None
    shown = " ".join(texts(root))
    assert "33%" in shown and "150%" in shown and "RDA 320 mg" in shown
    empty = parse(intake_svg([], lang="zh", title="摄入"))
    assert any("暂无摄入数据" in t for t in texts(empty))


def test_mechanism_figure_shows_every_node_and_citation(knowledge: Knowledge) -> None:
    figure = knowledge.mechanisms
    for lang in ("en", "zh"):
        svg = mechanism_svg(knowledge, lang=lang)  # type: ignore[arg-type]
        root = parse(svg)
        coordinates_inside(root)
        shown = "".join(texts(root))
        flat = re.sub(r"\s+", "", shown)
        for pathway in figure.pathway:
            label = pathway.label_zh if lang == "zh" else pathway.label_en
            assert label in shown
            for source in pathway.sources:
                assert f"[{source}]" in shown
            for node in pathway.node:
                text = node.label_zh if lang == "zh" else node.label_en
                group = root.find(f".//s:g[@data-node='{node.id}']", NS)
                assert group is not None, node.id
                assert text in (group.findtext("s:title", namespaces=NS) or "")
                assert re.sub(r"\s+", "", text) in flat
        outcome = figure.outcome_zh if lang == "zh" else figure.outcome_en
        assert re.sub(r"\s+", "", outcome) in flat
        edges = root.findall(".//s:path[@class='edge']", NS)
        assert len(edges) == sum(len(p.edge) for p in figure.pathway)
    assert "血压下降" in mechanism_svg(knowledge, lang="zh")
    desc = parse(mechanism_svg(knowledge, lang="en")).findtext("s:desc", namespaces=NS) or ""
    assert desc.startswith("How magnesium lowers blood pressure") and "Lower blood pressure" in desc


def test_no_clinical_number_in_chart_code(knowledge: Knowledge) -> None:
    """Thresholds reach the charts as arguments: none of the pack's Mg cut-offs is a literal."""
    clinical = {
        fact.value
        for name, fact in knowledge.threshold_facts()
        if fact is not None and name.startswith(("serum_magnesium", "ca_mg_ratio"))
    } - {2}  # CTCAE grade 2 and 2.0 mmol/L equal the geometry's halving constant
    tree = ast.parse(CHARTS.read_text(encoding="utf-8"))
    found = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float)
    }
    assert not (found & clinical)


def test_band_label_names_a_site_rule(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        'name = "Lab A"\n[thresholds.serum_magnesium.normal_upper]\nvalue = 1.05\nunit = "mmol/L"\n'
    )
    band, _ = mg_band_for(load_knowledge(site))
    assert band == Band(low=band.low, high=1.05, label=f"{band.low:g}–1.05 mmol/L (Lab A)")
