"""`mgcare db`: run as a user runs it (subprocess), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mgcare.inputs import record_from_document
from mgcare.knowledge import Knowledge
from tests.conftest import run_mgcare

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "mgcare" / "demo" / "demo_patient.json"
TODAY = date(2026, 11, 25)
BUNDLE = ROOT / "tests" / "fixtures" / "fhir" / "mg_low_on_ppi_bundle.json"


def db(database_url: str, *args: str) -> tuple[int, str, str]:
    done = run_mgcare("db", *args, "--database", database_url)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout, done.stderr


def broken_bundle(tmp_path: Path) -> Path:
    """A valid bundle whose last magnesium result has no unit: refused whole."""
    document: dict[str, Any] = json.loads(BUNDLE.read_text(encoding="utf-8"))
    document["entry"][0]["resource"]["id"] = "half-stored"
    quantity = document["entry"][1]["resource"]["valueQuantity"]
    quantity.pop("unit", None)
    quantity.pop("code", None)
    path = tmp_path / "no_unit.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.slow
def test_import_list_export_info(database_url: str, tmp_path: Path, knowledge: Knowledge) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"resourceType": "Bundle",', encoding="utf-8")
    code, out, err = db(
        database_url,
        "import",
        str(DEMO),
        str(bad_json),
        str(broken_bundle(tmp_path)),
        str(BUNDLE),
        str(tmp_path / "missing.json"),
    )
    assert code == 2
    assert out.splitlines() == [
        f"imported {DEMO} → person 1 (4 labs, 2 medications, 2 conditions, 4 food-log rows)",
        f"imported {BUNDLE} → person 2 (5 labs, 2 medications, 2 conditions)",
    ]
    lines = err.splitlines()
    assert lines[0].startswith(f"mgcare: {bad_json}: malformed JSON")
    assert lines[1].startswith(f"mgcare: {tmp_path / 'no_unit.json'}: Observation/")
    assert "no unit" in lines[1]
    assert lines[2] == f"mgcare: {tmp_path / 'missing.json'}: no such file"
    assert lines[3] == "mgcare: 3 of 5 files not imported (nothing of them was stored); 2 imported"

    code, out, _ = db(database_url, "import", str(BUNDLE))
    assert (code, out) == (0, f"updated {BUNDLE} → person 2 (already stored, nothing new)\n")

    code, out, _ = db(database_url, "list", "--format", "json")
    listed = json.loads(out)
    assert [(p["id"], p["external_id"], p["name"]) for p in listed] == [
        (1, "demo-1", None),
        (2, "mg-low-ppi-pt", "Ruth Example"),
    ]  # the broken bundle's person is not there, not even half
    assert listed[1]["latest_magnesium"]["value"] == 0.55
    assert listed[1]["latest_magnesium"]["unit"] == "mmol/L"
    code, out, _ = db(database_url, "list", "--search", "ruth")
    header, row = out.splitlines()
    assert header.split() == [
        "id",
        "external",
        "id",
        "name",
        "sex",
        "age",
        "latest",
        "Mg",
        "Mg",
        "date",
        "labs",
    ]
    assert row.split()[:6] == ["2", "mg-low-ppi-pt", "Ruth", "Example", "female", row.split()[5]]
    assert "0.55 mmol/L" in row and row.endswith(" 5")

    fhir_path = tmp_path / "out" / "ruth.fhir.json"
    code, out, _ = db(
        database_url, "export", "mg-low-ppi-pt", "--format", "fhir", "--out", str(fhir_path)
    )
    assert (code, out) == (0, f"exported person 2 as fhir to {fhir_path}\n")
    exported = json.loads(fhir_path.read_text(encoding="utf-8"))
    original = json.loads(BUNDLE.read_text(encoding="utf-8"))
    expected = record_from_document(original, knowledge, TODAY)
    assert record_from_document(exported, knowledge, TODAY) == expected
    code, out, _ = db(database_url, "export", "2", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 6 and out.startswith("person_id,external_id")
    code, out, _ = db(database_url, "export", "1", "--format", "json")
    assert json.loads(out)["person"]["id"] == "demo-1"
    code, _, err = db(database_url, "export", "nobody")
    assert (code, err) == (2, "mgcare: no person with store id or external id 'nobody'\n")

    code, out, _ = db(database_url, "info", "--format", "json")
    info = json.loads(out)
    assert info["revision"] == "0002" and info["tables"]["persons"] == 2
    assert info["backend"] == database_url.split(":")[0].split("+")[0]


def test_backup_sqlite_is_consistent_and_refuses_to_overwrite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    assert db(url, "import", str(BUNDLE))[0] == 0
    target = tmp_path / "copy.sqlite3"
    code, out, _ = db(url, "backup", str(target))
    assert code == 0 and out.startswith(f"backed up 1 person to {target} (")
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT display_name FROM persons").fetchall() == [("Ruth Example",)]
    code, _, err = db(url, "backup", str(target))
    assert (code, err) == (2, f"mgcare: {target} exists; choose a new file or pass --force\n")
    assert db(url, "backup", str(target), "--force")[0] == 0


def test_backup_postgres_runs_pg_dump(postgres_url: str, tmp_path: Path) -> None:
    import shutil

    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    assert db(postgres_url, "import", str(BUNDLE))[0] == 0
    target = tmp_path / "mgcare.dump"
    code, out, err = db(postgres_url, "backup", str(target))
    assert code == 0, err
    assert "pg_dump custom format" in out
    assert target.read_bytes().startswith(b"PGDMP")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql+psycopg://me:hunter2@127.0.0.1:1/mgcare",
            "mgcare: cannot reach the database at postgresql+psycopg://me:***@127.0.0.1:1/mgcare: "
            "connection refused\n",
        ),
        ("mysql+nosuchdriver://h/db", "mgcare: not a usable database URL: mysql+nosuchdriver"),
    ],
)
def test_unusable_database_is_one_line(url: str, message: str) -> None:
    for command in (["list"], ["import", str(BUNDLE)]):
        code, out, err = db(url, *command)
        assert code == 2 and out == ""
        assert err.startswith(message) and err.count("\n") == 1
        assert "hunter2" not in err


def test_missing_sqlite_directory_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'dir' / 'x.sqlite3'}"
    code, _, err = db(url, "list")
    assert code == 2
    assert err == (
        f"mgcare: cannot open the database at {url}: the file or its directory is missing "
        "or not writable\n"
    )


def test_every_bad_input_is_refused_whole_with_its_reason(tmp_path: Path) -> None:
    """The shared bad-input corpus: one line each naming the file, nothing stored, exit 2."""
    bad = ROOT / "tests" / "fixtures" / "bad_inputs"
    manifest = json.loads((bad / "manifest.json").read_text(encoding="utf-8"))
    url = f"sqlite:///{tmp_path / 'bad.sqlite3'}"
    files = [str(bad / item["file"]) for item in manifest]
    code, out, err = db(url, "import", *files)
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert len(lines) == len(manifest) + 1
    for line, item in zip(lines, manifest, strict=False):
        assert line.startswith(f"mgcare: {bad / item['file']}: ")
        assert item["stderr_contains"] in line, (item["file"], line)
    assert lines[-1] == (
        f"mgcare: {len(files)} of {len(files)} files not imported (nothing of them was stored); "
        "0 imported"
    )
    code, out, _ = db(url, "info", "--format", "json")
    assert all(count == 0 for count in json.loads(out)["tables"].values())
