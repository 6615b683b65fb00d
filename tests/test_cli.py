"""The command line as a user meets it: exit codes, JSON contract, both languages, fast help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgcare import __version__
from tests.conftest import ASSESSMENT_KEYS, run_mgcare

DEMO = Path(__file__).resolve().parents[1] / "src" / "mgcare" / "demo" / "demo_patient.json"


mgcare = run_mgcare


def test_assess_json_matches_contract() -> None:
    """DESIGN.md 4: `assess --format json` prints exactly the contract's keys and item fields."""
    done = mgcare("assess", str(DEMO), "--format", "json", "--as-of", "2026-11-25")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == ASSESSMENT_KEYS
    assert result["mgcare_version"] == __version__
    assert set(result["serum_magnesium"]) == {
        "value",
        "unit",
        "mmol_l",
        "status",
        "ctcae_grade",
        "effective",
    }
    assert set(result["ca_mg_ratio"]) == {"molar", "cutoff", "applies"}
    assert set(result["egfr"]) == {"value", "category", "method"}
    for item in [*result["findings"], *result["recommendations"]]:
        assert set(item) == {"code", "severity", "summary", "detail", "evidence"}
        assert item["severity"] in ("info", "warning", "critical")


def test_context_options_change_route() -> None:
    """DESIGN.md 4: symptoms given on the CLI switch mild deficiency from oral to IV."""
    base = json.loads(
        mgcare("assess", str(DEMO), "--format", "json", "--as-of", "2026-11-25").stdout
    )
    symptomatic = json.loads(
        mgcare(
            "assess", str(DEMO), "--format", "json", "--as-of", "2026-11-25", "--symptomatic"
        ).stdout
    )
    assert "oral-magnesium" in [r["code"] for r in base["recommendations"]]
    assert "iv-magnesium-sulfate" in [r["code"] for r in symptomatic["recommendations"]]


def test_chinese_text_output() -> None:
    done = mgcare("assess", str(DEMO), "--lang", "zh", "--as-of", "2026-11-25")
    assert done.returncode == 0
    assert "低镁血症" in done.stdout and "免责声明" in done.stdout


def test_bad_date_is_exit_2() -> None:
    done = mgcare("assess", str(DEMO), "--as-of", "yesterday")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--as-of" in done.stderr


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    done = mgcare("assess", str(tmp_path / "nope.json"))
    assert done.returncode == 2 and "no such file" in done.stderr
    assert "Traceback" not in done.stderr


def test_knowledge_lists_sources_and_version() -> None:
    done = mgcare("knowledge", "--format", "json")
    assert done.returncode == 0
    summary = json.loads(done.stdout)
    assert summary["counts"]["review_references"] == 56
    names = {row["name"] for row in summary["thresholds"]}
    assert "serum_magnesium.deficiency_below" in names
    text = mgcare("knowledge")
    assert "knowledge pack" in text.stdout and "CKDEPI21" in text.stdout


def test_demo_runs() -> None:
    done = mgcare("demo")
    assert done.returncode == 0 and "Hypomagnesaemia" in done.stdout


@pytest.mark.parametrize("args", [["--help"], ["assess", "--help"]])
def test_help(args: list[str]) -> None:
    done = mgcare(*args)
    assert done.returncode == 0 and "Usage" in done.stdout


# --- every command keeps the command-line contract (DESIGN.md 7) ------------------------------


def _command_paths() -> list[tuple[str, ...]]:
    """Every leaf command of the Typer app, discovered, so a new command is checked too."""
    import typer

    from mgcare.cli import app

    def walk(command: object, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            return [path]
        return [p for name in sorted(subcommands) for p in walk(subcommands[name], (*path, name))]

    return walk(typer.main.get_command(app), ())


CONTRACT_CASES = [pytest.param(path, id=" ".join(path)) for path in _command_paths()]


@pytest.mark.parametrize("path", CONTRACT_CASES)
def test_every_command_takes_format_and_lang(path: tuple[str, ...]) -> None:
    """DESIGN.md 7: every command accepts --format text|json and --lang en|zh."""
    import re

    from typer.testing import CliRunner

    from mgcare.cli import app

    done = CliRunner().invoke(app, [*path, "--help"])
    assert done.exit_code == 0, done.output
    for option in ("--format", "--lang"):
        assert re.search(rf"(?<![\w-]){option}(?![\w-])", done.output), (path, option)


def test_command_discovery_sees_the_subcommands() -> None:
    paths = _command_paths()
    assert {("assess",), ("serve",), ("db", "import"), ("db", "backup"), ("foods", "show")} <= set(
        paths
    )


def test_serve_help_names_language_and_format() -> None:
    done = mgcare("serve", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.replace("│", " ").split())
    assert "--lang" in text and "$MGCARE_SERVICE_LANG" in text
    assert "--format" in text and "one JSON line" in text


def _serve_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "MGCARE_DATABASE_URL": database_url,
        "MGCARE_SERVICE_DB": str(tmp_path / "service.sqlite3"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }


def test_serve_with_unusable_database_is_one_line_in_chinese(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = _serve_env(tmp_path, "mysql+nosuchdriver://h/db")
    argv = [sys.executable, "-m", "mgcare.cli", "serve", "--port", "1", "--lang", "zh"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("mgcare: 无法启动服务：not a usable database URL: mysql+")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    english = subprocess.run(
        argv[:-2], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert english.returncode == 2
    assert english.stderr.startswith("mgcare: not a usable database URL: mysql+")


@pytest.mark.slow
def test_serve_json_announces_itself_and_serves_in_the_chosen_language(tmp_path: Path) -> None:
    """`--format json`: one JSON line on stdout; `--lang zh`: the service's cards are Chinese."""
    import select
    import subprocess
    import sys
    import time

    import httpx

    from tests.service.live import free_port

    port = free_port()
    env = _serve_env(tmp_path, f"sqlite:///{tmp_path / 'mgcare.sqlite3'}")
    argv = [sys.executable, "-m", "mgcare.cli", "serve", "--port", str(port), "--dev"]
    with (tmp_path / "stderr.log").open("wb") as log:
        process = subprocess.Popen(
            [*argv, "--lang", "zh", "--format", "json"], env=env, stdout=subprocess.PIPE, stderr=log
        )
        try:
            assert process.stdout is not None
            assert select.select([process.stdout], [], [], 60)[0], "no announcement"
            announced = json.loads(process.stdout.readline())
            base = f"http://127.0.0.1:{port}"
            assert announced["host"] == "127.0.0.1" and announced["port"] == port
            assert announced["dev"] is True and announced["lang"] == "zh"
            assert announced["urls"]["cds_discovery"] == f"{base}/cds-services"
            assert announced["urls"]["dev_demo"] == f"{base}/dev/demo"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, (tmp_path / "stderr.log").read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            demo = httpx.get(f"{base}/dev/demo", timeout=30).json()
            summaries = " ".join(c["summary"] for c in demo["cds_hooks_response"]["cards"])
            assert any("\u4e00" <= ch <= "\u9fff" for ch in summaries), summaries
            httpx.get(
                f"{base}/health", timeout=5
            )  # an access-log line, which must not be on stdout
        finally:
            process.terminate()
            remaining, _ = process.communicate(timeout=20)
    assert remaining == b""
    assert "JWT verification is OFF" in (tmp_path / "stderr.log").read_text()
