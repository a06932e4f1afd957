"""Maternity, the descriptions: what every column of the staging tables (bookings, births,
terminations) and of the marts (late bookings, premature deliveries, pregnancy outcomes, preterm
outcomes) holds, written into the warehouse and the published tier.
"""

from __future__ import annotations

from cov_pipeline.maternity.definitions import (
    ALL_PRETERM,
    EXTREMELY_PRETERM,
    MODERATE_PRETERM,
    TERM,
    VERY_PRETERM,
    MaternityDefinitions,
)
from cov_pipeline.spc import SPC_COLUMNS

# -- staging tables ----------------------------------------------------------------------------
BOOKING_STAGING_DESCRIPTIONS = {
    "booking_pseudo_id": "Pseudonymised id of the booking (one per pregnancy booked).",
    "booking_date": "Date of the booking appointment.",
    "gestation_at_booking_days": "Gestation at booking in completed days (13+0 weeks = 91).",
    "mother_age_band": "Mother's age band at booking (MSDS bands); null where not recorded.",
    "ethnic_category": "Mother's ethnic category, NHS Data Dictionary code (A-S, Z not stated, "
    "99 not known); null where blank. Lower case is normalised to upper.",
    "lsoa_code": "LSOA of the mother's residence (in the IMD lookup); null where not recorded.",
    "nrpf": "True where the mother has no recourse to public funds; null where not recorded.",
    "source_file": "Raw file the row came from.",
    "line_number": "Line of that file (the header is line 1).",
}
BIRTH_STAGING_DESCRIPTIONS = {
    "birth_pseudo_id": "Pseudonymised id of the baby (one row per baby, live or stillborn).",
    "booking_pseudo_id": "Booking of the pregnancy (shared by twins); null where the mother "
    "did not book with the provider.",
    "has_staged_booking": "True where the booking is in staging.maternity_bookings (false: booked "
    "elsewhere, before the extract, or the booking row was quarantined).",
    "birth_date": "Date of birth.",
    "gestation_at_birth_days": "Gestation at birth in completed days (37+0 weeks = 259).",
    "birth_outcome": "live or stillbirth.",
    "birthweight_grams": "Birthweight in grams; null where not recorded.",
    "neonatal_unit_admission": "True where the baby was admitted to a neonatal unit; null where "
    "not recorded and for stillbirths.",
    "survived_28_days": "True where the baby was alive at 28 days; null where not yet known and "
    "for stillbirths.",
    "survived_1_year": "True where the baby was alive at 1 year; null where not yet known and for "
    "stillbirths.",
    **{
        k: BOOKING_STAGING_DESCRIPTIONS[k]
        for k in ("mother_age_band", "ethnic_category", "lsoa_code", "nrpf")
    },
    "source_file": "Raw file the row came from.",
    "line_number": "Line of that file (the header is line 1).",
}
TERMINATION_STAGING_DESCRIPTIONS = {
    "year": "Calendar year of the abortions.",
    "area_code": "ONS code of the area of residence.",
    "area_name": "Area name as published.",
    "area_type": "Area type as published (Country, Region, Local authority); null if blank.",
    "terminations": "Abortions to residents of the area (DHSC 'Total abortions'); null where "
    "DHSC suppressed it.",
    "terminations_under_18": "Of which the woman was under 18; null where suppressed ('*').",
    "terminations_18_19": "Of which aged 18-19; null where suppressed.",
    "terminations_20_24": "Of which aged 20-24; null where suppressed.",
    "terminations_25_29": "Of which aged 25-29; null where suppressed.",
    "terminations_30_34": "Of which aged 30-34; null where suppressed.",
    "terminations_35_and_over": "Of which aged 35 and over; null where suppressed.",
    "rate_per_1000_women_15_44": "Crude rate per 1,000 resident women aged 15-44 as published.",
    "has_suppressed_counts": "True where DHSC withheld one or more of the row's counts ('*').",
    "source_file": "Raw file the row came from.",
    "line_number": "Line of that file (the header is line 1).",
}


# -- marts -------------------------------------------------------------------------------------
def _common_descriptions(date_basis: str, period_types: str) -> dict[str, str]:
    return {
        "period_start": f"First day of the period ({date_basis}).",
        "period_type": f"{period_types}. Calendar quarters and years, shown only where the "
        "extract covers every month of them.",
        "breakdown": "What the rows are split by: all (all women), deprivation_group, "
        "imd_quintile, ethnic_group, ethnic_minority, nrpf or age_band. The values of each "
        "breakdown add up to the 'all' row.",
        "breakdown_value": "The group: 'All'; deprivation_group 'Most deprived 30% (deciles 1-3)' "
        "/ 'Other 70% (deciles 4-10)' (national IMD deciles of the mother's LSOA, docs/definitions.md); "
        "imd_quintile Q1 (most deprived) to Q5; ethnic_group by NHS ethnic category (White "
        "British A; White other B, C; Mixed D-G; Asian H-L; Black M-P; Chinese or other R, S); "
        "ethnic_minority 'Ethnic minority (all but White British)' = every category except A, "
        "White other included; nrpf no recourse to public funds; age_band the mother's age at "
        "booking. 'Not known' where the field is blank, Z or 99, or the LSOA is not in the lookup.",
    }


def _ci_descriptions(name: str, what: str, method: str) -> dict[str, str]:
    return {
        name: what,
        f"{name}_ci95_lower": f"Lower 95% confidence limit of {name} ({method}).",
        f"{name}_ci95_upper": f"Upper 95% confidence limit of {name} ({method}).",
    }


def _spc_descriptions(prefix: str, measure: str) -> dict[str, str]:
    return {
        f"{prefix}_{column}": f"{measure}, monthly, all women only (null elsewhere): {text}"
        for column, text in SPC_COLUMNS.items()
    }


_WILSON = "Wilson score interval"
_BYARS = "Byars' approximation for 10 or more events, exact Poisson below"


def late_bookings_descriptions(d: MaternityDefinitions | None = None) -> dict[str, str]:
    d = d or MaternityDefinitions()
    return {
        **_common_descriptions("by booking date", "month, quarter or year"),
        "bookings": "Pregnancies booked with the provider in the period (antenatal booking "
        "appointments).",
        "booked_by_10_weeks": f"Bookings at {d.booked_by_days} days of gestation or earlier "
        "(10+0 weeks: NICE NG201 ambition).",
        **_ci_descriptions(
            "booked_by_10_weeks_pct", "booked_by_10_weeks / bookings × 100.", _WILSON
        ),
        "late_bookings": f"Bookings at {d.late_booking_from_days} days of gestation or later "
        "(13+0 weeks: late booking, docs/definitions.md).",
        **_ci_descriptions("late_booking_pct", "late_bookings / bookings × 100.", _WILSON),
        "very_late_bookings": f"Bookings at {d.very_late_booking_from_days} days or later "
        "(20+1 weeks).",
        **_ci_descriptions(
            "very_late_booking_pct", "very_late_bookings / bookings × 100.", _WILSON
        ),
        **_spc_descriptions("late_booking", "Late booking % (lower is better)"),
    }


def premature_deliveries_descriptions(d: MaternityDefinitions | None = None) -> dict[str, str]:
    d = d or MaternityDefinitions()
    return {
        **_common_descriptions("by date of birth", "month, quarter or year"),
        "births": "Babies born in the period, live and stillborn (one per baby: twins count "
        "twice).",
        "live_births": "Babies born alive.",
        "stillbirths": "Babies stillborn.",
        **_ci_descriptions("stillbirths_per_1000", "stillbirths per 1,000 births.", _BYARS),
        "preterm_births": f"Babies born before {d.preterm_before_days} days of gestation "
        "(37+0 weeks).",
        **_ci_descriptions(
            "preterm_per_1000", "preterm_births per 1,000 births (as Fingertips 91743).", _BYARS
        ),
        "very_preterm_births": f"Babies born at {d.very_preterm_from_days}-"
        f"{d.moderate_preterm_from_days - 1} days (28+0 to 31+6 weeks).",
        **_ci_descriptions(
            "very_preterm_per_1000", "very_preterm_births per 1,000 births.", _BYARS
        ),
        "extremely_preterm_births": f"Babies born before {d.very_preterm_from_days} days "
        "(28+0 weeks).",
        **_ci_descriptions(
            "extremely_preterm_per_1000", "extremely_preterm_births per 1,000 births.", _BYARS
        ),
        **_spc_descriptions("preterm", "Preterm births per 1,000 (lower is better)"),
        **_spc_descriptions(
            "extremely_preterm", "Extremely preterm births per 1,000 (lower is better)"
        ),
    }


PREGNANCY_OUTCOME_DESCRIPTIONS = {
    **_common_descriptions("calendar year", "year"),
    "breakdown": "all (all women) or age_band (the mother's age: at booking for bookings, at "
    "delivery for births, at the abortion for terminations; 35 and over together, as DHSC "
    "publishes it).",
    "breakdown_value": "'All', or the age band ('Not known' where not recorded).",
    "pregnancies": "PROXY: bookings + terminations in the year, i.e. pregnancies booked with "
    "the provider plus abortions to residents (DHSC). Misses pregnancies lost before booking "
    "and counts twice a booked pregnancy later terminated. Null where either part is missing.",
    "bookings": "Pregnancies booked with the provider in the year (null where the bookings "
    "extract does not cover the whole year).",
    "terminations": "Abortions to residents of the area in the year (DHSC abortion statistics; "
    "null where not published or suppressed by DHSC).",
    "maternities": "Deliveries in the year resulting in a live or stillbirth (a twin delivery "
    "counts once).",
    "live_births": "Babies born alive in the year.",
    "stillbirths": "Babies stillborn in the year.",
    **_ci_descriptions("termination_pct", "terminations / pregnancies × 100.", _WILSON),
}


def preterm_outcomes_descriptions(d: MaternityDefinitions | None = None) -> dict[str, str]:
    d = d or MaternityDefinitions()
    return {
        **_common_descriptions("calendar year of birth", "year"),
        "gestation_band": f"{EXTREMELY_PRETERM} (< {d.very_preterm_from_days} days), "
        f"{VERY_PRETERM}, {MODERATE_PRETERM}, {ALL_PRETERM} (< {d.preterm_before_days} days: "
        "the three bands together) or the comparison band "
        f"{TERM}.",
        "live_births": "Babies born alive in the band: the population of the outcome columns "
        "(stillbirths are in marts.premature_deliveries).",
        "nnu_admission_known": "Live births whose neonatal unit admission is recorded.",
        "nnu_admissions": "Live births admitted to a neonatal unit.",
        **_ci_descriptions(
            "nnu_admission_pct", "nnu_admissions / nnu_admission_known × 100.", _WILSON
        ),
        "survival_28_days_known": "Live births whose survival to 28 days is known (not yet known "
        "for the most recent births).",
        "deaths_under_28_days": "Of those, babies who died before 28 days (neonatal deaths).",
        **_ci_descriptions(
            "survival_28_days_pct",
            "(survival_28_days_known - deaths_under_28_days) / survival_28_days_known × 100.",
            _WILSON,
        ),
        "survival_1_year_known": "Live births whose survival to 1 year is known (none yet for "
        "births in the last year before the extract).",
        "deaths_under_1_year": "Of those, babies who died before 1 year (infant deaths).",
        **_ci_descriptions(
            "survival_1_year_pct",
            "(survival_1_year_known - deaths_under_1_year) / survival_1_year_known × 100.",
            _WILSON,
        ),
    }
