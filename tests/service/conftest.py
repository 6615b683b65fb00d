"""Live servers on loopback for the service tests: mgcare with JWT auth on, mgcare in dev mode,
and a fake EHR FHIR server (which also publishes a JWK Set). Keys are made per test session."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mgcare.knowledge import load_knowledge
from mgcare.service.app import create_app
from mgcare.service.cds.definitions import prefetch_templates
from mgcare.service.settings import Settings, TrustedIssuer
from tests.service.ehr import FakeEhr, synthea_resources
from tests.service.live import free_port, serve

ISS_STATIC = "https://ehr.example.test/"
ISS_URL = "https://ehr2.example.test/"


@dataclass(frozen=True)
class Keys:
    es_private: ec.EllipticCurvePrivateKey
    es_public_jwk: dict[str, Any]
    rsa_private: rsa.RSAPrivateKey
    rsa_public_jwk: dict[str, Any]
    rsa_public_pem: bytes
    other_es_private: ec.EllipticCurvePrivateKey


def _public_jwk(private: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.ECAlgorithm if alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
    data: dict[str, Any] = json.loads(algorithm.to_jwk(private.public_key()))
    data.update({"kid": kid, "alg": alg, "use": "sig"})
    return data


@pytest.fixture(scope="session")
def keys() -> Keys:
    es = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Keys(
        es_private=es,
        es_public_jwk=_public_jwk(es, "ehr-es384", "ES384"),
        rsa_private=rsa_key,
        rsa_public_jwk=_public_jwk(rsa_key, "ehr-rs256", "RS256"),
        rsa_public_pem=rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        other_es_private=ec.generate_private_key(ec.SECP384R1()),
    )


@pytest.fixture(scope="session")
def templates() -> dict[str, str]:
    return {t.key: t.query for t in prefetch_templates(load_knowledge())}


@pytest.fixture(scope="session")
def fake_ehr(keys: Keys) -> Iterator[tuple[FakeEhr, str]]:
    ehr = FakeEhr(synthea_resources(), {"keys": [keys.rsa_public_jwk]})
    with serve(ehr.app()) as base:
        yield ehr, base


def service_settings(tmp: Path, port: int, ehr_base: str, keys: Keys, **extra: Any) -> Settings:
    options: dict[str, Any] = {
        "trusted_issuers": (
            TrustedIssuer(ISS_STATIC, jwks={"keys": [keys.es_public_jwk]}),
            TrustedIssuer(
                ISS_URL,
                jwks_url=f"{ehr_base}/jwks.json",
                jku_allowlist=(f"{ehr_base}/jwks.json",),
            ),
        ),
        "public_base_url": f"http://127.0.0.1:{port}",
        "feedback_db": tmp / "service.sqlite3",
        "database_url": f"sqlite:///{tmp / 'store.sqlite3'}",
        "fhir_server_allowlist": (f"{ehr_base}/fhir/",),
        "fhir_timeout_seconds": 1.0,
        "fhir_total_seconds": 2.0,
    }
    options.update(extra)
    return Settings(**options)


@pytest.fixture(scope="session")
def service_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service")


@pytest.fixture(scope="session")
def service(service_dir: Path, keys: Keys, fake_ehr: tuple[FakeEhr, str]) -> Iterator[str]:
    """mgcare with JWT auth on (the production configuration)."""
    port = free_port()
    app = create_app(service_settings(service_dir, port, fake_ehr[1], keys))
    with serve(app, port) as base:
        yield base


def feedback_count(service_dir: Path) -> int:
    """Feedback rows in the service's store (the `database_url` of `service_settings`)."""
    with sqlite3.connect(service_dir / "store.sqlite3") as connection:
        return int(connection.execute("SELECT COUNT(*) FROM cds_feedback").fetchone()[0])


@pytest.fixture(scope="session")
def dev_service(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys, fake_ehr: tuple[FakeEhr, str]
) -> Iterator[str]:
    """mgcare in dev mode (no JWT): for schemathesis and input tests."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("dev")
    app = create_app(service_settings(tmp, port, fake_ehr[1], keys, dev=True))
    with serve(app, port) as base:
        yield base


TokenFactory = Callable[..., str]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="session")
def token(keys: Keys) -> TokenFactory:
    """`token(aud, **overrides)`: an ES384 client JWT as the spec's example, valid by default."""

    def make(
        aud: str | list[str],
        *,
        iss: str = ISS_STATIC,
        alg: str = "ES384",
        kid: str | None = "ehr-es384",
        key: Any = None,
        exp_in: float = 300,
        iat_offset: float = 0,
        jti: str | None = None,
        headers: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        now = time.time()
        payload: dict[str, Any] = {
            "iss": iss,
            "aud": aud,
            "exp": int(now + exp_in),
            "iat": int(now + iat_offset),
            "jti": jti or str(uuid.uuid4()),
            "tenant": "test-tenant",
            **claims,
        }
        for name in drop:
            payload.pop(name, None)
        header: dict[str, Any] = {"typ": "JWT", **(headers or {})}
        if kid is not None:
            header["kid"] = kid
        signing_key = key if key is not None else keys.es_private
        return jwt.encode(payload, signing_key, algorithm=alg, headers=header)

    return make


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0) as client:
        yield client


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}
