"""CDS Hooks client authentication: verify the EHR's signed JWT (CDS Hooks 2.0, "Trusting CDS
Clients").

Checks, in order, each failure an `AuthError` (the caller answers a bare 401): header `alg` is an
asymmetric algorithm (never `none`, never HMAC), `kid` present, `typ` is JWT when given; `iss`
is an allow-listed issuer; a `jku` header only if allow-listed for that issuer; the key found by
`kid` in that issuer's JWK Set fits `alg`; signature; `aud` equals the called URL; `exp`, `iat`,
`nbf` within a small skew; token lifetime bounded; `jti` not seen before. Tokens are never
logged: failure reasons are logged at debug level without the token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from jwt import PyJWK
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import PyJWKError, PyJWTError

from mgcare.service.security.replay import ReplayStore
from mgcare.service.settings import Settings, TrustedIssuer

log = logging.getLogger("mgcare.service.security")

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MAX_TOKEN_CHARS = 16 * 1024
MAX_JWKS_BYTES = 256 * 1024


class AuthError(Exception):
    """The request is not authenticated. The message is for debug logs only, never the client."""


@dataclass
class _KeySet:
    keys: dict[str, dict[str, Any]]
    fetched_at: float


class JwksCache:
    """JWK Sets by URL, fetched with a timeout, cached, refreshed at most every
    `refresh_min` seconds when an unknown `kid` appears (key rotation without a restart, and
    no fetch storm from forged `kid`s)."""

    def __init__(self, http: httpx.AsyncClient, ttl: float, refresh_min: float) -> None:
        self._http = http
        self._ttl = ttl
        self._refresh_min = refresh_min
        self._sets: dict[str, _KeySet] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def key(self, url: str, kid: str) -> dict[str, Any] | None:
        now = time.monotonic()
        cached = self._sets.get(url)
        fresh = cached is not None and now - cached.fetched_at < self._ttl
        if cached is not None and fresh and kid in cached.keys:
            return cached.keys[kid]
        if cached is not None and now - cached.fetched_at < self._refresh_min:
            return cached.keys.get(kid)
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            cached = self._sets.get(url)
            if cached is None or time.monotonic() - cached.fetched_at >= self._refresh_min:
                try:
                    cached = _KeySet(await self._fetch(url), time.monotonic())
                except AuthError:
                    if cached is None:
                        raise
                    log.warning("JWKS refresh from %s failed; keeping the cached set", url)
                else:
                    self._sets[url] = cached
        return cached.keys.get(kid)

    async def _fetch(self, url: str) -> dict[str, dict[str, Any]]:
        try:
            async with self._http.stream("GET", url, timeout=3.0) as response:
                if response.status_code != 200:
                    raise AuthError(f"JWKS {url}: HTTP {response.status_code}")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise AuthError(f"JWKS {url}: larger than {MAX_JWKS_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise AuthError(f"JWKS {url}: {type(exc).__name__}") from None
        try:
            return _index_keys(json.loads(body))
        except ValueError as exc:
            raise AuthError(f"JWKS {url}: not a JWK Set ({exc})") from None


def _index_keys(document: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("no `keys` list")
    return {
        str(key["kid"]): key
        for key in document["keys"]
        if isinstance(key, dict) and isinstance(key.get("kid"), str) and "d" not in key
    }


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
MIN_RSA_BITS = 2048
ALGORITHMS: dict[str, Any] = {
    name: algorithm
    for name, algorithm in get_default_algorithms().items()
    if name in ASYMMETRIC_ALGORITHMS
}


def _segment(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text):
        raise AuthError("token segment is not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise AuthError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise AuthError(f"{what} is not a JSON object")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class JwtVerifier:
    """Verifies one bearer token for one called URL; see the module docstring for the checks.

    The token is split and decoded once; the signature is checked with PyJWT's algorithm
    implementations (keys built once per JWK and cached); the registered claims are checked
    here, explicitly, so that each rule of the spec is visible in one place."""

    def __init__(self, settings: Settings, replay: ReplayStore, jwks: JwksCache) -> None:
        self._issuers: dict[str, TrustedIssuer] = {i.iss: i for i in settings.trusted_issuers}
        self._static: dict[str, dict[str, dict[str, Any]]] = {
            i.iss: _index_keys(i.jwks) for i in settings.trusted_issuers if i.jwks is not None
        }
        self._skew = settings.clock_skew_seconds
        self._max_lifetime = settings.max_token_lifetime_seconds
        self._replay = replay
        self._jwks = jwks
        self._keys: dict[tuple[str, str, str], tuple[dict[str, Any], Any]] = {}

    async def verify(self, authorization: str | None, audience: str) -> Mapping[str, Any]:
        """The verified claims, or AuthError."""
        if not authorization or authorization[:7].lower() != "bearer ":
            raise AuthError("no bearer token")
        token = authorization[7:].strip()
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise AuthError("empty, oversized or malformed token")
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = _json_object(_segment(header_b64), "header")
        claims = _json_object(_segment(payload_b64), "payload")
        signature = _segment(signature_b64)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise AuthError(f"algorithm {alg!r} is not an allowed asymmetric algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("no kid in the header")
        typ = header.get("typ")
        if typ is not None and str(typ).upper() != "JWT":
            raise AuthError(f"typ {typ!r} is not JWT")
        if header.get("crit") is not None:
            raise AuthError("critical header extensions are not supported")
        issuer = self._issuers.get(claims.get("iss"))  # type: ignore[arg-type]
        if issuer is None:
            raise AuthError("issuer is not trusted")
        source, jwk_data = await self._find_key(issuer, header.get("jku"), kid)
        key = self._key_object(source, kid, alg, jwk_data)
        signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
        try:
            valid = ALGORITHMS[alg].verify(signing_input, key, signature)
        except Exception as exc:  # a malformed signature must be a 401, whatever raised
            raise AuthError(f"signature check failed: {type(exc).__name__}") from None
        if not valid:
            raise AuthError("bad signature")
        return self._check_claims(claims, issuer.iss, audience)

    def _key_object(self, source: str, kid: str, alg: str, jwk_data: dict[str, Any]) -> Any:
        """The public key for (source, kid, alg), checked against the algorithm, built once."""
        cached = self._keys.get((source, kid, alg))
        if cached is not None and cached[0] is jwk_data:
            return cached[1]
        key_alg = jwk_data.get("alg")
        if key_alg is not None and key_alg != alg:
            raise AuthError(f"key {kid} is for {key_alg}, token says {alg}")
        if jwk_data.get("use") not in (None, "sig"):
            raise AuthError(f"key {kid} is not a signing key")
        if alg in EC_CURVES and jwk_data.get("crv") != EC_CURVES[alg]:
            raise AuthError(f"key {kid} curve does not fit {alg}")
        try:
            key = PyJWK(jwk_data, algorithm=alg).key
        except (PyJWKError, PyJWTError, ValueError, TypeError) as exc:
            raise AuthError(f"key {kid} does not fit {alg}: {type(exc).__name__}") from None
        if alg[:2] in ("RS", "PS") and getattr(key, "key_size", 0) < MIN_RSA_BITS:
            raise AuthError(f"RSA key {kid} is shorter than {MIN_RSA_BITS} bits")
        self._keys[(source, kid, alg)] = (jwk_data, key)
        return key

    async def _find_key(
        self, issuer: TrustedIssuer, jku: Any, kid: str
    ) -> tuple[str, dict[str, Any]]:
        if jku is not None:
            if not isinstance(jku, str) or jku not in issuer.jku_allowlist:
                raise AuthError("jku is not allow-listed for this issuer")
            source, found = jku, await self._jwks.key(jku, kid)
        elif issuer.iss in self._static:
            source, found = f"static:{issuer.iss}", self._static[issuer.iss].get(kid)
        elif issuer.jwks_url is not None:
            source, found = issuer.jwks_url, await self._jwks.key(issuer.jwks_url, kid)
        else:
            raise AuthError("issuer has keys only through jku, and the token has none")
        if found is None:
            raise AuthError(f"no key {kid!r} for this issuer")
        return source, found

    def _check_claims(self, claims: dict[str, Any], iss: str, audience: str) -> dict[str, Any]:
        now = time.time()
        skew = self._skew
        for name in ("iss", "aud", "exp", "iat", "jti"):
            if name not in claims:
                raise AuthError(f"claim {name} is missing")
        if claims["iss"] != iss:
            raise AuthError("iss does not match")
        aud = claims["aud"]
        audiences = aud if isinstance(aud, list) else [aud]
        if not all(isinstance(a, str) for a in audiences) or audience not in [
            a.rstrip("/") for a in audiences
        ]:
            raise AuthError("aud is not the called URL")
        exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
        if not _number(exp) or exp < now - skew:
            raise AuthError("token has expired")
        if not _number(iat) or iat > now + skew:
            raise AuthError("iat is in the future")
        nbf = claims.get("nbf")
        if nbf is not None and (not _number(nbf) or nbf > now + skew):
            raise AuthError("token is not yet valid (nbf)")
        if exp - iat > self._max_lifetime:
            raise AuthError("token lifetime is longer than allowed")
        if not isinstance(jti, str) or not jti:
            raise AuthError("jti must be a non-empty string")
        if not self._replay.first_use(iss, jti, float(exp) + skew):
            raise AuthError("jti was already used")
        return claims
