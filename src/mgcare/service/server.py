"""`run_server`: what `mgcare serve` calls. Uvicorn with the app factory, so each worker
process builds its own app from the same `MGCARE_SERVICE_*` environment."""

from __future__ import annotations

import copy
import os
import sys
from typing import Any

import uvicorn

from mgcare.service.app import DEV_BANNER
from mgcare.service.settings import Settings


def log_config() -> dict[str, Any]:
    """Uvicorn's logging, plus the `mgcare` loggers at INFO on stderr."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["mgcare"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


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


def run_server(host: str, port: int, workers: int, dev: bool) -> None:
    """Serve until interrupted. `dev` turns JWT verification off and says so loudly. With more
    than one worker the `jti` replay store moves to SQLite so that every worker shares it.
    Raises SettingsError (one-line message) for a bad `MGCARE_SERVICE_*` configuration and
    StoreUnavailable for a store that cannot be opened."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    os.environ["MGCARE_SERVICE_DEV"] = "1" if dev else "0"
    if workers > 1 and "MGCARE_SERVICE_REPLAY_STORE" not in os.environ:
        os.environ["MGCARE_SERVICE_REPLAY_STORE"] = "sqlite"
    settings = Settings.from_env()  # fail fast (SettingsError, one line) before any worker starts
    _check_store(settings.store_url())
    if dev:
        sys.stderr.write(DEV_BANNER + "\n")
        sys.stderr.write(f"Try: curl http://{host}:{port}/dev/demo\n")
    uvicorn.run(
        "mgcare.service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config(),
        proxy_headers=False,
        server_header=False,
    )
