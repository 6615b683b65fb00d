"""`run_server`: what `mgcare serve` calls. Uvicorn with the app factory, so each worker
process builds its own app from the same `MGCARE_SERVICE_*` environment.

`mgcare serve --lang` becomes `MGCARE_SERVICE_LANG` (the default language of CDS cards and REST
answers) and `--format json` announces the server as one JSON line on stdout, with uvicorn's
access log moved to stderr so that stdout stays machine-readable."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
from typing import Any, Literal

import uvicorn

from mgcare.i18n import L, Lang
from mgcare.service.app import DEV_BANNER
from mgcare.service.settings import ENV_PREFIX, Settings

TEXT: dict[str, L] = {
    "try": L("Try: curl {url}", "试试：curl {url}"),
    "failed": L("{reason}", "无法启动服务：{reason}"),
    "open_web": L(
        "WARNING: the web pages at /app/ have no login and {host} is reachable from other "
        "machines; put an authenticating reverse proxy in front before storing real patient data.",
        "警告：/app/ 网页没有登录验证，且 {host} 可被其他计算机访问；存储真实患者数据前，"
        "请在前面部署带身份验证的反向代理。",
    ),
}

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def failure_line(reason: BaseException, lang: Lang) -> str:
    """The one line `mgcare serve` prints when it cannot start: the lower layer's English
    reason, behind a Chinese lead-in for `zh` (exception texts are not translated)."""
    return TEXT["failed"].get(lang).format(reason=" ".join(str(reason).split()))


def log_config(access_to_stderr: bool = False) -> dict[str, Any]:
    """Uvicorn's logging, plus the `mgcare` loggers at INFO on stderr; the access log too
    when stdout is kept for the JSON announcement."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["mgcare"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    if access_to_stderr:
        config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return config


def announcement(host: str, port: int, workers: int, settings: Settings) -> dict[str, Any]:
    """What `mgcare serve --format json` prints: where to connect and how it is configured."""
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    urls = {
        "base": base,
        "web_app": f"{base}/app/",
        "api": f"{base}/api/v1",
        "cds_discovery": f"{base}/cds-services",
        "health": f"{base}/health",
        "docs": f"{base}/docs",
    }
    if settings.dev:
        urls["dev_demo"] = f"{base}/dev/demo"
    return {
        "host": host,
        "port": port,
        "workers": workers,
        "dev": settings.dev,
        "lang": settings.lang,
        "public_url": settings.public_base_url,
        "urls": urls,
    }


def _check_store(url: str) -> None:
    """Open (and migrate) the store once here, so a bad MGCARE_DATABASE_URL or a locked file is
    one line (StoreUnavailable) instead of a traceback from every worker."""
    from mgcare.store.db import make_engine
    from mgcare.store.repository import ensure_schema

    engine = make_engine(url)
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()


def web_exposure_warning(host: str, lang: Lang) -> str | None:
    """The web pages have no login of their own: say so when they listen beyond loopback."""
    if host in LOOPBACK_HOSTS or importlib.util.find_spec("jinja2") is None:
        return None
    return TEXT["open_web"].get(lang).format(host=host)


def run_server(
    host: str,
    port: int,
    workers: int,
    dev: bool,
    lang: Lang | None = None,
    output: Literal["text", "json"] = "text",
) -> None:
    """Serve until interrupted. `dev` turns JWT verification off and says so loudly. With more
    than one worker the `jti` replay store moves to SQLite so that every worker shares it.
    `lang` (None: keep `MGCARE_SERVICE_LANG`) is the service's default language; `output`
    "json" prints one JSON line on stdout once the configuration is checked (before the
    socket is bound). Raises SettingsError (one-line message) for a bad `MGCARE_SERVICE_*`
    configuration and StoreUnavailable for a store that cannot be opened."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    os.environ["MGCARE_SERVICE_DEV"] = "1" if dev else "0"
    if lang is not None:
        os.environ[f"{ENV_PREFIX}LANG"] = lang
    if workers > 1 and "MGCARE_SERVICE_REPLAY_STORE" not in os.environ:
        os.environ["MGCARE_SERVICE_REPLAY_STORE"] = "sqlite"
    settings = Settings.from_env()  # fail fast (SettingsError, one line) before any worker starts
    _check_store(settings.store_url())
    if dev:  # the warning goes to stderr whatever the format
        sys.stderr.write(DEV_BANNER + "\n")
        if output == "text":
            url = f"http://{host}:{port}/dev/demo"
            sys.stderr.write(TEXT["try"].get(settings.lang).format(url=url) + "\n")
    warning = web_exposure_warning(host, settings.lang)
    if warning is not None:
        sys.stderr.write(warning + "\n")
    if output == "json":
        sys.stdout.write(json.dumps(announcement(host, port, workers, settings)) + "\n")
        sys.stdout.flush()
    uvicorn.run(
        "mgcare.service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(access_to_stderr=output == "json"),
        proxy_headers=False,
        server_header=False,
    )
