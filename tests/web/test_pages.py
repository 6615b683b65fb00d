"""The web pages end to end through the real app and a real SQLite store."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mgcare.store import make_engine
from mgcare.store.repository import table_counts
from tests.web.conftest import WebApp, person_fields, submit

PAGES = (
    "/app/",
    "/app/persons/new",
    "/app/evidence",
    "/app/evidence/claims",
    "/app/evidence/figure-1",
)
PERSON_PAGES = ("", "/labs/new", "/medications/new", "/conditions/new", "/food/new")


def rows(web: WebApp) -> dict[str, int]:
    engine = make_engine(web.url)
    try:
        return table_counts(engine)
    finally:
        engine.dispose()


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="error-{field}">(.*?)</p>', html, re.S)
    assert match is not None, f"no #error-{field}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_renders_in_both_languages(
    client: TestClient, new_person: Callable[..., int], lang: str
) -> None:
    person = new_person()
    paths = [*PAGES, *(f"/app/persons/{person}{suffix}" for suffix in PERSON_PAGES)]
    html_lang = "zh-Hans" if lang == "zh" else "en"
    for path in paths:
        response = client.get(path, params={"lang": lang})
        assert response.status_code == 200, (path, response.text[:300])
        assert f'<html lang="{html_lang}">' in response.text, path
        assert 'id="lang-switch"' in response.text, path
        assert 'id="disclaimer"' in response.text, path
        assert "Traceback" not in response.text
    assert client.cookies.get("mgcare_lang") == lang


def test_language_cookie_and_accept_language(client: TestClient) -> None:
    assert (
        '<html lang="zh-Hans">'
        in client.get("/app/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    )
    assert '<html lang="en">' in client.get("/app/", headers={"Accept-Language": "fr"}).text
    switched = client.get("/app/evidence", params={"lang": "zh"})
    assert 'href="/app/evidence?lang=en"' in switched.text
    # the cookie now wins over the browser's preference
    again = client.get("/app/", headers={"Accept-Language": "en"})
    assert '<html lang="zh-Hans">' in again.text
    assert "人员列表" in again.text


def test_person_to_dashboard_with_magnesium_status_and_chart(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    person = new_person(display_name="Wang Fang", external_id="MRN-1001")
    empty = client.get(f"/app/persons/{person}")
    assert 'id="no-mg"' in empty.text
    response = submit(
        client,
        f"/app/persons/{person}/labs/new",
        {"analyte": "magnesium", "value": "0.55", "unit": "mmol/L", "effective": "2026-11-20"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/app/persons/{person}?saved=lab"
    board = client.get(response.headers["location"])
    assert board.status_code == 200
    html = board.text
    assert 'id="person-name">Wang Fang<' in html
    status = html[html.index('id="mg-status"') : html.index('id="ca-mg"')]
    assert "0.55 mmol/L" in status
    assert "hypomagnesaemia" in status
    assert 'data-status="hypomagnesemia"' in status
    trend = html[html.index('id="mg-trend"') : html.index('id="findings"')]
    assert "<svg" in trend
    assert 'data-code="hypomagnesemia"' in html
    assert 'href="/app/evidence#SEED"' in html
    assert f'href="/app/persons/{person}/report.pdf"' in html
    for anchor in ("add-lab", "add-medication", "add-condition", "add-food", "download-pdf"):
        assert f'id="{anchor}"' in html
    assert "total;dur=" in board.headers["server-timing"]
    listing = client.get("/app/", params={"q": "MRN-1001"})
    assert 'id="person-list"' in listing.text
    assert f'href="/app/persons/{person}"' in listing.text
    assert "hypomagnesaemia" in listing.text
    zh = client.get(f"/app/persons/{person}", params={"lang": "zh"}).text
    assert "低镁血症" in zh


def test_lab_without_unit_is_refused_and_nothing_is_stored(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    person = new_person()
    before = rows(web)
    response = submit(
        client,
        f"/app/persons/{person}/labs/new",
        {"analyte": "magnesium", "value": "0.8", "unit": "", "effective": "2026-11-20"},
    )
    assert response.status_code == 422
    html = response.text
    assert field_error(html, "unit")
    assert 'aria-describedby="hint-unit error-unit" aria-invalid="true"' in html
    assert 'role="alert"' in html
    assert 'value="0.8"' in html  # values kept
    assert rows(web) == before


def test_impossible_magnesium_is_an_error_suspect_needs_confirmation(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    person = new_person()
    url = f"/app/persons/{person}/labs/new"
    before = rows(web)
    impossible = submit(
        client,
        url,
        {"analyte": "magnesium", "value": "18", "unit": "mmol/L", "effective": "2026-11-20"},
    )
    assert impossible.status_code == 422
    assert "mg/dL" in field_error(impossible.text, "value")
    suspect = {"analyte": "magnesium", "value": "1.8", "unit": "mmol/L", "effective": "2026-11-20"}
    warned = submit(client, url, suspect)
    assert warned.status_code == 422
    assert 'id="warning-value"' in warned.text
    assert 'id="confirm-implausible"' in warned.text
    assert rows(web) == before
    confirmed = submit(client, url, {**suspect, "confirm": "on"})
    assert confirmed.status_code == 303
    assert rows(web)["lab_results"] == before["lab_results"] + 1


def test_person_form_errors_and_duplicate_external_id(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    new_person(external_id="DUP-1")
    before = rows(web)
    missing = submit(client, "/app/persons/new", {"display_name": "", "sex": "x", "birth_date": ""})
    assert missing.status_code == 422
    for field in ("display_name", "sex", "birth_date"):
        assert field_error(missing.text, field)
    future = submit(client, "/app/persons/new", person_fields(birth_date="2099-01-01"))
    assert "future" in field_error(future.text, "birth_date")
    duplicate = submit(client, "/app/persons/new", person_fields(external_id="DUP-1"))
    assert duplicate.status_code == 422
    assert "DUP-1" in field_error(duplicate.text, "external_id")
    assert rows(web) == before


def test_food_search_in_chinese_and_english(client: TestClient) -> None:
    zh = client.get("/app/search/foods", params={"q": "菠菜"}).json()
    assert zh, "no hit for 菠菜"
    assert "spinach" in zh[0]["name"].lower()
    assert zh[0]["portions"], "spinach has household portions in SR28"
    en = client.get("/app/search/foods", params={"q": "spinach"}).json()
    assert "spinach" in en[0]["name"].lower()
    assert client.get("/app/search/foods", params={"q": ""}).json() == []


def test_food_entry_and_unknown_food(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    person = new_person()
    url = f"/app/persons/{person}/food/new"
    before = rows(web)
    unknown = submit(client, url, {"food_id": "99999", "grams": "100", "date": "2026-11-24"})
    assert unknown.status_code == 422
    assert field_error(unknown.text, "food_id")
    unchosen = submit(
        client, url, {"food_query": "菠菜", "food_id": "", "grams": "100", "date": "2026-11-24"}
    )
    assert unchosen.status_code == 422
    assert field_error(unchosen.text, "food_id")
    assert rows(web) == before
    spinach = client.get("/app/search/foods", params={"q": "菠菜"}).json()[0]["food"]
    saved = submit(client, url, {"food_id": spinach, "grams": "150", "date": "2026-11-24"})
    assert saved.status_code == 303
    board = client.get(f"/app/persons/{person}").text
    intake = board[board.index('id="intake"') : board.index('id="medications"')]
    assert "<svg" in intake
    assert "2026-11-24" in intake
    assert 'id="food-suggestions-plan"' in intake  # 150 g spinach is short of the reference


def test_medication_search_by_chinese_name_and_save(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    hits = client.get("/app/search/drugs", params={"q": "呋塞米", "lang": "zh"}).json()
    assert hits[0]["code"] == "furosemide"
    assert hits[0]["name_en"].lower() == "furosemide"
    assert client.get("/app/search/drugs", params={"q": "furo"}).json()[0]["code"] == "furosemide"
    person = new_person()
    url = f"/app/persons/{person}/medications/new"
    saved = submit(client, url, {"name": "呋塞米", "drug": "", "start": "2026-01-10"})
    assert saved.status_code == 303
    board = client.get(f"/app/persons/{person}").text
    meds = board[board.index('id="medications"') : board.index('id="conditions"')]
    assert "furosemide" in meds.lower()
    assert 'data-code="depleting-medication"' in board
    before = rows(web)
    unknown = submit(client, url, {"name": "Zzyzxomab", "start": ""})
    assert unknown.status_code == 422
    assert 'id="warning-name"' in unknown.text
    assert rows(web) == before
    forced = submit(client, url, {"name": "Zzyzxomab", "confirm": "on"})
    assert forced.status_code == 303
    assert rows(web)["medications"] == before["medications"] + 1


def test_condition_search_and_save(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    hits = client.get("/app/search/conditions", params={"q": "心力"}).json()
    assert hits[0]["code"] == "heart-failure"
    assert client.get("/app/search/conditions", params={"q": "diab"}).json()[0]["code"] == (
        "diabetes"
    )
    person = new_person()
    saved = submit(
        client,
        f"/app/persons/{person}/conditions/new",
        {"name": "心衰", "group": "", "onset": "2020-05-01"},
    )
    assert saved.status_code == 303
    board = client.get(f"/app/persons/{person}", params={"lang": "zh"}).text
    conditions = board[board.index('id="conditions"') :]
    assert "心力衰竭" in conditions


def test_forms_without_csrf_token_or_from_another_origin_are_refused(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    person = new_person()
    before = rows(web)
    data = {"analyte": "magnesium", "value": "0.8", "unit": "mmol/L", "effective": "2026-11-20"}
    url = f"/app/persons/{person}/labs/new"
    bare = client.post(url, data=data)
    assert bare.status_code == 403
    assert 'id="forbidden"' in bare.text
    foreign = submit(client, url, data, origin="https://evil.example")
    assert foreign.status_code == 403
    assert rows(web) == before


def test_unknown_person_and_page_are_404_pages(client: TestClient) -> None:
    for path in (
        "/app/persons/999999",
        "/app/persons/abc",
        "/app/nowhere",
        "/app/persons/999999/labs/new",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert 'id="not-found"' in response.text
    assert client.get("/app").status_code == 307


def test_evidence_pages_link_references_claims_and_figure(client: TestClient) -> None:
    references = client.get("/app/evidence").text
    assert '<li id="SEED"' in references
    assert 'href="https://doi.org/' in references
    claims = client.get("/app/evidence/claims").text
    assert '<li id="2.2"' in claims
    assert "Evidence grade" in claims
    assert "Caveat" in claims
    figure = client.get("/app/evidence/figure-1", params={"lang": "zh"}).text
    assert "<svg" in figure
    assert "图1" in figure


def test_api_is_untouched_by_the_web_app(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/app/static/app.css").status_code == 200
    assert "combobox" in client.get("/app/static/app.js").text


def test_old_result_is_shown_without_a_current_status(
    client: TestClient, new_person: Callable[..., int]
) -> None:
    person = new_person()
    submit(
        client,
        f"/app/persons/{person}/labs/new",
        {"analyte": "magnesium", "value": "1.9", "unit": "mg/dL", "effective": "2019-04-02"},
    )
    html = client.get(f"/app/persons/{person}").text
    status = html[html.index('id="mg-status"') : html.index('id="ca-mg"')]
    assert "1.9 mg/dL" in status
    assert "2019-04-02" in status
    assert "data-status=" not in status
    assert 'data-code="magnesium-not-measured"' in html


def test_damaged_stored_data_gives_a_500_page_and_a_log_entry(
    client: TestClient,
    new_person: Callable[..., int],
    web: WebApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    person = new_person()
    with sqlite3.connect(web.directory / "web.sqlite3") as connection:
        connection.execute(
            "INSERT INTO lab_results (person_id, position, analyte, value, unit, effective)"
            " VALUES (?, 0, 'magnesium', 0.8, 'mmol/L', 'not a date')",
            (person,),
        )
    with caplog.at_level(logging.ERROR, logger="mgcare.web"):
        response = client.get(f"/app/persons/{person}", params={"lang": "zh"})
    assert response.status_code == 500
    assert 'id="server-error"' in response.text
    assert "出现错误" in response.text
    assert "Traceback" not in response.text
    assert any("failed" in record.getMessage() for record in caplog.records)


def test_person_list_pages_through_every_person(web: WebApp, client: TestClient) -> None:
    """No person is out of reach: a full page links to the next, and the last page has no link."""
    from mgcare.model import Person
    from mgcare.store import repository as repo
    from mgcare.store.db import make_engine
    from mgcare.web.routes import LIST_LIMIT

    engine = make_engine(web.url)
    try:
        while len(repo.person_ids(engine)) <= LIST_LIMIT:
            repo.add_person(engine, Person(sex="female"), display_name="Paging 翻页")
        total = len(repo.person_ids(engine))
    finally:
        engine.dispose()
    seen = 0
    number = 1
    while True:
        html = client.get(f"/app/?page={number}").text
        seen += html.count('<th scope="row">')
        if 'id="page-next"' not in html:
            break
        number += 1
    assert seen == total
    assert 'id="page-prev"' in client.get("/app/?page=2").text
    assert client.get("/app/?page=abc").status_code == 200


def test_service_default_language_applies_when_the_browser_states_none(tmp_path: Path) -> None:
    """`mgcare serve --lang zh` (Settings.lang) makes the pages Chinese for a browser that sends
    no usable Accept-Language; a browser preference or ?lang still wins."""
    from tests.web.conftest import make_web_app

    web = make_web_app(tmp_path, lang="zh")
    client = TestClient(web.app, follow_redirects=False)
    assert 'lang="zh-Hans"' in client.get("/app/", headers={"accept-language": "fr"}).text
    assert 'lang="en"' in client.get("/app/", headers={"accept-language": "en-GB"}).text
    assert 'lang="en"' in client.get("/app/?lang=en").text


def test_each_change_stores_the_assessment_with_its_versions(
    client: TestClient, new_person: Callable[..., int], web: WebApp
) -> None:
    """History of what mgcare said: a saved lab adds one stored assessment that carries the
    result, the mgcare version and the knowledge-pack version; a refused form adds none."""
    from mgcare import __version__
    from mgcare.store.repository import assessments

    person = new_person()
    good = {"analyte": "magnesium", "value": "0.55", "unit": "mmol/L", "effective": "2026-11-20"}
    assert submit(client, f"/app/persons/{person}/labs/new", good).status_code == 303
    assert (
        submit(client, f"/app/persons/{person}/labs/new", {**good, "unit": ""}).status_code == 422
    )
    engine = make_engine(web.url)
    try:
        stored = assessments(engine, person)
    finally:
        engine.dispose()
    assert len(stored) == 1
    assert stored[0].mgcare_version == __version__
    assert stored[0].knowledge_version == web.app.state.mgcare.knowledge.version
    assert stored[0].serum_magnesium is not None
    assert stored[0].serum_magnesium.mmol_l == float(good["value"])
