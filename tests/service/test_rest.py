"""REST API v1 over real HTTP: the same JSON as the CLI, foods, diet, knowledge, evidence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.service.ehr import SYNTHEA

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "src" / "mgcare" / "demo" / "demo_patient.json"


def cli_json(*args: str) -> object:
    result = subprocess.run(
        [sys.executable, "-m", "mgcare.cli", *args, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_assess_matches_the_cli(http: httpx.Client, dev_service: str) -> None:
    for path, lang in ((DEMO, "en"), (SYNTHEA, "zh")):
        response = http.post(
            f"{dev_service}/api/v1/assess",
            params={"as_of": "2026-11-25", "lang": lang},
            content=path.read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        expected = cli_json("assess", str(path), "--as-of", "2026-11-25", "--lang", lang)
        assert response.json() == expected


def test_assess_bad_input_is_400_with_reason(http: httpx.Client, dev_service: str) -> None:
    url = f"{dev_service}/api/v1/assess"
    cases = [
        (b"{broken", None),
        (b"[1, 2]", None),
        (json.dumps({"resourceType": "Bundle", "type": "weird"}).encode(), "Bundle"),
        (json.dumps({"labs": [{"analyte": "magnesium", "value": 0.8}]}).encode(), "mgcare record"),
    ]
    for content, words in cases:
        response = http.post(url, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, content
        detail = response.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail
        if words:
            assert words in detail
    assert http.post(url, params={"as_of": "tomorrow"}, json={}).status_code == 400


def test_foods(http: httpx.Client, dev_service: str) -> None:
    hits = http.get(f"{dev_service}/api/v1/foods/search", params={"q": "spinach", "limit": 3})
    assert hits.status_code == 200
    assert hits.json() == cli_json("foods", "search", "spinach", "--limit", "3")
    chinese = http.get(f"{dev_service}/api/v1/foods/search", params={"q": "菠菜"}).json()
    assert chinese and chinese[0]["name_zh"]
    shown = http.get(f"{dev_service}/api/v1/foods/12061")
    assert shown.json() == cli_json("foods", "show", "12061")
    assert http.get(f"{dev_service}/api/v1/foods/99999").status_code == 404
    assert http.get(f"{dev_service}/api/v1/foods/search", params={"q": ""}).status_code == 400


def test_diet_report_and_plan(http: httpx.Client, dev_service: str) -> None:
    report = http.post(
        f"{dev_service}/api/v1/diet/report",
        json={
            "entries": [
                {"food": "11457", "amount": 30, "unit": "g"},
                {"supplement": "magnesium citrate", "elemental_mg": 100},
            ],
            "age": 45,
            "sex": "female",
        },
    )
    assert report.status_code == 200, report.text
    data = report.json()
    assert {"totals", "magnesium_known_share", "reference", "supplemental_magnesium_mg"} <= set(
        data
    )
    assert data["supplemental_magnesium_mg"] == 100.0
    bad = http.post(
        f"{dev_service}/api/v1/diet/report",
        json={
            "entries": [{"food": "11457", "amount": 1, "unit": "parsec"}],
            "age": 45,
            "sex": "female",
        },
    )
    assert bad.status_code == 400 and bad.json()["detail"]
    plan = http.get(
        f"{dev_service}/api/v1/diet/plan",
        params={"age": 45, "sex": "male", "intake_mg": 200, "exclude": ["nuts", "dairy"]},
    )
    assert plan.status_code == 200, plan.text
    assert plan.json()["foods"]


def test_knowledge_and_evidence(http: httpx.Client, dev_service: str) -> None:
    knowledge = http.get(f"{dev_service}/api/v1/knowledge").json()
    assert knowledge == cli_json("knowledge")
    references = http.get(f"{dev_service}/api/v1/evidence/references").json()
    assert len(references) == knowledge["counts"]["references"]
    one = http.get(f"{dev_service}/api/v1/evidence/references/{references[0]['id']}")
    assert one.json() == references[0]
    claims = http.get(f"{dev_service}/api/v1/evidence/claims").json()
    assert len(claims) == knowledge["counts"]["claims"]
    assert http.get(f"{dev_service}/api/v1/evidence/claims/{claims[0]['id']}").status_code == 200
    code = http.get(f"{dev_service}/api/v1/evidence/codes/check-serum-magnesium").json()
    assert code["kind"] == "recommendation" and code["references"]
    assert http.get(f"{dev_service}/api/v1/evidence/codes/nope").status_code == 404
    assert http.get(f"{dev_service}/api/v1/evidence/references/nope").status_code == 404


def test_health_index_openapi_and_demo(http: httpx.Client, dev_service: str, service: str) -> None:
    assert http.get(f"{service}/health").json()["auth"] == "jwt"
    assert http.get(f"{dev_service}/health").json()["auth"] == "off (dev mode)"
    assert "demo" in http.get(f"{dev_service}/").json()["links"]
    assert http.get(f"{service}/dev/demo").status_code == 404  # dev endpoints only in dev mode
    schema = http.get(f"{service}/openapi.json").json()
    assert "/cds-services/{service_id}" in schema["paths"]
    assert "/api/v1/assess" in schema["paths"]
    demo = http.get(f"{dev_service}/dev/demo").json()
    cards = demo["cds_hooks_response"]["cards"]
    assert cards[0]["extension"]["org.mgcare.code"] == "hypomagnesemia"
    assert demo["assessment"]["serum_magnesium"]["status"] == "hypomagnesemia"
