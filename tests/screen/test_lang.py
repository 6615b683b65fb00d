"""`mgcare screen --lang zh`: the text summary and summary.html in Simplified Chinese, while
summary.json and persons.parquet (machine contracts, DESIGN.md section 6) stay the same."""

from __future__ import annotations

import json
import math
import re
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from mgcare.i18n import Lang
from mgcare.knowledge import Knowledge
from mgcare.screen import words
from mgcare.screen.command import ScreenSummary, run_screen
from mgcare.screen.sql import FINDINGS_IN_BATCH, LAB_ROW_REASONS, MG_STATUSES
from mgcare.validation import MAX_AGE_YEARS
from tests.conftest import run_mgcare
from tests.screen.conftest import Screened

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "screen"
AS_OF = date(2026, 6, 30)
CJK = re.compile(r"[\u4e00-\u9fff]")
SCREEN_CODE = [ROOT / "src/mgcare/screen/sql.py", ROOT / "src/mgcare/screen/pipeline.py"]
FLOAT_TOLERANCE = 1e-9
NOT_REASONS = {"ok", "male", "female", "reported", "ckd-epi-2021", *MG_STATUSES}
"""`THEN '...'` literals of the screening SQL that are values, not exclusion reasons."""


def _screen(out: Path, lang: Lang, knowledge: Knowledge) -> ScreenSummary:
    return run_screen(
        EXAMPLE / "persons.csv",
        EXAMPLE / "labs.csv",
        EXAMPLE / "medications.csv",
        EXAMPLE / "conditions.csv",
        out,
        "duckdb",
        AS_OF,
        None,
        False,
        knowledge=knowledge,
        check_duplicates=False,
        lang=lang,
    )


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, knowledge: Knowledge
) -> dict[str, ScreenSummary]:
    """The README's example tables (199 persons, weighted) screened once in each language."""
    return {
        lang: _screen(tmp_path_factory.mktemp(f"screen-{lang}"), lang, knowledge)
        for lang in ("en", "zh")
    }


def _contract(path: Path) -> dict[str, Any]:
    """summary.json without what differs between any two runs of the same input: timings and
    the output folder."""
    data = json.loads(path.read_text(encoding="utf-8").replace(str(path.parent), "OUT"))
    del data["timings_s"]
    return dict(data)


def _same(a: object, b: object) -> bool:
    """Equal, floats to 1e-9: DuckDB sums weights in parallel in no fixed order, so a weighted
    estimate can differ in its last bits between any two runs, whatever the language."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _persons(path: Path) -> list[dict[str, Any]]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: str(r["person_id"]))


def test_zh_text_summary(runs: dict[str, ScreenSummary], knowledge: Knowledge) -> None:
    lines = runs["zh"].lines()
    assert lines[0].startswith(f"已筛查 {runs['zh'].persons:,} 人，截至 2026-06-30")
    assert "发现（人数）：" in lines
    assert "  低镁血症（hypomagnesemia）：16" in lines
    assert any(
        line.startswith("检验表排除的行：") and "（unknown-person） 3" in line for line in lines
    )
    assert any(line.startswith("调查加权患病率（95% CI；30 个层") for line in lines)
    assert lines[-1] == f"免责声明：{knowledge.texts.disclaimer_zh}"
    assert not any(line.startswith(("Screened", "Excluded", "Wrote")) for line in lines)


def test_en_text_summary_has_no_chinese(runs: dict[str, ScreenSummary]) -> None:
    lines = runs["en"].lines()
    assert lines[0].startswith("Screened 199 persons as of 2026-06-30 (engine duckdb")
    assert lines[-2].startswith("Wrote ") and not any(CJK.search(line) for line in lines)


def test_zh_html(runs: dict[str, ScreenSummary], knowledge: Knowledge) -> None:
    html = runs["zh"].html_path.read_text(encoding="utf-8")
    assert html.startswith('<!doctype html><html lang="zh-Hans">')
    for heading in (
        "<h1>mgcare 人群筛查</h1>",
        "<h2>血清镁状态（回溯期内最近一次结果）</h2>",
        "<h2>调查加权患病率（95% CI）</h2>",
        "<h2>输入行：使用与排除（附原因）</h2>",
        "<h3>检验</h3>",
        "<h2>运行时间（秒）</h2>",
    ):
        assert heading in html, heading
    assert knowledge.texts.disclaimer_zh in html
    assert "<td>排除：单位不适用于该检验项目（unit-not-valid-for-analyte）</td>" in html
    assert "<td>未检查（超过" in html  # the duplicate check was skipped
    loop = next(d for d in knowledge.drugs.drug if d.drug_class == "loop-diuretic")
    assert f"<td>{loop.class_zh}（loop-diuretic）</td>" in html
    assert '>低镁血症</text><rect x="300" y="26" width="82.0" height="16" fill="#d9534f"/>' in html
    for english in ("Serum magnesium status", "Input rows", "persons screened", "Most frequent"):
        assert english not in html


def test_en_html_is_english(runs: dict[str, ScreenSummary], knowledge: Knowledge) -> None:
    html = runs["en"].html_path.read_text(encoding="utf-8")
    assert html.startswith('<!doctype html><html lang="en">') and "<h1>mgcare screen</h1>" in html
    assert knowledge.texts.disclaimer_en in html
    assert not CJK.search(html)


def test_en_text_summary_ends_with_the_disclaimer(
    runs: dict[str, ScreenSummary], knowledge: Knowledge
) -> None:
    assert runs["en"].lines()[-1] == f"Disclaimer: {knowledge.texts.disclaimer_en}"


def test_machine_outputs_identical_across_languages(runs: dict[str, ScreenSummary]) -> None:
    en, zh = runs["en"], runs["zh"]
    assert _same(_contract(en.json_path), _contract(zh.json_path))
    assert en.data["counts"] == zh.data["counts"]
    assert pq.read_schema(en.persons_path) == pq.read_schema(zh.persons_path)
    assert _persons(en.persons_path) == _persons(zh.persons_path)


def test_every_code_and_reason_has_a_chinese_label(screened: Screened) -> None:
    """The generated population has every bad-row case; a new reason without a label fails."""
    for code in (*FINDINGS_IN_BATCH, words.DEPLETING_WITHOUT_CHECK):
        assert CJK.search(words.finding(code, "zh")), code
        assert CJK.search(words.indicator(code, "zh")), code
    for status in (*MG_STATUSES, "normal"):
        assert CJK.search(words.status(status, "zh")), status
        assert CJK.search(words.indicator(f"mg_status={status} (among measured)", "zh"))
    literal = {m for f in SCREEN_CODE for m in re.findall(r"THEN '([a-z0-9-]+)'", f.read_text())}
    reasons = literal - NOT_REASONS | set(LAB_ROW_REASONS)
    reasons.add(f"age-years-not-a-whole-number-0-{MAX_AGE_YEARS}")
    for info in screened.summary.data["tables"].values():
        reasons |= set(info.get("excluded", {})) | set(info.get("left_out_of_calculations", {}))
        for key in (*info, *info.get("notes", {})):
            if key not in ("excluded", "excluded_examples", "notes", "left_out_of_calculations"):
                assert CJK.search(words.field(key, "zh")), key
    assert len(reasons) >= 20
    for reason in reasons:
        assert CJK.search(words.reason(reason, "zh")), reason
    for step in screened.summary.data["timings_s"]:
        assert CJK.search(words.step(step, "zh")), step


@pytest.mark.slow
def test_cli_lang_zh_end_to_end(tmp_path: Path, knowledge: Knowledge) -> None:
    """The CLI on the small FHIR Bulk fixtures: Chinese text, a Chinese page, the same JSON."""
    bulk = ROOT / "examples" / "fhir_bulk"
    common = [
        "screen",
        "--persons",
        str(bulk / "Patient.ndjson"),
        "--labs",
        str(bulk / "Observation.ndjson"),
        "--medications",
        str(bulk / "MedicationRequest.ndjson"),
        "--conditions",
        str(bulk / "Condition.ndjson"),
        "--as-of",
        "2026-06-30",
    ]
    text = run_mgcare(*common, "--out", str(tmp_path / "text"), "--lang", "zh")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("已筛查 ") and "发现（人数）：" in text.stdout
    # without --medication-resources the one reference to Medication.ndjson stays unresolved
    assert "找不到对应的 Medication：1 条" in text.stdout
    assert text.stdout.rstrip("\n").endswith(f"免责声明：{knowledge.texts.disclaimer_zh}")
    html = (tmp_path / "text" / "summary.html").read_text(encoding="utf-8")
    assert '<html lang="zh-Hans">' in html and knowledge.texts.disclaimer_zh in html
    outputs = {}
    for lang in ("en", "zh"):
        out = tmp_path / f"json-{lang}"
        done = run_mgcare(*common, "--out", str(out), "--lang", lang, "--format", "json")
        assert done.returncode == 0, done.stderr
        printed = json.loads(done.stdout)
        assert printed["counts"] == json.loads((out / "summary.json").read_text())["counts"]
        outputs[lang] = _contract(out / "summary.json")
    assert _same(outputs["en"], outputs["zh"])
    bad = run_mgcare(*common, "--out", str(tmp_path / "bad"), "--lang", "fr")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
