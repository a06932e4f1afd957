"""Directly standardised rates with Dobson's interval, and the European Standard Population."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from cov_pipeline.stats.helpers import _check_multiplier, _z, as_float_array, as_list
from cov_pipeline.stats.intervals import _byars_count_limits, _exact_poisson_count_limits

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
