"""Fetch what the CDS Client did not prefetch from its FHIR server (`fhirServer`), with the
bearer token it gave (`fhirAuthorization`).

Bounded in every direction because a slow EHR must not make the service slow: a per-call
timeout, a budget for the whole request (`deadline`), a page limit, a resource limit and a
response size limit. `Bundle.link[next]` is followed only when it stays on the same FHIR server,
so the token is never sent anywhere else. Every failure is a `FetchError`; callers treat the data
as unavailable. Messages name the resource type only: no token, no URL, no patient id.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger("mgcare.service.fhir")


class FetchError(Exception):
    """The data could not be had (network, HTTP status, OperationOutcome, bad JSON, limits)."""


@dataclass(frozen=True)
class FhirLimits:
    timeout_seconds: float
    max_pages: int
    max_resources: int
    max_bytes: int


class FhirClient:
    """A thin reader over one shared `httpx.AsyncClient` (connection pooling across requests)."""

    def __init__(self, http: httpx.AsyncClient, limits: FhirLimits) -> None:
        self._http = http
        self._limits = limits

    async def get(
        self, base: str, query: str, token: str | None, deadline: float
    ) -> list[dict[str, Any]]:
        """Resources of a read (`Patient/1`) or a search (every page, within the limits)."""
        base = base.rstrip("/")
        url: str | None = f"{base}/{query.lstrip('/')}"
        what = query.lstrip("/").split("?")[0].split("/")[0]  # the resource type, never an id
        resources: list[dict[str, Any]] = []
        pages = 0
        while url is not None:
            pages += 1
            document = await self._fetch_json(url, what, token, deadline)
            kind = document.get("resourceType")
            if kind == "OperationOutcome":
                raise FetchError(f"{what}: OperationOutcome")
            if kind != "Bundle":
                if not isinstance(kind, str):
                    raise FetchError(f"{what}: not a FHIR resource")
                return [document]
            for entry in document.get("entry") or ():
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and resource.get("resourceType") not in (
                    None,
                    "OperationOutcome",
                ):
                    resources.append(resource)
            if len(resources) > self._limits.max_resources:
                log.warning("FHIR fetch stopped at %d resources", self._limits.max_resources)
                return resources[: self._limits.max_resources]
            url = _next_link(document, base)
            if url is not None and pages >= self._limits.max_pages:
                log.warning("FHIR fetch stopped after %d pages", pages)
                break
        return resources

    async def _fetch_json(
        self, url: str, what: str, token: str | None, deadline: float
    ) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("time budget for FHIR fetches is spent")
        timeout = min(self._limits.timeout_seconds, remaining)
        headers = {"Accept": "application/fhir+json, application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self._http.stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    raise FetchError(f"{what}: HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self._limits.max_bytes:
                        raise FetchError(f"{what}: response larger than allowed")
                    if time.monotonic() > deadline:
                        raise FetchError(f"{what}: time budget spent while reading")
        except httpx.HTTPError as exc:
            raise FetchError(f"{what}: {type(exc).__name__}") from None
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise FetchError(f"{what}: not JSON") from None
        if not isinstance(document, dict):
            raise FetchError(f"{what}: not a JSON object")
        return document


def _next_link(bundle: dict[str, Any], base: str) -> str | None:
    for link in bundle.get("link") or ():
        if isinstance(link, dict) and link.get("relation") == "next":
            target = link.get("url")
            if isinstance(target, str) and (target == base or target.startswith(base + "/")):
                return target
            if isinstance(target, str) and target.startswith("?"):
                return None
            log.warning("ignored a next link that leaves the FHIR server")
            return None
    return None
