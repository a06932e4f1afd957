"""Referrals, the marts rebuilt by month (:mod:`cov_pipeline.months`).

``referral_trends``: the months asked for recounted from the referrals received in them, every
other month's counts as stored, and the rolling totals, changes on a year earlier and SPC derived
from the counts as a full build derives them. ``referral_waiting``: a referral waits across
month ends, so a referral of a month asked for counts in every later month's waiting list; the
figures are recomputed from the first month asked for to the latest (from the referrals still
open, seen or discharged in those months), and the earlier months kept as stored.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cov_pipeline.months import RebuildWhole, check_months, reading_stored
from cov_pipeline.referrals.measures import (
    breakdown_cells,
    referral_counts,
    trends_from_counts,
    trends_with_spc,
    waiting_figures,
    waiting_with_spc,
)
from cov_pipeline.spc import SpcSettings

CELL = ["breakdown", "category"]


def _cell_order(table: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """The position of each row's cell among ``cells`` (:func:`breakdown_cells`)."""
    position = pd.MultiIndex.from_frame(cells[CELL]).get_indexer(
        pd.MultiIndex.from_frame(table[CELL].astype(object))
    )
    if (position < 0).any():
        raise RebuildWhole("the stored mart holds cells the mart no longer has")
    return position


def _months(table: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(sorted(table["month"].unique())).astype("datetime64[ns]")


def open_from(month: pd.Timestamp) -> str:
    """A SQL condition true of every referral that counts in the waiting figures of ``month`` or
    a later one: on the list at one of their month ends (neither seen nor discharged before it),
    or seen or discharged in one of them."""
    start = f"DATE '{month:%Y-%m-%d}'"
    return (
        f"first_contact_date IS NULL OR discharge_date IS NULL "
        f"OR first_contact_date >= {start} OR discharge_date >= {start}"
    )


@reading_stored()
def referral_trends_for_months(
    stored: pd.DataFrame,
    referrals: pd.DataFrame,
    months: Sequence[pd.Timestamp],
    reporting: pd.DatetimeIndex,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """``marts.referral_trends`` with ``months`` recounted from ``referrals`` (those received in
    them) and the other months' counts as ``stored``; ``reporting`` are the months a full build
    covers (:func:`reporting_months` of every staged referral)."""
    stored_months = _months(stored)
    at = check_months(stored_months, reporting, months)
    cells, fresh = referral_counts(referrals, stored_months)
    counts = np.zeros_like(fresh)
    cell = _cell_order(stored, cells)
    month = stored_months.get_indexer(pd.DatetimeIndex(stored["month"]).astype("datetime64[ns]"))
    if len(stored) != counts.size:
        raise RebuildWhole(f"the stored mart holds {len(stored)} rows, not {counts.size}")
    counts[cell, month] = stored["referrals"].to_numpy(dtype=np.int64)
    counts[:, at] = fresh[:, at]
    return trends_with_spc(trends_from_counts(cells, stored_months, counts), spc_settings)


@reading_stored()
def referral_waiting_for_months(
    stored: pd.DataFrame,
    referrals: pd.DataFrame,
    months: Sequence[pd.Timestamp],
    reporting: pd.DatetimeIndex,
    threshold_days: int,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """``marts.referral_waiting`` with the months from the first of ``months`` on recomputed
    from ``referrals`` (every referral open at, seen or discharged in one of those months) and
    the earlier months as ``stored``."""
    stored_months = _months(stored)
    check_months(stored_months, reporting, months)
    if set(stored["wait_threshold_days"].dropna().astype(int)) != {threshold_days}:
        raise RebuildWhole(
            f"the stored mart was built with another threshold than {threshold_days}"
        )
    fresh = waiting_figures(referrals, threshold_days, stored_months)
    first = min(months)
    kept = stored.loc[pd.to_datetime(stored["month"]) < first, list(fresh.columns)]
    kept = kept.astype({column: fresh[column].dtype for column in fresh.columns})
    grid = pd.concat([kept, fresh[fresh["month"] >= first]], ignore_index=True)
    cells, _ = breakdown_cells(referrals.iloc[:0])
    order = np.lexsort((grid["month"].to_numpy(), _cell_order(grid, cells)))
    if len(grid) != len(cells) * len(stored_months):
        raise RebuildWhole(f"the stored mart holds {len(stored)} rows, not a full grid")
    return waiting_with_spc(grid.iloc[order].reset_index(drop=True), spc_settings)
