"""Weighted survey estimates on Kish's effective sample size, and the change between two of them
(two-sample z-tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from cov_pipeline.stats.helpers import _z
from cov_pipeline.stats.intervals import wilson_interval

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
