"""Fingertips, the row rules: the text of the exports typed (text cleaned, ids and measures as
numbers, periods parsed) and every rule applied to every row: the source's own, the contract's
(:class:`~cov_pipeline.schemas.fingertips.FingertipsRow`, which pandera checks on the rows that
can fail only) and the reader's record faults. A row that breaks any goes to quarantine with
every reason (:func:`parse_fingertips`).
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from cov_pipeline.fingertips.arrow_text import (
    _arrow_text,
    _arrow_to_float,
    _bool,
    _may_contain,
    _null_where,
    _trim,
)
from cov_pipeline.fingertips.deduplication import _rows_at, _take_rows
from cov_pipeline.fingertips.definitions import (
    GSS_CODE_COLUMNS,
    NOT_A_DENOMINATOR,
    NOT_A_GSS_CODE,
    NUMERIC_COLUMNS,
    SOURCE,
    TEXT_COLUMNS,
)
from cov_pipeline.fingertips.periods import _parse_distinct_periods, _take_periods
from cov_pipeline.quality import (
    BEYOND_WHOLE_NUMBERS,
    empty_quarantine,
    join_reasons,
    pandera_reasons,
    quarantine_frame,
    reasons_by_row,
    within_whole_numbers,
)
from cov_pipeline.raw_reader import RECORD_FAULT, with_record_faults
from cov_pipeline.schemas.fingertips import FingertipsRow
from cov_pipeline.schemas.reference import GSS_CODE_PATTERN


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


def _reason(mask: pd.Series, prefix: str, values: pd.Series, suffix: str) -> pd.Series:
    """The reason text on the rows where ``mask`` holds, null elsewhere (built for those rows only)."""
    out = pd.Series(None, index=values.index, dtype=object)
    if mask.any():
        out[mask] = prefix + "'" + values[mask].astype(str) + "'" + suffix
    return out
