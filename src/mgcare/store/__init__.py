"""Persistent store: SQLAlchemy 2 models, Alembic migrations and a typed repository.

SQLite (WAL) in the user data directory by default; PostgreSQL through MGCARE_DATABASE_URL.
"""

from __future__ import annotations

from mgcare.store.db import default_url, make_engine
from mgcare.store.migrations import upgrade

__all__ = ["default_url", "make_engine", "upgrade"]
