"""OHID Fingertips "all data" CSV exports: read, parse, validate and de-duplicate.

Reads every field as text with a real CSV parser (quoted fields may hold line breaks; records end
in CRLF), then parses explicitly: blank values are missing, never zero; a blank value with a value
note was suppressed or not published. File faults raise :class:`FileFault` before anything is
written; row faults go to quarantine with file, line and reasons. Identical rows exported in
several files are kept once; rows that disagree are quarantined, never silently resolved.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline.quality import (
    FileFault,
    SourceFile,
    empty_quarantine,
    join_reasons,
    pandera_reasons,
    quarantine_frame,
    read_text_strict,
    sha256_of,
)
from cov_pipeline.schemas.fingertips import FingertipsRow

SOURCE = "fingertips"
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


def check_header(path: Path, names: list[str]) -> tuple[list[str], str]:
    """Map the export's header onto snake_case names, or raise a FileFault naming the fault."""
    stripped = [n.strip() for n in names]
    expected = [header for header, _ in HEADER]
    parent_basis = ""
    if len(stripped) > 22 and PARENT_COMPARISON_PATTERN.match(stripped[22]):
        parent_basis = stripped[22]
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
    return snake, parent_basis


def read_fingertips_file(
    path: Path, source_name: str | None = None
) -> tuple[pd.DataFrame, SourceFile]:
    """One export as text columns plus ``source_file`` and ``line_number`` (physical lines).

    Text columns are Arrow-backed strings (``string[pyarrow]``): parsing and the string work that
    follows run in Arrow's C++ kernels instead of on Python objects.
    """
    text, data = read_text_strict(path)
    header = next(csv.reader(_lines(text)), [])
    header_lines = 1 + sum(name.count("\n") for name in header)
    snake, parent_basis = check_header(path, header)
    del text  # the decoded copy was for the UTF-8 check and the header; the readers take bytes
    frame = _read_fast(data, None, snake, header_lines)
    if frame is None:
        frame = _read_exact(path, data.decode("utf-8-sig"), snake, header_lines)
    if frame.empty:
        raise FileFault(path, "has a header but no data rows")
    if OPTIONAL_TRAILING[1] not in frame.columns:
        frame[OPTIONAL_TRAILING[1]] = _constant_text("", len(frame), frame.index)
    frame["source_file"] = source_name or path.name
    frame["compared_to_parent_basis"] = parent_basis or None
    info = SourceFile(
        name=source_name or path.name, sha256=sha256_of(data), size_bytes=len(data), rows=len(frame)
    )
    return frame, info


def _lines(text: str) -> Iterator[str]:
    """The text's lines, ends kept, produced on demand: the header needs only the first few."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _constant_text(value: str, length: int, index: pd.Index) -> pd.Series:
    """A string[pyarrow] column holding one value, built by Arrow rather than from Python objects."""
    import pyarrow as pa

    array = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(length, dtype=np.int32)), pa.array([value], pa.string())
    ).cast(pa.string())
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index)


def _read_fast(
    data: bytes, text: str | None, names: list[str], header_lines: int
) -> pd.DataFrame | None:
    """Arrow's multithreaded CSV reader, when every record is one line (no quoted line breaks, no
    blank lines), so that line numbers follow from record positions. None otherwise.

    ``text`` is not needed (lines are counted on the bytes); it is accepted for the callers that
    hold it."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if header_lines != 1:
        return None
    body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    try:
        table = pcsv.read_csv(
            pa.py_buffer(body),
            read_options=pcsv.ReadOptions(use_threads=True, column_names=names, skip_rows=1),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.large_string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None  # e.g. a record with the wrong number of fields: the exact reader says where
    # b"\n" is one byte in UTF-8 and occurs in no other character's encoding
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines != header_lines + table.num_rows:
        return None
    # large_string is what string[pyarrow] holds: read as such, the columns need no cast
    frame = table.to_pandas(types_mapper={pa.large_string(): ARROW_STRING}.get)
    frame["line_number"] = np.arange(header_lines + 1, header_lines + 1 + len(frame), dtype="int64")
    return frame


def _read_exact(path: Path, text: str, names: list[str], header_lines: int) -> pd.DataFrame:
    """pandas' reader, counting the line breaks inside quoted fields to number physical lines."""
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=False, header=0
        )
    except pd.errors.ParserError as exc:
        raise FileFault(path, f"not a readable CSV: {exc}") from None
    frame.columns = names
    breaks = np.zeros(len(frame), dtype=np.int64)
    for column in names:
        breaks += frame[column].str.count("\n").to_numpy(dtype=np.int64)
    starts = header_lines + 1 + np.concatenate([[0], np.cumsum(1 + breaks)[:-1]])
    blank = (frame[names] == "").all(axis=1).to_numpy()
    frame = frame.loc[~blank].astype(ARROW_STRING)
    frame["line_number"] = starts[~blank]
    return frame.reset_index(drop=True)


# -- time periods ----------------------------------------------------------------------------
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_PERIOD_PATTERNS = {
    # 2022
    "calendar_year": r"^(?P<y1>\d{4})$",
    # 2020 - 22 (pooled calendar years)
    "calendar_pooled": r"^(?P<y1>\d{4})\s*-\s*(?P<y2>\d{2}|\d{4})$",
    # 2022/23
    "financial_year": r"^(?P<y1>\d{4})/(?P<y1b>\d{2})$",
    # 2020/21 - 22/23 (pooled financial years)
    "financial_pooled": r"^(?P<y1>\d{4})/(?P<y1b>\d{2})\s*-\s*(?P<y2>\d{2})/(?P<y2b>\d{2})$",
    # 2022 Q1
    "calendar_quarter": r"^(?P<y1>\d{4})\s+Q(?P<q>[1-4])$",
    # 2022/23 Q1
    "financial_quarter": r"^(?P<y1>\d{4})/(?P<y1b>\d{2})\s+Q(?P<q>[1-4])$",
    # Jan 2022
    "month": r"^(?P<mon>[A-Za-z]{3})[A-Za-z]*\s+(?P<y1>\d{4})$",
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
    codes, labels = pd.factorize(periods, use_na_sentinel=True)
    parsed = _parse_period_labels(pd.Series(labels, dtype=object))
    taken = parsed.iloc[np.where(codes >= 0, codes, 0)].reset_index(drop=True)
    taken.loc[codes < 0] = None
    taken.index = periods.index
    return taken.astype(parsed.dtypes.to_dict())


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
        y1 = pd.to_numeric(parts["y1"]).astype("int64")
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
    import pyarrow.compute as pc

    if not raw.index.equals(pd.RangeIndex(len(raw))):
        raw = raw.reset_index(drop=True)
    index = raw.index
    typed: dict[str, pd.Series] = {
        name: raw[name] for name in ("source_file", "line_number", "compared_to_parent_basis")
    }
    reasons: list[pd.Series] = []
    # One task per column: Arrow's kernels release the GIL, so columns are worked side by side.
    coded = ["indicator_id", "time_period_sortable"]
    text_columns = [c for c in TEXT_COLUMNS if c not in NUMERIC_COLUMNS and c not in coded]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        cleaned = pool.map(lambda c: _clean_text(_arrow_text(raw[c])), text_columns)
        measures = pool.map(lambda c: _parse_number(_arrow_text(raw[c])), NUMERIC_COLUMNS)
        trimmed = pool.map(lambda c: _trim(_arrow_text(raw[c])), coded)
        for column, array in zip(text_columns, cleaned, strict=True):
            typed[column] = pd.Series(pd.arrays.ArrowStringArray(array), index=index)
        numbers = dict(zip(NUMERIC_COLUMNS, measures, strict=True))
        stripped = dict(zip(coded, trimmed, strict=True))

    number = _arrow_to_float(stripped["indicator_id"])
    with np.errstate(invalid="ignore"):
        whole = ~np.isnan(number) & (np.mod(number, 1) == 0)
    bad_id = _bool(pc.not_equal(stripped["indicator_id"], "")) & ~whole
    reasons.append(_reason(bad_id, "indicator_id: ", raw["indicator_id"], " is not a whole number"))
    typed["indicator_id"] = pd.Series(np.where(whole, number, np.nan), index=index).astype("Int64")

    for column in NUMERIC_COLUMNS:
        number, invalid = numbers[column]
        reasons.append(_reason(invalid, f"{column}: ", raw[column], " is not a number"))
        typed[column] = pd.Series(number, index=index)

    sortable = pd.Series(_arrow_to_float(stripped["time_period_sortable"]), index=index)
    typed["time_period_sortable"] = sortable.round().astype("Int64")
    del stripped

    periods = parse_time_periods(typed["time_period"])
    unknown_period = typed["time_period"].notna() & periods["period_type"].isna()
    reasons.append(
        _reason(unknown_period, "time_period: ", raw["time_period"], " is not a recognised period")
    )
    typed.update({name: periods[name] for name in periods.columns})
    typed["is_headline"] = typed["category_type"].isna() & typed["category"].isna()
    # The contract's failure texts list a failing row's columns in the frame's order: keep it.
    order = [
        *("source_file", "line_number", "compared_to_parent_basis"),
        *(c for c in TEXT_COLUMNS if c not in NUMERIC_COLUMNS),
        *NUMERIC_COLUMNS,
        *periods.columns,
        "is_headline",
    ]
    frame = pd.DataFrame({c: typed[c] for c in order}, index=index)

    contract = pandera_reasons(FingertipsRow, frame, inplace=True)  # the model coerces nothing
    if not contract.empty:
        reasons.append(contract.groupby(level=0).agg(" | ".join).reindex(index))
    all_reasons = join_reasons(reasons, index)
    quarantine = quarantine_frame(SOURCE, raw, all_reasons, TEXT_COLUMNS)
    valid = all_reasons == ""
    if valid.all():
        return frame, quarantine
    return _take_rows(frame, np.flatnonzero(valid.to_numpy())), quarantine


def _arrow_text(text: pd.Series):
    """The Arrow array behind a text column (converted once if the column is not Arrow-backed)."""
    import pyarrow as pa

    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
        return text.array._pa_array
    return pa.chunked_array([pa.array(text.astype(ARROW_STRING).array)])


def _clean_text(text):
    """Line breaks as LF, outer whitespace trimmed, blank as null."""
    import pyarrow.compute as pc

    if pc.any(pc.match_substring(text, "\r\n")).as_py():
        text = pc.replace_substring(text, "\r\n", "\n")
    text = _trim(text)
    blank = pc.equal(text, "")
    if not pc.any(blank).as_py():
        return text
    return pc.if_else(blank, None, text)


def _parse_number(text) -> tuple[np.ndarray, np.ndarray]:
    """A measure column's numbers (thousands separators dropped, blank as NaN) and where its text
    is not a number."""
    import pyarrow.compute as pc

    text = _trim(text)
    if pc.any(pc.match_substring(text, ",")).as_py():
        text = pc.replace_substring(text, ",", "")
    number = _arrow_to_float(text)
    invalid = _bool(pc.not_equal(text, "")) & ~np.isfinite(number)
    return np.where(invalid, np.nan, number), invalid


def _trim(text):
    """``utf8_trim_whitespace``, skipped (no copy) where no value starts or ends with whitespace:
    Arrow's ``utf8_is_space`` and its trim agree on every code point (as does ``str.strip``)."""
    import pyarrow.compute as pc

    edges = pc.or_(
        pc.utf8_is_space(pc.utf8_slice_codeunits(text, 0, 1)),
        pc.utf8_is_space(pc.utf8_slice_codeunits(text, -1)),
    )
    if not pc.any(edges).as_py():
        return text
    return pc.utf8_trim_whitespace(text)


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
        cleaned = pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)
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
    file_codes = pd.factorize(valid["source_file"], sort=True)[0]
    order = np.lexsort((valid["line_number"].to_numpy(), file_codes))
    small = pd.DataFrame(
        {
            "key": _key(valid).to_numpy()[order],
            "measures": _row_hash(valid, MEASURE_COLUMNS)[order],
            "file": valid["source_file"].to_numpy(dtype=object)[order],
            "line": valid["line_number"].to_numpy()[order],
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
    kept = ~rejected
    first_of_key = kept & ~small["key"].where(kept).duplicated(keep="first").to_numpy()
    copies = small.loc[kept].groupby("key").size()
    # in the staging table's column order, so that no second copy is needed to reorder them
    staging_order = [c for c in STAGING_DESCRIPTIONS if c in valid.columns]
    staged = _take_rows(
        valid, order[first_of_key], staging_order + [c for c in valid if c not in staging_order]
    )
    staged["source_row_count"] = (
        copies.reindex(small.loc[first_of_key, "key"]).to_numpy().astype("int64")
    )
    quarantined = _take_rows(valid, order[rejected])
    return staged, quarantined.assign(_reasons=reasons[rejected].to_numpy())


def _take_rows(
    frame: pd.DataFrame, positions: np.ndarray, columns: list[str] | None = None
) -> pd.DataFrame:
    """The rows at ``positions``, renumbered from 0: one take per column, side by side on threads
    (Arrow's and numpy's takes release the GIL), and no second copy to reset the index. Positions
    in ascending order are a filter, which Arrow runs chunk by chunk without concatenating."""
    columns = list(frame.columns) if columns is None else columns
    if positions.size and np.all(positions[1:] > positions[:-1]):
        keep = np.zeros(len(frame), dtype=bool)
        keep[positions] = True
        positions = keep
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        taken = pool.map(lambda c: frame[c].array[positions], columns)
        return pd.DataFrame(dict(zip(columns, taken, strict=True)), copy=False)


def _key(frame: pd.DataFrame) -> pd.Series:
    """One hashable key per row over KEY_COLUMNS (nulls compare equal to nulls)."""
    return pd.Series(_row_hash(frame, KEY_COLUMNS), index=frame.index)


def _row_hash(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit hash per row over ``columns``: equal rows (nulls equal to nulls) hash equal.

    Text columns are hashed through their factorize codes (Arrow's dictionary encoding for
    Arrow-backed text), which are equal exactly where the texts are, instead of through a million
    Python strings; other columns are hashed as they are.
    """
    parts = {
        column: (
            pd.factorize(frame[column], use_na_sentinel=True)[0]
            if isinstance(frame[column].dtype, pd.StringDtype) or frame[column].dtype == object
            else frame[column]
        )
        for column in columns
    }
    return pd.util.hash_pandas_object(
        pd.DataFrame(parts, index=frame.index), index=False
    ).to_numpy()


def load_fingertips(paths: Iterable[Path]) -> FingertipsLoad:
    """Read, validate and de-duplicate every export; a file fault in any file raises first."""
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault("fingertips/", "no Fingertips exports (*.csv) found")
    frames, files = [], []
    for path in paths:
        frame, info = read_fingertips_file(path)
        frames.append(frame)
        files.append(info)
    raw = pd.concat(frames, ignore_index=True)
    valid, row_faults = parse_fingertips(raw)
    staged, duplicates = deduplicate(valid)
    dup_quarantine = _quarantine_typed(duplicates, raw)
    quarantine = pd.concat([row_faults, dup_quarantine], ignore_index=True)
    quarantine = quarantine.sort_values(["source_file", "line_number"], kind="stable")
    columns = [c for c in STAGING_DESCRIPTIONS if c in staged.columns]
    return FingertipsLoad(
        staging=staged if list(staged.columns) == columns else staged[columns],
        quarantine=quarantine.reset_index(drop=True),
        files=files,
        input_rows=len(raw),
    )


def _quarantine_typed(rows: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Quarantine rows for typed rows, recording the raw text they were parsed from."""
    if rows.empty:
        return empty_quarantine()
    position = pd.MultiIndex.from_frame(raw[["source_file", "line_number"]])
    wanted = pd.MultiIndex.from_frame(rows[["source_file", "line_number"]])
    original = raw.iloc[position.get_indexer(wanted)].reset_index(drop=True)
    return quarantine_frame(SOURCE, original, pd.Series(rows["_reasons"].to_numpy()), TEXT_COLUMNS)
