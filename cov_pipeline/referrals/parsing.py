"""Referrals, the parsers: every extract read by the one raw reader (:mod:`cov_pipeline.raw_reader`)
and dated by its name, its fields typed and validated against
:class:`~cov_pipeline.schemas.referrals.ReferralRecord` (a row fault quarantines the row with
every reason), each referral's versions resolved across the extracts (duplicates, and the later
extract wins), and the staged rows labelled and ordered (:func:`load_referrals`,
:class:`ReferralsLoad`). A file fault, or an error while parsing a file, raises
:class:`FileFault` naming the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline.quality import (
    BEYOND_WHOLE_NUMBERS,
    FileFault,
    SourceFile,
    by_value,
    columns_frame,
    empty_quarantine,
    failure_cases,
    marked_cells,
    quarantine_frame,
    rows_that_may_fail,
    within_whole_numbers,
)
from cov_pipeline.raw_reader import (
    NUL_FAULT,
    RECORD_FAULT,
    faults_name_the_file,
    read_records,
    with_record_faults,
)
from cov_pipeline.referrals.definitions import (
    DATE_COLUMNS,
    FILE_NAME,
    RAW_COLUMNS,
    RAW_HEADER,
    RAW_NAMES,
    SOURCE,
    TEXT_COLUMNS,
    TYPED_NAMES,
)
from cov_pipeline.referrals.descriptions import STAGING_COLUMNS
from cov_pipeline.referrals.labels import deprivation, label_referrals
from cov_pipeline.schemas.referrals import (
    ETHNIC_CATEGORIES,
    MAX_AGE,
    MIN_AGE,
    PRESENTING_NEEDS,
    REFERRAL_SOURCES,
    SERVICE_START,
    SEX_CODES,
    ReferralRecord,
)


# -- reading ------------------------------------------------------------------------------------
def extract_date_of(path: Path) -> dt.date:
    """The date an extract was taken, from its name ``referrals_YYYY-MM-DD[...].csv``."""
    match = FILE_NAME.match(path.name)
    if match is None:
        raise FileFault(
            path,
            "file name must be referrals_YYYY-MM-DD.csv (the date the extract was taken, which "
            "orders the extracts: the later extract wins)",
        )
    try:
        return dt.date.fromisoformat(match["date"])
    except ValueError:
        raise FileFault(path, f"'{match['date']}' in the file name is not a date") from None


def read_referral_file(
    path: Path, today: dt.date | None = None
) -> tuple[pd.DataFrame, SourceFile, dt.date]:
    """One extract as text columns (:data:`RAW_COLUMNS`, as delivered) plus ``line_number``,
    ``source_file``, ``record_fault`` and ``extract_date``, read by the one raw reader
    (:mod:`cov_pipeline.raw_reader`): file faults raise, and a record it could not take as
    delivered (a wrong number of fields, a NUL byte, a cleared row) carries its fault."""
    extract_date = extract_date_of(path)
    today = today or dt.date.today()
    if extract_date > today:
        raise FileFault(
            path, f"extract date {extract_date} in the file name is after today ({today})"
        )
    records = read_records(path, RAW_HEADER, what="referrals")
    frame = records.frame
    frame["extract_date"] = pd.Timestamp(extract_date)
    return frame, records.info, extract_date


# -- parsing and validation ---------------------------------------------------------------------
def _quoted(values: pd.Series) -> pd.Series:
    return "'" + values.astype(str) + "'"


def _ymd(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d")


def _join(parts: Iterable[pd.Series], index: pd.Index, separator: str = " | ") -> pd.Series:
    """Per row, the non-empty texts of ``parts`` joined in order ('' where none). Only the rows
    that have a text are touched: on a clean extract that is none of them."""
    present = []
    for part in parts:
        # Empty and missing texts are dropped on the numpy array first: turning every value to
        # text, as the check below does, costs a string per row.
        values = part.to_numpy(dtype=object)
        texts = part[pd.notna(values) & (values != "")]
        texts = texts[texts.astype(str) != ""]
        if len(texts):
            present.append(texts)
    if not present:
        return pd.Series("", index=index, dtype=object)
    joined = pd.concat(present).astype(str).groupby(level=0, sort=False).agg(separator.join)
    return joined.reindex(index, fill_value="").astype(object)


def delivered_text(raw: pd.DataFrame) -> pd.DataFrame:
    """The delivered fields with surrounding spaces removed: what is parsed and compared (the
    reader's Arrow text is trimmed by Arrow, a pass in C per column)."""
    return pd.DataFrame({c: raw[c].str.strip() for c in RAW_COLUMNS}, index=raw.index)


def parse_referrals(
    raw: pd.DataFrame, text: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Type the text columns; return the typed rows, the parse faults ('' where none) and a mask
    of the cells that held text that could not be read (so that they are not called missing)."""
    text = delivered_text(raw) if text is None else text
    typed = pd.DataFrame(index=raw.index)
    unreadable = pd.DataFrame(False, index=raw.index, columns=RAW_COLUMNS)
    reasons: list[pd.Series] = []
    given = {
        column: (text[column] != "").to_numpy(dtype=bool, na_value=False) for column in RAW_COLUMNS
    }

    for column in TEXT_COLUMNS:
        if column == "referral_id":  # every id distinct: each turned to a Python string
            values = text[column].to_numpy(dtype=object)
        else:  # a few codes, repeated: each distinct code turned to a Python string once
            number, distinct = pd.factorize(text[column])
            values = np.asarray(distinct, dtype=object)[number]
        typed[TYPED_NAMES.get(column, column)] = np.where(given[column], values, None)

    for column in DATE_COLUMNS:
        parsed = by_value(
            text[column], lambda v: pd.to_datetime(v, format="%Y-%m-%d", errors="coerce")
        )
        bad = given[column] & parsed.isna().to_numpy()
        typed[column] = parsed.astype("datetime64[ns]")
        unreadable[column] = bad
        if bad.any():
            reasons.append(
                column + ": " + _quoted(raw.loc[bad, column]) + " is not a date (YYYY-MM-DD)"
            )

    number = by_value(text["age"], lambda v: pd.to_numeric(v, errors="coerce"))
    whole = (number.notna() & np.isfinite(number) & (number % 1 == 0)).to_numpy()
    too_large = whole & ~within_whole_numbers(number.to_numpy(dtype="float64"))
    bad_age = given["age"] & ~whole
    typed["age"] = number.where(whole & ~too_large).astype("Int64")
    unreadable["age"] = bad_age | too_large
    if bad_age.any():
        reasons.append("age: " + _quoted(raw.loc[bad_age, "age"]) + " is not a whole number")
    if too_large.any():
        reasons.append("age: " + _quoted(raw.loc[too_large, "age"]) + BEYOND_WHOLE_NUMBERS)
    typed["extract_date"] = raw["extract_date"].astype("datetime64[ns]")
    return typed, _join(reasons, raw.index), unreadable


# The dataframe-level checks of ReferralRecord: the date checked, the date it is compared with,
# and the words between them.
_DATE_RULES = {
    "first_contact_before_referral": (
        "first_contact_date",
        "referral_date",
        " is before the referral date ",
        "",
    ),
    "discharge_before_first_contact": (
        "discharge_date",
        "first_contact_date",
        " is before the first contact date ",
        "",
    ),
    "discharge_before_referral": (
        "discharge_date",
        "referral_date",
        " is before the referral date ",
        "",
    ),
    **{
        f"{column}_after_extract": (
            column,
            "extract_date",
            " is after the extract date ",
            " (a date in the future)",
        )
        for column in DATE_COLUMNS
    },
}


def contract_reasons(typed: pd.DataFrame, unreadable: pd.DataFrame) -> pd.Series:
    """Validate against :class:`ReferralRecord` and phrase every failure for the quarantine.

    Returns one reason per failing check, indexed by row label (a row may appear more than
    once). A cell whose text could not be read has its reason already and is not also called
    missing. Failures that belong to no row (a wrong dtype) are contract breaks in our parsing,
    not bad input, so they raise. Only the rows that can fail are validated in full
    (:func:`rows_that_may_fail`): the failures are those of the whole frame.
    """
    suspect = rows_that_may_fail(ReferralRecord.to_schema(), typed)
    if not suspect.any():
        return pd.Series(dtype=object)
    cases = failure_cases(ReferralRecord, typed if suspect.all() else typed[suspect])
    if cases.empty:
        return pd.Series(dtype=object)
    cases = cases.assign(
        index=cases["index"].astype("int64"), rule=cases["check"].str.split("(").str[0]
    )

    out: list[pd.Series] = []
    frame_level = cases["schema_context"] == "DataFrameSchema"
    rows = cases.loc[frame_level].drop_duplicates(["index", "check"])
    for check, group in rows.groupby("check", sort=False):
        column, other, words, suffix = _DATE_RULES[str(check)]
        at = typed.loc[group["index"].to_numpy()]
        out.append(column + ": " + _ymd(at[column]) + words + _ymd(at[other]) + suffix)

    cells = cases.loc[~frame_level]
    missing = cells["rule"] == "not_nullable"
    if missing.any():
        hit = cells.loc[missing]
        hit = hit.loc[~marked_cells(unreadable, hit["index"].to_numpy(), hit["column"])]
        out.append(
            pd.Series(
                (hit["column"].map(lambda c: RAW_NAMES.get(c, c)) + ": missing").to_numpy(),
                index=hit["index"].to_numpy(),
            )
        )
    for (column, rule), group in cells.loc[~missing].groupby(["column", "rule"], sort=False):
        value = group["failure_case"].astype(str)
        if column in DATE_COLUMNS:
            value = pd.to_datetime(group["failure_case"]).dt.strftime("%Y-%m-%d")
        text = _CELL_MESSAGES.get((str(column), str(rule)))
        if text is None:  # a rule without its own words: name it as pandera does
            text = f"{{}} fails {rule}"
        name = RAW_NAMES.get(str(column), str(column))
        messages = [f"{name}: " + text.format(v) for v in value]  # failing cells only
        out.append(pd.Series(messages, index=group["index"].to_numpy()))
    return pd.concat(out) if out else pd.Series(dtype=object)


_CELL_MESSAGES = {
    ("referral_date", "greater_than_or_equal_to"): "{} is before the service opened "
    f"({SERVICE_START.isoformat()})",
    ("age", "in_range"): "{} is outside the service's age range " + f"{MIN_AGE}-{MAX_AGE}",
    ("sex_code", "isin"): "'{}' is not a Person Stated Gender Code (" + ", ".join(SEX_CODES) + ")",
    ("ethnic_category", "isin"): "'{}' is not an NHS ethnic category code ("
    + ", ".join(ETHNIC_CATEGORIES)
    + ")",
    ("lsoa_code", "str_matches"): "'{}' is not an LSOA code (E01 or W01 and six digits)",
    ("referral_source_code", "isin"): "'{}' is not a known referral source ("
    + ", ".join(REFERRAL_SOURCES)
    + ")",
    ("presenting_need_code", "isin"): "'{}' is not a known presenting need ("
    + ", ".join(PRESENTING_NEEDS)
    + ")",
}


# -- several extracts: duplicates and the later extract wins ------------------------------------
@dataclass
class Versions:
    """Outcome of resolving the versions of every referral across the extracts."""

    kept: np.ndarray  # row mask: the version staged
    reasons: pd.Series  # new reasons (duplicates, earlier versions of a quarantined referral)
    extract_rows: pd.Series  # per kept row: rows merged into it (itself + superseded versions)
    changed: pd.Series  # per kept row: fields changed since the previous extract's version


def resolve_versions(frame: pd.DataFrame, faults: pd.Series, text: pd.DataFrame) -> Versions:
    """Apply the duplicate rules and the later-extract-wins rule, vectorised.

    ``frame`` has ``referral_id``, ``source_file``, ``line_number`` and ``extract_rank`` (the
    extract's place in time order); ``faults`` the reasons found so far ('' for none); ``text``
    the delivered fields (stripped), compared to tell copies apart.

    - Within one extract, a referral id given twice with identical fields keeps the first copy
      and quarantines the others; copies that differ are all quarantined, since nothing says
      which is right.
    - Across extracts, the latest extract holding a referral decides: its version is staged and
      earlier valid versions are superseded (counted in ``extract_rows``, not quarantined). If
      the latest version is quarantined, earlier versions are quarantined too rather than used
      in its place (they are known to be out of date).
    """
    index = frame.index
    ids = frame["referral_id"]
    # Each referral id as a number (-1 where missing): the groupings below are over numbers.
    id_code = pd.factorize(ids)[0]
    has_id = id_code >= 0
    n_ids = int(id_code.max()) + 1 if has_id.any() else 0
    rank = frame["extract_rank"].to_numpy(dtype=np.int64)
    reasons = pd.Series(None, index=index, dtype=object)

    keyed = frame.loc[has_id, ["referral_id", "extract_rank", "source_file", "line_number"]]
    within_extract = pd.Series(rank[has_id] * n_ids + id_code[has_id])
    repeated = within_extract.duplicated(keep=False).to_numpy()
    if repeated.any():
        rows = keyed.loc[repeated]
        # Copies are told apart by a hash of their delivered fields, made for these rows only.
        rows = rows.assign(_hash=pd.util.hash_pandas_object(text.loc[rows.index], index=False))
        rgroups = rows.groupby(["extract_rank", "referral_id"], sort=False)
        conflict = rgroups["_hash"].transform("nunique").to_numpy() > 1
        first_line = rgroups["line_number"].transform("min")
        later_copy = (rows["line_number"] != first_line).to_numpy() & ~conflict
        lines = rgroups["line_number"].transform(lambda s: ", ".join(map(str, sorted(s))))
        copies = rgroups["line_number"].transform("size").astype(str)
        who = "referral_id: " + _quoted(rows["referral_id"])
        identical = (
            who + " is repeated in " + rows["source_file"] + ", identical to line "
            + first_line.astype(str)
        )  # fmt: skip
        differing = (
            who + " appears " + copies + " times in " + rows["source_file"]
            + " with different fields (lines " + lines + ")"
        )  # fmt: skip
        reasons.loc[rows.index[later_copy]] = identical[later_copy]
        reasons.loc[rows.index[conflict]] = differing[conflict]

    def per_id(values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over the rows of each referral id."""
        return np.bincount(id_code[has_id], weights=values[has_id], minlength=n_ids)

    def of_row(per_referral: np.ndarray, fill) -> np.ndarray:
        """A per-id figure on each row (``fill`` where the row has no id)."""
        out = np.full(len(index), fill, dtype=per_referral.dtype)
        out[has_id] = per_referral[id_code[has_id]]
        return out

    usable = ((faults.fillna("") == "") & reasons.isna()).to_numpy() & has_id
    latest_rank = np.full(n_ids, -1, dtype=np.int64)
    np.maximum.at(latest_rank, id_code[has_id], rank[has_id])
    is_latest = has_id & (rank == of_row(latest_rank, -1))
    latest_usable = of_row(per_id(usable & is_latest) > 0, False)
    earlier = has_id & ~is_latest
    superseded = earlier & usable & latest_usable
    orphaned = earlier & usable & ~latest_usable
    if orphaned.any():
        of_orphans = of_row(per_id(orphaned) > 0, False)
        latest_file = (
            frame.loc[is_latest & of_orphans].groupby("referral_id")["source_file"].first()
        )
        where = latest_file.reindex(ids[orphaned]).to_numpy()
        reasons.loc[index[orphaned]] = (
            "referral_id: " + _quoted(ids[orphaned]) + " is quarantined in the later extract "
            + where + "; the later extract wins, so this earlier version is not used"
        )  # fmt: skip
    kept = usable & is_latest

    merged = per_id(superseded).astype(np.int64)
    extract_rows = pd.Series(1 + merged[id_code[kept]], index=index[kept], dtype="int64")

    changed = pd.Series(None, index=index[kept], dtype=object)
    if superseded.any():
        # only referrals with an earlier version to compare with
        several = kept & of_row(merged > 0, False)
        # Each referral's versions in extract order (the order of the referrals themselves
        # does not matter: each is compared with its own previous version).
        chosen = np.flatnonzero(superseded | several)
        chosen = chosen[np.lexsort((rank[chosen], id_code[chosen]))]
        order = index[chosen]
        current = text.loc[order]
        previous = current.groupby(id_code[chosen]).shift(1)
        has_previous = previous["referral_id"].notna()
        compared = [c for c in RAW_COLUMNS if c != "referral_id"]
        # (a first version's previous is missing: the Arrow comparison gives <NA>, not True)
        differs = (current[compared] != previous[compared]).fillna(False).to_numpy(dtype=bool)
        differs &= has_previous.to_numpy()[:, None]
        parts = [
            pd.Series(np.where(differs[:, k], c, None), index=order, dtype=object)
            for k, c in enumerate(compared)
        ]
        listed = _join(parts, order, ", ")
        on_kept = listed.loc[index[several]]
        changed.loc[on_kept.index] = on_kept.where(on_kept != "", None)
    return Versions(kept=kept, reasons=reasons, extract_rows=extract_rows, changed=changed)


# -- loading ------------------------------------------------------------------------------------
@dataclass
class ReferralsLoad:
    """The staged referrals, the quarantine, and how the input rows were accounted for."""

    staging: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[SourceFile] = field(default_factory=list)
    input_rows: int = 0

    @property
    def superseded_rows(self) -> int:
        """Valid rows of earlier extracts replaced by a later extract's version."""
        return int(self.staging["extract_rows"].sum()) - len(self.staging)

    @property
    def rows_accounted_for(self) -> int:
        return int(self.staging["extract_rows"].sum()) + len(self.quarantine)


def staging_order(referral_date: pd.Series, referral_id: pd.Series) -> np.ndarray:
    """Positions that put referrals in the staging order, by referral date then id (ties kept
    in place): as a stable ``sort_values(["referral_date", "referral_id"])``, which orders the
    ids by Python's string comparison too, but sorting the ids directly rather than through
    categories (they are all distinct) and the dates as numbers."""
    if referral_date.isna().any() or referral_id.isna().any():
        frame = pd.DataFrame({"d": referral_date.to_numpy(), "i": referral_id.to_numpy()})
        return frame.sort_values(["d", "i"], kind="stable").index.to_numpy()
    by_id = np.argsort(referral_id.to_numpy(dtype=object), kind="stable")
    dates = referral_date.to_numpy(dtype="datetime64[ns]")[by_id]
    return by_id[np.argsort(dates, kind="stable")]


def load_referrals(
    paths: Iterable[Path], imd: pd.DataFrame, today: dt.date | None = None
) -> ReferralsLoad:
    """Read, validate, resolve and label every extract; a file fault in any file raises first.

    Row faults, each quarantined with file, line and every reason: a date that is not a date,
    an age that is not a whole number or is outside 10-24, a missing required field, an
    unknown sex, ethnic category, referral source or presenting need code, a malformed LSOA
    code, a referral dated before the service opened (2018-01-01), a first contact before the
    referral, a discharge before the first contact or the referral, a date after the extract
    date, a referral id repeated within one extract, a record the raw reader could not read as
    delivered (a NUL byte, before the other reasons; a wrong number of fields or a cleared row,
    its one reason). Across extracts the later extract wins (:func:`resolve_versions`).
    """
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault("referrals/", "no referral extracts (referrals_YYYY-MM-DD.csv) found")
    frames, files, dates, parsed = [], [], [], []
    offset = 0
    for path in paths:
        with faults_name_the_file(path):
            frame, info, extract_date = read_referral_file(path, today)
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            text = delivered_text(frame)
            parsed.append((text, *parse_referrals(frame, text)))
        offset += len(frame)
        frames.append(frame)
        files.append(info)
        dates.append(extract_date)
    # Extracts in time order: by extract date, then file name.
    in_time_order = sorted(zip(dates, [f.name for f in files], strict=True))
    rank_of = {name: rank for rank, (_, name) in enumerate(in_time_order)}
    # The record faults apart: pandas' concat of frames reads an object column that is all None
    # (as it is for clean files) value by value, a Series' concat does not.
    record_faults = pd.concat([frame.pop(RECORD_FAULT) for frame in frames])
    raw = pd.concat(frames)
    raw["extract_rank"] = raw["source_file"].map(rank_of).astype("int64")
    text, typed, faults, unreadable = (pd.concat(part) for part in zip(*parsed, strict=True))

    # A record the reader could not take as delivered has its fault among its reasons (as its
    # one reason where its fields are not in place: a field more or fewer, a cleared row).
    first = with_record_faults(
        _join([faults, contract_reasons(typed, unreadable)], raw.index), record_faults
    )
    ids = typed[["referral_id"]]
    faulty = record_faults.notna()
    if faulty.any():
        # ... and there its id, perhaps no id, takes no part in the duplicate and
        # later-extract-wins rules (a row with a NUL byte is quarantined as any other)
        moved = faulty & ~record_faults.str.startswith(NUL_FAULT, na=False)
        ids = ids.where(~moved, None)
    versions = resolve_versions(
        ids.join(raw[["source_file", "line_number", "extract_rank"]]), first, text
    )
    all_reasons = _join([first, versions.reasons], raw.index)
    if faulty.any():  # values quoted as delivered: a NUL shown as \x00 (PostgreSQL holds none)
        all_reasons = all_reasons.str.replace("\x00", "\\x00", regex=False)
    quarantine = quarantine_frame(SOURCE, raw, all_reasons, RAW_COLUMNS)

    # The staged rows are taken once, already in the staging order (labelling is row by row).
    kept = np.flatnonzero(versions.kept)
    kept = kept[staging_order(typed["referral_date"].iloc[kept], typed["referral_id"].iloc[kept])]
    rows = typed.iloc[kept]
    labels = label_referrals(rows)
    imd_columns = deprivation(rows["lsoa_code"], imd)
    staged = {
        **{name: rows[name] for name in rows.columns},
        **{name: labels[name] for name in labels.columns},
        **{name: imd_columns[name] for name in imd_columns.columns},
        "source_file": raw["source_file"].to_numpy()[kept],
        "line_number": raw["line_number"].to_numpy(dtype=np.int64)[kept],
        "extract_rows": versions.extract_rows.reindex(rows.index).astype("int64"),
        "changed_in_later_extract": versions.changed.reindex(rows.index).astype(object),
    }
    return ReferralsLoad(
        staging=columns_frame({c: staged[c] for c in STAGING_COLUMNS}, pd.RangeIndex(len(kept))),
        quarantine=pd.concat([empty_quarantine(), quarantine], ignore_index=True)
        .sort_values(["source_file", "line_number"], kind="stable")
        .reset_index(drop=True),
        files=files,
        input_rows=len(raw),
    )
