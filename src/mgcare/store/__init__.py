"""Persistent store: SQLAlchemy 2 models, Alembic migrations and a typed repository.

SQLite (WAL) in the user data directory by default; PostgreSQL through MGCARE_DATABASE_URL.
The names below load lazily: `mgcare.store.cli` lives in this package, and `mgcare --help`
must not pay for importing SQLAlchemy and Alembic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mgcare.store.db import default_url, make_engine
    from mgcare.store.migrations import upgrade

__all__ = ["default_url", "make_engine", "upgrade"]


def __getattr__(name: str) -> Any:
    if name in ("default_url", "make_engine"):
        from mgcare.store import db

        return getattr(db, name)
    if name == "upgrade":
        from mgcare.store.migrations import upgrade

        return upgrade
    raise AttributeError(f"module 'mgcare.store' has no attribute {name!r}")
