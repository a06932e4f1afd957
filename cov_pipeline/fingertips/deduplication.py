"""Fingertips, the de-duplication by the source's declared rule (``RECORD_RULE``): identical rows
exported in several files kept once (with the number of copies they stand for, each copy
recorded), a version in a later export staged in place of the earlier (recorded as revised), a
second copy inside one file and every row of a key whose copies disagree with no later export to
settle them quarantined, never silently resolved (:func:`deduplicate`), the rules applied to the
keys that repeat only; and the taking of rows, once, column by column, side by side.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from cov_pipeline.fingertips.arrow_text import _is_arrow_text
from cov_pipeline.fingertips.definitions import (
    CONFLICT,
    KEY_COLUMNS,
    MEASURE_COLUMNS,
    RECORD_RULE,
    SOURCE,
    STAGING_TABLE,
)
from cov_pipeline.fingertips.descriptions import STAGING_DESCRIPTIONS
from cov_pipeline.quality import empty_quarantine, empty_revisions
from cov_pipeline.repeats import Repeats, key_text, places_of, resolve_repeats, revision_rows


def deduplicate(valid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one of several identical rows; quarantine every row of a key whose copies disagree
    with no later export to settle them (Fingertips' declared ``RECORD_RULE``).

    Copies in different files are re-exports and merge (``source_row_count`` counts them; the
    copy kept is the first by file name and line); a second copy inside the same file is
    quarantined as a duplicate; a version in a later export (by the year its name ends with)
    revises the earlier ones; otherwise copies that disagree on any measure (value, CIs, count,
    denominator, value note) are all quarantined: no file wins. The decisions are made on a
    narrow frame of hashes and positions; the wide rows are taken once at the end.
    """
    if valid.empty:
        return valid.assign(source_row_count=pd.Series(dtype="int64")), empty_quarantine()
    staged, rejected, reasons, _ = _deduplicate(valid, np.arange(len(valid)))
    return staged, _take_rows(valid, rejected).assign(_reasons=reasons)


def _deduplicate(
    frame: pd.DataFrame, rows: np.ndarray, in_order: bool = False
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    """:func:`deduplicate` of the rows of ``frame`` at ``rows`` (ascending positions): the staged
    rows, the positions in ``frame`` of the rejected rows with their reasons, by file and line,
    and the revisions table's rows (copies collapsed, versions revised by a later export).

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
    revisions = empty_revisions()
    if repeated.any():
        at = np.flatnonzero(repeated)
        first, copies, rejects, why, repeats = _resolve_repeats(frame, order[at], key[at])
        staged_at[at[first]] = True
        counts[at[first]] = copies
        rejected, reasons = order[at[rejects]], why[rejects]
        if repeats.collapsed.any():
            revisions = _revisions(frame, order[at], repeats)
    # in the staging table's column order, so that no second copy is needed to reorder them
    staging_order = [c for c in STAGING_DESCRIPTIONS if c in frame.columns]
    staged = _take_rows(
        frame, order[staged_at], staging_order + [c for c in frame if c not in staging_order]
    )
    staged["source_row_count"] = counts[staged_at]
    return staged, rejected, reasons, revisions


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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Repeats]:
    """The declared rule (:func:`~cov_pipeline.repeats.resolve_repeats`) for the rows at
    ``positions`` (every row of their keys, by file and line): which row of each key is staged
    and how many identical copies it stands for, which rows are rejected, and why (``""`` for a
    row that is not), and what the rule decided for each row."""
    measures = _row_hash(_take_rows(frame, positions, MEASURE_COLUMNS), MEASURE_COLUMNS)
    files = frame["source_file"].to_numpy(dtype=object)[positions]
    lines = pd.Series(frame["line_number"].to_numpy()[positions]).astype(str)
    repeats = resolve_repeats(RECORD_RULE, key, measures, files)
    reasons = pd.Series("", index=lines.index, dtype=object)
    if repeats.conflict.any():
        listed = places_of(key, files + ":" + lines, repeats.conflict)
        reasons[repeats.conflict] = CONFLICT + listed[repeats.conflict]
    if repeats.copy_in_file.any():
        first_line = lines.to_numpy()[repeats.kept[repeats.copy_in_file]]
        reasons[repeats.copy_in_file] = "duplicate of line " + first_line + " in the same file"
    rejected = (reasons != "").to_numpy()
    first = ~rejected & ~repeats.collapsed
    copies = np.bincount(repeats.kept[repeats.copy], minlength=len(first)) + 1
    return first, copies[first].astype("int64"), rejected, reasons.to_numpy(), repeats


def _revisions(frame: pd.DataFrame, positions: np.ndarray, repeats: Repeats) -> pd.DataFrame:
    """The revisions table's rows of the repeated rows at ``positions``: the key in words, the
    places, and the measures that a revision changed."""
    rows = _take_rows(frame, positions, [*KEY_COLUMNS, *MEASURE_COLUMNS, *PLACE_COLUMNS])
    return revision_rows(
        SOURCE, STAGING_TABLE, repeats, key_text(rows, KEY_COLUMNS), rows, rows[MEASURE_COLUMNS]
    )


PLACE_COLUMNS = ["source_file", "line_number"]


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
