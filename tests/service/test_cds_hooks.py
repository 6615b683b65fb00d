"""CDS Hooks over real HTTP with JWT auth on: discovery, the spec's example requests, Synthea
prefetch, the three order scenarios of issue 4, language, feedback."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.cards_check import call, check_response, codes, hook_request
from tests.service.conftest import TokenFactory, bearer, feedback_count
from tests.service.ehr import (
    SYNTHEA_PATIENT_ID,
    load_json,
    medication_request,
    observation,
    prefetch_for,
    searchset,
    synthea_resources,
)

PV = "mgcare-patient-view"
OSEL = "mgcare-order-select"
OSIGN = "mgcare-order-sign"
SPEC_PATIENT = "1288992"


def synthea_prefetch(
    templates: dict[str, str], patient_id: str = SYNTHEA_PATIENT_ID
) -> dict[str, Any]:
    return prefetch_for(synthea_resources(patient_id), templates, patient_id)


def with_entries(prefetch: dict[str, Any], key: str, *resources: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(prefetch)
    bundle = changed.get(key) or searchset([])
    bundle["entry"] = [{"resource": r} for r in resources] + bundle.get("entry", [])
    changed[key] = bundle
    return changed


def order_context(
    name: str, *drafts: dict[str, Any], select: list[str] | None = None
) -> dict[str, Any]:
    """The spec's example context with extra draft MedicationRequests (selected, for order-select)."""
    context: dict[str, Any] = load_json(name)["context"]
    for draft in drafts:
        context["draftOrders"]["entry"].append({"resource": draft})
        if "selections" in context:
            context["selections"].append(f"MedicationRequest/{draft['id']}")
    if select is not None:
        context["selections"] = select
    return context


def test_discovery_lists_three_services_with_prefetch(
    http: httpx.Client, service: str, token: TokenFactory
) -> None:
    url = f"{service}/cds-services"
    response = http.get(url, headers=bearer(token(url)))
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json()["services"]}
    assert {s: services[s]["hook"] for s in services} == {
        PV: "patient-view",
        OSEL: "order-select",
        OSIGN: "order-sign",
    }
    example = load_json("discovery_response.json")["services"][0]
    for entry in services.values():
        assert set(example) <= set(entry)
        prefetch = entry["prefetch"]
        assert prefetch["patient"] == "Patient/{{context.patientId}}"
        for key in ("magnesium", "calcium", "potassium", "creatinine", "egfr"):
            assert prefetch[key].startswith("Observation?patient={{context.patientId}}&code=")
        assert "http://loinc.org|19123-9" in prefetch["magnesium"]
        assert "http://loinc.org|2601-3" in prefetch["magnesium"]
        assert prefetch["medications"].startswith("MedicationRequest?patient=")
        assert "status=active" in prefetch["medications"]
        assert prefetch["conditions"].startswith("Condition?patient=")


def test_patient_view_synthea_prefetch(
    http: httpx.Client, service: str, token: TokenFactory, templates: dict[str, str]
) -> None:
    body = hook_request(
        "patient-view",
        {"userId": "Practitioner/example", "patientId": SYNTHEA_PATIENT_ID},
        synthea_prefetch(templates),
    )
    response = call(http, service, token, PV, body)
    assert response.status_code == 200, response.text
    cards = check_response(response.json())
    assert set(codes(cards)) == {
        "check-serum-magnesium",
        "magnesium-not-measured",
        "depleting-medication",
    }
    assert cards[0]["indicator"] == "warning"  # most urgent first
    monitoring = next(
        c for c in cards if c["extension"]["org.mgcare.code"] == "check-serum-magnesium"
    )
    action = monitoring["suggestions"][0]["actions"][0]
    assert action["type"] == "create"
    assert action["resource"]["resourceType"] == "ServiceRequest"
    assert action["resource"]["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "19123-9",
        "display": "Magnesium [Mass/volume] in Serum or Plasma",
    }
    assert action["resource"]["subject"] == {"reference": f"Patient/{SYNTHEA_PATIENT_ID}"}
    depleting = next(
        c for c in cards if c["extension"]["org.mgcare.code"] == "depleting-medication"
    )
    assert "Hydrochlorothiazide" in depleting["summary"]
    assert "**Evidence**" in depleting["detail"]


def test_spec_patient_view_example_without_usable_data_is_412(
    http: httpx.Client, service: str, token: TokenFactory
) -> None:
    """The spec's example prefetches only `patientToGreet` (not a key of ours) and names a FHIR
    server that is not allow-listed here: nothing can be had, so 412 with a reason."""
    body = load_json("patient-view_request.json")
    response = call(http, service, token, PV, body)
    assert response.status_code == 412
    assert "FHIR server" in response.json()["detail"]


def test_spec_patient_view_example_with_our_prefetch(
    http: httpx.Client, service: str, token: TokenFactory, templates: dict[str, str]
) -> None:
    body = load_json("patient-view_request.json")
    body.pop("fhirAuthorization")
    body.pop("fhirServer")
    body["prefetch"].update(synthea_prefetch(templates, SPEC_PATIENT))
    response = call(http, service, token, PV, body)
    assert response.status_code == 200, response.text
    assert "depleting-medication" in codes(check_response(response.json()))


def test_low_magnesium_and_chinese(
    http: httpx.Client, service: str, token: TokenFactory, templates: dict[str, str]
) -> None:
    prefetch = with_entries(
        synthea_prefetch(templates), "magnesium", observation("mg-low", "2601-3", 0.45, "mmol/L")
    )
    context = {"userId": "Practitioner/example", "patientId": SYNTHEA_PATIENT_ID}
    english = call(http, service, token, PV, hook_request("patient-view", context, prefetch))
    cards = check_response(english.json())
    assert codes(cards)[0] == "hypomagnesemia-severe"
    assert cards[0]["indicator"] == "critical"
    assert "magnesium-not-measured" not in codes(cards)
    chinese = call(
        http,
        service,
        token,
        PV,
        hook_request("patient-view", context, prefetch, extension={"org.mgcare.lang": "zh"}),
    )
    zh_cards = check_response(chinese.json())
    assert codes(zh_cards) == codes(cards)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh_cards[0]["summary"])


@pytest.mark.parametrize(
    ("name", "service_id"),
    [("order-select_context_R4.json", OSEL), ("order-sign_context_R4.json", OSIGN)],
)
def test_spec_order_examples_give_no_cards(
    http: httpx.Client,
    service: str,
    token: TokenFactory,
    templates: dict[str, str],
    name: str,
    service_id: str,
) -> None:
    """Amoxicillin and a pureed diet change nothing about magnesium: an empty card list."""
    hook = "order-select" if service_id == OSEL else "order-sign"
    body = hook_request(hook, load_json(name)["context"], synthea_prefetch(templates, SPEC_PATIENT))
    response = call(http, service, token, service_id, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"cards": []}


FUROSEMIDE = medication_request("draft-furosemide", "Furosemide 40 MG Oral Tablet", "draft")
MG_OXIDE = medication_request("draft-mg", "Magnesium oxide 400 MG Oral Tablet", "draft")
CIPRO = medication_request("draft-cipro", "Ciprofloxacin 500 MG Oral Tablet", "draft")


def test_order_select_depleting_drug_without_recent_mg(
    http: httpx.Client, service: str, token: TokenFactory, templates: dict[str, str]
) -> None:
    context = order_context("order-select_context_R4.json", FUROSEMIDE)
    body = hook_request("order-select", context, synthea_prefetch(templates, SPEC_PATIENT))
    cards = check_response(call(http, service, token, OSEL, body).json())
    assert codes(cards) == ["check-serum-magnesium"]
    card = cards[0]
    assert card["indicator"] == "warning"
    assert card["extension"]["org.mgcare.related-codes"] == ["depleting-medication"]
    assert "Furosemide" in card["detail"]
    assert card["suggestions"][0]["actions"][0]["resource"]["resourceType"] == "ServiceRequest"
    # Not selected: order-select speaks only about the selected orders.
    unselected = order_context(
        "order-select_context_R4.json", FUROSEMIDE, select=["NutritionOrder/pureeddiet-simple"]
    )
    body = hook_request("order-select", unselected, synthea_prefetch(templates, SPEC_PATIENT))
    assert check_response(call(http, service, token, OSEL, body).json()) == []


def test_order_select_depleting_drug_with_recent_normal_mg_is_quiet(
    http: httpx.Client, service: str, token: TokenFactory, templates: dict[str, str]
) -> None:
    prefetch = with_entries(
        synthea_prefetch(templates, SPEC_PATIENT),
        "magnesium",
        observation("mg-ok", "2601-3", 0.85, "mmol/L"),
    )
    body = hook_request(
        "order-select", order_context("order-select_context_R4.json", FUROSEMIDE), prefetch
    )
    assert check_response(call(http, service, token, OSEL, body).json()) == []


def test_order_sign_magnesium_product_with_hypermagnesaemia(
    http: httpx.Client, service: str, token: TokenFactory, templates: dict[str, str]
) -> None:
    prefetch = with_entries(
        synthea_prefetch(templates, SPEC_PATIENT),
        "magnesium",
        observation("mg-high", "2601-3", 1.6, "mmol/L"),
    )
    body = hook_request(
        "order-sign", order_context("order-sign_context_R4.json", MG_OXIDE), prefetch
    )
    cards = check_response(call(http, service, token, OSIGN, body).json())
    assert cards, "expected a warning"
    assert cards[0]["indicator"] in ("warning", "critical")
    assert codes(cards)[0] in ("magnesium-raising-medication", "stop-magnesium-products")
    removal = [
        a
        for c in cards
        for s in c.get("suggestions", [])
        for a in s["actions"]
        if a["type"] == "delete"
    ]
    assert removal and removal[0]["resourceId"] == "MedicationRequest/draft-mg"


def test_order_sign_magnesium_product_with_low_egfr(
    http: httpx.Client, service: str, token: TokenFactory, templates: dict[str, str]
) -> None:
    prefetch = synthea_prefetch(templates, SPEC_PATIENT)
    prefetch = with_entries(prefetch, "magnesium", observation("mg-ok", "2601-3", 0.85, "mmol/L"))
    prefetch["egfr"] = searchset([observation("egfr-low", "33914-3", 22, "mL/min/{1.73_m2}")])
    body = hook_request(
        "order-sign", order_context("order-sign_context_R4.json", MG_OXIDE), prefetch
    )
    cards = check_response(call(http, service, token, OSIGN, body).json())
    assert "avoid-supplement-renal" in codes(cards)
    assert all(c["indicator"] != "info" for c in cards)
    renal = next(c for c in cards if c["extension"]["org.mgcare.code"] == "avoid-supplement-renal")
    assert renal["extension"]["org.mgcare.related-codes"] == ["magnesium-raising-medication"]


def test_order_select_spacing_with_chelating_drug(
    http: httpx.Client, service: str, token: TokenFactory, templates: dict[str, str]
) -> None:
    """A quinolone ordered for someone taking a Mg supplement, and a Mg supplement ordered for
    someone on levothyroxine: both get the dosing-separation card."""
    prefetch = synthea_prefetch(templates, SPEC_PATIENT)
    on_mg = with_entries(
        prefetch, "medications", medication_request("mg-home", "Magnesium citrate 100 mg")
    )
    body = hook_request("order-select", order_context("order-select_context_R4.json", CIPRO), on_mg)
    cards = check_response(call(http, service, token, OSEL, body).json())
    assert codes(cards) == ["separate-dosing"]
    assert cards[0]["extension"]["org.mgcare.related-codes"] == ["supplement-interaction"]
    assert "Ciprofloxacin" in cards[0]["detail"]
    on_thyroxine = with_entries(
        prefetch,
        "medications",
        medication_request("lt4", "Levothyroxine Sodium 0.1 MG Oral Tablet"),
    )
    body = hook_request(
        "order-sign", order_context("order-sign_context_R4.json", MG_OXIDE), on_thyroxine
    )
    cards = check_response(call(http, service, token, OSIGN, body).json())
    assert "separate-dosing" in codes(cards)


def test_feedback_is_stored(
    http: httpx.Client, service: str, token: TokenFactory, service_dir: Path
) -> None:
    url = f"{service}/cds-services/{PV}/feedback"
    before = feedback_count(service_dir)
    body = {
        "feedback": [
            {
                "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            },
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"code": "d7ecf885", "system": "https://example.com/override"},
                    "userComment": "A comment entered by the clinician.",
                },
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            },
        ]
    }
    response = http.post(url, json=body, headers=bearer(token(url)))
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 2}
    assert feedback_count(service_dir) == before + 2
