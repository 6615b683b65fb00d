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

from mgcare.i18n import UI, L, Lang
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
        """The summary for people, in `lang`: codes as they are in English, each code beside its
        label in Chinese; the disclaimer last."""
        lang = self.lang
        data, counts = self.data, self.data["counts"]
        say = {key: text.get(lang) for key, text in LINES.items()}
        out = [
            say["screened"].format(
                persons=self.persons,
                as_of=data["as_of"],
                engine=data["engine"],
                knowledge=data["knowledge_version"],
            ),
            say["measured"].format(months=data["lookback_months"], n=self.magnesium_measured),
        ]
        out += [
            say["item"].format(label=words.status(status, lang), n=n)
            for status, n in self.mg_status.items()
        ]
        out.append(say["findings"])
        out += [
            say["item"].format(label=words.finding(code, lang), n=n)
            for code, n in sorted(self.codes.items(), key=lambda cv: (-cv[1], cv[0]))
            if n
        ]
        out.append(
            say["unchecked"].format(
                label=words.finding(words.DEPLETING_WITHOUT_CHECK, lang, show_code=False),
                n=counts[words.DEPLETING_WITHOUT_CHECK],
            )
        )
        for table, info in data["tables"].items():
            excluded = info.get("excluded", {})
            if excluded:
                reasons = say["list_separator"].join(
                    f"{words.reason(k, lang)} {v:,}" for k, v in excluded.items()
                )
                out.append(say["excluded"].format(table=words.table(table, lang), reasons=reasons))
        weighted = data.get("weighted")
        if weighted:
            design = weighted["design"]
            out.append(
                say["weighted"].format(
                    strata=design["strata_count"], psus=design["psu_count"], df=design["df"]
                )
            )
            out += [
                say["prevalence"].format(
                    label=words.indicator(name, lang),
                    estimate=100 * e["estimate"],
                    low=100 * e["ci_low"],
                    high=100 * e["ci_high"],
                )
                for name, e in weighted["prevalence"].items()
                if e["n"] and e["estimate"] > 0
            ]
        fhir_medications = data["inputs"].get("fhir_ndjson", {}).get("medications", {})
        unresolved = fhir_medications.get("medication_reference_unresolved", 0)
        if unresolved:
            out.append(say["unresolved"].format(n=unresolved))
        out += [
            say["wrote"].format(path=path)
            for path in (self.persons_path, self.json_path, self.html_path)
        ]
        if self.disclaimer:
            out.append(
                say["disclaimer"].format(label=UI["disclaimer"].get(lang), text=self.disclaimer)
            )
        return out


# The text summary's sentences; codes and numbers are filled in by `ScreenSummary.lines`.
LINES: dict[str, L] = {
    "screened": L(
        "Screened {persons:,} persons as of {as_of} (engine {engine}, knowledge {knowledge})",
        "已筛查 {persons:,} 人，截至 {as_of}（引擎 {engine}，知识库 {knowledge}）",
    ),
    "measured": L(
        "Serum magnesium in the last {months} months: {n:,} persons",
        "近 {months} 个月内有血清镁结果：{n:,} 人",
    ),
    "item": L("  {label}: {n:,}", "  {label}：{n:,}"),
    "findings": L("Findings (persons):", "发现（人数）："),
    "unchecked": L(
        "On a depleting drug without a recent magnesium result: {n:,}", "{label}：{n:,}"
    ),
    "list_separator": L(", ", "，"),
    "excluded": L("Excluded {table} rows: {reasons}", "{table}表排除的行：{reasons}"),
    "weighted": L(
        "Survey-weighted prevalence (95% CI; {strata} strata, {psus:,} PSUs, df {df}):",
        "调查加权患病率（95% CI；{strata} 个层，{psus:,} 个初级抽样单位，自由度 {df}）：",
    ),
    "prevalence": L(
        "  {label}: {estimate:.2f}% ({low:.2f}-{high:.2f})",
        "  {label}：{estimate:.2f}%（{low:.2f}-{high:.2f}）",
    ),
    "unresolved": L(
        "FHIR medications whose medicationReference points to no Medication given: {n:,} (their "
        "display text was used where present; give the export's Medication .ndjson with "
        "--medication-resources)",
        "FHIR 用药记录的 medicationReference 找不到对应的 Medication：{n:,} 条（有显示文本的按文本"
        "识别；请用 --medication-resources 提供导出中的 Medication .ndjson）",
    ),
    "wrote": L("Wrote {path}", "已写入 {path}"),
    "disclaimer": L("{label}: {text}", "{label}：{text}"),
}


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
    persons: Path,
    labs: Path,
    medications: Path | None,
    conditions: Path | None,
    work: Path,
    medication_resources: Path | None = None,
) -> Inputs:
    given: dict[str, Path | None] = {
        "persons": persons,
        "labs": labs,
        "medications": medications,
        "conditions": conditions,
    }
    for name, path in {**given, "medication resources": medication_resources}.items():
        if path is not None and not path.exists():
            raise ScreenInputError(f"{name}: {path}: no such file")
    formats = {name: input_format(path) for name, path in given.items() if path is not None}
    if medication_resources is not None:
        if formats.get("medications") != "ndjson":
            raise ScreenInputError(
                "medication resources resolve FHIR medicationReference: give --medications as "
                "FHIR MedicationRequest/MedicationStatement .ndjson too"
            )
        if input_format(medication_resources) != "ndjson":
            raise ScreenInputError(
                f"medication resources: {medication_resources}: expected FHIR Medication .ndjson"
            )
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
            medication_resources=medication_resources,
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
    medication_resources: Path | None = None,
) -> ScreenSummary:
    """Screen the long tables of DESIGN.md section 6 and write DIR/persons.parquet,
    DIR/summary.json and DIR/summary.html. `today` (default: the later of `as_of` and the real
    date, as `mgcare assess` validates) bounds the dates accepted as not in the future. `lang`
    sets the language of summary.html, the progress line and `lines()`; summary.json and
    persons.parquet are the same in every language. `medication_resources` is the FHIR export's
    Medication .ndjson, which NDJSON medications' medicationReference may point to."""
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
        inputs = _inputs(persons, labs, medications, conditions, work, medication_resources)
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
