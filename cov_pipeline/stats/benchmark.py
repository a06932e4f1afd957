"""Comparison of a value's confidence interval with a benchmark, by the indicator's polarity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from cov_pipeline.stats.helpers import as_float_array

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
