"""Maternity, the monthly marts rebuilt by month (:mod:`cov_pipeline.months`): the months asked
for recounted from their bookings or births, every other month's counts as stored, and the
quarters, years, shares, rates and SPC derived from them as a full build derives them.
"""

from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd

from cov_pipeline.maternity.breakdowns import (
    BREAKDOWNS,
    breakdown_codes,
    monthly_counts,
    stored_monthly_counts,
    table_from_monthly,
)
from cov_pipeline.maternity.definitions import MaternityDefinitions
from cov_pipeline.maternity.measures import (
    BIRTH_COUNTS,
    BOOKING_COUNTS,
    add_birth_rates,
    add_late_booking_shares,
    birth_counts,
    booking_counts,
    late_booking_spc,
    premature_delivery_spc,
)
from cov_pipeline.months import check_months, reading_stored
from cov_pipeline.spc import SpcSettings


@reading_stored()
def recount_months(
    stored: pd.DataFrame,
    names: Sequence[str],
    dates: pd.Series,
    counts: Mapping[str, np.ndarray],
    codes: Mapping[str, np.ndarray],
    months: Sequence[pd.Timestamp],
    coverage: tuple[pd.Timestamp, pd.Timestamp],
) -> pd.DataFrame:
    """The counts table of a monthly mart (before its shares and SPC) with ``months`` recounted
    from the records given (``dates``, ``counts``, ``codes``: those dated in ``months``) and the
    other months as ``stored``. ``coverage`` is the first and last month of every staged record,
    which bounds the periods of a full build: the stored months must be those
    (:class:`cov_pipeline.months.RebuildWhole` otherwise)."""
    stored_months, monthly = stored_monthly_counts(stored, names, BREAKDOWNS)
    full = pd.date_range(coverage[0], coverage[1], freq="MS")
    at = check_months(stored_months, full, months)
    fresh = monthly_counts(dates, codes, counts, BREAKDOWNS, stored_months)
    monthly[at] = fresh[at]
    return table_from_monthly(stored_months, monthly, list(names), BREAKDOWNS)


# mart -> its counts, the date that places a record in a month, what each record counts for,
# the shares or rates and the SPC columns added to the counts
_MARTS: dict[str, tuple] = {
    "late_bookings": (
        BOOKING_COUNTS,
        "booking_date",
        booking_counts,
        add_late_booking_shares,
        late_booking_spc,
    ),
    "premature_deliveries": (
        BIRTH_COUNTS,
        "birth_date",
        birth_counts,
        add_birth_rates,
        premature_delivery_spc,
    ),
}


def mart_for_months(
    mart: str,
    stored: pd.DataFrame,
    records: pd.DataFrame,
    imd: pd.DataFrame,
    months: Sequence[pd.Timestamp],
    coverage: tuple[pd.Timestamp, pd.Timestamp],
    definitions: MaternityDefinitions | None = None,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """``marts.<mart>`` (late bookings or premature deliveries) with ``months`` rebuilt from
    ``records`` (the bookings or babies of those months) and the rest of ``stored``: what the
    full build (:func:`late_bookings_with_spc`, :func:`premature_deliveries_with_spc`) gives from
    every record when only those months' records changed."""
    names, date, counts_of, add_shares, add_spc = _MARTS[mart]
    counts = counts_of(records, definitions or MaternityDefinitions())
    codes = breakdown_codes(records, imd)
    table = recount_months(stored, names, records[date], counts, codes, months, coverage)
    add_shares(table)
    return add_spc(table, spc_settings)


late_bookings_for_months = partial(mart_for_months, "late_bookings")
premature_deliveries_for_months = partial(mart_for_months, "premature_deliveries")
