"""Real headless Chromium against the real `mgcare serve --dev` process (issue 5 browser flows).

One server and one browser per module; a fresh browser context (cookies, profile) per test.
Every page opened through the `page` fixture is watched: console errors, uncaught page errors,
failed requests, requests leaving the server (no CDN) and unexpected HTTP errors fail the test.

Chromium missing: the tests skip, or FAIL when `CI` or `MGCARE_REQUIRE_BROWSER=1` is set, so a
CI machine without a browser cannot pass silently.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response

CHROMIUM = Path(os.environ.get("MGCARE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # otherwise Chromium floods a closed network
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SERVER_START_SECONDS = 90
TIMEOUT_MS = 15_000
# Chromium logs every HTTP error response as a console error; those are judged by status instead.
RESOURCE_STATUS = re.compile(
    r"Failed to load resource: the server responded with a status of (\d+)"
)


def browser_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("MGCARE_REQUIRE_BROWSER") == "1"


def need_browser() -> None:
    """Skip (or fail, where a browser is required) when Chromium or Playwright is missing."""
    problem = None
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        problem = (
            f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set MGCARE_CHROMIUM)"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Python Playwright is not installed (pip install -e '.[dev]')"
    if problem is None:
        return
    if browser_required():
        pytest.fail(f"browser tests are required here (CI / MGCARE_REQUIRE_BROWSER=1): {problem}")
    pytest.skip(problem)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    base: str
    database: Path
    log: Path

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`mgcare serve --dev` in a subprocess with its own SQLite file and an isolated HOME."""
    need_browser()
    tmp = tmp_path_factory.mktemp("web")
    home = tmp / "home"
    home.mkdir()
    database = tmp / "web.sqlite3"
    port = free_port()
    env = {
        **os.environ,
        "MGCARE_DATABASE_URL": f"sqlite:///{database}",
        "MGCARE_SERVICE_DB": str(tmp / "service.sqlite3"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp / "server.log"
    command = [sys.executable, "-m", "mgcare.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--dev"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None:
                    pytest.fail(f"mgcare serve exited early:\n{log.read_text(errors='replace')}")
                if time.monotonic() > deadline:
                    pytest.fail(f"mgcare serve did not answer /health:\n{log.read_text()}")
                time.sleep(0.1)
            yield Server(base, database, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Debian Chromium per module."""
    need_browser()
    from playwright.sync_api import sync_playwright

    downloads = tmp_path_factory.mktemp("downloads")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            downloads_path=str(downloads),
        )
        try:
            yield instance
        finally:
            instance.close()


@dataclass
class Watch:
    """Everything that went wrong in the browser during one test."""

    base: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    http_errors: list[tuple[int, str, str]] = field(default_factory=list)
    allowed_status: set[int] = field(default_factory=set)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not RESOURCE_STATUS.search(message.text):
            self.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def on_request(self, request: Request) -> None:
        if not request.url.startswith((self.base, "data:", "blob:", "about:")):
            self.foreign_requests.append(request.url)

    def on_request_failed(self, request: Request) -> None:
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.http_errors.append((response.status, response.request.method, response.url))

    def problems(self) -> list[str]:
        found = [f"console error: {text}" for text in self.console_errors]
        found += [f"page error: {text}" for text in self.page_errors]
        found += [f"failed request: {text}" for text in self.failed_requests]
        found += [f"request outside the app (CDN?): {url}" for url in self.foreign_requests]
        found += [
            f"HTTP {status} for {method} {url}"
            for status, method, url in self.http_errors
            if status not in self.allowed_status
        ]
        return found


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    """A fresh context per test: no cookies, English browser (Accept-Language en-US)."""
    instance = browser.new_context(
        base_url=server.base,
        locale="en-US",
        accept_downloads=True,
        viewport={"width": 1200, "height": 900},
    )
    instance.set_default_timeout(TIMEOUT_MS)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def watch(server: Server) -> Watch:
    return Watch(server.base)


@pytest.fixture
def page(context: BrowserContext, watch: Watch, server: Server) -> Iterator[Page]:
    """A page whose console, errors and requests are checked when the test ends."""
    instance = context.new_page()
    instance.on("console", watch.on_console)
    instance.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    instance.on("request", watch.on_request)
    instance.on("requestfailed", watch.on_request_failed)
    instance.on("response", watch.on_response)
    yield instance
    problems = watch.problems()
    if problems:
        tail = server.log.read_text(errors="replace")[-3000:]
        pytest.fail(
            "browser saw problems:\n  " + "\n  ".join(problems) + f"\nserver log tail:\n{tail}"
        )
