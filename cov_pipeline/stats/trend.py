"""Fingertips' recent trend: the chi-squared test for trend in proportions, the weighted
regression for other values, and the marker over a group's last five single-year points."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import gammaincinv

from cov_pipeline.stats.helpers import _z, as_float_array, as_list

# Recent trend (Fingertips): last 5 points; significant above the chi-squared(1 df) 99.8% point
# (9.5495); each leave-one-out fit must stay significant at 95% (3.8415) in the same direction.
TREND_POINTS = 5
# chi-squared quantiles on 1 degree of freedom, 2 × gammaincinv(1/2, p): scipy.stats' own chi2.ppf,
# without importing scipy.stats (most of a second at every load of the definitions)
TREND_SIGNIFICANCE_THRESHOLD = float(2 * gammaincinv(0.5, 0.998))
TREND_LEAVE_ONE_OUT_THRESHOLD = float(2 * gammaincinv(0.5, 0.95))

TREND_INCREASING = "Increasing"
TREND_DECREASING = "Decreasing"
TREND_NO_CHANGE = "No significant change"
TREND_CANNOT = "Cannot be calculated"


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
