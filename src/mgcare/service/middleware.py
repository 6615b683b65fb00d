"""Pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on the hot path).

`CdsAuthMiddleware` authenticates every `/cds-services` call before its body is read, so an
unauthenticated caller gets a bare 401 whatever it sent. `BodyLimitMiddleware` answers 413 for
bodies over the limit, by the declared length or while reading.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mgcare.service.security.jwt import AuthError, JwtVerifier

log = logging.getLogger("mgcare.service.security")

CDS_PREFIX = "/cds-services"


async def _send_bare_401(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-length", b"0"), (b"www-authenticate", b"Bearer")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def called_url(scope: Scope, public_base_url: str | None) -> str:
    """The URL the client called, as `aud` must name it. Behind a proxy, configure the public
    base URL; otherwise it is rebuilt from the scheme and Host header of the request."""
    path = str(scope.get("root_path", "")) + str(scope["path"])
    if public_base_url is not None:
        return public_base_url + path
    host = ""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1")
            break
    if not host and scope.get("server"):
        server_host, server_port = scope["server"]
        host = f"{server_host}:{server_port}"
    return f"{scope.get('scheme', 'http')}://{host}{path}"


class CdsAuthMiddleware:
    """Bare 401 (empty body) for any CDS Hooks call without a valid client JWT. CORS
    preflights (OPTIONS) pass: browsers send them without credentials."""

    def __init__(self, app: ASGIApp, verifier: JwtVerifier, public_base_url: str | None) -> None:
        self.app = app
        self.verifier = verifier
        self.public_base_url = public_base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") == "OPTIONS"
            or not (scope["path"] == CDS_PREFIX or scope["path"].startswith(CDS_PREFIX + "/"))
        ):
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        audience = called_url(scope, self.public_base_url).rstrip("/")
        try:
            claims = await self.verifier.verify(authorization, audience)
        except AuthError as exc:
            log.debug("401 for %s: %s", scope["path"], exc)
            await _send_bare_401(send)
            return
        except Exception:  # the replay store or a key fetch broke: not the client's fault
            log.exception("authentication could not be completed")
            await _send_json(send, 503, "authentication is temporarily unavailable")
            return
        scope.setdefault("state", {})["cds_client"] = claims.get("iss")
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 with a reason for bodies over `limit` bytes. The body is read here, whole and
    bounded, then handed on, so the app never sees a partial body."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, "Content-Length is not a number")
                    return
                if declared > self.limit:
                    await _send_json(send, 413, f"request body is larger than {self.limit} bytes")
                    return
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _send_json(send, 413, f"request body is larger than {self.limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
