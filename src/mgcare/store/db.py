"""Engine construction: URL from MGCARE_DATABASE_URL or a SQLite file in the user data dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

ENV_URL = "MGCARE_DATABASE_URL"
BUSY_TIMEOUT_MS = 30_000
SQLITE_FILENAME = "mgcare.sqlite3"


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


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """An engine for `url` (default: `default_url()`). SQLite connections get WAL,
    foreign keys, a busy timeout, and write transactions that take the lock up front
    (BEGIN IMMEDIATE) so concurrent writers wait instead of failing on lock upgrade."""
    engine = create_engine(url or default_url(), echo=echo)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
