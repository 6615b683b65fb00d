"""Development-only endpoints (mounted with `--dev`): the bundled demo patient, assessed and
shown as the patient-view cards an EHR would get, so a newcomer sees the service work at once."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request

from mgcare import views
from mgcare.demo import DEMO_AS_OF
from mgcare.inputs import record_from_document
from mgcare.service.cds.cards import cards
from mgcare.service.cds.hooks import patient_view_specs
from mgcare.service.routes.api import LangQuery
from mgcare.service.state import state_of

router = APIRouter(prefix="/dev", tags=["development"])


def demo_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        files("mgcare.demo").joinpath("demo_patient.json").read_text("utf-8")
    )
    return document


@router.get("/demo", summary="The demo patient: assessment and patient-view cards")
def demo(request: Request, lang: LangQuery = None) -> dict[str, Any]:
    state = state_of(request)
    chosen = lang or state.settings.lang
    record = record_from_document(demo_document(), state.knowledge, DEMO_AS_OF)
    assessment = views.assessment(record, state.knowledge, state.foods, DEMO_AS_OF, chosen)
    specs = patient_view_specs(assessment, mg_missing=False)
    return {
        "as_of": DEMO_AS_OF.isoformat(),
        "patient": record.person.model_dump(mode="json"),
        "cds_hooks_response": {
            "cards": cards(state.runner.builder, specs, chosen, state.base_url(request))
        },
        "assessment": assessment.model_dump(mode="json"),
    }
