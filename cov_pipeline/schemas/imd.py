"""The contract of the IMD lookup by LSOA (English Indices of Deprivation), after parsing."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

LSOA_CODE_PATTERN = r"^E01\d{6}$"
LAD_CODE_PATTERN = r"^E0[6-9]\d{6}$"


class ImdLsoa(pa.DataFrameModel):
    """One LSOA of one file: its district, national IMD rank (1 = most deprived) and decile.

    A fault in any row is a fault of the whole file: the lookup is used whole or not at all.
    """

    lsoa_code: Series[str] = pa.Field(nullable=False, str_matches=LSOA_CODE_PATTERN, unique=True)
    lsoa_name: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    lad_code: Series[str] = pa.Field(nullable=False, str_matches=LAD_CODE_PATTERN)
    lad_name: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    imd_rank: Series[pd.Int64Dtype] = pa.Field(nullable=False, ge=1)
    imd_decile: Series[pd.Int64Dtype] = pa.Field(
        nullable=False, in_range={"min_value": 1, "max_value": 10}
    )

    class Config:
        strict = False
        coerce = False
