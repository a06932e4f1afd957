"""Fingertips, the loading: every export read by the one raw reader
(:mod:`cov_pipeline.raw_reader`) under Fingertips' header rule (:func:`read_fingertips_file`),
its rows typed and checked on the rules of :mod:`~cov_pipeline.fingertips.rows`, and identical
rows across files merged by :mod:`~cov_pipeline.fingertips.deduplication`
(:func:`load_fingertips`, :class:`FingertipsLoad`). A file fault, or any error while a file's
rows are parsed, raises :class:`FileFault` naming the file before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline.fingertips.deduplication import _deduplicate, _take_rows
from cov_pipeline.fingertips.definitions import (
    CONFLICT,
    FILE_PATTERN,
    OPTIONAL_TRAILING,
    SOURCE,
    TEXT_COLUMNS,
    check_header,
    parent_basis,
)
from cov_pipeline.fingertips.descriptions import STAGING_DESCRIPTIONS
from cov_pipeline.fingertips.rows import _parse
from cov_pipeline.quality import (
    FileFault,
    SourceFile,
    empty_quarantine,
    quarantine_frame,
)
from cov_pipeline.raw_reader import (
    faults_name_the_file,
    parsing_fault,
    read_records,
)
from cov_pipeline.repeats import CountsRepeats


@dataclass
class FingertipsLoad(CountsRepeats):
    """The outcome of loading a folder of exports."""

    CONFLICT = CONFLICT

    @property
    def duplicate_rows_merged(self) -> int:
        return int(self.staging["source_row_count"].sum()) - len(self.staging)


def read_fingertips_file(path: Path) -> tuple[pd.DataFrame, SourceFile]:
    """One export, read by the one raw reader (:func:`read_records`), with what Fingertips adds.

    Text columns are Arrow-backed strings (``string[pyarrow]``) named as the warehouse names
    them, ``time_period_range`` blank where the export has no such column; ``line_number`` (the
    physical line where the record starts), ``source_file``, ``record_fault`` (why the record
    cannot be read as delivered, else null; Arrow text) and ``compared_to_parent_basis`` (the 23rd column's
    name). File faults raise :class:`FileFault`.
    """
    records = read_records(path, check_header, what="data rows")
    frame = records.frame
    if OPTIONAL_TRAILING[1] not in frame.columns:
        frame[OPTIONAL_TRAILING[1]] = _constant_text("", len(frame), frame.index)
    frame["compared_to_parent_basis"] = parent_basis(records.delivered) or None
    return frame, records.info


def _constant_text(value: str, length: int, index: pd.Index) -> pd.Series:
    """A string[pyarrow] column holding one value, built by Arrow rather than from Python objects."""
    import pyarrow as pa

    array = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(length, dtype=np.int32)), pa.array([value], pa.string())
    ).cast(pa.string())
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index)


def load_fingertips(paths: Iterable[Path]) -> FingertipsLoad:
    """Read, validate and de-duplicate every export; a file fault in any file raises first."""
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault("fingertips/", f"no Fingertips exports ({FILE_PATTERN}) found")
    frames, files = [], []
    for path in paths:
        with faults_name_the_file(path):
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
    staged, rejected, reasons, revisions = _deduplicate(typed, np.flatnonzero(valid), in_order)
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
        revisions=revisions,
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
            with faults_name_the_file(info.name):
                _parse(_take_rows(raw, np.arange(start, start + info.rows)))
            start += info.rows
        raise parsing_fault(", ".join(f.name for f in files), error) from error
