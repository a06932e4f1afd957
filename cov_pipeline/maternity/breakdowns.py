"""Maternity, the breakdowns and the counts by period the measures are built on: each record's
group in every breakdown (deprivation, IMD quintile, ethnic group, no recourse to public funds,
age band), counted by month, quarter and year with every cell present
(:func:`count_by_period`), and the percentages and rates with their 95% intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cov_pipeline import stats
from cov_pipeline.imd import MOST_DEPRIVED_DECILES
from cov_pipeline.schemas.maternity import AGE_BANDS

# -- breakdowns --------------------------------------------------------------------------------
ALL = "All"
NOT_KNOWN = "Not known"
DEPRIVATION_GROUPS = ("Most deprived 30% (deciles 1-3)", "Other 70% (deciles 4-10)")
IMD_QUINTILE_LABELS = {1: "Q1 (most deprived)", 2: "Q2", 3: "Q3", 4: "Q4", 5: "Q5 (least deprived)"}
# NHS ethnic categories grouped as the 2001 census groups them; B and C together are the "White
# other" group docs/definitions.md keeps visible inside the ethnic minority total.
ETHNIC_GROUPS: dict[str, tuple[str, ...]] = {
    "White British": ("A",),
    "White other (Irish or any other White)": ("B", "C"),
    "Mixed": ("D", "E", "F", "G"),
    "Asian or Asian British": ("H", "J", "K", "L"),
    "Black or Black British": ("M", "N", "P"),
    "Chinese or any other ethnic group": ("R", "S"),
}
WHITE_BRITISH = "White British"
ETHNIC_MINORITY = "Ethnic minority (all but White British)"
NRPF_LABELS = {True: "No recourse to public funds", False: "Recourse to public funds"}

# breakdown -> its values in display order; every record falls in exactly one value of each.
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "all": (ALL,),
    "deprivation_group": (*DEPRIVATION_GROUPS, NOT_KNOWN),
    "imd_quintile": (*IMD_QUINTILE_LABELS.values(), NOT_KNOWN),
    "ethnic_group": (*ETHNIC_GROUPS, NOT_KNOWN),
    "ethnic_minority": (ETHNIC_MINORITY, WHITE_BRITISH, NOT_KNOWN),
    "nrpf": (*NRPF_LABELS.values(), NOT_KNOWN),
    "age_band": (*AGE_BANDS, NOT_KNOWN),
}
# pregnancy_outcomes: the age bands DHSC's terminations table can be matched to.
PREGNANCY_AGE_BANDS = {
    "Under 20": ("Under 20", ("terminations_under_18", "terminations_18_19")),
    "20 to 24": ("20 to 24", ("terminations_20_24",)),
    "25 to 29": ("25 to 29", ("terminations_25_29",)),
    "30 to 34": ("30 to 34", ("terminations_30_34",)),
    "35 to 39": ("35 and over", ("terminations_35_and_over",)),
    "40 to 44": ("35 and over", ()),
    "45 or Over": ("35 and over", ()),
}
PREGNANCY_BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "all": (ALL,),
    "age_band": ("Under 20", "20 to 24", "25 to 29", "30 to 34", "35 and over", NOT_KNOWN),
}


def mother_breakdowns(records: pd.DataFrame, imd: pd.DataFrame) -> pd.DataFrame:
    """The value of every breakdown in ``BREAKDOWNS`` for each record ('Not known' where the
    field is blank, or the LSOA is not in the lookup). Deprivation is national: deciles 1-3 are
    the most deprived 30% (docs/definitions.md); quintile = (decile + 1) // 2."""
    codes = breakdown_codes(records, imd)
    return pd.DataFrame(
        {b: np.asarray(values, dtype=object)[codes[b]] for b, values in BREAKDOWNS.items()},
        index=records.index,
    )


def breakdown_codes(records: pd.DataFrame, imd: pd.DataFrame) -> dict[str, np.ndarray]:
    """:func:`mother_breakdowns` as each record's position among the breakdown's values in
    ``BREAKDOWNS``, the form :func:`count_by_period` counts. Each rule runs once per distinct
    LSOA, ethnic code, NRPF flag and age band (a few hundred values), not once per record."""
    lsoa_at, lsoa = _distinct(records["lsoa_code"])
    lookup = imd.drop_duplicates("lsoa_code").set_index("lsoa_code")["imd_decile"]
    decile = lsoa.map(lookup).astype("Float64")
    known = decile.notna()
    deprived = decile.isin(MOST_DEPRIVED_DECILES)
    quintile = ((decile + 1) // 2).astype("Int64")
    code_group = {code: group for group, codes in ETHNIC_GROUPS.items() for code in codes}
    ethnic_at, ethnic_code = _distinct(records["ethnic_category"])
    ethnic = ethnic_code.map(code_group)
    nrpf_at, nrpf = _distinct(records["nrpf"].astype("boolean"))
    age_at, age = _distinct(records["mother_age_band"])
    age = age.astype(object)
    # breakdown -> (each record's distinct value, the label of each distinct value)
    labels = {
        "deprivation_group": (
            lsoa_at,
            np.select(
                [deprived.to_numpy(dtype=bool), known.to_numpy(dtype=bool)],
                list(DEPRIVATION_GROUPS),
                default=NOT_KNOWN,
            ),
        ),
        "imd_quintile": (
            lsoa_at,
            quintile.map(IMD_QUINTILE_LABELS, na_action="ignore").astype(object).fillna(NOT_KNOWN),
        ),
        "ethnic_group": (ethnic_at, ethnic.fillna(NOT_KNOWN)),
        "ethnic_minority": (
            ethnic_at,
            np.select(
                [ethnic.eq(WHITE_BRITISH).to_numpy(dtype=bool), ethnic.notna().to_numpy()],
                [WHITE_BRITISH, ETHNIC_MINORITY],
                default=NOT_KNOWN,
            ),
        ),
        "nrpf": (
            nrpf_at,
            nrpf.map(NRPF_LABELS, na_action="ignore").astype(object).fillna(NOT_KNOWN),
        ),
        "age_band": (age_at, age.where(age.isin(AGE_BANDS), NOT_KNOWN)),
    }
    codes = {"all": np.zeros(len(records), dtype=np.int64)}
    for breakdown, (at, label) in labels.items():
        codes[breakdown] = _positions(label, BREAKDOWNS[breakdown])[at]
    return codes


def _distinct(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each value's position among the distinct values (missing being one of them), and those
    values: a rule applied to the distinct values, then taken at the positions, is the rule
    applied to every value."""
    at, distinct = pd.factorize(values, use_na_sentinel=False)
    return at, pd.Series(distinct)


def _positions(labels, values: Sequence[str]) -> np.ndarray:
    """The position of each label among ``values``; a label outside them is a programming error
    (its records would vanish from every count), never let through."""
    position = pd.Index(list(values)).get_indexer(np.asarray(labels, dtype=object))
    if (position < 0).any():
        stray = sorted({str(v) for v, p in zip(labels, position, strict=True) if p < 0})
        raise ValueError(f"values {stray} are not among the categories {list(values)}")
    return position


# -- periods -----------------------------------------------------------------------------------
PERIOD_TYPES = ("month", "quarter", "year")
_PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Extra:
    """A further key of the counts beyond the breakdown (e.g. the gestation band): its column
    name, its values in display order, and each record's position among them."""

    name: str
    values: Sequence[str]
    codes: np.ndarray


def count_by_period(
    dates: pd.Series,
    codes: Mapping[str, np.ndarray],
    counts: Mapping[str, np.ndarray],
    categories: Mapping[str, Sequence[str]],
    period_types: Sequence[str] = PERIOD_TYPES,
    coverage: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    extra: Extra | None = None,
) -> pd.DataFrame:
    """Counts summed by period and breakdown value, long: one row per period type, period,
    breakdown and value (and ``extra`` key), with every cell present (0 where no record fell in
    it: the extract covers the period, so none is a true zero).

    ``codes`` gives, for each breakdown of ``categories``, each record's position among its
    values (:func:`breakdown_codes`); ``counts`` the whole-number counts of each record (e.g. 1
    for a late booking, else 0). ``coverage`` (first and last month; default the months of
    ``dates``) bounds the periods. Quarters and years are given only where every one of their
    months lies inside the coverage, so a partial period never looks like a fall. Quarters and
    years are calendar ones. Rows are in display order: period type, period, breakdown, value,
    extra key.
    """
    names = list(counts)
    columns = _columns(names, extra)
    month = np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[M]")
    present = ~np.isnat(month)
    if coverage is None:
        if not present.any():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        coverage = (pd.Timestamp(month[present].min()), pd.Timestamp(month[present].max()))
    months = pd.date_range(coverage[0], coverage[1], freq="MS")
    monthly = _monthly_cells(month, present, months, codes, counts, categories, extra)
    return table_from_monthly(months, monthly, names, categories, period_types, extra)


def table_from_monthly(
    months: pd.DatetimeIndex,
    monthly: np.ndarray,
    names: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    period_types: Sequence[str] = PERIOD_TYPES,
    extra: Extra | None = None,
) -> pd.DataFrame:
    """The long table of :func:`count_by_period` from its monthly cells (months × cells ×
    counts, as :func:`monthly_counts` gives them): the months, and the quarters and years all of
    whose months are in ``months``, in display order."""
    columns = _columns(names, extra)
    # the cells of one period, in display order: breakdown, value, extra key
    n_extra = len(extra.values) if extra else 1
    cell_breakdown = np.concatenate(
        [np.repeat(np.array([b], dtype=object), len(v) * n_extra) for b, v in categories.items()]
    )
    cell_value = np.concatenate(
        [np.repeat(np.asarray(v, dtype=object), n_extra) for v in categories.values()]
    )
    parts = []
    for period_type in PERIOD_TYPES:
        if period_type not in period_types:
            continue
        starts, sums = _periods(months, monthly, _PERIOD_MONTHS[period_type])
        n = len(starts)
        part = {
            "period_start": np.repeat(starts.to_numpy(dtype="datetime64[ns]"), len(cell_value)),
            "period_type": np.full(n * len(cell_value), period_type, dtype=object),
            "breakdown": np.tile(cell_breakdown, n),
            "breakdown_value": np.tile(cell_value, n),
        }
        if extra:
            extra_values = np.asarray(extra.values, dtype=object)
            part[extra.name] = np.tile(extra_values, n * len(cell_value) // n_extra)
        flat = sums.reshape(n * len(cell_value), len(names))
        part.update({name: flat[:, i] for i, name in enumerate(names)})
        parts.append(part)
    return pd.DataFrame(
        {c: np.concatenate([part[c] for part in parts]) for c in columns}, columns=columns
    )


def _columns(names: Sequence[str], extra: Extra | None) -> list[str]:
    keys = ["period_start", "period_type", "breakdown", "breakdown_value"]
    return [*keys, *([extra.name] if extra else []), *names]


def monthly_counts(
    dates: pd.Series,
    codes: Mapping[str, np.ndarray],
    counts: Mapping[str, np.ndarray],
    categories: Mapping[str, Sequence[str]],
    months: pd.DatetimeIndex,
) -> np.ndarray:
    """The counts of the records summed per month of ``months`` and cell (months × cells ×
    counts); a record dated outside ``months`` is in none."""
    month = np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[M]")
    return _monthly_cells(month, ~np.isnat(month), months, codes, counts, categories, None)


def stored_monthly_counts(
    table: pd.DataFrame, names: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The months of a mart built by :func:`count_by_period` (without ``extra``) and its monthly
    cells (months × cells × counts), read back from its month rows: what
    :func:`table_from_monthly` builds the mart from."""
    rows = _sort(table[table["period_type"] == "month"], categories)
    months = pd.DatetimeIndex(rows["period_start"].unique()).astype("datetime64[ns]")
    n_cells = sum(len(values) for values in categories.values())
    if len(rows) != len(months) * n_cells:
        raise ValueError(
            f"the mart holds {len(rows)} month rows, not {len(months)} months × {n_cells} cells"
        )
    counts = rows[list(names)].to_numpy(dtype=np.int64)
    return months, counts.reshape(len(months), n_cells, len(names))


def _monthly_cells(
    month: np.ndarray,
    present: np.ndarray,
    months: pd.DatetimeIndex,
    codes: Mapping[str, np.ndarray],
    counts: Mapping[str, np.ndarray],
    categories: Mapping[str, Sequence[str]],
    extra: Extra | None,
) -> np.ndarray:
    """The counts summed per month and cell (months × cells × counts, whole numbers): one
    ``np.bincount`` per breakdown and count, on the number of each record's month and cell. A
    record whose position is -1 (in no category) is in no cell."""
    n_months = len(months)
    first = months[0].to_datetime64().astype("datetime64[M]") if n_months else None
    number = (month - first).astype(np.int64) if n_months else np.zeros(len(month), np.int64)
    inside = present & (number >= 0) & (number < n_months)
    n_extra = len(extra.values) if extra else 1
    extra_at = np.asarray(extra.codes)[inside] if extra else np.zeros(inside.sum(), np.int64)
    weights = [np.asarray(counts[name], dtype=np.float64)[inside] for name in counts]
    number = number[inside]
    blocks = []
    for breakdown, values in categories.items():  # a handful of breakdowns, never rows
        at = np.asarray(codes[breakdown])[inside]
        n_cells = len(values) * n_extra
        cell = number * n_cells + at * n_extra + extra_at
        keep = (at >= 0) & (extra_at >= 0)
        kept = weights if keep.all() else [w[keep] for w in weights]
        cell = cell if keep.all() else cell[keep]
        sums = [np.bincount(cell, weights=w, minlength=n_months * n_cells) for w in kept]
        blocks.append(np.stack(sums, axis=-1).reshape(n_months, n_cells, len(weights)))
    # sums of whole numbers: exact in float64 up to 2**53
    return np.concatenate(blocks, axis=1).astype(np.int64)


def _periods(
    months: pd.DatetimeIndex, monthly: np.ndarray, span: int
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The calendar periods of ``span`` months (1, 3 or 12) all of whose months are in
    ``months`` (consecutive month starts), with their sums of the monthly cells."""
    if span == 1:
        return months, monthly
    index = np.arange(len(months))
    start = index[((months.month.to_numpy() - 1) % span == 0) & (index + span <= len(months))]
    return months[start], monthly[start[:, None] + np.arange(span)].sum(axis=1)


def _sort(
    table: pd.DataFrame,
    categories: Mapping[str, Sequence[str]],
    extra_name: str | None = None,
    extra_values: Sequence[str] = (),
) -> pd.DataFrame:
    breakdown_order = {b: i for i, b in enumerate(categories)}
    value_order = {(b, v): i for b, values in categories.items() for i, v in enumerate(values)}
    keys = pd.DataFrame(
        {
            "_type": table["period_type"].map({p: i for i, p in enumerate(PERIOD_TYPES)}),
            "_start": table["period_start"],
            "_breakdown": table["breakdown"].map(breakdown_order),
            "_value": pd.Series(
                list(zip(table["breakdown"], table["breakdown_value"], strict=True)),
                index=table.index,
                dtype=object,
            ).map(value_order),
        }
    )
    order = ["_type", "_start", "_breakdown", "_value"]
    if extra_name:
        keys["_extra"] = table[extra_name].map({v: i for i, v in enumerate(extra_values)})
        order.append("_extra")
    position = keys.sort_values(order, kind="stable").index
    return table.loc[position].reset_index(drop=True)


def _add_proportion(table: pd.DataFrame, name: str, count: str, denominator: str) -> None:
    """``name`` = count / denominator × 100 with its Wilson 95% interval (stats.proportion_with_ci)."""
    ci = stats.proportion_with_ci(
        table[count].astype("float64"), table[denominator].astype("float64")
    )
    value = ci["value"].to_numpy()
    # r = n: the Wilson upper limit is 100% exactly, which floating point misses by 1e-14
    everyone = (table[count] == table[denominator]).fillna(False).to_numpy(dtype=bool)
    table[name] = value
    table[f"{name}_ci95_lower"] = ci["ci_lower"].to_numpy()
    table[f"{name}_ci95_upper"] = np.where(everyone & np.isfinite(value), 100.0, ci["ci_upper"])


def _add_rate(table: pd.DataFrame, name: str, count: str, denominator: str) -> None:
    """``name`` = count / denominator × 1,000, Byars (10+) or exact Poisson (<10) 95% limits."""
    ci = stats.rate_with_ci(
        table[count].astype("float64"), table[denominator].astype("float64"), 1000
    )
    table[name] = ci["value"].to_numpy()
    table[f"{name}_ci95_lower"] = ci["ci_lower"].to_numpy()
    table[f"{name}_ci95_upper"] = ci["ci_upper"].to_numpy()
