"""SYNTHETIC OHID Fingertips "all data" CSV exports, in the real layout (docs/definitions.md, "Sources").

Counts and denominators are simulated from a seeded generator; values, confidence intervals,
comparisons and trends are then computed from them with the Fingertips methods, so a consumer can
recompute every figure in the files. The infant mortality rows for 2020-22 are solved rather than
simulated, so that they reproduce the benchmark table of the business plan (docs/definitions.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from cov_pipeline.sample_data.reference import (
    AREAS,
    ENGLAND_CODE,
    UA_AREA_TYPE,
    UA_AREA_TYPE_2021,
    Area,
    synthetic_areas,
)

# Normal quantiles Fingertips uses for its 95% and 99.8% limits.
Z95 = 1.959964
Z998 = 3.090232
# Chi-squared (1 df) at 99.8%: the significance threshold of the Fingertips recent-trend test.
TREND_THRESHOLD = 9.5495
# Byars' approximation below this count is poor; Fingertips switches to the exact Poisson limits.
BYARS_MIN_COUNT = 10

ENGLAND_COMPARISON = "Compared to England value or percentiles"
REGION_COMPARISON = "Compared to Region value or percentiles"
PERCENTILE_COMPARISON = "Compared to percentiles"
TIME_PERIOD_RANGE = "Time period range"


def fingertips_header(
    parent_comparison: str = REGION_COMPARISON, with_range: bool = True
) -> list[str]:
    """The column names of a Fingertips "all data" CSV export, in order.

    The 23rd column is named after the parent area type; newer exports append ``Time period range``.
    """
    header = [
        "Indicator ID",
        "Indicator Name",
        "Parent Code",
        "Parent Name",
        "Area Code",
        "Area Name",
        "Area Type",
        "Sex",
        "Age",
        "Category Type",
        "Category",
        "Time period",
        "Value",
        "Lower CI 95.0 limit",
        "Upper CI 95.0 limit",
        "Lower CI 99.8 limit",
        "Upper CI 99.8 limit",
        "Count",
        "Denominator",
        "Value note",
        "Recent Trend",
        ENGLAND_COMPARISON,
        parent_comparison,
        "Time period Sortable",
        "New data",
        "Compared to goal",
    ]
    return [*header, TIME_PERIOD_RANGE] if with_range else header


DISCLOSURE_NOTE = "Value suppressed for disclosure control due to small count"
TOO_SMALL_NOTE = "Value cannot be calculated as number of events, or the denominator, is too small"
AGGREGATED_NOTE = "Aggregated from all known lower geography values"
# A note with a line break inside it: real exports carry such notes inside quoted fields.
DATA_QUALITY_NOTE = (
    "Data quality: smoking status was not known for more than 5% of maternities.\n"
    "Interpret with caution."
)
# Below this many maternities a proportion is not published.
MIN_PROPORTION_DENOMINATOR = 100
# Counts 1-2 below England level are suppressed for disclosure control.
MAX_DISCLOSIVE_COUNT = 2


# ---------------------------------------------------------------------------------------------
# Confidence intervals (PHE/OHID technical guide: Byars / exact Poisson for rates, Wilson for
# proportions). The generator keeps its own copies so the sample data does not depend on the
# pipeline code it is meant to test.


def byars_interval(count: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Byars' approximation to the Poisson limits of a count (PHE technical guide, crude rates)."""
    o = np.asarray(count, dtype=float)
    lower = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
    upper = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3
    return lower, upper


def exact_poisson_interval(count: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson limits of a count from the chi-squared distribution; 0 events give 0 below."""
    o = np.asarray(count, dtype=float)
    alpha = 1 - confidence
    lower = np.where(o > 0, stats.chi2.ppf(alpha / 2, np.maximum(2 * o, 1)) / 2, 0.0)
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2
    return lower, upper


def wilson_interval(
    count: np.ndarray, denominator: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score limits of a proportion (Wilson 1927; PHE technical guide, proportions)."""
    o = np.asarray(count, dtype=float)
    n = np.asarray(denominator, dtype=float)
    p = o / n
    centre = 2 * o + z**2
    spread = z * np.sqrt(z**2 + 4 * o * (1 - p))
    scale = 2 * (n + z**2)
    return (centre - spread) / scale, (centre + spread) / scale


def rate_interval(
    count: np.ndarray, denominator: np.ndarray, multiplier: float, z: float, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Limits of a crude rate: Byars for counts of 10 or more, exact Poisson below."""
    o = np.asarray(count, dtype=float)
    big = o >= BYARS_MIN_COUNT
    with np.errstate(divide="ignore", invalid="ignore"):
        byars_lo, byars_hi = byars_interval(np.where(big, o, BYARS_MIN_COUNT), z)
    exact_lo, exact_hi = exact_poisson_interval(np.where(big, 0, o), confidence)
    factor = multiplier / np.asarray(denominator, dtype=float)
    return np.where(big, byars_lo, exact_lo) * factor, np.where(big, byars_hi, exact_hi) * factor


# ---------------------------------------------------------------------------------------------
# The business plan's benchmark table and the solver that turns it into counts.

# Infant mortality (indicator 92196), 2020-22, deaths under 1 per 1,000 live births: value and 95%
# limits as printed in the Coventry public health business plan 2025-28 (docs/definitions.md), and the
# three-year live births the solver starts its search from (about each area's real births).
BUSINESS_PLAN_INFANT_MORTALITY_2020_22: dict[str, tuple[float, float, float, int]] = {
    "E92000001": (3.9, 3.8, 4.0, 1_758_000),  # England
    "E08000026": (5.9, 4.6, 7.4, 13_050),  # Coventry
    "E06000015": (5.9, 4.4, 7.7, 9_000),  # Derby, CIPFA neighbour 1
    "E08000001": (5.2, 3.9, 6.8, 10_200),  # Bolton, 2
    "E06000031": (4.6, 3.3, 6.4, 8_300),  # Peterborough, 3
    "E08000035": (4.9, 4.1, 5.9, 26_500),  # Leeds, 4
    "E08000039": (4.2, 3.3, 5.3, 17_800),  # Sheffield, 5
}
BENCHMARK_PERIOD = "2020 - 22"
# How far either side of a figure's rounding boundary a solved figure must stay (per 1,000), so that
# no rounding convention or floating-point detail can change the printed decimal.
ROUNDING_MARGIN = 0.001


def _rounds_to(x: np.ndarray, target: float) -> np.ndarray:
    return np.abs(x - target) <= 0.05 - ROUNDING_MARGIN


def solve_count_denominator(
    value: float, lower: float, upper: float, births_guess: int, window: float = 0.15
) -> tuple[int, int]:
    """The (deaths, live births) pair nearest ``births_guess`` that prints as ``value (lower-upper)``.

    The crude rate per 1,000 and its Byars 95% limits must each round to one decimal as printed.
    Among the pairs that do, the one with live births nearest the guess wins, then the rate nearest
    the printed value, then the smaller count.
    """
    births = np.arange(int(births_guess * (1 - window)), int(births_guess * (1 + window)) + 1)
    offsets = np.arange(-1, 3)
    deaths = (np.floor(value * births / 1000)[:, None] + offsets[None, :]).ravel()
    births = np.repeat(births, len(offsets)).astype(float)
    usable = deaths >= BYARS_MIN_COUNT
    deaths, births = deaths[usable], births[usable]
    lo, hi = byars_interval(deaths, Z95)
    rate = deaths / births * 1000
    fits = (
        _rounds_to(rate, value)
        & _rounds_to(lo / births * 1000, lower)
        & _rounds_to(hi / births * 1000, upper)
    )
    if not fits.any():
        raise ValueError(f"no count/denominator pair prints as {value} ({lower}-{upper})")
    deaths, births, rate = deaths[fits], births[fits], rate[fits]
    best = np.lexsort((deaths, np.abs(rate - value), np.abs(births - births_guess)))[0]
    return int(deaths[best]), int(births[best])


def solve_benchmark_pairs() -> dict[str, tuple[int, int]]:
    """Deaths and live births for each area of the business plan's 2020-22 table."""
    return {
        code: solve_count_denominator(value, lower, upper, guess)
        for code, (value, lower, upper, guess) in BUSINESS_PLAN_INFANT_MORTALITY_2020_22.items()
    }


# ---------------------------------------------------------------------------------------------
# Indicators and periods.


@dataclass(frozen=True)
class Period:
    label: str
    sortable: int
    range: str
    years: tuple[int, ...]


def pooled(start: int) -> Period:
    """A 3-year pooled period such as ``2018 - 20``."""
    return Period(
        f"{start} - {(start + 2) % 100:02d}", start * 10000, "3y", (start, start + 1, start + 2)
    )


def calendar_year(year: int) -> Period:
    return Period(str(year), year * 10000, "1y", (year,))


def financial_year(year: int) -> Period:
    """A financial year such as ``2016/17``, starting in April of ``year``."""
    return Period(f"{year}/{(year + 1) % 100:02d}", year * 10000, "1y", (year,))


@dataclass(frozen=True)
class Indicator:
    indicator_id: int
    name: str
    age: str
    method: str  # "rate" (Byars / exact Poisson) or "proportion" (Wilson)
    multiplier: int
    periods: tuple[Period, ...]
    england_level: tuple[float, ...]  # the underlying England value in each period
    low_is_good: bool = True


POOLED = tuple(pooled(start) for start in range(2013, 2021))
INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        92196, "Infant mortality rate", "<1 yr", "rate", 1000, POOLED,
        (4.0, 3.9, 3.9, 3.9, 3.9, 3.9, 3.9, 3.9),
    ),
    Indicator(
        92705, "Neonatal mortality rate", "<28 days", "rate", 1000, POOLED,
        (2.8, 2.7, 2.8, 2.8, 2.8, 2.8, 2.8, 2.8),
    ),
    Indicator(
        92530, "Stillbirth rate", "All ages", "rate", 1000, POOLED,
        (4.6, 4.4, 4.2, 4.0, 3.9, 3.9, 3.9, 3.9),
    ),
    Indicator(
        91743, "Premature births, less than 37 weeks gestation", "All ages", "rate", 1000,
        POOLED, (78.0, 79.0, 79.0, 79.0, 79.0, 78.0, 78.0, 79.0),
    ),
    Indicator(
        20101, "Low birth weight of term babies", ">=37 weeks gestational age at birth",
        "proportion", 100, tuple(calendar_year(y) for y in range(2016, 2023)),
        (2.8, 2.8, 2.9, 2.9, 2.9, 2.8, 2.9),
    ),
    Indicator(
        93085, "Smoking status at time of delivery", "All ages", "proportion", 100,
        tuple(financial_year(y) for y in range(2016, 2024)),
        (10.7, 10.8, 10.6, 10.4, 9.6, 9.1, 8.8, 7.4),
    ),
)  # fmt: skip
INDICATORS_BY_ID = {ind.indicator_id: ind for ind in INDICATORS}


# ---------------------------------------------------------------------------------------------
# The simulated population: births per area and year, and each area's level on each indicator.

# England's live births by calendar year, to the nearest thousand; every area follows this curve.
ENGLAND_BIRTHS = {
    2013: 665_000, 2014: 661_000, 2015: 664_000, 2016: 663_000, 2017: 647_000,
    2018: 626_000, 2019: 611_000, 2020: 585_000, 2021: 596_000, 2022: 577_000, 2023: 564_000,
}  # fmt: skip
# Annual live births around 2021 in the areas the business plan table does not fix.
REGION_BIRTHS = {
    "E12000005": 64_000,
    "E12000004": 49_000,
    "E12000002": 79_000,
    "E12000006": 65_000,
    "E12000003": 57_000,
}
# Infant mortality relative to England in the regions (the West Midlands is the highest).
REGION_INFANT_RATIO = {
    "E12000005": 1.30,
    "E12000004": 1.08,
    "E12000002": 1.12,
    "E12000006": 0.95,
    "E12000003": 1.10,
}
# How each indicator's area level follows the area's infant mortality (exponent) and scatters
# around it (log-normal sd).
LEVEL_SPREAD = {92530: (0.5, 0.08), 91743: (0.3, 0.06), 20101: (0.5, 0.08), 93085: (0.5, 0.25)}
NEONATAL_SHARE_SD = 0.05
TERM_SHARE = 0.915  # term live births with a recorded birthweight, of all live births
KNOWN_SMOKING_SHARE = 0.975  # maternities with a known smoking status, of all live births


def _annual_births(
    areas: tuple[Area, ...], base: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Live births, areas x years of ``ENGLAND_BIRTHS``, following England's curve with noise."""
    curve = np.array(list(ENGLAND_BIRTHS.values()), dtype=float) / ENGLAND_BIRTHS[2021]
    noise = np.exp(rng.normal(0.0, 0.02, size=(len(areas), len(curve))))
    return np.rint(base[:, None] * curve[None, :] * noise).astype(np.int64)


def _fix_pooled_births(births: np.ndarray, row: int, period: Period, total: int) -> None:
    """Rescale one area's births in a pooled period so they add up to ``total``."""
    cols = [list(ENGLAND_BIRTHS).index(y) for y in period.years]
    scaled = np.rint(births[row, cols] * total / births[row, cols].sum()).astype(np.int64)
    scaled[-1] += total - scaled.sum()
    births[row, cols] = scaled


def _pooled_sum(births: np.ndarray, periods: tuple[Period, ...]) -> np.ndarray:
    years = list(ENGLAND_BIRTHS)
    return np.stack(
        [births[:, [years.index(y) for y in p.years]].sum(axis=1) for p in periods], axis=1
    )


def _simulate(
    areas: tuple[Area, ...],
    births: np.ndarray,
    infant_ratio: np.ndarray,
    rng: np.random.Generator,
    fixed_infant_deaths: dict[tuple[str, str], int],
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Counts and denominators (areas x periods) for every indicator, drawn in a fixed order."""
    is_england = np.array([a.code == ENGLAND_CODE for a in areas])
    levels = {92196: infant_ratio}
    for ind_id, (exponent, sd) in LEVEL_SPREAD.items():
        ratio = infant_ratio**exponent * np.exp(rng.normal(0.0, sd, size=len(areas)))
        levels[ind_id] = np.where(is_england, 1.0, ratio)
    neonatal_noise = np.where(
        is_england, 1.0, np.exp(rng.normal(0.0, NEONATAL_SHARE_SD, size=len(areas)))
    )
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def expected(ind_id: int) -> np.ndarray:
        ind = INDICATORS_BY_ID[ind_id]
        return levels[ind_id][:, None] * np.array(ind.england_level)[None, :] / ind.multiplier

    live = _pooled_sum(births, POOLED)
    infant = rng.poisson(expected(92196) * live)
    for (code, label), deaths in fixed_infant_deaths.items():
        row = [a.code for a in areas].index(code)
        infant[row, [p.label for p in POOLED].index(label)] = deaths
    out[92196] = (infant, live)

    neo = INDICATORS_BY_ID[92705]
    share = np.array(neo.england_level) / np.array(INDICATORS_BY_ID[92196].england_level)
    share = np.clip(share[None, :] * neonatal_noise[:, None], 0.0, 0.95)
    out[92705] = (rng.binomial(infant, share), live)

    still_rate = expected(92530)
    stillbirths = rng.poisson(still_rate / (1 - still_rate) * live)
    total_births = live + stillbirths
    out[92530] = (stillbirths, total_births)
    out[91743] = (rng.binomial(total_births, np.clip(expected(91743), 0, 1)), total_births)

    years = list(ENGLAND_BIRTHS)
    for ind_id, share_of_births in ((20101, TERM_SHARE), (93085, KNOWN_SMOKING_SHARE)):
        ind = INDICATORS_BY_ID[ind_id]
        annual = births[:, [years.index(p.years[0]) for p in ind.periods]]
        denominator = rng.binomial(annual, share_of_births)
        out[ind_id] = (rng.binomial(denominator, np.clip(expected(ind_id), 0, 1)), denominator)
    return out


# ---------------------------------------------------------------------------------------------
# Category rows: deprivation deciles and ethnic groups beside the headline rows.

DECILE_TYPE = "County & UA deprivation deciles in England (IMD2019, 4/21 geography)"
DECILES = (
    "Most deprived decile (IMD2019)",
    "Second most deprived decile (IMD2019)",
    "Third more deprived decile (IMD2019)",
    "Fourth more deprived decile (IMD2019)",
    "Fifth more deprived decile (IMD2019)",
    "Fifth less deprived decile (IMD2019)",
    "Fourth less deprived decile (IMD2019)",
    "Third less deprived decile (IMD2019)",
    "Second least deprived decile (IMD2019)",
    "Least deprived decile (IMD2019)",
)
DECILE_BIRTH_SHARES = tuple(np.linspace(0.125, 0.078, 10))
ETHNIC_TYPE = "Ethnic groups"
ETHNIC_GROUPS = ("White", "Mixed", "Asian", "Black", "Other")
ENGLAND_ETHNIC_SHARES = (0.72, 0.05, 0.13, 0.06, 0.04)
COVENTRY_ETHNIC_SHARES = (0.57, 0.06, 0.22, 0.13, 0.02)


@dataclass(frozen=True)
class CategorySplit:
    """Split one area's headline count and denominator over categories, in the given periods."""

    indicator_id: int
    area_code: str
    category_type: str
    categories: tuple[str, ...]
    shares: tuple[float, ...]  # share of the denominator
    relative_levels: tuple[float, ...]  # the category's level relative to the others
    periods: tuple[str, ...]


CATEGORY_SPLITS: tuple[CategorySplit, ...] = (
    CategorySplit(
        92196, ENGLAND_CODE, DECILE_TYPE, DECILES, DECILE_BIRTH_SHARES,
        tuple(np.linspace(1.55, 0.6, 10)), ("2017 - 19", "2018 - 20", "2019 - 21", "2020 - 22"),
    ),
    CategorySplit(
        92196, ENGLAND_CODE, ETHNIC_TYPE, ETHNIC_GROUPS, ENGLAND_ETHNIC_SHARES,
        (0.9, 1.0, 1.4, 1.7, 1.0), ("2019 - 21", "2020 - 22"),
    ),
    CategorySplit(
        92196, "E08000026", ETHNIC_TYPE, ETHNIC_GROUPS, COVENTRY_ETHNIC_SHARES,
        (0.9, 1.0, 1.4, 1.7, 1.0), ("2019 - 21", "2020 - 22"),
    ),
    CategorySplit(
        20101, ENGLAND_CODE, DECILE_TYPE, DECILES, DECILE_BIRTH_SHARES,
        tuple(np.linspace(1.45, 0.65, 10)), ("2020", "2021", "2022"),
    ),
    CategorySplit(
        93085, ENGLAND_CODE, DECILE_TYPE, DECILES, DECILE_BIRTH_SHARES,
        tuple(np.linspace(2.6, 0.3, 10)), ("2021/22", "2022/23", "2023/24"),
    ),
    CategorySplit(
        93085, "E08000026", ETHNIC_TYPE, ETHNIC_GROUPS, COVENTRY_ETHNIC_SHARES,
        (1.5, 1.2, 0.2, 0.3, 0.5), ("2019/20", "2020/21", "2021/22", "2022/23", "2023/24"),
    ),
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# From counts to the rows of an export.


def _area_table(areas: tuple[Area, ...]) -> pd.DataFrame:
    names = {a.code: a.name for a in AREAS} | {a.code: a.name for a in areas}
    return pd.DataFrame(
        {
            "area_code": [a.code for a in areas],
            "area_name": [a.name for a in areas],
            "area_type": [a.area_type for a in areas],
            "area_level": [a.level for a in areas],
            "parent_code": [a.parent_code for a in areas],
            "parent_name": [names.get(a.parent_code, "") for a in areas],
            "area_order": np.arange(len(areas)),
        }
    )


def _headline_rows(
    areas: tuple[Area, ...], counts: dict[int, tuple[np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    table = _area_table(areas)
    frames = []
    for ind in INDICATORS:
        count, denominator = counts[ind.indicator_id]
        n_periods = len(ind.periods)
        rows = table.iloc[np.repeat(np.arange(len(areas)), n_periods)].reset_index(drop=True)
        period_index = np.tile(np.arange(n_periods), len(areas))
        rows["indicator_id"] = ind.indicator_id
        rows["period_index"] = period_index
        rows["count"] = count.ravel()
        rows["denominator"] = denominator.ravel()
        frames.append(rows)
    frame = pd.concat(frames, ignore_index=True)
    frame["category_type"] = ""
    frame["category"] = ""
    frame["category_order"] = 0
    return frame


def _category_rows(headline: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    frames = []
    for split in CATEGORY_SPLITS:
        ind = INDICATORS_BY_ID[split.indicator_id]
        labels = [p.label for p in ind.periods]
        for label in split.periods:
            match = headline.index[
                (headline["indicator_id"] == split.indicator_id)
                & (headline["area_code"] == split.area_code)
                & (headline["period_index"] == labels.index(label))
            ]
            source = headline.loc[match[0]]
            denominators = rng.multinomial(int(source["denominator"]), split.shares)
            weights = denominators * np.array(split.relative_levels)
            counts = rng.multinomial(int(source["count"]), weights / weights.sum())
            if (counts > denominators).any():
                raise AssertionError(f"category count above its denominator: {split}")
            rows = headline.loc[[match[0]] * len(split.categories)].reset_index(drop=True)
            rows["category_type"] = split.category_type
            rows["category"] = list(split.categories)
            rows["category_order"] = np.arange(1, len(split.categories) + 1)
            rows["count"] = counts
            rows["denominator"] = denominators
            frames.append(rows)
    return pd.concat(frames, ignore_index=True)


def _recent_trend(frame: pd.DataFrame) -> pd.Series:
    """Fingertips' recent trend for proportions over the last 5 single-year points.

    Chi-squared test for linear trend (Armitage) on the five counts and denominators up to and
    including each row's period, significant above 9.5495 (99.8%). Fingertips also withholds a
    trend that one point alone drives; this synthetic version does not model that refinement.
    Pooled periods, rates and rows without five consecutive published points: Cannot be calculated.
    """
    result = pd.Series("Cannot be calculated", index=frame.index, dtype=object)
    single_year = frame["indicator_id"].map(
        {
            i.indicator_id: i.method == "proportion" and i.periods[0].range == "1y"
            for i in INDICATORS
        }
    )
    data = frame[single_year & frame["value"].notna()].sort_values("period_index", kind="stable")
    data = data.assign(
        count=data["count"].astype(float), denominator=data["denominator"].astype(float)
    )
    if data.empty:
        return result
    keys = ["indicator_id", "area_code", "category_type", "category"]
    grouped = data.groupby(keys, sort=False)
    r = np.zeros(len(data))
    n = np.zeros(len(data))
    rx = np.zeros(len(data))
    nx = np.zeros(len(data))
    nxx = np.zeros(len(data))
    complete = np.ones(len(data), dtype=bool)
    for lag in range(5):
        x = 5 - lag
        count = grouped["count"].shift(lag).to_numpy(dtype=float)
        denominator = grouped["denominator"].shift(lag).to_numpy(dtype=float)
        index = grouped["period_index"].shift(lag).to_numpy(dtype=float)
        complete &= index == data["period_index"].to_numpy() - lag
        r += np.nan_to_num(count)
        n += np.nan_to_num(denominator)
        rx += np.nan_to_num(count) * x
        nx += np.nan_to_num(denominator) * x
        nxx += np.nan_to_num(denominator) * x * x
    with np.errstate(divide="ignore", invalid="ignore"):
        p = r / n
        numerator = rx - p * nx
        chi2 = numerator**2 / (p * (1 - p) * (nxx - nx**2 / n))
    significant = complete & (chi2 > TREND_THRESHOLD)
    low_is_good = data["indicator_id"].map({i.indicator_id: i.low_is_good for i in INDICATORS})
    rising_text = np.where(low_is_good, "Increasing & getting worse", "Increasing & getting better")
    falling_text = np.where(
        low_is_good, "Decreasing & getting better", "Decreasing & getting worse"
    )
    text = np.where(
        ~complete,
        "Cannot be calculated",
        np.where(
            significant,
            np.where(numerator > 0, rising_text, falling_text),
            "No significant change",
        ),
    )
    result.loc[data.index] = text
    return result


def _compare(frame: pd.DataFrame, benchmark: pd.Series) -> np.ndarray:
    """Fingertips' usual comparison: Similar where the benchmark lies inside the 95% CI."""
    value = frame["value"].to_numpy(dtype=float)
    lower = frame["lower95"].to_numpy(dtype=float)
    upper = frame["upper95"].to_numpy(dtype=float)
    bench = benchmark.to_numpy(dtype=float)
    low_is_good = frame["indicator_id"].map({i.indicator_id: i.low_is_good for i in INDICATORS})
    better = np.where(low_is_good, value < bench, value > bench)
    return np.where(
        np.isnan(value) | np.isnan(bench),
        "Not compared",
        np.where(
            (lower <= bench) & (bench <= upper), "Similar", np.where(better, "Better", "Worse")
        ),
    )


def _finish(raw: pd.DataFrame, benchmarks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Values, limits, notes, trend and comparisons for simulated counts and denominators.

    ``benchmarks`` supplies England and regional values when ``raw`` lacks them (the benchmark
    profile's synthetic areas are compared with the sample's England and regions).
    """
    frame = raw.copy()
    method = frame["indicator_id"].map({i.indicator_id: i.method for i in INDICATORS})
    multiplier = frame["indicator_id"].map({i.indicator_id: i.multiplier for i in INDICATORS})
    count = frame["count"].to_numpy(dtype=float)
    denominator = frame["denominator"].to_numpy(dtype=float)
    is_rate = (method == "rate").to_numpy()
    mult = multiplier.to_numpy(dtype=float)

    value = count / denominator * mult
    limits = {}
    for name, z, confidence in (("95", Z95, 0.95), ("998", Z998, 0.998)):
        rate_lo, rate_hi = rate_interval(count, denominator, 1.0, z, confidence)
        prop_lo, prop_hi = wilson_interval(count, denominator, z)
        limits[f"lower{name}"] = np.where(is_rate, rate_lo, prop_lo) * mult
        limits[f"upper{name}"] = np.where(is_rate, rate_hi, prop_hi) * mult
    # Rounded here, once, so that comparisons use exactly the figures the files carry.
    frame["value"] = np.round(value, 6)
    for name, array in limits.items():
        frame[name] = np.round(array, 6)

    frame["value_note"] = ""
    below_england = (frame["area_level"] != "england").to_numpy()
    too_small = ~is_rate & (denominator < MIN_PROPORTION_DENOMINATOR) & below_england
    disclosive = (count >= 1) & (count <= MAX_DISCLOSIVE_COUNT) & below_england
    unpublished = too_small | disclosive
    frame.loc[too_small, "value_note"] = TOO_SMALL_NOTE
    frame.loc[disclosive, "value_note"] = DISCLOSURE_NOTE
    frame.loc[unpublished, ["value", "lower95", "upper95", "lower998", "upper998"]] = np.nan
    frame["count"] = pd.array(np.where(disclosive, np.nan, count), dtype="Int64")
    frame["denominator"] = pd.array(denominator, dtype="Int64")

    smoking_headline = (
        (frame["value_note"] == "") & (frame["indicator_id"] == 93085) & (frame["category"] == "")
    )
    frame.loc[smoking_headline & (frame["area_level"] == "england"), "value_note"] = AGGREGATED_NOTE
    quality = smoking_headline & (frame["area_code"] == "E08000026")
    quality &= frame["period_index"].isin([4, 5])  # 2020/21 and 2021/22
    frame.loc[quality, "value_note"] = DATA_QUALITY_NOTE

    frame["recent_trend"] = _recent_trend(frame)

    headline = frame["category_type"] == ""
    source = frame if benchmarks is None else pd.concat([benchmarks, frame], ignore_index=True)
    source = source[source["category_type"] == ""]
    keys = ["indicator_id", "period_index"]
    england = source.loc[source["area_code"] == ENGLAND_CODE, [*keys, "value"]]
    england_value = frame[keys].merge(england, on=keys, how="left")["value"]
    regions = source.loc[source["area_level"] == "region", [*keys, "area_code", "value"]]
    regions = regions.rename(columns={"area_code": "parent_code"})
    parent_value = frame[[*keys, "parent_code"]].merge(
        regions, on=[*keys, "parent_code"], how="left"
    )
    compared_england = _compare(frame, england_value)
    compared_parent = _compare(frame, parent_value["value"])
    frame["compared_england"] = np.where(
        headline & (frame["area_level"] != "england"), compared_england, "Not compared"
    )
    frame["compared_parent"] = np.where(
        headline & (frame["area_level"] == "ua"), compared_parent, "Not compared"
    )
    return frame


def build_sample_frame(rng: np.random.Generator) -> pd.DataFrame:
    """Every row of the sample exports (all indicators, periods, areas and categories)."""
    pairs = solve_benchmark_pairs()
    base = np.array(
        [
            BUSINESS_PLAN_INFANT_MORTALITY_2020_22[a.code][3] / 3
            if a.code in BUSINESS_PLAN_INFANT_MORTALITY_2020_22
            else REGION_BIRTHS[a.code]
            for a in AREAS
        ]
    )
    births = _annual_births(AREAS, base, rng)
    benchmark_period = next(p for p in POOLED if p.label == BENCHMARK_PERIOD)
    for code, (_, live_births) in pairs.items():
        row = [a.code for a in AREAS].index(code)
        _fix_pooled_births(births, row, benchmark_period, live_births)
    infant_ratio = np.array(
        [
            BUSINESS_PLAN_INFANT_MORTALITY_2020_22[a.code][0] / 3.9
            if a.code in BUSINESS_PLAN_INFANT_MORTALITY_2020_22
            else REGION_INFANT_RATIO[a.code]
            for a in AREAS
        ]
    )
    fixed = {(code, BENCHMARK_PERIOD): deaths for code, (deaths, _) in pairs.items()}
    counts = _simulate(AREAS, births, infant_ratio, rng, fixed)
    headline = _headline_rows(AREAS, counts)
    return _finish(pd.concat([headline, _category_rows(headline, rng)], ignore_index=True))


def build_synthetic_frame(
    n_areas: int, rng: np.random.Generator, sample: pd.DataFrame
) -> pd.DataFrame:
    """Headline rows for ``n_areas`` synthetic areas, compared with the sample's England/regions."""
    areas = synthetic_areas(n_areas)
    base = rng.uniform(1_500, 10_000, size=n_areas)
    births = _annual_births(areas, base, rng)
    infant_ratio = np.exp(rng.normal(0.0, 0.2, size=n_areas))
    counts = _simulate(areas, births, infant_ratio, rng, {})
    return _finish(_headline_rows(areas, counts), benchmarks=sample)


# ---------------------------------------------------------------------------------------------
# Writing the files.


@dataclass(frozen=True)
class ExportFile:
    """One export as a user would have downloaded it: which indicators, up to when, which layout."""

    name: str
    indicator_ids: tuple[int, ...]
    up_to: int | None = None  # last Time period Sortable in the file
    with_range: bool = True  # newer exports append "Time period range"
    parent_comparison: str = REGION_COMPARISON
    ua_area_type: str = UA_AREA_TYPE


SAMPLE_EXPORTS: tuple[ExportFile, ...] = (
    # An older export: no "Time period range", the 2021 upper-tier area type label, to 2019-21.
    ExportFile(
        "infant_mortality_2023-export.csv",
        (92196, 92705),
        up_to=20190000,
        with_range=False,
        ua_area_type=UA_AREA_TYPE_2021,
    ),
    ExportFile("child_maternal_2024-export.csv", (92196, 92705, 92530, 91743)),
    # Re-export of 92196 from the same release: its rows repeat those of child_maternal_2024.
    ExportFile("infant_mortality_2024-export.csv", (92196,)),
    ExportFile("low_birth_weight_2024-export.csv", (20101,)),
    ExportFile(
        "smoking_at_delivery_2025-export.csv", (93085,), parent_comparison=PERCENTILE_COMPARISON
    ),
)
BENCHMARK_EXPORT = ExportFile("synthetic_benchmark-export.csv", tuple(INDICATORS_BY_ID))
BENCHMARK_ROWS_AT_SCALE_1 = 1_000_000


def benchmark_area_count(scale: float) -> int:
    """Synthetic areas the benchmark profile adds: about 1M extra rows per unit of ``scale``."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, not {scale}")
    rows_per_area = sum(len(ind.periods) for ind in INDICATORS)
    return math.ceil(scale * BENCHMARK_ROWS_AT_SCALE_1 / rows_per_area)


def _format_decimal(values: pd.Series) -> pd.Series:
    array = values.to_numpy(dtype=float)
    text = pd.Series(np.char.mod("%.6f", np.nan_to_num(array)), index=values.index)
    text = text.str.rstrip("0").str.rstrip(".")
    return text.where(~np.isnan(array), "")


def _format_integer(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna("")


def export_table(frame: pd.DataFrame, spec: ExportFile) -> pd.DataFrame:
    """The rows of ``frame`` that ``spec`` holds, as the text columns of a Fingertips export."""
    order = {ind_id: i for i, ind_id in enumerate(spec.indicator_ids)}
    rows = frame[frame["indicator_id"].isin(order)].copy()
    sortable = np.zeros(len(rows), dtype=np.int64)
    labels = np.empty(len(rows), dtype=object)
    ranges = np.empty(len(rows), dtype=object)
    for ind_id in order:
        ind = INDICATORS_BY_ID[ind_id]
        mask = (rows["indicator_id"] == ind_id).to_numpy()
        index = rows.loc[mask, "period_index"].to_numpy()
        sortable[mask] = np.array([p.sortable for p in ind.periods])[index]
        labels[mask] = np.array([p.label for p in ind.periods], dtype=object)[index]
        ranges[mask] = np.array([p.range for p in ind.periods], dtype=object)[index]
    rows["sortable"], rows["period"], rows["period_range"] = sortable, labels, ranges
    if spec.up_to is not None:
        rows = rows[rows["sortable"] <= spec.up_to]
    rows["indicator_order"] = rows["indicator_id"].map(order)
    rows = rows.sort_values(
        ["indicator_order", "area_order", "category_type", "category_order", "sortable"],
        kind="stable",
    )
    latest = rows.groupby("indicator_id")["sortable"].transform("max")
    area_type = rows["area_type"].where(rows["area_type"] != UA_AREA_TYPE, spec.ua_area_type)
    parent = rows["compared_parent"]
    if spec.parent_comparison == PERCENTILE_COMPARISON:
        parent = pd.Series("Not compared", index=rows.index)
    columns = [
        rows["indicator_id"].astype(str),
        rows["indicator_id"].map({i.indicator_id: i.name for i in INDICATORS}),
        rows["parent_code"],
        rows["parent_name"],
        rows["area_code"],
        rows["area_name"],
        area_type,
        pd.Series("Persons", index=rows.index),
        rows["indicator_id"].map({i.indicator_id: i.age for i in INDICATORS}),
        rows["category_type"],
        rows["category"],
        rows["period"],
        _format_decimal(rows["value"]),
        _format_decimal(rows["lower95"]),
        _format_decimal(rows["upper95"]),
        _format_decimal(rows["lower998"]),
        _format_decimal(rows["upper998"]),
        _format_integer(rows["count"]),
        _format_integer(rows["denominator"]),
        rows["value_note"],
        rows["recent_trend"],
        rows["compared_england"],
        parent,
        rows["sortable"].astype(str),
        pd.Series(np.where(rows["sortable"] == latest, "New data", ""), index=rows.index),
        pd.Series("", index=rows.index),
    ]
    if spec.with_range:
        columns.append(rows["period_range"])
    header = fingertips_header(spec.parent_comparison, spec.with_range)
    return pd.DataFrame(dict(zip(header, columns, strict=True))).reset_index(drop=True)


def write_export(frame: pd.DataFrame, spec: ExportFile, folder: Path) -> Path:
    """Write one export: UTF-8, CRLF records, minimal quoting (quoted fields may hold line breaks)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / spec.name
    # One indicator at a time keeps the text copy of a benchmark-sized frame small.
    with path.open("w", encoding="utf-8", newline="") as handle:
        for i, ind_id in enumerate(spec.indicator_ids):
            part = ExportFile(**{**spec.__dict__, "indicator_ids": (ind_id,)})
            table = export_table(frame, part)
            table.to_csv(handle, index=False, header=i == 0, lineterminator="\r\n")
    return path


def generate_fingertips(
    out_dir: Path, rng: np.random.Generator, scale: float = 1.0, profile: str = "sample"
) -> list[Path]:
    """Write the SYNTHETIC Fingertips exports under ``out_dir/fingertips``.

    The sample profile writes the small committed extracts; the benchmark profile adds
    ``synthetic_benchmark-export.csv`` with about ``scale`` million rows of synthetic areas. The
    sample files are the same in both profiles: the benchmark rows come from a generator derived
    from ``rng`` after the sample is drawn.
    """
    if profile not in ("sample", "benchmark"):
        raise ValueError(f"unknown profile {profile!r}: sample or benchmark")
    folder = Path(out_dir) / "fingertips"
    sample = build_sample_frame(rng)
    paths = [write_export(sample, spec, folder) for spec in SAMPLE_EXPORTS]
    if profile == "benchmark":
        benchmark_rng = np.random.default_rng(rng.integers(2**63))
        synthetic = build_synthetic_frame(benchmark_area_count(scale), benchmark_rng, sample)
        paths.append(write_export(synthetic, BENCHMARK_EXPORT, folder))
    return paths
