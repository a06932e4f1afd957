"""Maternity, the parsers: every extract read as text by the one raw reader
(:mod:`cov_pipeline.raw_reader`), parsed explicitly into the staged bookings, births and DHSC
terminations, and split from the quarantine (with every reason of a row) and the records seen
more than once (:func:`load_maternity`). A file fault (unreadable, not UTF-8, wrong header, no
rows) raises :class:`FileFault` naming the file; nothing is dropped, coerced or defaulted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from cov_pipeline.maternity.definitions import (
    BIRTH_HEADER,
    BIRTHS_PATTERN,
    BOOKING_HEADER,
    BOOKINGS_PATTERN,
    DHSC_SUPPRESSED,
    DHSC_ZERO,
    RECORD_RULE,
    SOURCE,
    TERMINATION_AGE_COLUMNS,
    TERMINATIONS_COLUMNS,
    TERMINATIONS_HEADER,
    TERMINATIONS_PATTERN,
    TERMINATIONS_RULE,
)
from cov_pipeline.maternity.descriptions import (
    BIRTH_STAGING_DESCRIPTIONS,
    BOOKING_STAGING_DESCRIPTIONS,
    TERMINATION_STAGING_DESCRIPTIONS,
)
from cov_pipeline.maternity.rows import _first_match, _python_text, _Rows
from cov_pipeline.quality import (
    FileFault,
    SourceFile,
    empty_quarantine,
    empty_revisions,
    quarantine_frame,
)
from cov_pipeline.raw_reader import RECORD_FAULT, Header, read_records, with_record_faults
from cov_pipeline.schemas.maternity import MaternityBirth, MaternityBooking, TerminationsRow


# -- reading -----------------------------------------------------------------------------------
def read_extract(path: Path, header: Sequence[str]) -> tuple[pd.DataFrame, SourceFile]:
    """One CSV as text columns named as in ``header``, plus ``source_file``, ``line_number`` and
    ``record_fault``, read by the one raw reader (:mod:`cov_pipeline.raw_reader`): the header
    must hold exactly these columns (any order); a record the reader could not take as
    delivered (wrong number of fields, a NUL byte, a cleared row) carries its fault, and is
    quarantined with it."""
    records = read_records(path, Header(required=tuple(header)))
    frame = records.frame[["source_file", "line_number", *header, RECORD_FAULT]]
    return frame, records.info


def _read_all(paths: Iterable[Path], header: Sequence[str], what: str, pattern: str):
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault(f"{SOURCE}/{pattern}", f"no {what} extract found")
    frames, files = [], []
    for path in paths:
        frame, info = read_extract(path, header)
        frames.append(frame)
        files.append(info)
    return pd.concat(frames, ignore_index=True), files


# -- parsing -----------------------------------------------------------------------------------
def _mother_columns(rows: _Rows, typed: pd.DataFrame) -> None:
    typed["mother_age_band"] = rows.text("mother_age_band")
    typed["ethnic_category"] = rows.text("ethnic_category", upper=True)
    typed["lsoa_code"] = rows.text("lsoa_code", upper=True)
    typed["nrpf"] = rows.flag("nrpf_flag")


_TYPED_TO_RAW = {"nrpf": "nrpf_flag"}


class Parsed(NamedTuple):
    """One maternity table parsed: rows staged, rows quarantined, and the records seen more
    than once that were collapsed or revised (not staged, recorded)."""

    staged: pd.DataFrame
    quarantine: pd.DataFrame
    revisions: pd.DataFrame


def _split(
    typed: pd.DataFrame, raw: pd.DataFrame, rows: _Rows, header: Sequence[str], columns
) -> Parsed:
    reasons = with_record_faults(rows.reasons.reasons(), raw[RECORD_FAULT])
    quarantine = quarantine_frame(SOURCE, raw, reasons, list(header))
    valid = (reasons == "").to_numpy() & ~rows.collapsed
    staged = typed.loc[valid, list(columns)]
    staged.index = pd.RangeIndex(len(staged))  # as reset_index, without its second copy
    revisions = pd.concat([empty_revisions(), *rows.revisions], ignore_index=True)
    return Parsed(staged, quarantine, revisions)


def parse_bookings(raw: pd.DataFrame, lookup_codes: pd.Index, as_of: dt.date) -> Parsed:
    """Staged bookings, quarantined rows and collapsed copies, from every bookings extract."""
    rows = _Rows(raw, BOOKING_HEADER)
    typed = raw[["source_file", "line_number"]].copy()
    typed["booking_pseudo_id"] = rows.text("booking_pseudo_id", required=True)
    typed["booking_date"] = rows.date("booking_date", required=True)
    typed["gestation_at_booking_days"] = rows.whole("gestation_at_booking_days", required=True)
    _mother_columns(rows, typed)
    rows.contract(MaternityBooking, typed, _TYPED_TO_RAW)
    rows.future(typed["booking_date"], "booking_date", as_of)
    rows.lsoa_in_lookup(typed["lsoa_code"], lookup_codes)
    _python_text(typed, ids=["booking_pseudo_id"])
    rows.duplicates(
        typed["booking_pseudo_id"], "booking_pseudo_id", "maternity_bookings", RECORD_RULE
    )
    return _split(typed, raw, rows, BOOKING_HEADER, BOOKING_STAGING_DESCRIPTIONS)


def parse_births(
    raw: pd.DataFrame, lookup_codes: pd.Index, as_of: dt.date, bookings: pd.DataFrame
) -> Parsed:
    """Staged births, quarantined rows and collapsed copies; ``bookings`` are the staged
    bookings they link to."""
    rows = _Rows(raw, BIRTH_HEADER)
    typed = raw[["source_file", "line_number"]].copy()
    typed["birth_pseudo_id"] = rows.text("birth_pseudo_id", required=True)
    typed["booking_pseudo_id"] = rows.text("booking_pseudo_id")
    typed["birth_date"] = rows.date("birth_date", required=True)
    typed["gestation_at_birth_days"] = rows.whole("gestation_at_birth_days", required=True)
    typed["birth_outcome"] = rows.text("birth_outcome", required=True, lower=True)
    typed["birthweight_grams"] = rows.whole("birthweight_grams")
    for column in ("neonatal_unit_admission", "survived_28_days", "survived_1_year"):
        typed[column] = rows.flag(column)
    _mother_columns(rows, typed)
    rows.contract(MaternityBirth, typed, _TYPED_TO_RAW)
    rows.future(typed["birth_date"], "birth_date", as_of)
    rows.lsoa_in_lookup(typed["lsoa_code"], lookup_codes)
    _python_text(typed, ids=["birth_pseudo_id", "booking_pseudo_id"])
    booking_date = _booking_dates(typed["booking_pseudo_id"], bookings)
    before = (typed["birth_date"] < booking_date).fillna(False).to_numpy(dtype=bool)
    rows.add(
        before,
        "birth_date: ",
        typed["birth_date"],
        " is before its booking (",
        typed["booking_pseudo_id"],
        " booked ",
        booking_date,
        ")",
        quote=[3],
    )
    typed["has_staged_booking"] = booking_date.notna()
    rows.duplicates(typed["birth_pseudo_id"], "birth_pseudo_id", "maternity_births", RECORD_RULE)
    return _split(typed, raw, rows, BIRTH_HEADER, BIRTH_STAGING_DESCRIPTIONS)


def _booking_dates(ids: pd.Series, bookings: pd.DataFrame) -> pd.Series:
    """The booking date of each booking id: NaT where the id is not among ``bookings``, the
    first booking's where an id is there twice."""
    position = _first_match(ids, bookings["booking_pseudo_id"])
    dates = bookings["booking_date"].to_numpy(dtype="datetime64[ns]")
    return pd.Series(np.append(dates, np.datetime64("NaT", "ns"))[position], index=ids.index)


def parse_terminations(raw: pd.DataFrame, as_of: dt.date) -> Parsed:
    """Staged DHSC rows and quarantined rows. ``*`` (suppressed by DHSC) is missing and flagged,
    ``-`` is DHSC's zero; counts may carry thousands separators."""
    rows = _Rows(raw.copy(), TERMINATIONS_HEADER)
    names = TERMINATIONS_COLUMNS
    typed = raw[["source_file", "line_number"]].copy()
    typed["year"] = rows.whole("Year", required=True)
    typed["area_code"] = rows.text("Area code", required=True, upper=True)
    typed["area_name"] = rows.text("Area name", required=True)
    typed["area_type"] = rows.text("Area type")
    suppressed = np.zeros(len(raw), dtype=bool)
    counts = ["Total abortions", "Under 18", "18-19", "20-24", "25-29", "30-34", "35 and over"]
    for column in counts:
        text = rows._text(column)
        withheld = (text == DHSC_SUPPRESSED).to_numpy(dtype=bool)
        suppressed |= withheld
        rows.raw[column] = text.mask(text == DHSC_ZERO, "0").mask(withheld, "")
        typed[names[column]] = rows.whole(column, thousands=True)
    rate_text = rows._text("Rate per 1,000 women aged 15-44")
    rate = pd.to_numeric(rate_text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad_rate = ~rate_text.isin(["", DHSC_SUPPRESSED]).to_numpy(dtype=bool) & np.isnan(rate)
    rows.add(
        bad_rate, "Rate per 1,000 women aged 15-44: ", rate_text, " is not a number", quote=[1]
    )
    typed["rate_per_1000_women_15_44"] = rate
    typed["has_suppressed_counts"] = suppressed
    raw_names = {v: k for k, v in names.items()}
    rows.contract(TerminationsRow, typed, raw_names)
    _python_text(typed)
    this_year = as_of.year
    rows.add(
        (typed["year"] > this_year).fillna(False).to_numpy(dtype=bool),
        "Year: ",
        typed["year"],
        f" is in the future (after {this_year})",
    )
    ages = typed[TERMINATION_AGE_COLUMNS]
    total = ages.sum(axis=1, min_count=1)
    complete = ages.notna().all(axis=1) & typed["terminations"].notna()
    mismatch = complete & (total != typed["terminations"]).fillna(False).astype(bool)
    rows.add(
        mismatch,
        "Total abortions: ",
        typed["terminations"],
        " is not the sum of the age groups (",
        total.astype("Int64"),
        ")",
    )
    key = typed["year"].astype(str) + " " + typed["area_code"].fillna("")
    rows.duplicates(
        key.where(typed["year"].notna() & typed["area_code"].notna()),
        "Year and area",
        "terminations",
        TERMINATIONS_RULE,
    )
    # the quarantine keeps the text as delivered, not the zero-normalised text
    return _split(
        typed,
        raw,
        rows,
        TERMINATIONS_HEADER,
        TERMINATION_STAGING_DESCRIPTIONS,
    )


@dataclass
class TableLoad:
    """One staging table: its valid rows, its quarantined rows, the records seen more than once
    that were collapsed or revised, and the files they came from."""

    table: str
    staging: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[SourceFile] = field(default_factory=list)
    input_rows: int = 0
    revisions: pd.DataFrame = field(default_factory=empty_revisions)

    @property
    def rows_accounted_for(self) -> int:
        """Rows staged, quarantined, or collapsed into a staged row (a copy, a revision)."""
        return len(self.staging) + len(self.quarantine) + len(self.revisions)

    @classmethod
    def of(cls, table: str, parsed: Parsed, files: list[SourceFile], input_rows: int):
        return cls(table, parsed.staged, parsed.quarantine, files, input_rows, parsed.revisions)


@dataclass
class MaternityLoad:
    """The three maternity staging tables, their quarantine and their revisions."""

    bookings: TableLoad
    births: TableLoad
    terminations: TableLoad

    @property
    def tables(self) -> tuple[TableLoad, ...]:
        return (self.bookings, self.births, self.terminations)

    @property
    def quarantine(self) -> pd.DataFrame:
        frames = [t.quarantine for t in self.tables]
        table = pd.concat([empty_quarantine(), *frames], ignore_index=True)
        table = table.sort_values(["source_file", "line_number"], kind="stable")
        return table.reset_index(drop=True).astype({"line_number": "int64"})

    @property
    def revisions(self) -> pd.DataFrame:
        table = pd.concat([empty_revisions(), *(t.revisions for t in self.tables)])
        table = table.sort_values(["source_file", "line_number"], kind="stable")
        return table.reset_index(drop=True)

    @property
    def files(self) -> list[SourceFile]:
        return [f for t in self.tables for f in t.files]


def load_maternity(
    booking_paths: Iterable[Path],
    birth_paths: Iterable[Path],
    termination_paths: Iterable[Path],
    imd: pd.DataFrame,
    as_of: dt.date | None = None,
) -> MaternityLoad:
    """Read, validate and split every maternity extract; any file fault raises first.

    ``imd`` is the IMD lookup (``staging.imd_lsoa``): an LSOA missing from it is a row fault.
    ``as_of`` (default today) is the date after which a date is in the future.
    """
    as_of = as_of or dt.date.today()
    raw_bookings, booking_files = _read_all(
        booking_paths, BOOKING_HEADER, "bookings", BOOKINGS_PATTERN
    )
    raw_births, birth_files = _read_all(birth_paths, BIRTH_HEADER, "births", BIRTHS_PATTERN)
    raw_terminations, termination_files = _read_all(
        termination_paths, TERMINATIONS_HEADER, "terminations", TERMINATIONS_PATTERN
    )
    codes = pd.Index(imd["lsoa_code"].dropna().astype(str).unique())
    bookings = parse_bookings(raw_bookings, codes, as_of)
    births = parse_births(raw_births, codes, as_of, bookings.staged)
    terminations = parse_terminations(raw_terminations, as_of)
    return MaternityLoad(
        bookings=TableLoad.of("maternity_bookings", bookings, booking_files, len(raw_bookings)),
        births=TableLoad.of("maternity_births", births, birth_files, len(raw_births)),
        terminations=TableLoad.of(
            "terminations", terminations, termination_files, len(raw_terminations)
        ),
    )
