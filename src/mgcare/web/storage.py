"""The web app's handle on the store: one engine, migrated once, and a clear reason when the
database cannot be used.

The service must start even when the database is locked, missing or unreachable (the API and
evidence pages do not need it), so a failed migration at start-up is remembered and retried at
most every `RETRY_SECONDS` by the pages that need the store; meanwhile they answer 503 at once.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError

from mgcare.store import default_url, make_engine, upgrade
from mgcare.store.db import StoreUnavailable, describe_failure, masked_url

log = logging.getLogger("mgcare.web")

BUSY_TIMEOUT_ENV = "MGCARE_WEB_BUSY_TIMEOUT_MS"
DEFAULT_BUSY_TIMEOUT_MS = 5000
"""How long a page waits for a SQLite lock held by another process before saying so (the
store's own 30 s suits batch imports, not a person waiting for a page)."""
RETRY_SECONDS = 2.0


def busy_timeout_ms() -> int:
    text = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    try:
        return max(0, int(text)) if text else DEFAULT_BUSY_TIMEOUT_MS
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT_MS


class WebStore:
    """Engine plus readiness. `engine()` returns a migrated engine or raises StoreUnavailable."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._ready = False
        self._reason = "the database has not been opened yet"
        self._last_attempt = float("-inf")
        self._lock = threading.Lock()
        self._attempt()

    def _attempt(self) -> None:
        self._last_attempt = time.monotonic()
        try:
            if self.url is None:
                self.url = default_url()
            if self._engine is None:
                self._engine = make_engine(self.url)
                if self._engine.dialect.name == "sqlite":
                    _shorter_busy_timeout(self._engine, busy_timeout_ms())
            upgrade(self._engine)
        except StoreUnavailable as exc:
            self._fail(str(exc))
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            self._fail(describe_failure(exc, self.url or "the default database"))
        else:
            self._ready = True
            log.info("web store ready at %s", masked_url(self.url or ""))

    def _fail(self, reason: str) -> None:
        self._reason = reason
        log.warning("web store unavailable: %s", reason)

    def engine(self) -> Engine:
        """The migrated engine; StoreUnavailable (with the last reason) while it cannot be used."""
        if self._ready and self._engine is not None:
            return self._engine
        with self._lock:
            if not self._ready and time.monotonic() - self._last_attempt >= RETRY_SECONDS:
                self._attempt()
        if not self._ready or self._engine is None:
            raise StoreUnavailable(self._reason)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _shorter_busy_timeout(engine: Engine, milliseconds: int) -> None:
    """Runs after the store's own connect hook, so this timeout is the one that applies."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
        finally:
            cursor.close()
