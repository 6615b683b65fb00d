"""CDS Hooks feedback, stored in SQLite (stdlib `sqlite3`).

One request is one transaction: either every feedback item of it is stored or none is. The
file is shared safely by several workers (WAL mode, busy timeout).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mgcare.service.cds.models import FeedbackRequest

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id TEXT NOT NULL,
    card_uuid TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    accepted_suggestions TEXT,
    override_reason TEXT,
    outcome_timestamp TEXT NOT NULL,
    received_at TEXT NOT NULL
)
"""


class FeedbackStore:
    """Append-only store; `count` and `rows` exist for tests and operators."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            connection.execute(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, timeout=5.0)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=5000")
            self._local.connection = connection
        return connection

    def store(self, service_id: str, request: FeedbackRequest) -> int:
        """Store every item atomically; returns how many were stored."""
        received = datetime.now(UTC).isoformat()
        rows = [
            (
                service_id,
                item.card,
                item.outcome,
                json.dumps([s.model_dump() for s in item.acceptedSuggestions])
                if item.acceptedSuggestions
                else None,
                item.overrideReason.model_dump_json(exclude_none=True)
                if item.overrideReason
                else None,
                item.outcomeTimestamp.isoformat(),
                received,
            )
            for item in request.feedback
        ]
        connection = self._connection()
        with connection:  # one transaction: commit all or roll back all
            connection.executemany(
                "INSERT INTO feedback (service_id, card_uuid, outcome, accepted_suggestions, "
                "override_reason, outcome_timestamp, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def count(self) -> int:
        row = self._connection().execute("SELECT COUNT(*) FROM feedback").fetchone()
        return int(row[0])

    def rows(self) -> list[dict[str, Any]]:
        cursor = self._connection().execute(
            "SELECT service_id, card_uuid, outcome, accepted_suggestions, override_reason, "
            "outcome_timestamp FROM feedback ORDER BY id"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
