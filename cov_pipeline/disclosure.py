"""Statistical disclosure control for published marts (DESIGN §6).

Counts of 1 to 7 below England level are suppressed (value null, ``is_suppressed`` true) together
with every figure derived from them; other counts may be rounded to the nearest 5 where the output
is published. Inputs that arrive already rounded (MSDS) are flagged, never rounded twice.
"""

from __future__ import annotations

from collections.abc import Sequence

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
