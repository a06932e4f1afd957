"""The contract of a parsed OHID Fingertips row (after text parsing, before de-duplication)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

AREA_CODE_PATTERN = r"^[A-Za-z0-9]{3,12}$"
# Text columns are Arrow-backed strings: pandera checks that dtype once per column, where a plain
# ``str`` annotation makes it test every value's Python type.
ARROW_TEXT = {"storage": "pyarrow"}


class FingertipsRow(pa.DataFrameModel):
    """One row of a Fingertips "all data" export, typed.

    Blank values are missing (never zero); a blank value with a value note was suppressed or not
    published. Bounds are checked only where both ends are present.
    """

    indicator_id: Series[pd.Int64Dtype] = pa.Field(gt=0, nullable=False)
    indicator_name: Series[pd.StringDtype] = pa.Field(
        nullable=False, str_length={"min_value": 1}, dtype_kwargs=ARROW_TEXT
    )
    area_code: Series[pd.StringDtype] = pa.Field(
        nullable=False, str_matches=AREA_CODE_PATTERN, dtype_kwargs=ARROW_TEXT
    )
    area_name: Series[pd.StringDtype] = pa.Field(
        nullable=False, str_length={"min_value": 1}, dtype_kwargs=ARROW_TEXT
    )
    sex: Series[pd.StringDtype] = pa.Field(
        nullable=False, str_length={"min_value": 1}, dtype_kwargs=ARROW_TEXT
    )
    age: Series[pd.StringDtype] = pa.Field(
        nullable=False, str_length={"min_value": 1}, dtype_kwargs=ARROW_TEXT
    )
    time_period: Series[pd.StringDtype] = pa.Field(
        nullable=False, str_length={"min_value": 1}, dtype_kwargs=ARROW_TEXT
    )
    value: Series[float] = pa.Field(nullable=True)
    ci95_lower: Series[float] = pa.Field(nullable=True)
    ci95_upper: Series[float] = pa.Field(nullable=True)
    ci99_8_lower: Series[float] = pa.Field(nullable=True)
    ci99_8_upper: Series[float] = pa.Field(nullable=True)
    count: Series[float] = pa.Field(nullable=True, ge=0)
    denominator: Series[float] = pa.Field(nullable=True, ge=0)

    @pa.dataframe_check(name="ci95_lower <= value <= ci95_upper", element_wise=False)
    @classmethod
    def value_within_ci95(cls, df: pd.DataFrame) -> pd.Series:
        low_ok = df["ci95_lower"].isna() | df["value"].isna() | (df["ci95_lower"] <= df["value"])
        high_ok = df["ci95_upper"].isna() | df["value"].isna() | (df["value"] <= df["ci95_upper"])
        return low_ok & high_ok

    @pa.dataframe_check(name="ci99_8_lower <= ci95_lower and ci95_upper <= ci99_8_upper")
    @classmethod
    def ci99_8_wraps_ci95(cls, df: pd.DataFrame) -> pd.Series:
        low_ok = (
            df["ci99_8_lower"].isna()
            | df["ci95_lower"].isna()
            | (df["ci99_8_lower"] <= df["ci95_lower"])
        )
        high_ok = (
            df["ci99_8_upper"].isna()
            | df["ci95_upper"].isna()
            | (df["ci95_upper"] <= df["ci99_8_upper"])
        )
        return low_ok & high_ok

    class Config:
        strict = False
        coerce = False
