"""SYNTHETIC referrals to the young people's risky-behaviour service, as two case-system extracts.

The service opened in January 2018. Referrals arrive month by month (Poisson), rising 14% a year
with the school year's seasonality, plus a planted rise from September 2025 (a schools programme on
exploitation and online safety adds about a quarter more referrals). First contacts are made at a
fixed capacity, first come first served, so a waiting list appears and grows once demand outruns
it. Some referrals close before a first contact; the rest are discharged after a spell of work.
LSOAs come from :func:`synthetic_imd_lookup`. Two extracts, as the case system delivered them:
one taken on 2024-04-01, one on 2026-11-01 that repeats a year of referrals (and every referral
still open in April 2024) with their first contacts, discharges and a few corrections filled in,
plus a few bad rows planted on purpose (listed in ``data/raw/README.md``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline.referrals import RAW_COLUMNS
from cov_pipeline.sample_data.deprivation import synthetic_imd_lookup

FOLDER = "referrals"
SERVICE_OPENED = pd.Timestamp("2018-01-01")
LAST_REFERRAL_DAY = pd.Timestamp("2026-10-31")
FIRST_EXTRACT = pd.Timestamp("2024-04-01")
SECOND_EXTRACT = pd.Timestamp("2026-11-01")
# The second extract repeats every referral received from this date (and any still open at the
# first extract), so a year of referrals is in both.
SECOND_EXTRACT_FROM = pd.Timestamp("2023-04-01")
# The extract's columns: the layout the pipeline reads (docs/definitions.md, "Sources").
HEADER = RAW_COLUMNS

# Demand: referrals a month when the service opened, growth a year, and the planted rise.
BASE_REFERRALS_PER_MONTH = 20.0
ANNUAL_GROWTH = 1.14
PLANTED_RISE_FROM = pd.Timestamp("2025-09-01")
PLANTED_RISE = 0.25
# School-year seasonality, January to December (quiet in August, busy in the autumn term).
SEASON = np.array([1.05, 1.0, 1.1, 0.9, 1.05, 1.0, 0.85, 0.6, 1.05, 1.15, 1.15, 0.85])
SEASON = SEASON / SEASON.mean()
# First contacts the team can make per day, fixed since it opened (about 46 a month).
CAPACITY_PER_DAY = 1.5
CLOSED_BEFORE_CONTACT = 0.07
# The benchmark profile writes about scale × this many referrals.
BENCHMARK_REFERRALS_PER_SCALE = 200_000
BENCHMARK_FILE = "referrals_2026-11-01_benchmark.csv"

NEEDS = ("SM", "RSH", "HH", "EXP", "YJ")
NEED_SHARE = np.array([0.26, 0.29, 0.13, 0.17, 0.15])
SOURCES = ("EDU", "CSC", "EH", "YJS", "POL", "GP", "HLT", "VCS", "SELF", "OTH")
# Who refers, by presenting need (rows: NEEDS; columns: SOURCES).
SOURCE_BY_NEED = np.array(
    [
        [0.24, 0.08, 0.08, 0.12, 0.08, 0.10, 0.10, 0.06, 0.10, 0.04],
        [0.30, 0.08, 0.08, 0.02, 0.02, 0.12, 0.20, 0.06, 0.10, 0.02],
        [0.22, 0.30, 0.22, 0.00, 0.04, 0.06, 0.06, 0.06, 0.02, 0.02],
        [0.14, 0.34, 0.12, 0.08, 0.22, 0.01, 0.03, 0.04, 0.01, 0.01],
        [0.02, 0.06, 0.02, 0.72, 0.14, 0.00, 0.01, 0.02, 0.00, 0.01],
    ]
)
# The planted rise: schools refer young people for exploitation and online safety.
RISE_NEEDS = np.array([0.0, 0.45, 0.0, 0.55, 0.0])
RISE_SOURCES = np.array([0.70, 0.08, 0.08, 0.0, 0.06, 0.02, 0.02, 0.02, 0.02, 0.0])
AGE_MEAN_BY_NEED = np.array([16.5, 15.5, 13.5, 15.0, 16.0])
AGE_SD = 2.2
AGES = np.arange(10, 25)
FEMALE_BY_NEED = np.array([0.42, 0.66, 0.52, 0.58, 0.18])
ETHNIC_CODES = tuple("ABCDEFGHJKLMNPRSZ")
ETHNIC_SHARE = np.array(
    [0.56, 0.005, 0.075, 0.03, 0.01, 0.01, 0.02, 0.06, 0.035, 0.012, 0.02, 0.01, 0.07, 0.008,
     0.004, 0.02, 0.036]
)  # fmt: skip
OUT_OF_AREA_FIRST_LSOA = 31_001  # LSOAs outside the lookup: young people living over the border


def _monthly_dates(
    rng: np.random.Generator, rate: np.ndarray, months: pd.DatetimeIndex
) -> np.ndarray:
    """Poisson counts per month, each referral on a uniformly drawn day of its month."""
    counts = rng.poisson(rate)
    starts = np.repeat(months.to_numpy(), counts)
    days = np.repeat(months.days_in_month.to_numpy(), counts)
    offsets = rng.integers(0, days).astype("timedelta64[D]")
    return np.sort(starts + offsets)


def _draw(rng: np.random.Generator, shares: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(len(shares), size=size, p=shares / shares.sum())


def _draw_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per element, from the row of ``table`` it names (inverse CDF, vectorised)."""
    cumulative = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(rows))[:, None]
    return np.minimum((u > cumulative[rows]).sum(axis=1), table.shape[1] - 1)


def expected_rates(volume: float = 1.0) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Months since the opening, and the expected usual and planted-rise referrals in each."""
    months = pd.date_range(SERVICE_OPENED, LAST_REFERRAL_DAY, freq="MS")
    years = ((months - SERVICE_OPENED).days.to_numpy() + 15) / 365.25
    base = volume * BASE_REFERRALS_PER_MONTH * ANNUAL_GROWTH**years * SEASON[months.month - 1]
    return months, base, base * PLANTED_RISE * (months >= PLANTED_RISE_FROM)


def simulate_referrals(rng: np.random.Generator, volume: float = 1.0) -> pd.DataFrame:
    """Every referral from the service's opening to the last day, with its full history.

    ``volume`` multiplies demand and capacity alike (the benchmark profile), so the waiting list
    keeps its shape. Dates are true dates; an extract shows those before its own date.
    """
    months, base, extra = expected_rates(volume)
    usual = _monthly_dates(rng, base, months)
    rise = _monthly_dates(rng, extra, months)
    referred = np.concatenate([usual, rise])
    planted = np.concatenate([np.zeros(len(usual), bool), np.ones(len(rise), bool)])
    order = np.argsort(referred, kind="stable")
    referred, planted = referred[order], planted[order]
    n = len(referred)

    need = np.where(planted, _draw(rng, RISE_NEEDS, n), _draw(rng, NEED_SHARE, n))
    source_table = np.vstack([SOURCE_BY_NEED, RISE_SOURCES])
    source = _draw_rows(rng, source_table, np.where(planted, len(NEEDS), need))
    age_weights = np.exp(-0.5 * ((AGES[None, :] - AGE_MEAN_BY_NEED[:, None]) / AGE_SD) ** 2)
    age = AGES[_draw_rows(rng, age_weights, need)]
    u = rng.random(n)
    sex = np.where(rng.random(n) < FEMALE_BY_NEED[need], "2", "1").astype(object)
    sex[u < 0.021] = "X"
    sex[u < 0.009] = "9"
    sex[u < 0.005] = ""
    ethnic = np.array(ETHNIC_CODES, dtype=object)[_draw(rng, ETHNIC_SHARE, n)]
    ethnic[rng.random(n) < 0.01] = ""

    lookup = synthetic_imd_lookup(rng)
    weights = (11 - lookup["imd_decile"].to_numpy()) ** 1.3
    lsoa = lookup["lsoa_code"].to_numpy(dtype=object)[_draw(rng, weights, n)]
    where = rng.random(n)
    outside = [f"E01{OUT_OF_AREA_FIRST_LSOA + i:06d}" for i in range(200)]
    lsoa[where < 0.03] = np.array(outside, dtype=object)[rng.integers(0, 200, n)][where < 0.03]
    lsoa[where < 0.02] = ""

    # First come, first served at a fixed capacity c a day: the k-th young person ready to be
    # seen gets the slot T_k = max(ready_k, T_{k-1} + 1/c) = k/c + max_{j<=k}(ready_j - j/c).
    day = (referred - SERVICE_OPENED.to_datetime64()).astype("timedelta64[D]").astype(float)
    closes_early = rng.random(n) < CLOSED_BEFORE_CONTACT
    ready = day + 3 + rng.gamma(2.0, 3.0, n)
    queue = np.flatnonzero(~closes_early)
    queue = queue[np.argsort(ready[queue], kind="stable")]
    capacity = CAPACITY_PER_DAY * volume
    k = np.arange(len(queue))
    slot = k / capacity + np.maximum.accumulate(ready[queue] - k / capacity)
    contact = np.full(n, np.nan)
    contact[queue] = np.floor(slot)
    discharge = np.where(
        closes_early,
        day + 14 + np.floor(rng.gamma(2.0, 20.0, n)),
        contact + 21 + np.floor(rng.gamma(2.0, 50.0, n)),
    )

    def as_date(days: np.ndarray) -> np.ndarray:
        whole = np.where(np.isnan(days), 0, days).astype("timedelta64[D]")
        dates = SERVICE_OPENED.to_datetime64() + whole
        return np.where(np.isnan(days), np.datetime64("NaT"), dates).astype("datetime64[ns]")

    return pd.DataFrame(
        {
            "referral_date": referred.astype("datetime64[ns]"),
            "age": age.astype(np.int64),
            "sex": sex,
            "ethnic_category": ethnic,
            "lsoa_code": lsoa,
            "referral_source": np.array(SOURCES, dtype=object)[source],
            "presenting_need": np.array(NEEDS, dtype=object)[need],
            "first_contact_date": as_date(contact),
            "discharge_date": as_date(discharge),
        }
    )


def as_extract(referrals: pd.DataFrame, ids: pd.Series, extract_date: pd.Timestamp) -> pd.DataFrame:
    """The referrals as an extract taken on ``extract_date`` shows them: every field as text,
    and a first contact or discharge only if it happened before that day."""
    out = pd.DataFrame({"referral_id": ids.to_numpy()}, index=referrals.index)
    out["referral_date"] = referrals["referral_date"].dt.strftime("%Y-%m-%d")
    out["age"] = referrals["age"].astype(str)
    for column in ("sex", "ethnic_category", "lsoa_code", "referral_source", "presenting_need"):
        out[column] = referrals[column]
    for column in ("first_contact_date", "discharge_date"):
        happened = referrals[column] < extract_date
        out[column] = referrals[column].dt.strftime("%Y-%m-%d").where(happened, "")
    return out[HEADER]


def _correct_some(rng: np.random.Generator, extract: pd.DataFrame, rows: np.ndarray) -> None:
    """Corrections a later extract carries: a need recoded, a new address, ethnicity recorded."""
    kind = rng.integers(0, 3, len(rows))
    labels = extract.index[rows]
    recode = labels[kind == 0]
    current = extract.loc[recode, "presenting_need"].to_numpy()
    shift = rng.integers(1, len(NEEDS), len(recode))
    position = (np.searchsorted(np.array(sorted(NEEDS)), current) + shift) % len(NEEDS)
    extract.loc[recode, "presenting_need"] = np.array(sorted(NEEDS), dtype=object)[position]
    moved = labels[kind == 1]
    lookup = synthetic_imd_lookup(rng)["lsoa_code"].to_numpy(dtype=object)
    extract.loc[moved, "lsoa_code"] = lookup[rng.integers(0, len(lookup), len(moved))]
    recorded = labels[kind == 2]
    extract.loc[recorded, "ethnic_category"] = np.array(ETHNIC_CODES[:16], dtype=object)[
        rng.integers(0, 16, len(recorded))
    ]


def _plant_faults(
    rng: np.random.Generator, first: pd.DataFrame, second: pd.DataFrame, overlap: pd.Index
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bad rows a run should show in quarantine, one of each kind (README lists them)."""
    first_only = first.index.difference(overlap)
    second_only = second.index.difference(overlap)
    taken: set = set()

    def pick(candidates: pd.Index) -> object:
        free = [c for c in candidates if c not in taken]  # a handful of picks from a fixed sample
        label = free[int(rng.integers(0, len(free)))]
        taken.add(label)
        return label

    seen = second["first_contact_date"] != ""
    discharged = second["discharge_date"] != ""
    waited = pd.to_datetime(second["first_contact_date"].where(seen)) - pd.to_datetime(
        second["referral_date"]
    )
    # first contact before the referral
    label = pick(second_only[seen[second_only].to_numpy()])
    second.loc[label, "first_contact_date"] = (
        pd.Timestamp(second.loc[label, "referral_date"]) - pd.Timedelta(days=9)
    ).strftime("%Y-%m-%d")
    # discharge before the first contact (the day before it, after the referral)
    eligible = second_only[(seen & discharged & (waited >= pd.Timedelta(days=3)))[second_only]]
    label = pick(eligible)
    second.loc[label, "discharge_date"] = (
        pd.Timestamp(second.loc[label, "first_contact_date"]) - pd.Timedelta(days=1)
    ).strftime("%Y-%m-%d")
    # a date in the future: a first contact keyed as December for someone still waiting
    label = pick(second_only[(~seen & ~discharged)[second_only].to_numpy()])
    second.loc[label, "first_contact_date"] = "2026-12-03"
    # ages outside 10-24
    first.loc[pick(first_only), "age"] = "9"
    second.loc[pick(second_only), "age"] = "27"
    # unknown codes
    second.loc[pick(second_only), "presenting_need"] = "GAM"
    first.loc[pick(first_only), "referral_source"] = "CAMHS"
    # a date that is not a date
    label = pick(second_only[(~seen)[second_only].to_numpy()])
    second.loc[label, "referral_date"] = "2025-02-30"
    # a referral exported twice in the first extract, identically
    copy = first.loc[[pick(first_only)]]
    # a referral exported twice in the second extract with different needs; it is also in the
    # first extract, whose version the rule then holds back too
    label = pick(overlap)
    twin = second.loc[[label]].copy()
    twin["presenting_need"] = "HH" if second.loc[label, "presenting_need"] != "HH" else "SM"
    return pd.concat([first, copy]), pd.concat([second, twin])


def write_extract(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return path


def referral_ids(prefix: str, n: int, width: int) -> pd.Series:
    return pd.Series(np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)))


def generate_referrals(
    out_dir: Path, rng: np.random.Generator, scale: float = 1.0, profile: str = "sample"
) -> list[Path]:
    """Write ``referrals/referrals_2024-04-01.csv`` and ``referrals_2026-11-01.csv``.

    The benchmark profile adds ``referrals_2026-11-01_benchmark.csv``: about
    ``scale`` × 200,000 more referrals (ids ``YB...``), as at the second extract, no faults.
    """
    if profile not in ("sample", "benchmark"):
        raise ValueError(f"unknown profile {profile!r}: sample or benchmark")
    folder = Path(out_dir) / FOLDER
    referrals = simulate_referrals(rng)
    ids = referral_ids("YP", len(referrals), 6)
    ids.index = referrals.index
    in_first = referrals["referral_date"] < FIRST_EXTRACT
    open_at_first = ~(referrals["discharge_date"] < FIRST_EXTRACT)
    in_second = (referrals["referral_date"] >= SECOND_EXTRACT_FROM) | (in_first & open_at_first)
    first = as_extract(referrals[in_first], ids[in_first], FIRST_EXTRACT)
    second = as_extract(referrals[in_second], ids[in_second], SECOND_EXTRACT)
    overlap = first.index.intersection(second.index)
    corrected = rng.choice(len(overlap), size=max(1, len(overlap) // 50), replace=False)
    _correct_some(rng, second, second.index.get_indexer(overlap[np.sort(corrected)]))
    first, second = _plant_faults(rng, first, second, overlap)
    paths = [
        write_extract(first, folder / f"referrals_{FIRST_EXTRACT:%Y-%m-%d}.csv"),
        write_extract(second, folder / f"referrals_{SECOND_EXTRACT:%Y-%m-%d}.csv"),
    ]
    if profile == "benchmark":
        benchmark_rng = np.random.default_rng(rng.integers(2**63))
        _, base, extra = expected_rates()
        volume = max(scale, 0.0) * BENCHMARK_REFERRALS_PER_SCALE / float((base + extra).sum())
        more = simulate_referrals(benchmark_rng, volume=volume)
        extract = as_extract(more, referral_ids("YB", len(more), 7), SECOND_EXTRACT)
        paths.append(write_extract(extract, folder / BENCHMARK_FILE))
    return paths
