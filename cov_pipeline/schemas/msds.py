"""The contract of a parsed NHS Maternity Services Data Set (MSDS) publication row."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import Series


class MsdsRow(pa.DataFrameModel):
    """One count of one MSDS CSV (monthly or annual layout), typed and with its labels normalised.

    Blank values are missing, never zero; ``*`` marks a value the publication suppressed. The
    period is checked before this contract (an unreadable date, or an end before the start, has
    its own reason).
    """

    dimension: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    org_level: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    org_code: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    count_of: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    value: Series[float] = pa.Field(nullable=True, ge=0)

    class Config:
        strict = False
        coerce = False
