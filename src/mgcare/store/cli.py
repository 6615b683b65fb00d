"""`mgcare db ...`: inspect, import into, list, export and back up the store.

Every command takes `--database URL` (default `$MGCARE_DATABASE_URL`, else the SQLite file in
the user data directory) and brings the schema up to date on first use, and `--lang en|zh` for
its messages (DESIGN.md 7; the sentences live in `cli_messages`). `--format text|json` chooses
people's text or programs' JSON (on `export` it chooses the export format instead). A locked,
missing or unreachable database, a refused value and bad input each end with one line on stderr
and exit code 2, never a traceback; in Chinese that line is a translated lead-in followed by the
lower layer's English reason.

Imports: each file is one transaction (all of it is stored or none of it); a bad file does
not stop the others, the command names every file that failed and exits 2 if any did.
Module level imports only typer and the standard library: `mgcare --help` stays fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from mgcare.store import cli_messages as msg

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mgcare.knowledge import Knowledge
    from mgcare.store.repository import ImportResult, PersonListing

EXIT_INVALID = 2

db_app = typer.Typer(
    help="The mgcare database: info, import, list, export, back up.",
    no_args_is_help=True,
    add_completion=False,
)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST/DB); "
        "default $MGCARE_DATABASE_URL, else mgcare.sqlite3 in the user data directory",
        show_default=False,
    ),
]


class ListFormat(StrEnum):
    text = "text"
    json = "json"


class Language(StrEnum):
    """The same values as `mgcare.cli.Language`, defined here because `mgcare.cli` imports this
    module while it loads (importing it back would be circular)."""

    en = "en"
    zh = "zh"


FormatOption = Annotated[
    ListFormat, typer.Option("--format", help="text for people, json for programs")
]
LangOption = Annotated[Language, typer.Option("--lang", help="en or zh (Simplified Chinese)")]


class ExportFormat(StrEnum):
    fhir = "fhir"
    csv = "csv"
    json = "json"


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"mgcare: {message}\n")
    raise typer.Exit(EXIT_INVALID)


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@contextmanager
def _one_line_errors(lang: Language, key: str = "error", **params: object) -> Iterator[None]:
    """Store and input failures end the command with their one-line message; in Chinese
    behind the lead-in `key` (the English line is unchanged)."""
    from mgcare.inputs import InputError
    from mgcare.store.repository import StoreError, StoreUnavailable

    try:
        yield
    except (StoreUnavailable, StoreError, InputError) as exc:
        _fail(msg.text(lang.value, key, reason=_reason(exc), **params))


def _open(database: str | None) -> Engine:
    """The engine for `--database`, its schema brought up to date."""
    from mgcare.store.db import make_engine
    from mgcare.store.repository import ensure_schema

    engine = make_engine(database or None)
    ensure_schema(engine)
    return engine


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


# --- info --------------------------------------------------------------------------------------


@db_app.command("info")
def info_command(
    database: DatabaseOption = None,
    output: FormatOption = ListFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Where the database is, which backend and schema revision, and rows per table."""
    with _one_line_errors(lang, "error.info"):
        from mgcare.store.db import masked_url
        from mgcare.store.migrations import current_revision
        from mgcare.store.repository import table_counts

        engine = _open(database)
        try:
            data = {
                "url": masked_url(engine.url.render_as_string(hide_password=False)),
                "backend": engine.dialect.name,
                "revision": current_revision(engine),
                "tables": table_counts(engine),
            }
        finally:
            engine.dispose()
    if output is ListFormat.json:
        _print_json(data)
        return
    sys.stdout.write(msg.text(lang.value, "info.database", url=data["url"]) + "\n")
    sys.stdout.write(msg.text(lang.value, "info.backend", backend=data["backend"]) + "\n")
    sys.stdout.write(msg.text(lang.value, "info.revision", revision=data["revision"]) + "\n")
    tables: dict[str, int] = data["tables"]  # type: ignore[assignment]
    width = max(len(name) for name in tables)
    for name, count in tables.items():
        sys.stdout.write(f"  {name:<{width}}  {count:>8}\n")


# --- import ------------------------------------------------------------------------------------


def _read_document(path: Path, lang: Language) -> Any:
    from mgcare.inputs import MAX_INPUT_BYTES, InputError

    def refuse(key: str, **params: object) -> InputError:
        return InputError(msg.text(lang.value, key, **params))

    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise refuse("import.too_large", mib=MAX_INPUT_BYTES // (1024 * 1024))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise refuse("import.no_such_file") from None
    except IsADirectoryError:
        raise refuse("import.directory") from None
    except UnicodeDecodeError:
        raise refuse("import.not_utf8") from None
    except OSError as exc:
        raise refuse("import.cannot_read", reason=exc.strerror) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise refuse(
            "import.malformed", reason=exc.msg, line=exc.lineno, column=exc.colno
        ) from None


def _counts(result: ImportResult) -> dict[str, int]:
    return {
        "labs": result.labs,
        "medications": result.medications,
        "conditions": result.conditions,
        "food_log": result.food_log,
    }


def _record_assessment(
    engine: Engine, person_id: int, knowledge: Knowledge, day: date, lang: Language
) -> None:
    """Store what mgcare says of the person now, with the versions that said it (the history
    of assessments). The food log needs an age; without one the assessment is made without it."""
    from mgcare.diet.foods import load_food_database
    from mgcare.store.repository import person_record, save_assessment
    from mgcare.views import ViewError, assessment

    record = person_record(engine, person_id)
    try:
        result = assessment(record, knowledge, load_food_database(), day, lang.value)
    except ViewError:
        bare = record.model_copy(update={"food_log": ()})
        result = assessment(bare, knowledge, load_food_database(), day, lang.value)
    save_assessment(engine, person_id, result, day)


def _added(result: ImportResult, lang: Language) -> str:
    parts = [
        msg.count(lang.value, "lab", result.labs),
        msg.count(lang.value, "medication", result.medications),
        msg.count(lang.value, "condition", result.conditions),
    ]
    if result.food_log:
        parts.append(msg.count(lang.value, "food_log", result.food_log))
    joined = msg.text(lang.value, "import.separator").join(parts)
    if result.created:
        return joined
    if not any(_counts(result).values()):
        return msg.text(lang.value, "import.nothing_new")
    return msg.text(lang.value, "import.new", parts=joined)


@db_app.command("import")
def import_command(
    files: Annotated[
        list[Path], typer.Argument(help="FHIR Bundle/resource JSON or mgcare JSON records")
    ],
    database: DatabaseOption = None,
    today: Annotated[
        str | None, typer.Option("--today", help="Date for plausibility checks (YYYY-MM-DD)")
    ] = None,
    output: Annotated[
        ListFormat,
        typer.Option(
            "--format",
            help="text for people; json for programs: a list of {file, status "
            "(imported|updated|failed), person_id, counts, reason}",
        ),
    ] = ListFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Import files; each file is stored whole or not at all. A person already stored
    (same patient id) is updated: new results appended, duplicates skipped."""
    from mgcare.inputs import InputError

    as_json = output is ListFormat.json
    outcomes: list[dict[str, Any]] = []
    failed: list[Path] = []
    with _one_line_errors(lang, "error.import"):
        from mgcare.knowledge import load_knowledge
        from mgcare.store.repository import StoreError, import_document

        day = _parse_day(today, lang)
        knowledge = load_knowledge()
        engine = _open(database)
        try:
            for path in files:
                try:
                    document = _read_document(path, lang)
                    result = import_document(engine, document, knowledge, day)
                except (InputError, StoreError) as exc:
                    reason = _reason(exc)
                    failed.append(path)
                    outcomes.append(
                        {
                            "file": str(path),
                            "status": "failed",
                            "person_id": None,
                            "counts": None,
                            "reason": reason,
                        }
                    )
                    if not as_json:
                        line = msg.text(lang.value, "error.import_file", file=path, reason=reason)
                        sys.stderr.write(f"mgcare: {line}\n")
                    continue
                if result.created or any(_counts(result).values()):
                    _record_assessment(engine, result.person_id, knowledge, day, lang)
                status = "imported" if result.created else "updated"
                outcomes.append(
                    {
                        "file": str(path),
                        "status": status,
                        "person_id": result.person_id,
                        "counts": _counts(result),
                        "reason": None,
                    }
                )
                if not as_json:
                    line = msg.text(
                        lang.value,
                        f"import.{status}",
                        file=path,
                        person=result.person_id,
                        added=_added(result, lang),
                    )
                    sys.stdout.write(line + "\n")
        finally:
            engine.dispose()
            if as_json and outcomes:  # what was done before a store failure is still reported
                _print_json(outcomes)
    if failed:
        key = "import.summary_one" if len(failed) == 1 else "import.summary_many"
        _fail(
            msg.text(
                lang.value,
                key,
                failed=len(failed),
                files=msg.count(lang.value, "file", len(files)),
                stored=len(files) - len(failed),
            )
        )


def _parse_day(text: str | None, lang: Language) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(msg.text(lang.value, "bad_today", text=text))


# --- list --------------------------------------------------------------------------------------


def _listing_json(item: PersonListing) -> dict[str, Any]:
    latest = item.latest_mg
    return {
        "id": item.person_id,
        "external_id": item.external_id,
        "name": item.display_name,
        "sex": item.sex,
        "birth_date": item.birth_date.isoformat() if item.birth_date else None,
        "age_years": item.age_years,
        "latest_magnesium": None
        if latest is None
        else {
            "value": latest.value,
            "unit": latest.unit,
            "mmol_l": latest.value_mmol_l,
            "effective": latest.effective,
        },
        "lab_count": item.lab_count,
        "updated_at": item.updated_at.isoformat(),
    }


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def _table(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(_pad(cell, widths[i], i in numeric) for i, cell in enumerate(row)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines) + "\n"


def _short(text: str | None, limit: int = 36) -> str:
    if not text:
        return "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sex(sex: str | None, lang: Language) -> str:
    if not sex:
        return "-"
    key = f"sex.{sex}"
    return msg.text(lang.value, key) if key in msg.MESSAGES else sex


@db_app.command("list")
def list_command(
    database: DatabaseOption = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Part of an external id or name, or a store id")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-1000)")] = 200,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many first")] = 0,
    output: FormatOption = ListFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """Stored persons with their latest serum magnesium as reported."""
    with _one_line_errors(lang, "error.list"):
        from mgcare.store.repository import list_persons

        engine = _open(database)
        try:
            persons = list_persons(engine, search=search, limit=limit, offset=offset)
        finally:
            engine.dispose()
    if output is ListFormat.json:
        _print_json([_listing_json(item) for item in persons])
        return
    if not persons:
        sys.stdout.write(msg.text(lang.value, "list.none_match" if search else "list.none") + "\n")
        return
    rows = []
    for item in persons:
        latest = item.latest_mg
        rows.append(
            [
                str(item.person_id),
                _short(item.external_id),
                _short(item.display_name, 28),
                _sex(item.sex, lang),
                "-" if item.age_years is None else str(item.age_years),
                "-" if latest is None else f"{latest.value:g} {latest.unit}",
                "-" if latest is None else latest.effective[:10],
                str(item.lab_count),
            ]
        )
    header = msg.text(lang.value, "list.header").split("|")
    sys.stdout.write(_table(header, rows, numeric={0, 4, 7}))


# --- export ------------------------------------------------------------------------------------


def _write_atomically(path: Path, text: str, lang: Language) -> None:
    """Write the whole file or nothing: a temporary file beside it, then a rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        _fail(msg.text(lang.value, "write_failed", path=path, reason=exc.strerror or exc))


@db_app.command("export")
def export_command(
    person: Annotated[str, typer.Argument(help="Store id or external (patient) id")],
    output: Annotated[
        ExportFormat, typer.Option("--format", help="fhir (R4 Bundle), csv (labs) or json")
    ] = ExportFormat.fhir,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: standard output)")
    ] = None,
    database: DatabaseOption = None,
    lang: LangOption = Language.en,
) -> None:
    """One person as a FHIR R4 collection Bundle, lab results as CSV, or mgcare JSON.
    `--format` here is the export's format; `--lang` sets the language of messages only."""
    with _one_line_errors(lang, "error.export", person=person):
        from mgcare.store import repository as repo

        engine = _open(database)
        try:
            person_id = repo.resolve_person(engine, person)
            if output is ExportFormat.fhir:
                from mgcare.knowledge import load_knowledge
                from mgcare.store.fhir_export import export_fhir

                bundle = export_fhir(engine, person_id, load_knowledge())
                text = json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"
            elif output is ExportFormat.csv:
                text = repo.export_csv(engine, person_ids=[person_id])
            else:
                text = repo.export_json(engine, person_id) + "\n"
        finally:
            engine.dispose()
    if out is None:
        sys.stdout.write(text)
    else:
        _write_atomically(out, text, lang)
        done = msg.text(lang.value, "export.done", person=person_id, format=output.value, path=out)
        sys.stdout.write(done + "\n")


# --- backup ------------------------------------------------------------------------------------


def _pg_dump(engine: Engine, target: Path, lang: Language) -> None:
    """PostgreSQL: run pg_dump (custom format, for pg_restore); the password goes through
    the environment, never the command line."""
    from mgcare.store.db import scrub_password

    executable = shutil.which("pg_dump")
    shown = engine.url.render_as_string(hide_password=True)
    if executable is None:
        _fail(msg.text(lang.value, "backup.no_pg_dump", url=shown))
    url = engine.url
    command = [executable, "--format=custom", f"--file={target}", "--no-password"]
    if url.host:
        command.append(f"--host={url.host}")
    if url.port:
        command.append(f"--port={url.port}")
    if url.username:
        command.append(f"--username={url.username}")
    options = str(url.query.get("options", ""))
    if "search_path=" in options:  # a URL pinned to one schema backs up that schema
        command.append(f"--schema={options.split('search_path=', 1)[1].split(',')[0].strip()}")
    command.append(str(url.database or ""))
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        reason = next((line for line in done.stderr.splitlines() if line.strip()), "failed")
        reason = reason.removeprefix("pg_dump: error: ")
        reason = scrub_password(reason, str(url.password) if url.password else None)
        _fail(msg.text(lang.value, "backup.pg_dump_failed", url=shown, reason=reason))


@db_app.command("backup")
def backup_command(
    path: Annotated[Path, typer.Argument(help="File to write the copy to")],
    database: DatabaseOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
    output: Annotated[
        ListFormat,
        typer.Option("--format", help="text for people; json for programs: {path, bytes, backend}"),
    ] = ListFormat.text,
    lang: LangOption = Language.en,
) -> None:
    """A consistent copy while the database is in use: SQLite's online backup, or pg_dump's
    custom format for PostgreSQL (restore with pg_restore)."""
    if path.exists() and not force:
        _fail(msg.text(lang.value, "backup.exists", path=path))
    if path.is_dir():
        _fail(msg.text(lang.value, "backup.directory", path=path))
    with _one_line_errors(lang, "error.backup", path=path):
        from mgcare.store.repository import backup, table_counts

        engine = _open(database)
        try:
            persons = table_counts(engine)["persons"]
            if engine.dialect.name == "sqlite":
                if force:
                    path.unlink(missing_ok=True)
                backup(engine, path)
            else:
                _pg_dump(engine, path, lang)
        finally:
            engine.dispose()
    size = path.stat().st_size
    backend = engine.dialect.name
    if output is ListFormat.json:
        _print_json({"path": str(path), "bytes": size, "backend": backend})
        return
    line = msg.text(
        lang.value,
        "backup.done",
        persons=msg.count(lang.value, "person", persons),
        path=path,
        kib=f"{size / 1024:.0f}",
        kind=msg.text(
            lang.value, "backup.kind_sqlite" if backend == "sqlite" else "backup.kind_pg"
        ),
    )
    sys.stdout.write(line + "\n")
