"""A database that is locked, missing or unreachable gives a clear 503 page, never a traceback,
and nothing is stored half-way; pages that need no database keep working."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mgcare.web.storage import RETRY_SECONDS
from tests.web.conftest import WebApp, make_web_app, submit


def lab_count(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM lab_results").fetchone()[0])


def test_locked_database_gives_503_and_stores_nothing(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    person = new_person()
    path = web.directory / "web.sqlite3"
    url = f"/app/persons/{person}/labs/new"
    form = client.get(url)
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    before = lab_count(path)
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        response = client.post(
            url,
            data={
                "analyte": "magnesium",
                "value": "0.8",
                "unit": "mmol/L",
                "effective": "2026-11-20",
                "csrf_token": token,
            },
        )
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert response.status_code == 503
    assert 'id="store-error"' in response.text
    assert "locked" in response.text
    assert "Traceback" not in response.text
    assert lab_count(path) == before
    # once the lock is gone the same form saves
    again = submit(
        client,
        url,
        {"analyte": "magnesium", "value": "0.8", "unit": "mmol/L", "effective": "2026-11-20"},
    )
    assert again.status_code == 303
    assert lab_count(path) == before + 1


@pytest.mark.slow
def test_missing_database_directory_gives_503_pages_but_evidence_works(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'gone' / 'deeper' / 'mgcare.sqlite3'}"
    web = make_web_app(tmp_path, url)
    client = TestClient(web.app, follow_redirects=False)
    for lang, words in (("en", "database"), ("zh", "数据库")):
        response = client.get("/app/", params={"lang": lang})
        assert response.status_code == 503
        assert 'id="store-error"' in response.text
        assert words in response.text
        assert "Traceback" not in response.text
    assert client.get("/app/persons/1").status_code == 503
    assert client.get("/app/evidence").status_code == 200
    assert client.get("/app/search/foods", params={"q": "spinach"}).status_code == 200
    assert client.get("/health").status_code == 200
    # the directory appears later: the app recovers without a restart
    (tmp_path / "gone" / "deeper").mkdir(parents=True)
    time.sleep(RETRY_SECONDS + 0.1)
    assert client.get("/app/").status_code == 200


@pytest.mark.slow
def test_unreachable_postgres_gives_503_without_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://mgcare:s3cret-pw@127.0.0.1:9/mgcare"
    web = make_web_app(tmp_path, url)
    client = TestClient(web.app, follow_redirects=False)
    response = client.get("/app/")
    assert response.status_code == 503
    assert 'id="store-error"' in response.text
    assert "s3cret-pw" not in response.text
    assert "127.0.0.1" in response.text
