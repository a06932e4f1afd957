"""Records seen more than once: the rule each source declares for a record (the same key) that
arrives in more than one place, and the one way every source applies it
(:func:`resolve_repeats`, :func:`revision_rows`):

- **identical**: a copy of a staged record (a resent or overlapping extract) is collapsed:
  staged once, the copy counted and recorded in the source's revisions table with the place of
  the row staged;
- **revised**: where the source's rule says a later publication revises an earlier one
  (``RepeatRule.newer_wins``), the version in the latest publication is staged and each earlier
  version recorded as revised, with the fields that changed;
- **conflicting**: versions that differ with no way to tell which is newer (within one file or
  one publication, in a file whose name declares no publication, or in a source that declares no
  such order) are all quarantined, each naming every place of its key.

A source may also declare that a second copy inside one file is a fault of that file
(``copies_in_one_file="quarantined"``): an export lists each key once.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal, NamedTuple

import numpy as np
import pandas as pd

from cov_pipeline.quality import (
    IDENTICAL_COPY,
    REVISED,
    REVISION_COLUMNS,
    SourceFile,
    empty_revisions,
)


def _by_file_name(name: str) -> str:
    return name


@dataclass(frozen=True)
class RepeatRule:
    """A source's declared rule for a record that appears more than once.

    ``publication`` names the publication a file belongs to, from its name, as text that sorts
    in publication order (``None`` where the name declares none); files of one publication are
    one place in time. ``newer_wins`` says a version in a later publication revises the earlier
    ones. ``copies_in_one_file`` says what becomes of a second identical copy inside one file.
    ``words`` describe the rule for the source's documentation and metadata.
    """

    words: str
    newer_wins: bool = False
    publication: Callable[[str], str | None] = _by_file_name
    copies_in_one_file: Literal["collapsed", "quarantined"] = "collapsed"


class Repeats(NamedTuple):
    """What the rule decided for each row (arrays in the rows' order).

    ``copy``: an identical copy collapsed; ``revised``: an earlier version superseded;
    ``conflict``: quarantined, its key's versions cannot be ordered; ``copy_in_file``: a second
    copy inside one file that the rule quarantines. ``kept`` is the position of the row staged
    for a copy or a revised version, and of the key's first row in the file for a copy in one
    file (-1 elsewhere).
    """

    copy: np.ndarray
    revised: np.ndarray
    conflict: np.ndarray
    copy_in_file: np.ndarray
    kept: np.ndarray

    @property
    def collapsed(self) -> np.ndarray:
        """Rows not staged and not quarantined: recorded in the revisions table."""
        return self.copy | self.revised


def resolve_repeats(
    rule: RepeatRule,
    key: np.ndarray,
    version: np.ndarray,
    files: np.ndarray,
    faulty: np.ndarray | None = None,
) -> Repeats:
    """Apply ``rule`` to rows in file and line order: ``key`` identifies a record (rows of
    unique keys may be left out or included), ``version`` is equal exactly where two rows say
    the same (a hash of what is compared), ``files`` the file of each row. A ``faulty`` row (one
    the caller quarantines for its own reasons) still takes part, but no version of its key is
    resolved as a revision.

    The row staged for a key is its first row of the one version (identical copies), or of the
    latest publication's version (a revision)."""
    n = len(key)
    position = np.arange(n)
    record = pd.Series(np.asarray(version).view(np.int64), dtype="Int64")
    file = pd.Series(np.asarray(files, dtype=object))
    bad = pd.Series(np.zeros(n, dtype=bool) if faulty is None else np.asarray(faulty, dtype=bool))
    by_key = np.asarray(key)
    n_versions = record.groupby(by_key).transform("nunique")
    winner = record.groupby(by_key).transform("first")
    resolvable = pd.Series(False, index=record.index)
    if rule.newer_wins:
        names = pd.unique(file)
        publication = file.map(dict(zip(names, map(rule.publication, names), strict=True)))
        known = publication.notna().groupby(by_key).transform("all")
        publication = publication.fillna("")
        one_per_publication = (
            (record.groupby([by_key, publication.to_numpy()]).transform("nunique") <= 1)
            .groupby(by_key)
            .transform("all")
        )
        resolvable = (
            (n_versions > 1) & known & one_per_publication & ~bad.groupby(by_key).transform("any")
        )
        latest = publication == publication.groupby(by_key).transform("max")
        winner = winner.where(~resolvable, record.where(latest).groupby(by_key).transform("first"))
    conflict = (n_versions > 1) & ~resolvable
    is_winner = (record == winner).fillna(False).astype(bool) & ~conflict
    kept = pd.Series(position).where(is_winner).groupby(by_key).transform("first")
    copy = is_winner & (kept != position)
    revised = resolvable & ~is_winner
    copy_in_file = pd.Series(False, index=record.index)
    if rule.copies_in_one_file == "quarantined":
        by_file = pd.DataFrame({"key": by_key, "file": file})
        copy_in_file = by_file.duplicated(keep="first") & (copy | revised)
        first_in_file = pd.Series(position).groupby([by_key, file.to_numpy()]).transform("first")
        kept = kept.where(~copy_in_file, first_in_file)
        copy, revised = copy & ~copy_in_file, revised & ~copy_in_file
    recorded = copy | revised | copy_in_file
    return Repeats(
        copy.to_numpy(dtype=bool),
        revised.to_numpy(dtype=bool),
        conflict.to_numpy(dtype=bool),
        copy_in_file.to_numpy(dtype=bool),
        kept.where(recorded, -1).to_numpy(dtype=np.int64),
    )


def places_of(key: np.ndarray, place: pd.Series, rows: np.ndarray) -> pd.Series:
    """For each row in ``rows`` (a mask), every place (``place``'s text) of its key among
    ``rows``, joined with ', '; None elsewhere."""
    rows = np.asarray(rows, dtype=bool)
    joined = place[rows].groupby(np.asarray(key)[rows]).transform(", ".join)
    return joined.reindex(place.index)


def key_text(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A readable record key: 'column=value' for each key column, ', ' between (blank where
    missing; dates as YYYY-MM-DD)."""
    parts = [column + "=" + shown(frame[column]) for column in columns]
    text = parts[0]
    for part in parts[1:]:
        text = text + ", " + part
    return text


def shown(values: pd.Series) -> pd.Series:
    """Values as text for the revisions table: blank where missing, a date as YYYY-MM-DD, a
    number without a trailing '.0'."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.strftime("%Y-%m-%d").fillna("").astype(object)
    if pd.api.types.is_float_dtype(values.dtype):
        return pd.Series(
            [format(v, ".15g") if v == v else "" for v in values.tolist()],
            index=values.index,
            dtype=object,
        )
    return values.astype(object).where(values.notna(), "").astype(str)


def revision_rows(
    source: str,
    table: str,
    repeats: Repeats,
    record_key: pd.Series,
    places: pd.DataFrame,
    compared: pd.DataFrame,
) -> pd.DataFrame:
    """The revisions table's rows for the collapsed copies and revised versions of
    ``repeats``: ``places`` holds ``source_file`` and ``line_number`` of each row (in the rows'
    order, as ``record_key``); ``compared`` the columns (as text, or shown as text) whose
    changes a revision lists as 'column: earlier -> staged'."""
    target = np.flatnonzero(repeats.collapsed)
    kept = repeats.kept[target]
    changes = pd.Series("", index=range(len(target)), dtype=object)
    for column in compared.columns:
        values = compared[column]
        text = values if pd.api.types.is_object_dtype(values.dtype) else shown(values)
        earlier = text.iloc[target].reset_index(drop=True)
        staged = text.iloc[kept].reset_index(drop=True)
        differs = (earlier != staged).to_numpy(dtype=bool)
        change = f"{column}: " + earlier.astype(str) + " -> " + staged.astype(str)
        changes = changes.where(~differs, changes.where(changes == "", changes + "; ") + change)
    files = places["source_file"].to_numpy(dtype=object)
    lines = places["line_number"].to_numpy(dtype=np.int64)
    frame = pd.DataFrame(
        {
            "source": source,
            "table_name": table,
            "record_key": record_key.iloc[target].astype(str).to_numpy(),
            "outcome": np.where(repeats.revised[target], REVISED, IDENTICAL_COPY),
            "kept_file": files[kept],
            "kept_line": lines[kept],
            "source_file": files[target],
            "line_number": lines[target],
            "changes": changes.to_numpy(dtype=object),
        },
        columns=REVISION_COLUMNS,
    )
    return frame.astype({"kept_line": "int64", "line_number": "int64"})


@dataclass
class CountsRepeats:
    """What a load reports whose staged rows count their identical copies
    (``source_row_count``) and whose revisions table records the copies and the superseded
    versions: its tables and files, the rows it accounts for, and the rows quarantined as
    conflicting (their reason starts with the source's ``CONFLICT`` words)."""

    CONFLICT: ClassVar[str]
    staging: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[SourceFile] = field(default_factory=list)
    input_rows: int = 0
    revisions: pd.DataFrame = field(default_factory=empty_revisions)

    @property
    def rows_accounted_for(self) -> int:
        """Rows staged (with the identical copies each stands for), superseded by a later
        publication, or quarantined."""
        superseded = int((self.revisions["outcome"] == REVISED).sum())
        return int(self.staging["source_row_count"].sum()) + superseded + len(self.quarantine)

    @property
    def conflicting_rows(self) -> int:
        """Rows quarantined because their key's versions disagree with nothing to order them."""
        return int(self.quarantine["reasons"].str.startswith(self.CONFLICT).sum())
