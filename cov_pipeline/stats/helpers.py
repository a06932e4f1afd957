"""Helpers shared by the statistics: numbers as float arrays, the normal quantile of a
confidence level, checks of a multiplier, the index results align with, column names as a list."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtri


def as_float_array(x: ArrayLike | None) -> np.ndarray:
    """Numbers as a float array, with pandas' missing markers (None, pd.NA, NaT) as NaN."""
    if x is None or x is pd.NA:
        return np.array(np.nan)
    if isinstance(x, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        return x.to_numpy(dtype=float, na_value=np.nan)
    try:
        return np.asarray(x, dtype=float)
    except TypeError:
        # A list holding pd.NA: let pandas read it.
        objects = np.asarray(x, dtype=object)
        as_float = pd.array(objects.ravel(), dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
        return as_float.reshape(objects.shape)


def _z(confidence: float) -> float:
    """Two-sided standard normal quantile, e.g. 1.959964 for 95%."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return float(ndtri(1 - (1 - confidence) / 2))


def _check_multiplier(multiplier: float) -> float:
    if not np.isfinite(multiplier) or multiplier <= 0:
        raise ValueError(f"multiplier must be a positive number, got {multiplier!r}")
    return float(multiplier)


def _series_index(n: int, *candidates: object) -> pd.Index:
    """The index of the first Series argument of matching length, so results align with inputs."""
    for c in candidates:
        if isinstance(c, pd.Series) and len(c) == n:
            return c.index
    return pd.RangeIndex(n)


def as_list(cols: str | Sequence[str] | None) -> list[str]:
    """Column names as a list: one name, several, or none."""
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)
