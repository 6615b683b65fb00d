"""`jti` replay stores: a token id is accepted once until its expiry (plus clock skew).

The memory store serves one worker process; with several uvicorn workers each process would
keep its own memory, so `run_server` switches to the SQLite store, which every worker shares.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

log = logging.getLogger("mgcare.service.security")

T = TypeVar("T")
SWEEP_EVERY = 1024
LOCK_WAIT_SECONDS = 2.0
LOCK_RETRY_SECONDS = 0.0002


class ReplayStore(Protocol):
    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """True the first time (issuer, jti) is seen before `expires_at`; False on a replay."""
        ...


class MemoryReplayStore:
    """Bounded, in-process. Past capacity the oldest entries go (and a warning is logged once),
    so the bound trades a small replay window under flood for bounded memory."""

    def __init__(self, capacity: int) -> None:
        self._capacity = max(capacity, 1)
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()
        self._inserts = 0
        self._warned = False

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        key = (issuer, jti)
        now = time.time()
        with self._lock:
            seen_until = self._seen.get(key)
            if seen_until is not None and seen_until >= now:
                return False
            self._seen[key] = expires_at
            self._inserts += 1
            if self._inserts % SWEEP_EVERY == 0:
                for stale in [k for k, until in self._seen.items() if until < now]:
                    del self._seen[stale]
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
                if not self._warned:
                    self._warned = True
                    log.warning("jti replay store is full: evicting unexpired entries")
            return True

    def __len__(self) -> int:
        return len(self._seen)


class SqliteReplayStore:
    """Shared by every worker through one SQLite file; the primary key makes the check atomic."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._inserts = 0
        self._retrying(self._create)

    def _create(self) -> None:
        connection = self._connect()
        connection.execute(
            "CREATE TABLE IF NOT EXISTS jti_seen (issuer TEXT NOT NULL, jti TEXT NOT NULL, "
            "expires_at REAL NOT NULL, PRIMARY KEY (issuer, jti))"
        )
        connection.execute("CREATE INDEX IF NOT EXISTS jti_seen_expiry ON jti_seen (expires_at)")

    def _retrying(self, action: Callable[[], T]) -> T:
        """Run `action`, retrying briefly while another worker holds the write lock."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(LOCK_RETRY_SECONDS)

    def _connect(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # timeout 0: SQLite's own busy handler sleeps in whole milliseconds; a lock here is
            # held for microseconds, so `first_use` retries after a short pause instead.
            connection = sqlite3.connect(self._path, timeout=0, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            # No fsync: after a crash, tokens seen just before it could be replayed until they
            # expire (minutes); every request avoids a disk flush.
            connection.execute("PRAGMA synchronous=OFF")
            self._local.connection = connection
        return connection

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        return self._retrying(lambda: self._first_use(issuer, jti, expires_at))

    def _first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        connection = self._connect()
        now = time.time()
        self._inserts += 1
        if self._inserts % SWEEP_EVERY == 0:
            connection.execute("DELETE FROM jti_seen WHERE expires_at < ?", (now,))
        cursor = connection.execute(
            "INSERT INTO jti_seen (issuer, jti, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at "
            "WHERE jti_seen.expires_at < ?",
            (issuer, jti, expires_at, now),
        )
        return cursor.rowcount == 1
