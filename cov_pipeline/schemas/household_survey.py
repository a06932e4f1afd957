"""The contract of a harmonised household survey response (after the codebook, before scoring)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

# The harmonised answer sets every wave is mapped onto (codebook.yaml maps each wave's own codes).
AGE_BANDS = ("16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")
SEXES = ("Male", "Female")
# ONS broad ethnic groups, with White split so that White Other stays visible.
ETHNIC_GROUPS = ("White British", "White Other", "Mixed", "Asian", "Black", "Other")
# National IMD quintile of the respondent's LSOA: 1 = most deprived 20% of LSOAs in England.
IMD_QUINTILES = (1, 2, 3, 4, 5)
SELF_RATED_HEALTH = ("Very good", "Good", "Fair", "Bad", "Very bad")
SMOKING_STATUSES = ("Current", "Ex", "Never")

# AUDIT-C items are scored 0-4 (Bush et al. 1998); SWEMWBS items 1-5 (Stewart-Brown et al. 2009).
AUDIT_C_ITEMS = ("audit_c_q1", "audit_c_q2", "audit_c_q3")
AUDIT_C_ITEM_RANGE = (0, 4)
SWEMWBS_ITEMS = tuple(f"swemwbs_{i}" for i in range(1, 8))
SWEMWBS_ITEM_RANGE = (1, 5)

_AUDIT = {"ge": AUDIT_C_ITEM_RANGE[0], "le": AUDIT_C_ITEM_RANGE[1], "nullable": True}
_SWEMWBS = {"ge": SWEMWBS_ITEM_RANGE[0], "le": SWEMWBS_ITEM_RANGE[1], "nullable": True}


class HouseholdSurveyResponse(pa.DataFrameModel):
    """One respondent of one wave, on the harmonised schema.

    Answers are nullable: a blank or a code the codebook declares missing (refused, don't know,
    routed past) stays null and is reported, never imputed. The weight is required and positive.
    """

    wave_year: Series[int] = pa.Field(ge=1990, le=2100)
    respondent_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    age_band: Series[str] = pa.Field(isin=AGE_BANDS, nullable=True)
    sex: Series[str] = pa.Field(isin=SEXES, nullable=True)
    ethnic_group: Series[str] = pa.Field(isin=ETHNIC_GROUPS, nullable=True)
    imd_quintile: Series[pd.Int64Dtype] = pa.Field(isin=IMD_QUINTILES, nullable=True)
    self_rated_health: Series[str] = pa.Field(isin=SELF_RATED_HEALTH, nullable=True)
    smoking_status: Series[str] = pa.Field(isin=SMOKING_STATUSES, nullable=True)
    audit_c_q1: Series[pd.Int64Dtype] = pa.Field(**_AUDIT)
    audit_c_q2: Series[pd.Int64Dtype] = pa.Field(**_AUDIT)
    audit_c_q3: Series[pd.Int64Dtype] = pa.Field(**_AUDIT)
    swemwbs_1: Series[pd.Int64Dtype] = pa.Field(**_SWEMWBS)
    swemwbs_2: Series[pd.Int64Dtype] = pa.Field(**_SWEMWBS)
    swemwbs_3: Series[pd.Int64Dtype] = pa.Field(**_SWEMWBS)
    swemwbs_4: Series[pd.Int64Dtype] = pa.Field(**_SWEMWBS)
    swemwbs_5: Series[pd.Int64Dtype] = pa.Field(**_SWEMWBS)
    swemwbs_6: Series[pd.Int64Dtype] = pa.Field(**_SWEMWBS)
    swemwbs_7: Series[pd.Int64Dtype] = pa.Field(**_SWEMWBS)
    weight: Series[float] = pa.Field(gt=0, nullable=False)

    class Config:
        strict = False
        coerce = False
