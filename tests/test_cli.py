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
