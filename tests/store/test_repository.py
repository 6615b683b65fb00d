"""Repository API used by the web app and the CLI: persons with names, listings, single-item
writes, and one-line errors for databases that are locked, missing or unreachable."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from mgcare.knowledge import Knowledge
from mgcare.model import Coding, Condition, LabResult, Medication, Person
from mgcare.store import make_engine, upgrade
from mgcare.store import repository as repo
from mgcare.store.db import describe_failure, masked_url, sqlite_url
from mgcare.store.schema import AuditRow, FoodLogRow, PersonRow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
TODAY = date(2026, 11, 25)


def mg_lab(value: float, day: date, unit: str = "mmol/L") -> LabResult:
    return LabResult(analyte="magnesium", value=value, unit=unit, effective=day)


def test_listing_shows_name_latest_magnesium_and_lab_count(
    engine: Engine, knowledge: Knowledge
) -> None:
    ruth = repo.add_person(
        engine,
        Person(id="ruth-1", sex="female", birth_date=date(1950, 3, 1)),
        display_name="  Ruth   Example ",
    )
    repo.add_lab(engine, ruth, mg_lab(0.62, date(2026, 1, 5)), knowledge)
    repo.add_lab(engine, ruth, mg_lab(1.9, date(2026, 6, 1), "mg/dL"), knowledge)
    repo.add_lab(engine, ruth, mg_lab(0.8, date(2025, 1, 1)), knowledge)
    repo.add_lab(
        engine,
        ruth,
        LabResult(analyte="potassium", value=3.1, unit="mmol/L", effective=date(2026, 7, 1)),
        knowledge,
    )
    empty = repo.add_person(engine, Person(age_years=40))

    listing = repo.list_persons(engine)
    assert [item.person_id for item in listing] == [ruth, empty]
    first = listing[0]
    assert first.display_name == "Ruth Example"  # whitespace normalised
    assert first.external_id == "ruth-1" and first.sex == "female"
    assert first.lab_count == 4
    assert first.latest_mg is not None
    assert (first.latest_mg.effective, first.latest_mg.value, first.latest_mg.unit) == (
        "2026-06-01",
        1.9,
        "mg/dL",
    )
    assert first.latest_mg.value_mmol_l == pytest.approx(0.78, abs=0.01)
    today = date.today()
    assert first.age_years == today.year - 1950 - ((today.month, today.day) < (3, 1))
    assert first.updated_at.tzinfo is not None
    second = listing[1]
    assert (second.latest_mg, second.lab_count, second.age_years) == (None, 0, 40)
    assert repo.person_listing(engine, ruth) == first
    with pytest.raises(repo.StoreError, match="no person with id 999"):
        repo.person_listing(engine, 999)


def test_list_persons_search_and_paging(engine: Engine) -> None:
    ids = [
        repo.add_person(engine, Person(id=f"ext-{i}"), display_name=f"Name {i} 王{i}")
        for i in range(12)
    ]
    repo.add_person(engine, Person(id="100%_odd"), display_name="Percent")
    assert [p.person_id for p in repo.list_persons(engine, search="王1")] == [
        ids[1],
        ids[10],
        ids[11],
    ]
    assert [p.person_id for p in repo.list_persons(engine, search="EXT-11")] == [ids[11]]
    assert [p.external_id for p in repo.list_persons(engine, search="%_")] == ["100%_odd"]
    assert repo.list_persons(engine, search=str(ids[3]))[0].person_id == ids[3]
    page = repo.list_persons(engine, limit=5, offset=5)
    assert [p.person_id for p in page] == ids[5:10]
    assert repo.list_persons(engine, search="nobody") == []
    with pytest.raises(repo.StoreError, match="limit"):
        repo.list_persons(engine, limit=0)
    with pytest.raises(repo.StoreError, match="offset"):
        repo.list_persons(engine, offset=-1)


def test_single_item_writes_are_stored_audited_and_touch_the_person(engine: Engine) -> None:
    person_id = repo.add_person(engine, Person(id="p"))
    before = repo.person_listing(engine, person_id).updated_at
    medication = Medication(
        name="omeprazole",
        codes=(Coding(system="atc", code="A02BC01"),),
        status="active",
        start=date(2025, 1, 1),
    )
    condition = Condition(name="atrial fibrillation", codes=(Coding(system="icd10", code="I48"),))
    food = {"food": "12061", "amount": 30, "unit": "g"}
    supplement = {"supplement": "magnesium citrate", "elemental_mg": 200}
    med_id = repo.add_medication(engine, person_id, medication)
    cond_id = repo.add_condition(engine, person_id, condition)
    food_ids = [repo.add_food_entry(engine, person_id, e) for e in (food, supplement)]
    record = repo.person_record(engine, person_id)
    assert record.medications == (medication,)
    assert record.conditions == (condition,)
    assert record.food_log == (food, supplement)
    audit = [(r.action, r.entity, r.entity_id) for r in repo.audit_log(engine, person_id)]
    assert audit == [
        ("create", "person", person_id),
        ("create", "medication", med_id),
        ("create", "condition", cond_id),
        ("create", "food_log_entry", food_ids[0]),
        ("create", "food_log_entry", food_ids[1]),
    ]
    assert repo.person_listing(engine, person_id).updated_at > before


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"amount": 3, "unit": "g"}, "exactly one of"),
        ({"food": "12061", "supplement": "magnesium oxide", "amount": 1, "unit": "g"}, "one of"),
        ({"food": "12061", "unit": "g"}, "needs 'amount' and 'unit'"),
        ({"supplement": "magnesium oxide"}, "dose_mg"),
        ({"food": "12061", "amount": float("nan"), "unit": "g"}, "finite"),
    ],
)
def test_bad_food_entry_is_refused_and_nothing_is_stored(
    engine: Engine, entry: dict[str, Any], reason: str
) -> None:
    person_id = repo.add_person(engine, Person(id="p"))
    with pytest.raises(repo.StoreError, match=reason):
        repo.add_food_entry(engine, person_id, entry)
    assert repo.count_rows(engine, FoodLogRow) == 0
    assert repo.count_rows(engine, AuditRow) == 1


def test_unknown_person_and_duplicate_external_id_are_refused(
    engine: Engine, knowledge: Knowledge
) -> None:
    repo.add_person(engine, Person(id="dup"))
    with pytest.raises(repo.StoreError, match="already stored"):
        repo.add_person(engine, Person(id="dup"))
    with pytest.raises(repo.StoreError, match="no person with id 42"):
        repo.add_medication(engine, 42, Medication(name="x"))
    with pytest.raises(repo.StoreError, match="no person with id 42"):
        repo.add_lab(engine, 42, mg_lab(0.7, TODAY), knowledge)
    with pytest.raises(repo.StoreError, match="longer than 200"):
        repo.add_person(engine, Person(id="long"), display_name="x" * 201)
    # the unique constraint itself behaves the same on every backend
    with pytest.raises(repo.StoreError, match="refused the change"):
        _insert_raw_duplicate(engine)
    assert repo.count_rows(engine, PersonRow) == 1


@repo._guarded
def _insert_raw_duplicate(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add(PersonRow(external_id="dup", context={}))


def test_fhir_import_keeps_patient_name(engine: Engine, knowledge: Knowledge) -> None:
    document = json.loads((FIXTURES / "mg_low_on_ppi_bundle.json").read_text(encoding="utf-8"))
    person_id = repo.import_record(engine, document, knowledge, TODAY)
    assert repo.person_listing(engine, person_id).display_name == "Ruth Example"
    assert repo.resolve_person(engine, "mg-low-ppi-pt") == person_id
    assert repo.resolve_person(engine, str(person_id)) == person_id
    with pytest.raises(repo.StoreError, match="no person with store id or external id"):
        repo.resolve_person(engine, "nobody")


def test_display_name_prefers_official_name() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [
            {"use": "nickname", "given": ["Bob"]},
            {"use": "official", "given": ["Robert", "J."], "family": "Smith"},
        ],
    }
    assert repo.display_name_of(patient) == "Robert J. Smith"
    assert repo.display_name_of({"resourceType": "Patient", "name": [{"text": "李 明"}]}) == "李 明"
    assert repo.display_name_of({"person": {}}) is None
    bundle = {"resourceType": "Bundle", "entry": [{"resource": patient}]}
    assert repo.display_name_of(bundle) == "Robert J. Smith"


def test_datetimes_are_utc_aware_on_every_backend(engine: Engine) -> None:
    person_id = repo.add_person(engine, Person(id="tz"))
    row = repo.audit_log(engine, person_id)[0]
    offset = row.at.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert abs((datetime.now(UTC) - row.at).total_seconds()) < 60


def test_table_counts(engine: Engine) -> None:
    repo.add_person(engine, Person(id="x"))
    counts = repo.table_counts(engine)
    assert counts["persons"] == 1 and counts["audit_log"] == 1 and counts["lab_results"] == 0
    assert set(counts) >= {"persons", "cds_feedback", "food_log_entries", "assessments"}


# --- unavailable databases ----------------------------------------------------------------------


def test_locked_sqlite_database_gives_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    engine = make_engine(sqlite_url(path), busy_timeout_ms=50)
    upgrade(engine)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(repo.StoreUnavailable) as caught:
            repo.add_person(engine, Person(id="waits"))
        assert str(caught.value) == "database is locked by another process; try again"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert repo.add_person(engine, Person(id="waits")) == 1  # the lock gone, it works
    engine.dispose()


def test_missing_sqlite_directory_and_unmigrated_database(tmp_path: Path) -> None:
    gone = make_engine(sqlite_url(tmp_path / "no" / "such" / "dir" / "x.sqlite3"))
    with pytest.raises(repo.StoreUnavailable, match=r"^cannot open the database at sqlite:///"):
        repo.list_persons(gone)
    bare = make_engine(sqlite_url(tmp_path / "empty.sqlite3"))
    with pytest.raises(repo.StoreUnavailable, match="has no mgcare tables"):
        repo.list_persons(bare)
    not_db = tmp_path / "text.sqlite3"
    not_db.write_text("hello, this is not a database file at all" * 100, encoding="utf-8")
    with pytest.raises(repo.StoreUnavailable, match="not an SQLite database"):
        repo.person_ids(make_engine(sqlite_url(not_db)))


def test_unreachable_postgres_names_host_never_password() -> None:
    engine = make_engine("postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:1/mgcare")
    with pytest.raises(repo.StoreUnavailable) as caught:
        repo.list_persons(engine)
    message = str(caught.value)
    assert message == (
        "cannot reach the database at postgresql+psycopg://alice:***@127.0.0.1:1/mgcare: "
        "connection refused"
    )
    assert "\n" not in message


def test_unusable_url_is_one_line() -> None:
    with pytest.raises(repo.StoreUnavailable, match="not a usable database URL"):
        make_engine("nosuchdb://x:pw@h/db")
    with pytest.raises(repo.StoreUnavailable, match="not a usable database URL"):
        make_engine("::::")


passwords = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")), min_size=1
)


SHOWN_URL = "postgresql+psycopg://bob:***@db.example:5432/mg"


def _postgres_url(password: str) -> str:
    from urllib.parse import quote

    return f"postgresql+psycopg://bob:{quote(password, safe='')}@db.example:5432/mg"


@settings(max_examples=60, deadline=None)
@given(password=passwords)
@example(password="i")  # inside "connection" and "failed:": once mangled the driver's words
@example(password="on")
@example(password="MALFORMED")  # a classifier word inside the password once read as "damaged"
def test_messages_never_show_the_password(password: str) -> None:
    url = _postgres_url(password)
    shown = SHOWN_URL
    assert masked_url(url) == shown
    assume(password not in f"cannot use the database at {shown}: auth for rejected")
    assume(password != "failed:")  # the marker itself: tested below
    failure = RuntimeError(f"connection to server failed: auth for {password} rejected\nmore")
    assert (
        describe_failure(failure, url)
        == f"cannot use the database at {shown}: auth for *** rejected"
    )


@pytest.mark.parametrize(
    "password",
    ["MALFORMED", "database is locked", "Connection refused", "timed out", "no such table"],
)
def test_words_inside_the_password_do_not_classify_the_failure(password: str) -> None:
    failure = RuntimeError(f"connection to server failed: auth for {password} rejected")
    assert describe_failure(failure, _postgres_url(password)) == (
        f"cannot use the database at {SHOWN_URL}: auth for *** rejected"
    )


def test_the_drivers_own_words_still_classify_when_they_contain_the_password() -> None:
    failure = RuntimeError("database disk image is malformed")
    assert describe_failure(failure, _postgres_url("form")) == (
        f"the database at {SHOWN_URL} is damaged (database disk image is mal***ed)"
    )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("x failed: y", "auth for *** rejected"),  # a cut at its own "failed:" would show " y"
        # the password is the driver's marker itself: no cut can be trusted, all is scrubbed
        ("failed:", 'connection to server at "db", port 5432 *** auth for *** rejected'),
        ("xfailed:", "auth for *** rejected"),
        ("d: au", 'connection to server at "db", port 5432 faile***th for *** rejected'),  # no cut
        ("abc", "auth for *** rejected"),
    ],
)
def test_the_cut_after_failed_never_splits_the_password(password: str, reason: str) -> None:
    failure = RuntimeError(
        f'connection to server at "db", port 5432 failed: auth for {password} rejected'
    )
    shown = SHOWN_URL
    assert describe_failure(failure, _postgres_url(password)) == (
        f"cannot use the database at {shown}: {reason}"
    )
