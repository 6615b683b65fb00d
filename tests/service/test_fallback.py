"""Fetching what was not prefetched from a fake EHR FHIR server on loopback: token use, paging,
timeouts, HTTP 500, OperationOutcome, `null` and partial prefetch. Unavailable data means
fewer cards (never a false 'not measured'); 412 only when nothing at all can be had."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.service.cards_check import call, check_response, codes, hook_request
from tests.service.conftest import TokenFactory
from tests.service.ehr import SYNTHEA_PATIENT_ID, FakeEhr, prefetch_for, synthea_resources

PV = "mgcare-patient-view"
FULL = {"check-serum-magnesium", "magnesium-not-measured", "depleting-medication"}
WITHOUT_MG = {"depleting-medication"}
FHIR_TOKEN = "ehr-issued-access-token"


def request(ehr_base: str, scenario: str, prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    return hook_request(
        "patient-view",
        {"userId": "Practitioner/1", "patientId": SYNTHEA_PATIENT_ID},
        prefetch,
        fhirServer=f"{ehr_base}/fhir/{scenario}",
        fhirAuthorization={
            "access_token": FHIR_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Observation.read",
            "subject": "mgcare",
        },
    )


def seen(ehr: FakeEhr, scenario: str) -> list[tuple[str, str, str | None]]:
    return [s for s in ehr.seen if s[0] == scenario]


def test_no_prefetch_fetches_everything_with_the_token(
    http: httpx.Client, service: str, token: TokenFactory, fake_ehr: tuple[FakeEhr, str]
) -> None:
    ehr, base = fake_ehr
    response = call(http, service, token, PV, request(base, "ok"))
    assert response.status_code == 200, response.text
    assert set(codes(check_response(response.json()))) == FULL
    calls = seen(ehr, "ok")
    assert {c[1].split("?")[0] for c in calls} >= {
        f"Patient/{SYNTHEA_PATIENT_ID}",
        "Observation",
        "MedicationRequest",
        "Condition",
    }
    assert all(c[2] == f"Bearer {FHIR_TOKEN}" for c in calls)


def test_paging_is_followed(
    http: httpx.Client, service: str, token: TokenFactory, fake_ehr: tuple[FakeEhr, str]
) -> None:
    ehr, base = fake_ehr
    response = call(http, service, token, PV, request(base, "paged"))
    assert set(codes(check_response(response.json()))) == FULL
    assert any("_page=1" in c[1] for c in seen(ehr, "paged"))


def test_next_link_to_another_origin_is_not_followed(
    http: httpx.Client, service: str, token: TokenFactory, fake_ehr: tuple[FakeEhr, str]
) -> None:
    ehr, base = fake_ehr
    response = call(http, service, token, PV, request(base, "foreign"))
    assert response.status_code == 200
    assert not any("_page=" in c[1] for c in seen(ehr, "foreign"))


@pytest.mark.slow
def test_slow_observations_time_out_and_give_fewer_cards(
    http: httpx.Client, service: str, token: TokenFactory, fake_ehr: tuple[FakeEhr, str]
) -> None:
    _, base = fake_ehr
    started = time.monotonic()
    response = call(http, service, token, PV, request(base, "slow"))
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert set(codes(check_response(response.json()))) == WITHOUT_MG
    assert elapsed < 3.5  # the fetch budget is 2 s


def test_operation_outcome_gives_fewer_cards(
    http: httpx.Client, service: str, token: TokenFactory, fake_ehr: tuple[FakeEhr, str]
) -> None:
    _, base = fake_ehr
    response = call(http, service, token, PV, request(base, "outcome"))
    assert set(codes(check_response(response.json()))) == WITHOUT_MG


@pytest.mark.parametrize("scenario", ["error", "notjson"])
def test_nothing_to_be_had_is_412(
    http: httpx.Client,
    service: str,
    token: TokenFactory,
    fake_ehr: tuple[FakeEhr, str],
    scenario: str,
) -> None:
    _, base = fake_ehr
    response = call(http, service, token, PV, request(base, scenario))
    assert response.status_code == 412
    assert response.json()["detail"]


def test_null_and_operation_outcome_prefetch_are_fetched(
    http: httpx.Client,
    service: str,
    token: TokenFactory,
    fake_ehr: tuple[FakeEhr, str],
    templates: dict[str, str],
) -> None:
    ehr, base = fake_ehr
    prefetch = prefetch_for(synthea_resources(), templates, SYNTHEA_PATIENT_ID)
    prefetch["magnesium"] = None
    prefetch["medications"] = {"resourceType": "OperationOutcome", "issue": []}
    before = len(ehr.seen)
    response = call(http, service, token, PV, request(base, "ok", prefetch))
    assert set(codes(check_response(response.json()))) == FULL
    fetched = {c[1].split("?")[0] for c in ehr.seen[before:]}
    assert fetched == {"Observation", "MedicationRequest"}


def test_without_fhir_server_missing_data_gives_fewer_cards(
    http: httpx.Client, service: str, token: TokenFactory, templates: dict[str, str]
) -> None:
    prefetch = prefetch_for(synthea_resources(), templates, SYNTHEA_PATIENT_ID)
    del prefetch["magnesium"]
    body = hook_request(
        "patient-view", {"userId": "Practitioner/1", "patientId": SYNTHEA_PATIENT_ID}, prefetch
    )
    assert set(codes(check_response(call(http, service, token, PV, body).json()))) == WITHOUT_MG
    prefetch["magnesium"] = None  # the client says: no data -> "not measured" is true
    assert set(codes(check_response(call(http, service, token, PV, body).json()))) == FULL


def test_partial_prefetch_bundle_is_completed(
    http: httpx.Client,
    service: str,
    token: TokenFactory,
    fake_ehr: tuple[FakeEhr, str],
    templates: dict[str, str],
) -> None:
    ehr, base = fake_ehr
    prefetch = prefetch_for(synthea_resources(), templates, SYNTHEA_PATIENT_ID)
    prefetch["medications"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "link": [{"relation": "next", "url": f"{base}/fhir/ok/MedicationRequest?page=2"}],
    }
    before = len(ehr.seen)
    response = call(http, service, token, PV, request(base, "ok", prefetch))
    assert set(codes(check_response(response.json()))) == FULL
    assert [c[1].split("?")[0] for c in ehr.seen[before:]] == ["MedicationRequest"]
