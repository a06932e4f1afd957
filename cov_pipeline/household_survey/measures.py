"""Household survey, the measures: the indicators mart (:func:`weighted_indicators`), every
indicator by wave for all adults and each breakdown (sex, age band, IMD quintile, ethnic group)
as a weighted estimate with its 95% confidence interval on Kish's effective sample size, and the
change mart (:func:`wave_changes`), the change between consecutive waves and latest versus first
with its significance. The statistics themselves are in :mod:`cov_pipeline.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cov_pipeline.household_survey.definitions import LOW_WELLBEING_BELOW, MIN_UNWEIGHTED_N
from cov_pipeline.household_survey.descriptions import CHANGE_DESCRIPTIONS, INDICATOR_DESCRIPTIONS
from cov_pipeline.schemas.household_survey import AGE_BANDS, ETHNIC_GROUPS, SEXES
from cov_pipeline.stats import (
    mean_change_test,
    proportion_change_test,
    weighted_mean,
    weighted_proportion,
)


# -- the indicators mart ----------------------------------------------------------------------
@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    source_column: str
    measure: str  # "proportion" (reported as %) or "mean"
    unit: str
    polarity: str  # "high" or "low": which direction is better


INDICATORS: tuple[Indicator, ...] = (
    Indicator("good_health", "Good or very good health", "is_good_health", "proportion", "%", "high"),
    Indicator("bad_health", "Bad or very bad health", "is_bad_health", "proportion", "%", "low"),
    Indicator(
        "current_smoking", "Current smoking (daily or occasional)", "is_current_smoker",
        "proportion", "%", "low",
    ),
    Indicator(
        "audit_c_increasing_risk", "AUDIT-C score 5 or more (increasing risk or above)",
        "is_audit_c_increasing_risk", "proportion", "%", "low",
    ),
    Indicator(
        "swemwbs_mean", "Mean SWEMWBS metric score", "swemwbs_metric_score", "mean",
        "SWEMWBS metric score (7-35)", "high",
    ),
    Indicator(
        "low_wellbeing", f"Low wellbeing (SWEMWBS metric score below {LOW_WELLBEING_BELOW})",
        "is_low_wellbeing", "proportion", "%", "low",
    ),
)  # fmt: skip

ALL_ADULTS = "All adults"
NOT_KNOWN = "Not known"
IMD_LABELS = {1: "Q1 (most deprived)", 2: "Q2", 3: "Q3", 4: "Q4", 5: "Q5 (least deprived)"}
# breakdown label, staged column, category labels in display order
BREAKDOWNS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("All", None, (ALL_ADULTS,)),
    ("Sex", "sex", SEXES),
    ("Age band", "age_band", AGE_BANDS),
    ("IMD quintile", "imd_quintile", tuple(IMD_LABELS.values())),
    ("Ethnic group", "ethnic_group", ETHNIC_GROUPS),
)

# The columns of the staged responses the indicators mart reads: an asset building it need
# read no other (issue #7).
INDICATOR_INPUT_COLUMNS = [
    "wave_year",
    "weight",
    *(indicator.source_column for indicator in INDICATORS),
    *(column for _, column, _ in BREAKDOWNS if column is not None),
]


def _category_codes(responses: pd.DataFrame, column: str | None, labels: tuple) -> np.ndarray:
    """Each respondent's category in a breakdown, as its place among ``labels`` with 'Not known'
    last (where the answer is missing; for IMD quintile, also where it is not 1-5)."""
    if column is None:
        return np.zeros(len(responses), dtype=np.int64)
    if column == "imd_quintile":
        quintile = responses[column].astype("Int64").to_numpy(dtype="float64", na_value=np.nan)
        known = np.isin(quintile, list(IMD_LABELS))
        return np.where(known, np.nan_to_num(quintile) - 1, len(labels)).astype(np.int64)
    values = responses[column]
    code = np.where(
        values.notna().to_numpy(), pd.Index(list(labels)).get_indexer(values), len(labels)
    )
    if (code < 0).any():
        unknown = sorted({str(v) for v in values[code < 0]})
        raise ValueError(f"{column}: values outside the mart's categories: {unknown}")
    return code.astype(np.int64)


def weighted_indicators(
    responses: pd.DataFrame,
    min_unweighted_n: int = MIN_UNWEIGHTED_N,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The indicators mart: every indicator by wave, for all adults and each breakdown.

    Weighted estimates p = Σwy/Σw (means likewise) over respondents who answered, with 95% CIs on
    Kish's effective n (:func:`weighted_proportion`, :func:`weighted_mean`); withheld where fewer
    than ``min_unweighted_n`` answered (unreliable). Small numbers are not suppressed here: the
    published tier does that.
    """
    weight = responses["weight"].to_numpy(dtype="float64")
    sums = ("n", "sw", "sw2", "swy", "swy2")
    parts = []  # per indicator, the five per-respondent terms of its sums, in that order
    for indicator in INDICATORS:
        # Booleans as 1/0, missing as NaN.
        y = responses[indicator.source_column].to_numpy(dtype="float64", na_value=np.nan)
        answered = ~np.isnan(y)
        w = np.where(answered, weight, 0.0)
        y0 = np.where(answered, y, 0.0)
        parts += [answered.astype("float64"), w, w * w, w * y0, w * y0 * y0]
    # One float block (the counts are whole numbers, summed exactly), grouped by numbers rather
    # than labels; the sums are pandas' compensated group sums, row by row as before.
    terms = pd.DataFrame(np.column_stack(parts))
    wave_year = pd.Series(responses["wave_year"].to_numpy(), name="wave_year")

    frames = []
    for breakdown, column, labels in BREAKDOWNS:
        code = pd.Series(_category_codes(responses, column, labels), name="category")
        grouped = terms.groupby([wave_year, code], sort=False).sum()
        values = grouped.to_numpy().reshape(len(grouped), len(INDICATORS), len(sums))
        category = grouped.index.get_level_values("category").to_numpy()
        frames.append(
            pd.DataFrame(
                {
                    "wave_year": np.repeat(
                        grouped.index.get_level_values("wave_year"), len(INDICATORS)
                    ),
                    "breakdown": breakdown,
                    "category": np.repeat(
                        np.array([*labels, NOT_KNOWN], dtype=object)[category], len(INDICATORS)
                    ),
                    "category_order": np.repeat(category + 1, len(INDICATORS)),
                    "indicator": np.tile([i.code for i in INDICATORS], len(grouped)),
                    **{name: values[:, :, k].ravel() for k, name in enumerate(sums)},
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)

    meta = pd.DataFrame([vars(i) for i in INDICATORS]).rename(
        columns={"code": "indicator", "name": "indicator_name"}
    )
    table = table.merge(meta, on="indicator", how="left", validate="many_to_one")
    is_mean = (table["measure"] == "mean").to_numpy()
    proportion = weighted_proportion(table["sw"], table["sw2"], table["swy"], confidence)
    mean = weighted_mean(table["sw"], table["sw2"], table["swy"], table["swy2"], confidence)
    scale = np.where(is_mean, 1.0, 100.0)
    for out_column, column in (
        ("value", "estimate"),
        ("ci95_lower", "ci_lower"),
        ("ci95_upper", "ci_upper"),
        ("standard_error", "standard_error"),
    ):
        table[out_column] = np.where(is_mean, mean[column], proportion[column]) * scale
    table["effective_n"] = proportion["effective_n"].to_numpy()
    table["unweighted_n"] = table["n"].astype("int64")
    table["sum_of_weights"] = table["sw"].astype("float64")
    withheld = table["unweighted_n"] < min_unweighted_n
    table["is_withheld"] = withheld
    for column in ("value", "ci95_lower", "ci95_upper", "standard_error"):
        table[column] = table[column].where(~withheld)
    indicator_order = {i.code: k for k, i in enumerate(INDICATORS)}
    breakdown_order = {b: k for k, (b, _, _) in enumerate(BREAKDOWNS)}
    table = table.assign(
        _i=table["indicator"].map(indicator_order), _b=table["breakdown"].map(breakdown_order)
    ).sort_values(["_i", "_b", "category_order", "wave_year"], kind="stable")
    return table[list(INDICATOR_DESCRIPTIONS)].reset_index(drop=True)


# -- change between waves ---------------------------------------------------------------------
def wave_changes(indicators: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The change mart: each indicator's change between consecutive waves and latest vs first."""
    waves = sorted(int(w) for w in indicators["wave_year"].dropna().unique())
    pairs = [("consecutive", a, b) for a, b in zip(waves, waves[1:], strict=False)]
    if len(waves) >= 2:
        pairs.append(("latest_vs_first", waves[0], waves[-1]))
    key = ["breakdown", "category", "category_order", "indicator"]
    info = ["indicator_name", "measure", "unit", "polarity"]
    figures = ["value", "standard_error", "effective_n", "is_withheld"]
    frames = []
    for comparison, first, last in pairs:
        before = indicators.loc[indicators["wave_year"] == first, key + info + figures]
        after = indicators.loc[indicators["wave_year"] == last, key + info + figures]
        merged = before.merge(after, on=key, how="outer", suffixes=("_from", "_to"))
        for column in info:
            merged[column] = merged[f"{column}_from"].fillna(merged[f"{column}_to"])
        merged.insert(0, "comparison", comparison)
        merged["from_wave"], merged["to_wave"] = first, last
        frames.append(merged)
    if not frames:
        # Fewer than two waves: no rows, but the types a comparison has (the warehouse takes
        # its column types from them).
        dtypes = {
            **dict.fromkeys(CHANGE_DESCRIPTIONS, "object"),
            **dict.fromkeys(["category_order", "from_wave", "to_wave"], "int64"),
            **dict.fromkeys(["is_significant", "is_withheld"], "bool"),
            **dict.fromkeys(
                ["from_value", "to_value", "change", "change_ci95_lower", "change_ci95_upper"]
                + ["z_statistic", "p_value", "from_effective_n", "to_effective_n"],
                "float64",
            ),
        }
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})
    table = pd.concat(frames, ignore_index=True)

    v1 = table["value_from"].astype("float64").to_numpy()
    v2 = table["value_to"].astype("float64").to_numpy()
    is_mean = (table["measure"] == "mean").to_numpy()
    confidence = 1 - alpha
    proportions = proportion_change_test(
        v1 / 100, table["effective_n_from"].astype("float64"), v2 / 100,
        table["effective_n_to"].astype("float64"), confidence,
    )  # fmt: skip
    means = mean_change_test(
        v1, table["standard_error_from"].astype("float64"), v2,
        table["standard_error_to"].astype("float64"), confidence,
    )  # fmt: skip
    scale = np.where(is_mean, 1.0, 100.0)
    for out_column, column in (
        ("change", "change"),
        ("change_ci95_lower", "ci_lower"),
        ("change_ci95_upper", "ci_upper"),
    ):
        table[out_column] = np.where(is_mean, means[column], proportions[column]) * scale
    for column in ("z_statistic", "p_value"):
        table[column] = np.where(is_mean, means[column], proportions[column])

    withheld = (
        table["is_withheld_from"].fillna(True).astype(bool)
        | table["is_withheld_to"].fillna(True).astype(bool)
        | np.isnan(v1)
        | np.isnan(v2)
    )
    table["is_withheld"] = withheld
    for column in ("change", "change_ci95_lower", "change_ci95_upper", "z_statistic", "p_value"):
        table[column] = table[column].where(~withheld)
    significant = (table["p_value"] < alpha) & ~withheld
    table["is_significant"] = significant
    up = table["change"] > 0
    table["change_direction"] = np.select(
        [withheld, significant & up, significant & ~up],
        ["Not compared", "Increase", "Decrease"],
        "No significant change",
    )
    better = (up & (table["polarity"] == "high")) | (~up & (table["polarity"] == "low"))
    table["assessment"] = np.select(
        [withheld, significant & better, significant & ~better],
        ["Not compared", "Better", "Worse"],
        "No significant change",
    )
    table = table.rename(
        columns={
            "value_from": "from_value",
            "value_to": "to_value",
            "effective_n_from": "from_effective_n",
            "effective_n_to": "to_effective_n",
        }
    )
    indicator_order = {i.code: k for k, i in enumerate(INDICATORS)}
    breakdown_order = {b: k for k, (b, _, _) in enumerate(BREAKDOWNS)}
    comparison_order = {"consecutive": 0, "latest_vs_first": 1}
    table = table.assign(
        _i=table["indicator"].map(indicator_order),
        _b=table["breakdown"].map(breakdown_order),
        _c=table["comparison"].map(comparison_order),
    ).sort_values(["_i", "_b", "category_order", "_c", "from_wave"], kind="stable")
    table["from_wave"] = table["from_wave"].astype("int64")
    table["to_wave"] = table["to_wave"].astype("int64")
    for column in ("from_value", "to_value", "from_effective_n", "to_effective_n"):
        table[column] = table[column].astype("float64")
    return table[list(CHANGE_DESCRIPTIONS)].reset_index(drop=True)
