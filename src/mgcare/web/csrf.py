"""Cross-site request forgery defence for the web forms: a double-submit token plus an
Origin check.

Every page sets a random token in the `mgcare_csrf` cookie (HttpOnly, SameSite=Strict, path
/app) and every form carries the same token in a hidden field. A POST is accepted only when
both are present and equal (another site can neither read the cookie nor set it for us) and,
when the browser sends an Origin header, it names this server. No server-side session needed,
so any worker can check any form.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

CSRF_COOKIE = "mgcare_csrf"
CSRF_FIELD = "csrf_token"
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def usable_token(cookie: str | None) -> bool:
    """A cookie value we could have issued (URL-safe text of the right size)."""
    return (
        cookie is not None
        and 20 <= len(cookie) <= 100
        and all(c.isalnum() or c in "-_" for c in cookie)
    )


def same_origin(origin: str | None, host: str | None) -> bool:
    """No Origin header (older browsers, same-origin GET-style posts) passes; an Origin must
    name the host the request was sent to."""
    if origin is None:
        return True
    if origin == "null" or host is None:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def form_allowed(
    cookie: str | None, submitted: str | None, origin: str | None, host: str | None
) -> bool:
    """True when the form's token matches the cookie and the Origin is ours."""
    if not usable_token(cookie) or not submitted:
        return False
    return hmac.compare_digest((cookie or "").encode(), submitted.encode()) and same_origin(
        origin, host
    )
