"""Survey statistics: Taylor-linearised SEs against a hand-computed example, against a direct
definitional implementation, and the engine (SQL) path against the NumPy path."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from mgcare.screen import survey
from tests.screen.conftest import Screened

# Two strata of two PSUs each (worked by hand in the docstring of test_hand_computed_example).
STRATA = [1, 1, 1, 2, 2, 2]
PSU = [1, 1, 2, 1, 2, 2]
WEIGHT = [1.0, 1.0, 2.0, 1.0, 2.0, 1.0]
FLAG = [1, 0, 1, 0, 0, 1]


def test_hand_computed_example() -> None:
    """X = 8, Y = 4, R = 0.5. PSU residuals z = (Y_hj - R X_hj) / X: stratum 1: 0, 0.125;
    stratum 2: -0.0625, -0.0625. V = 2 * ((-0.0625)^2 + 0.0625^2) + 0 = 0.015625, SE = 0.125;
    df = 4 PSUs - 2 strata = 2, t(0.975, 2) = 4.302652729911275."""
    estimate = survey.weighted_mean(FLAG, WEIGHT, STRATA, PSU)
    assert estimate.estimate == 0.5
    assert math.isclose(estimate.se, 0.125, rel_tol=1e-12)
    assert estimate.df == 2
    half = 4.302652729911275 * 0.125
    assert math.isclose(estimate.ci_low, 0.5 - half, rel_tol=1e-9)
    assert math.isclose(estimate.ci_high, 0.5 + half, rel_tol=1e-9)
    prevalence = survey.weighted_prevalence(FLAG, WEIGHT, STRATA, PSU)
    assert prevalence.ci_low == 0.0 and prevalence.ci_high == 1.0
    assert estimate.n == 6 and estimate.population == 8.0


def _definitional(
    values: np.ndarray, weights: np.ndarray, strata: np.ndarray, psu: np.ndarray, domain: np.ndarray
) -> tuple[float, float]:
    """V(R) = sum_h n_h/(n_h-1) sum_j (z_hj - mean_h z)^2, written out with explicit loops."""
    wd = weights * domain
    total_x = wd.sum()
    ratio = (wd * values).sum() / total_x
    z = wd * (values - ratio) / total_x
    variance = 0.0
    for h in np.unique(strata):
        in_h = strata == h
        totals = [z[in_h & (psu == j)].sum() for j in np.unique(psu[in_h])]
        if len(totals) > 1:
            mean = sum(totals) / len(totals)
            variance += len(totals) / (len(totals) - 1) * sum((t - mean) ** 2 for t in totals)
    return ratio, math.sqrt(variance)


def test_matches_direct_definition_with_domain() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    strata = rng.integers(0, 15, n)
    psu = rng.integers(0, 2, n)
    weights = rng.lognormal(9, 0.8, n)
    values = rng.normal(300, 90, n)
    domain = rng.random(n) < 0.4
    ratio, se = _definitional(values, weights, strata, psu, domain)
    estimate = survey.weighted_mean(values, weights, strata, psu, domain)
    assert math.isclose(estimate.estimate, ratio, rel_tol=1e-12)
    assert math.isclose(estimate.se, se, rel_tol=1e-9)
    assert estimate.df == 15 and estimate.n == int(domain.sum())


def test_no_design_is_with_replacement_srs() -> None:
    """Weights only: every person is a PSU, one stratum (var of a weighted mean)."""
    rng = np.random.default_rng(5)
    values, weights = rng.normal(0, 1, 400), rng.uniform(1, 3, 400)
    estimate = survey.weighted_mean(values, weights)
    ratio, se = _definitional(values, weights, np.zeros(400), np.arange(400), np.ones(400))
    assert math.isclose(estimate.se, se, rel_tol=1e-9) and estimate.df == 399
    assert math.isclose(estimate.estimate, ratio, rel_tol=1e-12)


def test_singleton_stratum_contributes_nothing_and_is_reported() -> None:
    estimate = survey.weighted_mean([1, 0, 1], [1, 1, 1], [1, 1, 2], [1, 2, 1])
    assert estimate.singleton_strata == 1 and estimate.df == 1


def test_t_quantile() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 5, 15, 30, 120, 10_000):
        for p in (0.975, 0.95, 0.6, 0.025):
            assert math.isclose(
                survey.t_quantile(p, df),
                float(scipy_stats.t.ppf(p, df)),
                rel_tol=1e-9,
                abs_tol=1e-12,
            )


def test_engine_moments_match_numpy(screened: Screened) -> None:
    """The SQL path (moments per stratum computed by the engine) gives the NumPy estimates."""
    persons = pq.read_table(screened.population.paths["persons"]).to_pylist()
    design = {}
    for row in persons:
        design.setdefault(row["person_id"], row)
    ids = [pid for pid in screened.rows if design[pid]["weight"] is not None]
    weights = np.array([design[pid]["weight"] for pid in ids])
    strata = np.array([design[pid]["strata"] for pid in ids])
    psu = np.array([design[pid]["psu"] for pid in ids])
    prevalence = screened.summary.data["weighted"]["prevalence"]
    for code in ("renal-impairment", "magnesium-not-measured", "depleting-medication"):
        flags = np.array([code in screened.rows[pid]["codes"] for pid in ids])
        expected = survey.weighted_prevalence(flags, weights, strata, psu)
        got = prevalence[code]
        assert math.isclose(got["estimate"], expected.estimate, rel_tol=1e-9)
        assert math.isclose(got["se"], expected.se, rel_tol=1e-7)
        assert got["df"] == expected.df
    measured = np.array([screened.rows[pid]["mg_status"] is not None for pid in ids])
    low = np.array([screened.rows[pid]["mg_status"] == "hypomagnesemia" for pid in ids])
    expected = survey.weighted_prevalence(low, weights, strata, psu, measured)
    got = prevalence["mg_status=hypomagnesemia (among measured)"]
    assert math.isclose(got["estimate"], expected.estimate, rel_tol=1e-9)
    assert math.isclose(got["se"], expected.se, rel_tol=1e-7)
