"""Entry point of `mgcare screen`: inputs in, persons.parquet + summary.json + summary.html out.

The CLI wires its options to `run_screen`; any problem with the input becomes a ScreenInputError
with a one-line reason (exit code 2).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from mgcare.i18n import UI, Lang
from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.screen import words
from mgcare.screen.engines import DuckDBEngine, Engine, FileFormat, SparkEngine
from mgcare.screen.errors import ScreenInputError
from mgcare.screen.pipeline import Inputs, Table, screen_tables
from mgcare.screen.progress import Steps
from mgcare.screen.report import write_html, write_json

ENGINES = ("duckdb", "spark")
STEP_COUNT = 7
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")


@dataclass(frozen=True)
class ScreenSummary:
    """What a run produced: headline counts and where the files are (`data` = summary.json)."""

    out: Path
    persons: int
    magnesium_measured: int
    mg_status: dict[str, int]
    codes: dict[str, int]
    data: dict[str, Any] = field(repr=False)
    lang: Lang = "en"
    disclaimer: str = ""
    """The knowledge pack's decision-support disclaimer in `lang`, the last line of the summary."""

    @property
    def persons_path(self) -> Path:
        return self.out / "persons.parquet"

    @property
    def json_path(self) -> Path:
        return self.out / "summary.json"

    @property
    def html_path(self) -> Path:
        return self.out / "summary.html"

    def lines(self) -> list[str]:
        """A short text summary for people (the CLI's text output), in `lang`."""
        if self.lang == "zh":
            return self._lines_zh()
        counts = self.data["counts"]
        out = [
            f"Screened {self.persons:,} persons as of {self.data['as_of']} "
            f"(engine {self.data['engine']}, knowledge {self.data['knowledge_version']})",
            f"Serum magnesium in the last {self.data['lookback_months']} months: "
            f"{self.magnesium_measured:,} persons",
        ]
        for status, n in self.mg_status.items():
            out.append(f"  {status}: {n:,}")
        out.append("Findings (persons):")
        for code, n in sorted(self.codes.items(), key=lambda cv: (-cv[1], cv[0])):
            if n:
                out.append(f"  {code}: {n:,}")
        out.append(
            "On a depleting drug without a recent magnesium result: "
            f"{counts['depleting-medication-without-magnesium-check']:,}"
        )
        for table, info in self.data["tables"].items():
            excluded = info.get("excluded", {})
            if excluded:
                reasons = ", ".join(f"{k} {v:,}" for k, v in excluded.items())
                out.append(f"Excluded {table} rows: {reasons}")
        weighted = self.data.get("weighted")
        if weighted:
            design = weighted["design"]
            out.append(
                f"Survey-weighted prevalence (95% CI; {design['strata_count']} strata, "
                f"{design['psu_count']:,} PSUs, df {design['df']}):"
            )
            for name, e in weighted["prevalence"].items():
                if e["n"] and e["estimate"] > 0:
                    out.append(
                        f"  {name}: {100 * e['estimate']:.2f}% "
                        f"({100 * e['ci_low']:.2f}-{100 * e['ci_high']:.2f})"
                    )
        out += [f"Wrote {self.persons_path}", f"Wrote {self.json_path}", f"Wrote {self.html_path}"]
        if self.disclaimer:
            out.append(f"{UI['disclaimer'].get('en')}: {self.disclaimer}")
        return out

    def _lines_zh(self) -> list[str]:
        """The same lines in Simplified Chinese, each code beside its label, and the disclaimer."""
        lang: Lang = "zh"
        counts = self.data["counts"]
        out = [
            f"已筛查 {self.persons:,} 人，截至 {self.data['as_of']}"
            f"（引擎 {self.data['engine']}，知识库 {self.data['knowledge_version']}）",
            f"近 {self.data['lookback_months']} 个月内有血清镁结果：{self.magnesium_measured:,} 人",
        ]
        for status, n in self.mg_status.items():
            out.append(f"  {words.status(status, lang)}：{n:,}")
        out.append("发现（人数）：")
        for code, n in sorted(self.codes.items(), key=lambda cv: (-cv[1], cv[0])):
            if n:
                out.append(f"  {words.finding(code, lang)}：{n:,}")
        out.append(
            f"{words.FINDING_ZH[words.DEPLETING_WITHOUT_CHECK]}："
            f"{counts[words.DEPLETING_WITHOUT_CHECK]:,}"
        )
        for table, info in self.data["tables"].items():
            excluded = info.get("excluded", {})
            if excluded:
                reasons = "，".join(f"{words.reason(k, lang)} {v:,}" for k, v in excluded.items())
                out.append(f"{words.table(table, lang)}表排除的行：{reasons}")
        weighted = self.data.get("weighted")
        if weighted:
            design = weighted["design"]
            out.append(
                f"调查加权患病率（95% CI；{design['strata_count']} 个层，"
                f"{design['psu_count']:,} 个初级抽样单位，自由度 {design['df']}）："
            )
            for name, e in weighted["prevalence"].items():
                if e["n"] and e["estimate"] > 0:
                    out.append(
                        f"  {words.indicator(name, lang)}：{100 * e['estimate']:.2f}%"
                        f"（{100 * e['ci_low']:.2f}-{100 * e['ci_high']:.2f}）"
                    )
        out += [f"已写入 {path}" for path in (self.persons_path, self.json_path, self.html_path)]
        if self.disclaimer:
            out.append(f"{UI['disclaimer'].get(lang)}：{self.disclaimer}")
        return out


def input_format(path: Path) -> FileFormat | str:
    """parquet, csv or ndjson (FHIR Bulk Data), from the file name; a folder is a Parquet dataset."""
    name = path.name.lower()
    if path.is_dir() or name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(NDJSON_SUFFIXES):
        return "ndjson"
    raise ScreenInputError(
        f"{path}: unknown file type (use .parquet, a folder of .parquet, .csv or FHIR .ndjson)"
    )


def _inputs(
    persons: Path, labs: Path, medications: Path | None, conditions: Path | None, work: Path
) -> Inputs:
    given: dict[str, Path | None] = {
        "persons": persons,
        "labs": labs,
        "medications": medications,
        "conditions": conditions,
    }
    for name, path in given.items():
        if path is not None and not path.exists():
            raise ScreenInputError(f"{name}: {path}: no such file")
    formats = {name: input_format(path) for name, path in given.items() if path is not None}
    tables: dict[str, Table | None] = {}
    if any(fmt == "ndjson" for fmt in formats.values()):
        from mgcare.screen.ndjson import convert_ndjson

        converted = convert_ndjson(
            {
                name: path
                for name, path in given.items()
                if path is not None and formats[name] == "ndjson"
            },
            work,
        )
        for name, path in converted.items():
            tables[name] = Table(path, "parquet")
    for name, path in given.items():
        if name in tables:
            continue
        fmt = formats.get(name)
        tables[name] = Table(path, fmt) if path is not None and fmt in ("parquet", "csv") else None  # type: ignore[arg-type]
    assert tables["persons"] is not None and tables["labs"] is not None
    return Inputs(tables["persons"], tables["labs"], tables["medications"], tables["conditions"])


def make_engine(engine: str, work: Path, spark_master: str | None) -> Engine:
    if engine == "duckdb":
        return DuckDBEngine(work / "duckdb-spill")
    if engine == "spark":
        return SparkEngine(spark_master)
    raise ScreenInputError(f"unknown engine {engine!r} (use {' or '.join(ENGINES)})")


def run_screen(
    persons: Path,
    labs: Path,
    medications: Path | None,
    conditions: Path | None,
    out: Path,
    engine: str,
    as_of: date,
    spark_master: str | None,
    progress: bool,
    *,
    knowledge: Knowledge | None = None,
    today: date | None = None,
    check_duplicates: bool | None = None,
    session: Any = None,
    lang: Lang = "en",
) -> ScreenSummary:
    """Screen the long tables of DESIGN.md section 6 and write DIR/persons.parquet,
    DIR/summary.json and DIR/summary.html. `today` (default: the later of `as_of` and the real
    date, as `mgcare assess` validates) bounds the dates accepted as not in the future. `lang`
    sets the language of summary.html, the progress line and `lines()`; summary.json and
    persons.parquet are the same in every language."""
    if engine not in ENGINES:
        raise ScreenInputError(f"unknown engine {engine!r} (use {' or '.join(ENGINES)})")
    knowledge = knowledge or load_knowledge()
    bound = today or max(as_of, date.today())
    texts = knowledge.texts
    disclaimer = texts.disclaimer_zh if lang == "zh" else texts.disclaimer_en
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    try:
        inputs = _inputs(persons, labs, medications, conditions, work)
        runner: Engine = (
            SparkEngine(spark_master, session)
            if engine == "spark" and session is not None
            else make_engine(engine, work, spark_master)
        )
        try:
            labels = {name: words.step(name, lang) for name in words.STEP_ZH}
            with Steps(progress, STEP_COUNT, runner.set_progress, labels) as steps:
                data = screen_tables(
                    inputs,
                    out,
                    runner,
                    knowledge,
                    as_of=as_of,
                    today=bound,
                    steps=steps,
                    check_duplicates=check_duplicates,
                )
        finally:
            runner.close()
        counts_file = work / "ndjson_counts.json"
        if counts_file.exists():
            data["inputs"]["fhir_ndjson"] = json.loads(counts_file.read_text(encoding="utf-8"))
        write_json(data, out / "summary.json")
        write_html(
            data,
            out / "summary.html",
            lang,
            disclaimer=disclaimer,
            classes_zh={d.drug_class: d.class_zh for d in knowledge.drugs.drug},
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = data["counts"]
    return ScreenSummary(
        out=out,
        persons=counts["persons"],
        magnesium_measured=counts["magnesium_measured"],
        mg_status=counts["mg_status"],
        codes=counts["codes"],
        data=data,
        lang=lang,
        disclaimer=disclaimer,
    )
