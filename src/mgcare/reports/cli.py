"""`mgcare report PERSON --format html|pdf`: a stored person's report, written atomically.

Imported by `mgcare.cli` at start-up, so only typer and the standard library are imported here;
the store, the assessment and WeasyPrint load inside the command.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

EXIT_INVALID_INPUT = 2


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"


class ReportLanguage(StrEnum):
    en = "en"
    zh = "zh"


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"mgcare: {' '.join(message.split())}\n")
    raise typer.Exit(EXIT_INVALID_INPUT)


def default_filename(person: str, output: ReportFormat) -> str:
    """`mgcare-report-<id>.<ext>`, with anything unsafe in a file name replaced by '_'."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", person).strip(".") or "person"
    return f"mgcare-report-{safe}.{output.value}"


def write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary file beside `target`, then rename: a failure leaves nothing."""
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)  # as open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _sqlite_file(url: str) -> Path | None:
    """The file of a sqlite:/// URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def report_command(
    person: Annotated[str, typer.Argument(help="Store id or external id of the person")],
    output: Annotated[
        ReportFormat, typer.Option("--format", help="html (self-contained page) or pdf")
    ] = ReportFormat.html,
    lang: Annotated[
        ReportLanguage, typer.Option("--lang", help="en or zh (Simplified Chinese)")
    ] = ReportLanguage.en,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="File to write (default mgcare-report-<id>.<ext> here); '-' for stdout",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Assess as of this date (YYYY-MM-DD); default today"),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database", help="Database URL (default $MGCARE_DATABASE_URL or the user store)"
        ),
    ] = None,
) -> None:
    """Write a person's report (summary, charts, findings, cited recommendations) as HTML or PDF."""
    day = date.today()
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            _fail(f"--as-of: {as_of!r} is not a date (use YYYY-MM-DD)")
    target: Path | None = None
    if out != "-":
        target = Path(out) if out else Path(default_filename(person, output))
        if target.is_dir():
            _fail(f"--out: {target} is a directory")
        if not target.parent.is_dir():
            _fail(f"--out: directory {target.parent} does not exist")

    from mgcare.diet.foods import load_food_database
    from mgcare.knowledge import load_knowledge
    from mgcare.reports.build import report_for_person
    from mgcare.reports.model import ReportError
    from mgcare.reports.render import render_html, render_pdf
    from mgcare.store import repository
    from mgcare.store.db import default_url, make_engine, masked_url

    url = database or default_url()
    sqlite_path = _sqlite_file(url)
    if sqlite_path is not None and not sqlite_path.is_file():
        _fail(
            f"no database at {sqlite_path}: import the person first (mgcare db import FILE) "
            "or give --database"
        )
    try:
        engine = make_engine(url)
        try:
            person_id = repository.resolve_person(engine, person)
            report = report_for_person(
                engine,
                person_id,
                knowledge=load_knowledge(),
                foods=load_food_database(),
                lang=lang.value,
                as_of=day,
            )
        finally:
            engine.dispose()
        data = render_pdf(report) if output is ReportFormat.pdf else render_html(report).encode()
    except (ReportError, repository.StoreError) as exc:
        _fail(str(exc))
    except repository.StoreUnavailable as exc:
        _fail(f"database unavailable ({masked_url(url)}): {exc}")
    if target is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        write_atomically(target, data)
    except OSError as exc:
        _fail(f"cannot write {target}: {exc.strerror or exc}")
    sys.stdout.write(f"{target}\n")
