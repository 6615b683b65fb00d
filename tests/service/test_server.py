"""`run_server` as `mgcare serve` will call it: real uvicorn processes, dev banner, workers
sharing the jti replay store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mgcare.i18n import Lang
from mgcare.service.server import web_exposure_warning
from tests.service.cards_check import hook_request
from tests.service.conftest import ISS_STATIC, Keys, TokenFactory, bearer
from tests.service.live import free_port

pytestmark = pytest.mark.slow


@contextmanager
def server(workers: int, dev: bool, env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = Path(env["MGCARE_SERVICE_DB"]).with_suffix(".log")
    store = Path(env["MGCARE_SERVICE_DB"]).with_suffix(".store.sqlite3")
    env = {"MGCARE_DATABASE_URL": f"sqlite:///{store}", **env}
    code = (
        "import sys; from mgcare.service.server import run_server; "
        "run_server('127.0.0.1', int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == '1')"
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(port), str(workers), "1" if dev else "0"],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            yield base, log
        finally:
            process.terminate()
            process.wait(timeout=20)


def test_dev_mode_says_so_and_serves_the_demo(tmp_path: Path) -> None:
    env = {"MGCARE_SERVICE_DB": str(tmp_path / "dev.sqlite3")}
    with server(1, True, env) as (base, log):
        assert httpx.get(f"{base}/health").json()["auth"] == "off (dev mode)"
        demo = httpx.get(f"{base}/dev/demo", timeout=30).json()
        assert demo["cds_hooks_response"]["cards"]
        assert httpx.get(f"{base}/cds-services").status_code == 200  # no token needed
    assert "JWT verification is OFF" in log.read_text()


def test_two_workers_share_the_replay_store(
    tmp_path: Path, keys: Keys, token: TokenFactory
) -> None:
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS_STATIC, "jwks": {"keys": [keys.es_public_jwk]}}]))
    port_env = {
        "MGCARE_SERVICE_DB": str(tmp_path / "auth.sqlite3"),
        "MGCARE_SERVICE_ISSUERS_FILE": str(issuers),
    }
    with server(2, False, port_env) as (base, log):
        url = f"{base}/cds-services/mgcare-patient-view"
        body = hook_request(
            "patient-view",
            {"patientId": "p1"},
            {"patient": {"resourceType": "Patient", "id": "p1", "gender": "female"}},
        )
        assert httpx.post(url, json=body).status_code == 401
        for _ in range(8):
            once = token(url)
            with httpx.Client() as first, httpx.Client() as second:  # two connections
                assert first.post(url, json=body, headers=bearer(once)).status_code == 200
                replay = second.post(url, json=body, headers=bearer(once))
                assert replay.status_code == 401 and replay.content == b""
    assert "JWT verification is OFF" not in log.read_text()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_web_pages_beyond_loopback_get_a_warning(lang: Lang) -> None:
    assert web_exposure_warning("127.0.0.1", lang) is None
    assert web_exposure_warning("localhost", lang) is None
    warning = web_exposure_warning("0.0.0.0", lang)
    assert warning is not None and "0.0.0.0" in warning and "/app/" in warning
