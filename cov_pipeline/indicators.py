"""Fingertips marts: headline indicator values with recomputed statistics, and the benchmark table.

``indicator_values`` keeps the headline rows of the configured areas (home area, its region,
England and the statistical neighbours), recomputes each value's confidence interval from count
and denominator where the indicator's method allows, checks the published interval against it,
and recomputes the comparison with England and the recent trend. ``infant_mortality_benchmark``
is the business plan's table: area, value, CI, CIPFA neighbour rank, compared with England.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline import stats
from cov_pipeline.quality import (
    FileFault,
    SourceFile,
    failure_cases,
    marked_cells,
    within_whole_numbers,
)
from cov_pipeline.raw_reader import RECORD_FAULT, Header, read_records
from cov_pipeline.schemas.reference import (
    INDICATOR_TWICE,
    NEIGHBOUR_TWICE,
    OWN_NEIGHBOUR,
    RANK_GAP,
    RANK_TWICE,
    VALUE_TYPES,
    CipfaNeighbour,
    IndicatorMethod,
)
from cov_pipeline.settings import ENGLAND_AREA_CODE

INDICATOR_COLUMNS = ["indicator_id", "short_name", "value_type", "multiplier", "polarity", "unit"]
NEIGHBOUR_COLUMNS = ["area_code", "neighbour_code", "neighbour_name", "neighbour_rank"]
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


# -- the reference files ----------------------------------------------------------------------
# Read by the one raw reader; each is used whole or not at all (docs/definitions.md, "Reference
# files"): every fault of every row is listed, with its file and line, in one file fault, and
# nothing is written. A ranked list with a row taken out would be ranked wrongly, and an
# indicator left out of the methods would be compared by the wrong rule.
NEIGHBOUR_HEADER = Header(required=NEIGHBOUR_COLUMNS, optional=("area_name", "source"))
INDICATOR_HEADER = Header(required=INDICATOR_COLUMNS)
# A row that sums or averages the list (written under it in a spreadsheet) is no neighbour.
SUMMARY_ROW = re.compile(r"^(grand\s+|sub-?)?(total|average|mean)s?\b", re.IGNORECASE)
# How many faults a refusal lists before it says how many more there are.
FAULTS_SHOWN = 20
GSS_CODE_TEXT = "is not an ONS GSS code (a capital letter and eight digits)"
# The tables made of them: staging.fingertips_indicators and staging.cipfa_neighbours.
INDICATOR_DESCRIPTIONS = {
    "indicator_id": "Fingertips indicator ID.",
    "short_name": "Short name used in reports.",
    "value_type": "crude_rate, proportion or other: decides how CIs are recomputed.",
    "multiplier": "Scale of the value (1000 for per 1,000; 100 for %).",
    "polarity": "Fingertips polarity: which direction is better.",
    "unit": "Unit of the value.",
}
NEIGHBOUR_DESCRIPTIONS = {
    "area_code": "Area whose neighbours these are.",
    "neighbour_code": "ONS code of the neighbour.",
    "neighbour_name": "Name of the neighbour.",
    "neighbour_rank": "CIPFA nearest-neighbour rank (1 = nearest).",
    "source_file": "Reference file the list came from (the API download wins when present).",
}


@dataclass(frozen=True, order=True)
class Problem:
    """One fault of a reference file: its file, the line it starts on, and what is wrong (the
    text opens with the line or lines)."""

    source_file: str
    line: int
    text: str


@dataclass
class ReferenceLoad:
    """A reference table, the files it was read from, and per file the areas whose list a
    later file replaced (none for the indicator methods)."""

    table: pd.DataFrame
    files: list[SourceFile]
    replaced: dict[str, list[str]] = field(default_factory=dict)


def _read_reference(
    paths: Iterable[Path], header: Header, what: str, pattern: str
) -> tuple[pd.DataFrame, list[SourceFile], dict[str, Path]]:
    """Every file's records (text trimmed) in one frame, the files, and each file by name."""
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault(f"reference/{pattern}", f"no reference file found ({what})")
    frames, files = [], []
    for path in paths:
        records = read_records(path, header, what=what, text="object")
        frame = records.frame
        for column in records.columns:
            frame[column] = frame[column].str.strip()
        frames.append(frame)
        files.append(records.info)
    frame = pd.concat(frames, ignore_index=True)
    for column in header.columns:  # an optional column absent from every file
        if column not in frame.columns:
            frame[column] = ""
    frame[header.columns] = frame[header.columns].fillna("")  # absent from some files
    return frame, files, {path.name: path for path in paths}


def _problems(frame: pd.DataFrame, text: pd.Series | str, mask=None) -> list[Problem]:
    """A problem per row of ``frame`` (where ``mask`` holds, if given), the text opening with
    its line."""
    rows = frame if mask is None else frame.loc[np.asarray(mask, dtype=bool)]
    texts = text.loc[rows.index] if isinstance(text, pd.Series) else pd.Series(text, rows.index)
    return [
        Problem(str(file), int(line), f"line {line}: {words}")
        for file, line, words in zip(rows["source_file"], rows["line_number"], texts, strict=True)
    ]


def _whole_numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text to whole numbers (Int64; null where blank or not one), and where the text is not
    blank but not a whole number either (``1.5``, ``first``)."""
    number = pd.to_numeric(text.where(text != ""), errors="coerce")
    whole = number.notna() & within_whole_numbers(number.to_numpy()) & (number % 1 == 0)
    return number.where(whole).astype("Int64"), (text != "") & ~whole


def _shown(values: pd.Series) -> pd.Series:
    return values.map(repr)


def _refuse(problems: list[Problem], paths: dict[str, Path], what: str) -> None:
    """Raise the file fault listing every problem (the first file's name opens it)."""
    if not problems:
        return
    problems = sorted(problems)
    first = problems[0].source_file
    listed = [
        p.text if p.source_file == first else f"{p.source_file} {p.text}"
        for p in problems[:FAULTS_SHOWN]
    ]
    more = len(problems) - len(listed)
    raise FileFault(
        paths[first],
        f"{what} refused ({len(problems)} fault{'s' if len(problems) > 1 else ''}; the list is "
        "used whole or not at all): "
        + "; ".join(listed)
        + (f"; and {more} more" if more > 0 else ""),
    )


def _contract_problems(
    schema,
    typed: pd.DataFrame,
    raw: pd.DataFrame,
    reported: pd.DataFrame,
    column_text: dict[str, str],
    row_rules: dict[str, Callable[[pd.DataFrame], list[Problem]]],
) -> list[Problem]:
    """The pandera contract's failures of ``typed`` as problems: a cell's in the words of
    ``column_text`` (check name to text, the delivered value shown), a rule across rows in the
    words ``row_rules`` give the failing rows. A cell already ``reported`` (text that is not a
    number) is not called blank as well."""
    cases = failure_cases(schema, typed)
    if cases.empty:
        return []
    rows = cases["index"].astype("int64").to_numpy()
    by_row = cases["check"].isin(list(row_rules)).to_numpy()
    cells = cases.loc[~by_row]
    cells = cells.loc[
        ~(
            (cells["check"] == "not_nullable").to_numpy()
            & marked_cells(reported, rows[~by_row], cells["column"])
        )
    ]
    problems = []
    for (column, check), group in cells.groupby(["column", "check"], sort=False):
        labels = group["index"].astype("int64").to_numpy()
        delivered = raw.loc[labels, column]
        rule = column_text.get(str(check).split("(")[0], str(check))
        text = (f"{column} " + _shown(delivered) + f" {rule}").where(
            delivered != "", f"{column} is blank"
        )
        problems += _problems(typed.loc[labels], text)
    for check, group in cases.loc[by_row].groupby("check", sort=False):
        labels = np.unique(group["index"].astype("int64").to_numpy())
        problems += row_rules[str(check)](typed.loc[labels])
    return problems


def _repeats(
    typed: pd.DataFrame, keys: list[str], what: Callable[[pd.DataFrame], pd.Series]
) -> Callable[[pd.DataFrame], list[Problem]]:
    """The words for rows repeating an earlier row's ``keys``: ``what`` they repeat, and where
    it came first (the file named when it is another)."""
    first = typed.groupby(keys, dropna=False)[["source_file", "line_number"]].transform("first")

    def words(rows: pd.DataFrame) -> list[Problem]:
        at = first.loc[rows.index]
        other_file = (at["source_file"] + " ").where(at["source_file"] != rows["source_file"], "")
        where = " (first on " + other_file + "line " + at["line_number"].astype(str) + ")"
        return _problems(rows, what(rows) + where)

    return words


def _rank(rows: pd.DataFrame) -> pd.Series:
    return "rank " + rows["neighbour_rank"].astype(str) + " given again for " + rows["area_code"]


def _neighbour(rows: pd.DataFrame) -> pd.Series:
    name = (" (" + rows["neighbour_name"] + ")").where(rows["neighbour_name"] != "", "")
    return "neighbour " + rows["neighbour_code"] + name + " listed again for " + rows["area_code"]


def _rank_gaps(rows: pd.DataFrame) -> list[Problem]:
    """One problem per area and file whose ranks skip a number, naming the missing ranks."""
    problems = []
    for (file, area), group in rows.groupby(["source_file", "area_code"], sort=True):
        ranks = set(group["neighbour_rank"].dropna().astype(int))
        missing = sorted(set(range(1, max(ranks) + 1)) - ranks)
        lines = group["line_number"]
        problems.append(
            Problem(
                str(file),
                int(lines.min()),
                f"lines {lines.min()}-{lines.max()}: the ranks of {area} skip "
                f"{', '.join(map(str, missing))} (they must run 1 to n without gaps)",
            )
        )
    return problems


def _own_neighbour(rows: pd.DataFrame) -> list[Problem]:
    return _problems(rows, rows["area_code"] + " is listed as its own neighbour")


def _summary_rows(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The first of ``columns`` reading like a total or an average, per row ('' where none)."""
    found = pd.Series("", index=frame.index, dtype=object)
    for column in reversed(columns):
        hit = frame[column].str.match(SUMMARY_ROW).fillna(False).to_numpy(dtype=bool)
        found[hit] = column + " " + _shown(frame.loc[hit, column])
    return found


def _unreadable(frame: pd.DataFrame) -> tuple[list[Problem], np.ndarray]:
    """The records the reader could not take as delivered, and where they are."""
    fault = frame[RECORD_FAULT].notna().to_numpy()
    return _problems(frame, frame[RECORD_FAULT].astype(str), fault), fault


def load_neighbours(paths: Iterable[Path]) -> ReferenceLoad:
    """CIPFA neighbours, one row per (area, neighbour), from ``reference/cipfa_neighbours*.csv``:
    a later file's list of an area (by name: ``cipfa_neighbours_api.csv``, the API download,
    after ``cipfa_neighbours.csv``) replaces an earlier one. Every file must keep the contract
    (:class:`~cov_pipeline.schemas.reference.CipfaNeighbour`; no total row, no unreadable or
    cleared record), else FileFault listing each fault with its file and line."""
    frame, files, paths_by_name = _read_reference(
        paths, NEIGHBOUR_HEADER, "neighbours", "cipfa_neighbours*.csv"
    )
    problems, unreadable = _unreadable(frame)
    summary = _summary_rows(
        frame, ["area_code", "area_name", "neighbour_code", "neighbour_name", "neighbour_rank"]
    )
    is_summary = (summary != "").to_numpy() & ~unreadable
    problems += _problems(frame, "a total row, not a neighbour (" + summary + ")", is_summary)
    raw = frame.loc[~unreadable & ~is_summary]
    typed = raw[["source_file", "line_number", "area_code", "neighbour_code", "neighbour_name"]]
    typed = typed.assign(
        area_code=raw["area_code"].replace("", None),
        neighbour_code=raw["neighbour_code"].replace("", None),
    )
    typed["neighbour_rank"], not_whole = _whole_numbers(raw["neighbour_rank"])
    problems += _problems(
        raw, "neighbour_rank " + _shown(raw["neighbour_rank"]) + " is not a whole number", not_whole
    )
    problems += _contract_problems(
        CipfaNeighbour,
        typed,
        raw,
        pd.DataFrame({"neighbour_rank": not_whole}),
        {"str_matches": GSS_CODE_TEXT, "greater_than_or_equal_to": "is below 1 (1 = nearest)"},
        {
            OWN_NEIGHBOUR: _own_neighbour,
            NEIGHBOUR_TWICE: _repeats(
                typed, ["source_file", "area_code", "neighbour_code"], _neighbour
            ),
            RANK_TWICE: _repeats(
                typed,
                ["source_file", "area_code", "neighbour_rank"],
                _rank,
            ),
            RANK_GAP: _rank_gaps,
        },
    )
    _refuse(problems, paths_by_name, "CIPFA neighbours")
    out = typed[[*NEIGHBOUR_COLUMNS, "source_file"]].copy()
    out["neighbour_rank"] = out["neighbour_rank"].astype("int64")
    latest = out["source_file"] == out.groupby("area_code")["source_file"].transform("max")
    replaced = out.loc[~latest].groupby("source_file")["area_code"].unique()
    table = out.loc[latest].sort_values(["area_code", "neighbour_rank"]).reset_index(drop=True)
    return ReferenceLoad(table, files, {f: sorted(areas) for f, areas in replaced.items()})


def load_indicator_reference(paths: Iterable[Path]) -> ReferenceLoad:
    """Indicator methods from ``reference/fingertips_indicators*.csv``: value type (crude_rate,
    proportion, other), multiplier, polarity, one row per indicator across the files. Every
    row must keep the contract (:class:`~cov_pipeline.schemas.reference.IndicatorMethod`), else
    FileFault listing each fault with its file and line."""
    frame, files, paths_by_name = _read_reference(
        paths, INDICATOR_HEADER, "indicators", "fingertips_indicators*.csv"
    )
    problems, unreadable = _unreadable(frame)
    raw = frame.loc[~unreadable]
    typed = raw[["source_file", "line_number", *INDICATOR_COLUMNS]].copy()
    typed["indicator_id"], id_not_whole = _whole_numbers(raw["indicator_id"])
    multiplier = pd.to_numeric(raw["multiplier"].where(raw["multiplier"] != ""), errors="coerce")
    finite = np.isfinite(multiplier.to_numpy(dtype=float))
    typed["multiplier"] = multiplier.where(finite).astype("float64")
    not_number = (raw["multiplier"] != "") & ~finite
    problems += _problems(
        raw, "indicator_id " + _shown(raw["indicator_id"]) + " is not a whole number", id_not_whole
    )
    problems += _problems(
        raw, "multiplier " + _shown(raw["multiplier"]) + " is not a number", not_number
    )
    polarities = ", ".join(repr(name) for name in sorted(stats.POLARITY_NAMES) if name)
    problems += _contract_problems(
        IndicatorMethod,
        typed,
        raw,
        pd.DataFrame({"indicator_id": id_not_whole, "multiplier": not_number}),
        {
            "greater_than_or_equal_to": "is not positive",
            "greater_than": "is not positive",
            "isin": f"is not one of {', '.join(VALUE_TYPES)}",
            "known polarity": f"is not a known polarity (case ignored: {polarities})",
        },
        {
            INDICATOR_TWICE: _repeats(
                typed,
                ["indicator_id"],
                lambda rows: "indicator_id " + rows["indicator_id"].astype(str) + " listed again",
            )
        },
    )
    _refuse(problems, paths_by_name, "Fingertips indicator methods")
    table = typed[INDICATOR_COLUMNS].reset_index(drop=True)
    table["indicator_id"] = table["indicator_id"].astype("int64")
    return ReferenceLoad(table, files)


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
