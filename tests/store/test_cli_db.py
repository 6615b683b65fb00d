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


# --- languages and formats (DESIGN.md 7) -------------------------------------------------------


def test_message_catalogue_is_complete_in_both_languages() -> None:
    """Every sentence has English and Chinese with the same placeholders (Chinese lead-ins may
    name more); the Chinese is Chinese."""
    import string

    from mgcare.store.cli_messages import COUNTS, MESSAGES

    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    for key, (en, zh) in MESSAGES.items():
        assert en.strip() and zh.strip(), key
        if key.startswith("error"):  # English keeps the bare reason; Chinese names the object
            assert fields(en) <= fields(zh) and "reason" in fields(en), key
        else:
            assert fields(en) == fields(zh), key
        latin_only = fields(zh) and not zh.replace("{reason}", "").strip()
        if not latin_only and key not in ("backup.kind_sqlite", "import.separator"):
            assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), key
    assert MESSAGES["import.separator"][1] == "、"
    for key, (one, many, zh) in COUNTS.items():
        assert fields(one) == fields(many) == fields(zh) == {"n"}, key


def test_import_in_chinese_names_each_file_with_a_translated_lead_in(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'zh.sqlite3'}"
    missing = tmp_path / "missing.json"
    code, out, err = db(
        url, "import", str(BUNDLE), str(broken_bundle(tmp_path)), str(missing), "--lang", "zh"
    )
    assert code == 2
    assert out == f"已导入 {BUNDLE} → 人员 1（化验 5 项、用药 2 种、诊断 2 项）\n"
    lines = err.splitlines()
    assert lines[0].startswith(f"mgcare: 无法导入 {tmp_path / 'no_unit.json'}：Observation/")
    assert "no unit" in lines[0]  # the store's reason stays as it was raised
    assert lines[1] == f"mgcare: 无法导入 {missing}：文件不存在"
    assert lines[2] == "mgcare: 3 个文件中有 2 个未导入（其内容均未存储）；已导入 1 个"
    code, out, _ = db(url, "import", str(BUNDLE), "--lang", "zh")
    assert (code, out) == (0, f"已更新 {BUNDLE} → 人员 1（已存储，无新内容）\n")
    code, out, _ = db(url, "list", "--lang", "zh")
    header, row = out.splitlines()
    assert header.split() == [
        "编号",
        "外部编号",
        "姓名",
        "性别",
        "年龄",
        "最近血镁",
        "血镁日期",
        "化验数",
    ]
    assert " 女 " in row and "0.55 mmol/L" in row
    code, out, _ = db(url, "info", "--lang", "zh")
    assert out.splitlines()[:2] == [f"数据库    {url}", "后端      sqlite"]
    code, _, err = db(url, "export", "nobody", "--lang", "zh")
    assert (code, err) == (
        2,
        "mgcare: 无法导出 nobody：no person with store id or external id 'nobody'\n",
    )


def test_import_json_reports_every_file(tmp_path: Path) -> None:
    """`--format json`: one entry per file in order; failures keep exit 2 and the summary line."""
    url = f"sqlite:///{tmp_path / 'json.sqlite3'}"
    bad = tmp_path / "bad.json"
    bad.write_text("[", encoding="utf-8")
    code, out, err = db(url, "import", str(DEMO), str(bad), str(DEMO), "--format", "json")
    assert code == 2
    assert err == "mgcare: 1 of 3 files not imported (nothing of it was stored); 2 imported\n"
    assert json.loads(out) == [
        {
            "file": str(DEMO),
            "status": "imported",
            "person_id": 1,
            "counts": {"labs": 4, "medications": 2, "conditions": 2, "food_log": 4},
            "reason": None,
        },
        {
            "file": str(bad),
            "status": "failed",
            "person_id": None,
            "counts": None,
            "reason": "malformed JSON (Expecting value at line 1, column 2)",
        },
        {
            "file": str(DEMO),
            "status": "updated",
            "person_id": 1,
            "counts": {"labs": 0, "medications": 0, "conditions": 0, "food_log": 0},
            "reason": None,
        },
    ]


def test_backup_json_and_chinese(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    assert db(url, "import", str(BUNDLE))[0] == 0
    target = tmp_path / "copy.sqlite3"
    code, out, _ = db(url, "backup", str(target), "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "path": str(target),
        "bytes": target.stat().st_size,
        "backend": "sqlite",
    }
    code, _, err = db(url, "backup", str(target), "--lang", "zh")
    assert (code, err) == (2, f"mgcare: {target} 已存在；请换一个文件名，或加 --force 覆盖\n")
    code, out, _ = db(url, "backup", str(target), "--force", "--lang", "zh")
    assert code == 0 and out.startswith(f"已备份 1 名人员到 {target}（") and "SQLite）" in out


def test_unusable_database_in_chinese_is_one_line() -> None:
    url = "mysql+nosuchdriver://h/db"
    for command, lead in ((["list"], "无法列出人员："), (["import", str(BUNDLE)], "无法导入：")):
        code, out, err = db(url, *command, "--lang", "zh")
        assert (code, out) == (2, "")
        assert err.startswith(f"mgcare: {lead}not a usable database URL: mysql+nosuchdriver")
        assert err.count("\n") == 1


def test_import_stores_the_assessment_with_its_versions(tmp_path: Path) -> None:
    """The store keeps the history of what mgcare said: each import that adds data stores the
    assessment with the mgcare and knowledge-pack versions; re-importing nothing new adds none."""
    from mgcare import __version__
    from mgcare.knowledge import load_knowledge
    from mgcare.store import make_engine
    from mgcare.store.repository import assessments

    url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    demo = "src/mgcare/demo/demo_patient.json"
    for _ in range(2):
        done = run_mgcare("db", "import", demo, "--database", url)
        assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    try:
        stored = assessments(engine, 1)
    finally:
        engine.dispose()
    assert len(stored) == 1
    assert stored[0].mgcare_version == __version__
    assert stored[0].knowledge_version == load_knowledge().version
    assert stored[0].serum_magnesium is not None
