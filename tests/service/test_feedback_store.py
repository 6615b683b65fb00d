"""CDS Hooks feedback goes into the mgcare store: audited, all-or-nothing, and a database
that is down gives the client a 503 with one line (the service itself still starts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import HTTPException

from mgcare.service.cds.models import FeedbackRequest
from mgcare.service.feedback import FeedbackStore
from mgcare.service.settings import Settings
from mgcare.store import make_engine
from mgcare.store import repository as repo
from mgcare.store.schema import AuditRow

BODY = {
    "feedback": [
        {
            "card": "card-1",
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "s-1"}],
            "outcomeTimestamp": "2026-11-25T08:00:00Z",
        },
        {
            "card": "card-2",
            "outcome": "overridden",
            "overrideReason": {"userComment": "已补镁 / already replaced"},
            "outcomeTimestamp": "2026-11-25T08:01:00+08:00",
        },
    ]
}


def test_feedback_is_stored_and_audited(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = FeedbackStore(url)
    try:
        assert store.store("mgcare-patient-view", FeedbackRequest.model_validate(BODY)) == 2
        assert store.count() == 2
        rows = store.rows()
    finally:
        store.close()
    assert rows == [
        {
            "service_id": "mgcare-patient-view",
            "card_uuid": "card-1",
            "outcome": "accepted",
            "accepted_suggestions": [{"id": "s-1"}],
            "override_reason": None,
            "outcome_timestamp": "2026-11-25T08:00:00+00:00",
        },
        {
            "service_id": "mgcare-patient-view",
            "card_uuid": "card-2",
            "outcome": "overridden",
            "accepted_suggestions": None,
            "override_reason": {"userComment": "已补镁 / already replaced"},
            "outcome_timestamp": "2026-11-25T08:01:00+08:00",
        },
    ]
    engine = make_engine(url)
    try:
        audit = repo.audit_log(engine)
        assert [(r.action, r.entity) for r in audit] == [("create", "cds_feedback")] * 2
        assert repo.count_rows(engine, AuditRow) == 2
    finally:
        engine.dispose()


def test_database_down_is_a_503_and_the_service_still_starts() -> None:
    store = FeedbackStore("postgresql+psycopg://svc:topsecret@127.0.0.1:1/mgcare")  # no raise
    with pytest.raises(HTTPException) as caught:
        store.store("mgcare-patient-view", FeedbackRequest.model_validate(BODY))
    assert caught.value.status_code == 503
    assert caught.value.headers == {"Retry-After": "5"}
    detail = str(caught.value.detail)
    assert detail == (
        "feedback not stored: cannot reach the database at "
        "postgresql+psycopg://svc:***@127.0.0.1:1/mgcare: connection refused"
    )
    store.close()


def test_settings_database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings.from_env({"MGCARE_DATABASE_URL": " sqlite:///x.db "})
    assert settings.database_url == "sqlite:///x.db" and settings.store_url() == "sqlite:///x.db"
    monkeypatch.delenv("MGCARE_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    default = Settings.from_env({})
    assert default.database_url is None
    assert default.store_url() == f"sqlite:///{tmp_path / 'mgcare' / 'mgcare.sqlite3'}"
