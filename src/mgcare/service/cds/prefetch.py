"""Turn a hook request's prefetch (and, where it falls short, the EHR's FHIR server) into one
validated `PatientRecord`, and say which data could not be had.

Per prefetch key: a usable value is parsed; a missing key, an OperationOutcome, a Bundle with a
`next` link (partial) or `null` is fetched from `fhirServer` when the request allows it. A key
whose data cannot be had is *unavailable*: the record simply lacks it, and the hook code drops
the conclusions that rest on its absence (fewer cards, never a false "not measured"). Only when
no key at all can be had is the request a 412.

Each key's value is parsed with the clinical core's own FHIR reader (`mgcare.fhir`) and
validated (`mgcare.validation`). Parsing is the costly step, and an EHR sends the same
patient's data on every hook of a visit (chart open, each order selected, signing), so parsed
values are kept in a small LRU cache keyed by a hash of their exact JSON and the day.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import marshal
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from mgcare.fhir import FhirInputError, record_from_fhir
from mgcare.inputs import pydantic_reason
from mgcare.knowledge import Knowledge
from mgcare.model import PatientRecord, Person
from mgcare.service.cds.definitions import PATIENT_KEY, Template
from mgcare.service.cds.models import CdsRequest
from mgcare.service.fhir_client import FetchError, FhirClient
from mgcare.validation import RecordError, validate_record

log = logging.getLogger("mgcare.service.cds")

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
"""FHIR id syntax; also keeps a patient id from changing the path or query of a fetch."""


class HookError(Exception):
    """A 4xx answer with a one-line reason (the status is 400, 404, 412 or 422)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class DataError(ValueError):
    """One prefetch value cannot be read (the message is one line)."""


@dataclass(frozen=True)
class Gathered:
    record: PatientRecord
    available: frozenset[str]
    unavailable: frozenset[str]
    fetched: frozenset[str]


@dataclass(frozen=True)
class Plan:
    """What a request brings, before any parsing or fetching."""

    pid: str
    values: dict[str, dict[str, Any] | None]
    to_fetch: list[Template]
    unavailable: set[str]
    fingerprint: bytes | None
    """The exact data when nothing must be fetched and caching is on (memo key), else None."""


def fingerprint(value: Any) -> bytes:
    """A digest of a JSON value, for cache keys. `marshal` is a faithful serialisation (equal
    bytes mean equal data, so a hit is always right); equal data written differently (shared
    string references) only misses. BLAKE2b, so keys cannot be forged by collision."""
    return hashlib.blake2b(marshal.dumps(value), digest_size=24).digest()


class ParseCache:
    """LRU of parsed prefetch values (size 0 disables it)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[bytes, PatientRecord] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._size > 0

    def parse(
        self,
        digest: bytes | None,
        value: dict[str, Any],
        knowledge: Knowledge,
        today: date,
    ) -> PatientRecord:
        """The record of one prefetch value, from the cache when `digest` was seen."""
        if digest is None or self._size <= 0:
            return parse_value(_resolvable(value), knowledge, today)
        cached = self._items.get(digest)
        if cached is not None:
            self._items.move_to_end(digest)
            return cached
        record = parse_value(_resolvable(value), knowledge, today)
        self._items[digest] = record
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return record


def parse_value(value: Mapping[str, Any], knowledge: Knowledge, today: date) -> PatientRecord:
    """One FHIR resource or Bundle to a validated partial record, or DataError."""
    try:
        record = record_from_fhir(value, knowledge)
        validate_record(record, knowledge, today)
    except (FhirInputError, RecordError) as exc:
        raise DataError(" ".join(str(exc).split())) from None
    except ValidationError as exc:
        raise DataError(pydantic_reason(exc)) from None
    return record


def patient_id(request: CdsRequest) -> str:
    value = request.context.get("patientId")
    if not isinstance(value, str) or not FHIR_ID.fullmatch(value):
        raise HookError(400, "context.patientId must be a FHIR id (letters, digits, '-', '.')")
    return value


def _needs_fetch(value: Any) -> bool:
    """True unless the value is a complete FHIR answer."""
    if not isinstance(value, dict):
        return True
    kind = value.get("resourceType")
    if not isinstance(kind, str) or kind == "OperationOutcome":
        return True
    return kind == "Bundle" and any(
        isinstance(link, dict) and link.get("relation") == "next"
        for link in value.get("link") or ()
    )


def _as_bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def _resolvable(value: dict[str, Any]) -> dict[str, Any]:
    """Drop MedicationRequests whose medicationReference points outside the value and has no
    display: the core reader would reject the whole value, and one unreadable order should cost
    one order, not every card."""
    if value.get("resourceType") != "Bundle":
        return value
    entries = value.get("entry")
    if not isinstance(entries, list):
        return value
    known: set[str] = set()
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Medication":
            known.add(f"Medication/{resource.get('id')}")
            if isinstance(entry.get("fullUrl"), str):
                known.add(entry["fullUrl"])
    kept = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        reference = resource.get("medicationReference") if isinstance(resource, dict) else None
        if (
            isinstance(reference, dict)
            and not str(reference.get("reference", "")).startswith("#")
            and reference.get("reference") not in known
            and not reference.get("display")
        ):
            log.info("dropped a MedicationRequest whose Medication is not in the prefetch")
            continue
        kept.append(entry)
    if len(kept) == len(entries):
        return value
    return {**value, "entry": kept}


@dataclass(frozen=True)
class Gatherer:
    """Collects the data of one hook call; built once, shared by every request."""

    knowledge: Knowledge
    templates: tuple[Template, ...]
    fhir: FhirClient | None
    cache: ParseCache
    fetch_budget_seconds: float
    fhir_allowlist: tuple[str, ...]

    def _can_fetch(self, request: CdsRequest) -> bool:
        server = request.fhirServer
        if server is None or self.fhir is None:
            return False
        return not self.fhir_allowlist or any(server.startswith(p) for p in self.fhir_allowlist)

    def plan(self, request: CdsRequest, today: date) -> Plan:
        """Sort the prefetch into usable, to fetch and unavailable; digest the usable values.
        Cheap: no parsing, so a repeated call can be answered from the memo straight away."""
        pid = patient_id(request)
        prefetch = request.prefetch or {}
        can_fetch = self._can_fetch(request)
        values: dict[str, dict[str, Any] | None] = {}
        to_fetch: list[Template] = []
        unavailable: set[str] = set()
        for template in self.templates:
            value = prefetch.get(template.key, ...)
            if value is None and not can_fetch:
                values[template.key] = None  # the client says: no data
            elif _needs_fetch(value):
                if can_fetch:
                    to_fetch.append(template)
                elif isinstance(value, dict) and value.get("resourceType") == "Bundle":
                    values[template.key] = value  # partial is better than nothing
                else:
                    unavailable.add(template.key)
            else:
                values[template.key] = value
        combined = None
        if self.cache.enabled and not to_fetch:
            combined = fingerprint((pid, today.isoformat(), sorted(unavailable), values))
        return Plan(pid, values, to_fetch, unavailable, combined)

    async def complete(self, request: CdsRequest, plan: Plan, today: date) -> Gathered:
        """Fetch what is missing, parse (through the cache) and merge into one record."""
        fetched = await self._fetch_all(request, plan.pid, plan.to_fetch)
        unavailable = set(plan.unavailable)
        unavailable.update(t.key for t in plan.to_fetch if t.key not in fetched)
        parts: list[PatientRecord] = []
        day = today.isoformat()
        for key, value in plan.values.items():
            if value is None:
                continue
            digest = fingerprint((day, value)) if self.cache.enabled else None
            try:
                parts.append(self.cache.parse(digest, value, self.knowledge, today))
            except DataError as exc:
                raise HookError(400, f"prefetch.{key}: {exc}") from None
        for key, resources in fetched.items():
            try:
                parts.append(parse_value(_as_bundle(resources), self.knowledge, today))
            except DataError as exc:
                log.warning("fetched %s is unusable (%s); treated as unavailable", key, exc)
                unavailable.add(key)
        available = frozenset(plan.values) | (frozenset(fetched) - unavailable)
        if not available:
            raise HookError(
                412, "no prefetch and the FHIR server could not be reached for any data"
            )
        record = _merge(parts, plan.pid)
        return Gathered(record, available, frozenset(unavailable), frozenset(fetched))

    async def gather(self, request: CdsRequest, today: date) -> Gathered:
        return await self.complete(request, self.plan(request, today), today)

    async def _fetch_all(
        self, request: CdsRequest, pid: str, templates: list[Template]
    ) -> dict[str, list[dict[str, Any]]]:
        if not templates or self.fhir is None or request.fhirServer is None:
            return {}
        fhir = self.fhir
        server = request.fhirServer
        token = (
            request.fhirAuthorization.access_token.get_secret_value()
            if request.fhirAuthorization is not None
            else None
        )
        deadline = time.monotonic() + self.fetch_budget_seconds

        async def one(template: Template) -> tuple[str, list[dict[str, Any]] | None]:
            query = template.query.replace("{{context.patientId}}", quote(pid, safe=""))
            try:
                resources = await fhir.get(server, query, token, deadline)
            except FetchError as exc:
                log.warning("prefetch %s not fetched: %s", template.key, exc)
                return template.key, None
            if template.key == PATIENT_KEY:
                resources = [r for r in resources if r.get("resourceType") == "Patient"][:1]
            return template.key, resources

        results = await asyncio.gather(*(one(t) for t in templates))
        return {key: resources for key, resources in results if resources is not None}


def _label(source: str | None, fallback: str) -> str:
    return source if source and not source.endswith("/?") else fallback


def _merge(parts: list[PatientRecord], pid: str) -> PatientRecord:
    """One record from the per-key records; each resource once (by its FHIR label)."""
    person = Person()
    labs: dict[str, Any] = {}
    medications: dict[str, Any] = {}
    conditions: dict[str, Any] = {}
    for number, part in enumerate(parts):
        if part.person.id is not None:
            if part.person.id != pid:
                raise HookError(
                    400, f"prefetch Patient/{part.person.id} is not context.patientId {pid}"
                )
            person = part.person
        for index, lab in enumerate(part.labs):
            labs.setdefault(_label(lab.source, f"lab:{number}:{index}"), lab)
        for index, med in enumerate(part.medications):
            medications.setdefault(_label(med.source, f"med:{number}:{index}"), med)
        for index, cond in enumerate(part.conditions):
            conditions.setdefault(_label(cond.source, f"cond:{number}:{index}"), cond)
    return PatientRecord(
        person=person,
        labs=tuple(labs.values()),
        medications=tuple(medications.values()),
        conditions=tuple(conditions.values()),
    )
