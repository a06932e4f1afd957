"""Referrals, the measures: the commissioners' marts built from the staged referrals, by month,
for all referrals and each breakdown (presenting need, referral source, age band, sex, ethnic
group, deprivation group, IMD quintile): the referral trends (:func:`referral_trends`) and the
waiting list and waiting times (:func:`referral_waiting`), each with Making Data Count XmR
columns and at full detail (the published tier withholds small numbers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from cov_pipeline.referrals.definitions import (
    AGE_BANDS,
    DEPRIVATION_GROUPS,
    ETHNIC_GROUPS,
    IMD_QUINTILE_GROUPS,
    NOT_KNOWN,
)
from cov_pipeline.referrals.descriptions import (
    STAGING_DESCRIPTIONS,
    TRENDS_DESCRIPTIONS,
    WAITING_DESCRIPTIONS,
)
from cov_pipeline.schemas.referrals import PRESENTING_NEEDS, REFERRAL_SOURCES, SEX_CODES
from cov_pipeline.settings import DEFAULT_REFERRAL_WAIT_THRESHOLD_DAYS
from cov_pipeline.spc import SPC_COLUMNS, SpcSettings, load_spc_settings, spc_series

# -- marts: breakdowns and months ---------------------------------------------------------------
ALL = "All"
ALL_REFERRALS = "All referrals"
# (breakdown, staging column or None for everyone, its categories in display order)
BREAKDOWNS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    (ALL, None, (ALL_REFERRALS,)),
    ("Presenting need", "presenting_need", tuple(PRESENTING_NEEDS.values())),
    ("Referral source", "referral_source", tuple(REFERRAL_SOURCES.values())),
    ("Age band", "age_band", tuple(label for label, _, _ in AGE_BANDS)),
    ("Sex", "sex", tuple(SEX_CODES.values())),
    ("Ethnic group", "ethnic_group", ETHNIC_GROUPS),
    ("Deprivation group", "deprivation_group", DEPRIVATION_GROUPS),
    ("IMD quintile", "imd_quintile_group", IMD_QUINTILE_GROUPS),
)
# The columns of staging.referrals each mart reads (the dates, and the breakdowns' labels with
# IMD quintile): an asset building a mart need read no other (issue #7).
TRENDS_INPUT_COLUMNS = [
    "referral_date",
    "extract_date",
    "imd_quintile",
    *(column for _, column, _ in BREAKDOWNS if column in STAGING_DESCRIPTIONS),
]
WAITING_INPUT_COLUMNS = [
    *TRENDS_INPUT_COLUMNS,
    "first_contact_date",
    "discharge_date",
    "wait_days",
]


def reporting_months(referrals: pd.DataFrame) -> pd.DatetimeIndex:
    """Month starts from the month of the first referral to the last month complete before the
    latest extract was taken (a part month would show as a fall in demand)."""
    if referrals.empty:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    first = referrals["referral_date"].min().to_period("M")
    last = referrals["extract_date"].max().to_period("M") - 1
    return pd.period_range(first, last, freq="M").to_timestamp().astype("datetime64[ns]")


def month_positions(dates: pd.Series, months: pd.DatetimeIndex) -> np.ndarray:
    """Position of each date's month among ``months`` (may fall outside 0..K-1); a large number
    for a missing date (never reached)."""
    never = np.iinfo(np.int64).max // 2
    if len(months) == 0:
        return np.full(len(dates), never, dtype=np.int64)
    values = np.asarray(dates, dtype="datetime64[ns]")
    # Months since 1970-01 of each date and of the first month: their difference.
    number = values.astype("datetime64[M]").astype(np.int64)
    first = np.datetime64(months[0], "M").astype(np.int64)
    return np.where(np.isnat(values), never, number - first)


def breakdown_cells(referrals: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The mart's cells (breakdown, category, category_order) and, per referral and breakdown,
    the number of the cell the referral falls in (shape: referrals × breakdowns)."""
    quintile = referrals["imd_quintile"].astype("float64").to_numpy()
    labels = {
        "imd_quintile_group": np.where(
            np.isnan(quintile),
            NOT_KNOWN,
            np.array(IMD_QUINTILE_GROUPS[:5], dtype=object)[
                np.nan_to_num(quintile, nan=1).astype(int) - 1
            ],
        )
    }
    cells, codes, offset = [], [], 0
    for breakdown, column, categories in BREAKDOWNS:  # eight breakdowns, not rows
        cells.append(
            pd.DataFrame(
                {
                    "breakdown": breakdown,
                    "category": list(categories),
                    "category_order": np.arange(1, len(categories) + 1),
                }
            )
        )
        if column is None:
            code = np.zeros(len(referrals), dtype=np.int64)
        else:
            # a Series, so that a label column read as categories is recoded, not spelt out
            values = labels[column] if column in labels else referrals[column]
            code = pd.Categorical(values, categories=list(categories)).codes.astype(np.int64)
            if (code < 0).any():
                unknown = sorted({str(v) for v in np.asarray(values, dtype=object)[code < 0]})
                raise ValueError(f"{column}: values outside the mart's categories: {unknown}")
        codes.append(code + offset)
        offset += len(categories)
    table = pd.concat(cells, ignore_index=True)
    return table, np.column_stack(codes) if codes else np.zeros((len(referrals), 0), np.int64)


def _grid(cells: pd.DataFrame, months: pd.DatetimeIndex) -> pd.DataFrame:
    """Every cell × every month, cell-major: row ``cell × K + month``."""
    k = len(months)
    grid = cells.loc[np.repeat(np.arange(len(cells)), k)].reset_index(drop=True)
    grid.insert(0, "month", np.tile(months.to_numpy(), len(cells)))
    return grid


def _cells(codes: np.ndarray, rows: np.ndarray, position: np.ndarray, k: int) -> np.ndarray:
    """Grid position (cell × K + month) of each (row, breakdown): shape rows × breakdowns."""
    return codes[rows] * k + position[:, None]


def _flat(codes: np.ndarray, rows: np.ndarray, position: np.ndarray, k: int) -> np.ndarray:
    """:func:`_cells` flattened, row by row."""
    return _cells(codes, rows, position, k).ravel()


def _count(flat: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(flat, weights=weights, minlength=size).astype(np.int64)


def _percentiles(
    cells: np.ndarray, values: np.ndarray, size: int, qs: Iterable[float] = (0.5, 0.9)
) -> list[np.ndarray]:
    """Percentiles of ``values`` per flat grid position (NaN where none), by PERCENTILE_METHOD.

    ``cells`` holds the grid position of each row in each breakdown (:func:`_cells`; a grid
    position belongs to one breakdown) and ``values`` one value per row; missing values are
    left out. The rows are sorted by value once, then for each breakdown by grid position with
    a stable sort, which leaves each cell's values in order; the percentile is then read at
    rank 1 + (n - 1)p with the arithmetic of pandas' groupby quantile, which this replaces
    (same figures, to the last bit).
    """
    qs = list(qs)
    out = [np.full(size, np.nan) for _ in qs]
    values = np.asarray(values, dtype="float64")
    known = np.flatnonzero(~np.isnan(values))
    # A stable sort of 16-bit integers is a radix sort: used for whole days of waiting, and
    # for grid positions, which fit 16 bits on any real mart.
    order_by = values[known]
    small = len(known) and order_by.min() >= -(2**15) and order_by.max() < 2**15
    if small and (order_by == np.floor(order_by)).all():
        order_by = order_by.astype(np.int16)
    in_value_order = known[np.argsort(order_by, kind="stable")]
    values = values[in_value_order]
    key = np.uint16 if size <= np.iinfo(np.uint16).max + 1 else np.int64
    for cell in np.ascontiguousarray(cells[in_value_order].T):  # one breakdown at a time
        ordered = values[np.argsort(cell.astype(key), kind="stable")]
        count = np.bincount(cell, minlength=size)
        start = (np.cumsum(count) - count)[count > 0]
        n = count[count > 0]
        for result, q in zip(out, qs, strict=True):
            rank = q * (n - 1).astype("float64")  # counted from 0
            low = rank.astype(np.int64)  # rounded down, as pandas does
            fraction = rank % 1
            below = ordered[start + low]
            above = ordered[start + np.minimum(low + 1, n - 1)]
            result[count > 0] = np.where(fraction == 0.0, below, below + (above - below) * fraction)
    return out


def _spc_kwargs(settings: Mapping[str, SpcSettings] | None, measure: str) -> dict:
    settings = settings if settings is not None else load_spc_settings()
    if measure not in settings:
        raise KeyError(f"no SPC settings for {measure!r} in the SPC configuration")
    return settings[measure].spc_kwargs()


def _with_spc(
    grid: pd.DataFrame,
    value: str,
    measure: str,
    settings: Mapping[str, SpcSettings] | None,
    prefix: str = "",
) -> pd.DataFrame:
    """``spc_series`` per breakdown and category with the measure's configured settings."""
    out = spc_series(
        grid, value, "month", ["breakdown", "category"], **_spc_kwargs(settings, measure)
    )
    if prefix:
        out = out.rename(columns={c: prefix + c for c in SPC_COLUMNS})
    return out


# -- marts: referral trends ---------------------------------------------------------------------
def monthly_referrals(referrals: pd.DataFrame) -> pd.DataFrame:
    """Referrals received per month, for all and by each breakdown, with the rolling 12-month
    total and the change on the same month a year earlier; before SPC.

    One row per month × category, every month from the first referral to the last complete
    month: a month without referrals in a category is a true zero.
    """
    months = reporting_months(referrals)
    cells, counts = referral_counts(referrals, months)
    return trends_from_counts(cells, months, counts)


def referral_counts(
    referrals: pd.DataFrame, months: pd.DatetimeIndex
) -> tuple[pd.DataFrame, np.ndarray]:
    """The mart's cells and the referrals received in each cell and month (cells × months); a
    referral dated outside ``months`` counts in none."""
    cells, codes = breakdown_cells(referrals)
    k = len(months)
    position = month_positions(referrals["referral_date"], months)
    inside = np.flatnonzero((position >= 0) & (position < k))
    counts = _count(_flat(codes, inside, position[inside], k), len(cells) * k)
    return cells, counts.reshape(len(cells), k)


def trends_from_counts(
    cells: pd.DataFrame, months: pd.DatetimeIndex, counts: np.ndarray
) -> pd.DataFrame:
    """:func:`monthly_referrals` from the counts per cell and month (:func:`referral_counts`):
    the rolling 12-month totals and the changes on a year earlier are derived from them."""
    k = len(months)
    grid = _grid(cells, months)
    totals = np.cumsum(counts, axis=1)
    rolling = np.full(counts.shape, np.nan)
    if k >= 12:
        rolling[:, 11:] = totals[:, 11:] - np.pad(totals, ((0, 0), (1, 0)))[:, : k - 11]
    last_year = np.full(counts.shape, np.nan)
    last_year[:, 12:] = counts[:, :-12]
    grid["referrals"] = counts.ravel()
    grid["referrals_rolling_12m"] = pd.array(rolling.ravel(), dtype="Float64").astype("Int64")
    grid["referrals_same_month_last_year"] = pd.array(last_year.ravel(), dtype="Float64").astype(
        "Int64"
    )
    change = grid["referrals"] - grid["referrals_same_month_last_year"]
    grid["change_on_last_year"] = change.astype("Int64")
    base = grid["referrals_same_month_last_year"].astype("Float64")
    grid["change_on_last_year_pct"] = (
        (100 * change.astype("Float64") / base.where(base > 0)).astype("float64").round(1)
    )
    return grid


def referral_trends(
    referrals: pd.DataFrame, spc_settings: Mapping[str, SpcSettings] | None = None
) -> pd.DataFrame:
    """:func:`monthly_referrals` with Making Data Count XmR columns per breakdown and category
    (demand is neutral: special causes are high or low, not better or worse), at full detail
    (the published tier withholds small numbers).
    """
    return trends_with_spc(monthly_referrals(referrals), spc_settings)


def trends_with_spc(
    grid: pd.DataFrame, spc_settings: Mapping[str, SpcSettings] | None = None
) -> pd.DataFrame:
    """``marts.referral_trends`` from :func:`monthly_referrals`: the XmR columns added."""
    table = _with_spc(grid, "referrals", "referrals", spc_settings)
    return table[list(TRENDS_DESCRIPTIONS)].reset_index(drop=True)


# -- marts: waiting list and waiting times ------------------------------------------------------
def waiting_snapshots(
    referral_date: pd.Series,
    first_contact_date: pd.Series,
    discharge_date: pd.Series,
    months: pd.DatetimeIndex,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who is on the waiting list at each month end, and for how long they have waited.

    On the list at month end E: referred on or before E, and neither first seen nor discharged
    on or before E. A referral is on the list at the month ends from its referral month to the
    month before the month it leaves (first contact or discharge, whichever is first), so each
    referral spans one run of month ends; the runs are expanded with ``np.repeat`` (no loop over
    referrals or months). Returns the referral position, the month position and the days
    waited so far (E - referral date) of every (referral, month end) pair on the list.
    """
    k = len(months)
    start = np.maximum(month_positions(referral_date, months), 0)
    # The earlier of the two dates, either where the other is missing.
    leaves = np.fmin(
        np.asarray(first_contact_date, dtype="datetime64[ns]"),
        np.asarray(discharge_date, dtype="datetime64[ns]"),
    )
    stop = np.minimum(month_positions(leaves, months), k)  # first month end not on the list
    spans = np.maximum(stop - start, 0)
    rows = np.repeat(np.arange(len(spans)), spans)
    run_start = np.repeat(np.cumsum(spans) - spans, spans)
    position = np.repeat(start, spans) + (np.arange(len(rows)) - run_start)
    month_ends = (months + pd.offsets.MonthEnd(0)).to_numpy() if k else np.array([], "M8[ns]")
    referred = referral_date.to_numpy(dtype="datetime64[ns]")[rows]
    waited = (month_ends[position] - referred).astype("timedelta64[D]").astype(np.int64)
    return rows, position.astype(np.int64), waited


def waiting_figures(
    referrals: pd.DataFrame,
    threshold_days: int = DEFAULT_REFERRAL_WAIT_THRESHOLD_DAYS,
    months: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """The waiting list at each month end and waiting times, for all and by each breakdown;
    before SPC.

    Waiting list (see :func:`waiting_snapshots`), with the median, 90th percentile and number
    waiting more than ``threshold_days`` of the days waited so far; for those first seen in the
    month, the median and 90th percentile of days from referral to first contact; discharges in
    the month (seen or not). Percentiles by ``PERCENTILE_METHOD``. The months are the
    :func:`reporting_months` of ``referrals`` unless given.
    """
    months = reporting_months(referrals) if months is None else months
    cells, codes = breakdown_cells(referrals)
    k = len(months)
    size = len(cells) * k
    grid = _grid(cells, months)
    grid.insert(1, "month_end", (grid["month"] + pd.offsets.MonthEnd(0)).astype("datetime64[ns]"))
    n_breakdowns = codes.shape[1]

    rows, position, waited = waiting_snapshots(
        referrals["referral_date"],
        referrals["first_contact_date"],
        referrals["discharge_date"],
        months,
    )
    on_list = _cells(codes, rows, position, k)
    flat = on_list.ravel()
    waits = np.repeat(waited, n_breakdowns)
    grid["waiting_list"] = _count(flat, size)
    median, p90 = _percentiles(on_list, waited, size)
    grid["waiting_median_days"] = median
    grid["waiting_p90_days"] = p90
    grid["wait_threshold_days"] = np.int64(threshold_days)
    grid["waiting_over_threshold"] = _count(flat, size, (waits > threshold_days).astype(float))

    seen_at = month_positions(referrals["first_contact_date"], months)
    seen = np.flatnonzero((seen_at >= 0) & (seen_at < k))
    seen_cells = _cells(codes, seen, seen_at[seen], k)
    wait = referrals["wait_days"].astype("float64").to_numpy()[seen]
    grid["first_seen"] = _count(seen_cells.ravel(), size)
    median, p90 = _percentiles(seen_cells, wait, size)
    grid["first_seen_median_wait_days"] = median
    grid["first_seen_p90_wait_days"] = p90

    closed_at = month_positions(referrals["discharge_date"], months)
    closed = np.flatnonzero((closed_at >= 0) & (closed_at < k))
    grid["discharges"] = _count(_flat(codes, closed, closed_at[closed], k), size)
    return grid


def referral_waiting(
    referrals: pd.DataFrame,
    threshold_days: int = DEFAULT_REFERRAL_WAIT_THRESHOLD_DAYS,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """:func:`waiting_figures` with XmR columns on the waiting list and on the median wait to
    first contact (lower is better for both), at full detail.
    """
    return waiting_with_spc(waiting_figures(referrals, threshold_days), spc_settings)


def waiting_with_spc(
    grid: pd.DataFrame, spc_settings: Mapping[str, SpcSettings] | None = None
) -> pd.DataFrame:
    """``marts.referral_waiting`` from :func:`waiting_figures`: the XmR columns and the types."""
    settings = spc_settings if spc_settings is not None else load_spc_settings()  # read once
    table = _with_spc(grid, "waiting_list", "waiting_list", settings, "waiting_list_")
    table = _with_spc(
        table, "first_seen_median_wait_days", "median_wait_days", settings, "median_wait_"
    )
    for column in ("waiting_list", "waiting_over_threshold", "first_seen", "discharges"):
        table[column] = table[column].astype("Int64")
    return table[list(WAITING_DESCRIPTIONS)].reset_index(drop=True)
