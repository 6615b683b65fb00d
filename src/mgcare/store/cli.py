"""`mgcare db ...`: inspect, import into, list, export and back up the store.

Every command takes `--database URL` (default `$MGCARE_DATABASE_URL`, else the SQLite file in
the user data directory) and brings the schema up to date on first use. Messages are English:
the web app is the bilingual surface. A locked, missing or unreachable database, a refused
value and bad input each end with one line on stderr and exit code 2, never a traceback.

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

if TYPE_CHECKING:
    from sqlalchemy import Engine

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


class ExportFormat(StrEnum):
    fhir = "fhir"
    csv = "csv"
    json = "json"


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"mgcare: {message}\n")
    raise typer.Exit(EXIT_INVALID)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Store and input failures end the command with their one-line message."""
    from mgcare.inputs import InputError
    from mgcare.store.repository import StoreError, StoreUnavailable

    try:
        yield
    except (StoreUnavailable, StoreError, InputError) as exc:
        _fail(" ".join(str(exc).split()))


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
    output: Annotated[ListFormat, typer.Option("--format", help="text or json")] = ListFormat.text,
) -> None:
    """Where the database is, which backend and schema revision, and rows per table."""
    with _one_line_errors():
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
    sys.stdout.write(f"database  {data['url']}\n")
    sys.stdout.write(f"backend   {data['backend']}\n")
    sys.stdout.write(f"revision  {data['revision']}\n")
    tables: dict[str, int] = data["tables"]  # type: ignore[assignment]
    width = max(len(name) for name in tables)
    for name, count in tables.items():
        sys.stdout.write(f"  {name:<{width}}  {count:>8}\n")


# --- import ------------------------------------------------------------------------------------


def _read_document(path: Path) -> Any:
    from mgcare.inputs import MAX_INPUT_BYTES, InputError

    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise InputError(f"file is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file") from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _added(result: ImportResult) -> str:
    parts = [
        _plural(result.labs, "lab"),
        _plural(result.medications, "medication"),
        _plural(result.conditions, "condition"),
    ]
    if result.food_log:
        parts.append(_plural(result.food_log, "food-log row"))
    if result.created:
        return ", ".join(parts)
    if not (result.labs or result.medications or result.conditions or result.food_log):
        return "already stored, nothing new"
    return "new: " + ", ".join(parts)


@db_app.command("import")
def import_command(
    files: Annotated[
        list[Path], typer.Argument(help="FHIR Bundle/resource JSON or mgcare JSON records")
    ],
    database: DatabaseOption = None,
    today: Annotated[
        str | None, typer.Option("--today", help="Date for plausibility checks (YYYY-MM-DD)")
    ] = None,
) -> None:
    """Import files; each file is stored whole or not at all. A person already stored
    (same patient id) is updated: new results appended, duplicates skipped."""
    from mgcare.inputs import InputError

    with _one_line_errors():
        from mgcare.knowledge import load_knowledge
        from mgcare.store.repository import StoreError, import_document

        day = _parse_day(today)
        knowledge = load_knowledge()
        engine = _open(database)
        failed: list[Path] = []
        try:
            for path in files:
                try:
                    document = _read_document(path)
                    result = import_document(engine, document, knowledge, day)
                except (InputError, StoreError) as exc:
                    reason = " ".join(str(exc).split())
                    sys.stderr.write(f"mgcare: {path}: {reason}\n")
                    failed.append(path)
                    continue
                verb = "imported" if result.created else "updated"
                sys.stdout.write(f"{verb} {path} → person {result.person_id} ({_added(result)})\n")
        finally:
            engine.dispose()
    if failed:
        stored = len(files) - len(failed)
        _fail(
            f"{len(failed)} of {_plural(len(files), 'file')} not imported (nothing of "
            f"{'it' if len(failed) == 1 else 'them'} was stored); {stored} imported"
        )


def _parse_day(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"--today must be a date YYYY-MM-DD, not {text!r}")


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


@db_app.command("list")
def list_command(
    database: DatabaseOption = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Part of an external id or name, or a store id")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-1000)")] = 200,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many first")] = 0,
    output: Annotated[ListFormat, typer.Option("--format", help="text or json")] = ListFormat.text,
) -> None:
    """Stored persons with their latest serum magnesium as reported."""
    with _one_line_errors():
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
        sys.stdout.write("no persons stored" + (" match" if search else "") + "\n")
        return
    rows = []
    for item in persons:
        latest = item.latest_mg
        rows.append(
            [
                str(item.person_id),
                _short(item.external_id),
                _short(item.display_name, 28),
                item.sex or "-",
                "-" if item.age_years is None else str(item.age_years),
                "-" if latest is None else f"{latest.value:g} {latest.unit}",
                "-" if latest is None else latest.effective[:10],
                str(item.lab_count),
            ]
        )
    header = ["id", "external id", "name", "sex", "age", "latest Mg", "Mg date", "labs"]
    sys.stdout.write(_table(header, rows, numeric={0, 4, 7}))


# --- export ------------------------------------------------------------------------------------


def _write_atomically(path: Path, text: str) -> None:
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
        _fail(f"cannot write {path}: {exc.strerror or exc}")


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
) -> None:
    """One person as a FHIR R4 collection Bundle, lab results as CSV, or mgcare JSON."""
    with _one_line_errors():
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
        _write_atomically(out, text)
        sys.stdout.write(f"exported person {person_id} as {output.value} to {out}\n")


# --- backup ------------------------------------------------------------------------------------


def _pg_dump(engine: Engine, target: Path) -> None:
    """PostgreSQL: run pg_dump (custom format, for pg_restore); the password goes through
    the environment, never the command line."""
    executable = shutil.which("pg_dump")
    shown = engine.url.render_as_string(hide_password=True)
    if executable is None:
        _fail(
            f"backup of PostgreSQL ({shown}) needs pg_dump, which is not on PATH; install the "
            "PostgreSQL client tools or run: pg_dump -Fc -f FILE DBNAME"
        )
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
        if url.password:
            reason = reason.replace(str(url.password), "***")
        _fail(f"pg_dump of {shown} failed: {reason.removeprefix('pg_dump: error: ')}")


@db_app.command("backup")
def backup_command(
    path: Annotated[Path, typer.Argument(help="File to write the copy to")],
    database: DatabaseOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
) -> None:
    """A consistent copy while the database is in use: SQLite's online backup, or pg_dump's
    custom format for PostgreSQL (restore with pg_restore)."""
    if path.exists() and not force:
        _fail(f"{path} exists; choose a new file or pass --force")
    if path.is_dir():
        _fail(f"{path} is a directory; give a file name")
    with _one_line_errors():
        from mgcare.store.repository import backup, table_counts

        engine = _open(database)
        try:
            persons = table_counts(engine)["persons"]
            if engine.dialect.name == "sqlite":
                if force:
                    path.unlink(missing_ok=True)
                backup(engine, path)
            else:
                _pg_dump(engine, path)
        finally:
            engine.dispose()
    size = path.stat().st_size
    sys.stdout.write(
        f"backed up {_plural(persons, 'person')} to {path} ({size / 1024:.0f} KiB, "
        f"{'pg_dump custom format' if engine.dialect.name != 'sqlite' else 'SQLite'})\n"
    )
