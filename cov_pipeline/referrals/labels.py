"""Referrals, the labels of the staged rows: each referral's age band, the labels of its coded
columns, its wait and status (:func:`label_referrals`), and the national IMD decile, quintile and
deprivation group of its LSOA (:func:`deprivation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from cov_pipeline.quality import columns_frame
from cov_pipeline.referrals.definitions import (
    AGE_BANDS,
    LESS_DEPRIVED,
    MOST_DEPRIVED,
    NOT_KNOWN,
    STATUSES,
)
from cov_pipeline.schemas.referrals import (
    ETHNIC_CATEGORIES,
    PRESENTING_NEEDS,
    REFERRAL_SOURCES,
    SEX_CODES,
)


# -- labels and deprivation ---------------------------------------------------------------------
def age_bands(age: pd.Series) -> pd.Series:
    """The service's age bands (10-13, 14-15, 16-17, 18-24); null outside 10-24."""
    labels = np.array([label for label, _, _ in AGE_BANDS] + [None], dtype=object)
    edges = np.array([low for _, low, _ in AGE_BANDS] + [AGE_BANDS[-1][2] + 1])
    values = age.astype("float64").to_numpy()
    position = np.searchsorted(edges, values, side="right") - 1
    inside = (values >= edges[0]) & (values < edges[-1])
    return pd.Series(labels[np.where(inside, position, len(AGE_BANDS))], index=age.index)


def deprivation(lsoa_code: pd.Series, imd: pd.DataFrame) -> pd.DataFrame:
    """The national IMD decile, quintile, most-deprived-30% flag and deprivation group of each
    LSOA (same index as ``lsoa_code``).

    ``imd`` is the lookup of ``staging.imd_lsoa`` (``lsoa_code, imd_decile, imd_quintile,
    is_most_deprived_30pct``). A blank LSOA, or one not in the lookup (outside the area, or of
    another boundary vintage), gets nulls and the deprivation group 'Not known'.
    """
    lookup = imd[["lsoa_code", "imd_decile", "imd_quintile", "is_most_deprived_30pct"]]
    # Looked up once per distinct LSOA (a few hundred), then spread over the referrals.
    codes, distinct = pd.factorize(lsoa_code, use_na_sentinel=False)
    found = pd.DataFrame({"lsoa_code": distinct}).merge(
        lookup, on="lsoa_code", how="left", validate="many_to_one"
    )
    flag = found["is_most_deprived_30pct"].astype("boolean")
    group = np.select(
        [flag.eq(True).fillna(False).to_numpy(), flag.eq(False).fillna(False).to_numpy()],
        [0, 1],
        default=2,
    )
    return columns_frame(
        {
            "imd_decile": found["imd_decile"].astype("Int64").array.take(codes),
            "imd_quintile": found["imd_quintile"].astype("Int64").array.take(codes),
            "is_most_deprived_30pct": flag.array.take(codes),
            "deprivation_group": _labels((MOST_DEPRIVED, LESS_DEPRIVED, NOT_KNOWN), group[codes]),
        },
        lsoa_code.index,
    )


def _mapped(codes: pd.Series, labels: Mapping[str, str], otherwise: object = np.nan) -> np.ndarray:
    """``codes.map(labels).fillna(otherwise)`` as an object array: the same lookup of each code
    among the keys, without the intermediate copies."""
    position = pd.Index(list(labels)).get_indexer(codes)
    return np.array([*labels.values(), otherwise], dtype=object)[position]  # -1: otherwise


def _labels(labels: Iterable[str], position: np.ndarray) -> np.ndarray:
    """The label at each position, as an object array (one string object per label, shared)."""
    return np.array(list(labels), dtype=object)[position]


def label_referrals(typed: pd.DataFrame) -> pd.DataFrame:
    """Labels, age band, wait and status of valid typed referrals (the new columns only, same
    index as ``typed``)."""
    first_contact = typed["first_contact_date"].to_numpy(dtype="datetime64[ns]")
    discharge = typed["discharge_date"].to_numpy(dtype="datetime64[ns]")
    seen, closed = ~np.isnat(first_contact), ~np.isnat(discharge)
    waited = first_contact - typed["referral_date"].to_numpy(dtype="datetime64[ns]")
    not_seen = np.isnat(waited)
    # Whole days, rounded down as Timedelta.days is.
    days = np.where(not_seen, np.timedelta64(0, "D"), waited) // np.timedelta64(1, "D")
    groups = {code: group for code, (_, group) in ETHNIC_CATEGORIES.items()}
    status = np.select([~seen & ~closed, seen & ~closed, seen & closed], [0, 1, 2], default=3)
    return columns_frame(
        {
            "age_band": age_bands(typed["age"]),
            "sex": _mapped(typed["sex_code"], SEX_CODES, SEX_CODES["X"]),
            "ethnic_group": _mapped(typed["ethnic_category"], groups, "Not stated"),
            "referral_source": _mapped(typed["referral_source_code"], REFERRAL_SOURCES),
            "presenting_need": _mapped(typed["presenting_need_code"], PRESENTING_NEEDS),
            "wait_days": pd.arrays.IntegerArray(days.astype(np.int64), mask=not_seen),
            "status": _labels(STATUSES, status),
        },
        typed.index,
    )
