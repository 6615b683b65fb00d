"""Command line: `mgcare assess`, `mgcare knowledge`, `mgcare demo`.

A thin shell: it reads files, calls the pure core, prints. Heavy modules are imported inside
the commands so that `mgcare --help` starts fast. Exit codes (DESIGN.md): 0 success,
2 invalid input with a one-line reason on stderr, 1 internal error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from mgcare.i18n import Lang
    from mgcare.knowledge import Knowledge
    from mgcare.model import Assessment, PatientRecord

EXIT_INVALID_INPUT = 2
EXIT_INTERNAL = 1

app = typer.Typer(
    name="mgcare",
    help="Magnesium and cardiovascular health: cited decision support (supports, does not replace, clinical judgement).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class Language(StrEnum):
    en = "en"
    zh = "zh"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text for people, json for programs")
]
LangOption = Annotated[Language, typer.Option("--lang", help="en or zh (Simplified Chinese)")]
SiteOption = Annotated[
    Path | None,
    typer.Option(
        "--site", help="Site override TOML (lab interval, thresholds); or $MGCARE_SITE_CONFIG"
    ),
]


def fail(message: str, code: int = EXIT_INVALID_INPUT) -> NoReturn:
    sys.stderr.write(f"mgcare: {message}\n")
    raise typer.Exit(code)


def _knowledge(site: Path | None) -> Knowledge:
    from mgcare.knowledge import KnowledgeError, load_knowledge

    try:
        return load_knowledge(site)
    except KnowledgeError as exc:
        fail(
            str(exc).splitlines()[0] if site else str(exc),
            EXIT_INVALID_INPUT if site else EXIT_INTERNAL,
        )


def _parse_date(text: str | None, option: str) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date (use YYYY-MM-DD)")


def _print_assessment(assessment: Assessment, output: OutputFormat, lang: Lang) -> None:
    if output is OutputFormat.json:
        sys.stdout.write(assessment.model_dump_json(indent=2) + "\n")
    else:
        from mgcare.report_text import print_assessment

        print_assessment(assessment, lang)


def _run_assessment(
    record: PatientRecord,
    knowledge: Knowledge,
    as_of: date,
    output: OutputFormat,
    lang: Language,
) -> None:
    from mgcare.diet.foods import load_food_database
    from mgcare.views import ViewError, assessment

    try:
        result = assessment(record, knowledge, load_food_database(), as_of, lang.value)
    except ViewError as exc:
        fail(str(exc))
    _print_assessment(result, output, lang.value)


@app.command("assess")
def assess_command(
    file: Annotated[Path, typer.Argument(help="FHIR R4 Bundle/resource or mgcare JSON record")],
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Assess as of this date (YYYY-MM-DD); default today"),
    ] = None,
    symptomatic: Annotated[
        bool | None, typer.Option("--symptomatic/--asymptomatic", help="Symptoms of Mg disorder")
    ] = None,
    unstable: Annotated[
        bool | None, typer.Option("--unstable/--stable", help="Haemodynamically unstable")
    ] = None,
    arrhythmia: Annotated[
        bool | None, typer.Option("--arrhythmia/--no-arrhythmia", help="Serious arrhythmia")
    ] = None,
    site: SiteOption = None,
) -> None:
    """Assess one person's magnesium status and print findings and recommendations."""
    from mgcare.inputs import InputError, load_record

    day = _parse_date(as_of, "--as-of")
    knowledge = _knowledge(site)
    try:
        record = load_record(file, knowledge, today=max(day, date.today()), as_of=day)
    except InputError as exc:
        fail(str(exc))
    overrides = {
        key: value
        for key, value in (
            ("symptomatic", symptomatic),
            ("haemodynamically_unstable", unstable),
            ("serious_arrhythmia", arrhythmia),
        )
        if value is not None
    }
    if overrides:
        record = record.model_copy(update={"context": record.context.model_copy(update=overrides)})
    _run_assessment(record, knowledge, day, output, lang)


@app.command("demo")
def demo_command(output: FormatOption = OutputFormat.text, lang: LangOption = Language.en) -> None:
    """Assess the bundled demo patient (as of 2026-11-25)."""
    from importlib.resources import files

    from mgcare.demo import DEMO_AS_OF
    from mgcare.inputs import record_from_document

    knowledge = _knowledge(None)
    document = json.loads(files("mgcare.demo").joinpath("demo_patient.json").read_text("utf-8"))
    record = record_from_document(document, knowledge, DEMO_AS_OF)
    _run_assessment(record, knowledge, DEMO_AS_OF, output, lang)


@app.command("knowledge")
def knowledge_command(
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
    site: SiteOption = None,
) -> None:
    """List the knowledge pack: version, thresholds with their sources and statuses, references."""
    from mgcare.knowledge_view import knowledge_summary, print_knowledge

    knowledge = _knowledge(site)
    if output is OutputFormat.json:
        sys.stdout.write(
            json.dumps(knowledge_summary(knowledge), ensure_ascii=False, indent=2) + "\n"
        )
    else:
        print_knowledge(knowledge, lang.value)


foods_app = typer.Typer(
    help="Food composition: USDA SR28 (FoodData Central SR Legacy) with Chinese names.",
    no_args_is_help=True,
)
diet_app = typer.Typer(
    help="A day's food log against reference intakes, and foods that close the gap.",
    no_args_is_help=True,
)
app.add_typer(foods_app, name="foods")
app.add_typer(diet_app, name="diet")


class Standard(StrEnum):
    cn_2023 = "cn-2023"
    cn_2013 = "cn-2013"
    us_iom_1997 = "us-iom-1997"
    efsa_2015 = "efsa-2015"


class Sex(StrEnum):
    male = "male"
    female = "female"


class LifeStageOption(StrEnum):
    general = "general"
    pregnancy = "pregnancy"
    lactation = "lactation"


AgeOption = Annotated[float, typer.Option("--age", min=0, max=130, help="Age in years")]
SexOption = Annotated[Sex, typer.Option("--sex")]
StandardOption = Annotated[
    Standard | None,
    typer.Option(
        "--standard", help="Reference intakes; default cn-2023 for zh, us-iom-1997 for en"
    ),
]
StageOption = Annotated[LifeStageOption, typer.Option("--life-stage")]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Exclude foods: nuts, peanuts, seeds, dairy, fish, shellfish, soy, gluten, meat",
    ),
]
AllFoodsOption = Annotated[
    bool, typer.Option("--all-foods", help="Suggest from all SR28 foods, not only common ones")
]


@foods_app.command("search")
def foods_search(
    query: Annotated[
        str, typer.Argument(help="English or Chinese name, typos allowed, or an SR28 number")
    ],
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 10,
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Ranked, typo-tolerant food search in English or Chinese."""
    from mgcare.diet.foods import load_food_database
    from mgcare.diet.search import search_foods
    from mgcare.views import food_hit

    rows = [food_hit(hit.food) for hit in search_foods(load_food_database(), query, limit=limit)]
    from mgcare import report_diet

    _emit(rows, output, lambda: report_diet.print_food_hits(rows, query, lang.value))


@foods_app.command("show")
def foods_show(
    food: Annotated[str, typer.Argument(help="SR28 food number, e.g. 12061")],
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Composition per 100 g and household portions of one food."""
    from mgcare.diet.foods import UnknownFoodError, load_food_database
    from mgcare.views import food_detail

    try:
        data = food_detail(load_food_database().get(food))
    except UnknownFoodError as exc:
        fail(str(exc))
    from mgcare import report_diet

    _emit(data, output, lambda: report_diet.print_food(data, lang.value))


@diet_app.command("report")
def diet_report(
    log: Annotated[
        Path, typer.Argument(help="A day's food log: CSV or JSON (DESIGN.md section 7)")
    ],
    age: AgeOption,
    sex: SexOption,
    standard: StandardOption = None,
    life_stage: StageOption = LifeStageOption.general,
    exclude: ExcludeOption = None,
    all_foods: AllFoodsOption = False,
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Daily Mg, Zn, Ca, K and energy against the reference intake, with foods to close a gap."""
    from mgcare import views
    from mgcare.diet.foods import load_food_database
    from mgcare.diet.log import FoodLogError, read_rows

    knowledge = _knowledge(None)
    try:
        rows = read_rows(log.read_text(encoding="utf-8"), str(log))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{log}: cannot read ({exc})")
    except FoodLogError as exc:
        fail(str(exc))
    try:
        data = views.diet_report(
            rows,
            knowledge,
            load_food_database(),
            age=age,
            sex=sex.value,
            standard=standard.value if standard else None,
            life_stage=life_stage.value,
            exclude=exclude or (),
            all_foods=all_foods,
            lang=lang.value,
        )
    except views.ViewError as exc:
        fail(str(exc))
    from mgcare import report_diet

    _emit(data, output, lambda: report_diet.print_diet_report(data, lang.value))


@diet_app.command("plan")
def diet_plan(
    age: AgeOption,
    sex: SexOption,
    intake_mg: Annotated[
        float, typer.Option("--intake-mg", min=0, help="Magnesium already eaten today (mg)")
    ] = 0.0,
    standard: StandardOption = None,
    life_stage: StageOption = LifeStageOption.general,
    exclude: ExcludeOption = None,
    all_foods: AllFoodsOption = False,
    max_foods: Annotated[int, typer.Option("--max-foods", min=1, max=10)] = 4,
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Foods that close the gap to the reference intake with the least added energy."""
    from mgcare import views
    from mgcare.diet.foods import load_food_database

    try:
        data = views.diet_plan(
            _knowledge(None),
            load_food_database(),
            age=age,
            sex=sex.value,
            intake_mg=intake_mg,
            standard=standard.value if standard else None,
            life_stage=life_stage.value,
            exclude=exclude or (),
            all_foods=all_foods,
            max_foods=max_foods,
            lang=lang.value,
        )
    except views.ViewError as exc:
        fail(str(exc))
    from mgcare import report_diet

    _emit(data, output, lambda: report_diet.print_plan(data, lang.value))


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes")] = 1,
    dev: Annotated[
        bool, typer.Option("--dev", help="Disable JWT verification (local demos only)")
    ] = False,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="text: log lines for people; json: one JSON line on stdout (host, port, "
            "urls, dev) before serving, logs on stderr",
        ),
    ] = OutputFormat.text,
    lang: Annotated[
        Language | None,
        typer.Option(
            "--lang",
            help="Default language of CDS cards and API answers, and of start-up messages: "
            "en or zh; default $MGCARE_SERVICE_LANG, else en",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the REST API and CDS Hooks services (JWT verification on unless --dev)."""
    from mgcare.i18n import L

    shown: Lang = lang.value if lang is not None else "en"
    try:
        from mgcare.service.server import failure_line, run_server
        from mgcare.service.settings import SettingsError
        from mgcare.store.db import StoreUnavailable
    except ImportError:
        missing = L(
            "the service needs the `service` extra: pip install 'mgcare[service]'",
            "服务需要 `service` 附加组件：pip install 'mgcare[service]'",
        )
        fail(missing.get(shown), EXIT_INTERNAL)
    try:
        run_server(host, port, workers, dev, lang.value if lang else None, output.value)
    except (SettingsError, StoreUnavailable) as exc:
        fail(failure_line(exc, shown))


class ScreenEngine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


@app.command("screen")
def screen_command(
    persons: Annotated[
        Path,
        typer.Option(
            "--persons",
            help="persons table: .parquet, folder of .parquet, .csv, or FHIR Patient .ndjson",
        ),
    ],
    labs: Annotated[Path, typer.Option("--labs", help="labs table (or FHIR Observation .ndjson)")],
    out: Annotated[
        Path, typer.Option("--out", help="folder for persons.parquet, summary.json, summary.html")
    ],
    medications: Annotated[Path | None, typer.Option("--medications")] = None,
    conditions: Annotated[Path | None, typer.Option("--conditions")] = None,
    medication_resources: Annotated[
        Path | None,
        typer.Option(
            "--medication-resources",
            help="FHIR Medication .ndjson of the same export, for medicationReference in "
            "--medications .ndjson",
        ),
    ] = None,
    engine: Annotated[ScreenEngine, typer.Option("--engine")] = ScreenEngine.duckdb,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="screen as of this date (YYYY-MM-DD); default today"),
    ] = None,
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="Spark master URL (default local[2])")
    ] = None,
    site: SiteOption = None,
    output: FormatOption = OutputFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Screen a population (DESIGN.md section 6 tables) on DuckDB or Spark; --lang sets the
    language of the text summary and summary.html (summary.json and persons.parquet keep their
    English keys and codes)."""
    try:
        from mgcare.screen.command import run_screen
        from mgcare.screen.errors import ScreenInputError
    except ImportError:
        fail("screening needs the `screen` extra: pip install 'mgcare[screen]'", EXIT_INTERNAL)
    day = _parse_date(as_of, "--as-of")
    knowledge = _knowledge(site)
    try:
        summary = run_screen(
            persons,
            labs,
            medications,
            conditions,
            out,
            engine.value,
            day,
            spark_master,
            progress=True,
            knowledge=knowledge,
            lang=lang.value,
            medication_resources=medication_resources,
        )
    except ScreenInputError as exc:
        fail(str(exc))
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(summary.data, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        for line in summary.lines():
            sys.stdout.write(line + "\n")


def _register_subcommands() -> None:
    """Commands whose code lives beside its adapter; their modules import only typer at load."""
    from mgcare.reports.cli import report_command
    from mgcare.store.cli import db_app

    app.add_typer(db_app, name="db")
    app.command("report")(report_command)


_register_subcommands()


def _emit(data: object, output: OutputFormat, print_text: Callable[[], None]) -> None:
    """JSON for programs, or the text view for people."""
    if output is OutputFormat.json:
        _print_json(data)
    else:
        print_text()


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def main() -> None:
    """Entry point: no traceback ever reaches the user."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        sys.stderr.write(f"mgcare: internal error: {type(exc).__name__}: {exc}\n")
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
