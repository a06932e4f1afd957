"""MSDS, the source's declaration: its name and file pattern, the two published layouts
(monthly and annual headers, and their snake_case names), how a withheld value and England are
marked, and the dimensions whose categories are known, with every name and spelling they have
been published under (a label outside these is quarantined rather than guessed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cov_pipeline.repeats import RepeatRule

SOURCE = "msds"
STAGING_TABLE = "msds_measures"
FILE_PATTERN = "msds-*.csv"

# -- records seen twice (cov_pipeline.repeats) ---------------------------------------------------
# NHS England names each publication's file by what it publishes: a month
# (msds-2023-05-exp-data.csv) or a financial year (msds-annual-2022-23.csv).
MONTHLY_FILE = re.compile(r"^msds-(\d{4})-(\d{2})-exp-data\.csv$", re.IGNORECASE)
ANNUAL_FILE = re.compile(r"^msds-annual-(\d{4})-(\d{2})\.csv$", re.IGNORECASE)


def publication(name: str) -> str | None:
    """The publication an MSDS file belongs to, from its name, as text that sorts in publication
    order: a monthly file its month ('2023-05 monthly'); an annual file the last month of its
    financial year, after that month's monthly file ('2023-03 year end': the annual publication
    follows the year's close); None for any other name (its order is unknown)."""
    if match := MONTHLY_FILE.match(name):
        year, month = int(match[1]), int(match[2])
        return f"{year:04d}-{month:02d} monthly" if 1 <= month <= 12 else None
    if match := ANNUAL_FILE.match(name):
        first, second = int(match[1]), int(match[2])
        return f"{first + 1:04d}-03 year end" if second == (first + 1) % 100 else None
    return None


# The reason of every row of a count whose values disagree with nothing to order them.
CONFLICT = "conflicting values for the same period, organisation, dimension and measure: "
RECORD_RULE = RepeatRule(
    "a count (period, organisation, dimension, measure and count of) seen again with the same "
    "value is collapsed and counted; with another value in a later publication (by the file "
    "name: a month, msds-YYYY-MM-exp-data.csv, or a financial year, msds-annual-YYYY-YY.csv, "
    "after its March), the later value is staged and the earlier recorded as revised; two values "
    "within one publication, or in a file whose name gives none, are quarantined naming both "
    "files; a second copy within one file is quarantined (a publication lists each count once)",
    newer_wins=True,
    publication=publication,
    copies_in_one_file="quarantined",
)

MONTHLY_HEADER = (
    "ReportingPeriodStartDate",
    "ReportingPeriodEndDate",
    "Dimension",
    "Org_Level",
    "Org_Code",
    "Org_Name",
    "Measure",
    "Count_Of",
    "Final_value",
)
ANNUAL_HEADER = (
    "Period",
    "Dimension",
    "Org_Level",
    "Org_Code",
    "Org_Name",
    "Measure",
    "Count_Of",
    "Value",
)
SNAKE_NAMES = {
    "ReportingPeriodStartDate": "period_start",
    "ReportingPeriodEndDate": "period_end",
    "Period": "period",
    "Dimension": "dimension",
    "Org_Level": "org_level",
    "Org_Code": "org_code",
    "Org_Name": "org_name",
    "Measure": "measure",
    "Count_Of": "count_of",
    "Final_value": "value",
    "Value": "value",
}
# Names earlier MSDS data files gave a column of the current layouts (NHS Digital's files
# abbreviated the reporting period: RPStartDate, RPEndDate): a file in either version is read
# the same; a header giving one column under both names is a file fault (docs/definitions.md,
# "Column names across extract versions").
OLDER_NAMES = {
    "RPStartDate": "ReportingPeriodStartDate",
    "RPEndDate": "ReportingPeriodEndDate",
}
# Each layout's names and their older names, folded as check_header compares them, to the
# name as published in the current layout.
PUBLISHED_NAMES = {
    **{h.lower(): h for h in (*MONTHLY_HEADER, *ANNUAL_HEADER)},
    **{older.lower(): name for older, name in OLDER_NAMES.items()},
}
# How MSDS marks a value it withheld; any other text that is not a number is a row fault.
SUPPRESSED_MARKER = "*"
ENGLAND_ORG_LEVEL = "National"

# -- known dimensions and their categories ----------------------------------------------------
MISSING = "Missing value / Value outside reporting parameters"
PSEUDO_POSTCODE = "Pseudo postcode recorded (includes no fixed abode or resident overseas)"
RESIDENT_ELSEWHERE = "Resident Elsewhere in UK, Channel Islands or Isle of Man"
DECILES = (
    "01 - Most deprived",
    *(f"{d:02d}" for d in range(2, 10)),
    "10 - Least deprived",
)
BOOKING_GROUPS = ("0 to 70 days", "71 to 90 days", "91 to 140 days", "141+ days")
GESTATION_LENGTHS = (
    "27 weeks and under",
    "28 to 31 weeks",
    "32 to 33 weeks",
    "34 to 36 weeks",
    *(f"{w} weeks" for w in range(37, 43)),
    "43 weeks and over",
)


@dataclass(frozen=True)
class MsdsDimension:
    """A dimension whose categories are known: every label it may publish, under any name.

    ``categories`` are the canonical labels (as the publications spell them). ``aliases`` are other
    names the dimension itself has been published under; ``label_aliases`` map other spellings of
    a category (beyond case, spacing and zero padding, which are always ignored) to its canonical
    label. A label outside these is quarantined rather than guessed, so a new release's renamed
    category is seen (and added here) instead of being filled with a wrong zero.
    """

    name: str
    count_of: str
    categories: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    label_aliases: dict[str, str] = field(default_factory=dict)


# MSDS omits a category's row when its count is zero, so for these dimensions a category with no
# row in a period and organisation that published the dimension is a true zero and is restored.
DIMENSIONS: tuple[MsdsDimension, ...] = (
    MsdsDimension(
        "GestAgeFormalAntenatalBookingGroup",
        "Deliveries",
        (*BOOKING_GROUPS, MISSING),
        aliases=("GestAgeBookingGroup",),
        label_aliases={"141 days and over": "141+ days"},
    ),
    MsdsDimension(
        "GestationLengthBirth",
        "Babies",
        (*GESTATION_LENGTHS, MISSING),
        label_aliases={"under 28 weeks": "27 weeks and under", "43+ weeks": "43 weeks and over"},
    ),
    MsdsDimension(
        "GestationLengthBirthGroup37",
        "Babies",
        ("<37 weeks", ">=37 weeks", MISSING),
        label_aliases={"under 37 weeks": "<37 weeks", "37 weeks and over": ">=37 weeks"},
    ),
    MsdsDimension(
        "DeprivationDecileAtBooking",
        "Deliveries",
        (*DECILES, PSEUDO_POSTCODE, RESIDENT_ELSEWHERE, MISSING),
        label_aliases={"1": "01 - Most deprived", "10": "10 - Least deprived"},
    ),
    # Totals: one row with a blank Measure, nothing to restore.
    MsdsDimension("TotalDeliveries", "Deliveries", ()),
    MsdsDimension("TotalBabies", "Babies", ()),
)
# Spellings of the missing category seen across releases, beyond case and spacing.
MISSING_ALIASES = ("Missing / Value outside reporting parameters", "Missing")
COUNT_OF_NAMES = ("Deliveries", "Babies", "Women")
ORG_LEVEL_NAMES = (ENGLAND_ORG_LEVEL, "Provider")

KEY_COLUMNS = [
    "period_type",
    "period_start",
    "period_end",
    "org_level",
    "org_code",
    "dimension",
    "measure",
    "count_of",
]
