"""OHID Fingertips "all data" CSV exports: read, parse, validate and de-duplicate.

Every export is read by the one raw reader (:mod:`cov_pipeline.raw_reader`: every field as
text, quoted fields may hold line breaks, records end in CRLF), under Fingertips' header rule
(:func:`check_header`), then parsed explicitly: blank values are missing, never zero; a blank value
with a value note was suppressed or not published. File faults raise :class:`FileFault` before
anything is written (any error while a file's rows are parsed ends as one naming the file); row
faults, the reader's (a record with the wrong number of fields, a NUL byte, a cleared row) and
the source's, go to quarantine with file, line and every reason. Identical rows exported in
several files are kept once; rows that disagree are quarantined, never silently resolved.

A million rows load in seconds (issue #7): the text stays in Arrow, screens on the raw bytes skip
string kernels that would change nothing, pandera words the reasons of the rows that can fail
only, de-duplication decides on the keys that repeat only, and the wide rows are taken once.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline.indicators import GSS_CODE_TEXT
from cov_pipeline.quality import (
    BEYOND_WHOLE_NUMBERS,
    FileFault,
    SourceFile,
    empty_quarantine,
    join_reasons,
    pandera_reasons,
    quarantine_frame,
    reasons_by_row,
    within_whole_numbers,
)
from cov_pipeline.raw_reader import RECORD_FAULT, read_records, with_record_faults
from cov_pipeline.schemas.fingertips import FingertipsRow
from cov_pipeline.schemas.reference import GSS_CODE_PATTERN

SOURCE = "fingertips"
FILE_PATTERN = "*.csv"  # the extension in any case (raw_reader.discover)
PARSING_FAILED = "could not be parsed: nothing from this source was written"
ARROW_STRING = pd.StringDtype("pyarrow")

# The export's header, in order, and the snake_case name each column takes in the warehouse.
# The 23rd column's name varies with the parent area type, so it is matched by pattern.
PARENT_COMPARISON = "<Compared to parent>"
HEADER = [
    ("Indicator ID", "indicator_id"),
    ("Indicator Name", "indicator_name"),
    ("Parent Code", "parent_code"),
    ("Parent Name", "parent_name"),
    ("Area Code", "area_code"),
    ("Area Name", "area_name"),
    ("Area Type", "area_type"),
    ("Sex", "sex"),
    ("Age", "age"),
    ("Category Type", "category_type"),
    ("Category", "category"),
    ("Time period", "time_period"),
    ("Value", "value"),
    ("Lower CI 95.0 limit", "ci95_lower"),
    ("Upper CI 95.0 limit", "ci95_upper"),
    ("Lower CI 99.8 limit", "ci99_8_lower"),
    ("Upper CI 99.8 limit", "ci99_8_upper"),
    ("Count", "count"),
    ("Denominator", "denominator"),
    ("Value note", "value_note"),
    ("Recent Trend", "recent_trend"),
    ("Compared to England value or percentiles", "compared_to_england"),
    (PARENT_COMPARISON, "compared_to_parent"),
    ("Time period Sortable", "time_period_sortable"),
    ("New data", "new_data"),
    ("Compared to goal", "compared_to_goal"),
]
OPTIONAL_TRAILING = ("Time period range", "time_period_range")
PARENT_COMPARISON_PATTERN = re.compile(r"^Compared to (?!England\b)(?!goal$).*percentiles$")

TEXT_COLUMNS = [name for _, name in HEADER] + [OPTIONAL_TRAILING[1]]
NUMERIC_COLUMNS = [
    "value",
    "ci95_lower",
    "ci95_upper",
    "ci99_8_lower",
    "ci99_8_upper",
    "count",
    "denominator",
]
KEY_COLUMNS = [
    "indicator_id",
    "area_code",
    "sex",
    "age",
    "category_type",
    "category",
    "time_period",
]
# What a re-export may not change without it being a conflict between files.
MEASURE_COLUMNS = [*NUMERIC_COLUMNS, "value_note"]

# Area codes (and parent codes, where given) are ONS GSS codes, as in the reference files:
# GSS_CODE_PATTERN is matched by Arrow (RE2), where \d is an ASCII digit only.
GSS_CODE_COLUMNS = ["area_code", "parent_code"]
NOT_A_GSS_CODE = " " + GSS_CODE_TEXT
# A rate's denominator: positive wherever its count is given.
NOT_A_DENOMINATOR = " is not positive, though count is given (a rate needs a denominator above 0)"

STAGING_DESCRIPTIONS = {
    "indicator_id": "Fingertips indicator ID.",
    "indicator_name": "Indicator name as published.",
    "parent_code": "Code of the parent area the export was made for (e.g. the region).",
    "parent_name": "Name of that parent area.",
    "area_code": "ONS area code (the key: area type text changes with boundary vintages).",
    "area_name": "Area name as published.",
    "area_type": "Area type text as published (e.g. 'Counties & UAs (from Apr 2023)').",
    "sex": "Sex breakdown ('Persons', 'Male', 'Female').",
    "age": "Age band as published.",
    "category_type": "Category type of a breakdown row (e.g. deprivation deciles); null on headline rows.",
    "category": "Category of a breakdown row; null on headline rows.",
    "is_headline": "True for the area's headline row (no category breakdown).",
    "time_period": "Time period as published ('2020 - 22', '2022/23', '2020/21 - 22/23').",
    "period_type": "calendar_year, financial_year, calendar_quarter, financial_quarter or month.",
    "period_start": "First day of the period (pooled periods: of the first year).",
    "period_end": "Last day of the period.",
    "period_years": "Years pooled in the period (1 for a single year; 3 for '2020 - 22').",
    "time_period_sortable": "Fingertips' sortable period code.",
    "time_period_range": "Fingertips' period range label where the export has it (e.g. '3y').",
    "value": "Published value; null where missing or suppressed (never zero).",
    "ci95_lower": "Published lower 95% confidence limit.",
    "ci95_upper": "Published upper 95% confidence limit.",
    "ci99_8_lower": "Published lower 99.8% confidence limit.",
    "ci99_8_upper": "Published upper 99.8% confidence limit.",
    "count": "Numerator (events) as published.",
    "denominator": "Denominator as published.",
    "value_note": "Fingertips value note (why a value is missing or qualified).",
    "recent_trend": "Fingertips' recent trend text.",
    "compared_to_england": "Fingertips' comparison with England.",
    "compared_to_parent": "Fingertips' comparison with the parent area (the export's 23rd column).",
    "compared_to_parent_basis": "Name of the export's 23rd column, which says what parent was compared.",
    "new_data": "Fingertips' 'New data' flag.",
    "compared_to_goal": "Fingertips' comparison with a goal, where set.",
    "source_file": "Raw file the row was taken from (the first, by name, that held it).",
    "line_number": "Line in that file where the record starts.",
    "source_row_count": "How many identical copies of the row the raw files held (re-exports overlap).",
}


@dataclass
class FingertipsLoad:
    """The outcome of loading a folder of exports."""

    staging: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[SourceFile] = field(default_factory=list)
    input_rows: int = 0

    @property
    def duplicate_rows_merged(self) -> int:
        return int(self.staging["source_row_count"].sum()) - len(self.staging)

    @property
    def rows_accounted_for(self) -> int:
        return int(self.staging["source_row_count"].sum()) + len(self.quarantine)


def check_header(path: Path, names: list[str]) -> list[str]:
    """The snake_case name of each of the export's columns, or a FileFault naming the fault:
    Fingertips' header rule, which :func:`read_records` applies to the names as delivered."""
    stripped = [n.strip() for n in names]
    expected = [header for header, _ in HEADER]
    if parent_basis(stripped):
        expected[22] = stripped[22]
    if len(stripped) == len(expected) + 1:
        expected.append(OPTIONAL_TRAILING[0])

    known = set(expected) | {OPTIONAL_TRAILING[0]}
    missing = [h for h in expected if h not in stripped and h != OPTIONAL_TRAILING[0]]
    if PARENT_COMPARISON in missing:
        missing.remove(PARENT_COMPARISON)
        if not any(PARENT_COMPARISON_PATTERN.match(n) for n in stripped):
            missing.append("Compared to <parent> value or percentiles")
    if missing:
        raise FileFault(path, f"missing required column(s): {', '.join(repr(m) for m in missing)}")
    unexpected = [n for n in stripped if n not in known]
    if unexpected:
        raise FileFault(path, f"unexpected column(s): {', '.join(repr(u) for u in unexpected)}")
    duplicated = sorted({n for n in stripped if stripped.count(n) > 1})
    if duplicated:
        raise FileFault(path, f"duplicated column(s): {', '.join(repr(d) for d in duplicated)}")
    for position, (found, wanted) in enumerate(zip(stripped, expected, strict=False), start=1):
        if found != wanted:
            raise FileFault(
                path,
                f"columns out of order: column {position} is {found!r} where the Fingertips "
                f"export has {wanted!r}",
            )
    snake = [name for _, name in HEADER]
    if len(stripped) == len(HEADER) + 1:
        snake.append(OPTIONAL_TRAILING[1])
    return snake


def parent_basis(names: list[str]) -> str:
    """The name of the export's 23rd column (what parent its values were compared with), or
    ``""`` where that column is not a parent comparison."""
    name = names[22].strip() if len(names) > 22 else ""
    return name if PARENT_COMPARISON_PATTERN.match(name) else ""


def read_fingertips_file(path: Path) -> tuple[pd.DataFrame, SourceFile]:
    """One export, read by the one raw reader (:func:`read_records`), with what Fingertips adds.

    Text columns are Arrow-backed strings (``string[pyarrow]``) named as the warehouse names
    them, ``time_period_range`` blank where the export has no such column; ``line_number`` (the
    physical line where the record starts), ``source_file``, ``record_fault`` (why the record
    cannot be read as delivered, else null; Arrow text) and ``compared_to_parent_basis`` (the 23rd column's
    name). File faults raise :class:`FileFault`.
    """
    import pyarrow as pa

    records = read_records(path, check_header, what="data rows")
    frame = records.frame
    if OPTIONAL_TRAILING[1] not in frame.columns:
        frame[OPTIONAL_TRAILING[1]] = _constant_text("", len(frame), frame.index)
    frame["compared_to_parent_basis"] = parent_basis(records.delivered) or None
    # The faults as Arrow text: pandas' concat tests every value of a column of Python objects
    # that may all be None (seconds for a million rows), and an Arrow column not at all.
    faults = pa.array(frame[RECORD_FAULT].to_numpy(dtype=object), pa.large_string())
    frame[RECORD_FAULT] = pd.Series(pd.arrays.ArrowStringArray(faults), index=frame.index)
    return frame, records.info


def _constant_text(value: str, length: int, index: pd.Index) -> pd.Series:
    """A string[pyarrow] column holding one value, built by Arrow rather than from Python objects."""
    import pyarrow as pa

    array = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(length, dtype=np.int32)), pa.array([value], pa.string())
    ).cast(pa.string())
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index)


# -- time periods ----------------------------------------------------------------------------
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
# The years a period may start in (the first and last): public health data of the last century
# and this one.
PERIOD_YEARS = (1900, 2099)

# Digits are ASCII digits: ``\d`` would also take other scripts' digits ('２０２２'), which
# no number parser reads; such a label is not recognised (a row fault), never an error.
_PERIOD_PATTERNS = {
    # 2022
    "calendar_year": r"^(?P<y1>[0-9]{4})$",
    # 2020 - 22 (pooled calendar years)
    "calendar_pooled": r"^(?P<y1>[0-9]{4})\s*-\s*(?P<y2>[0-9]{2}|[0-9]{4})$",
    # 2022/23
    "financial_year": r"^(?P<y1>[0-9]{4})/(?P<y1b>[0-9]{2})$",
    # 2020/21 - 22/23 (pooled financial years)
    "financial_pooled": (
        r"^(?P<y1>[0-9]{4})/(?P<y1b>[0-9]{2})\s*-\s*(?P<y2>[0-9]{2})/(?P<y2b>[0-9]{2})$"
    ),
    # 2022 Q1
    "calendar_quarter": r"^(?P<y1>[0-9]{4})\s+Q(?P<q>[1-4])$",
    # 2022/23 Q1
    "financial_quarter": r"^(?P<y1>[0-9]{4})/(?P<y1b>[0-9]{2})\s+Q(?P<q>[1-4])$",
    # Jan 2022
    "month": r"^(?P<mon>[A-Za-z]{3})[A-Za-z]*\s+(?P<y1>[0-9]{4})$",
}


def _full_year(start_year: pd.Series, two_digits: pd.Series) -> pd.Series:
    """'22' after 2020 is 2022; '01' after 1999 is 2001."""
    yy = pd.to_numeric(two_digits, errors="coerce")
    candidate = (start_year // 100) * 100 + yy
    return candidate.where(candidate >= start_year, candidate + 100).where(yy < 100, yy)


def parse_time_periods(periods: pd.Series) -> pd.DataFrame:
    """Type, first day, last day and years pooled of each Fingertips period label (null if unknown).

    Financial years run 1 April to 31 March; '2020/21 - 22/23' pools three financial years. An
    export holds a few dozen distinct labels however many rows it has: each is parsed once.
    """
    codes, parsed = _parse_distinct_periods(periods)
    return pd.DataFrame(_take_periods(parsed, codes, periods.index), copy=False)


def _parse_distinct_periods(periods: pd.Series) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's label code and the parsed distinct labels, with one more row of nulls last:
    the code -1 of a missing label picks it as it stands."""
    codes, labels = pd.factorize(periods, use_na_sentinel=True)
    parsed = _parse_period_labels(pd.Series(labels, dtype=object))
    nulls = pd.DataFrame({name: pd.Series([None], dtype=parsed[name].dtype) for name in parsed})
    return codes, pd.concat([parsed, nulls], ignore_index=True)


def _take_periods(parsed: pd.DataFrame, codes: np.ndarray, index: pd.Index) -> dict[str, pd.Series]:
    """The parsed columns at ``codes``, one take per column (no frame-wide indexing), in their
    own dtypes."""
    return {
        name: pd.Series(parsed[name].array.take(codes), index=index, copy=False)
        for name in parsed.columns
    }


def _parse_period_labels(periods: pd.Series) -> pd.DataFrame:
    text = periods.fillna("").astype(str).str.strip()
    out = pd.DataFrame(
        {
            "period_type": pd.Series(None, index=periods.index, dtype=object),
            "period_start": pd.Series(pd.NaT, index=periods.index, dtype="datetime64[ns]"),
            "period_end": pd.Series(pd.NaT, index=periods.index, dtype="datetime64[ns]"),
            "period_years": pd.Series(pd.NA, index=periods.index, dtype="Int64"),
        }
    )
    for kind, pattern in _PERIOD_PATTERNS.items():
        parts = text.str.extract(pattern)
        hit = parts["y1"].notna() & out["period_type"].isna()
        if not hit.any():
            continue
        parts = parts.loc[hit]
        y1 = pd.to_numeric(parts["y1"], errors="coerce")
        # a year outside PERIOD_YEARS is no period of these data (and pandas' timestamps end
        # in 2262; a second year is at most 99 after the first): the label is not recognised
        known = y1.between(*PERIOD_YEARS)
        hit.loc[hit] = known.to_numpy()
        parts, y1 = parts.loc[known], y1.loc[known].astype("int64")
        if "y1b" in parts:
            # the second half of '2022/23' must be the following year
            follows = _full_year(y1, parts["y1b"]) == y1 + 1
            hit.loc[hit] = follows.to_numpy()
            parts, y1 = parts.loc[follows], y1.loc[follows]
        if kind == "calendar_year":
            start, end, years, label = _dates(y1, 1, 1), _dates(y1, 12, 31), 1, "calendar_year"
        elif kind == "calendar_pooled":
            y2 = _full_year(y1, parts["y2"].str[-2:])
            valid = y2 > y1
            start, end = _dates(y1, 1, 1), _dates(y2, 12, 31)
            years, label = (y2 - y1 + 1), "calendar_year"
            hit.loc[hit] = valid.to_numpy()
            start, end, years = start[valid], end[valid], years[valid]
        elif kind == "financial_year":
            start, end, years, label = _dates(y1, 4, 1), _dates(y1 + 1, 3, 31), 1, "financial_year"
        elif kind == "financial_pooled":
            y2 = _full_year(y1, parts["y2"])
            valid = (y2 > y1) & (_full_year(y2, parts["y2b"]) == y2 + 1)
            start, end = _dates(y1, 4, 1), _dates(y2 + 1, 3, 31)
            years, label = (y2 - y1 + 1), "financial_year"
            hit.loc[hit] = valid.to_numpy()
            start, end, years = start[valid], end[valid], years[valid]
        elif kind in ("calendar_quarter", "financial_quarter"):
            q = pd.to_numeric(parts["q"]).astype("int64")
            first_month = (
                (q - 1) * 3 + 1 if kind == "calendar_quarter" else ((q - 1) * 3 + 3) % 12 + 1
            )
            year = y1 if kind == "calendar_quarter" else y1 + (q == 4).astype("int64")
            start = pd.to_datetime(pd.DataFrame({"year": year, "month": first_month, "day": 1}))
            end = start + pd.offsets.QuarterEnd(0)
            years, label = 1, kind
        else:  # month
            month = parts["mon"].str.lower().map(_MONTHS)
            valid = month.notna()
            hit.loc[hit] = valid.to_numpy()
            start = pd.to_datetime(
                pd.DataFrame({"year": y1[valid], "month": month[valid].astype("int64"), "day": 1})
            )
            end = start + pd.offsets.MonthEnd(0)
            years, label = 1, "month"
        out.loc[hit, "period_type"] = label
        out.loc[hit, "period_start"] = np.asarray(start, dtype="datetime64[ns]")
        out.loc[hit, "period_end"] = np.asarray(end, dtype="datetime64[ns]")
        out.loc[hit, "period_years"] = years if np.isscalar(years) else np.asarray(years)
    return out


def _dates(years: pd.Series, month: int, day: int) -> pd.Series:
    return pd.to_datetime(pd.DataFrame({"year": years, "month": month, "day": day}))


# -- parsing and validation ------------------------------------------------------------------
def parse_fingertips(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed, validated rows and quarantine rows from the text of one or more exports.

    The text work (trimming, line breaks, blanks to null, numbers) runs on the Arrow arrays
    behind the columns; pandas sees only the finished columns.
    """
    frame, valid, quarantine = _parse(raw)
    if valid.all():
        return frame, quarantine
    return _take_rows(frame, np.flatnonzero(valid)), quarantine


def _parse(raw: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Every row of ``raw`` typed (row ``i`` of the frame is row ``i`` of ``raw``), which rows
    are valid, and the quarantine rows of the others.

    The invalid rows stay in the frame so that its rows are taken once, at the end, by
    :func:`_deduplicate`. Reasons are worded for the rows that have one only: most rows pass
    every rule.
    """
    import pyarrow.compute as pc

    if not raw.index.equals(pd.RangeIndex(len(raw))):
        raw = raw.reset_index(drop=True)
    index = raw.index
    typed: dict[str, object] = {
        name: raw[name] for name in ("source_file", "line_number", "compared_to_parent_basis")
    }
    # (where the rule fails, raw column whose text the reason quotes, the reason's words)
    rules: list[tuple[np.ndarray, str, str, str]] = []
    # One task per column: Arrow's kernels release the GIL, so columns are worked side by side.
    coded = ["indicator_id", "time_period_sortable"]
    text_columns = [c for c in TEXT_COLUMNS if c not in NUMERIC_COLUMNS and c not in coded]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        cleaned = pool.map(lambda c: _clean_text(_arrow_text(raw[c])), text_columns)
        measures = pool.map(lambda c: _parse_number(_arrow_text(raw[c])), NUMERIC_COLUMNS)
        trimmed = pool.map(lambda c: _trim(_arrow_text(raw[c])), coded)
        for column, array in zip(text_columns, cleaned, strict=True):
            typed[column] = pd.Series(pd.arrays.ArrowStringArray(array), index=index)
        # where given: a missing code is the contract's fault
        codes = pool.map(lambda c: _not_gss_code(typed[c].array._pa_array), GSS_CODE_COLUMNS)
        numbers = dict(zip(NUMERIC_COLUMNS, measures, strict=True))
        stripped = dict(zip(coded, trimmed, strict=True))
        not_gss = dict(zip(GSS_CODE_COLUMNS, codes, strict=True))

    number = _arrow_to_float(stripped["indicator_id"])
    with np.errstate(invalid="ignore"):
        whole = ~np.isnan(number) & (np.mod(number, 1) == 0)
    bad_id = _bool(pc.not_equal(stripped["indicator_id"], "")) & ~whole
    rules.append((bad_id, "indicator_id", "indicator_id: ", " is not a whole number"))
    too_large = whole & ~within_whole_numbers(number)
    rules.append((too_large, "indicator_id", "indicator_id: ", BEYOND_WHOLE_NUMBERS))
    typed["indicator_id"] = _whole_numbers(np.where(whole & ~too_large, number, np.nan))

    for column in NUMERIC_COLUMNS:
        number, invalid = numbers[column]
        rules.append((invalid, column, f"{column}: ", " is not a number"))
        typed[column] = number

    sortable = np.round(_arrow_to_float(stripped["time_period_sortable"]))
    too_large = ~np.isnan(sortable) & ~within_whole_numbers(sortable)
    rules.append(
        (too_large, "time_period_sortable", "time_period_sortable: ", BEYOND_WHOLE_NUMBERS)
    )
    typed["time_period_sortable"] = _whole_numbers(np.where(too_large, np.nan, sortable))
    del stripped

    period_codes, parsed = _parse_distinct_periods(typed["time_period"])
    typed.update(_take_periods(parsed, period_codes, index))
    unknown = parsed["period_type"].isna().to_numpy()[period_codes] & (period_codes >= 0)
    rules.append((unknown, "time_period", "time_period: ", " is not a recognised period"))

    for column in GSS_CODE_COLUMNS:
        rules.append((not_gss[column], column, f"{column}: ", NOT_A_GSS_CODE))
    with np.errstate(invalid="ignore"):
        no_denominator = ~np.isnan(typed["count"]) & (typed["denominator"] <= 0)
    rules.append((no_denominator, "denominator", "denominator: ", NOT_A_DENOMINATOR))
    typed["is_headline"] = typed["category_type"].isna() & typed["category"].isna()
    # The contract's failure texts list a failing row's columns in the frame's order: keep it.
    order = [
        *("source_file", "line_number", "compared_to_parent_basis"),
        *(c for c in TEXT_COLUMNS if c not in NUMERIC_COLUMNS),
        *NUMERIC_COLUMNS,
        *parsed.columns,
        "is_headline",
    ]
    # copy=False: every column is new or an unchanged raw column; no copy, no consolidation
    frame = pd.DataFrame({c: typed[c] for c in order}, index=index, copy=False)

    contract = _contract_reasons(frame)
    # a record the reader could not take as delivered (a field more or fewer, a NUL byte, a
    # cleared row) is quarantined whatever its values
    flagged = raw[RECORD_FAULT].notna().to_numpy(dtype=bool, copy=True)
    for failed, *_ in rules:
        flagged |= failed
    flagged[contract.index.to_numpy(dtype=np.int64)] = True  # labels are positions here
    if not flagged.any():
        return frame, ~flagged, empty_quarantine()

    at = np.flatnonzero(flagged)
    rows = _rows_at(raw, at)
    reasons = [
        _reason(failed[at], prefix, rows[column], suffix)
        for failed, column, prefix, suffix in rules
    ]
    if not contract.empty:
        reasons.append(reasons_by_row(contract, rows.index))
    # the reader's fault as every source words it: alone where the fields are shifted or
    # absent, before the other reasons for a NUL byte
    all_reasons = with_record_faults(join_reasons(reasons, rows.index), rows[RECORD_FAULT])
    quarantine = quarantine_frame(SOURCE, rows, all_reasons, TEXT_COLUMNS)
    valid = np.ones(len(frame), dtype=bool)
    valid[at[(all_reasons != "").to_numpy()]] = False
    return frame, valid, quarantine


def _not_gss_code(codes) -> np.ndarray:
    """Where a code (Arrow text, trimmed) is given and is not an ONS GSS code."""
    import pyarrow.compute as pc

    return _bool(pc.invert(pc.match_substring_regex(codes, GSS_CODE_PATTERN)))


def _whole_numbers(numbers: np.ndarray) -> pd.arrays.IntegerArray:
    """Whole float64 numbers as ``Int64``, NaN as missing: what ``astype("Int64")`` gives, with
    its test (each value equal to its int64 cast) run once on the whole array rather than
    through pandas' general path. Anything else (a fraction, infinity, beyond int64) takes
    ``astype`` itself, which raises."""
    missing = np.isnan(numbers)
    filled = np.where(missing, 1.0, numbers)  # pandas holds 1 under the mask, as here
    with np.errstate(invalid="ignore"):
        whole = filled.astype(np.int64)
    if not np.array_equal(whole, filled):
        return pd.Series(numbers).astype("Int64").array
    return pd.arrays.IntegerArray(whole, missing)


def _contract_reasons(frame: pd.DataFrame) -> pd.Series:
    """pandera's reasons (see :func:`pandera_reasons`) for the rows that break ``FingertipsRow``,
    with pandera run over just the rows that can fail.

    pandera tests every row and, for each frame-level check, every column of every row for
    nulls; over a million rows that costs more than the parsing. :func:`_contract_suspects`
    finds, cheaply and erring towards too many, the rows that can fail; pandera then validates
    those rows alone (the checks are row by row) and words their reasons exactly as it would
    have in the whole frame. Contract breaks that are not row faults (a wrong dtype, a missing
    column) raise as before: the subset has the frame's columns and dtypes, even when empty.
    """
    suspects = _contract_suspects(FingertipsRow.to_schema(), frame)
    return pandera_reasons(FingertipsRow, _rows_at(frame, np.flatnonzero(suspects)), inplace=True)


def _contract_suspects(schema, frame: pd.DataFrame) -> np.ndarray:
    """Rows that may fail ``schema``: every row pandera would reject, and perhaps a few more.

    Runs the schema's own checks the cheap way: a column check on the column's distinct values
    (checks are value by value; a text column has few), a frame check once without pandera's
    leniency for rows of nulls. A feature whose failures this does not predict (uniqueness,
    coercion, parsers, checks on groups or not one result per value, object columns, whose
    every value's type pandera checks) makes every row a suspect: pandera then checks all.
    """
    every = np.ones(len(frame), dtype=bool)
    if schema.unique or schema.coerce or schema.parsers or schema.index is not None:
        return every
    suspect = np.zeros(len(frame), dtype=bool)
    for name, column in schema.columns.items():
        if name not in frame.columns:
            continue  # pandera says so (not a row fault): it sees the same columns
        values = frame[name]
        if (
            column.unique
            or column.coerce
            or column.regex
            or column.parsers
            or column.default is not None
            or values.dtype == object
        ):
            return every
        if not column.nullable:
            suspect |= values.isna().to_numpy()
        for check in column.checks:
            failing = _failing_values(check, values)
            if failing is None:
                return every
            suspect |= failing
    for check in schema.checks:
        if check.groupby is not None:
            return every
        strict = copy.copy(check)
        strict.ignore_na = False  # pandera passes a row of nulls; a suspect here, harmlessly
        passed = _passed(strict(frame).check_output, frame.index)
        if passed is None:
            return every
        suspect |= ~passed
    return suspect


def _failing_values(check, values: pd.Series) -> np.ndarray | None:
    """Where a column check fails, or None where its result is not one boolean per value.

    A text column is checked on its distinct values (checks are value by value; a text column
    has few), other columns as they are. Nulls are left out, as pandera leaves them out,
    unless the check says not to ignore them.
    """
    if check.groupby is not None:
        return None
    text = isinstance(values.dtype, pd.StringDtype)
    if text:
        codes, distinct = pd.factorize(values, use_na_sentinel=check.ignore_na)
        subject = pd.Series(distinct)
    else:
        subject = pd.Series(values.array, copy=False)
    judged = subject.index[subject.notna().to_numpy()] if check.ignore_na else subject.index
    output = check(subject).check_output
    if not isinstance(output, pd.Series) or not output.index.equals(judged):
        return None
    failing = np.zeros(len(subject) + 1, dtype=bool)  # one more: a left-out null's code -1
    failing[judged.to_numpy()[~output.to_numpy(dtype=bool, na_value=False)]] = True
    return failing[codes] if text else failing[:-1]


def _passed(output, index: pd.Index) -> np.ndarray | None:
    """A check's output as one boolean per row of ``index`` (unknown counts as failed), or None
    when it is not a boolean Series on that index."""
    if not isinstance(output, pd.Series) or not output.index.equals(index):
        return None
    return output.to_numpy(dtype=bool, na_value=False)


def _arrow_text(text: pd.Series):
    """The Arrow array behind a text column (converted once if the column is not Arrow-backed)."""
    import pyarrow as pa

    if _is_arrow_text(text.dtype):
        return text.array._pa_array
    return pa.chunked_array([pa.array(text.astype(ARROW_STRING).array)])


def _is_arrow_text(dtype) -> bool:
    """Whether a pandas column is ``string[pyarrow]``."""
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _clean_text(text):
    """Line breaks (CRLF, a lone CR) as LF, outer whitespace trimmed, blank as null."""
    import pyarrow.compute as pc

    if _may_contain(text, b"\r") and pc.any(pc.match_substring(text, "\r")).as_py():
        text = pc.replace_substring_regex(text, "\r\n?", "\n")
    text = _trim(text)
    blank = pc.equal(text, "")
    if not pc.any(blank).as_py():
        return text
    return _null_where(blank, text)


def _parse_number(text) -> tuple[np.ndarray, np.ndarray]:
    """A measure column's numbers (thousands separators dropped, blank as NaN) and where its text
    is not a number."""
    import pyarrow.compute as pc

    text = _trim(text)
    if _may_contain(text, b",") and pc.any(pc.match_substring(text, ",")).as_py():
        text = pc.replace_substring(text, ",", "")
    number = _arrow_to_float(text)
    invalid = _bool(pc.not_equal(text, "")) & ~np.isfinite(number)
    return (np.where(invalid, np.nan, number) if invalid.any() else number), invalid


def _trim(text):
    """``utf8_trim_whitespace``, skipped (no copy) where no value starts or ends with whitespace:
    Arrow's ``utf8_is_space`` and its trim agree on every code point (as does ``str.strip``)."""
    import pyarrow.compute as pc

    if not _may_have_outer_space(text):
        return text
    edges = pc.or_(
        pc.utf8_is_space(pc.utf8_slice_codeunits(text, 0, 1)),
        pc.utf8_is_space(pc.utf8_slice_codeunits(text, -1)),
    )
    if not pc.any(edges).as_py():
        return text
    return pc.utf8_trim_whitespace(text)


def _value_bytes(text) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each chunk of an Arrow text array as its value offsets and the bytes they point into,
    viewed in place (no copy). For ``string`` and ``large_string`` (:func:`_is_string_array`)."""
    import pyarrow as pa

    width = np.dtype(np.int64 if text.type == pa.large_string() else np.int32)
    for chunk in text.chunks if isinstance(text, pa.ChunkedArray) else [text]:
        if len(chunk) == 0:
            continue
        _, offsets, data = chunk.buffers()
        starts = np.frombuffer(offsets, width, len(chunk) + 1, chunk.offset * width.itemsize)
        data = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
        yield starts, data


def _may_contain(text, byte: bytes) -> bool:
    """Whether a byte occurs in the text's values: a scan of the raw bytes, many times cheaper
    than a string kernel, to skip one that cannot find anything. (Bytes under a null count:
    this may say yes for nothing, never no for something.)"""
    if not _is_string_array(text):
        return True
    code = ord(byte)
    return any(
        bool((data[offsets[0] : offsets[-1]] == code).any()) for offsets, data in _value_bytes(text)
    )


def _may_have_outer_space(text) -> bool:
    """Whether any value may start or end with whitespace, judged on its first and last byte:
    every character Arrow (or Unicode) counts as whitespace is a byte up to 0x20 in UTF-8, or a
    sequence of bytes from 0x80. Erring like :func:`_may_contain`, never the other way (an
    empty value's "edges" are its neighbours' edges, judged anyway)."""
    if not _is_string_array(text):
        return True
    for offsets, data in _value_bytes(text):
        if data.size:
            edges = np.concatenate((offsets[:-1], offsets[1:] - 1))
            if _EDGE_BYTE[data.take(edges, mode="clip")].any():
                return True
    return False


# Bytes that may begin or end a whitespace character in UTF-8 (and DEL, for simplicity).
_EDGE_BYTE = np.zeros(256, dtype=bool)
_EDGE_BYTE[:0x21] = _EDGE_BYTE[0x7F:] = True


def _null_where(mask, text):
    """``text`` made null where ``mask`` holds (``if_else(mask, None, text)``). A chunk with no
    nulls and no offset, as the readers and Arrow's kernels make them, gets a validity bitmap
    and keeps its offsets and bytes, instead of a copy of them all."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(text, pa.ChunkedArray):
        return pc.if_else(mask, pa.scalar(None, text.type), text)
    chunks, start = [], 0
    for chunk in text.chunks:
        # a kernel's output need not be chunked as its input: take the mask's span of this chunk
        where = mask.slice(start, len(chunk))
        start += len(chunk)
        where = where.combine_chunks() if isinstance(where, pa.ChunkedArray) else where
        if not pc.any(where).as_py():
            chunks.append(chunk)
            continue
        valid = pc.invert(where)
        if chunk.null_count or chunk.offset or where.null_count or valid.offset:
            chunks.append(pc.if_else(where, pa.scalar(None, chunk.type), chunk))
            continue
        chunks.append(
            pa.Array.from_buffers(
                chunk.type, len(chunk), [valid.buffers()[1], *chunk.buffers()[1:]]
            )
        )
    return pa.chunked_array(chunks, text.type)


def _is_string_array(text) -> bool:
    """Whether an Arrow array holds text as offsets into bytes (what the byte screens read)."""
    import pyarrow as pa

    return text.type in (pa.string(), pa.large_string())


def _bool(array) -> np.ndarray:
    """An Arrow boolean array as numpy, null as False."""
    import pyarrow.compute as pc

    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def _arrow_to_float(array) -> np.ndarray:
    """Arrow text to float64; blank or unreadable text gives NaN.

    Arrow's cast parses a clean column in C++; a column with any unreadable value (rare) falls
    back to pandas, which marks just those values missing.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        cleaned = _null_where(pc.equal(array, ""), array)
        return pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        text = pd.Series(pd.arrays.ArrowStringArray(array))
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _reason(mask: pd.Series, prefix: str, values: pd.Series, suffix: str) -> pd.Series:
    """The reason text on the rows where ``mask`` holds, null elsewhere (built for those rows only)."""
    out = pd.Series(None, index=values.index, dtype=object)
    if mask.any():
        out[mask] = prefix + "'" + values[mask].astype(str) + "'" + suffix
    return out


def deduplicate(valid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one of several identical rows; quarantine every row of a key whose copies disagree.

    Copies in different files are re-exports and merge (``source_row_count`` counts them; the
    copy kept is the first by file name and line); a second copy inside the same file is
    quarantined as a duplicate; copies that disagree on any measure (value, CIs, count,
    denominator, value note) are all quarantined: no file wins. The decisions are made on a
    narrow frame of hashes and positions; the wide rows are taken once at the end.
    """
    if valid.empty:
        return valid.assign(source_row_count=pd.Series(dtype="int64")), empty_quarantine()
    staged, rejected, reasons = _deduplicate(valid, np.arange(len(valid)))
    return staged, _take_rows(valid, rejected).assign(_reasons=reasons)


def _deduplicate(
    frame: pd.DataFrame, rows: np.ndarray, in_order: bool = False
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`deduplicate` of the rows of ``frame`` at ``rows`` (ascending positions): the staged
    rows, and the positions in ``frame`` of the rejected rows with their reasons, by file and line.

    Only a key that more than one row holds needs a decision. Those rows are found with one
    pass over the keys, and the rules are applied to them alone: every row of such a key
    is among them, so each decision is the one the whole table would give. Every other row is
    staged as it is, with a count of 1. ``in_order`` says the rows are known to be in file and
    line order already (as :func:`load_fingertips` reads them), which is then not checked.
    """
    if in_order:
        order = rows
    else:
        files = frame["source_file"].to_numpy(dtype=object)[rows]
        order = rows[_file_line_order(files, frame["line_number"].to_numpy()[rows])]
        del files
    key = _key(frame).to_numpy()[order]
    repeated = pd.Series(key).duplicated(keep=False).to_numpy()
    staged_at, counts = ~repeated, np.ones(len(order), dtype="int64")
    rejected, reasons = np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    if repeated.any():
        at = np.flatnonzero(repeated)
        first, copies, rejects, why = _resolve_repeats(frame, order[at], key[at])
        staged_at[at[first]] = True
        counts[at[first]] = copies
        rejected, reasons = order[at[rejects]], why[rejects]
    # in the staging table's column order, so that no second copy is needed to reorder them
    staging_order = [c for c in STAGING_DESCRIPTIONS if c in frame.columns]
    staged = _take_rows(
        frame, order[staged_at], staging_order + [c for c in frame if c not in staging_order]
    )
    staged["source_row_count"] = counts[staged_at]
    return staged, rejected, reasons


def _file_line_order(files: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Positions that sort rows by file name, then line (stable). The rows of a load arrive
    in that order already (files are read by name); that is checked in one pass, not sorted."""
    codes = pd.factorize(files, sort=True)[0]
    file_step, line_step = np.diff(codes), np.diff(lines)
    if np.all((file_step > 0) | ((file_step == 0) & (line_step >= 0))):
        return np.arange(len(codes))
    return np.lexsort((lines, codes))


def _resolve_repeats(
    frame: pd.DataFrame, positions: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rules for the rows at ``positions`` (every row of their keys, by file and line):
    which row of each key is staged and how many copies it stands for, which rows are
    rejected, and why (``""`` for a row that is not)."""
    small = pd.DataFrame(
        {
            "key": key,
            "measures": _row_hash(_take_rows(frame, positions, MEASURE_COLUMNS), MEASURE_COLUMNS),
            "file": frame["source_file"].to_numpy(dtype=object)[positions],
            "line": frame["line_number"].to_numpy()[positions],
        }
    )
    conflict = (small.groupby("key")["measures"].transform("nunique") > 1).to_numpy()
    same_file_copy = small.duplicated(["key", "file"], keep="first").to_numpy() & ~conflict

    reasons = pd.Series("", index=small.index, dtype=object)
    if conflict.any():
        places = small.loc[conflict, "file"] + ":" + small.loc[conflict, "line"].astype(str)
        listed = places.groupby(small.loc[conflict, "key"]).transform(", ".join)
        reasons[conflict] = (
            "conflicting rows for the same indicator, area, breakdown and period: " + listed
        )
    if same_file_copy.any():
        first_line = small.groupby(["key", "file"])["line"].transform("first")
        reasons[same_file_copy] = (
            "duplicate of line " + first_line[same_file_copy].astype(str) + " in the same file"
        )
    rejected = (reasons != "").to_numpy()
    kept = np.flatnonzero(~rejected)
    first = np.zeros(len(small), dtype=bool)
    first[kept] = ~small["key"].iloc[kept].duplicated(keep="first").to_numpy()
    copies = small.iloc[kept].groupby("key").size()
    counts = copies.reindex(small.loc[first, "key"]).to_numpy().astype("int64")
    return first, counts, rejected, reasons.to_numpy()


def _take_rows(
    frame: pd.DataFrame, positions: np.ndarray, columns: list[str] | None = None
) -> pd.DataFrame:
    """The rows at ``positions``, renumbered from 0: one take per column, side by side on threads
    (Arrow's and numpy's takes release the GIL), and no second copy to reset the index.

    Positions in ascending order are a filter. Where they keep long runs of rows (the usual
    case: a few copies and faults dropped from a million rows), an Arrow text column is cut
    into slices of those runs, which share its buffers: nothing is copied. Otherwise Arrow
    filters chunk by chunk without concatenating. Columns held in numpy are taken as plain
    arrays, which pandas adopts without inspecting every value (as it does for an object
    column wrapped in a pandas array).
    """
    columns = list(frame.columns) if columns is None else columns
    runs = None
    if positions.size and np.all(positions[1:] > positions[:-1]):
        keep = np.zeros(len(frame), dtype=bool)
        keep[positions] = True
        positions = keep
        edges = np.flatnonzero(np.diff(keep, prepend=False, append=False))
        if len(edges) // 2 * _ROWS_PER_SLICE <= len(keep):
            runs = edges.reshape(-1, 2)

    def take(column: str):
        values = frame[column].array
        if isinstance(values, pd.arrays.NumpyExtensionArray):
            return np.asarray(values)[positions]  # its array as is (to_numpy tests every value)
        if runs is not None and _is_arrow_text(values.dtype):
            return pd.arrays.ArrowStringArray(_slices(values._pa_array, runs))
        return values[positions]

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        taken = pool.map(take, columns)
        return pd.DataFrame(dict(zip(columns, taken, strict=True)), copy=False)


# A run of kept rows at least this long on average makes slices cheaper than a filter's copy.
_ROWS_PER_SLICE = 1024


def _slices(values, runs: np.ndarray):
    """The rows of a chunked Arrow array in ``runs`` ([start, stop) pairs), as one chunked
    array of slices of its chunks: views of the same buffers."""
    import pyarrow as pa

    pieces = [chunk for start, stop in runs for chunk in values.slice(start, stop - start).chunks]
    return pa.chunked_array(pieces, values.type)


def _rows_at(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """The rows at ``positions`` with their labels, taken by :func:`_take_rows` (pandas'
    ``iloc`` makes Arrow concatenate every chunk of a column, however few rows it takes)."""
    rows = _take_rows(frame, positions)
    rows.index = frame.index[positions]
    return rows


def _key(frame: pd.DataFrame) -> pd.Series:
    """One hashable key per row over KEY_COLUMNS (nulls compare equal to nulls)."""
    return pd.Series(_row_hash(frame, KEY_COLUMNS), index=frame.index)


def _row_hash(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit number per row over ``columns``: equal rows (nulls equal to nulls) get equal
    numbers.

    Text and ``Int64`` columns are coded by factorize (Arrow's dictionary encoding for
    Arrow-backed text), codes that are equal exactly where the values are, instead of through a
    million Python strings. Where every column is so coded (the key) and the codes fit 64 bits
    together, the number is the row's codes read as one mixed-radix number: exact, and no
    hashing. Otherwise the codes, and other columns as they are (a float by its bits: -0.0 and
    0.0 differ), are hashed.
    """
    coded = [_is_coded(frame[column].dtype) for column in columns]
    parts = {
        column: pd.factorize(frame[column], use_na_sentinel=True) if is_coded else frame[column]
        for column, is_coded in zip(columns, coded, strict=True)
    }
    if all(coded) and math.prod(len(uniques) + 1 for _, uniques in parts.values()) < 2**63:
        number = np.zeros(len(frame), dtype=np.int64)
        for codes, uniques in parts.values():
            number = number * (len(uniques) + 1) + (codes + 1)  # code -1 of a null is digit 0
        return number.view(np.uint64)
    parts = {
        column: part[0] if is_coded else part
        for (column, part), is_coded in zip(parts.items(), coded, strict=True)
    }
    return pd.util.hash_pandas_object(
        pd.DataFrame(parts, index=frame.index, copy=False), index=False
    ).to_numpy()


def _is_coded(dtype) -> bool:
    """Whether :func:`_row_hash` codes a column by factorize (text, objects, whole numbers)."""
    return isinstance(dtype, (pd.StringDtype, pd.Int64Dtype)) or pd.api.types.is_object_dtype(dtype)


def load_fingertips(paths: Iterable[Path]) -> FingertipsLoad:
    """Read, validate and de-duplicate every export; a file fault in any file raises first."""
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault("fingertips/", f"no Fingertips exports ({FILE_PATTERN}) found")
    frames, files = [], []
    for path in paths:
        with _as_file_fault(path):
            frame, info = read_fingertips_file(path)
        frames.append(frame)
        files.append(info)
    raw = pd.concat(frames, ignore_index=True)
    del frames
    # Row i of the typed frame is row i of raw; invalid rows stay in it until the one take.
    typed, valid, row_faults = _parse_naming_the_file(raw, files)
    # Files are read in name order and each file's lines in order: unless two files share a
    # name, the rows are in the order de-duplication works in.
    in_order = len({path.name for path in paths}) == len(paths)
    staged, rejected, reasons = _deduplicate(typed, np.flatnonzero(valid), in_order)
    del typed
    dup_quarantine = (
        quarantine_frame(SOURCE, _take_rows(raw, rejected), pd.Series(reasons), TEXT_COLUMNS)
        if rejected.size
        else empty_quarantine()
    )
    quarantine = pd.concat([row_faults, dup_quarantine], ignore_index=True)
    quarantine = quarantine.sort_values(["source_file", "line_number"], kind="stable")
    columns = [c for c in STAGING_DESCRIPTIONS if c in staged.columns]
    return FingertipsLoad(
        staging=staged if list(staged.columns) == columns else staged[columns],
        quarantine=quarantine.reset_index(drop=True),
        files=files,
        input_rows=len(raw),
    )


def _parse_naming_the_file(
    raw: pd.DataFrame, files: list[SourceFile]
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """:func:`_parse` of the rows of ``files`` (in order in ``raw``), any error it raises ending
    as a FileFault naming the export whose rows alone raise it: each export is parsed again on
    its own, on this error path only (every export is named if none raises alone)."""
    try:
        return _parse(raw)
    except (FileFault, MemoryError):
        raise
    except Exception as error:
        start = 0
        for info in files:
            with _as_file_fault(info.name):
                _parse(_take_rows(raw, np.arange(start, start + info.rows)))
            start += info.rows
        raise _file_fault(", ".join(f.name for f in files), error) from error


@contextmanager
def _as_file_fault(path: Path | str) -> Iterator[None]:
    """Any error raised within but a FileFault (or memory running out) ends as a FileFault
    naming the file, with the error's own words."""
    try:
        yield
    except (FileFault, MemoryError):
        raise
    except Exception as error:
        raise _file_fault(path, error) from error


def _file_fault(path: Path | str, error: Exception) -> FileFault:
    return FileFault(path, f"{PARSING_FAILED} ({type(error).__name__}: {error})")
