"""Young people's risky-behaviour service: referrals staged from the case-system extracts, and the
demand and waiting-list marts for commissioners.

Extracts are named ``referrals_YYYY-MM-DD.csv`` after the day they were taken; that date orders
them and bounds their dates (a date after it is in the future). A referral delivered by several
extracts is staged once, **from the latest extract that holds it** (the later extract wins: it
records first contacts, discharges and corrections made since). File faults raise
:class:`FileFault`; row faults quarantine the row with every reason (see ``load_referrals``).

The source is split by stage; every public name is importable from here as before:

- :mod:`~cov_pipeline.referrals.definitions`: the declaration (name, file pattern and extract
  name, the raw columns and their typed names, the labels of the groups and statuses); the
  contract of a row is :class:`~cov_pipeline.schemas.referrals.ReferralRecord`;
- :mod:`~cov_pipeline.referrals.parsing`: reading, parsing and validation, the versions of a
  referral across extracts, and loading (:func:`load_referrals`, :class:`ReferralsLoad`);
- :mod:`~cov_pipeline.referrals.labels`: the labels, wait, status and deprivation of the staged
  referrals;
- :mod:`~cov_pipeline.referrals.measures`: the referral trends and waiting-list marts
  (:func:`referral_trends`, :func:`referral_waiting`);
- :mod:`~cov_pipeline.referrals.descriptions`: the column descriptions of the staging table and
  the marts.
"""

from cov_pipeline.raw_reader import PARSING_FAILED
from cov_pipeline.referrals.definitions import (
    AGE_BANDS,
    DATE_COLUMNS,
    DEPRIVATION_GROUPS,
    ETHNIC_GROUPS,
    FILE_NAME,
    FILE_PATTERN,
    IMD_QUINTILE_GROUPS,
    LESS_DEPRIVED,
    MOST_DEPRIVED,
    NOT_KNOWN,
    OLDER_NAMES,
    RAW_COLUMNS,
    RAW_HEADER,
    RAW_NAMES,
    SOURCE,
    STATUSES,
    TEXT_COLUMNS,
    TYPED_NAMES,
)
from cov_pipeline.referrals.descriptions import (
    PERCENTILE_METHOD,
    STAGING_COLUMNS,
    STAGING_DESCRIPTIONS,
    TRENDS_DESCRIPTIONS,
    WAITING_DESCRIPTIONS,
)
from cov_pipeline.referrals.labels import (
    age_bands,
    deprivation,
    label_referrals,
)
from cov_pipeline.referrals.measures import (
    ALL,
    ALL_REFERRALS,
    BREAKDOWNS,
    TRENDS_INPUT_COLUMNS,
    WAITING_INPUT_COLUMNS,
    breakdown_cells,
    month_positions,
    monthly_referrals,
    referral_trends,
    referral_waiting,
    reporting_months,
    waiting_figures,
    waiting_snapshots,
)
from cov_pipeline.referrals.measures import (
    _percentiles as _percentiles,  # pinned by the unit tests
)
from cov_pipeline.referrals.parsing import (
    ReferralsLoad,
    Versions,
    contract_reasons,
    delivered_text,
    extract_date_of,
    load_referrals,
    parse_referrals,
    read_referral_file,
    resolve_versions,
    staging_order,
)
from cov_pipeline.schemas.referrals import ReferralRecord

__all__ = [
    "AGE_BANDS",
    "ALL",
    "ALL_REFERRALS",
    "BREAKDOWNS",
    "DATE_COLUMNS",
    "DEPRIVATION_GROUPS",
    "ETHNIC_GROUPS",
    "FILE_NAME",
    "FILE_PATTERN",
    "IMD_QUINTILE_GROUPS",
    "LESS_DEPRIVED",
    "MOST_DEPRIVED",
    "NOT_KNOWN",
    "PARSING_FAILED",
    "PERCENTILE_METHOD",
    "RAW_COLUMNS",
    "OLDER_NAMES",
    "RAW_HEADER",
    "RAW_NAMES",
    "ReferralRecord",
    "ReferralsLoad",
    "SOURCE",
    "STAGING_COLUMNS",
    "STAGING_DESCRIPTIONS",
    "STATUSES",
    "TEXT_COLUMNS",
    "TRENDS_DESCRIPTIONS",
    "TRENDS_INPUT_COLUMNS",
    "TYPED_NAMES",
    "Versions",
    "WAITING_DESCRIPTIONS",
    "WAITING_INPUT_COLUMNS",
    "age_bands",
    "breakdown_cells",
    "contract_reasons",
    "delivered_text",
    "deprivation",
    "extract_date_of",
    "label_referrals",
    "load_referrals",
    "month_positions",
    "monthly_referrals",
    "parse_referrals",
    "read_referral_file",
    "referral_trends",
    "referral_waiting",
    "reporting_months",
    "resolve_versions",
    "staging_order",
    "waiting_figures",
    "waiting_snapshots",
]
