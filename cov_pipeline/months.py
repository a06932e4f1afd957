"""Rebuilding chosen months of the monthly marts (late bookings, premature deliveries, referral
trends, referral waiting) instead of every month: which months a run asks for, and the window of
staging rows they read.

A run asks for months with the run tag ``cov/months`` (``2024-06``, ``2024-06,2024-09`` or a
range ``2024-06:2024-09``); without it a mart is rebuilt whole, as the nightly run, the source
jobs, the sensors and "Materialize all" do. A mart rebuilt by month recomputes the figures of
those months from the staging rows dated in them, keeps every other month's counts as stored,
and derives the rest (quarters, years, rolling totals, SPC over the whole series) exactly as a
full build does, so the table is the one a full build would write when only those months'
records changed. Where the stored mart cannot be the base of such a rebuild (it does not exist,
its months are not those a full build would give, or a month asked for is outside them) the
mart is rebuilt whole and says why (:class:`RebuildWhole`).
"""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pandas as pd

MONTHS_TAG = "cov/months"
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class RebuildWhole(Exception):
    """The months asked for cannot be rebuilt alone: the message says why."""


def parse_months(text: str) -> list[pd.Timestamp]:
    """The month starts named by ``text``: months ``YYYY-MM`` separated by commas, or ranges
    ``YYYY-MM:YYYY-MM`` (both ends included); sorted, each once."""
    months: set[pd.Timestamp] = set()
    for part in (p.strip() for p in text.split(",")):
        ends = [end.strip() for end in part.split(":")]
        if not part or len(ends) > 2 or not all(_MONTH.fullmatch(end) for end in ends):
            raise ValueError(
                f"{MONTHS_TAG}: {part!r} is not a month YYYY-MM or a range YYYY-MM:YYYY-MM "
                f"(in {text!r})"
            )
        first, last = pd.Timestamp(ends[0]), pd.Timestamp(ends[-1])
        if last < first:
            raise ValueError(f"{MONTHS_TAG}: the range {part!r} ends before it starts")
        months.update(pd.date_range(first, last, freq="MS"))
    return sorted(months)


def months_text(months: Sequence[pd.Timestamp]) -> str:
    """``2024-06, 2024-07``: the months as the UI and the logs show them."""
    return ", ".join(month.strftime("%Y-%m") for month in months)


def in_months(column: str, months: Sequence[pd.Timestamp]) -> str:
    """A SQL condition (DuckDB and PostgreSQL alike) true where ``column`` falls in one of
    ``months``: what a mart rebuilt by month reads from staging."""
    return " OR ".join(
        f"({column} >= DATE '{month:%Y-%m-%d}' AND "
        f"{column} < DATE '{month + pd.offsets.MonthBegin(1):%Y-%m-%d}')"
        for month in months
    )


def check_months(
    stored: pd.DatetimeIndex, full: pd.DatetimeIndex, months: Sequence[pd.Timestamp]
) -> list[int]:
    """The positions of ``months`` among the ``stored`` months of a mart, once the stored months
    are those a full build would give (``full``); else :class:`RebuildWhole`."""
    if not stored.equals(full):
        raise RebuildWhole(
            f"the stored mart covers {_span(stored)} but the staging data cover {_span(full)}"
        )
    outside = [month for month in months if month not in stored]
    if outside:
        raise RebuildWhole(f"{months_text(outside)} outside the mart's months {_span(stored)}")
    return [stored.get_loc(month) for month in months]


@contextmanager
def reading_stored() -> Iterator[None]:
    """A stored mart that does not read back as the mart it is rebuilt into (a column or cell it
    no longer has, a count missing): :class:`RebuildWhole`, saying what; the whole build then
    runs (and fails the same way if the fault is not the stored mart's). A context manager or a
    decorator."""
    try:
        yield
    except (KeyError, ValueError, TypeError) as error:
        raise RebuildWhole(f"the stored mart does not read back as this mart ({error})") from error


def _span(months: pd.DatetimeIndex) -> str:
    return f"{months[0]:%Y-%m} to {months[-1]:%Y-%m}" if len(months) else "no months"
