"""Web app fixtures: one app per module on a fresh SQLite store, and form helpers that behave
like a browser (GET the form for its CSRF cookie and token, then POST it).

Fixtures for other web tests: `web` (a `WebApp`: the FastAPI app, its database URL and
directory), `client` (a fresh `TestClient`, so fresh cookies, per test), `submit(client, url,
data)` and `new_person(client, **fields) -> id`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from mgcare.service.app import create_app
from mgcare.service.settings import Settings

AS_OF = date(2026, 11, 25)
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class WebApp:
    app: FastAPI
    url: str
    directory: Path


def make_web_app(directory: Path, url: str | None = None, **settings: Any) -> WebApp:
    """A dev-mode service with the web app on `url` (default: a new SQLite file)."""
    url = url or f"sqlite:///{directory / 'web.sqlite3'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MGCARE_DATABASE_URL", url)
        patch.setenv("MGCARE_WEB_BUSY_TIMEOUT_MS", "200")
        app = create_app(
            Settings(
                dev=True,
                feedback_db=directory / "service.sqlite3",
                database_url=url,
                as_of=AS_OF,
                **settings,
            )
        )
    return WebApp(app, url, directory)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> WebApp:
    return make_web_app(tmp_path_factory.mktemp("web"))


@pytest.fixture
def client(web: WebApp) -> TestClient:
    """Without `with`: no lifespan, so the shared app's HTTP client stays open."""
    return TestClient(web.app, follow_redirects=False)


def submit(client: TestClient, url: str, data: dict[str, str], **headers: str) -> Response:
    """GET the form (CSRF cookie and token), then POST `data` with the token."""
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    match = TOKEN.search(page.text)
    assert match is not None, "form without a CSRF token"
    response: Response = client.post(
        url, data={**data, "csrf_token": match.group(1)}, headers=headers
    )
    return response


def person_fields(**fields: str) -> dict[str, str]:
    return {"display_name": "Li Hua", "sex": "female", "birth_date": "1958-03-14", **fields}


@pytest.fixture
def new_person(client: TestClient) -> Callable[..., int]:
    def create(**fields: str) -> int:
        response = submit(client, "/app/persons/new", person_fields(**fields))
        assert response.status_code == 303, response.text[:1000]
        location = response.headers["location"]
        match = re.fullmatch(r"/app/persons/(\d+)\?saved=person", location)
        assert match is not None, location
        return int(match.group(1))

    return create
