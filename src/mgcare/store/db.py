"""Engine construction: URL from MGCARE_DATABASE_URL or a SQLite file in the user data dir.

Also the one place that turns a driver failure (locked, missing, unreachable) into one clear
line that never shows a password.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

ENV_URL = "MGCARE_DATABASE_URL"
BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10
SQLITE_FILENAME = "mgcare.sqlite3"


class StoreUnavailable(RuntimeError):
    """The database is locked, missing or unreachable; message is one clear line."""


def default_url() -> str:
    """MGCARE_DATABASE_URL if set, else a SQLite file in platformdirs' user data directory."""
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return url
    from platformdirs import user_data_dir

    directory = Path(user_data_dir("mgcare", appauthor=False))
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / SQLITE_FILENAME}"


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, safe for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def make_engine(
    url: str | None = None, *, echo: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> Engine:
    """An engine for `url` (default: `default_url()`). SQLite connections get WAL,
    foreign keys, a busy timeout, and write transactions that take the lock up front
    (BEGIN IMMEDIATE) so concurrent writers wait instead of failing on lock upgrade.
    Server databases get a connect timeout (a server that is gone fails fast) and a
    liveness check on checkout (a restarted server does not break a long-running service)."""
    chosen = url or default_url()
    try:
        parsed = make_url(chosen)
        if parsed.drivername == "postgresql":  # psycopg 3 is the driver mgcare ships with
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "postgresql":
            engine = create_engine(
                parsed,
                echo=echo,
                pool_pre_ping=True,
                connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
            )
        else:
            engine = create_engine(parsed, echo=echo)
    except (ArgumentError, NoSuchModuleError, ModuleNotFoundError):
        raise StoreUnavailable(
            f"not a usable database URL: {masked_url(chosen)} (expected "
            "sqlite:///path/mgcare.sqlite3 or postgresql+psycopg://user:password@host/db)"
        ) from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_LOCKED = ("database is locked", "database table is locked", "lock timeout", "lock_timeout")
_NO_SCHEMA = ("no such table", "does not exist")


def describe_failure(exc: BaseException, url: str) -> str:
    """One line for a database that is locked, missing, damaged or unreachable. The driver's
    text is reduced to its first line and scrubbed of the URL's password. The driver's words are
    read before the scrub (a short password such as "i" would otherwise mangle "connection" and
    "failed:"), and a word that lies wholly inside the password is not the driver's (a password
    "MALFORMED" must not make the database look damaged); only fixed sentences or scrubbed
    driver text reach the message."""
    shown = masked_url(url)
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    text = lines[0] if lines else type(original).__name__
    try:
        secret = make_url(url).password
    except ArgumentError:
        secret = None
    password = str(secret) if secret else ""
    spans = _password_spans(text, password)

    def says(*markers: str) -> bool:
        return any(_driver_says(text, marker, spans) for marker in markers)

    if says(*_LOCKED):
        return "database is locked by another process; try again"
    if says("deadlock detected"):
        return "database is busy (a concurrent transaction conflicted); try again"
    if says("unable to open database file"):
        return (
            f"cannot open the database at {shown}: the file or its directory is missing "
            "or not writable"
        )
    if says("file is not a database"):
        return f"the file at {shown} is not an SQLite database"
    if says("malformed"):
        return f"the database at {shown} is damaged ({scrub_password(text, password)})"
    if says(*_NO_SCHEMA) and says("table", "relation"):
        return (
            f"the database at {shown} has no mgcare tables; "
            "run `mgcare db info --database URL` once to create them"
        )
    if says("connection refused"):
        return f"cannot reach the database at {shown}: connection refused"
    if says("timeout expired", "timed out"):
        return f"cannot reach the database at {shown}: connection timed out"
    if says("server closed the connection", "connection is closed"):
        return f"lost the connection to the database at {shown}; try again"
    reason = _driver_reason(text, spans)
    return f"cannot use the database at {shown}: {scrub_password(reason, password)}"


def _password_spans(text: str, password: str) -> list[tuple[int, int]]:
    """Where the password occurs in `text` (overlapping occurrences included)."""
    spans: list[tuple[int, int]] = []
    if password:
        start = text.find(password)
        while start >= 0:
            spans.append((start, start + len(password)))
            start = text.find(password, start + 1)
    return spans


def _driver_says(text: str, marker: str, spans: list[tuple[int, int]]) -> bool:
    """Whether `marker` occurs in `text` (any case) as the driver's word, not the password's."""
    return any(
        _drivers_own(found.start(), found.end(), spans)
        for found in re.finditer(re.escape(marker), text, flags=re.IGNORECASE)
    )


def _drivers_own(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """Whether text[start:end] has a character outside every password occurrence: only then
    did the driver write it."""
    return any(
        not any(first <= index < last for first, last in spans) for index in range(start, end)
    )


def _driver_reason(text: str, spans: list[tuple[int, int]]) -> str:
    """psycopg's 'connection to server at "h", port p failed: reason' -> 'reason'. The cut is the
    last "failed:" the driver wrote (not one inside the password) and does not fall inside an
    occurrence of the password, so no piece of the password is left that the scrub cannot
    recognise."""
    marker = "failed:"
    cut = text.rfind(marker)
    while cut >= 0:
        end = cut + len(marker)
        if _drivers_own(cut, end, spans) and not any(first < end < last for first, last in spans):
            return text[end:].strip()
        cut = text.rfind(marker, 0, cut)
    return text


def scrub_password(text: str, password: str | None) -> str:
    """`text` with every occurrence of `password` replaced by ***. Scrub last, after any reading
    or cutting of the driver's words: a short password also occurs inside ordinary words."""
    return text.replace(password, "***") if password else text
