"""Referrals, the source's declaration: its name, its file pattern and the name an extract must
have (the date it was taken), the columns the case system writes (:data:`RAW_COLUMNS`) and how
they are typed, and the labels of the staged referrals and the marts (age bands, ethnic and
deprivation groups, IMD quintiles, statuses). The contract a row must meet is
:class:`~cov_pipeline.schemas.referrals.ReferralRecord`.
"""

from __future__ import annotations

import re

from cov_pipeline.raw_reader import Header

SOURCE = "referrals"
FILE_PATTERN = "*.csv"
# referrals_2026-11-01.csv, optionally with a suffix: referrals_2026-11-01_part2.csv
FILE_NAME = re.compile(r"^referrals_(?P<date>\d{4}-\d{2}-\d{2})(?:[_-][^/]*)?\.(?i:csv)$")

# The extract's columns, as the case system writes them (docs/definitions.md, "Sources").
RAW_COLUMNS = [
    "referral_id",
    "referral_date",
    "age",
    "sex",
    "ethnic_category",
    "lsoa_code",
    "referral_source",
    "presenting_need",
    "first_contact_date",
    "discharge_date",
]
# The names the case system's earlier export version gave these columns: an extract in either
# version is read the same; a header giving one column under both names is a file fault
# (docs/definitions.md, "Column names across extract versions").
OLDER_NAMES = {
    "ref_id": "referral_id",
    "date_referred": "referral_date",
    "age_at_referral": "age",
    "ethnicity": "ethnic_category",
    "lsoa": "lsoa_code",
    "source_of_referral": "referral_source",
    "primary_need": "presenting_need",
    "date_first_contact": "first_contact_date",
    "date_discharged": "discharge_date",
}
RAW_HEADER = Header(required=RAW_COLUMNS, aliases=OLDER_NAMES)
DATE_COLUMNS = ["referral_date", "first_contact_date", "discharge_date"]
# The columns staged as text (the codes under their typed names).
TEXT_COLUMNS = [
    "referral_id",
    "sex",
    "ethnic_category",
    "lsoa_code",
    "referral_source",
    "presenting_need",
]
# Typed names of the coded columns (the staging table also carries their labels).
TYPED_NAMES = {
    "sex": "sex_code",
    "referral_source": "referral_source_code",
    "presenting_need": "presenting_need_code",
}
RAW_NAMES = {typed: raw for raw, typed in TYPED_NAMES.items()}

AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("10-13", 10, 13),
    ("14-15", 14, 15),
    ("16-17", 16, 17),
    ("18-24", 18, 24),
)
ETHNIC_GROUPS = ("White British", "White Other", "Mixed", "Asian", "Black", "Other", "Not stated")
NOT_KNOWN = "Not known"
MOST_DEPRIVED = "Most deprived 30% (deciles 1-3)"
LESS_DEPRIVED = "Other 70% (deciles 4-10)"
DEPRIVATION_GROUPS = (MOST_DEPRIVED, LESS_DEPRIVED, NOT_KNOWN)
IMD_QUINTILE_GROUPS = (
    "Q1 (most deprived)",
    "Q2",
    "Q3",
    "Q4",
    "Q5 (least deprived)",
    NOT_KNOWN,
)
STATUSES = ("waiting", "seen, open", "discharged", "closed before first contact")
