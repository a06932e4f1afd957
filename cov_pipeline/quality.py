"""Shared handling of bad input: file-level faults and the quarantine of row-level faults.

File faults stop a source before anything is written; row faults send the row, with its file,
line and every reason, to ``quality.quarantine`` while valid rows go on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
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


def read_text_strict(path: Path) -> tuple[str, bytes]:
    """The file's text as UTF-8 (a BOM is allowed), or a FileFault that says where it is not."""
    data = path.read_bytes()
    if not data or data.isspace():  # as `not data.strip()`, without copying the file
        raise FileFault(path, "file is empty")
    try:
        return data.decode("utf-8-sig"), data
    except UnicodeDecodeError as exc:
        # the codec decodes what follows a BOM: its positions are in that, not in the file
        offset = exc.start + len(data) - len(exc.object)
        before = data[:offset]
        # a lone CR ends a line as LF and CRLF do, as the CSV readers number lines
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        raise FileFault(
            path,
            f"not UTF-8: byte 0x{data[offset]:02x} at offset {offset} (line {line}) "
            "cannot be decoded; re-export the file as UTF-8",
        ) from None


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
        joined = reasons.astype(str).groupby(level=0, sort=False).agg(" | ".join)
        self._reasons.append(joined.reindex(self._index))

    def reasons(self) -> pd.Series:
        """One string per row ('' for a valid row), reasons joined with ' | '."""
        return join_reasons(self._reasons, self._index)


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
            "reasons": reasons.loc[bad].to_numpy(),
            # JSON escapes line feeds inside values, so records are split on "\n" alone
            # (splitlines would also split inside a value at U+2028, U+0085 and the like)
            "record": records.rstrip("\n").split("\n"),
        }
    )


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


def pandera_reasons(schema, frame: pd.DataFrame, inplace: bool = False) -> pd.Series:
    """Validate ``frame`` lazily against a pandera model and return one reason per failing check.

    The result is indexed by the frame's row labels (a row may appear more than once). Failures
    that belong to no row (a wrong dtype, a missing column) are contract breaks in our own parsing,
    not bad input, so they raise. ``inplace`` skips pandera's copy of the frame: safe only for a
    schema that coerces nothing.
    """
    import pandera.errors as pa_errors

    try:
        schema.validate(frame, lazy=True, inplace=inplace)
    except pa_errors.SchemaErrors as err:
        cases = err.failure_cases
        row_level = cases["index"].notna()
        if not row_level.all():
            raise
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
    return pd.Series(dtype=object)
