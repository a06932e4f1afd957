"""The contracts of the maternity provider's record-level extracts and the DHSC terminations table.

Each model states a parsed row: names, types, ranges, allowed codes. Text that cannot be parsed
(a date that is not a date) has its own reason before these run; rules that need other tables (an
LSOA missing from the IMD lookup, a birth before its booking, a repeated pseudo id) or the clock
(a date in the future) are applied in :mod:`cov_pipeline.maternity`.

Text columns are Arrow-backed strings (``string[pyarrow]``): pandera then checks the dtype once
per column, where a plain ``str`` annotation makes it test every value's Python type, and runs
``isin`` and ``str_matches`` in Arrow's kernels.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

# The possible range of a gestation in days, exclusive at both ends (issue 3).
GESTATION_MIN_EXCLUSIVE = 0
GESTATION_MAX_EXCLUSIVE = 400
# Birthweights outside (0, 7000) grams cannot be right (the heaviest recorded newborn was
# about 10 kg, but such a record in a city's extract is a keying error).
BIRTHWEIGHT_MAX_EXCLUSIVE = 7000

# NHS Data Dictionary ETHNIC CATEGORY (2001 census classification): letter codes, plus Z "Not
# stated" and 99 "Not known". Letters I, O and Q are not used.
ETHNIC_CATEGORIES: dict[str, str] = {
    "A": "White - British",
    "B": "White - Irish",
    "C": "White - Any other White background",
    "D": "Mixed - White and Black Caribbean",
    "E": "Mixed - White and Black African",
    "F": "Mixed - White and Asian",
    "G": "Mixed - Any other mixed background",
    "H": "Asian or Asian British - Indian",
    "J": "Asian or Asian British - Pakistani",
    "K": "Asian or Asian British - Bangladeshi",
    "L": "Asian or Asian British - Any other Asian background",
    "M": "Black or Black British - Caribbean",
    "N": "Black or Black British - African",
    "P": "Black or Black British - Any other Black background",
    "R": "Other Ethnic Groups - Chinese",
    "S": "Other Ethnic Groups - Any other ethnic group",
    "Z": "Not stated",
    "99": "Not known",
}
# Mother's age band at booking, as MSDS bands AgeAtBookingMotherGroup.
AGE_BANDS = ("Under 20", "20 to 24", "25 to 29", "30 to 34", "35 to 39", "40 to 44", "45 or Over")
BIRTH_OUTCOMES = ("live", "stillbirth")
LSOA_CODE_PATTERN = r"^[EW]01\d{6}$"
AREA_CODE_PATTERN = r"^[EWKN]\d{8}$"
PSEUDO_ID_PATTERN = r"^[A-Za-z0-9_-]{4,64}$"
ARROW_TEXT = {"storage": "pyarrow"}


def _text(**checks) -> object:
    """A text column: an Arrow-backed string with the given checks. ``str_matches`` then runs in
    RE2, where ``\\d`` is 0-9 only: codes with other digits (an LSOA written in Arabic-Indic
    digits) are rejected, as the data dictionary's codes require."""
    return pa.Field(dtype_kwargs=ARROW_TEXT, **checks)


_GESTATION_ERROR = (
    f"is outside the possible range ({GESTATION_MIN_EXCLUSIVE}, {GESTATION_MAX_EXCLUSIVE}) days"
)


def _possible_gestation(series: pd.Series) -> pd.Series:
    return (series > GESTATION_MIN_EXCLUSIVE) & (series < GESTATION_MAX_EXCLUSIVE)


class _Mother(pa.DataFrameModel):
    """Columns every record-level extract carries about the mother."""

    mother_age_band: Series[pd.StringDtype] = _text(nullable=True, isin=list(AGE_BANDS))
    ethnic_category: Series[pd.StringDtype] = _text(nullable=True, isin=list(ETHNIC_CATEGORIES))
    lsoa_code: Series[pd.StringDtype] = _text(nullable=True, str_matches=LSOA_CODE_PATTERN)
    nrpf: Series[pd.BooleanDtype] = pa.Field(nullable=True)

    class Config:
        strict = False
        coerce = False


class MaternityBooking(_Mother):
    """One antenatal booking: the first booking appointment of a pregnancy (one row per booking).

    Blank age band, ethnic category, LSOA or NRPF flag are missing (reported as "Not known"), never
    guessed. The pseudo id is unique across the extract (checked with the file and line of each
    copy).
    """

    booking_pseudo_id: Series[pd.StringDtype] = _text(nullable=False, str_matches=PSEUDO_ID_PATTERN)
    booking_date: Series[pd.Timestamp] = pa.Field(nullable=False)
    gestation_at_booking_days: Series[pd.Int64Dtype] = pa.Field(nullable=False)

    @pa.check("gestation_at_booking_days", name="possible_gestation", error=_GESTATION_ERROR)
    def _gestation(cls, series: pd.Series) -> pd.Series:
        return _possible_gestation(series)


class MaternityBirth(_Mother):
    """One baby born (live or stillborn): one row per baby, so twins are two rows that share the
    booking pseudo id.

    Neonatal unit admission and survival are Y/N where known and blank where not (survival is not
    yet known for recent births); a stillborn baby has none of them.
    """

    birth_pseudo_id: Series[pd.StringDtype] = _text(nullable=False, str_matches=PSEUDO_ID_PATTERN)
    booking_pseudo_id: Series[pd.StringDtype] = _text(nullable=True, str_matches=PSEUDO_ID_PATTERN)
    birth_date: Series[pd.Timestamp] = pa.Field(nullable=False)
    gestation_at_birth_days: Series[pd.Int64Dtype] = pa.Field(nullable=False)
    birth_outcome: Series[pd.StringDtype] = _text(nullable=False, isin=list(BIRTH_OUTCOMES))
    birthweight_grams: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    neonatal_unit_admission: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    survived_28_days: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    survived_1_year: Series[pd.BooleanDtype] = pa.Field(nullable=True)

    @pa.check("gestation_at_birth_days", name="possible_gestation", error=_GESTATION_ERROR)
    def _gestation(cls, series: pd.Series) -> pd.Series:
        return _possible_gestation(series)

    @pa.check(
        "birthweight_grams",
        name="possible_birthweight",
        error=f"is outside the possible range (0, {BIRTHWEIGHT_MAX_EXCLUSIVE}) grams",
    )
    def _birthweight(cls, series: pd.Series) -> pd.Series:
        return (series > 0) & (series < BIRTHWEIGHT_MAX_EXCLUSIVE)

    @pa.dataframe_check(
        name="stillbirth_without_neonatal_outcomes",
        error="a stillbirth has no neonatal unit admission or survival (they must be blank)",
    )
    def _stillbirth(cls, frame: pd.DataFrame) -> pd.Series:
        still = frame["birth_outcome"].eq("stillbirth").fillna(False).astype(bool)
        recorded = (
            frame["neonatal_unit_admission"].notna()
            | frame["survived_28_days"].notna()
            | frame["survived_1_year"].notna()
        )
        return ~(still & recorded)

    @pa.dataframe_check(
        name="survival_consistent",
        error="survived_1_year is Y but survived_28_days is N",
    )
    def _survival(cls, frame: pd.DataFrame) -> pd.Series:
        died_early = frame["survived_28_days"].eq(False).fillna(False).astype(bool)
        lived_year = frame["survived_1_year"].eq(True).fillna(False).astype(bool)
        return ~(died_early & lived_year)


class TerminationsRow(pa.DataFrameModel):
    """Abortions to residents of one area in one calendar year, by the mother's age group.

    Counts are null where DHSC suppressed them ("*"); the rate is per 1,000 resident women aged
    15-44 as published.
    """

    year: Series[pd.Int64Dtype] = pa.Field(nullable=False, ge=1968)
    area_code: Series[pd.StringDtype] = _text(nullable=False, str_matches=AREA_CODE_PATTERN)
    area_name: Series[pd.StringDtype] = _text(nullable=False, str_length={"min_value": 1})
    terminations: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    terminations_under_18: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    terminations_18_19: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    terminations_20_24: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    terminations_25_29: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    terminations_30_34: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    terminations_35_and_over: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    rate_per_1000_women_15_44: Series[float] = pa.Field(nullable=True, ge=0)

    class Config:
        strict = False
        coerce = False
