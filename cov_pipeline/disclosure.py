"""Statistical disclosure control for published marts (DESIGN §6).

Counts of 1 to 7 below England level are suppressed (value null, ``is_suppressed`` true) together
with every figure derived from them; other counts may be rounded to the nearest 5 where the output
is published. Inputs that arrive already rounded (MSDS) are flagged, never rounded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd

SMALL_COUNT_MIN = 1
SMALL_COUNT_MAX = 7
ROUNDING_BASE = 5


def is_small_count(counts: pd.Series) -> pd.Series:
    """True for a count from 1 to 7 inclusive (zero is not disclosive and is shown)."""
    numbers = pd.to_numeric(counts, errors="coerce")
    return (numbers >= SMALL_COUNT_MIN) & (numbers <= SMALL_COUNT_MAX)


def suppress_small_counts(
    frame: pd.DataFrame,
    count_columns: Sequence[str],
    derived_columns: Sequence[str] = (),
    exempt: pd.Series | None = None,
    flag_column: str = "is_suppressed",
) -> pd.DataFrame:
    """Null every count of 1-7 and the figures derived from it; flag the row.

    A row is suppressed when any of ``count_columns`` is 1-7; then all of ``count_columns`` and
    ``derived_columns`` (rates, percentages, CIs) are set to null. ``exempt`` marks rows that are
    not below England level (England itself), which are published whole.
    """
    small = pd.Series(False, index=frame.index)
    for column in count_columns:
        small |= is_small_count(frame[column]).fillna(False).astype(bool)
    if exempt is not None:
        small &= ~exempt.fillna(False).astype(bool)
    out = frame.copy()
    for column in [*count_columns, *derived_columns]:
        if pd.api.types.is_integer_dtype(out[column].dtype):
            out[column] = out[column].astype("Int64")
        out.loc[small, column] = None
    previous = out[flag_column] if flag_column in out else pd.Series(False, index=out.index)
    out[flag_column] = previous.fillna(False).astype(bool) | small
    return out


def round_counts(values: pd.Series, base: int = ROUNDING_BASE) -> pd.Series:
    """Round to the nearest ``base`` (halves away from zero), keeping nulls null."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    rounded = np.sign(numbers) * np.floor(np.abs(numbers) / base + 0.5) * base
    return pd.Series(rounded, index=values.index).astype("Int64")


def secondary_suppression(counts: pd.Series, suppressed: pd.Series, groups: pd.Series) -> pd.Series:
    """Primary flags plus the cells that must also be withheld so no total reveals a cell.

    ``groups`` names, per cell, the group of cells that add up to a published total (null: the
    cell is in no such group). In a group with exactly one withheld cell, that cell equals the
    total minus the others, so one more cell is withheld: the smallest unsuppressed one,
    preferring a non-zero count (withholding a zero protects less) and, on a tie, the first.
    A cell whose count is missing (null) already hides its value and counts as hidden, but only
    a flagged cell needs protecting. One pass: where cells belong to several groupings (e.g.
    breakdowns and periods), repeat over the groupings until no flag changes.
    """
    flags = suppressed.fillna(False).astype(bool)
    in_group = groups.notna().to_numpy()
    if not in_group.any():
        return flags
    count = pd.to_numeric(counts, errors="coerce").astype("float64")
    hidden = flags | count.isna()
    group = groups[in_group]
    hidden_in_group = hidden[in_group].astype("int64").groupby(group).transform("sum")
    flagged_in_group = flags[in_group].astype("int64").groupby(group).transform("sum")
    exposed = (hidden_in_group == 1) & (flagged_in_group == 1)
    candidate = exposed & ~hidden[in_group]
    if not candidate.any():
        return flags
    pool = pd.DataFrame(
        {
            "group": group[candidate],
            "is_zero": (count[in_group][candidate] == 0),
            "count": count[in_group][candidate],
            "position": np.flatnonzero(in_group)[candidate.to_numpy()],
        },
        index=group[candidate].index,
    )
    chosen = pool.sort_values(["group", "is_zero", "count", "position"], kind="stable")
    chosen = chosen.drop_duplicates("group", keep="first")
    out = flags.copy()
    out.loc[chosen.index] = True
    return out


MAX_SUPPRESSION_PASSES = 20


Flags = TypeVar("Flags")


def repeat_until_stable(
    one_pass: Callable[[Flags], Flags],
    flags: Flags,
    same: Callable[[Flags, Flags], bool],
    max_passes: int = MAX_SUPPRESSION_PASSES,
) -> Flags:
    """``one_pass`` applied to ``flags`` until its result is ``same`` as what it was given:
    withholding a cell to protect one total can expose a cell of another, so one pass over the
    relations is not enough. Raises ``RuntimeError`` if the flags have not settled after
    ``max_passes`` passes (a relation that keeps feeding another)."""
    for _ in range(max_passes):
        before, flags = flags, one_pass(flags)
        if same(flags, before):
            return flags
    raise RuntimeError(f"disclosure control did not settle in {max_passes} passes")


def suppress_until_stable(
    counts: pd.Series,
    suppressed: pd.Series,
    groupings: Sequence[pd.Series],
    max_passes: int = MAX_SUPPRESSION_PASSES,
) -> pd.Series:
    """:func:`secondary_suppression` over several groupings, repeated until no flag changes.

    Each grouping labels cells tied by one published additive relation (null: outside it). A
    group may hold the parts of a published total, or a total together with its parts (the
    total minus the parts is zero): either way, one hidden cell in the group is revealed by the
    others, so one more is withheld. Use one grouping per relation a cell can be in (e.g. one
    per breakdown, each holding the All row and that breakdown's categories, month by month),
    since a cell has one label per grouping. Raises ``RuntimeError`` if the flags have not
    settled after ``max_passes`` rounds (a grouping that keeps feeding another).
    """

    def one_pass(flags: pd.Series) -> pd.Series:
        for groups in groupings:
            flags = secondary_suppression(counts, flags, groups)
        return flags

    flags = suppressed.fillna(False).astype(bool)
    return repeat_until_stable(one_pass, flags, pd.Series.equals, max_passes)


def trailing_window_hidden(hidden: np.ndarray, window: int) -> np.ndarray:
    """For series laid out as rows (cells) × columns (consecutive periods): True where any of
    the ``window`` periods ending at this one is hidden (fewer than ``window`` before it: the
    periods there are). A total over the window is safe to publish only where this is False: it
    is then a sum of published cells and tells nothing new, whereas a total over a window with
    one hidden cell reveals it, and two overlapping totals differ by one cell entering and one
    leaving, which reveals a hidden cell whenever the other is shown."""
    hidden = np.asarray(hidden, dtype=bool)
    running = np.cumsum(hidden, axis=1)
    before = np.zeros_like(running)
    before[:, window:] = running[:, :-window]
    return (running - before) > 0
