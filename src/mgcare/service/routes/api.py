"""REST API v1: assessment, foods, diet, knowledge and evidence; plus health and the index.

Every bad input is a 4xx with a one-line reason in `detail`; the JSON matches the CLI's
`--format json` output (DESIGN.md sections 4 and 7).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from mgcare import __version__, views
from mgcare.diet.foods import UnknownFoodError
from mgcare.diet.search import search_foods
from mgcare.i18n import Lang
from mgcare.inputs import InputError, record_from_document
from mgcare.knowledge.models import StandardId
from mgcare.service.state import ServiceState, state_of

router = APIRouter()
api = APIRouter(prefix="/api/v1")

EARLIEST_AS_OF = date(1900, 1, 1)
"""Look-back windows reach back from as_of; the calendar must not run out (year 1)."""
BAD: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid input, with a one-line reason in `detail`"}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found"}}
LangQuery = Annotated[
    Literal["en", "zh"] | None, Query(description="en or zh; default: the service's language")
]
Exclusion = Literal[
    "nuts", "peanuts", "seeds", "dairy", "fish", "shellfish", "soy", "gluten", "meat"
]


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
    )


def _bad(reason: str, status: int = 400) -> Response:
    return JSONResponse({"detail": reason}, status_code=status)


def _lang(state: ServiceState, lang: Lang | None) -> Lang:
    return lang or state.settings.lang


@router.get("/health", tags=["service"], summary="Liveness and versions")
def health(request: Request) -> dict[str, Any]:
    state = state_of(request)
    return {
        "status": "ok",
        "mgcare_version": __version__,
        "knowledge_version": state.knowledge.version,
        "auth": "jwt" if state.settings.auth_enabled else "off (dev mode)",
    }


@router.get("/", tags=["service"], summary="Where to start")
def index(request: Request) -> dict[str, Any]:
    state = state_of(request)
    base = state.base_url(request)
    links = {
        "openapi": f"{base}/openapi.json",
        "docs": f"{base}/docs",
        "health": f"{base}/health",
        "cds_discovery": f"{base}/cds-services",
        "assess": f"{base}/api/v1/assess",
        "knowledge": f"{base}/api/v1/knowledge",
    }
    if state.settings.dev:
        links["demo"] = f"{base}/dev/demo"
    return {"service": "mgcare", "version": __version__, "links": links}


@api.post("/assess", tags=["assessment"], summary="Assess one person", responses=BAD)
def assess_record(
    request: Request,
    document: Annotated[
        dict[str, Any],
        Body(description="A FHIR R4 Bundle or resource, or an mgcare JSON record"),
    ],
    lang: LangQuery = None,
    as_of: Annotated[date | None, Query(description="Assess as of this day; default today")] = None,
) -> Response:
    """The DESIGN.md section 4 assessment JSON (as `mgcare assess FILE --format json`)."""
    state = state_of(request)
    day = as_of or state.settings.as_of or date.today()
    if day < EARLIEST_AS_OF:
        return _bad(f"as_of must be {EARLIEST_AS_OF.isoformat()} or later")
    try:
        record = record_from_document(document, state.knowledge, max(day, date.today()))
        result = views.assessment(record, state.knowledge, state.foods, day, _lang(state, lang))
    except (InputError, views.ViewError) as exc:
        return _bad(str(exc))
    return Response(result.model_dump_json(), media_type="application/json")


@api.get("/foods/search", tags=["foods"], summary="Search foods (English or Chinese)")
def foods_search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Name or SR28 number")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Response:
    hits = search_foods(state_of(request).foods, q, limit=limit)
    return _json([views.food_hit(h.food) for h in hits])


@api.get("/foods/{food}", tags=["foods"], summary="One food", responses=NOT_FOUND)
def foods_show(request: Request, food: str) -> Response:
    try:
        item = state_of(request).foods.get(food)
    except (UnknownFoodError, ValueError):
        return _bad(f"unknown food {food[:40]!r}", 404)
    return _json(views.food_detail(item))


class DietReportBody(BaseModel):
    """A day's food log (DESIGN.md section 7 rows) and the person it is for."""

    entries: list[dict[str, Any]] = Field(min_length=1, max_length=2000)
    age: float = Field(ge=0, le=130)
    sex: Literal["male", "female"]
    standard: StandardId | None = None
    life_stage: Literal["general", "pregnancy", "lactation"] = "general"
    exclude: list[Exclusion] = Field(default_factory=list, max_length=9)
    all_foods: bool = False


@api.post(
    "/diet/report", tags=["diet"], summary="A day's intake against the reference", responses=BAD
)
def diet_report(request: Request, body: DietReportBody, lang: LangQuery = None) -> Response:
    state = state_of(request)
    try:
        data = views.diet_report(
            body.entries,
            state.knowledge,
            state.foods,
            age=body.age,
            sex=body.sex,
            standard=body.standard,
            life_stage=body.life_stage,
            exclude=body.exclude,
            all_foods=body.all_foods,
            lang=_lang(state, lang),
        )
    except views.ViewError as exc:
        return _bad(str(exc))
    return _json(data)


@api.get("/diet/plan", tags=["diet"], summary="Foods that close the gap", responses=BAD)
def diet_plan(
    request: Request,
    age: Annotated[float, Query(ge=0, le=130)],
    sex: Literal["male", "female"],
    intake_mg: Annotated[float, Query(ge=0, le=100_000)] = 0.0,
    standard: StandardId | None = None,
    life_stage: Literal["general", "pregnancy", "lactation"] = "general",
    exclude: Annotated[list[Exclusion] | None, Query(max_length=9)] = None,
    all_foods: bool = False,
    max_foods: Annotated[int, Query(ge=1, le=10)] = 4,
    lang: LangQuery = None,
) -> Response:
    state = state_of(request)
    try:
        data = views.diet_plan(
            state.knowledge,
            state.foods,
            age=age,
            sex=sex,
            intake_mg=intake_mg,
            standard=standard,
            life_stage=life_stage,
            exclude=exclude or (),
            all_foods=all_foods,
            max_foods=max_foods,
            lang=_lang(state, lang),
        )
    except views.ViewError as exc:
        return _bad(str(exc))
    return _json(data)


@api.get("/knowledge", tags=["knowledge"], summary="Pack version, thresholds, sources")
def knowledge(request: Request) -> Response:
    return Response(state_of(request).knowledge_json, media_type="application/json")


@api.get("/evidence/references", tags=["evidence"], summary="Every reference")
def references(request: Request) -> Response:
    return _json([r.model_dump() for r in state_of(request).knowledge.evidence.reference])


@api.get(
    "/evidence/references/{reference_id}",
    tags=["evidence"],
    summary="One reference",
    responses=NOT_FOUND,
)
def reference(request: Request, reference_id: str) -> Response:
    found = state_of(request).knowledge.references.get(reference_id)
    if found is None:
        return _bad(f"unknown reference {reference_id[:40]!r}", 404)
    return _json(found.model_dump())


@api.get("/evidence/claims", tags=["evidence"], summary="The review's claims, graded")
def claims(
    request: Request,
    topic: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    rows = state_of(request).knowledge.claims.claim
    return _json([c.model_dump() for c in rows if topic is None or c.topic == topic])


@api.get("/evidence/claims/{claim_id}", tags=["evidence"], summary="One claim", responses=NOT_FOUND)
def claim(request: Request, claim_id: str) -> Response:
    for row in state_of(request).knowledge.claims.claim:
        if row.id == claim_id:
            return _json(row.model_dump())
    return _bad(f"unknown claim {claim_id[:40]!r}", 404)


@api.get(
    "/evidence/codes/{code}",
    tags=["evidence"],
    summary="A finding or recommendation code with its evidence",
    responses=NOT_FOUND,
)
def code_evidence(request: Request, code: str) -> Response:
    data = views.code_evidence(state_of(request).knowledge, code)
    if data is None:
        return _bad(f"unknown code {code[:60]!r}", 404)
    return _json(data)


router.include_router(api)
