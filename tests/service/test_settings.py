"""Configuration from the environment, and the jti replay stores (no server needed)."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import pytest

from mgcare.service.security.replay import MemoryReplayStore, SqliteReplayStore
from mgcare.service.settings import Settings, SettingsError, TrustedIssuer


def test_defaults_have_auth_on() -> None:
    settings = Settings.from_env({})
    assert settings.auth_enabled and not settings.dev
    assert settings.trusted_issuers == ()
    assert settings.lang == "en"


def test_from_env(tmp_path: Path) -> None:
    issuers = tmp_path / "issuers.json"
    issuers.write_text(
        json.dumps(
            [
                {"iss": "https://ehr/", "jwks_url": "https://ehr/jwks"},
                {"iss": "https://b/", "jwks": {"keys": []}, "jku_allowlist": ["https://b/k"]},
            ]
        )
    )
    settings = Settings.from_env(
        {
            "MGCARE_SERVICE_DEV": "1",
            "MGCARE_SERVICE_LANG": "zh",
            "MGCARE_SERVICE_AS_OF": "2026-11-25",
            "MGCARE_SERVICE_PUBLIC_URL": "https://cds.example.org/",
            "MGCARE_SERVICE_ISSUERS_FILE": str(issuers),
            "MGCARE_SERVICE_CORS_ORIGINS": "https://a.example, https://b.example",
            "MGCARE_SERVICE_MAX_BODY": "2048",
            "MGCARE_SERVICE_DB": str(tmp_path / "x.sqlite3"),
        }
    )
    assert settings.dev and settings.lang == "zh"
    assert settings.as_of == date(2026, 11, 25)
    assert settings.public_base_url == "https://cds.example.org"
    assert [i.iss for i in settings.trusted_issuers] == ["https://ehr/", "https://b/"]
    assert settings.trusted_issuers[1].jku_allowlist == ("https://b/k",)
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.max_body_bytes == 2048


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"MGCARE_SERVICE_LANG": "fr"}, "LANG"),
        ({"MGCARE_SERVICE_AS_OF": "yesterday"}, "AS_OF"),
        ({"MGCARE_SERVICE_MAX_BODY": "lots"}, "MAX_BODY"),
        ({"MGCARE_SERVICE_REPLAY_STORE": "redis"}, "REPLAY_STORE"),
        ({"MGCARE_SERVICE_ISSUERS_FILE": "/nonexistent/issuers.json"}, "ISSUERS_FILE"),
        ({"MGCARE_SERVICE_PUBLIC_URL": "cds.example.org"}, "public_base_url"),
    ],
)
def test_bad_configuration_is_one_line(env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_issuer_needs_keys() -> None:
    with pytest.raises(SettingsError):
        TrustedIssuer("https://ehr/")


def test_memory_replay_store() -> None:
    store = MemoryReplayStore(capacity=3)
    later = time.time() + 60
    assert store.first_use("i", "a", later)
    assert not store.first_use("i", "a", later)
    assert store.first_use("other", "a", later)  # per issuer
    assert store.first_use("i", "expired", time.time() - 1)
    assert store.first_use("i", "expired", later)  # an expired entry may be seen again
    for jti in "bcdef":
        store.first_use("i", jti, later)
    assert len(store) == 3  # bounded


def test_sqlite_replay_store_is_shared(tmp_path: Path) -> None:
    """Two stores on one file behave as two workers sharing the replay state."""
    path = tmp_path / "replay.sqlite3"
    first, second = SqliteReplayStore(path), SqliteReplayStore(path)
    later = time.time() + 60
    assert first.first_use("i", "token-1", later)
    assert not second.first_use("i", "token-1", later)
    assert second.first_use("i", "token-2", later)
    assert not first.first_use("i", "token-2", later)
