"""Subprocess bodies for the crash and concurrency tests (run as `python -m tests.store.workers`).

`crash URL BUNDLE`: import BUNDLE, but once every row of it is written inside the open
transaction (flushed, not committed), print `IN-TRANSACTION` and wait to be killed. SQLite
gets a tiny page cache so the uncommitted pages really spill into the WAL file first.

`write URL PERSON_ID WORKER COUNT`: COUNT `add_lab` calls, one transaction each.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from mgcare.knowledge import load_knowledge
from mgcare.model import LabResult
from mgcare.store import make_engine
from mgcare.store import repository as repo

MARKER = "IN-TRANSACTION"
TODAY = date(2026, 11, 25)


def crash(url: str, bundle: Path) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _small_cache(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA cache_size = 20")

    @event.listens_for(Session, "before_commit")
    def _hang(session: Session) -> None:
        session.flush()
        sys.stdout.write(MARKER + "\n")
        sys.stdout.flush()
        time.sleep(600)

    document = json.loads(bundle.read_text(encoding="utf-8"))
    repo.import_record(engine, document, load_knowledge(), TODAY)
    sys.stdout.write("COMMITTED\n")


def write(url: str, person_id: int, worker: int, count: int) -> None:
    engine = make_engine(url)
    knowledge = load_knowledge()
    start = date(2020, 1, 1)
    for i in range(count):
        repo.add_lab(
            engine,
            person_id,
            LabResult(
                analyte="magnesium",
                value=0.5 + worker / 10 + i / 1000,
                unit="mmol/L",
                effective=start + timedelta(days=worker * 1000 + i),
                source=f"worker-{worker}",
            ),
            knowledge,
        )
    sys.stdout.write("DONE\n")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "crash":
        crash(args[0], Path(args[1]))
    else:
        write(args[0], int(args[1]), int(args[2]), int(args[3]))
