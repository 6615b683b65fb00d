"""Checks that a CDS Hooks response follows the 2.0 spec to the letter, and helpers to call."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from mgcare.knowledge import FINDING_CODES, RECOMMENDATION_CODES
from tests.service.conftest import TokenFactory, bearer

CARD_FIELDS = {
    "uuid",
    "summary",
    "detail",
    "indicator",
    "source",
    "suggestions",
    "selectionBehavior",
    "overrideReasons",
    "links",
    "extension",
}


def no_empty(value: Any, where: str = "card") -> None:
    """The spec: JSON elements SHALL NOT be null or empty ("", [], {})."""
    assert value is not None, f"{where} is null"
    if isinstance(value, str | list | dict):
        assert len(value) > 0, f"{where} is empty"
    if isinstance(value, dict):
        for key, item in value.items():
            no_empty(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            no_empty(item, f"{where}[{index}]")


def check_card(card: dict[str, Any]) -> None:
    assert set(card) <= CARD_FIELDS, set(card) - CARD_FIELDS
    no_empty(card)
    uuid.UUID(card["uuid"])
    assert 0 < len(card["summary"]) < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["label"] == "mgcare"
    assert isinstance(card["detail"], str)
    code = card["extension"]["org.mgcare.code"]
    assert code in FINDING_CODES or code in RECOMMENDATION_CODES
    assert card["links"]
    for link in card["links"]:
        assert link["type"] == "absolute"
        assert link["url"].startswith(("http://", "https://"))
        assert link["label"]
    if "suggestions" in card:
        assert card["selectionBehavior"] in ("at-most-one", "any")
        for suggestion in card["suggestions"]:
            assert suggestion["label"]
            uuid.UUID(suggestion["uuid"])
            for action in suggestion["actions"]:
                assert action["type"] in ("create", "update", "delete")
                assert action["description"]
                if action["type"] == "create":
                    assert action["resource"]["resourceType"]
                if action["type"] == "delete":
                    assert "/" in action["resourceId"]


def check_response(data: dict[str, Any]) -> list[dict[str, Any]]:
    assert set(data) <= {"cards", "systemActions"}
    assert isinstance(data["cards"], list)
    for card in data["cards"]:
        check_card(card)
    return list(data["cards"])


def codes(cards: list[dict[str, Any]]) -> list[str]:
    return [c["extension"]["org.mgcare.code"] for c in cards]


def call(
    http: httpx.Client,
    base: str,
    token: TokenFactory | None,
    service_id: str,
    body: Any,
    **kwargs: Any,
) -> httpx.Response:
    url = f"{base}/cds-services/{service_id}"
    headers = bearer(token(url)) if token is not None else {}
    return http.post(url, json=body, headers=headers, **kwargs)


def hook_request(
    hook: str,
    context: dict[str, Any],
    prefetch: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body
