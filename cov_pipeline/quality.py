"""Shared handling of bad input: file-level faults and the quarantine of row-level faults, and
the vectorised helpers the sources share to read, convert and validate text columns.

File faults stop a source before anything is written; row faults send the row, with its file,
line and every reason, to ``quality.quarantine`` while valid rows go on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

QUARANTINE_COLUMNS = ["source", "source_file", "line_number", "reasons", "record"]

QUARANTINE_DESCRIPTIONS = {
    "source": "Source the row came from (fingertips, maternity, referrals, household_survey).",
    "source_file": "Name of the raw file that held the row, relative to the source folder.",
    "line_number": "Physical line in that file where the record starts (the header is line 1).",
    "reasons": "Every reason the row was rejected, separated by ' | '.",
    "record": "The row as delivered, every field as text, as a JSON object.",
}
# quality.run_summary: one row per source of the run.
RUN_SUMMARY_DESCRIPTIONS = {
    "source": "Source of the rows.",
    "staged_rows": "Rows in the source's staging tables.",
    "quarantined_rows": "Rows of the source in quality.quarantine.",
    "quarantine_share": "quarantined_rows / (staged_rows + quarantined_rows).",
    "staging_tables": "The source's staging tables, comma separated.",
}


# Whole numbers are parsed as float64, exact up to 2**53: beyond, the number read may not be
# the number written (and from 2**63 an int64 cannot hold it), so such a value is a row fault.
LARGEST_WHOLE_NUMBER = 2**53 - 1
BEYOND_WHOLE_NUMBERS = (
    f" is out of range (beyond ±{LARGEST_WHOLE_NUMBER}, the largest whole number read exactly)"
)


def within_whole_numbers(number) -> np.ndarray:
    """Where ``number`` (float64) lies within ±``LARGEST_WHOLE_NUMBER`` (NaN: False)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(np.abs(number) <= LARGEST_WHOLE_NUMBER, dtype=bool)


# -- reading files ------------------------------------------------------------------------------
class FileFault(ValueError):
    """A whole file cannot be used: the message names the file and the fault."""

    def __init__(self, path: Path | str, fault: str):
        self.path = str(path)
        self.fault = fault
        super().__init__(f"{Path(path).name}: {fault}")


@dataclass(frozen=True)
class SourceFile:
    """A raw file that was read, for lineage in the materialisation metadata."""

    name: str
    sha256: str
    size_bytes: int
    rows: int


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _line_ends(text: str | bytes) -> tuple:
    return ("\n", "\r") if isinstance(text, str) else (b"\n", b"\r")


def line_breaks(text: str | bytes) -> int:
    """How many line breaks ``text`` holds, where LF, CRLF and a lone CR each end a line: the CSV
    readers (pandas, Arrow, Python's csv module) end a record at each, so physical lines are
    numbered so everywhere (a lone CR is an old Mac line end, or stray in a pasted field)."""
    lf, cr = _line_ends(text)
    carriages = text.count(cr)
    return text.count(lf) + carriages - text.count(cr + lf) if carriages else text.count(lf)


# -- text columns -------------------------------------------------------------------------------
def stripped(values: pd.Series) -> pd.Series:
    """``values.str.strip()``, without a pass in Python over a column that holds no whitespace
    at all (the usual case): joining the column and splitting the result on whitespace are two
    passes in C, and the split returns the joined text whole exactly when it has none."""
    try:
        joined = "\x00".join(values.to_numpy(dtype=object))
    except TypeError:  # a value that is not text
        return values.str.strip()
    if not joined or joined.split(maxsplit=1) == [joined]:
        return values
    return values.str.strip()


def distinct_values(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """The number of each value among the distinct values, and those values (a missing value,
    if any, last): the pair that rebuilds ``values`` as ``distinct.to_numpy()[number]``."""
    number, distinct = pd.factorize(values)
    distinct = pd.Series(distinct, dtype=values.dtype)
    missing = number < 0
    if missing.any():
        number = np.where(missing, len(distinct), number)
        distinct = pd.concat([distinct, values[missing].iloc[:1]], ignore_index=True)
    return number, distinct


def by_value(values: pd.Series, convert) -> pd.Series:
    """``convert(values)`` for an element-wise conversion, run once per distinct value: an
    extract repeats the same dates, ages and codes many times over."""
    number, distinct = distinct_values(values)
    converted = convert(distinct).to_numpy()
    return pd.Series(converted[number], index=values.index, name=values.name)


def columns_frame(columns: Mapping[str, pd.Series | np.ndarray], index: pd.Index) -> pd.DataFrame:
    """A frame of these columns (Series or arrays of the index's length, taken by position) on
    ``index``, made without copying them: building the staging table column by column and
    copying it at each step cost more than the labelling itself."""
    return pd.DataFrame(
        {name: _values(column) for name, column in columns.items()}, index=index, copy=False
    )


def _values(column: pd.Series | np.ndarray) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """The array behind a column, with its dtype (``Series.array`` would scan text for nulls)."""
    if not isinstance(column, pd.Series):
        return column
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.array
    return column.to_numpy()


# -- row-level faults ---------------------------------------------------------------------------
class ReasonCollector:
    """Accumulates row-level reasons, vectorised: one boolean mask and one message at a time."""

    def __init__(self, index: pd.Index):
        self._index = index
        self._reasons: list[pd.Series] = []

    def add(self, mask: pd.Series | np.ndarray, message: str | pd.Series) -> None:
        mask = pd.Series(np.asarray(mask, dtype=bool), index=self._index)
        if not mask.any():
            return
        if isinstance(message, pd.Series):
            text = message.astype(str).where(mask)
        else:
            text = pd.Series(np.where(mask, message, None), index=self._index, dtype=object)
        self._reasons.append(text)

    def add_series(self, reasons: pd.Series) -> None:
        """Reasons already keyed by row label (several reasons for one row are joined)."""
        if reasons.empty:
            return
        self._reasons.append(reasons_by_row(reasons, self._index))

    def reasons(self) -> pd.Series:
        """One string per row ('' for a valid row), reasons joined with ' | '."""
        return join_reasons(self._reasons, self._index)

    def rows_with_reasons(self) -> np.ndarray:
        """Where a row has at least one reason so far."""
        found = np.zeros(len(self._index), dtype=bool)
        for part in self._reasons:
            found |= part.reindex(self._index).notna().to_numpy()
        return found


def reasons_by_row(reasons: pd.Series, index: pd.Index) -> pd.Series:
    """Reasons keyed by row label (a row may appear more than once) as one ' | ' separated
    string per row of ``index``, in their order; missing for a row with none."""
    return reasons.astype(str).groupby(level=0, sort=False).agg(" | ".join).reindex(index)


def join_reasons(parts: Iterable[pd.Series], index: pd.Index) -> pd.Series:
    """Join per-row reason columns (None where a rule passed) into one ' | ' separated string.

    Loops over rules, never over rows: each rule is one vectorised string concatenation.
    """
    result = pd.Series("", index=index, dtype=object)
    for text in parts:
        if text.index.equals(index) and index.is_unique:
            # Strings are made for the rows that have a reason only: most rules pass on most rows.
            at = np.flatnonzero(text.notna().to_numpy())
            if at.size == 0:
                continue
            words = text.iloc[at].astype(str).to_numpy(dtype=object)
            at, words = at[words != ""], words[words != ""]
            if at.size == 0:
                continue
            before = result.to_numpy(dtype=object)[at]
            joined = np.where(before != "", before + " | " + words, words)
            values = result.to_numpy(dtype=object, copy=True)
            values[at] = joined
            result = pd.Series(values, index=index, dtype=object)
            continue
        present = text.notna() & (text.astype(str) != "")
        if not present.any():
            continue
        separator = pd.Series(np.where(result != "", " | ", ""), index=index)
        result = result.where(~present, result + separator + text.astype(str))
    return result


def quarantine_frame(
    source: str, raw: pd.DataFrame, reasons: pd.Series, record_columns: list[str]
) -> pd.DataFrame:
    """Quarantine rows for the rows of ``raw`` whose reason is non-empty."""
    bad = reasons.fillna("") != ""
    rows = raw.loc[bad]
    if rows.empty:
        return empty_quarantine()
    records = rows[record_columns].to_json(orient="records", lines=True, force_ascii=False)
    return pd.DataFrame(
        {
            "source": source,
            "source_file": rows["source_file"].to_numpy(),
            "line_number": rows["line_number"].astype("int64").to_numpy(),
            # a reason may quote a value holding a NUL byte, which PostgreSQL text cannot hold:
            # shown as \x00 (the record's JSON escapes it as \u0000)
            "reasons": reasons.loc[bad].astype(str).str.replace("\0", "\\x00").to_numpy(),
            # JSON escapes line feeds inside values, so records are split on "\n" alone
            # (splitlines would also split inside a value at U+2028, U+0085 and the like)
            "record": records.rstrip("\n").split("\n"),
        }
    )


# -- records seen more than once --------------------------------------------------------------
REVISION_COLUMNS = [
    "source",
    "table_name",
    "record_key",
    "outcome",
    "kept_file",
    "kept_line",
    "source_file",
    "line_number",
    "changes",
]
REVISION_DESCRIPTIONS = {
    "source": "Source the record came from.",
    "table_name": "Staging table the record belongs to.",
    "record_key": "What identifies the record: a pseudo id; a year and area; the key columns of "
    "an MSDS count or a Fingertips row, as 'column=value, ...'.",
    "outcome": "'identical copy collapsed': the same record again, staged once; 'revised by a "
    "later publication': the newer file's version was staged in place of this one.",
    "kept_file": "File of the version staged.",
    "kept_line": "Line of the version staged in that file.",
    "source_file": "File of the copy or earlier version not staged.",
    "line_number": "Line of that copy or earlier version.",
    "changes": "For a revision, each field that changed: 'column: earlier -> staged'.",
}
REVISIONS_DESCRIPTION = (
    "Records that arrived more than once and were staged once: identical copies (a resent "
    "extract) collapsed, and versions revised by a later publication (the newer staged), each "
    "with the file and line of the copy and of the version staged, and the fields that changed."
)
IDENTICAL_COPY = "identical copy collapsed"
REVISED = "revised by a later publication"


def empty_revisions() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in REVISION_COLUMNS})
    return frame.astype({"kept_line": "int64", "line_number": "int64"})


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": pd.Series(dtype=object),
            "source_file": pd.Series(dtype=object),
            "line_number": pd.Series(dtype="int64"),
            "reasons": pd.Series(dtype=object),
            "record": pd.Series(dtype=object),
        }
    )


_FAILURE_CASE_COLUMNS = [
    "schema_context",
    "column",
    "check",
    "check_number",
    "failure_case",
    "index",
]


def failure_cases(schema, frame: pd.DataFrame, inplace: bool = False) -> pd.DataFrame:
    """pandera's failure cases of ``frame`` validated lazily against ``schema`` (a model or a
    schema): one row per failing cell or row and check, ``index`` the frame's row label; none
    if it passes.

    Failures that belong to no row (a wrong dtype, a missing column) are contract breaks in our
    own parsing, not bad input, so they raise pandera's ``SchemaErrors``. ``inplace`` skips
    pandera's copy of the frame: safe only for a schema that coerces nothing.
    """
    import pandera.errors as pa_errors

    try:
        schema.validate(frame, lazy=True, inplace=inplace)
    except pa_errors.SchemaErrors as err:
        if err.failure_cases["index"].isna().any():
            raise
        return err.failure_cases
    return pd.DataFrame(columns=_FAILURE_CASE_COLUMNS)


def pandera_reasons(schema, frame: pd.DataFrame, inplace: bool = False) -> pd.Series:
    """Validate ``frame`` lazily against a pandera model and return one reason per failing check,
    in pandera's words.

    The result is indexed by the frame's row labels (a row may appear more than once). Failures
    that belong to no row raise, and ``inplace`` is as in :func:`failure_cases`.
    """
    cases = failure_cases(schema, frame, inplace=inplace)
    if cases.empty:
        return pd.Series(dtype=object)
    column = cases["column"].fillna("row").astype(str)
    check = cases["check"].astype(str).str.replace("not_nullable", "missing", regex=False)
    value = cases["failure_case"]
    shown = np.where(
        value.notna() & (check != "missing") & (column != "row"),
        " (got " + value.astype(str) + ")",
        "",
    )
    reasons = column + ": " + check + shown
    reasons.index = pd.Index(cases["index"].to_numpy())
    return reasons


def marked_cells(marks: pd.DataFrame, rows: np.ndarray, columns: pd.Series) -> np.ndarray:
    """Whether ``marks`` holds True at each cell (row label, column name): a failure case on a
    cell whose text was already reported unreadable or missing is not reported again. A column
    ``marks`` does not have is unmarked."""
    at = marks.columns.get_indexer(columns)
    known = at >= 0
    marked = np.zeros(len(at), dtype=bool)
    if known.any():
        taken = np.unique(at[known])  # only the columns asked about are read
        values = marks.iloc[:, taken].to_numpy(dtype=bool)
        rows = marks.index.get_indexer(np.asarray(rows)[known])
        marked[known] = values[rows, np.searchsorted(taken, at[known])]
    return marked


# -- validating only the rows that may fail -----------------------------------------------------
# Column checks whose outcome for a cell depends on that cell alone (pandera's built-ins).
_CELL_WISE_CHECKS = frozenset(
    {
        "equal_to",
        "not_equal_to",
        "greater_than",
        "greater_than_or_equal_to",
        "less_than",
        "less_than_or_equal_to",
        "in_range",
        "isin",
        "notin",
        "str_matches",
        "str_contains",
        "str_startswith",
        "str_endswith",
        "str_length",
    }
)


def _failures(schema, frame: pd.DataFrame) -> pd.DataFrame | None:
    """pandera's failure cases of ``frame`` (lazily validated; none if it passes), or None where
    a failure belongs to no row (a wrong dtype, a missing column, a check that raised)."""
    import pandera.errors as pa_errors

    try:
        return failure_cases(schema, frame, inplace=True)  # the schemas here coerce nothing
    except pa_errors.SchemaErrors:
        return None


def _is_cell_wise(column) -> bool:
    """Whether each check of this pandera column judges a cell on its own."""
    return not (column.unique or column.coerce or column.regex or column.parsers) and all(
        check.name in _CELL_WISE_CHECKS for check in column.checks
    )


def rows_that_may_fail(schema, frame: pd.DataFrame) -> np.ndarray:
    """Mask of the rows of ``frame`` that can fail the pandera ``schema``: every row it would
    report, found without running every check on every row.

    A column check on a cell depends on that cell alone, so each column is validated on its
    distinct values (an extract repeats the same codes and dates many times over) and a row is
    marked where one of its values fails; the dataframe-level checks run on the whole frame
    once. Validating the marked rows then reports exactly what validating the whole frame
    would, with the same failure cases in the same order, because the rows that pass add none.
    This assumes dataframe-level checks that judge each row on its own fields, reading them by
    name (those of the schemas here do); a column check that is not one of pandera's cell-wise
    built-ins, a uniqueness rule, coercion or a missing column mark every row, which is always
    safe.
    """
    import pandera.pandas as pa

    everything = np.ones(len(frame), dtype=bool)
    if (
        len(frame) == 0
        or schema.unique
        or any(name not in frame.columns for name in schema.columns)
        or not all(_is_cell_wise(column) for column in schema.columns.values())
    ):
        return everything
    # Each column's distinct values (null included) numbered, and the first row of each.
    distinct = {}
    for name in schema.columns:
        codes = pd.factorize(frame[name])[0]
        codes[codes < 0] = codes.max() + 1  # missing values as one more
        distinct[name] = codes, np.flatnonzero(~pd.Series(codes).duplicated().to_numpy())
    # Columns of few distinct values are probed together (one validation), each repeating its
    # values down the probe; a column of mostly distinct values (an id) is probed alone.
    few = [name for name, (_, firsts) in distinct.items() if 8 * len(firsts) <= len(frame)]
    suspect = np.zeros(len(frame), dtype=bool)
    for names in [few, *([name] for name in distinct if name not in few)]:
        if not names:
            continue
        length = np.arange(max(len(distinct[name][1]) for name in names))
        probe = pd.DataFrame(
            {
                name: frame[name].iloc[firsts[length % len(firsts)]].reset_index(drop=True)
                for name, (_, firsts) in ((name, distinct[name]) for name in names)
            }
        )
        cases = _failures(pa.DataFrameSchema({n: schema.columns[n] for n in names}), probe)
        if cases is None:
            return everything
        for name, failed in cases.groupby("column", sort=False):
            codes, firsts = distinct[str(name)]
            bad = np.zeros(len(firsts), dtype=bool)
            bad[codes[firsts[failed["index"].to_numpy(dtype=np.int64) % len(firsts)]]] = True
            suspect |= bad[codes]
    if schema.checks:
        # Run on the columns that are quick to scan for nulls (pandera scans the frame it is
        # given on each check); a check that reads another column raises and marks every row.
        # A row whose scanned columns are all null is marked too: pandera lets a row pass a
        # dataframe check when all its fields are null, which holds in the narrow frame for
        # more rows than in the whole one.
        quick = frame[[c for c in frame.columns if frame[c].dtype != object]]
        cases = _failures(pa.DataFrameSchema(checks=schema.checks), quick)
        if cases is None:
            return everything
        suspect |= frame.index.isin(cases["index"]) | quick.isna().all(axis=1).to_numpy()
    return suspect
