"""Reports: built from the store, rendered to HTML and PDF (text extracted and checked), CLI."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from mgcare.demo import DEMO_AS_OF
from mgcare.diet.foods import FoodDatabase
from mgcare.inputs import record_from_document
from mgcare.knowledge import Knowledge
from mgcare.model import PatientRecord
from mgcare.reports import (
    Report,
    ReportError,
    build_report,
    render_html,
    render_pdf,
    report_for_person,
)
from mgcare.reports.cli import ReportFormat, default_filename, write_atomically
from mgcare.store import repository as repo
from mgcare.store.db import sqlite_url
from mgcare.store.repository import LabPoint
from tests.conftest import run_mgcare
from tests.reports.conftest import HISTORY_MONTHS, demo_document


def squash(text: str) -> str:
    """PDF text extraction inserts line breaks and spaces: compare without whitespace."""
    return re.sub(r"\s+", "", text)


def person_report(
    store: tuple[Engine, Path], knowledge: Knowledge, foods: FoodDatabase, lang: str
) -> Report:
    engine, _ = store
    person = repo.find_person(engine, "demo-1")
    assert person is not None
    return report_for_person(
        engine,
        person,
        knowledge=knowledge,
        foods=foods,
        lang=lang,
        as_of=DEMO_AS_OF,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def reports(
    store: tuple[Engine, Path], knowledge: Knowledge, foods: FoodDatabase
) -> dict[str, Report]:
    return {lang: person_report(store, knowledge, foods, lang) for lang in ("en", "zh")}


def test_report_content_from_the_store(reports: dict[str, Report], knowledge: Knowledge) -> None:
    report = reports["en"]
    assert report.person_id == "demo-1" and report.age_years == 70
    assert report.latest_mg is not None
    assert (report.latest_mg.value, report.latest_mg.unit) == (1.3, "mg/dL")
    assert report.latest_mg.status == "hypomagnesemia"
    assert report.trend_count == HISTORY_MONTHS + 1
    assert report.intake_svg is not None
    codes = {item.code for item in report.findings}
    assert {"hypomagnesemia", "depleting-medication", "ca-mg-ratio-high"} <= codes
    ratio = next(item for item in report.findings if item.code == "ca-mg-ratio-high")
    assert ratio.weak and ratio.grade == "low"
    assert report.disclaimer == knowledge.texts.disclaimer_en
    assert reports["zh"].disclaimer == knowledge.texts.disclaimer_zh
    assert next(m.name for m in report.medications).startswith("Furosemide")


def test_html_is_self_contained_and_cited(reports: dict[str, Report], knowledge: Knowledge) -> None:
    for lang, report in reports.items():
        html = render_html(report)
        assert f'<html lang="{"zh-Hans" if lang == "zh" else "en"}">' in html
        assert html.count("<svg") >= 2 and 'role="img"' in html
        assert "<link" not in html and "<script" not in html and "src=" not in html
        for item in (*report.findings, *report.recommendations):
            assert item.summary.replace("'", "&#39;").replace('"', "&#34;") in html
            assert f'data-code="{item.code}"' in html
        assert report.disclaimer in html
        assert "https://doi.org/10.12208/j.ijcr.20240285" in html  # the review's DOI
        assert "Noto Sans CJK SC" in html and "@page" in html
    assert "⚠ Weak evidence" in render_html(reports["en"])
    assert "证据较弱" in render_html(reports["zh"])


def test_html_escapes_names(
    store: tuple[Engine, Path], knowledge: Knowledge, foods: FoodDatabase
) -> None:
    record = record_from_document(demo_document(), knowledge, DEMO_AS_OF)
    report = build_report(
        record,
        knowledge=knowledge,
        foods=foods,
        history=(),
        lang="en",
        as_of=DEMO_AS_OF,
        display_name='<script>alert("x")</script>',
    )
    html = render_html(report)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert report.trend_count == 1  # no stored history: the record's own result


def test_implausible_history_is_left_out_and_said(
    knowledge: Knowledge, foods: FoodDatabase
) -> None:
    record = record_from_document(demo_document(), knowledge, DEMO_AS_OF)
    history = [
        LabPoint("2026-01-10", 0.8, "mmol/L", 0.8),
        LabPoint("2026-02-10", 80.0, "mmol/L", 80.0),
        LabPoint("2027-01-01", 0.8, "mmol/L", 0.8),  # after as_of: not shown
    ]
    report = build_report(
        record, knowledge=knowledge, foods=foods, history=history, lang="zh", as_of=DEMO_AS_OF
    )
    assert report.trend_count == 1
    assert "1 个结果因数值与单位不符未纳入图表" in render_html(report)


def test_food_log_without_age_is_a_report_error(knowledge: Knowledge, foods: FoodDatabase) -> None:
    record = PatientRecord.model_validate(
        {"food_log": [{"food": "12061", "amount": 30, "unit": "g"}]}
    )
    with pytest.raises(ReportError, match="age"):
        build_report(
            record, knowledge=knowledge, foods=foods, history=(), lang="en", as_of=DEMO_AS_OF
        )


@pytest.mark.slow
def test_pdf_text_in_both_languages(reports: dict[str, Report], knowledge: Knowledge) -> None:
    for lang, report in reports.items():
        pdf = render_pdf(report)
        assert pdf.startswith(b"%PDF")
        reader = PdfReader(io.BytesIO(pdf))
        assert 2 <= len(reader.pages) <= 8
        text = squash("".join(page.extract_text() or "" for page in reader.pages))
        disclaimer = (
            knowledge.texts.disclaimer_zh if lang == "zh" else knowledge.texts.disclaimer_en
        )
        assert squash(disclaimer)[:40] in text
        assert "1.3mg/dL" in text and "0.53mmol/L" in text
        headings = (
            ("发现", "建议", "免责声明", "血清镁")
            if lang == "zh"
            else ("Findings", "Recommendations", "Disclaimer", "Serummagnesium")
        )
        for heading in headings:
            assert heading in text, heading


@pytest.mark.slow
def test_cli_round_trip(store: tuple[Engine, Path], tmp_path: Path) -> None:
    _, path = store
    url = sqlite_url(path)
    done = run_mgcare(
        "report",
        "demo-1",
        "--format",
        "pdf",
        "--lang",
        "zh",
        "--as-of",
        "2026-11-25",
        "--database",
        url,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    written = tmp_path / "mgcare-report-demo-1.pdf"
    assert done.stdout.strip() == "mgcare-report-demo-1.pdf"
    text = squash("".join(p.extract_text() or "" for p in PdfReader(written).pages))
    assert "镁与心血管健康报告" in text
    html = run_mgcare("report", "1", "--out", "-", "--as-of", "2026-11-25", "--database", url)
    assert html.returncode == 0 and html.stdout.startswith("<!DOCTYPE html>")


@pytest.mark.slow
def test_cli_errors_exit_2_and_leave_nothing(store: tuple[Engine, Path], tmp_path: Path) -> None:
    _, path = store
    url = sqlite_url(path)
    for args, message in (
        (("nobody", "--database", url), "no person"),
        (("demo-1", "--database", sqlite_url(tmp_path / "missing.sqlite3")), "no database"),
        (("demo-1", "--as-of", "2026-02-30", "--database", url), "not a date"),
        (("demo-1", "--format", "docx", "--database", url), "docx"),
        (
            ("demo-1", "--out", str(tmp_path / "no" / "such" / "r.html"), "--database", url),
            "does not exist",
        ),
    ):
        done = run_mgcare("report", *args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_leaves_nothing_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.pdf"
    write_atomically(target, b"%PDF-1")
    assert target.read_bytes() == b"%PDF-1"

    def refuse(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("mgcare.reports.cli.os.replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, b"%PDF-2 longer")
    assert target.read_bytes() == b"%PDF-1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf"]


def test_default_filename() -> None:
    assert default_filename("demo-1", ReportFormat.pdf) == "mgcare-report-demo-1.pdf"
    assert default_filename("../a b", ReportFormat.html) == "mgcare-report-_a_b.html"


def test_report_command_module_imports_only_typer_and_stdlib() -> None:
    """`mgcare --help` must stay fast: the command module loads no heavy package."""
    code = (
        "import sys; import mgcare.reports.cli; "
        "heavy = [m for m in ('sqlalchemy', 'weasyprint', 'jinja2', 'pydantic', 'numpy', "
        "'mgcare.reports.build', 'mgcare.store') if m in sys.modules]; print(heavy)"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_unknown_store_person_is_a_report_error(
    store: tuple[Engine, Path], knowledge: Knowledge, foods: FoodDatabase
) -> None:
    engine, _ = store
    with pytest.raises(ReportError, match="no person"):
        report_for_person(
            engine, 9999, knowledge=knowledge, foods=foods, lang="en", as_of=date(2026, 1, 1)
        )
