"""Fingertips marts: headline indicator values with recomputed statistics, and the benchmark table.

``indicator_values`` keeps the headline rows of the configured areas (home area, its region,
England and the statistical neighbours), recomputes each value's confidence interval from count
and denominator where the indicator's method allows, checks the published interval against it,
and recomputes the comparison with England and the recent trend. ``infant_mortality_benchmark``
is the business plan's table: area, value, CI, CIPFA neighbour rank, compared with England.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline import stats
from cov_pipeline.quality import FileFault, read_text_strict
from cov_pipeline.settings import ENGLAND_AREA_CODE

INDICATOR_COLUMNS = ["indicator_id", "short_name", "value_type", "multiplier", "polarity", "unit"]
NEIGHBOUR_COLUMNS = ["area_code", "neighbour_code", "neighbour_name", "neighbour_rank"]
VALUE_TYPES = {"crude_rate", "proportion", "other"}
INFANT_MORTALITY_ID = 92196

# A published CI agrees with ours when each limit is within 5% of the published CI's width
# (plus 0.005 for rounding): Fingertips sometimes publishes exact Poisson limits where we use
# Byars, and the two differ by far less than that.
CI_AGREEMENT_SHARE_OF_WIDTH = 0.05
CI_AGREEMENT_ABSOLUTE = 0.005

INDICATOR_VALUE_DESCRIPTIONS = {
    "indicator_id": "Fingertips indicator ID.",
    "indicator_name": "Indicator name as published.",
    "short_name": "Short indicator name (reference/fingertips_indicators.csv).",
    "unit": "Unit of value and CIs (e.g. 'per 1,000 live births', '%').",
    "area_code": "ONS area code.",
    "area_name": "Area name as published.",
    "area_role": "england, region, home (Coventry) or cipfa_neighbour.",
    "cipfa_neighbour_rank": "Rank among the home area's CIPFA nearest neighbours (1 = nearest).",
    "sex": "Sex breakdown.",
    "age": "Age band.",
    "time_period": "Time period as published.",
    "period_start": "First day of the period.",
    "period_end": "Last day of the period.",
    "period_years": "Years pooled in the period.",
    "value": "Published value; null where missing or suppressed by Fingertips (see value_note).",
    "ci95_lower": "Published lower 95% confidence limit.",
    "ci95_upper": "Published upper 95% confidence limit.",
    "count": "Numerator as published by Fingertips.",
    "denominator": "Denominator as published.",
    "value_note": "Fingertips value note.",
    "ci_method": "Method of the recomputed CI: Wilson, Byars or exact Poisson; null if not recomputable.",
    "recomputed_value": "Value recomputed from count and denominator.",
    "recomputed_ci95_lower": "Lower 95% limit recomputed from count and denominator.",
    "recomputed_ci95_upper": "Upper 95% limit recomputed from count and denominator.",
    "ci_agrees_with_file": (
        "True where both published limits are within 5% of the published CI width (+0.005) of "
        "the recomputed limits; null where not recomputable."
    ),
    "england_value": "England's value for the same indicator, sex, age and period.",
    "compared_to_england": "Fingertips' published comparison with England.",
    "compared_to_england_recomputed": (
        "Comparison with England from the recomputed CI (Similar where England's value lies in "
        "the CI, else Better/Worse by polarity, Lower/Higher without one); 'Not compared' where "
        "count or denominator is missing."
    ),
    "recent_trend": "Fingertips' published recent trend.",
    "recent_trend_recomputed": (
        "Recent trend recomputed over the last 5 single-year points (chi-squared test for trend "
        "for proportions, weighted regression for rates; significant at 99.8%); 'Cannot be "
        "calculated' for pooled periods or short series."
    ),
}

BENCHMARK_DESCRIPTIONS = {
    "display_order": "Row order of the business plan's table: England, home area, neighbours by rank.",
    "area_code": "ONS area code.",
    "area_name": "Area name.",
    "area_role": "england, home or cipfa_neighbour.",
    "cipfa_neighbour_rank": "CIPFA nearest-neighbour rank (1 = nearest); null for England and home.",
    "time_period": "Latest 3-year pooled period available for the home area.",
    "value": "Infant mortality rate per 1,000 live births (deaths under 1 year), as published.",
    "ci95_lower": "Lower 95% confidence limit, as published.",
    "ci95_upper": "Upper 95% confidence limit, as published.",
    "count": "Infant deaths in the period.",
    "denominator": "Live births in the period.",
    "recomputed_ci95_lower": "Lower 95% limit recomputed from count and denominator (Byars / exact).",
    "recomputed_ci95_upper": "Upper 95% limit recomputed from count and denominator.",
    "compared_to_england": "Compared with England (recomputed; published where not recomputable).",
    "value_with_ci": "Value and CI to one decimal, as printed in the business plan: '5.9 (4.6-7.4)'.",
}


def load_reference_csv(path: Path, required: list[str]) -> pd.DataFrame:
    """A small reference table read as text; a missing column is a file fault naming it."""
    text, _ = read_text_strict(path)
    frame = pd.read_csv(pd.io.common.StringIO(text), dtype=str, keep_default_na=False)
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise FileFault(path, f"missing required column(s): {', '.join(repr(m) for m in missing)}")
    if frame.empty:
        raise FileFault(path, "has a header but no data rows")
    return frame.apply(lambda col: col.str.strip())


def parse_indicator_reference(
    frame: pd.DataFrame, path: Path | str = "fingertips_indicators.csv"
) -> pd.DataFrame:
    """Indicator methods: value type (crude_rate, proportion, other), multiplier, polarity."""
    out = frame[INDICATOR_COLUMNS].copy()
    unknown = sorted(set(out["value_type"]) - VALUE_TYPES)
    if unknown:
        raise FileFault(
            path, f"unknown value_type {unknown}; expected one of {sorted(VALUE_TYPES)}"
        )
    out["indicator_id"] = pd.to_numeric(out["indicator_id"], errors="raise").astype("int64")
    out["multiplier"] = pd.to_numeric(out["multiplier"], errors="raise").astype("float64")
    stats.normalise_polarity(out["polarity"].to_numpy())  # raises on an unknown polarity
    return out


def parse_neighbours(frame: pd.DataFrame) -> pd.DataFrame:
    """CIPFA neighbours, one row per (area, neighbour); a later file's list replaces an earlier one."""
    out = frame[[*NEIGHBOUR_COLUMNS, "source_file"]].copy()
    out["neighbour_rank"] = pd.to_numeric(out["neighbour_rank"], errors="raise").astype("int64")
    latest = out.groupby("area_code")["source_file"].transform("max")
    out = out[out["source_file"] == latest]
    return out.sort_values(["area_code", "neighbour_rank"]).reset_index(drop=True)


def recompute_ci(frame: pd.DataFrame) -> pd.DataFrame:
    """Value and 95% CI from count and denominator, by each row's value type and multiplier."""
    rate = stats.rate_with_ci(frame["count"], frame["denominator"], multiplier=1.0)
    proportion = stats.proportion_with_ci(frame["count"], frame["denominator"], multiplier=1.0)
    multiplier = frame["multiplier"].to_numpy()
    is_rate = (frame["value_type"] == "crude_rate").to_numpy()
    is_prop = (frame["value_type"] == "proportion").to_numpy()
    out = pd.DataFrame(index=frame.index)
    for ours, column in (
        ("recomputed_value", "value"),
        ("recomputed_ci95_lower", "ci_lower"),
        ("recomputed_ci95_upper", "ci_upper"),
    ):
        chosen = np.where(is_rate, rate[column].to_numpy(), np.nan)
        chosen = np.where(is_prop, proportion[column].to_numpy(), chosen)
        out[ours] = chosen * multiplier
    counts = frame["count"].to_numpy(dtype=float)
    method = np.where(
        is_prop,
        "Wilson",
        np.where(counts >= stats.BYARS_MIN_COUNT, "Byars", "exact Poisson"),
    ).astype(object)
    method[~(is_rate | is_prop) | np.isnan(out["recomputed_value"].to_numpy())] = None
    out["ci_method"] = method
    return out


def ci_agrees(published_lower, published_upper, lower, upper) -> pd.Series:
    """Whether published limits match recomputed ones within tolerance (null if either is absent)."""
    width = published_upper - published_lower
    tolerance = CI_AGREEMENT_SHARE_OF_WIDTH * width + CI_AGREEMENT_ABSOLUTE
    agrees = ((published_lower - lower).abs() <= tolerance) & (
        (published_upper - upper).abs() <= tolerance
    )
    known = published_lower.notna() & published_upper.notna() & lower.notna() & upper.notna()
    return agrees.astype("boolean").where(known)


def indicator_values(
    staging: pd.DataFrame,
    indicators: pd.DataFrame,
    neighbours: pd.DataFrame,
    home_area_code: str,
) -> pd.DataFrame:
    """Headline rows for England, the home area's region, the home area and its neighbours."""
    headline = staging[staging["is_headline"]]
    home_rows = headline[headline["area_code"] == home_area_code]
    regions = set(home_rows["parent_code"].dropna()) - {ENGLAND_AREA_CODE}
    own_neighbours = neighbours[neighbours["area_code"] == home_area_code]
    rank = own_neighbours.set_index("neighbour_code")["neighbour_rank"]
    roles = {ENGLAND_AREA_CODE: "england", home_area_code: "home"}
    roles.update({code: "region" for code in regions})
    roles.update({code: "cipfa_neighbour" for code in rank.index})

    rows = headline[headline["area_code"].isin(list(roles))].copy()
    rows = rows.merge(indicators, on="indicator_id", how="left", validate="many_to_one")
    rows["value_type"] = rows["value_type"].fillna("other")
    rows["area_role"] = rows["area_code"].map(roles)
    rows["cipfa_neighbour_rank"] = rows["area_code"].map(rank).astype("Int64")
    rows = pd.concat([rows, recompute_ci(rows)], axis=1)
    rows["ci_agrees_with_file"] = ci_agrees(
        rows["ci95_lower"], rows["ci95_upper"],
        rows["recomputed_ci95_lower"], rows["recomputed_ci95_upper"],
    )  # fmt: skip

    keys = ["indicator_id", "sex", "age", "time_period"]
    england = rows.loc[rows["area_code"] == ENGLAND_AREA_CODE, [*keys, "value"]]
    rows = rows.merge(
        england.rename(columns={"value": "england_value"}),
        on=keys,
        how="left",
        validate="many_to_one",
    )
    comparison = stats.compare_with_benchmark(
        rows["recomputed_ci95_lower"], rows["recomputed_ci95_upper"], rows["england_value"],
        rows["polarity"].where(rows["polarity"].notna(), None).to_numpy(),
    )  # fmt: skip
    comparison[(rows["area_code"] == ENGLAND_AREA_CODE).to_numpy()] = None
    rows["compared_to_england_recomputed"] = comparison
    rows = rows.merge(
        _recent_trends(rows), on=["indicator_id", "area_code", "sex", "age"], how="left"
    )

    rows = rows.sort_values(
        [
            "indicator_id",
            "sex",
            "age",
            "period_start",
            "area_role",
            "cipfa_neighbour_rank",
            "area_code",
        ],
        kind="stable",
    )
    return rows[list(INDICATOR_VALUE_DESCRIPTIONS)].reset_index(drop=True)


def _recent_trends(rows: pd.DataFrame) -> pd.DataFrame:
    """Recomputed recent trend per indicator, area, sex and age (single-year series only)."""
    keys = ["indicator_id", "area_code", "sex", "age"]
    parts = []
    for value_type, method in (("proportion", "proportion"), ("crude_rate", "regression")):
        subset = rows[rows["value_type"] == value_type]
        if subset.empty:
            continue
        if method == "proportion":
            trend = stats.recent_trend(
                subset, keys, "time_period", method="proportion",
                count_col="count", denominator_col="denominator",
            )  # fmt: skip
        else:
            trend = stats.recent_trend(
                subset, keys, "time_period", method="regression", value_col="value",
                ci_lower_col="ci95_lower", ci_upper_col="ci95_upper",
            )  # fmt: skip
        parts.append(trend[[*keys, "recent_trend"]])
    if not parts:
        return pd.DataFrame(columns=[*keys, "recent_trend_recomputed"])
    trends = pd.concat(parts, ignore_index=True)
    return trends.rename(columns={"recent_trend": "recent_trend_recomputed"})


def infant_mortality_benchmark(
    values: pd.DataFrame, home_area_code: str, indicator_id: int = INFANT_MORTALITY_ID
) -> pd.DataFrame:
    """The business plan's table for the latest period the home area has: England, home, neighbours.

    Persons, all ages, headline rows of ``marts.indicator_values``. Raises ValueError when the
    home area has no value for the indicator (the mart would otherwise be silently empty).
    """
    rows = values[(values["indicator_id"] == indicator_id) & (values["sex"] == "Persons")]
    home = rows[(rows["area_code"] == home_area_code) & rows["value"].notna()]
    if home.empty:
        raise ValueError(
            f"no value of indicator {indicator_id} for home area {home_area_code}: "
            "the benchmark table cannot be built"
        )
    latest = home.sort_values("period_start").iloc[-1]["time_period"]
    table = rows[
        (rows["time_period"] == latest)
        & rows["area_role"].isin(["england", "home", "cipfa_neighbour"])
    ].copy()
    role_order = table["area_role"].map({"england": 0, "home": 1, "cipfa_neighbour": 2})
    table = table.assign(_order=role_order).sort_values(["_order", "cipfa_neighbour_rank"])
    table["display_order"] = np.arange(1, len(table) + 1, dtype="int64")
    recomputed = table["compared_to_england_recomputed"]
    table["compared_to_england"] = recomputed.where(
        recomputed.notna() & (recomputed != "Not compared"), table["compared_to_england"]
    )
    table["value_with_ci"] = (
        _one_decimal(table["value"]) + " (" + _one_decimal(table["ci95_lower"]) + "-"
        + _one_decimal(table["ci95_upper"]) + ")"
    )  # fmt: skip
    return table[list(BENCHMARK_DESCRIPTIONS)].reset_index(drop=True)


def _one_decimal(values: pd.Series) -> pd.Series:
    """Half-up rounding to one decimal, as published tables print (not banker's rounding)."""
    numbers = pd.to_numeric(values, errors="coerce")
    rounded = np.floor(numbers * 10 + 0.5 + 1e-9) / 10
    return rounded.map("{:.1f}".format).where(numbers.notna(), "")
