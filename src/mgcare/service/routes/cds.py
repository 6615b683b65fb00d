"""CDS Hooks endpoints: discovery, the three services, feedback. Authentication happens before
these run (`CdsAuthMiddleware`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.routing import Route

from mgcare.service.cds.definitions import CdsService
from mgcare.service.cds.models import CdsRequest, FeedbackRequest
from mgcare.service.cds.prefetch import HookError
from mgcare.service.errors import validation_reason
from mgcare.service.state import ServiceState, state_of

router = APIRouter(prefix="/cds-services", tags=["CDS Hooks"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request, with a one-line reason in `detail`"},
    401: {"description": "Missing or invalid client JWT (empty body)"},
    404: {"description": "Unknown service id"},
    412: {"description": "The data the service needs could not be had"},
    413: {"description": "Request body too large"},
}


def _service(state: ServiceState, service_id: str) -> CdsService:
    service = state.services.get(service_id)
    if service is None:
        raise HookError(404, f"unknown CDS service {service_id[:100]!r}")
    return service


def _json(data: Any) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        media_type="application/json",
    )


@router.get("", summary="CDS Hooks discovery", responses={401: ERRORS[401]})
async def discovery(request: Request) -> Response:
    return Response(state_of(request).discovery_json, media_type="application/json")


CDS_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CdsRequest.model_json_schema()}},
    }
}


async def handle_call(request: Request) -> Response:
    """A hook call. The body is read and validated here (JSON, then the `CdsRequest` model):
    the same checks as FastAPI's body handling, with less overhead on the hot path."""
    state = state_of(request)
    try:
        body = CdsRequest.model_validate(json.loads(await request.body()))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, ValidationError
        reason = (
            validation_reason(exc.errors())
            if isinstance(exc, ValidationError)
            else f"body is not JSON ({type(exc).__name__})"
        )
        return JSONResponse({"detail": reason}, status_code=400)
    try:
        service = _service(state, request.path_params["service_id"])
        result = await state.runner.run(service, body, state.base_url(request))
    except HookError as exc:
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)
    return Response(result, media_type="application/json")


@router.post(
    "/{service_id}",
    summary="Call a CDS service",
    responses=ERRORS,
    openapi_extra=CDS_REQUEST_BODY,
)
async def call_service(service_id: str, request: Request) -> Response:
    """Documents the call in OpenAPI; requests are served by `FAST_ROUTE` (same handler)."""
    return await handle_call(request)


FAST_ROUTE = Route(f"{router.prefix}/{{service_id}}", handle_call, methods=["POST"])
"""The hot path as a plain Starlette route, put first by `create_app`: FastAPI's dependency
resolution costs about as much as the rest of a cached patient-view call."""


@router.post("/{service_id}/feedback", summary="Feedback on cards", responses=ERRORS)
def feedback(service_id: str, body: FeedbackRequest, request: Request) -> Response:
    state = state_of(request)
    try:
        service = _service(state, service_id)
    except HookError as exc:
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)
    stored = state.feedback.store(service.id, body)
    return _json({"stored": stored})
