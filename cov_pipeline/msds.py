"""NHS Maternity Services Data Set (MSDS) publications: one normalised long table, and the
provider-versus-England comparison mart.

MSDS CSVs come in two layouts: monthly (``ReportingPeriodStartDate, ReportingPeriodEndDate,
Dimension, Org_Level, Org_Code, Org_Name, Measure, Count_Of, Final_value``) and annual (``Period,
Dimension, ..., Count_Of, Value``). Labels drift between releases (``2`` vs ``02``, ``Missing
Value`` vs ``Missing value``, renamed categories): every label is matched on a key that ignores
case, spacing and zero padding, then through the alias table below. Counts arrive rounded to 5 and
zero rows are omitted: where a dimension's categories are known, the omitted rows are restored as
zeros. Blank values stay missing. Source: NHS England (formerly NHS Digital), Maternity Services
Monthly Statistics and NHS Maternity Statistics (MSDS), CSV data files and their metadata.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline import stats
from cov_pipeline.disclosure import ROUNDING_BASE
from cov_pipeline.quality import (
    FileFault,
    SourceFile,
    empty_quarantine,
    join_reasons,
    pandera_reasons,
    quarantine_frame,
)
from cov_pipeline.raw_reader import RECORD_FAULT, read_records
from cov_pipeline.schemas.msds import MsdsRow

SOURCE = "msds"
FILE_PATTERN = "msds-*.csv"

MONTHLY_HEADER = (
    "ReportingPeriodStartDate",
    "ReportingPeriodEndDate",
    "Dimension",
    "Org_Level",
    "Org_Code",
    "Org_Name",
    "Measure",
    "Count_Of",
    "Final_value",
)
ANNUAL_HEADER = (
    "Period",
    "Dimension",
    "Org_Level",
    "Org_Code",
    "Org_Name",
    "Measure",
    "Count_Of",
    "Value",
)
SNAKE_NAMES = {
    "ReportingPeriodStartDate": "period_start",
    "ReportingPeriodEndDate": "period_end",
    "Period": "period",
    "Dimension": "dimension",
    "Org_Level": "org_level",
    "Org_Code": "org_code",
    "Org_Name": "org_name",
    "Measure": "measure",
    "Count_Of": "count_of",
    "Final_value": "value",
    "Value": "value",
}
# Each layout's names, folded as check_header compares them, to the name as published.
PUBLISHED_NAMES = {h.lower(): h for h in (*MONTHLY_HEADER, *ANNUAL_HEADER)}
# Opens the file fault of a file whose parsing raised (never a bare pandas message).
PARSING_FAILED = "could not be parsed: nothing from this source was written"
# How MSDS marks a value it withheld; any other text that is not a number is a row fault.
SUPPRESSED_MARKER = "*"
ENGLAND_ORG_LEVEL = "National"

# -- known dimensions and their categories ----------------------------------------------------
MISSING = "Missing value / Value outside reporting parameters"
PSEUDO_POSTCODE = "Pseudo postcode recorded (includes no fixed abode or resident overseas)"
RESIDENT_ELSEWHERE = "Resident Elsewhere in UK, Channel Islands or Isle of Man"
DECILES = (
    "01 - Most deprived",
    *(f"{d:02d}" for d in range(2, 10)),
    "10 - Least deprived",
)
BOOKING_GROUPS = ("0 to 70 days", "71 to 90 days", "91 to 140 days", "141+ days")
GESTATION_LENGTHS = (
    "27 weeks and under",
    "28 to 31 weeks",
    "32 to 33 weeks",
    "34 to 36 weeks",
    *(f"{w} weeks" for w in range(37, 43)),
    "43 weeks and over",
)


@dataclass(frozen=True)
class MsdsDimension:
    """A dimension whose categories are known: every label it may publish, under any name.

    ``categories`` are the canonical labels (as the publications spell them). ``aliases`` are other
    names the dimension itself has been published under; ``label_aliases`` map other spellings of
    a category (beyond case, spacing and zero padding, which are always ignored) to its canonical
    label. A label outside these is quarantined rather than guessed, so a new release's renamed
    category is seen (and added here) instead of being filled with a wrong zero.
    """

    name: str
    count_of: str
    categories: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    label_aliases: dict[str, str] = field(default_factory=dict)


# MSDS omits a category's row when its count is zero, so for these dimensions a category with no
# row in a period and organisation that published the dimension is a true zero and is restored.
DIMENSIONS: tuple[MsdsDimension, ...] = (
    MsdsDimension(
        "GestAgeFormalAntenatalBookingGroup",
        "Deliveries",
        (*BOOKING_GROUPS, MISSING),
        aliases=("GestAgeBookingGroup",),
        label_aliases={"141 days and over": "141+ days"},
    ),
    MsdsDimension(
        "GestationLengthBirth",
        "Babies",
        (*GESTATION_LENGTHS, MISSING),
        label_aliases={"under 28 weeks": "27 weeks and under", "43+ weeks": "43 weeks and over"},
    ),
    MsdsDimension(
        "GestationLengthBirthGroup37",
        "Babies",
        ("<37 weeks", ">=37 weeks", MISSING),
        label_aliases={"under 37 weeks": "<37 weeks", "37 weeks and over": ">=37 weeks"},
    ),
    MsdsDimension(
        "DeprivationDecileAtBooking",
        "Deliveries",
        (*DECILES, PSEUDO_POSTCODE, RESIDENT_ELSEWHERE, MISSING),
        label_aliases={"1": "01 - Most deprived", "10": "10 - Least deprived"},
    ),
    # Totals: one row with a blank Measure, nothing to restore.
    MsdsDimension("TotalDeliveries", "Deliveries", ()),
    MsdsDimension("TotalBabies", "Babies", ()),
)
# Spellings of the missing category seen across releases, beyond case and spacing.
MISSING_ALIASES = ("Missing / Value outside reporting parameters", "Missing")
COUNT_OF_NAMES = ("Deliveries", "Babies", "Women")
ORG_LEVEL_NAMES = (ENGLAND_ORG_LEVEL, "Provider")

STAGING_DESCRIPTIONS = {
    "period_type": "financial_year (annual files), month, or period (any other reporting span).",
    "period": "Period label: '2020-21' for a financial year, '2023-04' for a month.",
    "period_start": "First day of the reporting period.",
    "period_end": "Last day of the reporting period.",
    "dimension": "MSDS dimension, normalised to its current name (e.g. GestationLengthBirth).",
    "dimension_as_published": "Dimension name as the file wrote it.",
    "org_level": "Organisation level: National (England), Provider, or as published.",
    "org_code": "Organisation code as published (provider code such as RKB; 'National' or 'ALL' for England).",
    "org_name": "Organisation name as published.",
    "is_england": "True for the national (all submitters) rows.",
    "measure": "Category of the dimension, normalised across releases ('2' and '02' are '02'); null on totals.",
    "measure_as_published": "Category label as the file wrote it; null on a restored zero row.",
    "count_of": "What is counted: Deliveries, Babies or Women.",
    "value": "The count; null where blank or suppressed in the file (never zero); 0 on a restored row.",
    "is_suppressed": "True where the file withheld the value ('*').",
    "is_rounded": "True where the file's counts arrived rounded to the nearest 5 (every count a multiple of 5): not to be rounded again.",
    "is_restored_zero": "True for a category the file omitted because its count was zero (MSDS omits zero rows); value 0.",
    "source_file": "Raw file the row came from (a restored row: the file of its dimension's other rows).",
    "line_number": "Line of that file where the row starts; null on a restored zero row.",
    "source_row_count": "Identical copies of the row across files (0 for a restored zero).",
}
KEY_COLUMNS = [
    "period_type",
    "period_start",
    "period_end",
    "org_level",
    "org_code",
    "dimension",
    "measure",
    "count_of",
]


@dataclass
class MsdsLoad:
    """The outcome of loading every MSDS file."""

    staging: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[SourceFile] = field(default_factory=list)
    input_rows: int = 0

    @property
    def restored_zero_rows(self) -> int:
        return int(self.staging["is_restored_zero"].sum())

    @property
    def rows_accounted_for(self) -> int:
        return int(self.staging["source_row_count"].sum()) + len(self.quarantine)


# -- labels ----------------------------------------------------------------------------------
def label_key(labels: pd.Series) -> pd.Series:
    """A matching key: lower case, single spaces, ' / ' around slashes, no leading zero padding."""
    text = labels.fillna("").astype(str).str.lower()
    text = text.str.replace(r"\s*/\s*", " / ", regex=True)
    text = text.str.replace(r"\s+", " ", regex=True).str.strip()
    return text.str.replace(r"^0+(?=\d)", "", regex=True)


def _key(text: str) -> str:
    return label_key(pd.Series([text])).iloc[0]


def _lookup(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {_key(alias): canonical for alias, canonical in pairs}


DIMENSION_NAMES = _lookup((alias, d.name) for d in DIMENSIONS for alias in (d.name, *d.aliases))
CATEGORY_NAMES = {
    d.name: _lookup(
        [(c, c) for c in d.categories]
        + list(d.label_aliases.items())
        + ([(a, MISSING) for a in MISSING_ALIASES] if MISSING in d.categories else [])
    )
    for d in DIMENSIONS
}
CATEGORIES = pd.DataFrame(
    [(d.name, c) for d in DIMENSIONS for c in d.categories], columns=["dimension", "measure"]
)


def normalise_labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Canonical dimension, measure, org level and count-of; and each unknown category's reason.

    Dimensions outside ``DIMENSIONS`` keep their published label, spaces trimmed.
    """
    out = frame.copy()
    published_dimension = frame["dimension"].str.strip()
    dimension = label_key(published_dimension).map(DIMENSION_NAMES)
    out["dimension"] = dimension.fillna(published_dimension).replace("", None)
    measure_text = frame["measure"].str.replace(r"\s+", " ", regex=True).str.strip()
    keys = label_key(frame["measure"])
    canonical = pd.Series(None, index=frame.index, dtype=object)
    unknown = pd.Series(False, index=frame.index)
    for name, categories in CATEGORY_NAMES.items():  # a handful of dimensions, not rows
        rows = out["dimension"] == name
        if not rows.any() or not categories:
            continue
        mapped = keys[rows].map(categories)
        canonical.loc[rows] = mapped
        unknown.loc[rows] = mapped.isna()
    out["measure"] = canonical.where(canonical.notna(), measure_text.replace("", None))
    out["dimension_as_published"] = published_dimension
    out["measure_as_published"] = measure_text.replace("", None)
    for column, names in (("org_level", ORG_LEVEL_NAMES), ("count_of", COUNT_OF_NAMES)):
        text = frame[column].str.replace(r"\s+", " ", regex=True).str.strip()
        out[column] = (
            label_key(text).map(_lookup((n, n) for n in names)).fillna(text).replace("", None)
        )
    for column in ("org_code", "org_name"):
        out[column] = frame[column].str.strip().replace("", None)
    not_known = "measure: '" + measure_text + "' is not a known category of " + out["dimension"]
    reasons = not_known.where(measure_text.ne(""), "measure: missing").where(unknown)
    return out, reasons


# -- reading ---------------------------------------------------------------------------------
def check_header(path: Path, names: list[str]) -> str:
    """'monthly' or 'annual' by the header, or a FileFault naming what is wrong with it."""
    stripped = [" ".join(n.split()) for n in names]
    folded = [n.lower() for n in stripped]
    if "reportingperiodstartdate" in folded:
        layout, expected = "monthly", MONTHLY_HEADER
    elif "period" in folded:
        layout, expected = "annual", ANNUAL_HEADER
    else:
        raise FileFault(
            path,
            "not an MSDS file: the header has neither ReportingPeriodStartDate (monthly layout) "
            "nor Period (annual layout)",
        )
    wanted = {h.lower(): h for h in expected}
    missing = [h for h in expected if h.lower() not in folded]
    if missing:
        raise FileFault(
            path,
            f"missing required column(s) of the {layout} MSDS layout: "
            + ", ".join(repr(m) for m in missing),
        )
    unexpected = [n for n, f in zip(stripped, folded, strict=True) if f not in wanted]
    if unexpected:
        raise FileFault(path, f"unexpected column(s): {', '.join(repr(u) for u in unexpected)}")
    duplicated = sorted({n for n, f in zip(stripped, folded, strict=True) if folded.count(f) > 1})
    if duplicated:
        raise FileFault(path, f"duplicated column(s): {', '.join(repr(d) for d in duplicated)}")
    return layout


def read_msds_file(path: Path) -> tuple[pd.DataFrame, str, SourceFile]:
    """One file as text columns (snake_case) plus ``source_file``, ``line_number`` and
    ``record_fault``, read by the one raw reader (:mod:`cov_pipeline.raw_reader`): the layout is
    chosen from the header (:func:`check_header`); a record that cannot be read as delivered
    (wrong number of fields, a NUL byte, a cleared row) carries its fault."""
    layouts: list[str] = []

    def columns(path: Path, names: list[str]) -> list[str]:
        layouts.append(check_header(path, names))
        return [PUBLISHED_NAMES[" ".join(n.split()).lower()] for n in names]

    # the reader names columns in its faults ('NUL byte in Org_Name') as published
    records = read_records(path, columns, text="object")
    return records.frame.rename(columns=SNAKE_NAMES), layouts[0], records.info


def as_delivered(raw: pd.DataFrame, layout: str) -> pd.DataFrame:
    """The text columns under the layout's published names, with ``source_file`` and
    ``line_number`` (for quarantine records)."""
    header = MONTHLY_HEADER if layout == "monthly" else ANNUAL_HEADER
    delivered = raw[[SNAKE_NAMES[name] for name in header]]
    delivered.columns = list(header)
    return delivered.assign(source_file=raw["source_file"], line_number=raw["line_number"])


# -- parsing ---------------------------------------------------------------------------------
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[T ]00:00(?::00)?)?$"
_UK_DATE = r"^\d{1,2}/\d{1,2}/\d{4}$"
_FINANCIAL_YEAR = r"^(?P<y1>\d{4})\s*[-/]\s*(?P<y2>\d{2})$"
# The financial years whose first and last days pandas can hold as dates.
READABLE_FINANCIAL_YEARS = "the financial years that can be read (1678-79 to 2261-62)"


def parse_dates(text: pd.Series) -> pd.Series:
    """'2023-04-01' or '01/04/2023' (day first, as NHS files write them) to dates; else NaT."""
    text = text.str.strip()
    iso = pd.to_datetime(
        text.str[:10].where(text.str.match(_ISO_DATE)), format="%Y-%m-%d", errors="coerce"
    )
    uk = pd.to_datetime(text.where(text.str.match(_UK_DATE)), format="%d/%m/%Y", errors="coerce")
    return iso.fillna(uk).astype("datetime64[ns]")


def parse_periods(raw: pd.DataFrame, layout: str) -> tuple[pd.DataFrame, list[pd.Series]]:
    """period_type, period, period_start, period_end for each row, and the reasons of bad ones."""
    out = pd.DataFrame(index=raw.index)
    reasons: list[pd.Series] = []
    if layout == "annual":
        text = raw["period"].str.strip()
        parts = text.str.extract(_FINANCIAL_YEAR)
        y1 = pd.to_numeric(parts["y1"], errors="coerce")
        y2 = pd.to_numeric(parts["y2"], errors="coerce")
        financial_year = y1.notna() & (y2 == (y1 + 1) % 100)
        start_year = y1.where(financial_year).astype("Int64")
        out["period_start"] = _year_dates(start_year, "04-01")
        out["period_end"] = _year_dates(start_year + 1, "03-31")
        valid = financial_year & out["period_start"].notna() & out["period_end"].notna()
        out["period_type"] = np.where(valid, "financial_year", None)
        label = start_year.astype(str) + "-" + (start_year + 1).mod(100).astype(str).str.zfill(2)
        out["period"] = label.where(valid, None)
        reasons.append(_reason(text.eq(""), "period: missing"))
        reasons.append(
            ("period: '" + raw["period"] + "' is not a financial year like 2020-21").where(
                text.ne("") & ~financial_year
            )
        )
        reasons.append(
            ("period: '" + raw["period"] + f"' is outside {READABLE_FINANCIAL_YEARS}").where(
                financial_year & ~valid
            )
        )
        return out, reasons
    for column in ("period_start", "period_end"):
        text = raw[column].str.strip()
        out[column] = parse_dates(text)
        reasons.append(_reason(text.eq(""), f"{column}: missing"))
        reasons.append(
            (f"{column}: '" + raw[column] + "' is not a date (YYYY-MM-DD or DD/MM/YYYY)").where(
                text.ne("") & out[column].isna()
            )
        )
    start, end = out["period_start"], out["period_end"]
    reasons.append(_reason(end < start, "period_end: before period_start"))
    # compared field by field: date arithmetic near the last date pandas holds would overflow
    is_month = (
        (start.dt.day == 1)
        & (end.dt.year == start.dt.year)
        & (end.dt.month == start.dt.month)
        & end.dt.is_month_end
    )
    is_year = (
        (start.dt.month == 4)
        & (start.dt.day == 1)
        & (end.dt.year == start.dt.year + 1)
        & (end.dt.month == 3)
        & (end.dt.day == 31)
    )
    out["period_type"] = np.select([is_month, is_year], ["month", "financial_year"], "period")
    out.loc[start.isna() | end.isna(), "period_type"] = None
    fy = start.dt.year.astype("Int64")
    out["period"] = np.select(
        [is_month, is_year],
        [
            start.dt.strftime("%Y-%m"),
            fy.astype(str) + "-" + (fy + 1).mod(100).astype(str).str.zfill(2),
        ],
        start.dt.strftime("%Y-%m-%d") + " to " + end.dt.strftime("%Y-%m-%d"),
    )
    out["period"] = out["period"].where(out["period_type"].notna(), None)
    return out, reasons


def _year_dates(years: pd.Series, month_day: str) -> pd.Series:
    """The date ``month_day`` ('04-01') of each year; NaT where missing or beyond what pandas
    holds (1677-09-21 to 2262-04-11)."""
    text = years.astype(str).str.zfill(4) + "-" + month_day
    dates = pd.to_datetime(text.where(years.notna()), format="%Y-%m-%d", errors="coerce")
    return dates.astype("datetime64[ns]")


def _reason(mask: pd.Series, message: str) -> pd.Series:
    return pd.Series(np.where(mask, message, None), index=mask.index, dtype=object)


def parse_values(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """value (float, null where blank or '*'), is_suppressed, and the reason of non-numbers."""
    text = raw["value"].str.strip()
    suppressed = text.eq(SUPPRESSED_MARKER)
    number = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    invalid = text.ne("") & ~suppressed & (number.isna() | ~np.isfinite(number))
    out = pd.DataFrame(
        {
            "value": number.where(~invalid & ~suppressed).astype("float64"),
            "is_suppressed": suppressed,
        },
        index=raw.index,
    )
    reason = ("value: '" + raw["value"] + "' is not a number").where(invalid)
    return out, reason


def parse_msds(raw: pd.DataFrame, layout: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Typed rows of one file: (all rows typed, quarantine, each row's reasons; '' when valid).

    A record the reader could not read as delivered (a wrong number of fields, a NUL byte, a
    cleared row) is quarantined with that fault alone: its fields may be shifted or empty, and
    what they would say is no reason of the row's.
    """
    raw = raw.reset_index(drop=True)
    record_fault = raw[RECORD_FAULT]
    periods, period_reasons = parse_periods(raw, layout)
    values, value_reason = parse_values(raw)
    labels, label_reasons = normalise_labels(raw)
    typed = pd.concat(
        [
            periods,
            labels[
                [
                    "dimension", "dimension_as_published", "org_level", "org_code", "org_name",
                    "measure", "measure_as_published", "count_of",
                ]
            ],
            values,
            raw[["source_file", "line_number"]],
        ],
        axis=1,
    )  # fmt: skip
    contract = pandera_reasons(MsdsRow, typed)
    reasons = [*period_reasons, value_reason, label_reasons]
    reasons.append(contract.groupby(level=0).agg(" | ".join).reindex(typed.index))
    all_reasons = join_reasons(reasons, typed.index).where(record_fault.isna(), record_fault)
    header = MONTHLY_HEADER if layout == "monthly" else ANNUAL_HEADER
    quarantine = quarantine_frame(SOURCE, as_delivered(raw, layout), all_reasons, list(header))
    typed["is_england"] = typed["org_level"].eq(ENGLAND_ORG_LEVEL)
    typed[RECORD_FAULT] = record_fault.notna()
    # a record not read as delivered may hold another column's text where its count should be
    numbers = typed["value"].where(~typed[RECORD_FAULT]).dropna()
    typed["is_rounded"] = bool(len(numbers)) and bool((numbers % ROUNDING_BASE == 0).all())
    return typed, quarantine, all_reasons


# -- de-duplication and restored zeros -------------------------------------------------------
def _row_key(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    return pd.Series(
        pd.util.hash_pandas_object(frame[columns], index=False).to_numpy(), index=frame.index
    )


def deduplicate(valid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per period, organisation, dimension, category and count; conflicts quarantined.

    Identical copies in several files (overlapping releases) merge, counted in
    ``source_row_count``; a second copy in the same file, and every copy of a key whose values
    disagree between rows, go to quarantine (no file silently wins).
    """
    ordered = valid.sort_values(["source_file", "line_number"], kind="stable").reset_index(
        drop=True
    )
    key = _row_key(ordered, KEY_COLUMNS)
    measures = _row_key(ordered, ["value", "is_suppressed"])
    conflict = measures.groupby(key).transform("nunique") > 1
    keyed = ordered.assign(_key=key)
    same_file_copy = keyed.duplicated(["_key", "source_file"], keep="first")
    first_line = keyed.groupby(["_key", "source_file"])["line_number"].transform("first")
    locations = (ordered["source_file"] + ":" + ordered["line_number"].astype(str))[conflict]
    conflict_with = locations.groupby(key[conflict]).transform(", ".join).reindex(ordered.index)
    reasons = join_reasons(
        [
            (
                "conflicting values for the same period, organisation, dimension and measure: "
                + conflict_with.astype(object)
            ).where(conflict),
            ("duplicate of line " + first_line.astype(str) + " in the same file").where(
                same_file_copy & ~conflict
            ),
        ],
        ordered.index,
    )
    rejected = reasons != ""
    kept = ordered.loc[~rejected]
    kept_key = key[~rejected]
    first = kept.loc[~kept_key.duplicated(keep="first")].copy()
    first["source_row_count"] = (
        kept_key.map(kept_key.value_counts()).loc[first.index].astype("int64").to_numpy()
    )
    return first, ordered.loc[rejected].assign(_reasons=reasons[rejected])


GROUP_COLUMNS = [
    "period_type", "period", "period_start", "period_end", "org_level", "org_code", "dimension",
    "count_of",
]  # fmt: skip


def restore_zero_rows(staged: pd.DataFrame, blocked: pd.DataFrame) -> pd.DataFrame:
    """Zero rows for the known categories a published dimension left out.

    MSDS omits a category's row when its count is zero, so within a period and organisation that
    published the dimension, a known category with no row is a true zero: here the fill is
    correct. A dimension not published at all for that period and organisation stays absent (not
    zero). Where any row of the same file, organisation and dimension was quarantined, nothing is
    restored: the missing category might be the rejected row, not a zero. A record that could not
    be read as delivered (a cleared row, a wrong number of fields) might have been any row of its
    file: nothing is restored from that file.
    """
    known = staged[staged["dimension"].isin(CATEGORIES["dimension"].unique())]
    if known.empty:
        return staged.iloc[0:0]
    block_cols = ["source_file", "org_level", "org_code", "dimension"]
    flags = blocked[block_cols].drop_duplicates().assign(_blocked=True)
    is_blocked = known[block_cols].merge(flags, how="left", on=block_cols)["_blocked"]
    unreadable = blocked.loc[blocked[RECORD_FAULT].eq(True), "source_file"]
    is_blocked = is_blocked.notna().to_numpy() | known["source_file"].isin(unreadable).to_numpy()
    known = known.assign(_blocked=is_blocked)
    groups = (
        known.groupby(GROUP_COLUMNS, dropna=False, sort=False)
        .agg(
            org_name=("org_name", "first"),
            source_file=("source_file", "first"),
            is_rounded=("is_rounded", "all"),
            _blocked=("_blocked", "any"),
        )
        .reset_index()
    )
    groups = groups[~groups["_blocked"]].drop(columns="_blocked")
    grid = groups.merge(CATEGORIES, on="dimension", how="inner")
    present = known[[*GROUP_COLUMNS, "measure"]].drop_duplicates().assign(_present=True)
    grid = grid.merge(present, on=[*GROUP_COLUMNS, "measure"], how="left")
    restored = grid[grid["_present"].isna()].drop(columns="_present")
    return restored.assign(
        dimension_as_published=None,
        measure_as_published=None,
        is_england=restored["org_level"].eq(ENGLAND_ORG_LEVEL),
        value=0.0,
        is_suppressed=False,
        is_restored_zero=True,
        line_number=pd.array([pd.NA] * len(restored), dtype="Int64"),
        source_row_count=0,
    )


def load_msds(paths: Iterable[Path]) -> MsdsLoad:
    """Read, validate, normalise and de-duplicate every MSDS file; restore omitted zero rows.

    A file fault in any file raises before anything is returned.
    """
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault(f"maternity/{FILE_PATTERN}", "no MSDS files found")
    typed_parts, bad_parts, quarantine_parts, raws, files = [], [], [], {}, []
    for path in paths:  # files, not rows: each file is parsed whole
        try:
            raw, layout, info = read_msds_file(path)
            typed, quarantine, reasons = parse_msds(raw, layout)
        except FileFault:
            raise
        except Exception as exc:  # a fault of parsing, said with the file's name
            raise FileFault(path, f"{PARSING_FAILED} ({type(exc).__name__}: {exc})") from exc
        raws[path.name] = as_delivered(raw, layout)
        files.append(info)
        typed_parts.append(typed[reasons == ""])
        bad_parts.append(typed[reasons != ""])
        quarantine_parts.append(quarantine)
    valid = pd.concat(typed_parts, ignore_index=True)
    staged, duplicates = deduplicate(valid)
    if not duplicates.empty:
        quarantine_parts.append(
            pd.DataFrame(
                {
                    "source": SOURCE,
                    "source_file": duplicates["source_file"].to_numpy(),
                    "line_number": duplicates["line_number"].astype("int64").to_numpy(),
                    "reasons": duplicates["_reasons"].to_numpy(),
                    "record": _records_of(duplicates, raws).to_numpy(),
                }
            )
        )
    blocked = pd.concat([*bad_parts, duplicates], ignore_index=True)
    staged = staged.assign(is_restored_zero=False)
    restored = restore_zero_rows(staged, blocked)
    staging = pd.concat([staged, restored], ignore_index=True)
    staging["line_number"] = staging["line_number"].astype("Int64")
    staging = staging.sort_values(
        [
            "period_type",
            "period_start",
            "period_end",
            "is_england",
            "org_code",
            "dimension",
            "measure",
        ],
        ascending=[True, True, True, False, True, True, True],
        na_position="first",
        kind="stable",
    ).reset_index(drop=True)
    quarantine = pd.concat([empty_quarantine(), *quarantine_parts], ignore_index=True)
    quarantine = quarantine.sort_values(["source_file", "line_number"], kind="stable")
    return MsdsLoad(
        staging=staging[list(STAGING_DESCRIPTIONS)],
        quarantine=quarantine.reset_index(drop=True),
        files=files,
        input_rows=sum(len(raw) for raw in raws.values()),
    )


def _records_of(rows: pd.DataFrame, raws: dict[str, pd.DataFrame]) -> pd.Series:
    """The delivered text of typed rows (for their quarantine record), as JSON objects."""
    parts = []
    for name, wanted in rows.groupby("source_file", sort=False):  # files, not rows
        raw = raws[name]
        columns = [c for c in raw.columns if c not in ("source_file", "line_number")]
        found = raw.set_index("line_number").loc[wanted["line_number"].to_numpy(), columns]
        records = found.to_json(orient="records", lines=True, force_ascii=False).splitlines()
        parts.append(pd.Series(records, index=wanted.index))
    return pd.concat(parts).reindex(rows.index)


# -- the provider-versus-England mart ----------------------------------------------------------
@dataclass(frozen=True)
class ComparisonMeasure:
    """A percentage built from one MSDS dimension: numerator and denominator categories."""

    measure_id: str
    measure_name: str
    dimension: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    # 'low' (lower is better) or 'none' (no judgement), as stats.compare_with_benchmark takes it
    polarity: str

    @property
    def definition(self) -> str:
        """The categories summed, as MSDS spells them: 'D: 'a' + 'b' over 'a' + 'b' + 'c''."""
        numerator = " + ".join(f"'{c}'" for c in self.numerator)
        denominator = " + ".join(f"'{c}'" for c in self.denominator)
        return f"{self.dimension}: {numerator} over {denominator}"


COMPARISON_MEASURES: tuple[ComparisonMeasure, ...] = (
    # Late booking: booked at 91 days (13+0 weeks) or later, of deliveries with a known booking
    # gestation (docs/definitions.md; NICE ambition: booked by 10+0 weeks).
    ComparisonMeasure(
        "late_booking",
        "Late booking: booked at 91 days (13+0 weeks) or later",
        "GestAgeFormalAntenatalBookingGroup",
        ("91 to 140 days", "141+ days"),
        BOOKING_GROUPS,
        "low",
    ),
    # Preterm: born before 37+0 weeks (259 days), of babies with a known gestation.
    ComparisonMeasure(
        "preterm",
        "Preterm: babies born before 37 weeks",
        "GestationLengthBirthGroup37",
        ("<37 weeks",),
        ("<37 weeks", ">=37 weeks"),
        "low",
    ),
    # Extremely preterm: 27 weeks and under, i.e. before 28+0 weeks (196 days), of babies with a
    # known gestation length.
    ComparisonMeasure(
        "extremely_preterm",
        "Extremely preterm: babies born at 27 weeks and under",
        "GestationLengthBirth",
        ("27 weeks and under",),
        GESTATION_LENGTHS,
        "low",
    ),
    # Most deprived 30%: national IMD deciles 1-3 of the mother's residence at booking, of
    # deliveries with a known decile (pseudo postcodes, residents elsewhere and missing excluded).
    ComparisonMeasure(
        "most_deprived_30pct",
        "Deliveries to mothers living in national IMD deciles 1-3",
        "DeprivationDecileAtBooking",
        DECILES[:3],
        DECILES,
        "none",
    ),
)

MART_DESCRIPTIONS = {
    "period_type": "financial_year or month (MSDS annual or monthly publication).",
    "period": "Period label: '2020-21' (April to March) or '2023-04'.",
    "period_start": "First day of the period.",
    "period_end": "Last day of the period.",
    "org_level": "National (England) or Provider.",
    "org_code": "Organisation code as MSDS publishes it (RKB: University Hospitals Coventry and Warwickshire).",
    "org_name": "Organisation name as published.",
    "is_england": "True for England (all submitters), the benchmark of the other rows.",
    "measure_id": "late_booking, preterm, extremely_preterm or most_deprived_30pct.",
    "measure_name": "What the percentage counts.",
    "definition": "The MSDS dimension and the categories summed in numerator and denominator.",
    "numerator": "Deliveries or babies counted (MSDS counts, rounded to 5 by the publisher); null where blank or '*' in the publication.",
    "denominator": "Deliveries or babies with the item recorded (sum of rounded counts); null where a part is blank.",
    "value_pct": "numerator / denominator × 100.",
    "ci95_lower": "Lower 95% confidence limit (Wilson score interval), %.",
    "ci95_upper": "Upper 95% confidence limit (Wilson score interval), %.",
    "total_deliveries": "All deliveries of the organisation in the period (TotalDeliveries).",
    "total_babies": "All babies of the organisation in the period (TotalBabies).",
    "england_value_pct": "England's value of the same measure and period, %.",
    "polarity": "low (lower is better: late booking, prematurity) or none (deprivation share: no judgement).",
    "compared_to_england": (
        "Similar where England's value lies inside the 95% CI; otherwise Better/Worse (polarity "
        "low) or Lower/Higher (no polarity); null for England; 'Not "
        "compared' where a figure is missing."
    ),
    "is_rounded_input": "True where the MSDS counts arrived rounded to 5: already rounded, not rounded again.",
}

_PERIOD_ORG = ["period_type", "period", "period_start", "period_end", "org_level", "org_code"]


def _measure_categories() -> pd.DataFrame:
    rows = [
        (m.measure_id, m.dimension, category, category in m.numerator, category in m.denominator)
        for m in COMPARISON_MEASURES
        for category in dict.fromkeys((*m.denominator, *m.numerator))
    ]
    return pd.DataFrame(
        rows, columns=["measure_id", "dimension", "measure", "in_numerator", "in_denominator"]
    )


def maternity_vs_england(staging: pd.DataFrame) -> pd.DataFrame:
    """Per period and organisation, the four comparison percentages with Wilson CIs and England.

    A measure has a row where the organisation published its dimension in the period. A blank
    (missing) count in any category it sums makes that sum missing, never zero. Counts arrive
    rounded to 5 by NHS England (already public) and are passed on as published.
    """
    categories = _measure_categories()
    rows = staging.merge(categories, on=["dimension", "measure"], how="inner")
    rows = rows.assign(
        _num=rows["value"].where(rows["in_numerator"], 0.0),
        _den=rows["value"].where(rows["in_denominator"], 0.0),
        _num_missing=rows["in_numerator"] & rows["value"].isna(),
        _den_missing=rows["in_denominator"] & rows["value"].isna(),
    )
    grouped = rows.groupby([*_PERIOD_ORG, "measure_id"], sort=False, dropna=False)
    table = grouped.agg(
        org_name=("org_name", "first"),
        is_england=("is_england", "first"),
        numerator=("_num", "sum"),
        denominator=("_den", "sum"),
        _num_missing=("_num_missing", "any"),
        _den_missing=("_den_missing", "any"),
        is_rounded_input=("is_rounded", "all"),
    ).reset_index()
    table["numerator"] = table["numerator"].where(~table["_num_missing"]).round().astype("Int64")
    table["denominator"] = (
        table["denominator"].where(~table["_den_missing"]).round().astype("Int64")
    )

    totals = staging[staging["dimension"].isin(["TotalDeliveries", "TotalBabies"])]
    totals = totals.pivot_table(
        index=_PERIOD_ORG, columns="dimension", values="value", aggfunc="first", dropna=False
    ).reindex(columns=["TotalDeliveries", "TotalBabies"])
    totals = totals.rename(
        columns={"TotalDeliveries": "total_deliveries", "TotalBabies": "total_babies"}
    ).reset_index()
    totals.columns.name = None
    table = table.merge(totals, on=_PERIOD_ORG, how="left")
    for column in ("total_deliveries", "total_babies"):
        table[column] = table[column].round().astype("Int64")

    spec = pd.DataFrame(
        [(m.measure_id, m.measure_name, m.definition, m.polarity) for m in COMPARISON_MEASURES],
        columns=["measure_id", "measure_name", "definition", "polarity"],
    )
    table = table.merge(spec, on="measure_id", how="left")
    ci = stats.proportion_with_ci(table["numerator"], table["denominator"], multiplier=100)
    table["value_pct"] = ci["value"].to_numpy()
    table["ci95_lower"] = ci["ci_lower"].to_numpy()
    table["ci95_upper"] = ci["ci_upper"].to_numpy()

    keys = ["period_type", "period_start", "period_end", "measure_id"]
    england = table.loc[table["is_england"], [*keys, "value_pct"]]
    england = england.drop_duplicates(keys).rename(columns={"value_pct": "england_value_pct"})
    table = table.merge(england, on=keys, how="left")
    comparison = stats.compare_with_benchmark(
        table["ci95_lower"], table["ci95_upper"], table["england_value_pct"], table["polarity"]
    )
    comparison[table["is_england"].to_numpy()] = None
    table["compared_to_england"] = comparison
    order = {m.measure_id: i for i, m in enumerate(COMPARISON_MEASURES)}
    table = table.assign(_order=table["measure_id"].map(order), _other=~table["is_england"])
    table = table.sort_values(
        ["period_type", "period_start", "period_end", "_order", "_other", "org_code"],
        kind="stable",
    )
    return table[list(MART_DESCRIPTIONS)].reset_index(drop=True)
