"""JWT per CDS Hooks 2.0 ("Trusting CDS Clients"): every failure is a bare 401 (empty body),
tokens never reach the logs, CORS for browser clients."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from tests.service.cards_check import hook_request
from tests.service.conftest import ISS_URL, Keys, TokenFactory, b64, bearer
from tests.service.ehr import FakeEhr

PV = "mgcare-patient-view"


def pv_url(service: str) -> str:
    return f"{service}/cds-services/{PV}"


def body() -> dict[str, Any]:
    return hook_request(
        "patient-view",
        {"userId": "Practitioner/1", "patientId": "p1"},
        {"patient": {"resourceType": "Patient", "id": "p1", "gender": "female"}},
    )


def post(http: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    return http.post(url, json=body(), headers=headers)


def assert_bare_401(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.content == b""


def hs256_with_public_key(keys: Keys, aud: str) -> str:
    """The classic key-confusion forgery: HMAC keyed with the RSA public key's PEM."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "ehr-rs256"}).encode())
    now = int(time.time())
    payload = b64(
        json.dumps(
            {"iss": ISS_URL, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
        ).encode()
    )
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(keys.rsa_public_pem, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def alg_none(aud: str) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "ehr-es384"}).encode())
    now = int(time.time())
    payload = b64(
        json.dumps(
            {
                "iss": "https://ehr.example.test/",
                "aud": aud,
                "exp": now + 300,
                "iat": now,
                "jti": str(uuid.uuid4()),
            }
        ).encode()
    )
    return f"{header}.{payload}."


def test_valid_token_is_accepted(http: httpx.Client, service: str, token: TokenFactory) -> None:
    url = pv_url(service)
    assert post(http, url, bearer(token(url))).status_code == 200
    assert post(http, url, bearer(token([url, "https://other.example/"]))).status_code == 200


NEGATIVES: dict[str, Callable[[TokenFactory, Keys, str], str]] = {
    "expired": lambda t, k, url: t(url, exp_in=-120, iat_offset=-400),
    "wrong aud (another service)": lambda t, k, url: t(url.replace(PV, "mgcare-order-sign")),
    "wrong aud (another host)": lambda t, k, url: t("https://cds.example.org/cds-services/" + PV),
    "unknown iss": lambda t, k, url: t(url, iss="https://evil.example/"),
    "bad signature": lambda t, k, url: t(url, key=k.other_es_private),
    "alg none": lambda t, k, url: alg_none(url),
    "HS256 signed with the public key": lambda t, k, url: hs256_with_public_key(k, url),
    "no kid": lambda t, k, url: t(url, kid=None),
    "unknown kid": lambda t, k, url: t(url, kid="nope"),
    "iat in the future": lambda t, k, url: t(url, iat_offset=600, exp_in=900),
    "not yet valid (nbf)": lambda t, k, url: t(url, nbf=int(time.time()) + 600),
    "lifetime too long": lambda t, k, url: t(url, exp_in=7 * 24 * 3600),
    "no jti": lambda t, k, url: t(url, drop=("jti",)),
    "no exp": lambda t, k, url: t(url, drop=("exp",)),
    "no aud": lambda t, k, url: t(url, drop=("aud",)),
    "typ is not JWT": lambda t, k, url: t(url, headers={"typ": "at+jwt"}),
    "jku not allow-listed": lambda t, k, url: t(
        url,
        iss=ISS_URL,
        alg="RS256",
        kid="ehr-rs256",
        key=k.rsa_private,
        headers={"jku": "https://attacker.example/jwks.json"},
    ),
    "RS256 key, ES384 token": lambda t, k, url: t(url, iss=ISS_URL, kid="ehr-rs256"),
    "tampered payload": lambda t, k, url: _tamper(t(url)),
    "garbage": lambda t, k, url: "not.a.jwt",
}


def _tamper(token_text: str) -> str:
    header, payload, signature = token_text.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["iss"] = "https://ehr.example.test/"
    claims["tenant"] = "other"
    return ".".join([header, b64(json.dumps(claims).encode()), signature])


@pytest.mark.parametrize("case", sorted(NEGATIVES))
def test_bad_tokens_get_a_bare_401(
    http: httpx.Client, service: str, token: TokenFactory, keys: Keys, case: str
) -> None:
    url = pv_url(service)
    assert_bare_401(post(http, url, bearer(NEGATIVES[case](token, keys, url))))


def test_missing_or_non_bearer_authorization(http: httpx.Client, service: str) -> None:
    url = pv_url(service)
    assert_bare_401(post(http, url, {}))
    assert_bare_401(post(http, url, {"Authorization": "Basic dXNlcjpwYXNz"}))
    assert_bare_401(http.get(f"{service}/cds-services"))
    assert_bare_401(http.post(f"{url}/feedback", json={"feedback": []}))
    assert_bare_401(http.post(f"{service}/cds-services/unknown", json={}))


def test_replayed_jti_is_rejected(http: httpx.Client, service: str, token: TokenFactory) -> None:
    url = pv_url(service)
    once = token(url)
    assert post(http, url, bearer(once)).status_code == 200
    assert_bare_401(post(http, url, bearer(once)))


def test_keys_from_jwks_url_and_allow_listed_jku(
    http: httpx.Client,
    service: str,
    token: TokenFactory,
    keys: Keys,
    fake_ehr: tuple[FakeEhr, str],
) -> None:
    url = pv_url(service)
    rs = {"iss": ISS_URL, "alg": "RS256", "kid": "ehr-rs256", "key": keys.rsa_private}
    assert post(http, url, bearer(token(url, **rs))).status_code == 200
    jku = {"jku": f"{fake_ehr[1]}/jwks.json"}
    assert post(http, url, bearer(token(url, headers=jku, **rs))).status_code == 200


def test_bad_input_after_auth_is_400_and_before_auth_401(
    http: httpx.Client, service: str, token: TokenFactory
) -> None:
    url = pv_url(service)
    broken = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
    assert_bare_401(http.post(url, **broken))  # type: ignore[arg-type]
    response = http.post(
        url,
        content=b"{not json",
        headers={"Content-Type": "application/json", **bearer(token(url))},
    )
    assert response.status_code == 400
    assert response.json()["detail"]


def test_tokens_never_logged(
    http: httpx.Client, service: str, token: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    url = pv_url(service)
    caplog.set_level(logging.DEBUG)
    good = token(url)
    expired = token(url, exp_in=-120, iat_offset=-400)
    request = body()
    request["fhirServer"] = "http://127.0.0.1:9/fhir"  # not allow-listed: never fetched
    request["fhirAuthorization"] = {
        "access_token": "fhir-secret-token-123",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read",
        "subject": "mgcare",
    }
    http.post(url, json=request, headers=bearer(good))
    http.post(url, json=request, headers=bearer(expired))
    request["fhirAuthorization"]["token_type"] = "MAC"
    rejected = http.post(url, json=request, headers=bearer(token(url)))
    assert rejected.status_code == 400
    assert "fhir-secret-token-123" not in rejected.text
    for secret in (good, expired, "fhir-secret-token-123"):
        assert secret not in caplog.text


def test_cors_for_browser_clients(http: httpx.Client, service: str) -> None:
    url = pv_url(service)
    preflight = http.options(
        url,
        headers={
            "Origin": "https://sandbox.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://sandbox.example")
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    denied = http.post(url, json=body(), headers={"Origin": "https://sandbox.example"})
    assert_bare_401(denied)
    assert "access-control-allow-origin" in denied.headers
