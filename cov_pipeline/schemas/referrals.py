"""The contract of a referral to the young people's risky-behaviour service, after parsing.

Codes are those the service's case system exports (``referrals/*.csv``, docs/definitions.md, "Sources"); the labels
beside them are what the staging table and the marts show.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

# The service opened in January 2018: a referral dated earlier is a keying error.
SERVICE_START = dt.date(2018, 1, 1)
# The service takes young people aged 10 to 24 (age in whole years at referral).
MIN_AGE = 10
MAX_AGE = 24

PRESENTING_NEEDS: dict[str, str] = {
    "SM": "Substance misuse",
    "RSH": "Relationships, online safety and sexual health",
    "HH": "Hidden harm",
    "EXP": "Exploitation",
    "YJ": "Youth justice",
}
REFERRAL_SOURCES: dict[str, str] = {
    "EDU": "Education (school or college)",
    "CSC": "Children's social care",
    "EH": "Early help",
    "YJS": "Youth justice service",
    "POL": "Police",
    "GP": "GP",
    "HLT": "Other health services",
    "VCS": "Voluntary and community sector",
    "SELF": "Self, family or friend",
    "OTH": "Other",
}
# NHS Data Dictionary, Person Stated Gender Code.
SEX_CODES: dict[str, str] = {"1": "Male", "2": "Female", "9": "Indeterminate", "X": "Not known"}
# NHS Data Dictionary, Ethnic Category (2001 census categories), and the broad group each joins.
# White Other is kept apart from White British (docs/definitions.md); Chinese joins Asian as in the 2011 and
# 2021 censuses.
ETHNIC_CATEGORIES: dict[str, tuple[str, str]] = {
    "A": ("White - British", "White British"),
    "B": ("White - Irish", "White Other"),
    "C": ("White - Any other White background", "White Other"),
    "D": ("Mixed - White and Black Caribbean", "Mixed"),
    "E": ("Mixed - White and Black African", "Mixed"),
    "F": ("Mixed - White and Asian", "Mixed"),
    "G": ("Mixed - Any other mixed background", "Mixed"),
    "H": ("Asian or Asian British - Indian", "Asian"),
    "J": ("Asian or Asian British - Pakistani", "Asian"),
    "K": ("Asian or Asian British - Bangladeshi", "Asian"),
    "L": ("Asian or Asian British - Any other Asian background", "Asian"),
    "M": ("Black or Black British - Caribbean", "Black"),
    "N": ("Black or Black British - African", "Black"),
    "P": ("Black or Black British - Any other Black background", "Black"),
    "R": ("Other Ethnic Groups - Chinese", "Asian"),
    "S": ("Other Ethnic Groups - Any other ethnic group", "Other"),
    "Z": ("Not stated", "Not stated"),
}
LSOA_CODE_PATTERN = r"^[EW]01\d{6}$"


def _not_after_extract(df: pd.DataFrame, column: str) -> pd.Series:
    return df[column].isna() | df["extract_date"].isna() | (df[column] <= df["extract_date"])


def _not_before(df: pd.DataFrame, later: str, earlier: str) -> pd.Series:
    return df[later].isna() | df[earlier].isna() | (df[later] >= df[earlier])


class ReferralRecord(pa.DataFrameModel):
    """One referral as one extract delivers it: codes checked, dates consistent.

    Dates may not lie after the date the extract was taken (a date in the future); the first
    contact may not precede the referral, nor the discharge the first contact or the referral.
    A referral may be discharged without a first contact (closed while waiting). Sex, ethnic
    category and LSOA may be blank (not recorded): blank stays null and is reported.
    """

    referral_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    referral_date: Series[pa.DateTime] = pa.Field(nullable=False, ge=pd.Timestamp(SERVICE_START))
    age: Series[pd.Int64Dtype] = pa.Field(
        nullable=False, in_range={"min_value": MIN_AGE, "max_value": MAX_AGE}
    )
    sex_code: Series[str] = pa.Field(nullable=True, isin=list(SEX_CODES))
    ethnic_category: Series[str] = pa.Field(nullable=True, isin=list(ETHNIC_CATEGORIES))
    lsoa_code: Series[str] = pa.Field(nullable=True, str_matches=LSOA_CODE_PATTERN)
    referral_source_code: Series[str] = pa.Field(nullable=False, isin=list(REFERRAL_SOURCES))
    presenting_need_code: Series[str] = pa.Field(nullable=False, isin=list(PRESENTING_NEEDS))
    first_contact_date: Series[pa.DateTime] = pa.Field(nullable=True)
    discharge_date: Series[pa.DateTime] = pa.Field(nullable=True)
    extract_date: Series[pa.DateTime] = pa.Field(nullable=False)

    @pa.dataframe_check(name="first_contact_before_referral")
    @classmethod
    def first_contact_not_before_referral(cls, df: pd.DataFrame) -> pd.Series:
        return _not_before(df, "first_contact_date", "referral_date")

    @pa.dataframe_check(name="discharge_before_first_contact")
    @classmethod
    def discharge_not_before_first_contact(cls, df: pd.DataFrame) -> pd.Series:
        return _not_before(df, "discharge_date", "first_contact_date")

    @pa.dataframe_check(name="discharge_before_referral")
    @classmethod
    def discharge_not_before_referral(cls, df: pd.DataFrame) -> pd.Series:
        return _not_before(df, "discharge_date", "referral_date")

    @pa.dataframe_check(name="referral_date_after_extract")
    @classmethod
    def referral_date_not_in_future(cls, df: pd.DataFrame) -> pd.Series:
        return _not_after_extract(df, "referral_date")

    @pa.dataframe_check(name="first_contact_date_after_extract")
    @classmethod
    def first_contact_not_in_future(cls, df: pd.DataFrame) -> pd.Series:
        return _not_after_extract(df, "first_contact_date")

    @pa.dataframe_check(name="discharge_date_after_extract")
    @classmethod
    def discharge_not_in_future(cls, df: pd.DataFrame) -> pd.Series:
        return _not_after_extract(df, "discharge_date")

    class Config:
        strict = False
        coerce = False
