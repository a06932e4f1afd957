"""Maternity, the measures: late bookings, prematurity, preterm outcomes and pregnancy outcomes
(plain functions of the staged DataFrames, by period and breakdown), the SPC columns the marts
add (Making Data Count), and the marts built from them at full detail (the published tier
withholds small numbers: :mod:`cov_pipeline.publishing`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cov_pipeline.maternity.breakdowns import (
    ALL,
    BREAKDOWNS,
    NOT_KNOWN,
    PREGNANCY_AGE_BANDS,
    PREGNANCY_BREAKDOWNS,
    Extra,
    _add_proportion,
    _add_rate,
    _distinct,
    _positions,
    _sort,
    breakdown_codes,
    count_by_period,
)
from cov_pipeline.maternity.definitions import (
    ALL_PRETERM,
    GESTATION_BANDS,
    TERM,
    TERMINATION_AGE_COLUMNS,
    MaternityDefinitions,
)
from cov_pipeline.maternity.rows import _digests
from cov_pipeline.spc import SPC_COLUMNS, SpcSettings, spc_series


# -- measures ----------------------------------------------------------------------------------
def is_late_booking(gestation_days: pd.Series, definitions: MaternityDefinitions) -> pd.Series:
    """Booked at 13+0 weeks (91 days) or later, by default (docs/definitions.md)."""
    return gestation_days >= definitions.late_booking_from_days


def _is(values: pd.Series, value: str) -> np.ndarray:
    """``values == value`` as booleans, missing being no match."""
    return values.eq(value).to_numpy(dtype=bool, na_value=False)


def late_bookings(
    bookings: pd.DataFrame, imd: pd.DataFrame, definitions: MaternityDefinitions | None = None
) -> pd.DataFrame:
    """Bookings, booked by 10+0 weeks, late (13+0 or later) and very late (20+1 or later) bookings
    by month, quarter and year, for all women and each breakdown, with percentages of bookings
    and Wilson 95% CIs. Periods are by booking date.

    Definitions (docs/definitions.md, config/maternity.yaml): booked by 10+0 = gestation at booking <= 70
    days (NICE NG201 ambition); late = >= 91 days; very late = >= 141 days. Before disclosure
    control: :func:`build_late_bookings` adds SPC and suppression.
    """
    counts = booking_counts(bookings, definitions or MaternityDefinitions())
    table = count_by_period(
        bookings["booking_date"], breakdown_codes(bookings, imd), counts, BREAKDOWNS
    )
    add_late_booking_shares(table)
    return table


def booking_counts(bookings: pd.DataFrame, d: MaternityDefinitions) -> dict[str, np.ndarray]:
    """What each booking counts for (``BOOKING_COUNTS``): 1 or 0 per booking."""
    gestation = bookings["gestation_at_booking_days"].to_numpy(dtype="int64")
    return {
        "bookings": np.ones(len(bookings), dtype=np.int64),
        "booked_by_10_weeks": gestation <= d.booked_by_days,
        "late_bookings": is_late_booking(gestation, d),
        "very_late_bookings": gestation >= d.very_late_booking_from_days,
    }


BOOKING_COUNTS = ("bookings", "booked_by_10_weeks", "late_bookings", "very_late_bookings")


def add_late_booking_shares(table: pd.DataFrame) -> None:
    """The percentages of bookings (Wilson 95% CIs) from the counts of each row."""
    _add_proportion(table, "booked_by_10_weeks_pct", "booked_by_10_weeks", "bookings")
    _add_proportion(table, "late_booking_pct", "late_bookings", "bookings")
    _add_proportion(table, "very_late_booking_pct", "very_late_bookings", "bookings")


def gestation_bands(gestation_days: pd.Series, definitions: MaternityDefinitions) -> pd.Series:
    """Extremely preterm (< 196), very preterm (196-223), moderate to late preterm (224-258) or
    term (>= 259), by default (docs/definitions.md)."""
    band = _gestation_band_codes(gestation_days.to_numpy(dtype="int64"), definitions)
    return pd.Series(np.asarray(GESTATION_BANDS, dtype=object)[band], index=gestation_days.index)


def _gestation_band_codes(gestation_days: np.ndarray, d: MaternityDefinitions) -> np.ndarray:
    """:func:`gestation_bands` as positions in ``GESTATION_BANDS``."""
    g = gestation_days
    return np.select(
        [g < d.very_preterm_from_days, g < d.moderate_preterm_from_days, g < d.preterm_before_days],
        [GESTATION_BANDS.index(band) for band in GESTATION_BANDS[:3]],
        default=GESTATION_BANDS.index(TERM),
    )


def premature_deliveries(
    births: pd.DataFrame, imd: pd.DataFrame, definitions: MaternityDefinitions | None = None
) -> pd.DataFrame:
    """Births (babies, live and still), live births, stillbirths, and preterm (< 259 days), very
    preterm (196-223) and extremely preterm (< 196) births by month, quarter and year, for all
    women and each breakdown, as crude rates per 1,000 births with Byars / exact Poisson 95% CIs
    (the method of Fingertips indicator 91743). Periods are by date of birth.
    """
    counts = birth_counts(births, definitions or MaternityDefinitions())
    table = count_by_period(births["birth_date"], breakdown_codes(births, imd), counts, BREAKDOWNS)
    add_birth_rates(table)
    return table


def birth_counts(births: pd.DataFrame, d: MaternityDefinitions) -> dict[str, np.ndarray]:
    """What each baby counts for (``BIRTH_COUNTS``): 1 or 0 per baby."""
    gestation = births["gestation_at_birth_days"].to_numpy(dtype="int64")
    return {
        "births": np.ones(len(births), dtype=np.int64),
        "live_births": _is(births["birth_outcome"], "live"),
        "stillbirths": _is(births["birth_outcome"], "stillbirth"),
        "preterm_births": gestation < d.preterm_before_days,
        "very_preterm_births": (gestation >= d.very_preterm_from_days)
        & (gestation < d.moderate_preterm_from_days),
        "extremely_preterm_births": gestation < d.very_preterm_from_days,
    }


BIRTH_COUNTS = (
    "births",
    "live_births",
    "stillbirths",
    "preterm_births",
    "very_preterm_births",
    "extremely_preterm_births",
)


def add_birth_rates(table: pd.DataFrame) -> None:
    """The rates per 1,000 births (Byars / exact Poisson 95% CIs) from the counts of each row."""
    _add_rate(table, "stillbirths_per_1000", "stillbirths", "births")
    _add_rate(table, "preterm_per_1000", "preterm_births", "births")
    _add_rate(table, "very_preterm_per_1000", "very_preterm_births", "births")
    _add_rate(table, "extremely_preterm_per_1000", "extremely_preterm_births", "births")


def preterm_outcomes(
    births: pd.DataFrame, imd: pd.DataFrame, definitions: MaternityDefinitions | None = None
) -> pd.DataFrame:
    """For babies by gestation band (extremely, very, moderate to late preterm, all preterm, and
    term for comparison), by calendar year of birth: neonatal unit admission, survival to 28 days
    and to 1 year among live births whose outcome is known, as percentages with Wilson 95% CIs.

    Survival is known only once the baby could have reached the age (and follow-up recorded it),
    so the latest years have few or no known outcomes: the ``*_known`` columns say how many.
    """
    d = definitions or MaternityDefinitions()
    band = _gestation_band_codes(births["gestation_at_birth_days"].to_numpy(dtype="int64"), d)
    preterm = np.flatnonzero(band != GESTATION_BANDS.index(TERM))
    # each preterm baby counts in its own band and in "All preterm": the records, then those again
    rows = np.concatenate([np.arange(len(births)), preterm])
    band = np.concatenate([band, np.full(len(preterm), GESTATION_BANDS.index(ALL_PRETERM))])
    live = _is(births["birth_outcome"], "live")

    def known(column: str) -> np.ndarray:
        return live & births[column].astype("boolean").notna().to_numpy()

    def answered(column: str, value: bool) -> np.ndarray:
        return live & births[column].astype("boolean").eq(value).to_numpy(bool, na_value=False)

    counts = {
        "live_births": live,
        "nnu_admission_known": known("neonatal_unit_admission"),
        "nnu_admissions": answered("neonatal_unit_admission", True),
        "survival_28_days_known": known("survived_28_days"),
        "deaths_under_28_days": answered("survived_28_days", False),
        "survival_1_year_known": known("survived_1_year"),
        "deaths_under_1_year": answered("survived_1_year", False),
    }
    table = count_by_period(
        births["birth_date"].to_numpy(dtype="datetime64[ns]")[rows],
        {b: codes[rows] for b, codes in breakdown_codes(births, imd).items()},
        {name: values[rows] for name, values in counts.items()},
        BREAKDOWNS,
        period_types=("year",),
        extra=Extra("gestation_band", GESTATION_BANDS, band),
    )
    add_outcome_shares(table)
    return table


PRETERM_OUTCOME_COUNTS = (
    "live_births",
    "nnu_admission_known",
    "nnu_admissions",
    "survival_28_days_known",
    "deaths_under_28_days",
    "survival_1_year_known",
    "deaths_under_1_year",
)


def add_outcome_shares(table: pd.DataFrame) -> None:
    """Neonatal unit admission and survival percentages (Wilson 95% CIs) from the counts."""
    _add_proportion(table, "nnu_admission_pct", "nnu_admissions", "nnu_admission_known")
    for period in ("28_days", "1_year"):
        known_n = table[f"survival_{period}_known"]
        table["_survivors"] = known_n - table[f"deaths_under_{period}"]
        _add_proportion(table, f"survival_{period}_pct", "_survivors", f"survival_{period}_known")
    del table["_survivors"]


def pregnancy_outcomes(
    bookings: pd.DataFrame,
    births: pd.DataFrame,
    terminations: pd.DataFrame,
    area_code: str,
) -> pd.DataFrame:
    """By calendar year, for all women and by age band: bookings, terminations, pregnancies
    (bookings + terminations), maternities, live births and stillbirths, and terminations as a
    percentage of pregnancies (Wilson 95% CI).

    Pregnancies are the proxy issue 3 names: pregnancies booked with the provider in the year
    plus abortions to residents in the year (DHSC, area ``area_code``). It misses pregnancies
    that miscarried before booking and counts twice a booked pregnancy later terminated. A year
    is shown for a source only where its extract covers the whole year; otherwise that source's
    counts are null (and so are pregnancies). Age bands are those the DHSC table can be matched
    to (35 and over together); terminations have no 'Not known' age beyond total minus the sum
    of the age groups.
    """
    birth_counts = {
        "maternities": _first_babies(births),
        "live_births": _is(births["birth_outcome"], "live"),
        "stillbirths": _is(births["birth_outcome"], "stillbirth"),
    }
    keys = ["period_start", "period_type", "breakdown", "breakdown_value"]
    parts = []
    for dates, codes, counts in (
        (
            bookings["booking_date"],
            _pregnancy_codes(bookings),
            {"bookings": np.ones(len(bookings), dtype=np.int64)},
        ),
        (births["birth_date"], _pregnancy_codes(births), birth_counts),
    ):
        # years only where the extract covers all twelve months (count_by_period)
        table = count_by_period(dates, codes, counts, PREGNANCY_BREAKDOWNS, period_types=("year",))
        parts.append(table.set_index(keys))
    parts.append(_termination_counts(terminations, area_code).set_index(keys))
    table = pd.concat(parts, axis=1, join="outer").reset_index()
    for column in ("bookings", "terminations", "maternities", "live_births", "stillbirths"):
        table[column] = table[column].astype("Int64")
    table["pregnancies"] = table["bookings"] + table["terminations"]
    _add_proportion(table, "termination_pct", "terminations", "pregnancies")
    table = _sort(table, PREGNANCY_BREAKDOWNS)
    return table[
        [
            *keys,
            "pregnancies",
            "bookings",
            "terminations",
            "maternities",
            "live_births",
            "stillbirths",
            "termination_pct",
            "termination_pct_ci95_lower",
            "termination_pct_ci95_upper",
        ]
    ]


def _first_babies(births: pd.DataFrame) -> np.ndarray:
    """True for the first baby of each booking in a calendar year, and for every baby without a
    booking: one per delivery, so twins make one maternity. Pairs of booking and year are
    matched on digests of the id (see :func:`_digests`), confirmed on its text."""
    ids = births["booking_pseudo_id"]
    year = births["birth_date"].dt.year
    first = np.ones(len(births), dtype=bool)
    present = np.flatnonzero(ids.notna().to_numpy())
    text = ids.to_numpy(dtype=object)[present]
    year_at, years = pd.factorize(year.to_numpy()[present], use_na_sentinel=False)
    id_at = pd.factorize(_digests(text))[0]
    # pairs are numbered in order of first appearance: the first row of pair k is the k-th new
    key = id_at * len(years) + year_at
    pair = pd.factorize(key)[0]
    new = ~pd.Series(key).duplicated().to_numpy()
    earliest = np.flatnonzero(new)[pair]
    repeat = np.flatnonzero(~new)
    if (text[repeat] == text[earliest[repeat]]).all():
        first[present[repeat]] = False
        return first
    # two ids sharing a digest: on the text itself
    pairs = pd.DataFrame({"id": ids, "year": year})
    return (~pairs.duplicated() | ids.isna()).to_numpy(dtype=bool)


def _pregnancy_codes(records: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each record's position among the values of ``PREGNANCY_BREAKDOWNS``: the DHSC age band
    of its age band ('Not known' where not recorded)."""
    at, age = _distinct(records["mother_age_band"])
    band = age.map({k: v[0] for k, v in PREGNANCY_AGE_BANDS.items()})
    label = band.astype(object).fillna(NOT_KNOWN)
    return {
        "all": np.zeros(len(records), dtype=np.int64),
        "age_band": _positions(label, PREGNANCY_BREAKDOWNS["age_band"])[at],
    }


def _termination_counts(terminations: pd.DataFrame, area_code: str) -> pd.DataFrame:
    rows = terminations[terminations["area_code"] == area_code]
    start = pd.to_datetime(rows["year"].astype("int64").astype(str) + "-01-01")
    out = [pd.DataFrame({"period_start": start, "breakdown_value": ALL, "breakdown": "all",
                         "terminations": rows["terminations"].astype("Int64")})]  # fmt: skip
    bands: dict[str, list[str]] = {}
    for band, columns in PREGNANCY_AGE_BANDS.values():
        bands.setdefault(band, []).extend(columns)
    ages = rows[TERMINATION_AGE_COLUMNS].astype("Int64")
    for band, columns in bands.items():  # five DHSC age bands, not rows
        out.append(
            pd.DataFrame(
                {
                    "period_start": start,
                    "breakdown_value": band,
                    "breakdown": "age_band",
                    # a suppressed part leaves the band missing, never a partial sum
                    "terminations": ages[columns]
                    .sum(axis=1, min_count=len(columns))
                    .where(ages[columns].notna().all(axis=1)),
                }
            )
        )
    all_known = ages.notna().all(axis=1)
    out.append(
        pd.DataFrame(
            {
                "period_start": start,
                "breakdown_value": NOT_KNOWN,
                "breakdown": "age_band",
                "terminations": (rows["terminations"].astype("Int64") - ages.sum(axis=1)).where(
                    all_known
                ),
            }
        )
    )
    table = pd.concat(out, ignore_index=True).assign(period_type="year")
    table["terminations"] = table["terminations"].astype("Int64")
    return table[["period_start", "period_type", "breakdown", "breakdown_value", "terminations"]]


# -- SPC ---------------------------------------------------------------------------------------
def add_spc(
    table: pd.DataFrame, value_col: str, settings: SpcSettings, prefix: str
) -> pd.DataFrame:
    """XmR chart columns (``<prefix>_spc_*``, see ``SPC_COLUMNS``) on the monthly rows for all
    women, from :func:`cov_pipeline.spc.spc_series` with the measure's configured settings
    (improvement direction, target, baseline, rebases); null on every other row."""
    out = table.copy()
    charted = (out["period_type"] == "month") & (out["breakdown"] == "all")
    spc = spc_series(
        out.loc[charted, ["period_start", value_col]],
        value_col,
        "period_start",
        **settings.spc_kwargs(),
    )
    for column in SPC_COLUMNS:
        name = f"{prefix}_{column}"
        values = spc[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            out[name] = pd.Series(pd.NA, index=out.index, dtype="boolean")
        elif pd.api.types.is_integer_dtype(values.dtype):
            out[name] = pd.Series(pd.NA, index=out.index, dtype="Int64")
        elif pd.api.types.is_float_dtype(values.dtype):
            out[name] = np.nan
        else:
            out[name] = pd.Series(None, index=out.index, dtype=object)
        out.loc[charted, name] = values.to_numpy()
    return out


def spc_columns(prefix: str) -> list[str]:
    return [f"{prefix}_{column}" for column in SPC_COLUMNS]


def spc_chart_frame(table: pd.DataFrame, value_col: str, prefix: str) -> pd.DataFrame:
    """The monthly all-women rows with the SPC columns under their plain names, for charts."""
    rows = table[(table["period_type"] == "month") & (table["breakdown"] == "all")]
    return rows[["period_start", value_col, *spc_columns(prefix)]].rename(
        columns={f"{prefix}_{c}": c for c in SPC_COLUMNS}
    )


# -- marts -------------------------------------------------------------------------------------
def _spc_settings(spc_settings: Mapping[str, SpcSettings] | None, measure: str) -> SpcSettings:
    if spc_settings is None:
        from cov_pipeline.spc import load_spc_settings

        spc_settings = load_spc_settings()
    if measure not in spc_settings:
        raise KeyError(f"no SPC settings for measure {measure!r} (config/spc.yaml)")
    return spc_settings[measure]


def late_bookings_with_spc(
    bookings: pd.DataFrame,
    imd: pd.DataFrame,
    definitions: MaternityDefinitions | None = None,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """:func:`late_bookings` with SPC on the monthly late booking % for all women (measure
    ``late_booking_pct``)."""
    return late_booking_spc(late_bookings(bookings, imd, definitions), spc_settings)


def late_booking_spc(
    table: pd.DataFrame, spc_settings: Mapping[str, SpcSettings] | None
) -> pd.DataFrame:
    """The SPC columns of ``marts.late_bookings`` on its monthly late booking %."""
    settings = _spc_settings(spc_settings, "late_booking_pct")
    return add_spc(table, "late_booking_pct", settings, "late_booking")


def build_late_bookings(
    bookings: pd.DataFrame,
    imd: pd.DataFrame,
    definitions: MaternityDefinitions | None = None,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """``marts.late_bookings``: measures and SPC, at full detail (the published tier withholds
    small numbers: :mod:`cov_pipeline.publishing`)."""
    return late_bookings_with_spc(bookings, imd, definitions, spc_settings)


def premature_deliveries_with_spc(
    births: pd.DataFrame,
    imd: pd.DataFrame,
    definitions: MaternityDefinitions | None = None,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """:func:`premature_deliveries` with SPC on the monthly preterm and extremely preterm rates
    for all women (measures ``preterm_rate``, ``extremely_preterm_rate``)."""
    return premature_delivery_spc(premature_deliveries(births, imd, definitions), spc_settings)


def premature_delivery_spc(
    table: pd.DataFrame, spc_settings: Mapping[str, SpcSettings] | None
) -> pd.DataFrame:
    """The SPC columns of ``marts.premature_deliveries`` on its monthly preterm and extremely
    preterm rates."""
    preterm = _spc_settings(spc_settings, "preterm_rate")
    extremely = _spc_settings(spc_settings, "extremely_preterm_rate")
    table = add_spc(table, "preterm_per_1000", preterm, "preterm")
    return add_spc(table, "extremely_preterm_per_1000", extremely, "extremely_preterm")


def build_premature_deliveries(
    births: pd.DataFrame,
    imd: pd.DataFrame,
    definitions: MaternityDefinitions | None = None,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """``marts.premature_deliveries``: measures and SPC, at full detail."""
    return premature_deliveries_with_spc(births, imd, definitions, spc_settings)


def build_pregnancy_outcomes(
    bookings: pd.DataFrame, births: pd.DataFrame, terminations: pd.DataFrame, area_code: str
) -> pd.DataFrame:
    """``marts.pregnancy_outcomes``: :func:`pregnancy_outcomes`, at full detail."""
    return pregnancy_outcomes(bookings, births, terminations, area_code)


def build_preterm_outcomes(
    births: pd.DataFrame, imd: pd.DataFrame, definitions: MaternityDefinitions | None = None
) -> pd.DataFrame:
    """``marts.preterm_outcomes``: :func:`preterm_outcomes`, at full detail."""
    return preterm_outcomes(births, imd, definitions)
