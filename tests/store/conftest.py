"""Store fixtures: every store test runs on SQLite and, when a server is given, PostgreSQL.

`MGCARE_TEST_POSTGRES_URL` names the server (CI exports it); without it the PostgreSQL
variants skip, unless `MGCARE_REQUIRE_POSTGRES=1`, which turns a missing or unreachable
server into a failure. Each PostgreSQL test gets its own schema (through libpq's
`options=-csearch_path=...` in the URL, so subprocesses given the URL land there too) and
drops it afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from mgcare.store import make_engine, upgrade
from mgcare.store.db import sqlite_url

POSTGRES_ENV = "MGCARE_TEST_POSTGRES_URL"
REQUIRE_ENV = "MGCARE_REQUIRE_POSTGRES"
BACKENDS = ("sqlite", "postgresql")


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL required ({REQUIRE_ENV}=1) but {reason}", pytrace=False)
    pytest.skip(reason)


def postgres_schema_url(base: str, schema: str) -> str:
    """`base` with every connection's search_path set to `schema`."""
    url = make_url(base)
    options = quote(f"-csearch_path={schema}")
    rendered = url.render_as_string(hide_password=False)
    return f"{rendered}{'&' if url.query else '?'}options={options}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty schema on the test server; dropped after the test."""
    base = os.environ.get(POSTGRES_ENV, "").strip()
    if not base:
        _unavailable(f"{POSTGRES_ENV} is not set")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        _unavailable(f"cannot reach PostgreSQL at {POSTGRES_ENV}: {str(exc).splitlines()[0]}")
    try:
        yield postgres_schema_url(base, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend (not migrated)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "mgcare.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database on each backend."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database, for tests of SQLite-only behaviour (pragmas, backup)."""
    engine = make_engine(sqlite_url(tmp_path / "mgcare.sqlite3"))
    upgrade(engine)
    yield engine
    engine.dispose()
