"""A process killed in the middle of an import leaves no partial record; concurrent writer
processes all succeed. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mgcare.knowledge import Knowledge
from mgcare.model import Person
from mgcare.store import make_engine, upgrade
from mgcare.store import repository as repo
from mgcare.store.schema import AuditRow, LabResultRow, PersonRow

ROOT = Path(__file__).resolve().parents[2]
OBSERVATIONS = 3000
PATIENT_ID = "crash-patient"


def big_bundle(path: Path, observations: int = OBSERVATIONS) -> Path:
    """A Patient with `observations` serum magnesium results, one a day."""
    start = date(2010, 1, 1)
    entries: list[dict[str, Any]] = [
        {
            "resource": {
                "resourceType": "Patient",
                "id": PATIENT_ID,
                "gender": "female",
                "birthDate": "1950-01-01",
                "name": [{"given": ["Kill"], "family": "Nine"}],
            }
        }
    ]
    for i in range(observations):
        entries.append(
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": f"mg-{i}",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "2601-3"}]},
                    "subject": {"reference": f"Patient/{PATIENT_ID}"},
                    "effectiveDateTime": (start + timedelta(days=i)).isoformat(),
                    "valueQuantity": {
                        "value": round(0.6 + (i % 50) / 100, 2),
                        "unit": "mmol/L",
                        "system": "http://unitsofmeasure.org",
                        "code": "mmol/L",
                    },
                }
            }
        )
    path.write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}),
        encoding="utf-8",
    )
    return path


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.workers", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_absent_or_complete(engine: Engine, observations: int) -> str:
    """The person is either not stored at all or stored with every result and its audit row
    (`mgcare db import` stores the assessment afterwards, in its own transaction)."""
    person_id = repo.find_person(engine, PATIENT_ID)
    if person_id is None:
        assert repo.count_rows(engine, LabResultRow) == 0
        assert repo.count_rows(engine, AuditRow) == 0
        return "absent"
    assert repo.count_rows(engine, LabResultRow) == observations
    audit = [(row.action, row.entity) for row in repo.audit_log(engine, person_id)]
    # The import's own row, then (a separate transaction after it) at most the stored assessment.
    assert audit[0][0] == "import"
    assert audit[1:] in ([], [("create", "assessment")])
    assert repo.person_listing(engine, person_id).display_name == "Kill Nine"
    return "complete"


def integrity_ok(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


@pytest.mark.slow
def test_killed_mid_transaction_leaves_nothing(
    database_url: str, tmp_path: Path, knowledge: Knowledge
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    bundle = big_bundle(tmp_path / "big.json")
    worker = spawn("crash", database_url, str(bundle))
    assert worker.stdout is not None
    line = worker.stdout.readline()  # blocks until every row is flushed, uncommitted
    assert line.strip() == "IN-TRANSACTION", worker.stderr.read() if worker.stderr else ""
    if engine.dialect.name == "sqlite":
        wal = Path(str(engine.url.database) + "-wal")
        assert wal.stat().st_size > 100_000  # uncommitted pages did reach the disk
    else:
        with engine.connect() as connection:  # the rows are in the server, in an open transaction
            states = connection.exec_driver_sql(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'"
            ).all()
        assert states
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    engine.dispose()

    reopened = make_engine(database_url)
    try:
        integrity_ok(reopened)
        assert assert_absent_or_complete(reopened, OBSERVATIONS) == "absent"
        # and the database works: the same import now completes
        document = json.loads(bundle.read_text(encoding="utf-8"))
        repo.import_record(reopened, document, knowledge, date(2026, 11, 25))
        assert assert_absent_or_complete(reopened, OBSERVATIONS) == "complete"
    finally:
        reopened.dispose()


@pytest.mark.slow
def test_cli_import_killed_at_any_moment_is_absent_or_complete(tmp_path: Path) -> None:
    """The real command, killed at several moments of a large import (SQLite)."""
    bundle = big_bundle(tmp_path / "big.json", 1500)
    outcomes = set()
    for attempt, delay in enumerate((0.0, 0.8, 1.6, 2.4, 3.2)):
        url = f"sqlite:///{tmp_path / f'db{attempt}.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        process = subprocess.Popen(
            [sys.executable, "-m", "mgcare.cli", "db", "import", str(bundle), "--database", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        engine.dispose()
        reopened = make_engine(url)
        integrity_ok(reopened)
        outcomes.add(assert_absent_or_complete(reopened, 1500))
        reopened.dispose()
    assert "absent" in outcomes, outcomes
    print(f"outcomes of the kills: {sorted(outcomes)}")


@pytest.mark.slow
def test_concurrent_writer_processes(engine: Engine, database_url: str) -> None:
    workers, calls = 4, 50
    person_id = repo.add_person(engine, Person(id="shared"))
    processes = [
        spawn("write", database_url, str(person_id), str(worker), str(calls))
        for worker in range(workers)
    ]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert (process.returncode, out.strip()) == (0, "DONE"), err
    with Session(engine) as session:
        positions = sorted(
            session.scalars(
                select(LabResultRow.position).where(LabResultRow.person_id == person_id)
            )
        )
        sources = list(session.scalars(select(LabResultRow.source)))
    assert positions == list(range(workers * calls))  # every row, each in its own place
    assert sorted(set(sources)) == [f"worker-{w}" for w in range(workers)]
    assert repo.count_rows(engine, AuditRow) == 1 + workers * calls
    assert repo.count_rows(engine, PersonRow) == 1
