"""Intervals for proportions (Wilson) and for crude rates (Byars' approximation from 10 events,
the exact Poisson limits below)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import gammaincinv

from cov_pipeline.stats.helpers import _check_multiplier, _series_index, _z, as_float_array

# Byars' approximation is used from this count up; below it the exact Poisson limits.
BYARS_MIN_COUNT = 10

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
