"""Correcting a mistake on the dashboard: Remove → confirmation page → POST removes the entry,
the status and chart follow the remaining data, the audit log keeps the old value and the
assessment history grows. Another person's entry is a 404, a forged form a 403."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from mgcare.store import make_engine
from mgcare.store import repository as repo
from tests.web.conftest import TOKEN, WebApp, submit

LOW, NORMAL = ("0.45", "2026-11-20"), ("0.84", "2026-11-10")
REMOVE_LAB = re.compile(
    r'id="remove-lab-(\d+)" data-testid="remove-lab-\d+">Remove'
    r'<span class="sr-only"> serum magnesium ([\d.]+) mmol/L of ([\d-]+)</span>'
)


@pytest.fixture
def engine(web: WebApp) -> Iterator[Engine]:
    engine = make_engine(web.url)
    yield engine
    engine.dispose()


def add_mg(client: TestClient, person: int, value: str, day: str) -> None:
    response = submit(
        client,
        f"/app/persons/{person}/labs/new",
        {"analyte": "magnesium", "value": value, "unit": "mmol/L", "effective": day},
    )
    assert response.status_code == 303, response.text[:500]


def remove_buttons(html: str) -> dict[str, int]:
    """Value as reported -> lab row id, from the Remove buttons' accessible names."""
    return {value: int(entry) for entry, value, _ in REMOVE_LAB.findall(html)}


def section(html: str, start: str, end: str) -> str:
    return html[html.index(f'id="{start}"') : html.index(f'id="{end}"')]


def test_removing_the_mistyped_result_corrects_status_chart_audit_and_history(
    client: TestClient, new_person: Callable[..., int], engine: Engine
) -> None:
    person = new_person()
    add_mg(client, person, *NORMAL)
    add_mg(client, person, *LOW)
    board = client.get(f"/app/persons/{person}").text
    assert 'data-status="hypomagnesemia' in section(board, "mg-status", "ca-mg")
    assert section(board, "mg-trend", "lab-results").count('<g class="point') == 2
    buttons = remove_buttons(board)
    assert set(buttons) == {"0.45", "0.84"}
    # newest first in the table of all results
    assert board.index('id="remove-lab-{}"'.format(buttons["0.45"])) < board.index(
        'id="remove-lab-{}"'.format(buttons["0.84"])
    )
    assessments_before = len(repo.assessments(engine, person))

    url = f"/app/persons/{person}/labs/{buttons['0.45']}/remove"
    confirm = client.get(url)
    assert confirm.status_code == 200
    facts = section(confirm.text, "removed-entry", "remove-form")
    assert "0.45 mmol/L" in facts and "2026-11-20" in facts
    assert '<label for="reason">' in confirm.text
    assert 'aria-describedby="hint-reason"' in confirm.text
    assert f'href="/app/persons/{person}">Cancel</a>' in confirm.text
    assert repo.stored_record(engine, person).lab_ids == tuple(sorted(buttons.values()))

    response = submit(client, url, {"reason": "typed 0.45 instead of 0.54"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/app/persons/{person}?removed=lab"
    after = client.get(response.headers["location"]).text
    assert 'id="removed-notice"' in after and "Result removed." in after
    status = section(after, "mg-status", "ca-mg")
    assert 'data-status="normal"' in status and "0.84 mmol/L" in status
    assert 'data-code="hypomagnesemia' not in after
    assert section(after, "mg-trend", "lab-results").count('<g class="point') == 1
    assert remove_buttons(after) == {"0.84": buttons["0.84"]}

    entry = repo.audit_log(engine, person)[-2]  # then the new assessment
    assert (entry.action, entry.entity, entry.entity_id) == (
        "delete",
        "lab_result",
        buttons["0.45"],
    )
    assert entry.detail["removed"]["value"] == 0.45
    assert entry.detail["removed"]["effective"] == "2026-11-20"
    assert entry.detail["reason"] == "typed 0.45 instead of 0.54"
    history = repo.assessments(engine, person)
    assert len(history) == assessments_before + 1
    assert history[-1].serum_magnesium is not None
    assert history[-1].serum_magnesium.status == "normal"


def test_medication_condition_and_food_entries_can_be_removed(
    client: TestClient, new_person: Callable[..., int], engine: Engine
) -> None:
    person = new_person()
    base = f"/app/persons/{person}"
    forms = {
        "medications": {"name": "furosemide", "confirm": "on"},
        "conditions": {"name": "heart failure", "confirm": "on"},
        "food": {"food_id": "11457", "grams": "100", "date": "2026-11-24"},
    }
    for segment, data in forms.items():
        assert submit(client, f"{base}/{segment}/new", data).status_code == 303
    stored = repo.stored_record(engine, person)
    ids = {
        "medication": ("medications", stored.medication_ids[0]),
        "condition": ("conditions", stored.condition_ids[0]),
        "food": ("food", stored.food_log_ids[0]),
    }
    board = client.get(base).text
    for short, (_, entry) in ids.items():
        assert f'id="remove-{short}-{entry}"' in board
    assert '<span class="sr-only"> furosemide</span>' in board
    for short, (segment, entry) in ids.items():
        response = submit(client, f"{base}/{segment}/{entry}/remove", {"reason": ""})
        assert response.status_code == 303
        assert response.headers["location"] == f"{base}?removed={short}"
    left = repo.stored_record(engine, person)
    assert left.medication_ids == left.condition_ids == left.food_log_ids == ()
    deleted = [r.entity for r in repo.audit_log(engine, person) if r.action == "delete"]
    assert deleted == ["medication", "condition", "food_log_entry"]


def test_another_persons_entry_is_not_found_and_nothing_is_removed(
    client: TestClient, new_person: Callable[..., int], engine: Engine
) -> None:
    owner, other = new_person(), new_person()
    add_mg(client, owner, *LOW)
    (lab,) = repo.stored_record(engine, owner).lab_ids
    own = client.get(f"/app/persons/{owner}/labs/{lab}/remove")
    token = TOKEN.search(own.text)
    assert token is not None
    for path in (
        f"/app/persons/{other}/labs/{lab}/remove",
        f"/app/persons/{owner}/medications/{lab}/remove",
        f"/app/persons/{owner}/labs/999999/remove",
        f"/app/persons/{owner}/persons/{lab}/remove",
        f"/app/persons/{owner}/labs/x1/remove",
    ):
        assert client.get(path).status_code == 404, path
        posted = client.post(path, data={"csrf_token": token.group(1)})
        assert posted.status_code == 404, path
        assert 'id="not-found"' in posted.text
    assert repo.stored_record(engine, owner).lab_ids == (lab,)


def test_missing_or_forged_csrf_token_is_refused(
    client: TestClient, new_person: Callable[..., int], engine: Engine
) -> None:
    person = new_person()
    add_mg(client, person, *LOW)
    (lab,) = repo.stored_record(engine, person).lab_ids
    url = f"/app/persons/{person}/labs/{lab}/remove"
    client.get(url)  # the CSRF cookie is set
    for data in ({}, {"csrf_token": "forged-" + "x" * 40}):
        response = client.post(url, data=data)
        assert response.status_code == 403
        assert 'id="forbidden"' in response.text
    assert repo.stored_record(engine, person).lab_ids == (lab,)


def test_too_long_reason_is_shown_next_to_the_field(
    client: TestClient, new_person: Callable[..., int], engine: Engine
) -> None:
    person = new_person()
    add_mg(client, person, *LOW)
    (lab,) = repo.stored_record(engine, person).lab_ids
    url = f"/app/persons/{person}/labs/{lab}/remove"
    response = submit(client, url, {"reason": "x" * (repo.MAX_REASON + 1)})
    assert response.status_code == 422
    assert 'id="error-reason"' in response.text and 'role="alert"' in response.text
    assert repo.stored_record(engine, person).lab_ids == (lab,)


@pytest.mark.parametrize(
    ("lang", "html_lang", "words"),
    [
        ("en", "en", ("Remove this lab result?", "Reason for removing")),
        ("zh", "zh-Hans", ("删除此检验结果？", "删除原因")),
    ],
)
def test_confirm_page_in_both_languages(
    client: TestClient,
    new_person: Callable[..., int],
    engine: Engine,
    lang: str,
    html_lang: str,
    words: tuple[str, str],
) -> None:
    person = new_person()
    add_mg(client, person, *LOW)
    (lab,) = repo.stored_record(engine, person).lab_ids
    page = client.get(f"/app/persons/{person}/labs/{lab}/remove", params={"lang": lang})
    assert page.status_code == 200
    assert f'<html lang="{html_lang}">' in page.text
    assert all(word in page.text for word in words)
    assert 'id="disclaimer"' in page.text
    board = client.get(f"/app/persons/{person}", params={"lang": lang}).text
    expected = "2026-11-20 的血清镁 0.45 mmol/L" if lang == "zh" else "serum magnesium 0.45"
    assert expected in board


def test_store_unavailable_gives_503(
    client: TestClient, new_person: Callable[..., int], engine: Engine, web: WebApp
) -> None:
    import sqlite3

    person = new_person()
    add_mg(client, person, *LOW)
    (lab,) = repo.stored_record(engine, person).lab_ids
    url = f"/app/persons/{person}/labs/{lab}/remove"
    token = TOKEN.search(client.get(url).text)
    assert token is not None
    locker = sqlite3.connect(web.directory / "web.sqlite3", isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        response = client.post(url, data={"csrf_token": token.group(1)})
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert response.status_code == 503 and 'id="store-error"' in response.text
    assert repo.stored_record(engine, person).lab_ids == (lab,)
