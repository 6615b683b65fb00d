"""Design-based estimates for complex surveys: weighted means and prevalences (ratio estimators)
with Taylor-linearised standard errors, as the NHANES analytic guidelines prescribe.

Variance: with-replacement approximation of the first-stage units (PSUs) within strata,

    z_hj = (Y_hj - R X_hj) / X,     V(R) = sum_h n_h / (n_h - 1) * sum_j (z_hj - mean_h z)^2,

where Y_hj and X_hj are the PSU totals of w*y*d and w*d (d = 1 inside the domain, 0 outside, so
subpopulations keep the full design), R = Y / X. Degrees of freedom: PSUs minus strata. A stratum
with a single PSU contributes no variance and is reported. Without a design, each person is a PSU
in one stratum (the usual with-replacement estimator for weighted data).

The same moments (n_h, sum of Y - R X, sum of its square, per stratum) are computed in SQL by the
screening engines and here with numpy, so both paths share `estimate_from_moments`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

CONFIDENCE = 0.95
"""Two-sided confidence level of the reported intervals."""
_MAX_ITERATIONS = 200
_TOLERANCE = 1e-12


@dataclass(frozen=True, slots=True)
class Estimate:
    """A design-based estimate. `n`: persons in the domain (unweighted); `population`: the
    weighted size of the domain; `singleton_strata`: strata with one PSU (no variance)."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    df: int
    n: int
    population: float
    singleton_strata: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def clipped(self, low: float, high: float) -> Estimate:
        """The interval clipped to a range (a prevalence lies in [0, 1]); NaN stays NaN."""
        if math.isnan(self.ci_low) or math.isnan(self.ci_high):
            return self
        return Estimate(
            self.estimate,
            self.se,
            max(low, self.ci_low),
            min(high, self.ci_high),
            self.df,
            self.n,
            self.population,
            self.singleton_strata,
        )


@dataclass(frozen=True, slots=True)
class StratumMoments:
    """Per stratum: PSU count, sum over PSUs of (Y - R X) and of its square."""

    psus: int
    total: float
    squares: float


# --- Student t quantile (no SciPy needed) ----------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, _MAX_ITERATIONS + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _TOLERANCE:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    x = df / (df + t * t)
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, x)
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t (bisection on the CDF; exact to ~1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(_MAX_ITERATIONS):
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < _TOLERANCE * max(1.0, high):
            break
    return (low + high) / 2.0


# --- estimates ------------------------------------------------------------------------------------


def estimate_from_moments(
    total_y: float,
    total_x: float,
    strata: Sequence[StratumMoments],
    n: int,
    *,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Ratio estimate R = Y / X with its linearised SE from per-stratum moments of Y - R X."""
    psus = sum(s.psus for s in strata)
    df = max(psus - len(strata), 1)
    if total_x <= 0:
        nan = float("nan")
        return Estimate(nan, nan, nan, nan, df, n, total_x, 0)
    ratio = total_y / total_x
    variance = 0.0
    singletons = 0
    for stratum in strata:
        if stratum.psus < 2:
            singletons += 1
            continue
        centred = stratum.squares - stratum.total * stratum.total / stratum.psus
        variance += stratum.psus / (stratum.psus - 1) * max(centred, 0.0)
    se = math.sqrt(variance) / total_x
    half = t_quantile(1.0 - (1.0 - confidence) / 2.0, df) * se
    return Estimate(ratio, se, ratio - half, ratio + half, df, n, total_x, singletons)


def _design(
    size: int, strata: npt.ArrayLike | None, psu: npt.ArrayLike | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Integer codes of strata and of PSUs within strata (each person a PSU when none given)."""
    strata_codes = (
        np.zeros(size, dtype=np.int64)
        if strata is None
        else np.unique(np.asarray(strata), return_inverse=True)[1].astype(np.int64)
    )
    if psu is None:
        psu_codes = np.arange(size, dtype=np.int64)
    else:
        pairs = np.stack(
            [strata_codes, np.unique(np.asarray(psu), return_inverse=True)[1].astype(np.int64)],
            axis=1,
        )
        psu_codes = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
    return strata_codes, psu_codes


def ratio(
    numerator: npt.ArrayLike,
    denominator: npt.ArrayLike,
    strata: npt.ArrayLike | None = None,
    psu: npt.ArrayLike | None = None,
    *,
    n: int | None = None,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Ratio of totals sum(numerator) / sum(denominator) with numerator = w*y*d and
    denominator = w*d per person; SE by linearisation over the design."""
    y = np.asarray(numerator, dtype=np.float64)
    x = np.asarray(denominator, dtype=np.float64)
    strata_codes, psu_codes = _design(len(y), strata, psu)
    total_y, total_x = float(y.sum()), float(x.sum())
    r = total_y / total_x if total_x > 0 else 0.0
    psu_y = np.bincount(psu_codes, weights=y)
    psu_x = np.bincount(psu_codes, weights=x)
    psu_stratum = np.zeros(len(psu_y), dtype=np.int64)
    psu_stratum[psu_codes] = strata_codes
    residual = psu_y - r * psu_x
    count = np.bincount(psu_stratum)
    sums = np.bincount(psu_stratum, weights=residual)
    squares = np.bincount(psu_stratum, weights=residual * residual)
    moments = [
        StratumMoments(int(count[h]), float(sums[h]), float(squares[h]))
        for h in range(len(count))
        if count[h] > 0
    ]
    size = int(n) if n is not None else len(y)
    return estimate_from_moments(total_y, total_x, moments, size, confidence=confidence)


def weighted_mean(
    values: npt.ArrayLike,
    weights: npt.ArrayLike,
    strata: npt.ArrayLike | None = None,
    psu: npt.ArrayLike | None = None,
    domain: npt.ArrayLike | None = None,
    *,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Weighted mean of `values` in the domain, keeping every PSU of the design."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    d = np.ones(len(v), dtype=bool) if domain is None else np.asarray(domain, dtype=bool)
    d = d & np.isfinite(v) & np.isfinite(w)
    wd = np.where(d, w, 0.0)
    return ratio(
        np.where(d, wd * np.nan_to_num(v), 0.0),
        wd,
        strata,
        psu,
        n=int(d.sum()),
        confidence=confidence,
    )


def weighted_prevalence(
    flags: npt.ArrayLike,
    weights: npt.ArrayLike,
    strata: npt.ArrayLike | None = None,
    psu: npt.ArrayLike | None = None,
    domain: npt.ArrayLike | None = None,
    *,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Weighted share of persons with a flag in the domain, interval clipped to [0, 1]."""
    values = np.asarray(flags, dtype=np.float64)
    return weighted_mean(values, weights, strata, psu, domain, confidence=confidence).clipped(
        0.0, 1.0
    )
