"""CDS Hooks feedback, stored in the mgcare store (`cds_feedback`, audited like every write).

One request is one transaction: either every feedback item of it is stored or none is. The
database is the store's (`Settings.database_url`: MGCARE_DATABASE_URL, else the SQLite file in
the user data directory), shared safely by several workers. A database that is down gives the
client a 503 with one line, never a 500; the service still starts, and retries on the next call.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import HTTPException

from mgcare.service.cds.models import FeedbackRequest
from mgcare.store import make_engine
from mgcare.store import repository as repo
from mgcare.store.schema import FeedbackRow

log = logging.getLogger("mgcare.service")
RETRY_AFTER_SECONDS = "5"


class FeedbackStore:
    """Append-only; `count` and `rows` exist for tests and operators."""

    def __init__(self, url: str) -> None:
        self._engine = make_engine(url)
        self._ready = False
        self._lock = threading.Lock()
        try:
            self._ensure_schema()
        except repo.StoreUnavailable as exc:
            log.warning("feedback store not ready yet (%s); will retry on the first feedback", exc)

    def _ensure_schema(self) -> None:
        with self._lock:
            if not self._ready:
                repo.ensure_schema(self._engine)
                self._ready = True

    def store(self, service_id: str, request: FeedbackRequest) -> int:
        """Store every item atomically; returns how many were stored."""
        items = [
            (
                item.card,
                item.outcome,
                {
                    "acceptedSuggestions": [
                        s.model_dump(mode="json") for s in item.acceptedSuggestions
                    ]
                    if item.acceptedSuggestions
                    else None,
                    "overrideReason": item.overrideReason.model_dump(mode="json", exclude_none=True)
                    if item.overrideReason
                    else None,
                    "outcomeTimestamp": item.outcomeTimestamp.isoformat(),
                },
            )
            for item in request.feedback
        ]
        try:
            self._ensure_schema()
            return len(repo.save_feedback_many(self._engine, service_id, items))
        except repo.StoreUnavailable as exc:
            log.warning("feedback not stored: %s", exc)
            raise HTTPException(
                status_code=503,
                detail=f"feedback not stored: {exc}",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            ) from None
        except repo.StoreError as exc:
            raise HTTPException(status_code=400, detail=f"feedback not stored: {exc}") from None

    def count(self) -> int:
        return repo.count_rows(self._engine, FeedbackRow)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "service_id": row.service_id,
                "card_uuid": row.card_id,
                "outcome": row.outcome,
                "accepted_suggestions": row.data.get("acceptedSuggestions"),
                "override_reason": row.data.get("overrideReason"),
                "outcome_timestamp": row.data.get("outcomeTimestamp"),
            }
            for row in repo.feedback_rows(self._engine)
        ]

    def close(self) -> None:
        self._engine.dispose()
