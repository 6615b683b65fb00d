"""Bad input to the CDS Hooks endpoints (authenticated): always a 4xx with a one-line reason,
never a 500, and nothing stored half-way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.cards_check import hook_request
from tests.service.conftest import TokenFactory, bearer, feedback_count
from tests.service.ehr import observation, searchset

PV = "mgcare-patient-view"
OSIGN = "mgcare-order-sign"
CONTEXT = {"userId": "Practitioner/1", "patientId": "p1"}
PATIENT = {"patient": {"resourceType": "Patient", "id": "p1", "gender": "male"}}


def post(
    http: httpx.Client, service: str, token: TokenFactory, path: str, **kwargs: Any
) -> httpx.Response:
    url = f"{service}/cds-services/{path}"
    return http.post(url, headers=bearer(token(url)), **kwargs)


def assert_reason(response: httpx.Response, status: int, words: str | None = None) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail
    if words is not None:
        assert words in detail


BAD_BODIES: dict[str, tuple[Any, str | None]] = {
    "not an object": ([1, 2, 3], None),
    "no hook": ({"hookInstance": "x", "context": CONTEXT}, "hook"),
    "no context": ({"hook": "patient-view", "hookInstance": "x"}, "context"),
    "token without server": (
        hook_request(
            "patient-view",
            CONTEXT,
            PATIENT,
            fhirAuthorization={"access_token": "t", "token_type": "Bearer"},
        ),
        "fhirServer",
    ),
    "server not http": (
        hook_request("patient-view", CONTEXT, PATIENT, fhirServer="file:///etc"),
        "fhirServer",
    ),
    "bad patient id": (
        hook_request("patient-view", {"patientId": "../../x"}, PATIENT),
        "patientId",
    ),
    "no patient id": (hook_request("patient-view", {"userId": "u"}, PATIENT), "patientId"),
    "wrong language": (
        hook_request("patient-view", CONTEXT, PATIENT, extension={"org.mgcare.lang": "fr"}),
        "org.mgcare.lang",
    ),
    "patient mismatch": (
        hook_request("patient-view", CONTEXT, {"patient": {"resourceType": "Patient", "id": "p2"}}),
        "p2",
    ),
    "invalid FHIR in prefetch": (
        hook_request(
            "patient-view",
            CONTEXT,
            {
                **PATIENT,
                "magnesium": searchset(
                    [{**observation("m", "2601-3", 0.8, "mmol/L"), "status": 7}]
                ),
            },
        ),
        "prefetch.magnesium",
    ),
    "impossible value": (
        hook_request(
            "patient-view",
            CONTEXT,
            {**PATIENT, "magnesium": searchset([observation("m", "2601-3", 900, "mmol/L")])},
        ),
        "prefetch.magnesium",
    ),
    "wrong hook for the service": (hook_request("order-sign", CONTEXT, PATIENT), "answers hook"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_request_bodies(
    http: httpx.Client, service: str, token: TokenFactory, case: str
) -> None:
    body, words = BAD_BODIES[case]
    assert_reason(post(http, service, token, PV, json=body), 400, words)


def test_malformed_json(http: httpx.Client, service: str, token: TokenFactory) -> None:
    url = f"{service}/cds-services/{PV}"
    response = http.post(
        url,
        content=b'{"hook": ',
        headers={"Content-Type": "application/json", **bearer(token(url))},
    )
    assert_reason(response, 400)


def test_order_hooks_need_draft_orders(
    http: httpx.Client, service: str, token: TokenFactory
) -> None:
    body = hook_request("order-sign", CONTEXT, PATIENT)
    assert_reason(post(http, service, token, OSIGN, json=body), 400, "draftOrders")
    body["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"nope": 1}]}
    assert_reason(post(http, service, token, OSIGN, json=body), 400, "draftOrders")


def test_unknown_service(http: httpx.Client, service: str, token: TokenFactory) -> None:
    body = hook_request("patient-view", CONTEXT, PATIENT)
    assert_reason(post(http, service, token, "no-such-service", json=body), 404, "no-such-service")
    assert_reason(
        post(http, service, token, "no-such-service/feedback", json={"feedback": []}), 400
    )


def test_oversized_requests_are_413(http: httpx.Client, service: str, token: TokenFactory) -> None:
    big = b'{"hook": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    url = f"{service}/cds-services/{PV}"
    headers = {"Content-Type": "application/json", **bearer(token(url))}
    assert_reason(http.post(url, content=big, headers=headers), 413)

    def chunks() -> Any:
        for _ in range(10):
            yield b"x" * (1024 * 1024)

    chunked = http.post(
        url, content=chunks(), headers={"Content-Type": "application/json", **bearer(token(url))}
    )
    assert_reason(chunked, 413)


def _feedback(outcome: str = "overridden", **extra: Any) -> dict[str, Any]:
    return {"card": "c1", "outcome": outcome, "outcomeTimestamp": "2020-12-11T00:00:00Z", **extra}


def test_feedback_is_all_or_nothing(
    http: httpx.Client, service: str, token: TokenFactory, service_dir: Path
) -> None:
    path = f"{PV}/feedback"
    before = feedback_count(service_dir)
    bad_batches = [
        {"feedback": [_feedback(), _feedback(outcome="maybe")]},
        {"feedback": [_feedback(), _feedback(outcome="accepted")]},  # accepted needs suggestions
        {"feedback": [_feedback(), {"card": "c2", "outcome": "overridden"}]},
        {"feedback": []},
        {"feedback": "nope"},
    ]
    for batch in bad_batches:
        assert_reason(post(http, service, token, path, json=batch), 400)
    url = f"{service}/cds-services/{path}"
    huge = {"feedback": [_feedback(overrideReason={"userComment": "x" * 9000})] * 1000}
    response = http.post(url, json=huge, headers=bearer(token(url)))
    assert response.status_code in (400, 413)
    assert feedback_count(service_dir) == before
