"""A tiny EHR for the service tests: FHIR search over one patient's resources, used both to
build prefetch the way an EHR answers the service's templates and as a fake FHIR server on
loopback (with faults on demand: slow, HTTP 500, OperationOutcome, paging, foreign next links).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SYNTHEA = FIXTURES / "Alfreda_Wyman_3287b938-4670-47eb-91e5-e0ce3df71405.json"
SYNTHEA_PATIENT_ID = "6d23a95e-7e18-4201-90ec-9501fa89fbd2"


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def synthea_resources(patient_id: str | None = None) -> list[dict[str, Any]]:
    """Every resource of the Synthea bundle; the Patient id optionally replaced."""
    bundle = json.loads(SYNTHEA.read_text(encoding="utf-8"))
    resources = [copy.deepcopy(e["resource"]) for e in bundle["entry"]]
    if patient_id is not None:
        for resource in resources:
            if resource["resourceType"] == "Patient":
                resource["id"] = patient_id
    return resources


def _codes(resource: dict[str, Any]) -> set[str]:
    codings = (resource.get("code") or {}).get("coding") or []
    return {f"{c.get('system')}|{c.get('code')}" for c in codings}


def _date(resource: dict[str, Any]) -> str:
    return str(resource.get("effectiveDateTime") or resource.get("issued") or "")


def search(
    resources: Iterable[dict[str, Any]], query: str
) -> list[dict[str, Any]] | dict[str, Any]:
    """Answer a read (`Patient/1` -> the resource) or a search (-> matching resources) over one
    patient's data, for the parameters the service's templates use."""
    path, _, raw = query.partition("?")
    pool = list(resources)
    if "/" in path:
        kind, _, wanted = path.partition("/")
        for resource in pool:
            if resource["resourceType"] == kind and resource.get("id") == wanted:
                return resource
        return {}
    params = {k: v[0] for k, v in parse_qs(raw).items()}
    found = [r for r in pool if r["resourceType"] == path]
    if "code" in params:
        wanted_codes = set(params["code"].split(","))
        found = [r for r in found if _codes(r) & wanted_codes]
    if "status" in params:
        found = [r for r in found if r.get("status") == params["status"]]
    if "clinical-status" in params:
        found = [
            r
            for r in found
            if any(
                c.get("code") == params["clinical-status"]
                for c in (r.get("clinicalStatus") or {}).get("coding", [])
            )
        ]
    if params.get("_sort") == "-date":
        found.sort(key=_date, reverse=True)
    if "_count" in params and path == "Observation":
        found = found[: int(params["_count"])]
    return found


def searchset(
    resources: list[dict[str, Any]], links: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if links:
        bundle["link"] = links
    return bundle


def prefetch_for(
    resources: list[dict[str, Any]], templates: dict[str, str], patient_id: str
) -> dict[str, Any]:
    """The prefetch an EHR sends for these templates (null where it has no data)."""
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        answer = search(resources, template.replace("{{context.patientId}}", patient_id))
        if isinstance(answer, dict):
            prefetch[key] = answer or None
        else:
            prefetch[key] = searchset(answer)
    return prefetch


def observation(
    resource_id: str, loinc: str, value: float, unit: str, day: str = "2026-11-20"
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": f"{day}T08:00:00Z",
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def medication_request(resource_id: str, text: str, status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": resource_id,
        "status": status,
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": {"text": text},
    }


class FakeEhr:
    """State of the fake FHIR server: its data, and every request it saw (without bodies)."""

    def __init__(self, resources: list[dict[str, Any]], jwks: dict[str, Any]) -> None:
        self.resources = resources
        self.jwks = jwks
        self.seen: list[tuple[str, str, str | None]] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/jwks.json")
        async def jwks() -> JSONResponse:
            return JSONResponse(self.jwks)

        @app.get("/fhir/{scenario}/{path:path}")
        async def fhir(scenario: str, path: str, request: Request) -> JSONResponse:
            query = request.url.query
            self.seen.append((scenario, f"{path}?{query}", request.headers.get("authorization")))
            base = str(request.base_url).rstrip("/") + f"/fhir/{scenario}"
            if scenario == "error":
                return JSONResponse({"error": "boom"}, status_code=500)
            if scenario == "slow" and path == "Observation":
                await asyncio.sleep(5)
            if scenario == "outcome" and path == "Observation":
                return JSONResponse(
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "forbidden"}],
                    }
                )
            if scenario == "notjson":
                return JSONResponse("just a string")
            answer = search(self.resources, f"{path}?{query}")
            if isinstance(answer, dict):
                if not answer:
                    return JSONResponse({"resourceType": "OperationOutcome"}, status_code=404)
                return JSONResponse(answer)
            if scenario in ("paged", "foreign"):
                params = parse_qs(query)
                page = int(params.get("_page", ["0"])[0])
                chunk = answer[page : page + 1]
                links = []
                if page + 1 < len(answer):
                    clean = "&".join(p for p in query.split("&") if not p.startswith("_page="))
                    # "foreign": a next link to another origin (still loopback, never followed)
                    other = f"http://127.0.0.2:{request.url.port}/fhir/{scenario}"
                    host = other if scenario == "foreign" else base
                    links.append(
                        {"relation": "next", "url": f"{host}/{path}?{clean}&_page={page + 1}"}
                    )
                return JSONResponse(searchset(chunk, links))
            return JSONResponse(searchset(answer))

        return app
