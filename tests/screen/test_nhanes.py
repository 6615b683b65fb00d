"""The NHANES 2017-2018 worked example: published adult means reproduced from the shared data,
and the whole path (intake by DRI group, screening with the survey design) on a committed sample."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from mgcare.knowledge import Knowledge
from mgcare.screen import nhanes, survey
from mgcare.screen.command import run_screen

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "nhanes_2017_2018"
SAMPLE = Path(__file__).parent / "fixtures" / "nhanes_2017_2018_sample.csv"
needs_shared = pytest.mark.skipif(
    not (SHARED / "DEMO_J.XPT").exists(), reason="needs ../shared/data/nhanes_2017_2018"
)


@needs_shared
def test_published_adult_means_are_reproduced() -> None:
    """data/README: WTDRD1-weighted mean DR1TMAGN of adults 20+ with reliable day-1 recalls is
    342.5 mg (men) and 271.4 mg (women), the WWEIA 2017-2018 figures."""
    means = nhanes.adult_mean_by_sex(nhanes.load(SHARED))
    assert round(means["male"].estimate, 1) == 342.5
    assert round(means["female"].estimate, 1) == 271.4
    assert means["male"].df == 15 and 0 < means["male"].se < 10


@needs_shared
def test_full_example_by_dri_group(knowledge: Knowledge, tmp_path: Path) -> None:
    frame = nhanes.load(SHARED)
    results = {r.label: r for r in nhanes.intake_by_group(frame, knowledge)}
    adult_men = results["31+ y male"]
    assert adult_men.ear_mg == 350 and adult_men.mean.n > 1000
    assert 0.4 < adult_men.below_ear.estimate < 0.8
    paths = nhanes.screening_tables(frame, tmp_path)
    summary = run_screen(
        paths["persons"],
        paths["labs"],
        None,
        paths["conditions"],
        tmp_path / "out",
        "duckdb",
        date(2018, 12, 31),
        None,
        False,
    )
    renal = summary.data["weighted"]["prevalence"]["renal-impairment"]
    assert 0.03 < renal["estimate"] < 0.10 and renal["df"] == 15


def test_sample_intake_matches_direct_computation(knowledge: Knowledge) -> None:
    frame = nhanes.load_sample(SAMPLE)
    results = nhanes.intake_by_group(frame, knowledge)
    group = next(g for g in nhanes.groups(knowledge) if g.label == "31+ y female")
    result = next(r for r in results if r.label == group.label)
    reliable = (frame["DR1DRSTZ"] == 1) & (frame["WTDRD1"].fillna(0) > 0)
    domain = (reliable & group.members(frame)).to_numpy()
    w = frame["WTDRD1"].fillna(0).to_numpy()[domain]
    intake = frame["DR1TMAGN"].to_numpy()[domain]
    assert math.isclose(result.mean.estimate, float(np.sum(w * intake) / np.sum(w)), rel_tol=1e-12)
    below = float(np.sum(w * (intake < group.row.ear_mg)) / np.sum(w))
    assert math.isclose(result.below_ear.estimate, below, rel_tol=1e-12)
    assert result.mean.df == 15 and result.mean.se > 0


def test_sample_screen_uses_the_design(knowledge: Knowledge, tmp_path: Path) -> None:
    """The screen's weighted prevalence (SQL moments) equals the NumPy estimate on the same
    persons, with NHANES strata and PSUs."""
    frame = nhanes.load_sample(SAMPLE)
    paths = nhanes.screening_tables(frame, tmp_path)
    summary = run_screen(
        paths["persons"],
        paths["labs"],
        None,
        paths["conditions"],
        tmp_path / "out",
        "duckdb",
        date(2018, 12, 31),
        None,
        False,
    )
    persons = pq.read_table(paths["persons"]).to_pandas().set_index("person_id")
    rows = pq.read_table(tmp_path / "out" / "persons.parquet").to_pandas().set_index("person_id")
    joined = persons.join(rows[["codes", "egfr"]])
    flags = joined["codes"].map(lambda codes: "renal-impairment" in list(codes)).to_numpy()
    expected = survey.weighted_prevalence(flags, joined["weight"], joined["strata"], joined["psu"])
    got = summary.data["weighted"]["prevalence"]["renal-impairment"]
    assert math.isclose(got["estimate"], expected.estimate, rel_tol=1e-9)
    assert math.isclose(got["se"], expected.se, rel_tol=1e-7)
    assert summary.data["weighted"]["design"]["strata_count"] == 15
    assert joined["egfr"].notna().all()
