"""Command line: `mgcare assess`, `mgcare knowledge`, `mgcare demo`.

A thin shell: it reads files, calls the pure core, prints. Heavy modules are imported inside
the commands so that `mgcare --help` starts fast. Exit codes (DESIGN.md): 0 success,
2 invalid input with a one-line reason on stderr, 1 internal error.
"""

from __future__ import annotations

import sys
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
DEMO_AS_OF = date(2026, 11, 25)

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
    from mgcare.rules import assess

    assessment = assess(record, knowledge, as_of=as_of, lang=lang.value)
    _print_assessment(assessment, output, lang.value)


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
        record = load_record(file, knowledge, today=max(day, date.today()))
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

    from mgcare.inputs import record_from_document

    knowledge = _knowledge(None)
    import json

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
        import json

        sys.stdout.write(
            json.dumps(knowledge_summary(knowledge), ensure_ascii=False, indent=2) + "\n"
        )
    else:
        print_knowledge(knowledge, lang.value)


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
