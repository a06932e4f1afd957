"""Referrals, the descriptions: what every column of ``staging.referrals`` and of the marts
``marts.referral_trends`` and ``marts.referral_waiting`` holds (with the percentile method of the
waiting times), written into the warehouse and the published tier.
"""

from __future__ import annotations

from cov_pipeline.referrals.definitions import LESS_DEPRIVED, MOST_DEPRIVED, NOT_KNOWN
from cov_pipeline.schemas.referrals import MAX_AGE, MIN_AGE, PRESENTING_NEEDS, REFERRAL_SOURCES
from cov_pipeline.spc import SPC_COLUMNS

# -- staging.referrals --------------------------------------------------------------------------
STAGING_DESCRIPTIONS = {
    "referral_id": "Referral identifier from the case system (pseudonymised), unique.",
    "referral_date": "Date the service received the referral.",
    "age": f"Age in whole years at referral ({MIN_AGE}-{MAX_AGE}, the service's range).",
    "age_band": "Age band at referral: 10-13, 14-15, 16-17, 18-24.",
    "sex_code": "NHS Person Stated Gender Code as delivered (1, 2, 9, X); null where blank.",
    "sex": "Male, Female, Indeterminate, or Not known (code X or blank).",
    "ethnic_category": "NHS ethnic category letter code as delivered (A-S, Z); null where blank.",
    "ethnic_group": "Broad ethnic group: White British, White Other, Mixed, Asian, Black, Other, "
    "or Not stated (code Z or blank).",
    "lsoa_code": "LSOA of the young person's home as delivered; null where not recorded.",
    "imd_decile": "National IMD decile of the LSOA (1 = most deprived 10%), from staging.imd_lsoa; "
    "null where the LSOA is blank or not in the lookup (e.g. outside the area).",
    "imd_quintile": "National IMD quintile of the LSOA (1 = most deprived 20%); null as imd_decile.",
    "is_most_deprived_30pct": "LSOA in national IMD deciles 1-3 (docs/definitions.md); null as imd_decile.",
    "deprivation_group": f"'{MOST_DEPRIVED}', '{LESS_DEPRIVED}' or '{NOT_KNOWN}'.",
    "referral_source_code": "Referral source code as delivered.",
    "referral_source": "Who referred: " + "; ".join(REFERRAL_SOURCES.values()) + ".",
    "presenting_need_code": "Presenting need code as delivered.",
    "presenting_need": "Main presenting need: " + "; ".join(PRESENTING_NEEDS.values()) + ".",
    "first_contact_date": "Date of the first contact with the young person; null if not yet seen.",
    "discharge_date": "Date the referral was closed; null while open.",
    "wait_days": "Days from referral to first contact; null if not yet seen.",
    "status": "As at the extract: waiting (no first contact, not closed), seen, open; "
    "discharged; or closed before first contact.",
    "extract_date": "Date the extract the row was staged from was taken (from its file name).",
    "source_file": "Extract the row was staged from: the latest that holds the referral.",
    "line_number": "Line in that file where the record starts (the header is line 1).",
    "extract_rows": "Rows of the extracts merged into this referral: 1, plus earlier extracts' "
    "versions superseded by this one (the later extract wins).",
    "changed_in_later_extract": "Fields whose value differs from the previous extract's version "
    "of the referral, comma separated; null if the referral is in one extract or unchanged.",
}
STAGING_COLUMNS = list(STAGING_DESCRIPTIONS)


# -- marts: the percentile method ---------------------------------------------------------------
PERCENTILE_METHOD = (
    "linear interpolation between closest ranks (Hyndman and Fan type 7, as Excel "
    "PERCENTILE.INC and numpy): for n sorted values x1..xn the p-th percentile lies at rank "
    "1 + (n - 1)p"
)


# -- marts: referral trends ---------------------------------------------------------------------
def _spc_descriptions(prefix: str, what: str) -> dict[str, str]:
    return {prefix + name: f"{what}: {text}" for name, text in SPC_COLUMNS.items()}


_CELL_DESCRIPTIONS = {
    "month": "Calendar month (its first day).",
    "breakdown": "How referrals are split: All, Presenting need, Referral source, Age band, Sex, "
    "Ethnic group, Deprivation group (IMD deciles 1-3 vs 4-10), IMD quintile.",
    "category": "The group within the breakdown ('All referrals' for All; 'Not known' / "
    "'Not stated' where not recorded).",
    "category_order": "Display order of the category within its breakdown.",
}
TRENDS_DESCRIPTIONS = {
    **_CELL_DESCRIPTIONS,
    "referrals": "Referrals received in the month.",
    "referrals_rolling_12m": "Referrals received in the 12 months ending with this month; null "
    "before 12 months of data.",
    "referrals_same_month_last_year": "Referrals received in the same month a year earlier; null "
    "in the first year.",
    "change_on_last_year": "referrals - referrals_same_month_last_year.",
    "change_on_last_year_pct": "Change on the same month a year earlier as a % of that month "
    "(null where it had no referrals).",
    **_spc_descriptions(
        "",
        "SPC (XmR) of monthly referrals in this breakdown and category, demand treated as "
        "neutral (config 'referrals')",
    ),
}


# -- marts: waiting list and waiting times ------------------------------------------------------
WAITING_DESCRIPTIONS = {
    "month": _CELL_DESCRIPTIONS["month"],
    "month_end": "Last day of the month: the date the waiting list is counted on.",
    **_CELL_DESCRIPTIONS,
    "waiting_list": "Young people on the waiting list at the month end: referred, no first "
    "contact, not discharged.",
    "waiting_median_days": "Median days waited so far (month end - referral date) by those on "
    "the waiting list; percentile method: " + PERCENTILE_METHOD + ".",
    "waiting_p90_days": "90th percentile of days waited so far by those on the waiting list "
    "(same percentile method).",
    "wait_threshold_days": "Threshold for waiting_over_threshold in days "
    "(COV_REFERRAL_WAIT_THRESHOLD_DAYS; 42 = 6 weeks by default).",
    "waiting_over_threshold": "People on the waiting list at the month end who have waited more "
    "than wait_threshold_days.",
    "first_seen": "Young people first seen (first contact) in the month.",
    "first_seen_median_wait_days": "Median days from referral to first contact of those first "
    "seen in the month (same percentile method).",
    "first_seen_p90_wait_days": "90th percentile of days from referral to first contact of "
    "those first seen in the month (same percentile method).",
    "discharges": "Referrals closed (discharged) in the month, seen or not.",
    **_spc_descriptions(
        "waiting_list_",
        "SPC (XmR) of the waiting list at month end, lower is better (config 'waiting_list')",
    ),
    **_spc_descriptions(
        "median_wait_",
        "SPC (XmR) of first_seen_median_wait_days, lower is better (config "
        "'median_wait_days'); months with no one first seen are gaps",
    ),
}
