"""Shared public-health statistics: intervals, standardised rates, benchmarking and recent trends;
weighted survey estimates on Kish's effective sample size and the change between two of them.

The methods are those behind OHID Fingertips (PHE/OHID technical guides; DHSC's PHStatsMethods is
used only as a test oracle). Everything is vectorised over numpy arrays: no loops over rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import gammaincinv, ndtr, ndtri

__all__ = [
    "BYARS_MIN_COUNT",
    "DSR_MIN_COUNT",
    "EUROPEAN_STANDARD_POPULATION_2013",
    "POLARITY_NAMES",
    "TREND_LEAVE_ONE_OUT_THRESHOLD",
    "TREND_POINTS",
    "TREND_SIGNIFICANCE_THRESHOLD",
    "byars_interval",
    "chi_squared_trend_statistic",
    "compare_with_benchmark",
    "dsr_dobson",
    "exact_poisson_interval",
    "kish_effective_n",
    "mean_change_test",
    "normalise_polarity",
    "proportion_change_test",
    "proportion_with_ci",
    "rate_with_ci",
    "recent_trend",
    "weighted_mean",
    "weighted_proportion",
    "weighted_regression_trend_statistic",
    "wilson_interval",
]

# Byars' approximation is used from this count up; below it the exact Poisson limits.
BYARS_MIN_COUNT = 10
# PHE/OHID publish no directly standardised rate (and no CI) on fewer total events than this.
DSR_MIN_COUNT = 10

# European Standard Population 2013 (Eurostat, 2013 revision), per 100,000, by five-year age band.
EUROPEAN_STANDARD_POPULATION_2013: dict[str, int] = {
    "0-4": 5000,
    "5-9": 5500,
    "10-14": 5500,
    "15-19": 5500,
    "20-24": 6000,
    "25-29": 6000,
    "30-34": 6500,
    "35-39": 7000,
    "40-44": 7000,
    "45-49": 7000,
    "50-54": 7000,
    "55-59": 6500,
    "60-64": 6000,
    "65-69": 5500,
    "70-74": 5000,
    "75-79": 4000,
    "80-84": 2500,
    "85-89": 1500,
    "90+": 1000,
}

# Recent trend (Fingertips): last 5 points; significant above the chi-squared(1 df) 99.8% point
# (9.5495); each leave-one-out fit must stay significant at 95% (3.8415) in the same direction.
TREND_POINTS = 5
# chi-squared quantiles on 1 degree of freedom, 2 × gammaincinv(1/2, p): scipy.stats' own chi2.ppf,
# without importing scipy.stats (most of a second at every load of the definitions)
TREND_SIGNIFICANCE_THRESHOLD = float(2 * gammaincinv(0.5, 0.998))
TREND_LEAVE_ONE_OUT_THRESHOLD = float(2 * gammaincinv(0.5, 0.95))

# Polarity names as Fingertips spells them (lower-cased, whitespace collapsed) and our short forms.
POLARITY_NAMES: dict[str, str] = {
    "low": "low",
    "low is good": "low",
    "rag - low is good": "low",
    "high": "high",
    "high is good": "high",
    "rag - high is good": "high",
    "none": "none",
    "": "none",
    "bob": "none",
    "bob - blue orange blue": "none",
    "not applicable": "none",
    "no judgement": "none",
}

TREND_INCREASING = "Increasing"
TREND_DECREASING = "Decreasing"
TREND_NO_CHANGE = "No significant change"
TREND_CANNOT = "Cannot be calculated"


# --------------------------------------------------------------------------------------------
# helpers


def as_float_array(x: ArrayLike | None) -> np.ndarray:
    """Numbers as a float array, with pandas' missing markers (None, pd.NA, NaT) as NaN."""
    if x is None or x is pd.NA:
        return np.array(np.nan)
    if isinstance(x, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        return x.to_numpy(dtype=float, na_value=np.nan)
    try:
        return np.asarray(x, dtype=float)
    except TypeError:
        # A list holding pd.NA: let pandas read it.
        objects = np.asarray(x, dtype=object)
        as_float = pd.array(objects.ravel(), dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
        return as_float.reshape(objects.shape)


def _z(confidence: float) -> float:
    """Two-sided standard normal quantile, e.g. 1.959964 for 95%."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return float(ndtri(1 - (1 - confidence) / 2))


def _check_multiplier(multiplier: float) -> float:
    if not np.isfinite(multiplier) or multiplier <= 0:
        raise ValueError(f"multiplier must be a positive number, got {multiplier!r}")
    return float(multiplier)


def _series_index(n: int, *candidates: object) -> pd.Index:
    """The index of the first Series argument of matching length, so results align with inputs."""
    for c in candidates:
        if isinstance(c, pd.Series) and len(c) == n:
            return c.index
    return pd.RangeIndex(n)


def as_list(cols: str | Sequence[str] | None) -> list[str]:
    """Column names as a list: one name, several, or none."""
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


# --------------------------------------------------------------------------------------------
# proportions


def wilson_interval(
    count: ArrayLike, denominator: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion, on the 0-1 scale.

    For r events out of n, with z the two-sided normal quantile:
        limits = (2r + z² ∓ z·sqrt(z² + 4r(1 - r/n))) / (2(n + z²))
    Reference: Wilson EB (1927) J Am Stat Assoc 22:209-12; Newcombe RG (1998) Stat Med 17:857-72
    (method 3); PHE technical guide "Confidence intervals" (proportions).

    Count 0 gives a lower limit of 0 and count == n an upper limit of 1. A missing or
    non-positive denominator, a missing or negative count, or a count above the denominator
    gives NaN. Counts and denominators need not be integers: for weighted survey data pass
    ``count = p * n_eff`` and ``denominator = n_eff``, with Kish's effective sample size
    n_eff = (Σw)² / Σw², which gives the Wilson interval for the weighted proportion p.
    Inputs broadcast against each other; scalars give 0-d arrays.
    """
    z = _z(confidence)
    r, n = np.broadcast_arrays(as_float_array(count), as_float_array(denominator))
    valid = np.isfinite(r) & np.isfinite(n) & (n > 0) & (r >= 0) & (r <= n)
    r = np.where(valid, r, np.nan)
    n = np.where(valid, n, np.nan)
    z2 = z * z
    centre = 2 * r + z2
    with np.errstate(invalid="ignore", divide="ignore"):
        half_width = z * np.sqrt(z2 + 4 * r * (1 - r / n))
        scale = 2 * (n + z2)
        lower = np.clip((centre - half_width) / scale, 0.0, 1.0)
        upper = np.clip((centre + half_width) / scale, 0.0, 1.0)
    # the limits at r = 0 and r = n are exactly 0 and 1 (rounding would give 0.9999999999999998)
    lower = np.where(r == 0, 0.0, lower)
    upper = np.where(r == n, 1.0, upper)
    return lower, upper


def proportion_with_ci(
    count: ArrayLike,
    denominator: ArrayLike,
    multiplier: float = 100,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Proportion r/n × multiplier (100 gives a percentage) with its Wilson score interval.

    Columns ``value``, ``ci_lower``, ``ci_upper``; invalid or missing inputs give a NaN row
    (see :func:`wilson_interval`). The index follows a Series input, so the result can be
    joined back to the frame the columns came from.
    """
    multiplier = _check_multiplier(multiplier)
    lower, upper = wilson_interval(count, denominator, confidence)
    r, n = np.broadcast_arrays(as_float_array(count), as_float_array(denominator))
    # wilson_interval has already turned every invalid input into NaN limits.
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(np.isnan(lower), np.nan, r / n)
    value, lower, upper = (np.atleast_1d(a) * multiplier for a in (value, lower, upper))
    index = _series_index(len(value), count, denominator)
    return pd.DataFrame({"value": value, "ci_lower": lower, "ci_upper": upper}, index=index)


# --------------------------------------------------------------------------------------------
# rates


def _exact_poisson_count_limits(o: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson limits for an observed count (chi-squared / gamma quantiles).

    lower = χ²(α/2; 2O)/2 = Gamma⁻¹(α/2; O), upper = χ²(1-α/2; 2O+2)/2 = Gamma⁻¹(1-α/2; O+1);
    the lower limit of a zero count is 0. Reference: Armitage P, Berry G, Matthews JNS.
    Statistical methods in medical research (4th edn), 2002; PHE technical guide.
    """
    alpha = 1 - confidence
    o = np.where(np.isfinite(o) & (o >= 0), o, np.nan)
    with np.errstate(invalid="ignore"):
        lower = np.where(o == 0, 0.0, gammaincinv(np.where(o > 0, o, np.nan), alpha / 2))
        upper = gammaincinv(o + 1, 1 - alpha / 2)
    return lower, upper


def _byars_count_limits(o: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Byars' approximation to the exact Poisson limits of a count O.

    lower = O(1 - 1/(9O) - z/(3√O))³, upper = (O+1)(1 - 1/(9(O+1)) + z/(3√(O+1)))³.
    Reference: Breslow NE, Day NE. Statistical methods in cancer research, vol II. IARC, 1987.
    """
    z = _z(confidence)
    o = np.where(np.isfinite(o) & (o >= 0), o, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
        o1 = o + 1
        upper = o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3
    # The approximation is meant for O >= 10; below that it can dip under zero (or be undefined
    # at O = 0), and a Poisson mean cannot.
    lower = np.where(o == 0, 0.0, np.maximum(lower, 0.0))
    return lower, upper


def _scale_count_limits(
    limits: tuple[np.ndarray, np.ndarray], denominator: np.ndarray, multiplier: float
) -> tuple[np.ndarray, np.ndarray]:
    n = np.where(np.isfinite(denominator) & (denominator > 0), denominator, np.nan)
    return limits[0] / n * multiplier, limits[1] / n * multiplier


def byars_interval(
    count: ArrayLike,
    denominator: ArrayLike,
    multiplier: float = 1,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Byars' confidence interval for a crude rate count/denominator × multiplier.

    lower = O(1 - 1/(9O) - z/(3√O))³ / n, upper = (O+1)(1 - 1/(9(O+1)) + z/(3√(O+1)))³ / n.
    Reference: Breslow NE, Day NE (1987), vol II, IARC; PHE technical guide "Confidence
    intervals". Accurate for counts of 10 or more; :func:`rate_with_ci` switches to the exact
    interval below that. Here a count of 0 gets lower 0 (and the lower limit is never negative).
    Missing or negative counts, and missing or non-positive denominators, give NaN.
    """
    multiplier = _check_multiplier(multiplier)
    o, n = np.broadcast_arrays(as_float_array(count), as_float_array(denominator))
    return _scale_count_limits(_byars_count_limits(o, confidence), n, multiplier)


def exact_poisson_interval(
    count: ArrayLike,
    denominator: ArrayLike,
    multiplier: float = 1,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson confidence interval for a crude rate count/denominator × multiplier.

    lower = χ²(α/2; 2O) / 2n, upper = χ²(1-α/2; 2O+2) / 2n (computed as gamma quantiles).
    Reference: Armitage P, Berry G, Matthews JNS (2002), Statistical methods in medical research,
    4th edn; PHE technical guide. A count of 0 gives lower 0 and upper -ln(α/2)/n (3.689/n at 95%).
    Missing or negative counts, and missing or non-positive denominators, give NaN.
    """
    multiplier = _check_multiplier(multiplier)
    o, n = np.broadcast_arrays(as_float_array(count), as_float_array(denominator))
    return _scale_count_limits(_exact_poisson_count_limits(o, confidence), n, multiplier)


def _poisson_count_limits(o: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Byars for counts of 10 or more, exact below: the Fingertips rule for crude rates."""
    lower = np.full(o.shape, np.nan)
    upper = np.full(o.shape, np.nan)
    small = np.isfinite(o) & (o >= 0) & (o < BYARS_MIN_COUNT)
    large = np.isfinite(o) & (o >= BYARS_MIN_COUNT)
    # Evaluate each method only where it is used: gamma quantiles are the expensive part.
    lower[small], upper[small] = _exact_poisson_count_limits(o[small], confidence)
    lower[large], upper[large] = _byars_count_limits(o[large], confidence)
    return lower, upper


def rate_with_ci(
    count: ArrayLike,
    denominator: ArrayLike,
    multiplier: float = 1000,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Crude rate count/denominator × multiplier with its confidence interval.

    Byars' approximation for counts of 10 or more, the exact Poisson interval below 10, so a
    zero count has a defined interval (0 to 3.689/n at 95%). Reference: PHE technical guide
    "Confidence intervals"; Breslow & Day (1987); Armitage, Berry & Matthews (2002).
    Columns ``value``, ``ci_lower``, ``ci_upper``. A missing or negative count, or a missing or
    non-positive denominator, gives a NaN row, never an exception. Non-integer counts are
    accepted (the chi-squared quantiles generalise through the gamma distribution).
    """
    multiplier = _check_multiplier(multiplier)
    _z(confidence)
    o, n = np.broadcast_arrays(
        np.atleast_1d(as_float_array(count)), np.atleast_1d(as_float_array(denominator))
    )
    lower, upper = _scale_count_limits(_poisson_count_limits(o, confidence), n, multiplier)
    valid = np.isfinite(o) & (o >= 0) & np.isfinite(n) & (n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(valid, o / n * multiplier, np.nan)
    index = _series_index(len(value), count, denominator)
    return pd.DataFrame({"value": value, "ci_lower": lower, "ci_upper": upper}, index=index)


# --------------------------------------------------------------------------------------------
# directly standardised rates


def dsr_dobson(
    frame: pd.DataFrame,
    count_col: str,
    population_col: str,
    standard_col: str,
    group_cols: str | Sequence[str] | None = None,
    multiplier: float = 100_000,
    confidence: float = 0.95,
    count_limits: Literal["exact", "byars"] = "exact",
) -> pd.DataFrame:
    """Directly standardised rate per group, with Dobson's confidence interval.

    For strata i (e.g. age bands) with events Oᵢ, population nᵢ and standard population wᵢ:
        DSR = Σ wᵢOᵢ/nᵢ / Σwᵢ,   var(DSR) = Σ wᵢ²Oᵢ/nᵢ² / (Σwᵢ)²
        limits = DSR + sqrt(var(DSR)/O) × (O_lower - O),  O = ΣOᵢ,
    with O_lower/O_upper the exact Poisson limits of the total count (``count_limits="exact"``,
    the default) or Byars' approximation to them (``"byars"``, as PHStatsMethods and
    PHEindicatormethods do; the two agree to about 0.2% at O = 10 and closer above).
    References: Dobson AJ, Kuulasmaa K, Eberle E, Scherer J (1991) Stat Med 10:457-62; PHE
    technical guide "Directly standardised rates". Value and CI are NaN where O < 10, as OHID
    publishes them. Standard weights come from ``standard_col`` (see
    ``EUROPEAN_STANDARD_POPULATION_2013``).

    Returns one row per group: the group columns, ``total_count``, ``total_population``,
    ``value``, ``ci_lower``, ``ci_upper``. Missing is missing: a missing count, population or
    standard weight in any stratum makes the group's value and CI NaN (pass explicit zeros where
    the source defines absent strata as zero), as does a stratum with zero population.
    """
    multiplier = _check_multiplier(multiplier)
    _z(confidence)
    if count_limits not in ("exact", "byars"):
        raise ValueError(f"count_limits must be 'exact' or 'byars', got {count_limits!r}")
    keys = as_list(group_cols)
    o = frame[count_col].pipe(as_float_array)
    n = frame[population_col].pipe(as_float_array)
    w = frame[standard_col].pipe(as_float_array)
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = w * o / n
        weighted_sq = w * w * o / (n * n)
    work = pd.DataFrame(
        {
            "total_count": o,
            "total_population": n,
            "_w": w,
            "_wr": weighted,
            "_wr2": weighted_sq,
            "_count_missing": np.isnan(o),
            "_population_missing": np.isnan(n),
            "_missing": ~np.isfinite(weighted_sq) | np.isnan(w) | (o < 0) | (w < 0),
        },
        index=frame.index,
    )
    if keys:
        for k in keys:
            work[k] = frame[k].to_numpy()
        grouped = work.groupby(keys, sort=True, dropna=False)
    else:
        grouped = work.groupby(np.zeros(len(work), dtype=int))
    sums = grouped[["total_count", "total_population", "_w", "_wr", "_wr2"]].sum()
    flags = grouped[["_count_missing", "_population_missing", "_missing"]].any()

    total = sums["total_count"].to_numpy(copy=True)
    total[flags["_count_missing"].to_numpy()] = np.nan
    population = sums["total_population"].to_numpy(copy=True)
    population[flags["_population_missing"].to_numpy()] = np.nan
    usable = ~flags["_missing"].to_numpy() & (total >= DSR_MIN_COUNT) & (sums["_w"].to_numpy() > 0)

    sum_w = np.where(usable, sums["_w"].to_numpy(), np.nan)
    dsr = sums["_wr"].to_numpy() / sum_w
    var = sums["_wr2"].to_numpy() / sum_w**2
    o_total = np.where(usable, total, np.nan)
    limit_fn = _exact_poisson_count_limits if count_limits == "exact" else _byars_count_limits
    o_lower, o_upper = limit_fn(o_total, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.sqrt(var / o_total)
    out = pd.DataFrame(
        {
            "total_count": total,
            "total_population": population,
            "value": dsr * multiplier,
            "ci_lower": (dsr + spread * (o_lower - o_total)) * multiplier,
            "ci_upper": (dsr + spread * (o_upper - o_total)) * multiplier,
        }
    )
    if keys:
        key_frame = sums.index.to_frame(index=False)
        out = pd.concat([key_frame, out], axis=1)
    return out


# --------------------------------------------------------------------------------------------
# comparison with a benchmark


def normalise_polarity(polarity: object) -> np.ndarray:
    """Polarity names to ``"low"``, ``"high"`` or ``"none"`` (no judgement).

    Accepts our short forms ("low", "high", "none") and the Fingertips names ("RAG - Low is good",
    "RAG - High is good", "BOB - Blue orange blue", "Not applicable"; case and runs of spaces,
    including Fingertips' trailing spaces, ignored); None or missing means no judgement. See
    ``POLARITY_NAMES``. An unrecognised name raises ``ValueError``: it is a configuration
    error, not missing data.
    """
    values = pd.Series(np.atleast_1d(np.asarray(polarity, dtype=object)).ravel(), dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = []
    unknown = []
    for name in uniques:  # the distinct names only: a handful, not one per row
        key = " ".join(str(name).lower().split())
        if key not in POLARITY_NAMES:
            unknown.append(name)
        mapped.append(POLARITY_NAMES.get(key, "none"))
    if unknown:
        raise ValueError(
            f"unrecognised polarity {unknown!r}; expected one of {sorted(set(POLARITY_NAMES))}"
        )
    lookup = np.array([*mapped, "none"], dtype=object)  # code -1 (missing) -> no judgement
    return lookup[codes].reshape(np.shape(polarity))


def compare_with_benchmark(
    ci_lower: ArrayLike,
    ci_upper: ArrayLike,
    benchmark_value: ArrayLike,
    polarity: object = None,
) -> np.ndarray:
    """Fingertips' "compared with benchmark" category for each value's confidence interval.

    "Similar" where the benchmark lies within [ci_lower, ci_upper] (inclusive). Otherwise, for
    polarity "low is good", "Better" where ci_upper < benchmark and "Worse" where ci_lower >
    benchmark; "high is good" the reverse; with no polarity (None, "BOB - Blue orange blue",
    "Not applicable") "Lower" / "Higher". A missing limit or benchmark, or a lower limit above
    the upper, gives "Not compared". Reference: PHE/OHID Fingertips user guide, "Compared with
    benchmark" (confidence interval overlap with the benchmark value, 95% CI as published).
    ``polarity`` may be one name or one per row (see :func:`normalise_polarity`).
    """
    lo, hi, bench = np.broadcast_arrays(
        as_float_array(ci_lower), as_float_array(ci_upper), as_float_array(benchmark_value)
    )
    pol = np.broadcast_to(normalise_polarity(polarity), lo.shape)
    not_compared = np.isnan(lo) | np.isnan(hi) | np.isnan(bench) | (lo > hi)
    below = hi < bench
    above = lo > bench
    low, high, none = pol == "low", pol == "high", pol == "none"
    conditions = [
        not_compared,
        below & low,
        below & high,
        below & none,
        above & low,
        above & high,
        above & none,
    ]
    choices = ["Not compared", "Better", "Worse", "Lower", "Worse", "Better", "Higher"]
    return np.select(conditions, choices, default="Similar").astype(object)


# --------------------------------------------------------------------------------------------
# recent trend


def _armitage(r: np.ndarray, n: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chi-squared test for linear trend in proportions along the last axis; (statistic, sign).

    With N = Σnᵢ, R = Σrᵢ and scores tᵢ:
        X² = N (N Σrᵢtᵢ - R Σnᵢtᵢ)² / (R (N - R) (N Σnᵢtᵢ² - (Σnᵢtᵢ)²)),
    equivalently (Σrᵢtᵢ - R·t̄)² / (p̄(1-p̄) Σnᵢ(tᵢ - t̄)²) with t̄ = Σnᵢtᵢ/N, p̄ = R/N.
    The sign of N Σrt - R Σnt is the direction of the proportions.
    """
    big_n = n.sum(axis=-1)
    big_r = r.sum(axis=-1)
    srt = (r * t).sum(axis=-1)
    snt = (n * t).sum(axis=-1)
    snt2 = (n * t * t).sum(axis=-1)
    score = big_n * srt - big_r * snt
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = big_n * score**2 / (big_r * (big_n - big_r) * (big_n * snt2 - snt**2))
    stat = np.where(np.isfinite(stat), stat, np.nan)
    return stat, np.sign(score)


def _weighted_slope(y: np.ndarray, w: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of y on t along the last axis, weights known inverse variances.

    slope = Σw(t - t̄)(y - ȳ) / Σw(t - t̄)², var(slope) = 1 / Σw(t - t̄)² (t̄, ȳ weighted means),
    so the statistic (slope / se)² = (Σw(t - t̄)(y - ȳ))² / Σw(t - t̄)², chi-squared on 1 df.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        sw = w.sum(axis=-1, keepdims=True)
        t_bar = (w * t).sum(axis=-1, keepdims=True) / sw
        y_bar = (w * y).sum(axis=-1, keepdims=True) / sw
        sxx = (w * (t - t_bar) ** 2).sum(axis=-1)
        sxy = (w * (t - t_bar) * (y - y_bar)).sum(axis=-1)
        stat = sxy**2 / sxx
    stat = np.where(np.isfinite(stat), stat, np.nan)
    return stat, np.sign(sxy)


def _regression_weights(
    ci_lower: np.ndarray, ci_upper: np.ndarray, confidence: float
) -> np.ndarray:
    """1/SE², with SE recovered from a symmetric-normal reading of the CI: (U - L) / (2z)."""
    se = (ci_upper - ci_lower) / (2 * _z(confidence))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(se > 0, 1 / se**2, np.nan)


def chi_squared_trend_statistic(counts: ArrayLike, denominators: ArrayLike) -> np.ndarray:
    """Chi-squared statistic (1 df) for a linear trend in proportions over equally spaced times.

    The time points are the last axis (scores 1..k): a 1-d series gives a scalar (0-d array),
    a (groups, k) array one statistic per group. Armitage's test:
        X² = N (N Σrᵢtᵢ - R Σnᵢtᵢ)² / (R (N - R) (N Σnᵢtᵢ² - (Σnᵢtᵢ)²)).
    References: Armitage P (1955) Biometrics 11:375-86; Armitage, Berry & Matthews (2002);
    Fingertips recent-trend method (proportions). NaN where undefined (no events, all events,
    missing inputs).
    """
    r, n = np.broadcast_arrays(as_float_array(counts), as_float_array(denominators))
    t = np.arange(1, r.shape[-1] + 1, dtype=float)
    return _armitage(r, n, t)[0]


def weighted_regression_trend_statistic(
    values: ArrayLike,
    ci_lower: ArrayLike,
    ci_upper: ArrayLike,
    confidence: float = 0.95,
) -> np.ndarray:
    """Chi-squared statistic (1 df) for a linear trend in values with known standard errors.

    Weighted least squares of value on time (scores 1..k along the last axis) with weights
    1/SE², SE = (upper - lower) / (2z) (z = 1.959964 for a 95% CI; Fingertips divides the width
    by 3.92); statistic = (slope / se(slope))², se(slope)² = 1 / Σw(t - t̄)². Reference: PHE
    Fingertips recent-trend method (rates and other values). NaN where a CI has no width or an
    input is missing.
    """
    y, lo, hi = np.broadcast_arrays(
        as_float_array(values), as_float_array(ci_lower), as_float_array(ci_upper)
    )
    w = _regression_weights(lo, hi, confidence)
    t = np.arange(1, y.shape[-1] + 1, dtype=float)
    return _weighted_slope(y, w, t)[0]


# "2019", "2019/20" (a financial or academic year: still twelve months), and pooled periods
# "2020 - 22", "2018/19 - 20/21", "2016-2018".
_SINGLE_YEAR = r"^(?P<year>\d{4})(?:/(?P<next>\d{2}))?$"
_POOLED = r"^\d{4}(?:/\d{2})?\s*-\s*\d{2,4}(?:/\d{2})?$"


def _parse_periods(periods: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(start year, is a single year) for each period label; unparseable labels are not single."""
    if pd.api.types.is_numeric_dtype(periods):
        year = periods.to_numpy(dtype=float, na_value=np.nan)
        single = np.isfinite(year) & (year == np.round(year))
        return year, single
    text = periods.astype("string").str.strip()
    parts = text.str.extract(_SINGLE_YEAR)
    year = pd.to_numeric(parts["year"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    nxt = pd.to_numeric(parts["next"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    # "2019/20" is one year only if the second part follows the first.
    single = np.isfinite(year) & (np.isnan(nxt) | (nxt == (year + 1) % 100))
    pooled = text.str.match(_POOLED).fillna(False).to_numpy(dtype=bool)
    # Pooled labels still get a start year, so they sort among the others and are seen.
    start = pd.to_numeric(text.str[:4], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    year = np.where(pooled, start, year)
    return year, single & ~pooled


def _leave_one_out_index(k: int) -> np.ndarray:
    """(k, k-1) positions: row i lists every point but i."""
    return np.array([[j for j in range(k) if j != i] for i in range(k)])


def recent_trend(
    frame: pd.DataFrame,
    group_cols: str | Sequence[str] | None,
    period_col: str,
    *,
    method: Literal["proportion", "regression"],
    count_col: str | None = None,
    denominator_col: str | None = None,
    value_col: str | None = None,
    ci_lower_col: str | None = None,
    ci_upper_col: str | None = None,
    confidence: float = 0.95,
    leave_one_out: Literal["significant", "direction"] = "significant",
) -> pd.DataFrame:
    """Fingertips' recent-trend marker per group over its last five single-year points.

    Rule implemented (after PHE "Technical Guide: Recent trends" and the Fingertips
    trend-marker calculation, fingertips-open ``TrendMarkerCalculator``):
    1. Per group, sort by period and take the last 5 rows. "Cannot be calculated" unless there
       are 5, their periods are single years ("2019" or "2019/20"; pooled periods such as
       "2020 - 22" never qualify), consecutive, and every point is valid (proportion: count and
       denominator present, 0 <= count <= denominator, denominator > 0; regression: value and
       both limits present with upper > lower), and the statistic is defined.
    2. Statistic over the 5 points (time scores 1..5): ``method="proportion"`` the chi-squared
       test for linear trend in proportions (Armitage; :func:`chi_squared_trend_statistic`) on
       counts and denominators; ``method="regression"`` the weighted regression of value on time
       with weights 1/SE², SE from the CI width (:func:`weighted_regression_trend_statistic`).
    3. Significant when the statistic exceeds 9.5495 (chi-squared, 1 df, 99.8%).
    4. No single point may drive the slope: the test is re-run leaving out each point in turn.
       ``leave_one_out="significant"`` (default, as the project brief specifies) requires every
       4-point fit to keep the same direction and exceed 3.8415 (95%);
       ``leave_one_out="direction"`` requires only the same direction, which is what the
       Fingertips code does (it uses 3.92 for 2z and, for proportions, the sign of an
       unweighted slope of logit(p); here the sign of the Armitage score is used).
    5. Significant: "Increasing" or "Decreasing" by the direction of the values (for
       proportions, of the proportion); otherwise "No significant change".

    Returns one row per group: the group columns, ``recent_trend``, ``trend_statistic`` (the
    5-point statistic, NaN where not calculated) and ``trend_last_period`` (the latest period of
    the group, as given).
    """
    if method == "proportion":
        needed = {"count_col": count_col, "denominator_col": denominator_col}
    elif method == "regression":
        needed = {
            "value_col": value_col,
            "ci_lower_col": ci_lower_col,
            "ci_upper_col": ci_upper_col,
        }
    else:
        raise ValueError(f"method must be 'proportion' or 'regression', got {method!r}")
    missing_args = [name for name, col in needed.items() if col is None]
    if missing_args:
        raise ValueError(f"method={method!r} needs {', '.join(missing_args)}")
    if leave_one_out not in ("significant", "direction"):
        raise ValueError(
            f"leave_one_out must be 'significant' or 'direction', got {leave_one_out!r}"
        )
    _z(confidence)
    keys = as_list(group_cols)
    k = TREND_POINTS

    year, single = _parse_periods(frame[period_col])
    work = pd.DataFrame({"_year": year, "_single": single}, index=frame.index)
    work["_period"] = frame[period_col].to_numpy()
    if method == "proportion":
        r = as_float_array(frame[count_col])
        n = as_float_array(frame[denominator_col])
        work["_a"], work["_b"] = r, n
        work["_valid"] = np.isfinite(r) & np.isfinite(n) & (n > 0) & (r >= 0) & (r <= n)
    else:
        y = as_float_array(frame[value_col])
        lo = as_float_array(frame[ci_lower_col])
        hi = as_float_array(frame[ci_upper_col])
        work["_a"], work["_b"] = y, _regression_weights(lo, hi, confidence)
        work["_valid"] = np.isfinite(y) & np.isfinite(work["_b"].to_numpy())
    for key in keys:
        work[key] = frame[key].to_numpy()
    if keys:
        work["_group"] = work.groupby(keys, sort=True, dropna=False).ngroup()
        group_index = (
            work.drop_duplicates("_group").sort_values("_group")[keys].reset_index(drop=True)
        )
    else:
        work["_group"] = 0
        group_index = pd.DataFrame(index=pd.RangeIndex(1 if len(work) else 0))
    n_groups = len(group_index)

    # Latest k rows per group, placed at positions 0..k-1 of a (groups, k) grid.
    # Unreadable periods sort last, so they fall in the window and block the calculation.
    work = work.sort_values(["_group", "_year"], kind="stable", na_position="last")
    from_end = work.groupby("_group").cumcount(ascending=False).to_numpy()
    sizes = work.groupby("_group").size().reindex(range(n_groups), fill_value=0).to_numpy()
    last = work[from_end == 0].set_index("_group")["_period"].reindex(range(n_groups))
    tail = work[from_end < k]
    g = tail["_group"].to_numpy()
    pos = k - 1 - from_end[from_end < k]
    grid = {}
    for name, fill in (("_a", np.nan), ("_b", np.nan), ("_year", np.nan)):
        arr = np.full((n_groups, k), fill)
        arr[g, pos] = tail[name].to_numpy(dtype=float)
        grid[name] = arr
    ok = np.zeros((n_groups, k), dtype=bool)
    ok[g, pos] = (tail["_valid"] & tail["_single"]).to_numpy(dtype=bool)

    calculable = (sizes >= k) & ok.all(axis=1) & (np.diff(grid["_year"], axis=1) == 1).all(axis=1)
    a = np.where(calculable[:, None], grid["_a"], np.nan)
    b = np.where(calculable[:, None], grid["_b"], np.nan)
    t = np.arange(1, k + 1, dtype=float)
    loo = _leave_one_out_index(k)
    test = _armitage if method == "proportion" else _weighted_slope
    stat, direction = test(a, b, t)
    loo_stat, loo_direction = test(a[:, loo], b[:, loo], t[loo])  # shapes (groups, k)

    calculable &= np.isfinite(stat)
    loo_floor = TREND_LEAVE_ONE_OUT_THRESHOLD if leave_one_out == "significant" else 0.0
    with np.errstate(invalid="ignore"):
        robust = ((loo_direction == direction[:, None]) & (loo_stat > loo_floor)).all(axis=1)
        significant = calculable & (stat > TREND_SIGNIFICANCE_THRESHOLD) & robust & (direction != 0)
    marker = np.select(
        [~calculable, significant & (direction > 0), significant & (direction < 0)],
        [TREND_CANNOT, TREND_INCREASING, TREND_DECREASING],
        default=TREND_NO_CHANGE,
    ).astype(object)

    out = group_index.copy()
    out["recent_trend"] = marker
    out["trend_statistic"] = np.where(calculable, stat, np.nan)
    out["trend_last_period"] = last.to_numpy()
    return out


# --------------------------------------------------------------------------------------------
# weighted survey estimates, on Kish's effective sample size


def kish_effective_n(sum_w: np.ndarray, sum_w2: np.ndarray) -> np.ndarray:
    """Kish's effective sample size (Σw)² / Σw² (Kish L, Survey Sampling, 1965); NaN if no weight."""
    sum_w, sum_w2 = np.asarray(sum_w, dtype=float), np.asarray(sum_w2, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sum_w2 > 0, sum_w**2 / sum_w2, np.nan)


def weighted_proportion(
    sum_w: np.ndarray, sum_w2: np.ndarray, sum_wy: np.ndarray, confidence: float = 0.95
) -> pd.DataFrame:
    """Weighted proportion p = Σwy/Σw (y 0/1) with the Wilson interval on Kish's effective n.

    The Wilson score interval (Wilson 1927) is computed with count p·n_eff and denominator n_eff,
    n_eff = (Σw)²/Σw², the design-effect adjustment of docs/definitions.md. Columns ``estimate``,
    ``ci_lower``, ``ci_upper``, ``standard_error`` (sqrt(p(1-p)/n_eff)) and ``effective_n``, all on
    the 0-1 scale.
    """
    sum_w = np.asarray(sum_w, dtype=float)
    n_eff = kish_effective_n(sum_w, sum_w2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(sum_w > 0, np.asarray(sum_wy, dtype=float) / sum_w, np.nan)
        lower, upper = wilson_interval(p * n_eff, n_eff, confidence)
        se = np.sqrt(p * (1 - p) / n_eff)
    return pd.DataFrame(
        {
            "estimate": p,
            "ci_lower": lower,
            "ci_upper": upper,
            "standard_error": se,
            "effective_n": n_eff,
        }
    )


def weighted_mean(
    sum_w: np.ndarray,
    sum_w2: np.ndarray,
    sum_wy: np.ndarray,
    sum_wy2: np.ndarray,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Weighted mean ȳ = Σwy/Σw with a normal CI from a standard error on Kish's effective n.

    v = Σw(y - ȳ)²/Σw = Σwy²/Σw - ȳ² (the weighted variance), SE = sqrt(v / (n_eff - 1)), which is
    s/√n when every weight is equal; CI = ȳ ± z·SE. Same columns as :func:`weighted_proportion`.
    """
    sum_w = np.asarray(sum_w, dtype=float)
    n_eff = kish_effective_n(sum_w, sum_w2)
    z = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(sum_w > 0, np.asarray(sum_wy, dtype=float) / sum_w, np.nan)
        variance = np.maximum(np.asarray(sum_wy2, dtype=float) / sum_w - mean**2, 0.0)
        se = np.where(n_eff > 1, np.sqrt(variance / (n_eff - 1)), np.nan)
    return pd.DataFrame(
        {
            "estimate": mean,
            "ci_lower": mean - z * se,
            "ci_upper": mean + z * se,
            "standard_error": se,
            "effective_n": n_eff,
        }
    )


# --------------------------------------------------------------------------------------------
# change between two estimates (two-sample z-tests)


def proportion_change_test(
    p1: np.ndarray, n1: np.ndarray, p2: np.ndarray, n2: np.ndarray, confidence: float = 0.95
) -> pd.DataFrame:
    """Two-sample z-test for a difference in proportions on effective sample sizes.

    z = (p2 - p1) / sqrt(p̄(1 - p̄)(1/n1 + 1/n2)), p̄ = (n1·p1 + n2·p2)/(n1 + n2) (pooled under the
    null hypothesis); the CI of p2 - p1 uses the unpooled SE sqrt(p1(1-p1)/n1 + p2(1-p2)/n2).
    Proportions on the 0-1 scale; n are Kish effective sample sizes. Two-sided p-value.
    """
    p1, n1, p2, n2 = (np.asarray(a, dtype=float) for a in (p1, n1, p2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (n1 * p1 + n2 * p2) / (n1 + n2)
        se_null = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return _z_test(p2 - p1, se_null, se, confidence)


def mean_change_test(
    m1: np.ndarray, se1: np.ndarray, m2: np.ndarray, se2: np.ndarray, confidence: float = 0.95
) -> pd.DataFrame:
    """Two-sample z-test for a difference in means: z = (m2 - m1) / sqrt(SE1² + SE2²).

    The standard errors are those of :func:`weighted_mean`, on each wave's effective n.
    """
    m1, se1, m2, se2 = (np.asarray(a, dtype=float) for a in (m1, se1, m2, se2))
    se = np.sqrt(se1**2 + se2**2)
    return _z_test(m2 - m1, se, se, confidence)


def _z_test(
    difference: np.ndarray, se_null: np.ndarray, se: np.ndarray, confidence: float
) -> pd.DataFrame:
    z_crit = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        # No variance at all (both 0% or both 100%): no evidence of a change.
        z = np.where(se_null > 0, difference / se_null, np.where(difference == 0, 0.0, np.nan))
    p_value = 2 * ndtr(-np.abs(z))  # scipy.stats.norm.sf, without importing scipy.stats
    return pd.DataFrame(
        {
            "change": difference,
            "ci_lower": difference - z_crit * se,
            "ci_upper": difference + z_crit * se,
            "z_statistic": z,
            "p_value": p_value,
        }
    )
