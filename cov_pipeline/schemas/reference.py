"""The contracts of the small reference files, after parsing: the CIPFA nearest statistical
neighbours (``reference/cipfa_neighbours*.csv``) and the Fingertips indicators' methods
(``reference/fingertips_indicators*.csv``).

Both are used whole or not at all: a row breaking a rule refuses its file, naming the line
(docs/definitions.md, "Reference files"). Rows are checked within their file (``source_file``);
indicator ids across every file, since the files together make one table.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from cov_pipeline.stats import POLARITY_NAMES

# ONS Government Statistical Service codes: a capital letter and eight digits (E08000026).
GSS_CODE_PATTERN = r"^[A-Z]\d{8}$"
# How each indicator's confidence interval is recomputed (cov_pipeline.indicators.recompute_ci).
VALUE_TYPES = ("crude_rate", "other", "proportion")

# The names of the rules checked across rows, as the fault messages quote them.
NEIGHBOUR_TWICE = "neighbour listed once per area"
RANK_TWICE = "rank given once per area"
RANK_GAP = "ranks run 1 to n without gaps"
OWN_NEIGHBOUR = "area not its own neighbour"
INDICATOR_TWICE = "indicator listed once"


def polarity_key(name: object) -> str:
    """A polarity as :func:`cov_pipeline.stats.normalise_polarity` looks it up: lower case,
    runs of spaces collapsed."""
    return " ".join(str(name).lower().split())


def _first_of_each(df: pd.DataFrame, keys: list[str]) -> pd.Series:
    """True on the first row of each ``keys``, and on rows missing one of them."""
    return df[keys].isna().any(axis=1) | ~df.duplicated(keys, keep="first")


class CipfaNeighbour(pa.DataFrameModel):
    """One neighbour of one area as one file lists it.

    Per area and file the ranks are the whole numbers 1 to n, each once; a neighbour is listed
    once and is not the area itself; both codes are GSS codes. The name may be blank (the API
    download writes what the API gives).
    """

    source_file: Series[str] = pa.Field(nullable=False)
    area_code: Series[str] = pa.Field(nullable=False, str_matches=GSS_CODE_PATTERN)
    neighbour_code: Series[str] = pa.Field(nullable=False, str_matches=GSS_CODE_PATTERN)
    neighbour_name: Series[str] = pa.Field(nullable=False)
    neighbour_rank: Series[pd.Int64Dtype] = pa.Field(nullable=False, ge=1)

    @pa.dataframe_check(name=OWN_NEIGHBOUR)
    @classmethod
    def not_its_own_neighbour(cls, df: pd.DataFrame) -> pd.Series:
        return (df["neighbour_code"] != df["area_code"]) | df["area_code"].isna()

    @pa.dataframe_check(name=NEIGHBOUR_TWICE)
    @classmethod
    def neighbour_listed_once(cls, df: pd.DataFrame) -> pd.Series:
        return _first_of_each(df, ["source_file", "area_code", "neighbour_code"])

    @pa.dataframe_check(name=RANK_TWICE)
    @classmethod
    def rank_given_once(cls, df: pd.DataFrame) -> pd.Series:
        return _first_of_each(df, ["source_file", "area_code", "neighbour_rank"])

    @pa.dataframe_check(name=RANK_GAP)
    @classmethod
    def ranks_without_gaps(cls, df: pd.DataFrame) -> pd.Series:
        """False on every row of an area whose ranks (those that are ranks: 1 or more) do not
        run 1 to their highest."""
        rank = df["neighbour_rank"].where(df["neighbour_rank"] >= 1)
        groups = rank.groupby([df["source_file"], df["area_code"]], dropna=False)
        without_gaps = groups.transform("max") == groups.transform("nunique")
        return rank.isna() | df["area_code"].isna() | without_gaps.fillna(True)

    class Config:
        strict = False
        coerce = False


class IndicatorMethod(pa.DataFrameModel):
    """How one Fingertips indicator's values are recomputed: its value type, multiplier and
    polarity. An id is listed once across the files; polarity may be blank (no judgement)."""

    indicator_id: Series[pd.Int64Dtype] = pa.Field(nullable=False, ge=1)
    short_name: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    value_type: Series[str] = pa.Field(nullable=False, isin=list(VALUE_TYPES))
    multiplier: Series[float] = pa.Field(nullable=False, gt=0)
    polarity: Series[str] = pa.Field(nullable=False)
    unit: Series[str] = pa.Field(nullable=False)

    @pa.check("polarity", name="known polarity")
    @classmethod
    def known_polarity(cls, polarity: pd.Series) -> pd.Series:
        return polarity.map(lambda name: polarity_key(name) in POLARITY_NAMES).astype(bool)

    @pa.dataframe_check(name=INDICATOR_TWICE)
    @classmethod
    def indicator_listed_once(cls, df: pd.DataFrame) -> pd.Series:
        return _first_of_each(df, ["indicator_id"])

    class Config:
        strict = False
        coerce = False
