"""SYNTHETIC maternity provider extracts (bookings, births) and DHSC terminations for Coventry.

About 4,500 babies a year are born from 2019 to 2025 with seasonality (more in late summer and
autumn). Each pregnancy gets a mother (LSOA drawn from :func:`synthetic_imd_lookup`, weighted so
about 47% of deliveries are to mothers in national deciles 1-3; ethnic category, age band and
no-recourse-to-public-funds flag depending on deprivation), a gestation at birth (about 8%
preterm, 1% extremely preterm) and a gestation at booking (about 12% at 13+0 weeks or later),
with higher risks of late booking and prematurity in the target groups (most deprived 30%,
ethnic minorities, no recourse to public funds, the youngest mothers). Preterm babies get
neonatal unit admissions and survival to 28 days and 1 year, unknown where the baby is too young
at the extract date. Late bookings rise from May 2025 (the planted change SPC must flag).

Stable series are stable: a chance run of 7 months on one side of the mean turns up in about
half of all 90-month series of independent noise, a false alarm the sample should not teach. So
the draws of prematurity and of late booking are repeated (deterministically, from the source's
own generator) until the XmR rules of :mod:`cov_pipeline.spc` see only common-cause variation on
the monthly preterm and extremely preterm rates and on late bookings before the rise, and flag
every month of the rise. A few bad rows are planted as extra rows (listed in data/raw/README.md),
so the staged rows are exactly the simulated ones.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline.maternity import (
    BIRTH_HEADER,
    BOOKING_HEADER,
    TERMINATIONS_HEADER,
    MaternityDefinitions,
)
from cov_pipeline.sample_data.deprivation import synthetic_imd_lookup
from cov_pipeline.schemas.maternity import AGE_BANDS
from cov_pipeline.spc import load_spc_settings, spc_series

FOLDER = "maternity"
EXTRACT_DATE = pd.Timestamp("2026-01-31")
BIRTHS_FROM, BIRTHS_TO = pd.Timestamp("2019-01-01"), pd.Timestamp("2025-12-31")
# Every booking of a baby born from 2019 falls after this date, so booking months are complete.
BOOKINGS_FROM, BOOKINGS_TO = pd.Timestamp("2018-04-01"), pd.Timestamp("2025-12-31")
# Deliveries are simulated over a wider span so that bookings at both ends are complete.
SIMULATE_FROM, SIMULATE_TO = pd.Timestamp("2018-01-01"), pd.Timestamp("2026-09-30")
BABIES_PER_YEAR = {2018: 4610, 2019: 4580, 2020: 4520, 2021: 4560, 2022: 4490, 2023: 4450,
                   2024: 4470, 2025: 4430, 2026: 4400}  # fmt: skip
SEASON_AMPLITUDE = 0.05  # births peak in late September, dip in the spring
SEASON_PEAK_DAY = 265
TWIN_SHARE = 0.015  # deliveries of twins
NO_BIRTH_SHARE = 0.03  # booked pregnancies with no birth in the extract (miscarriage, moved away)
BOOKED_ELSEWHERE_SHARE = 0.007  # babies whose mother booked with another provider

# Targets (docs/definitions.md) and the planted rise.
LATE_BOOKING_SHARE = 0.116
PRETERM_SHARE = 0.08
EXTREMELY_SHARE_OF_PRETERM = 0.125  # 1% of births
VERY_SHARE_OF_PRETERM = 0.125
DEPRIVED_WEIGHT = 1.33  # LSOAs in deciles 1-3 (40% of LSOAs) then hold 47% of deliveries
RISE_FROM = pd.Timestamp("2025-05-01")  # the last 8 months of the bookings extract
RISE_LOG_ODDS = 0.47  # late bookings from about 11.6% to about 17%
MAX_ATTEMPTS = 1000

ETHNIC_CODES = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S",
                "Z", "99")  # fmt: skip
ETHNIC_SHARES = {  # deliveries by ethnic category: mothers in deciles 1-3, and elsewhere
    True: (42, 1, 11, 1.2, 0.8, 0.5, 0.8, 5, 7, 3, 4, 1.2, 14, 2, 0.5, 4, 1.5, 0.5),
    False: (58, 1, 7, 1, 0.6, 0.8, 0.8, 9, 3, 1, 4, 0.8, 7, 1, 1.5, 2.5, 1.5, 0.5),
}
AGE_SHARES = {  # Under 20 .. 45 or Over
    True: (4.5, 18, 29, 28, 15, 5, 0.5),
    False: (2, 11, 27, 35, 20, 4.5, 0.5),
}
# Extra log-odds of late booking and of preterm birth in the target groups.
LATE_LOG_ODDS = {"deprived": 0.45, "minority": 0.3, "black_african": 0.3, "white_other": 0.25,
                 "nrpf": 0.9, "under_20": 0.6, "age_20_24": 0.2}  # fmt: skip
PRETERM_LOG_ODDS = {"deprived": 0.25, "minority": 0.12, "black": 0.2, "nrpf": 0.35,
                    "under_20": 0.2, "over_40": 0.3, "twins": 2.5}  # fmt: skip
MISSING = {"lsoa": 0.01, "ethnic": 0.005, "age": 0.003, "nrpf": 0.06, "birthweight": 0.005,
           "nnu": 0.005, "lost_to_follow_up": 0.015}  # fmt: skip
# Outcomes by gestation band: extremely, very, moderate to late preterm, term.
STILLBIRTH = np.array([0.15, 0.05, 0.01, 0.0015])
NNU_ADMISSION = np.array([0.95, 0.9, 0.35, 0.05])
NEONATAL_DEATH = np.array([0.22, 0.03, 0.004, 0.0007])
POSTNEONATAL_DEATH = np.array([0.05, 0.01, 0.002, 0.0012])
# Median birthweight (g) by gestation (days).
WEIGHT_AT = (np.array([154, 168, 196, 224, 252, 259, 280, 294]),
             np.array([500, 650, 1100, 1800, 2700, 2950, 3450, 3650]))  # fmt: skip

# DHSC terminations: residents' abortions by year (synthetic, near the published levels) and
# women aged 15-44 for the rate; Isles of Scilly shows DHSC's suppression.
TERMINATION_YEARS = tuple(range(2019, 2025))  # 2025 is not yet published at the extract date
TERMINATION_AREAS = (
    # code, name, type, abortions 2019 (growing as England's), women aged 15-44
    ("E92000001", "England", "Country", 200_600, 10_600_000),
    ("E12000005", "West Midlands", "Region", 21_400, 1_115_000),
    ("E08000026", "Coventry", "Local authority", 1_480, 82_000),
    ("E10000031", "Warwickshire", "Local authority", 1_090, 101_000),
    ("E08000029", "Solihull", "Local authority", 690, 37_500),
    ("E06000053", "Isles of Scilly", "Local authority", 5, 330),
)
TERMINATION_GROWTH = {2019: 1.0, 2020: 1.01, 2021: 1.04, 2022: 1.2, 2023: 1.31, 2024: 1.34}
TERMINATION_AGES = (0.03, 0.07, 0.27, 0.27, 0.2, 0.16)
DHSC_SUPPRESS_BELOW = 10

BENCHMARK_RECORDS_PER_SCALE = 1_000_000  # bookings + births per unit of scale


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _calibrate(offsets: np.ndarray, target: float) -> float:
    """The intercept a for which the mean of expit(a + offsets) is ``target`` (bisection)."""
    low, high = -10.0, 10.0
    for _ in range(60):  # bisection steps, not rows
        mid = (low + high) / 2
        if _expit(mid + offsets).mean() < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _draw(rng: np.random.Generator, shares: np.ndarray) -> np.ndarray:
    """One category per row from per-row probability rows (inverse CDF, vectorised)."""
    cumulative = np.cumsum(shares / shares.sum(axis=1, keepdims=True), axis=1)
    return (rng.random(len(shares))[:, None] > cumulative).sum(axis=1)


def simulate_deliveries(rng: np.random.Generator, volume: float = 1.0) -> pd.DataFrame:
    """Deliveries by day (Poisson, seasonal) with the mother of each: LSOA, decile, ethnic
    category, age band, NRPF flag, and whether it was a twin delivery."""
    days = pd.date_range(SIMULATE_FROM, SIMULATE_TO, freq="D")
    per_year = pd.Series(BABIES_PER_YEAR).reindex(days.year).to_numpy(dtype=float)
    season = 1 + SEASON_AMPLITUDE * np.cos(2 * np.pi * (days.dayofyear - SEASON_PEAK_DAY) / 365.25)
    expected = per_year / 365.25 / (1 + TWIN_SHARE) / (1 - NO_BIRTH_SHARE) * season * volume
    births_per_day = rng.poisson(expected)
    date = np.repeat(days.to_numpy(), births_per_day)
    n = len(date)

    lookup = synthetic_imd_lookup(rng)
    deprived_lsoa = lookup["imd_decile"].to_numpy() <= 3
    weight = np.where(deprived_lsoa, DEPRIVED_WEIGHT, 1.0) * rng.uniform(0.7, 1.3, len(lookup))
    pick = rng.choice(len(lookup), size=n, p=weight / weight.sum())
    deprived = deprived_lsoa[pick]
    lsoa = lookup["lsoa_code"].to_numpy(dtype=object)[pick]
    lsoa = np.where(rng.random(n) < MISSING["lsoa"], "", lsoa)

    ethnic_shares = np.array([ETHNIC_SHARES[True], ETHNIC_SHARES[False]], dtype=float)
    ethnic_index = _draw(rng, ethnic_shares[np.where(deprived, 0, 1)])
    ethnic = np.array(ETHNIC_CODES, dtype=object)[ethnic_index]
    ethnic = np.where(rng.random(n) < MISSING["ethnic"], "", ethnic)
    age_shares = np.array([AGE_SHARES[True], AGE_SHARES[False]], dtype=float)
    age_index = _draw(rng, age_shares[np.where(deprived, 0, 1)])
    age = np.array(AGE_BANDS, dtype=object)[age_index]
    age = np.where(rng.random(n) < MISSING["age"], "", age)
    minority = ~np.isin(ethnic, ["A", "Z", "99", ""])
    nrpf = rng.random(n) < np.where(minority, 0.035, 0.004)
    nrpf_text = np.where(nrpf, "Y", "N").astype(object)
    nrpf_text = np.where(rng.random(n) < MISSING["nrpf"], "", nrpf_text)
    return pd.DataFrame(
        {
            "birth_date": date,
            "lsoa_code": lsoa,
            "is_deprived": deprived & (lsoa != ""),
            "ethnic_category": ethnic,
            "is_minority": minority,
            "mother_age_band": age,
            "nrpf_flag": nrpf_text,
            "is_nrpf": nrpf,
            "is_twins": rng.random(n) < TWIN_SHARE,
            "has_birth": rng.random(n) >= NO_BIRTH_SHARE,
            "booked_elsewhere": rng.random(n) < BOOKED_ELSEWHERE_SHARE,
        }
    )


def _preterm_offsets(d: pd.DataFrame) -> np.ndarray:
    o = PRETERM_LOG_ODDS
    black = d["ethnic_category"].isin(["M", "N", "P"]).to_numpy()
    return (
        o["deprived"] * d["is_deprived"].to_numpy()
        + o["minority"] * d["is_minority"].to_numpy()
        + o["black"] * black
        + o["nrpf"] * d["is_nrpf"].to_numpy()
        + o["under_20"] * (d["mother_age_band"] == "Under 20").to_numpy()
        + o["over_40"] * d["mother_age_band"].isin(["40 to 44", "45 or Over"]).to_numpy()
        + o["twins"] * d["is_twins"].to_numpy()
    )


def _late_offsets(d: pd.DataFrame) -> np.ndarray:
    o = LATE_LOG_ODDS
    return (
        o["deprived"] * d["is_deprived"].to_numpy()
        + o["minority"] * d["is_minority"].to_numpy()
        + o["black_african"] * (d["ethnic_category"] == "N").to_numpy()
        + o["white_other"] * (d["ethnic_category"] == "C").to_numpy()
        + o["nrpf"] * d["is_nrpf"].to_numpy()
        + o["under_20"] * (d["mother_age_band"] == "Under 20").to_numpy()
        + o["age_20_24"] * (d["mother_age_band"] == "20 to 24").to_numpy()
    )


def draw_gestation_at_birth(rng: np.random.Generator, d: pd.DataFrame) -> np.ndarray:
    """Days of gestation at birth: band by each mother's risk, then a day within the band."""
    n = len(d)
    defs = MaternityDefinitions()
    babies = np.where(d["is_twins"], 2, 1)
    offsets = _preterm_offsets(d)
    # calibrate per baby: twins weigh twice
    intercept = _calibrate(np.repeat(offsets, babies), PRETERM_SHARE)
    preterm = rng.random(n) < _expit(intercept + offsets)
    u = rng.random(n)
    extremely = preterm & (u < EXTREMELY_SHARE_OF_PRETERM)
    very = preterm & ~extremely & (u < EXTREMELY_SHARE_OF_PRETERM + VERY_SHARE_OF_PRETERM)
    term = np.clip(np.round(rng.normal(279, 8.5, n)), defs.preterm_before_days, 296)
    late_preterm = defs.preterm_before_days - 1 - np.floor(rng.exponential(11, n))
    late_preterm = np.maximum(late_preterm, defs.moderate_preterm_from_days)
    very_days = rng.integers(defs.very_preterm_from_days, defs.moderate_preterm_from_days, n)
    extreme_days = np.maximum(
        defs.very_preterm_from_days - 1 - np.floor(rng.exponential(12, n)), 154
    )
    return np.select(
        [extremely, very, preterm], [extreme_days, very_days, late_preterm], default=term
    ).astype(np.int64)


def draw_gestation_at_booking(
    rng: np.random.Generator, d: pd.DataFrame, lmp: pd.Series, birth_gestation: np.ndarray
) -> np.ndarray:
    """Days of gestation at booking: late (13+0 or later) by each mother's risk, more often for
    bookings that would fall from RISE_FROM on; never later than 3 days before the birth."""
    n = len(d)
    defs = MaternityDefinitions()
    on_time = np.where(
        rng.random(n) < 0.66, rng.integers(49, defs.booked_by_days + 1, n),
        rng.integers(defs.booked_by_days + 1, defs.late_booking_from_days, n),
    )  # fmt: skip
    late_days = np.where(
        rng.random(n) < 0.7,
        rng.integers(defs.late_booking_from_days, defs.very_late_booking_from_days, n),
        rng.integers(defs.very_late_booking_from_days, 251, n),
    )
    late_days = np.minimum(late_days, birth_gestation - 3)
    offsets = _late_offsets(d)
    intercept = _calibrate(offsets, LATE_BOOKING_SHARE)
    rising = (lmp + pd.to_timedelta(late_days, unit="D")).to_numpy() >= RISE_FROM.to_datetime64()
    late = rng.random(n) < _expit(intercept + offsets + RISE_LOG_ODDS * rising)
    late &= late_days >= defs.late_booking_from_days
    return np.where(late, late_days, np.minimum(on_time, birth_gestation - 3)).astype(np.int64)


def _babies(d: pd.DataFrame) -> pd.DataFrame:
    """One row per baby: twin deliveries give two rows."""
    return d.loc[d.index.repeat(np.where(d["is_twins"], 2, 1))].reset_index(drop=True)


def _monthly(dates: pd.Series, flag: np.ndarray, first: pd.Timestamp, last: pd.Timestamp):
    month = dates.dt.to_period("M").dt.start_time
    keep = (dates >= first) & (dates <= last)
    frame = pd.DataFrame({"period": month[keep], "flag": flag[keep.to_numpy()]})
    return frame.groupby("period")["flag"].mean().reset_index()


def _flags(frame: pd.DataFrame, measure: str) -> pd.Series:
    settings = load_spc_settings()[measure]
    charted = spc_series(frame, "flag", "period", **settings.spc_kwargs())
    return charted["spc_rule"].notna()


def _prematurity_is_stable(babies: pd.DataFrame, gestation: np.ndarray) -> bool:
    defs = MaternityDefinitions()
    dates = babies["birth_date"]
    preterm = _monthly(dates, gestation < defs.preterm_before_days, BIRTHS_FROM, BIRTHS_TO)
    extremely = _monthly(dates, gestation < defs.very_preterm_from_days, BIRTHS_FROM, BIRTHS_TO)
    return (
        not _flags(preterm, "preterm_rate").any()
        and not _flags(extremely, "extremely_preterm_rate").any()
    )


def _rise_is_flagged_alone(booking_date: pd.Series, gestation: np.ndarray) -> bool:
    late = gestation >= MaternityDefinitions().late_booking_from_days
    monthly = _monthly(booking_date, late, BOOKINGS_FROM, BOOKINGS_TO)
    flagged = _flags(monthly, "late_booking_pct").to_numpy()
    rise = (monthly["period"] >= RISE_FROM).to_numpy()
    return bool(flagged[rise].all() and not flagged[~rise].any())


def simulate_pregnancies(
    rng: np.random.Generator, volume: float = 1.0, stable: bool = True
) -> pd.DataFrame:
    """Deliveries with birth and booking gestations and dates. With ``stable``, the prematurity
    and late booking draws are repeated until SPC sees what the sample is meant to show."""
    d = simulate_deliveries(rng, volume)
    for _attempt in range(MAX_ATTEMPTS):
        gestation = draw_gestation_at_birth(rng, d)
        in_extract = (d["birth_date"] >= BIRTHS_FROM) & (d["birth_date"] <= BIRTHS_TO)
        born = in_extract & d["has_birth"]
        babies = _babies(d[born].assign(_g=gestation[born.to_numpy()]))
        if not stable or _prematurity_is_stable(babies, babies["_g"].to_numpy()):
            break
    else:
        raise RuntimeError(f"no stable prematurity series in {MAX_ATTEMPTS} draws")
    d["gestation_at_birth_days"] = gestation
    lmp = d["birth_date"] - pd.to_timedelta(gestation, unit="D")
    for _attempt in range(MAX_ATTEMPTS):
        booking_gestation = draw_gestation_at_booking(rng, d, lmp, gestation)
        booking_date = lmp + pd.to_timedelta(booking_gestation, unit="D")
        booked = ~d["booked_elsewhere"].to_numpy()
        if not stable or _rise_is_flagged_alone(booking_date[booked], booking_gestation[booked]):
            break
    else:
        raise RuntimeError(f"no draw of late bookings shows the rise alone in {MAX_ATTEMPTS}")

    d["gestation_at_booking_days"] = booking_gestation
    d["booking_date"] = booking_date
    return d


def pseudo_ids(rng: np.random.Generator, prefix: str, n: int) -> np.ndarray:
    """``n`` distinct pseudo ids: the prefix and nine upper-case hex digits."""
    numbers = rng.choice(16**9, size=n, replace=False)
    return np.char.add(prefix, np.char.upper(np.char.mod("%09x", numbers))).astype(object)


def build_extracts(
    rng: np.random.Generator, d: pd.DataFrame, prefix: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bookings and births extracts (text columns in the raw layouts) of the pregnancies."""
    d = d.copy()
    d["booking_pseudo_id"] = pseudo_ids(rng, prefix + "B", len(d))
    booked = ~d["booked_elsewhere"]
    in_window = (d["booking_date"] >= BOOKINGS_FROM) & (d["booking_date"] <= BOOKINGS_TO)
    bookings = d[booked & in_window].sort_values(["booking_date", "booking_pseudo_id"])
    bookings = pd.DataFrame(
        {
            "booking_pseudo_id": bookings["booking_pseudo_id"],
            "booking_date": bookings["booking_date"].dt.strftime("%Y-%m-%d"),
            "gestation_at_booking_days": bookings["gestation_at_booking_days"].astype(str),
            "mother_age_band": bookings["mother_age_band"],
            "ethnic_category": bookings["ethnic_category"],
            "lsoa_code": bookings["lsoa_code"],
            "nrpf_flag": bookings["nrpf_flag"],
        }
    )[list(BOOKING_HEADER)]

    born = d["has_birth"] & (d["birth_date"] >= BIRTHS_FROM) & (d["birth_date"] <= BIRTHS_TO)
    babies = _babies(d[born])
    babies["booking_pseudo_id"] = babies["booking_pseudo_id"].where(~babies["booked_elsewhere"], "")
    births = babies.assign(birth_pseudo_id=pseudo_ids(rng, prefix + "N", len(babies)))
    births = _birth_outcomes(rng, births)
    births = births.sort_values(["birth_date", "birth_pseudo_id"])
    births = births.assign(
        birth_date=births["birth_date"].dt.strftime("%Y-%m-%d"),
        gestation_at_birth_days=births["gestation_at_birth_days"].astype(str),
    )[list(BIRTH_HEADER)]
    return bookings.reset_index(drop=True), births.reset_index(drop=True)


def _birth_outcomes(rng: np.random.Generator, b: pd.DataFrame) -> pd.DataFrame:
    n = len(b)
    defs = MaternityDefinitions()
    g = b["gestation_at_birth_days"].to_numpy()
    band = np.select(
        [g < defs.very_preterm_from_days, g < defs.moderate_preterm_from_days,
         g < defs.preterm_before_days],
        [0, 1, 2], default=3,
    )  # fmt: skip
    still = rng.random(n) < STILLBIRTH[band]
    weight = np.interp(g, *WEIGHT_AT) * np.exp(rng.normal(0, 0.11, n))
    weight *= np.where(b["is_deprived"], 0.97, 1.0) * np.where(b["is_twins"], 0.85, 1.0)
    weight *= np.where(still, 0.9, 1.0)
    weight_text = np.clip(np.round(weight), 300, 5800).astype(np.int64).astype(str).astype(object)
    weight_text = np.where(rng.random(n) < MISSING["birthweight"], "", weight_text)

    nnu = np.where(rng.random(n) < NNU_ADMISSION[band], "Y", "N").astype(object)
    nnu = np.where(rng.random(n) < MISSING["nnu"], "", nnu)
    neonatal_risk = np.where(g < 168, 0.5, NEONATAL_DEATH[band])
    died_early = rng.random(n) < neonatal_risk
    died_later = ~died_early & (rng.random(n) < POSTNEONATAL_DEATH[band])
    birth_date = b["birth_date"]
    lost = rng.random(n) < MISSING["lost_to_follow_up"]
    known_28 = ((birth_date + pd.Timedelta(days=28)) <= EXTRACT_DATE).to_numpy() & ~lost
    known_1y = ((birth_date + pd.Timedelta(days=365)) <= EXTRACT_DATE).to_numpy() & ~lost
    # follow-up records survival once the baby would have reached the age, so a whole birth
    # cohort is known or unknown together (an early death is not recorded ahead of the others)
    s28 = np.where(known_28, np.where(died_early, "N", "Y"), "").astype(object)
    s1y = np.where(known_1y, np.where(died_early | died_later, "N", "Y"), "").astype(object)
    blank = np.full(n, "", dtype=object)
    return b.assign(
        birth_outcome=np.where(still, "stillbirth", "live"),
        birthweight_grams=weight_text,
        neonatal_unit_admission=np.where(still, blank, nnu),
        survived_28_days=np.where(still, blank, s28),
        survived_1_year=np.where(still, blank, s1y),
    )


def simulate_terminations(rng: np.random.Generator) -> pd.DataFrame:
    """DHSC's residents table: abortions by area, year and age group, and the rate per 1,000
    women aged 15-44; counts under 10 written as '*', as DHSC suppresses them."""
    rows = []
    for year in TERMINATION_YEARS:  # six years x six areas: a small published table
        for code, name, kind, base, women in TERMINATION_AREAS:
            total = int(rng.poisson(base * TERMINATION_GROWTH[year]))
            ages = rng.multinomial(total, TERMINATION_AGES)
            rate = total / women * 1000
            cells = [total, *ages]
            text = [
                "*" if 0 < c < DHSC_SUPPRESS_BELOW else ("-" if c == 0 else f"{c:,}") for c in cells
            ]
            rate_text = "*" if total < DHSC_SUPPRESS_BELOW else f"{rate:.1f}"
            rows.append([str(year), code, name, kind, *text, rate_text])
    return pd.DataFrame(rows, columns=list(TERMINATIONS_HEADER))


def plant_faults(
    rng: np.random.Generator, bookings: pd.DataFrame, births: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Extra rows, each with one fault the pipeline must quarantine (data/raw/README.md)."""

    def booking_like(year: int, **changes) -> pd.DataFrame:
        pool = bookings[bookings["booking_date"].str.startswith(str(year))]
        row = pool.iloc[[int(rng.integers(len(pool)))]].copy()
        row["booking_pseudo_id"] = pseudo_ids(rng, "BQ", 1)
        return row.assign(**changes)

    duplicate = bookings[bookings["booking_date"].str.startswith("2020")].iloc[[500]]
    bad_bookings = pd.concat(
        [
            booking_like(2020, gestation_at_booking_days="900"),  # gestation out of range
            booking_like(2021, ethnic_category="O"),  # letter O: not an ethnic category
            booking_like(2022, lsoa_code="E01099999"),  # well-formed, not in the lookup
            duplicate,  # the same booking delivered twice
            booking_like(2025, booking_date="2052-03-14"),  # 2025 with digits swapped: future
        ]
    )
    linked = bookings[bookings["booking_date"].str.startswith("2022-06")].iloc[[3]]
    birth = births[births["birth_date"].str.startswith("2022")].iloc[[10]].copy()
    before = birth.assign(
        birth_pseudo_id=pseudo_ids(rng, "NQ", 1),
        booking_pseudo_id=linked["booking_pseudo_id"].to_numpy(),
        birth_date="2022-01-15",  # before the booking of June 2022
    )
    impossible = (
        births[births["birth_date"].str.startswith("2023")]
        .iloc[[20]]
        .assign(birth_pseudo_id=pseudo_ids(rng, "NQ", 1), gestation_at_birth_days="412")
    )
    return (
        pd.concat([bookings, bad_bookings], ignore_index=True),
        pd.concat([births, before, impossible], ignore_index=True),
    )


def _year_of(frame: pd.DataFrame, column: str) -> pd.Series:
    """The file a row goes in: its year, except planted rows go to the file they were based on."""
    return frame[column].str[:4].where(~frame[column].str.startswith("2052"), "2025")


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return path


def write_by_year(frame: pd.DataFrame, column: str, folder: Path, stem: str) -> list[Path]:
    year = _year_of(frame, column)
    return [write_csv(frame[year == y], folder / f"{stem}_{y}.csv") for y in sorted(year.unique())]


def _records_per_volume() -> float:
    """Bookings plus births the extracts hold at volume 1 (the sample's size, about 66,700)."""
    babies = sum(BABIES_PER_YEAR.values()) / len(BABIES_PER_YEAR)
    born = (BIRTHS_TO - BIRTHS_FROM).days / 365.25
    booked = (BOOKINGS_TO - BOOKINGS_FROM).days / 365.25
    pregnancies = babies / (1 + TWIN_SHARE) / (1 - NO_BIRTH_SHARE)
    return babies * born + pregnancies * (1 - BOOKED_ELSEWHERE_SHARE) * booked


def generate_maternity(
    out_dir: Path, rng: np.random.Generator, scale: float = 1.0, profile: str = "sample"
) -> list[Path]:
    """Write ``maternity/bookings_<yyyy>.csv`` (2018-2025), ``births_<yyyy>.csv`` (2019-2025)
    and ``terminations_<yyyy>.csv`` (2019-2024).

    The benchmark profile adds ``bookings_benchmark.csv`` and ``births_benchmark.csv``: about
    ``scale`` million records (ids ``XB...``/``XN...``), drawn after the sample (so the sample
    files are the same in both profiles), no faults, no SPC conditioning.
    """
    if profile not in ("sample", "benchmark"):
        raise ValueError(f"unknown profile {profile!r}: sample or benchmark")
    folder = Path(out_dir) / FOLDER
    pregnancies = simulate_pregnancies(rng)
    bookings, births = build_extracts(rng, pregnancies)
    bookings, births = plant_faults(rng, bookings, births)
    paths = [
        *write_by_year(bookings, "booking_date", folder, "bookings"),
        *write_by_year(births, "birth_date", folder, "births"),
    ]
    terminations = simulate_terminations(rng)
    for year in TERMINATION_YEARS:
        paths.append(
            write_csv(terminations[terminations["Year"] == str(year)],
                      folder / f"terminations_{year}.csv")
        )  # fmt: skip
    if profile == "benchmark":
        benchmark_rng = np.random.default_rng(rng.integers(2**63))
        volume = max(scale, 0.0) * BENCHMARK_RECORDS_PER_SCALE / _records_per_volume()
        more = simulate_pregnancies(benchmark_rng, volume=volume, stable=False)
        more_bookings, more_births = build_extracts(benchmark_rng, more, prefix="X")
        paths.append(write_csv(more_bookings, folder / "bookings_benchmark.csv"))
        paths.append(write_csv(more_births, folder / "births_benchmark.csv"))
    return paths
