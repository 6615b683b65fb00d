"""The generator: seeded (same seed, same bytes), chunked, values from the pack, CLI."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from mgcare.knowledge import Knowledge
from mgcare.screen.synthetic import Config, catalogue, generate


def _digest(paths: dict[str, Path]) -> dict[str, str]:
    return {
        name: hashlib.sha256(pq.read_table(path).to_pandas().to_csv().encode()).hexdigest()
        for name, path in paths.items()
    }


def test_same_seed_same_tables(tmp_path: Path, knowledge: Knowledge) -> None:
    a = generate(tmp_path / "a", Config(persons=500, seed=1), knowledge=knowledge)
    b = generate(tmp_path / "b", Config(persons=500, seed=1), knowledge=knowledge)
    c = generate(tmp_path / "c", Config(persons=500, seed=2), knowledge=knowledge)
    assert _digest(a) == _digest(b) != _digest(c)


def test_chunks_cover_all_persons(tmp_path: Path, knowledge: Knowledge) -> None:
    paths = generate(tmp_path, Config(persons=1050, chunk=200, bad_rows=False), knowledge=knowledge)
    ids = pq.read_table(paths["persons"], columns=["person_id"]).column(0).to_pylist()
    assert len(ids) == len(set(ids)) == 1050


def test_boundaries_come_from_the_pack(knowledge: Knowledge) -> None:
    cat = catalogue(knowledge)
    serum = knowledge.thresholds.serum_magnesium
    assert serum.deficiency_below.value in cat.mg_boundaries["mmol/L"]
    assert 1.2 in cat.mg_boundaries["mg/dL"]  # CTCAE grade-2 bound in mg/dL (ctcae.toml)
    assert knowledge.thresholds.renal.impairment_below.value in cat.egfr_boundaries
    assert {code for _, code in cat.drug_codes} >= {
        d.name_zh for d in knowledge.drugs.drug if d.name_zh
    }


def test_command_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mgcare.screen.synthetic",
            "--persons",
            "300",
            "--out",
            str(tmp_path),
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "generated in" in done.stdout
    assert (
        (tmp_path / "labs.csv")
        .read_text(encoding="utf-8")
        .startswith('"person_id","loinc","value"')
    )
