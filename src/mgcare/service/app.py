"""The FastAPI application: `create_app(settings)`.

All expensive work happens here, once per worker: the knowledge pack and food database are
loaded, the search index and the FHIR models are warmed, discovery and knowledge JSON are
serialised. Requests then only parse, assess and answer.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.cors import CORSMiddleware

from mgcare import __version__
from mgcare.diet.foods import load_food_database
from mgcare.diet.search import search_foods
from mgcare.fhir import record_from_fhir
from mgcare.knowledge import Knowledge, load_knowledge
from mgcare.knowledge_view import knowledge_summary
from mgcare.service.cds.cards import CardBuilder
from mgcare.service.cds.definitions import cds_services, prefetch_templates
from mgcare.service.cds.hooks import CardMemo, HookRunner
from mgcare.service.cds.prefetch import Gatherer, ParseCache
from mgcare.service.errors import validation_reason
from mgcare.service.feedback import FeedbackStore
from mgcare.service.fhir_client import FhirClient, FhirLimits
from mgcare.service.middleware import BodyLimitMiddleware, CdsAuthMiddleware
from mgcare.service.routes import api, cds, dev
from mgcare.service.security.jwt import JwksCache, JwtVerifier
from mgcare.service.security.replay import MemoryReplayStore, ReplayStore, SqliteReplayStore
from mgcare.service.settings import Settings
from mgcare.service.state import ServiceState

log = logging.getLogger("mgcare.service")

DEV_BANNER = (
    "\n" + "!" * 78 + "\n"
    "!!  mgcare DEV MODE: CDS Hooks JWT verification is OFF. Anyone who can reach this\n"
    "!!  port can call the services. For local demos only; never with real patient data.\n"
    + "!"
    * 78
)


def _warm(knowledge: Knowledge, foods: Any) -> None:
    """First calls are slow (model classes, search index, MILP); pay that at start-up."""
    record_from_fhir(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"resource": {"resourceType": "Patient", "id": "warm", "gender": "female"}},
                {
                    "resource": {
                        "resourceType": "Observation",
                        "id": "warm-mg",
                        "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "2601-3"}]},
                        "effectiveDateTime": "2020-01-01",
                        "valueQuantity": {
                            "value": 0.8,
                            "unit": "mmol/L",
                            "system": "http://unitsofmeasure.org",
                            "code": "mmol/L",
                        },
                    }
                },
                {
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "id": "warm-med",
                        "status": "active",
                        "intent": "order",
                        "subject": {"reference": "Patient/warm"},
                        "medicationCodeableConcept": {"text": "warm"},
                    }
                },
                {
                    "resource": {
                        "resourceType": "Condition",
                        "id": "warm-cond",
                        "subject": {"reference": "Patient/warm"},
                        "code": {"text": "warm"},
                    }
                },
            ],
        },
        knowledge,
    )
    search_foods(foods, "spinach", limit=1)


def _replay_store(settings: Settings) -> ReplayStore:
    if settings.replay_store == "sqlite":
        return SqliteReplayStore(settings.feedback_db)
    return MemoryReplayStore(settings.replay_capacity)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A ready application for `settings` (default: from the environment)."""
    settings = settings or Settings.from_env()
    knowledge = load_knowledge(settings.site_config)
    foods = load_food_database()
    _warm(knowledge, foods)
    http = httpx.AsyncClient(
        follow_redirects=False,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
    limits = FhirLimits(
        timeout_seconds=settings.fhir_timeout_seconds,
        max_pages=settings.fhir_max_pages,
        max_resources=settings.fhir_max_resources,
        max_bytes=settings.max_body_bytes,
    )
    services = cds_services(knowledge)
    gatherer = Gatherer(
        knowledge=knowledge,
        templates=prefetch_templates(knowledge),
        fhir=FhirClient(http, limits),
        cache=ParseCache(settings.parse_cache_size),
        fetch_budget_seconds=settings.fhir_total_seconds,
        fhir_allowlist=settings.fhir_server_allowlist,
    )
    runner = HookRunner(
        knowledge=knowledge,
        gatherer=gatherer,
        builder=CardBuilder(knowledge),
        default_lang=settings.lang,
        as_of=settings.as_of,
        memo=CardMemo(settings.parse_cache_size),
    )
    state = ServiceState(
        settings=settings,
        knowledge=knowledge,
        foods=foods,
        services=services,
        discovery_json=json.dumps(
            {"services": [s.discovery() for s in services.values()]}, ensure_ascii=False
        ).encode(),
        knowledge_json=json.dumps(knowledge_summary(knowledge), ensure_ascii=False).encode(),
        runner=runner,
        feedback=FeedbackStore(settings.store_url()),
        http=http,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await http.aclose()
        state.feedback.close()

    app = FastAPI(
        title="mgcare",
        version=__version__,
        description=(
            "Magnesium and cardiovascular health: cited clinical decision support. REST API "
            "and CDS Hooks 2.0 services. Supports, does not replace, clinical judgement."
        ),
        lifespan=lifespan,
    )
    app.state.mgcare = state

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_reason(exc.errors())}, status_code=400)

    app.include_router(cds.router)  # first: the hot path matches without scanning REST routes
    app.include_router(api.router)
    app.router.routes.insert(0, cds.FAST_ROUTE)
    if importlib.util.find_spec("jinja2") is not None:  # the `web` extra: pages beside the API
        from mgcare.web.app import mount as mount_web

        mount_web(app, settings)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    if settings.dev:
        app.include_router(dev.router)
        log.warning(DEV_BANNER)
    else:
        if not settings.trusted_issuers:
            log.warning("no trusted issuers configured: every CDS Hooks call will get 401")
        if settings.public_base_url is None:
            log.warning(
                "MGCARE_SERVICE_PUBLIC_URL is not set: JWT `aud` is checked against the Host "
                "header; set the public base URL in production"
            )
        verifier = JwtVerifier(
            settings,
            _replay_store(settings),
            JwksCache(http, settings.jwks_cache_seconds, settings.jwks_refresh_min_seconds),
        )
        app.add_middleware(
            CdsAuthMiddleware, verifier=verifier, public_base_url=settings.public_base_url
        )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    # Everything loaded so far lives as long as the worker: keep it out of the cyclic GC, whose
    # full passes over the knowledge pack and food tables otherwise stall requests (p99).
    gc.collect()
    gc.freeze()
    log.info(
        "mgcare %s ready (knowledge %s, %s, as of %s)",
        __version__,
        knowledge.version,
        "dev mode" if settings.dev else "JWT auth on",
        settings.as_of or date.today(),
    )
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers (`uvicorn --factory mgcare.service.app:app_from_env`)."""
    return create_app(Settings.from_env())
