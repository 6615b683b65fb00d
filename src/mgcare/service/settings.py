"""Service configuration: one frozen dataclass, read once from the environment at start-up.

A plain dataclass (no pydantic-settings dependency) because uvicorn workers are separate
processes: `run_server` passes the few CLI switches through `MGCARE_SERVICE_*` variables and each
worker rebuilds the same `Settings` with `Settings.from_env()`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from mgcare.i18n import Lang

ENV_PREFIX = "MGCARE_SERVICE_"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class SettingsError(ValueError):
    """A configuration value cannot be used; the message names the variable."""


@dataclass(frozen=True)
class TrustedIssuer:
    """One CDS Client the service trusts: its `iss`, and where its public keys come from.

    Keys come from `jwks` (a JWK Set given in configuration), else from `jwks_url`. A token's
    `jku` header is honoured only if it is in `jku_allowlist` (exact match)."""

    iss: str
    jwks_url: str | None = None
    jwks: Mapping[str, Any] | None = None
    jku_allowlist: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.iss:
            raise SettingsError("trusted issuer: `iss` must not be empty")
        if self.jwks is None and self.jwks_url is None and not self.jku_allowlist:
            raise SettingsError(f"trusted issuer {self.iss}: give jwks, jwks_url or jku_allowlist")


@dataclass(frozen=True)
class Settings:
    """Everything the service reads at start-up; never changed while it runs."""

    dev: bool = False
    lang: Lang = "en"
    as_of: date | None = None
    public_base_url: str | None = None
    trusted_issuers: tuple[TrustedIssuer, ...] = ()
    clock_skew_seconds: int = 30
    max_token_lifetime_seconds: int = 3600
    replay_store: Literal["memory", "sqlite"] = "memory"
    replay_capacity: int = 200_000
    feedback_db: Path = field(default_factory=lambda: default_data_dir() / "mgcare-service.sqlite3")
    """SQLite file of the `jti` replay store when several workers share it."""
    database_url: str | None = None
    """The mgcare store (CDS Hooks feedback, persons): MGCARE_DATABASE_URL; None means the
    store's default, the SQLite file in the user data directory."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cors_origins: tuple[str, ...] = ("*",)
    fhir_timeout_seconds: float = 3.0
    fhir_total_seconds: float = 6.0
    fhir_max_pages: int = 5
    fhir_max_resources: int = 2000
    fhir_server_allowlist: tuple[str, ...] = ()
    jwks_cache_seconds: float = 300.0
    jwks_refresh_min_seconds: float = 30.0
    parse_cache_size: int = 4096
    site_config: Path | None = None

    def __post_init__(self) -> None:
        if self.lang not in ("en", "zh"):
            raise SettingsError(f"lang must be en or zh, not {self.lang!r}")
        if self.max_body_bytes < 1024:
            raise SettingsError("max_body_bytes must be at least 1024")
        if self.public_base_url is not None and not self.public_base_url.startswith(
            ("http://", "https://")
        ):
            raise SettingsError("public_base_url must start with http:// or https://")

    @property
    def auth_enabled(self) -> bool:
        return not self.dev

    def store_url(self) -> str:
        """The store's URL: `database_url`, else the store's default (resolved when asked,
        so building Settings never creates a directory)."""
        if self.database_url:
            return self.database_url
        from mgcare.store.db import default_url

        return default_url()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build from `MGCARE_SERVICE_*` variables (see the README service section)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value not in (None, "") else None

        def number(name: str, default: float) -> float:
            text = get(name)
            if text is None:
                return default
            try:
                return float(text)
            except ValueError:
                raise SettingsError(f"{ENV_PREFIX}{name}: {text!r} is not a number") from None

        def words(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
            text = get(name)
            if text is None:
                return default
            return tuple(part.strip() for part in text.split(",") if part.strip())

        as_of_text = get("AS_OF")
        try:
            as_of = date.fromisoformat(as_of_text) if as_of_text else None
        except ValueError:
            raise SettingsError(f"{ENV_PREFIX}AS_OF: {as_of_text!r} is not YYYY-MM-DD") from None
        lang = get("LANG") or "en"
        if lang not in ("en", "zh"):
            raise SettingsError(f"{ENV_PREFIX}LANG must be en or zh, not {lang!r}")
        replay = get("REPLAY_STORE") or "memory"
        if replay not in ("memory", "sqlite"):
            raise SettingsError(f"{ENV_PREFIX}REPLAY_STORE must be memory or sqlite")
        issuers_file = get("ISSUERS_FILE")
        site = env.get("MGCARE_SITE_CONFIG")
        defaults = cls()
        return cls(
            dev=(get("DEV") or "0").lower() in ("1", "true", "yes"),
            lang=lang,  # type: ignore[arg-type]
            as_of=as_of,
            public_base_url=(get("PUBLIC_URL") or "").rstrip("/") or None,
            trusted_issuers=load_issuers(Path(issuers_file)) if issuers_file else (),
            clock_skew_seconds=int(number("CLOCK_SKEW", defaults.clock_skew_seconds)),
            max_token_lifetime_seconds=int(
                number("MAX_TOKEN_LIFETIME", defaults.max_token_lifetime_seconds)
            ),
            replay_store=replay,  # type: ignore[arg-type]
            replay_capacity=int(number("REPLAY_CAPACITY", defaults.replay_capacity)),
            feedback_db=Path(get("DB") or defaults.feedback_db),
            database_url=(env.get("MGCARE_DATABASE_URL") or "").strip() or None,
            max_body_bytes=int(number("MAX_BODY", defaults.max_body_bytes)),
            cors_origins=words("CORS_ORIGINS", defaults.cors_origins),
            fhir_timeout_seconds=number("FHIR_TIMEOUT", defaults.fhir_timeout_seconds),
            fhir_total_seconds=number("FHIR_BUDGET", defaults.fhir_total_seconds),
            fhir_max_pages=int(number("FHIR_MAX_PAGES", defaults.fhir_max_pages)),
            fhir_server_allowlist=words("FHIR_ALLOWLIST", ()),
            parse_cache_size=int(number("PARSE_CACHE", defaults.parse_cache_size)),
            site_config=Path(site) if site else None,
        )


def load_issuers(path: Path) -> tuple[TrustedIssuer, ...]:
    """Trusted issuers from a JSON file: a list of {iss, jwks_url?, jwks?, jku_allowlist?}."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SettingsError(f"{ENV_PREFIX}ISSUERS_FILE {path}: {exc}") from None
    if not isinstance(document, list):
        raise SettingsError(f"{path}: must be a JSON list of issuers")
    issuers = []
    for index, item in enumerate(document):
        if not isinstance(item, dict) or not isinstance(item.get("iss"), str):
            raise SettingsError(f"{path}: issuer [{index}] needs a string `iss`")
        jwks = item.get("jwks")
        if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
            raise SettingsError(f"{path}: issuer [{index}] `jwks` must be a JWK Set")
        allow = item.get("jku_allowlist", [])
        if not isinstance(allow, list) or not all(isinstance(u, str) for u in allow):
            raise SettingsError(f"{path}: issuer [{index}] `jku_allowlist` must be a list of URLs")
        issuers.append(
            TrustedIssuer(
                iss=item["iss"],
                jwks_url=item.get("jwks_url"),
                jwks=jwks,
                jku_allowlist=tuple(allow),
            )
        )
    return tuple(issuers)


def default_data_dir() -> Path:
    """The user data directory (XDG_DATA_HOME or ~/.local/share on Linux, %APPDATA% on Windows)."""
    base = os.environ.get("XDG_DATA_HOME") or os.environ.get("APPDATA")
    root = Path(base) if base else Path.home() / ".local" / "share"
    return root / "mgcare"
