"""Maternity: the provider's record-level extracts (bookings, births), the DHSC terminations
table, and the proxy measures built on them (late bookings, prematurity, pregnancy outcomes,
preterm outcomes), by month, quarter and year, for all women and each target group.

Extracts are read as text and parsed explicitly. A file fault (unreadable, not UTF-8, wrong
header, no rows) raises :class:`FileFault` naming the file; a row fault sends the row to the
quarantine with its file, line and every reason; nothing is dropped, coerced or defaulted. The
measures are plain functions of DataFrames; the marts add SPC columns (Making Data Count) and
keep full detail (the published tier withholds small numbers). Definitions (gestation thresholds) live in
``config/maternity.yaml``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import yaml

from cov_pipeline import stats
from cov_pipeline.config import CONFIG_DIR
from cov_pipeline.imd import MOST_DEPRIVED_DECILES
from cov_pipeline.quality import (
    BEYOND_WHOLE_NUMBERS,
    IDENTICAL_COPY,
    REVISED,
    FileFault,
    ReasonCollector,
    SourceFile,
    empty_quarantine,
    empty_revisions,
    failure_cases,
    marked_cells,
    quarantine_frame,
    within_whole_numbers,
)
from cov_pipeline.raw_reader import RECORD_FAULT, Header, read_records, with_record_faults
from cov_pipeline.schemas.maternity import (
    AGE_BANDS,
    BIRTH_OUTCOMES,
    GESTATION_MAX_EXCLUSIVE,
    GESTATION_MIN_EXCLUSIVE,
    LSOA_CODE_PATTERN,
    MaternityBirth,
    MaternityBooking,
    TerminationsRow,
)
from cov_pipeline.spc import SPC_COLUMNS, SpcSettings, spc_series

SOURCE = "maternity"
BOOKINGS_PATTERN = "bookings*.csv"
BIRTHS_PATTERN = "births*.csv"
TERMINATIONS_PATTERN = "terminations*.csv"

# -- definitions -------------------------------------------------------------------------------
MATERNITY_CONFIG_ENV = "COV_MATERNITY_CONFIG"
DEFAULT_MATERNITY_CONFIG = CONFIG_DIR / "maternity.yaml"


class MaternityConfigError(ValueError):
    """A definitions file that cannot be used (unknown key, thresholds out of order)."""


@dataclass(frozen=True)
class MaternityDefinitions:
    """Gestation thresholds in days that define the measures; defaults per docs/definitions.md.

    - booked by 10+0 weeks: gestation at booking <= ``booked_by_days`` (70; NICE NG201 ambition);
    - late booking: >= ``late_booking_from_days`` (91, 13+0 weeks; misses "booked by 12+6");
    - very late booking: >= ``very_late_booking_from_days`` (141, 20+1 weeks; MSDS "141+ days");
    - preterm: born before ``preterm_before_days`` (259, 37+0 weeks; WHO, Fingertips 91743);
    - moderate to late preterm: ``moderate_preterm_from_days`` (224, 32+0) to 258;
    - very preterm: ``very_preterm_from_days`` (196, 28+0) to 223;
    - extremely preterm: under ``very_preterm_from_days`` (196, 28+0).
    """

    booked_by_days: int = 70
    late_booking_from_days: int = 91
    very_late_booking_from_days: int = 141
    preterm_before_days: int = 259
    moderate_preterm_from_days: int = 224
    very_preterm_from_days: int = 196

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise MaternityConfigError(f"{item.name} must be a whole number of days")
            if not GESTATION_MIN_EXCLUSIVE < value < GESTATION_MAX_EXCLUSIVE:
                raise MaternityConfigError(
                    f"{item.name} = {value} is outside ({GESTATION_MIN_EXCLUSIVE}, "
                    f"{GESTATION_MAX_EXCLUSIVE}) days"
                )
        if not (
            self.booked_by_days < self.late_booking_from_days <= self.very_late_booking_from_days
        ):
            raise MaternityConfigError(
                "booking thresholds must satisfy booked_by_days < late_booking_from_days <= "
                "very_late_booking_from_days"
            )
        if not (
            self.very_preterm_from_days < self.moderate_preterm_from_days < self.preterm_before_days
        ):
            raise MaternityConfigError(
                "birth thresholds must satisfy very_preterm_from_days < "
                "moderate_preterm_from_days < preterm_before_days"
            )


def maternity_config_path() -> Path:
    """``$COV_MATERNITY_CONFIG`` where set, else the packaged ``config/maternity.yaml``."""
    return Path(os.environ.get(MATERNITY_CONFIG_ENV) or DEFAULT_MATERNITY_CONFIG)


def load_maternity_definitions(path: str | Path | None = None) -> MaternityDefinitions:
    """The definitions in ``path`` (else ``$COV_MATERNITY_CONFIG``, else the packaged file);
    keys left out keep their defaults. Raises MaternityConfigError naming the file."""
    source = Path(path) if path is not None else maternity_config_path()
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MaternityConfigError(f"{source}: cannot read maternity definitions: {exc}") from exc
    if not isinstance(document, Mapping):
        raise MaternityConfigError(f"{source}: expected a mapping of setting to days")
    known = {item.name for item in fields(MaternityDefinitions)}
    unknown = sorted(set(document) - known)
    if unknown:
        raise MaternityConfigError(f"{source}: unknown setting(s) {unknown}; known {sorted(known)}")
    try:
        return MaternityDefinitions(**document)
    except MaternityConfigError as exc:
        raise MaternityConfigError(f"{source}: {exc}") from None


# -- raw layouts -------------------------------------------------------------------------------
BOOKING_HEADER = (
    "booking_pseudo_id",
    "booking_date",
    "gestation_at_booking_days",
    "mother_age_band",
    "ethnic_category",
    "lsoa_code",
    "nrpf_flag",
)
BIRTH_HEADER = (
    "birth_pseudo_id",
    "booking_pseudo_id",
    "birth_date",
    "gestation_at_birth_days",
    "birth_outcome",
    "birthweight_grams",
    "neonatal_unit_admission",
    "survived_28_days",
    "survived_1_year",
    "mother_age_band",
    "ethnic_category",
    "lsoa_code",
    "nrpf_flag",
)
# DHSC abortion statistics, local authority of residence table: numbers by age group and the
# crude rate per 1,000 resident women aged 15-44; one file per publication year.
TERMINATIONS_COLUMNS = {
    "Year": "year",
    "Area code": "area_code",
    "Area name": "area_name",
    "Area type": "area_type",
    "Total abortions": "terminations",
    "Under 18": "terminations_under_18",
    "18-19": "terminations_18_19",
    "20-24": "terminations_20_24",
    "25-29": "terminations_25_29",
    "30-34": "terminations_30_34",
    "35 and over": "terminations_35_and_over",
    "Rate per 1,000 women aged 15-44": "rate_per_1000_women_15_44",
}
TERMINATIONS_HEADER = tuple(TERMINATIONS_COLUMNS)
TERMINATION_AGE_COLUMNS = [
    c for c in TERMINATIONS_COLUMNS.values() if c.startswith("terminations_")
]
# DHSC marks a count it withheld with "*"; "-" is its zero.
DHSC_SUPPRESSED = "*"
DHSC_ZERO = "-"

BOOKING_STAGING_DESCRIPTIONS = {
    "booking_pseudo_id": "Pseudonymised id of the booking (one per pregnancy booked).",
    "booking_date": "Date of the booking appointment.",
    "gestation_at_booking_days": "Gestation at booking in completed days (13+0 weeks = 91).",
    "mother_age_band": "Mother's age band at booking (MSDS bands); null where not recorded.",
    "ethnic_category": "Mother's ethnic category, NHS Data Dictionary code (A-S, Z not stated, "
    "99 not known); null where blank. Lower case is normalised to upper.",
    "lsoa_code": "LSOA of the mother's residence (in the IMD lookup); null where not recorded.",
    "nrpf": "True where the mother has no recourse to public funds; null where not recorded.",
    "source_file": "Raw file the row came from.",
    "line_number": "Line of that file (the header is line 1).",
}
BIRTH_STAGING_DESCRIPTIONS = {
    "birth_pseudo_id": "Pseudonymised id of the baby (one row per baby, live or stillborn).",
    "booking_pseudo_id": "Booking of the pregnancy (shared by twins); null where the mother "
    "did not book with the provider.",
    "has_staged_booking": "True where the booking is in staging.maternity_bookings (false: booked "
    "elsewhere, before the extract, or the booking row was quarantined).",
    "birth_date": "Date of birth.",
    "gestation_at_birth_days": "Gestation at birth in completed days (37+0 weeks = 259).",
    "birth_outcome": "live or stillbirth.",
    "birthweight_grams": "Birthweight in grams; null where not recorded.",
    "neonatal_unit_admission": "True where the baby was admitted to a neonatal unit; null where "
    "not recorded and for stillbirths.",
    "survived_28_days": "True where the baby was alive at 28 days; null where not yet known and "
    "for stillbirths.",
    "survived_1_year": "True where the baby was alive at 1 year; null where not yet known and for "
    "stillbirths.",
    **{
        k: BOOKING_STAGING_DESCRIPTIONS[k]
        for k in ("mother_age_band", "ethnic_category", "lsoa_code", "nrpf")
    },
    "source_file": "Raw file the row came from.",
    "line_number": "Line of that file (the header is line 1).",
}
TERMINATION_STAGING_DESCRIPTIONS = {
    "year": "Calendar year of the abortions.",
    "area_code": "ONS code of the area of residence.",
    "area_name": "Area name as published.",
    "area_type": "Area type as published (Country, Region, Local authority); null if blank.",
    "terminations": "Abortions to residents of the area (DHSC 'Total abortions'); null where "
    "DHSC suppressed it.",
    "terminations_under_18": "Of which the woman was under 18; null where suppressed ('*').",
    "terminations_18_19": "Of which aged 18-19; null where suppressed.",
    "terminations_20_24": "Of which aged 20-24; null where suppressed.",
    "terminations_25_29": "Of which aged 25-29; null where suppressed.",
    "terminations_30_34": "Of which aged 30-34; null where suppressed.",
    "terminations_35_and_over": "Of which aged 35 and over; null where suppressed.",
    "rate_per_1000_women_15_44": "Crude rate per 1,000 resident women aged 15-44 as published.",
    "has_suppressed_counts": "True where DHSC withheld one or more of the row's counts ('*').",
    "source_file": "Raw file the row came from.",
    "line_number": "Line of that file (the header is line 1).",
}

# pandera's own check names; any other check name is the error text of one of our checks.
_BUILT_IN_CHECKS = [
    "not_nullable", "isin", "notin", "str_matches", "str_length", "str_contains", "in_range",
    "greater_than", "greater_than_or_equal_to", "less_than", "less_than_or_equal_to",
    "equal_to", "not_equal_to", "field_uniqueness", "unique",
]  # fmt: skip
_ISIN_TEXT = {
    "ethnic_category": "is not an NHS ethnic category code (A-H, J-N, P, R, S, Z or 99)",
    "mother_age_band": f"is not an age band ({', '.join(AGE_BANDS)})",
    "birth_outcome": f"is not a birth outcome ({', '.join(BIRTH_OUTCOMES)})",
}
_PATTERN_TEXT = {
    "lsoa_code": "is not an LSOA code (E01 or W01 and six digits)",
    "area_code": "is not an ONS area code",
    "booking_pseudo_id": "is not a pseudo id (4-64 letters, digits, '-' or '_')",
    "birth_pseudo_id": "is not a pseudo id (4-64 letters, digits, '-' or '_')",
}


# -- reading -----------------------------------------------------------------------------------
# Text columns are Arrow-backed strings: stripping, matching and comparing run in Arrow's
# kernels instead of on a Python object per cell (STACK-NOTES: DuckDB and pandas measurements).
ARROW_STRING = pd.StringDtype("pyarrow")


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


# -- row rules ---------------------------------------------------------------------------------
def _quoted(values: pd.Series) -> pd.Series:
    return "'" + values.astype(object).astype(str) + "'"


# Ids are matched on 64-bit digests of their text: hash tables of integers are several times
# faster than of Python strings. Equal text has equal digests, so digests find every match; a
# match of digests is then confirmed on the text (two texts sharing a digest is possible in
# principle, never seen in practice: the text decides).
def _digests(text: np.ndarray) -> np.ndarray:
    return pd.util.hash_array(text, categorize=False)


def _first_match(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """For each value, the position of the first key equal to it, -1 where none:
    ``pd.Index(keys.drop_duplicates()).get_indexer(values)`` in positions of ``keys``."""
    key_text, value_text = keys.to_numpy(dtype=object), values.to_numpy(dtype=object)
    position = np.full(len(values), -1, dtype=np.int64)
    present = np.flatnonzero(values.notna().to_numpy())
    if not keys.isna().any():
        key_digests = _digests(key_text)
        first = np.flatnonzero(~pd.Series(key_digests).duplicated().to_numpy())
        index = pd.Index(key_digests[first])
        found = index.get_indexer(_digests(value_text[present]))
        matched = found >= 0
        position[present[matched]] = first[found[matched]]
        # the text decides: every digest match is a text match, and no key was passed over for
        # an earlier key with its digest but other text
        passed_over = np.ones(len(keys), dtype=bool)
        passed_over[first] = False
        later = np.flatnonzero(passed_over)
        earlier = first[index.get_indexer(key_digests[later])]
        at = present[matched]
        if (key_text[position[at]] == value_text[at]).all() and (
            key_text[later] == key_text[earlier]
        ).all():
            return position
    # keys with missing values, or digests shared by different texts: on the text itself
    booked = pd.Index(keys)
    first = np.flatnonzero(~booked.duplicated(keep="first"))
    found = booked[first].get_indexer(values)
    return np.where(found >= 0, first[np.maximum(found, 0)], -1)


def _nullable_int(number: np.ndarray, whole: np.ndarray, index: pd.Index) -> pd.Series:
    """``pd.Series(number).where(whole).astype("Int64")``, built from the arrays: that cast
    checks every value the slow way. ``whole`` holds only where the number is a whole number
    within ``LARGEST_WHOLE_NUMBER``, so the cast to int64 is exact."""
    values = np.where(whole, number, 0.0)
    return pd.Series(pd.arrays.IntegerArray(values.astype(np.int64), ~whole), index=index)


def _parsed_once(text: pd.Series, parse) -> np.ndarray:
    """``parse(text)``, with each distinct text parsed once: a column of a million gestations or
    dates holds a few hundred or thousand. The parsers used read each value on its own (a result
    type that follows from the set of values is the same here), so the result is the same."""
    at, distinct = pd.factorize(text, use_na_sentinel=False)
    return parse(pd.Series(distinct, dtype=text.dtype))[at]


def _numbers(text: pd.Series) -> np.ndarray:
    """``pd.to_numeric(text, errors="coerce")`` as floats, NaN where not a number."""
    return _parsed_once(
        text,
        lambda t: pd.to_numeric(t, errors="coerce").to_numpy(dtype="float64", na_value=np.nan),
    )


def _dates(text: pd.Series) -> pd.Series:
    """``pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")``, NaT where not a date."""
    parsed = _parsed_once(
        text,
        lambda t: pd.to_datetime(t, format="%Y-%m-%d", errors="coerce").to_numpy(
            dtype="datetime64[ns]"
        ),
    )
    return pd.Series(parsed, index=text.index)


def _arrow(text: pd.Series):
    """The Arrow array under an Arrow-backed Series, in one chunk."""
    import pyarrow as pa

    values = pa.array(text.array)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _blank_as_missing(text: pd.Series) -> pd.Series:
    """Arrow-backed text with "" as missing (Arrow's ``if_else``: several times faster than
    ``Series.mask`` on these arrays)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pa.array(text.array)  # chunks kept: the kernels take them as they are
    blank = pc.equal(values, "")
    missing = pa.scalar(None, type=values.type)
    return pd.Series(pd.arrays.ArrowStringArray(pc.if_else(blank, missing, values)), text.index)


def _python_text(frame: pd.DataFrame, ids: Sequence[str] = ()) -> None:
    """Arrow-backed text columns to Python strings (None where missing), in place: the types of
    the staging tables, and faster than Arrow for hashing columns of unique ids. A column of
    few distinct values (codes, bands) is converted through Arrow's dictionary encoding, one
    Python string per distinct value; ``ids`` (a distinct value per row) value by value."""
    import pyarrow.compute as pc

    for column in frame.columns:
        values = frame[column]
        if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
            continue
        if column in ids:
            strings = values.to_numpy(dtype=object, na_value=None)
        else:
            encoded = pc.dictionary_encode(_arrow(values))
            distinct = np.append(encoded.dictionary.to_numpy(zero_copy_only=False), None)
            strings = distinct[pc.fill_null(encoded.indices, -1).to_numpy()]
        frame[column] = pd.Series(strings, index=frame.index, dtype=object)


class _Rows:
    """Parses the text columns of one raw table and collects every reason per row, vectorised:
    one boolean mask per rule, and each message built for the rows it concerns only."""

    def __init__(self, raw: pd.DataFrame, header: Sequence[str]):
        self.raw = raw
        self.header = list(header)
        self.reasons = ReasonCollector(raw.index)
        self.reported = pd.DataFrame(False, index=raw.index, columns=self.header)
        self.collapsed = np.zeros(len(raw), dtype=bool)  # copies and revised versions not staged
        self.revisions: list[pd.DataFrame] = []

    def add(self, mask, *parts: str | pd.Series, quote: Sequence[int] = ()) -> None:
        """Add a reason where ``mask`` holds: the parts (text, or a Series read at those rows,
        in quotes where its position is in ``quote``) joined."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        rows = self.raw.index[mask]
        message = pd.Series("", index=rows, dtype=object)
        for position, part in enumerate(parts):
            if isinstance(part, pd.Series):
                values = part.loc[rows]
                values = (
                    values.dt.strftime("%Y-%m-%d")
                    if pd.api.types.is_datetime64_any_dtype(values.dtype)
                    else values.astype(object).astype(str)
                )
                part = "'" + values + "'" if position in quote else values
            message = message + part
        # keyed by the rows it concerns: no string work on the (many) rows that pass
        self.reasons.add_series(message)

    def _text(self, column: str) -> pd.Series:
        return self.raw[column].str.strip()

    def _report(self, mask, column: str, *parts: str | pd.Series, quote=()) -> None:
        self.add(mask, *parts, quote=quote)
        self.reported[column] |= np.asarray(mask, dtype=bool)

    def required(self, column: str, text: pd.Series) -> None:
        self._report((text == "").to_numpy(dtype=bool), column, f"{column}: missing")

    def text(
        self, column: str, required: bool = False, upper: bool = False, lower: bool = False
    ) -> pd.Series:
        """The stripped text, blank as missing, Arrow-backed for the contract's checks (then
        turned into Python strings: :func:`_python_text`)."""
        text = self._text(column)
        if upper:
            text = text.str.upper()
        if lower:
            text = text.str.lower()
        if required:
            self.required(column, text)
        return _blank_as_missing(text)

    def whole(self, column: str, required: bool = False, thousands: bool = False) -> pd.Series:
        text = self._text(column)
        cleaned = text.str.replace(",", "", regex=False) if thousands else text
        number = _numbers(cleaned)
        with np.errstate(invalid="ignore"):  # inf mod 1 is NaN: not whole, no warning
            whole = np.isfinite(number) & (np.mod(number, 1) == 0)
        invalid = (text != "").to_numpy(dtype=bool) & ~whole
        self._report(invalid, column, f"{column}: ", text, " is not a whole number", quote=[1])
        too_large = whole & ~within_whole_numbers(number)
        self._report(too_large, column, f"{column}: ", text, BEYOND_WHOLE_NUMBERS, quote=[1])
        if required:
            self.required(column, text)
        return _nullable_int(number, whole & ~too_large, text.index)

    def date(self, column: str, required: bool = False) -> pd.Series:
        text = self._text(column)
        parsed = _dates(text)
        invalid = (text != "").to_numpy(dtype=bool) & parsed.isna().to_numpy()
        self._report(invalid, column, f"{column}: ", text, " is not a date (YYYY-MM-DD)", quote=[1])
        if required:
            self.required(column, text)
        return parsed.astype("datetime64[ns]")

    def flag(self, column: str) -> pd.Series:
        """Y / N (any case) to True / False; blank is missing."""
        text = self._text(column).str.upper()
        yes = (text == "Y").to_numpy(dtype=bool)
        no = (text == "N").to_numpy(dtype=bool)
        invalid = (text != "").to_numpy(dtype=bool) & ~yes & ~no
        self._report(invalid, column, f"{column}: ", text, " is not Y, N or blank", quote=[1])
        return pd.Series(pd.array(yes, dtype="boolean"), index=text.index).mask(~yes & ~no)

    def contract(self, model, typed: pd.DataFrame, columns: Mapping[str, str]) -> None:
        """The pandera model's failures, one readable reason per row, column and rule.

        ``columns`` maps typed column names to the raw names reasons are given under. A column
        already reported unparseable or missing is not reported missing again. Every row is
        validated: finding the rows that may fail (as the other sources do) costs more here than
        it saves, the pseudo ids being as many as the rows.
        """
        # in place: the models coerce nothing, so pandera's copy of the frame is not needed
        cases = failure_cases(model, typed, inplace=True)
        if not cases.empty:
            self._add_cases(cases, columns)

    def _add_cases(self, cases: pd.DataFrame, columns: Mapping[str, str]) -> None:
        check = cases["check"].astype(str)
        rule = check.str.split("(").str[0]
        row = cases["index"].astype("int64")
        typed_column = cases["column"].astype(object)
        column = typed_column.map(dict(columns)).fillna(typed_column)
        value = cases["failure_case"].astype(str)
        # Dataframe-wide checks fail once per column of the row: one reason per row and check.
        frame_check = cases["schema_context"].astype(str).eq("DataFrameSchema") & ~rule.isin(
            ["column_in_dataframe", "dataframe_column_labels_unique"]
        )
        frame_cases = cases[frame_check].assign(_row=row[frame_check], _check=check[frame_check])
        frame_cases = frame_cases.drop_duplicates(["_row", "_check"])
        self.reasons.add_series(
            pd.Series(frame_cases["_check"].to_numpy(), index=frame_cases["_row"])
        )

        col = ~frame_check
        column, typed_column, rule, check, value, row = (
            s[col] for s in (column, typed_column, rule, check, value, row)
        )
        already = marked_cells(self.reported, row.to_numpy(), column)
        isin_text = typed_column.map(_ISIN_TEXT)
        pattern_text = typed_column.map(_PATTERN_TEXT)
        minimum = check.str.extract(r"\((.*)\)")[0].fillna("")
        text = np.select(
            [
                rule.eq("not_nullable").to_numpy(),
                rule.eq("isin").to_numpy() & isin_text.notna().to_numpy(),
                rule.eq("str_matches").to_numpy() & pattern_text.notna().to_numpy(),
                rule.eq("greater_than_or_equal_to").to_numpy(),
                ~rule.isin(_BUILT_IN_CHECKS).to_numpy(),  # a custom check: its error text
            ],
            [
                (column + ": missing").to_numpy(),
                (column + ": " + _quoted(value) + " " + isin_text.fillna("")).to_numpy(),
                (column + ": " + _quoted(value) + " " + pattern_text.fillna("")).to_numpy(),
                (column + ": " + value + " is below the minimum " + minimum).to_numpy(),
                (column + ": " + value + " " + check).to_numpy(),
            ],
            default=(column + ": " + check + " (got " + value + ")").to_numpy(),
        )
        keep = ~(rule.eq("not_nullable").to_numpy() & already)
        # reasons in the order of the file's columns
        position = column.map({c: i for i, c in enumerate(self.header)}).fillna(len(self.header))
        order = np.argsort(position.to_numpy()[keep], kind="stable")
        self.reasons.add_series(pd.Series(text[keep][order], index=row.to_numpy()[keep][order]))

    def future(self, dates: pd.Series, column: str, as_of: dt.date) -> None:
        late = (dates > pd.Timestamp(as_of)).fillna(False).to_numpy(dtype=bool)
        self.add(late, f"{column}: ", dates, f" is in the future (after {as_of})")

    def lsoa_in_lookup(self, lsoa: pd.Series, lookup_codes: pd.Index) -> None:
        text = lsoa.astype(ARROW_STRING)
        well_formed = text.str.match(LSOA_CODE_PATTERN).fillna(False).to_numpy(dtype=bool)
        missing = well_formed & ~lsoa.isin(lookup_codes).to_numpy()
        self.add(missing, "lsoa_code: ", lsoa, " is not in the IMD lookup", quote=[1])

    def duplicates(self, ids: pd.Series, column: str, table: str, newer_wins: bool = False) -> None:
        """A record seen more than once (``ids`` the key; None where it has none):

        - a copy identical to an earlier one (a resent extract) is collapsed: staged once, the
          copy counted and recorded in the revisions table (a copy that fails other rules is
          quarantined with them, and says whose copy it is);
        - with ``newer_wins`` (a publication revised by the next one: one version per file), the
          version in the latest file (by name: publications are named by year) is staged and
          the earlier versions are recorded as revised, with the fields that changed;
        - otherwise copies that disagree are all quarantined, naming every place (nothing says
          which is right); so are versions that disagree within one file.
        """
        repeated = (ids.duplicated(keep=False) & ids.notna()).to_numpy(dtype=bool)
        if not repeated.any():
            return
        rows = self.raw.loc[repeated]
        key = ids[repeated]
        digests = pd.util.hash_pandas_object(rows[self.header], index=False).to_numpy()
        record = pd.Series(digests.view(np.int64), index=rows.index, dtype="Int64")
        files = rows["source_file"].astype(str)
        place = files + " line " + rows["line_number"].astype(str)
        faulty = pd.Series(self.reasons.rows_with_reasons()[repeated], index=rows.index)
        by_key = key.to_numpy()
        n_versions = record.groupby(by_key).transform("nunique")
        # the version staged: the first row of the one record (identical copies), or of the
        # latest file's record (a revision)
        winner = record.groupby(by_key).transform("first")
        resolvable = pd.Series(False, index=rows.index)
        if newer_wins:
            one_per_file = (
                (record.groupby([by_key, files]).transform("nunique") <= 1)
                .groupby(by_key)
                .transform("all")
            )
            resolvable = (n_versions > 1) & one_per_file & ~faulty.groupby(by_key).transform("any")
            latest = files == files.groupby(by_key).transform("max")
            winner = winner.where(
                ~resolvable, record.where(latest).groupby(by_key).transform("first")
            )
        conflict = (n_versions > 1) & ~resolvable
        is_winner = (record == winner) & ~conflict
        staged_at = place.where(is_winner).groupby(by_key).transform("first")
        copy = is_winner & (place != staged_at)
        revised = resolvable & ~is_winner
        index = self.raw.index
        who = (f"{column}: ", ids)
        self.add(
            (copy & faulty).reindex(index, fill_value=False),
            *who,
            " is duplicated, identical to ",
            staged_at.reindex(index),
            quote=[1],
        )
        self.add(
            conflict.reindex(index, fill_value=False),
            *who,
            " appears more than once with different values (",
            place.groupby(by_key).transform(", ".join).reindex(index),
            ")",
            quote=[1],
        )
        collapsed = (copy & ~faulty) | revised
        if not collapsed.any():
            return
        self.collapsed |= collapsed.reindex(index, fill_value=False).to_numpy(dtype=bool)
        target = collapsed[collapsed].index
        kept_row = {p: row for row, p in place.items()}
        changes = [
            "; ".join(
                f"{c}: {rows.at[row, c]} -> {rows.at[kept_row[staged_at[row]], c]}"
                for c in self.header
                if rows.at[row, c] != rows.at[kept_row[staged_at[row]], c]
            )
            for row in target
        ]
        kept_file, _, kept_line = staged_at[target].str.rpartition(" line ").T.to_numpy()
        self.revisions.append(
            pd.DataFrame(
                {
                    "source": SOURCE,
                    "table_name": table,
                    "record_key": key[target].astype(str).to_numpy(),
                    "outcome": np.where(revised[target], REVISED, IDENTICAL_COPY),
                    "kept_file": kept_file,
                    "kept_line": kept_line.astype(np.int64),
                    "source_file": files[target].to_numpy(),
                    "line_number": rows.loc[target, "line_number"].astype(np.int64).to_numpy(),
                    "changes": changes,
                }
            )
        )


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
    rows.duplicates(typed["booking_pseudo_id"], "booking_pseudo_id", "maternity_bookings")
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
    rows.duplicates(typed["birth_pseudo_id"], "birth_pseudo_id", "maternity_births")
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
    # DHSC revises last year's figures in the next publication: the later file's row is kept
    rows.duplicates(
        key.where(typed["year"].notna() & typed["area_code"].notna()),
        "Year and area",
        "terminations",
        newer_wins=True,
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


# -- breakdowns --------------------------------------------------------------------------------
ALL = "All"
NOT_KNOWN = "Not known"
DEPRIVATION_GROUPS = ("Most deprived 30% (deciles 1-3)", "Other 70% (deciles 4-10)")
IMD_QUINTILE_LABELS = {1: "Q1 (most deprived)", 2: "Q2", 3: "Q3", 4: "Q4", 5: "Q5 (least deprived)"}
# NHS ethnic categories grouped as the 2001 census groups them; B and C together are the "White
# other" group docs/definitions.md keeps visible inside the ethnic minority total.
ETHNIC_GROUPS: dict[str, tuple[str, ...]] = {
    "White British": ("A",),
    "White other (Irish or any other White)": ("B", "C"),
    "Mixed": ("D", "E", "F", "G"),
    "Asian or Asian British": ("H", "J", "K", "L"),
    "Black or Black British": ("M", "N", "P"),
    "Chinese or any other ethnic group": ("R", "S"),
}
WHITE_BRITISH = "White British"
ETHNIC_MINORITY = "Ethnic minority (all but White British)"
NRPF_LABELS = {True: "No recourse to public funds", False: "Recourse to public funds"}

# breakdown -> its values in display order; every record falls in exactly one value of each.
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "all": (ALL,),
    "deprivation_group": (*DEPRIVATION_GROUPS, NOT_KNOWN),
    "imd_quintile": (*IMD_QUINTILE_LABELS.values(), NOT_KNOWN),
    "ethnic_group": (*ETHNIC_GROUPS, NOT_KNOWN),
    "ethnic_minority": (ETHNIC_MINORITY, WHITE_BRITISH, NOT_KNOWN),
    "nrpf": (*NRPF_LABELS.values(), NOT_KNOWN),
    "age_band": (*AGE_BANDS, NOT_KNOWN),
}
# pregnancy_outcomes: the age bands DHSC's terminations table can be matched to.
PREGNANCY_AGE_BANDS = {
    "Under 20": ("Under 20", ("terminations_under_18", "terminations_18_19")),
    "20 to 24": ("20 to 24", ("terminations_20_24",)),
    "25 to 29": ("25 to 29", ("terminations_25_29",)),
    "30 to 34": ("30 to 34", ("terminations_30_34",)),
    "35 to 39": ("35 and over", ("terminations_35_and_over",)),
    "40 to 44": ("35 and over", ()),
    "45 or Over": ("35 and over", ()),
}
PREGNANCY_BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "all": (ALL,),
    "age_band": ("Under 20", "20 to 24", "25 to 29", "30 to 34", "35 and over", NOT_KNOWN),
}


def mother_breakdowns(records: pd.DataFrame, imd: pd.DataFrame) -> pd.DataFrame:
    """The value of every breakdown in ``BREAKDOWNS`` for each record ('Not known' where the
    field is blank, or the LSOA is not in the lookup). Deprivation is national: deciles 1-3 are
    the most deprived 30% (docs/definitions.md); quintile = (decile + 1) // 2."""
    codes = breakdown_codes(records, imd)
    return pd.DataFrame(
        {b: np.asarray(values, dtype=object)[codes[b]] for b, values in BREAKDOWNS.items()},
        index=records.index,
    )


def breakdown_codes(records: pd.DataFrame, imd: pd.DataFrame) -> dict[str, np.ndarray]:
    """:func:`mother_breakdowns` as each record's position among the breakdown's values in
    ``BREAKDOWNS``, the form :func:`count_by_period` counts. Each rule runs once per distinct
    LSOA, ethnic code, NRPF flag and age band (a few hundred values), not once per record."""
    lsoa_at, lsoa = _distinct(records["lsoa_code"])
    lookup = imd.drop_duplicates("lsoa_code").set_index("lsoa_code")["imd_decile"]
    decile = lsoa.map(lookup).astype("Float64")
    known = decile.notna()
    deprived = decile.isin(MOST_DEPRIVED_DECILES)
    quintile = ((decile + 1) // 2).astype("Int64")
    code_group = {code: group for group, codes in ETHNIC_GROUPS.items() for code in codes}
    ethnic_at, ethnic_code = _distinct(records["ethnic_category"])
    ethnic = ethnic_code.map(code_group)
    nrpf_at, nrpf = _distinct(records["nrpf"].astype("boolean"))
    age_at, age = _distinct(records["mother_age_band"])
    age = age.astype(object)
    # breakdown -> (each record's distinct value, the label of each distinct value)
    labels = {
        "deprivation_group": (
            lsoa_at,
            np.select(
                [deprived.to_numpy(dtype=bool), known.to_numpy(dtype=bool)],
                list(DEPRIVATION_GROUPS),
                default=NOT_KNOWN,
            ),
        ),
        "imd_quintile": (
            lsoa_at,
            quintile.map(IMD_QUINTILE_LABELS, na_action="ignore").astype(object).fillna(NOT_KNOWN),
        ),
        "ethnic_group": (ethnic_at, ethnic.fillna(NOT_KNOWN)),
        "ethnic_minority": (
            ethnic_at,
            np.select(
                [ethnic.eq(WHITE_BRITISH).to_numpy(dtype=bool), ethnic.notna().to_numpy()],
                [WHITE_BRITISH, ETHNIC_MINORITY],
                default=NOT_KNOWN,
            ),
        ),
        "nrpf": (
            nrpf_at,
            nrpf.map(NRPF_LABELS, na_action="ignore").astype(object).fillna(NOT_KNOWN),
        ),
        "age_band": (age_at, age.where(age.isin(AGE_BANDS), NOT_KNOWN)),
    }
    codes = {"all": np.zeros(len(records), dtype=np.int64)}
    for breakdown, (at, label) in labels.items():
        codes[breakdown] = _positions(label, BREAKDOWNS[breakdown])[at]
    return codes


def _distinct(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each value's position among the distinct values (missing being one of them), and those
    values: a rule applied to the distinct values, then taken at the positions, is the rule
    applied to every value."""
    at, distinct = pd.factorize(values, use_na_sentinel=False)
    return at, pd.Series(distinct)


def _positions(labels, values: Sequence[str]) -> np.ndarray:
    """The position of each label among ``values``; a label outside them is a programming error
    (its records would vanish from every count), never let through."""
    position = pd.Index(list(values)).get_indexer(np.asarray(labels, dtype=object))
    if (position < 0).any():
        stray = sorted({str(v) for v, p in zip(labels, position, strict=True) if p < 0})
        raise ValueError(f"values {stray} are not among the categories {list(values)}")
    return position


# -- periods -----------------------------------------------------------------------------------
PERIOD_TYPES = ("month", "quarter", "year")
_PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Extra:
    """A further key of the counts beyond the breakdown (e.g. the gestation band): its column
    name, its values in display order, and each record's position among them."""

    name: str
    values: Sequence[str]
    codes: np.ndarray


def count_by_period(
    dates: pd.Series,
    codes: Mapping[str, np.ndarray],
    counts: Mapping[str, np.ndarray],
    categories: Mapping[str, Sequence[str]],
    period_types: Sequence[str] = PERIOD_TYPES,
    coverage: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    extra: Extra | None = None,
) -> pd.DataFrame:
    """Counts summed by period and breakdown value, long: one row per period type, period,
    breakdown and value (and ``extra`` key), with every cell present (0 where no record fell in
    it: the extract covers the period, so none is a true zero).

    ``codes`` gives, for each breakdown of ``categories``, each record's position among its
    values (:func:`breakdown_codes`); ``counts`` the whole-number counts of each record (e.g. 1
    for a late booking, else 0). ``coverage`` (first and last month; default the months of
    ``dates``) bounds the periods. Quarters and years are given only where every one of their
    months lies inside the coverage, so a partial period never looks like a fall. Quarters and
    years are calendar ones. Rows are in display order: period type, period, breakdown, value,
    extra key.
    """
    names = list(counts)
    columns = [
        "period_start",
        "period_type",
        "breakdown",
        "breakdown_value",
        *([extra.name] if extra else []),
        *names,
    ]
    month = np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[M]")
    present = ~np.isnat(month)
    if coverage is None:
        if not present.any():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        coverage = (pd.Timestamp(month[present].min()), pd.Timestamp(month[present].max()))
    months = pd.date_range(coverage[0], coverage[1], freq="MS")
    monthly = _monthly_cells(month, present, months, codes, counts, categories, extra)
    # the cells of one period, in display order: breakdown, value, extra key
    n_extra = len(extra.values) if extra else 1
    cell_breakdown = np.concatenate(
        [np.repeat(np.array([b], dtype=object), len(v) * n_extra) for b, v in categories.items()]
    )
    cell_value = np.concatenate(
        [np.repeat(np.asarray(v, dtype=object), n_extra) for v in categories.values()]
    )
    parts = []
    for period_type in PERIOD_TYPES:
        if period_type not in period_types:
            continue
        starts, sums = _periods(months, monthly, _PERIOD_MONTHS[period_type])
        n = len(starts)
        part = {
            "period_start": np.repeat(starts.to_numpy(dtype="datetime64[ns]"), len(cell_value)),
            "period_type": np.full(n * len(cell_value), period_type, dtype=object),
            "breakdown": np.tile(cell_breakdown, n),
            "breakdown_value": np.tile(cell_value, n),
        }
        if extra:
            extra_values = np.asarray(extra.values, dtype=object)
            part[extra.name] = np.tile(extra_values, n * len(cell_value) // n_extra)
        flat = sums.reshape(n * len(cell_value), len(names))
        part.update({name: flat[:, i] for i, name in enumerate(names)})
        parts.append(part)
    return pd.DataFrame(
        {c: np.concatenate([part[c] for part in parts]) for c in columns}, columns=columns
    )


def _monthly_cells(
    month: np.ndarray,
    present: np.ndarray,
    months: pd.DatetimeIndex,
    codes: Mapping[str, np.ndarray],
    counts: Mapping[str, np.ndarray],
    categories: Mapping[str, Sequence[str]],
    extra: Extra | None,
) -> np.ndarray:
    """The counts summed per month and cell (months × cells × counts, whole numbers): one
    ``np.bincount`` per breakdown and count, on the number of each record's month and cell. A
    record whose position is -1 (in no category) is in no cell."""
    n_months = len(months)
    first = months[0].to_datetime64().astype("datetime64[M]") if n_months else None
    number = (month - first).astype(np.int64) if n_months else np.zeros(len(month), np.int64)
    inside = present & (number >= 0) & (number < n_months)
    n_extra = len(extra.values) if extra else 1
    extra_at = np.asarray(extra.codes)[inside] if extra else np.zeros(inside.sum(), np.int64)
    weights = [np.asarray(counts[name], dtype=np.float64)[inside] for name in counts]
    number = number[inside]
    blocks = []
    for breakdown, values in categories.items():  # a handful of breakdowns, never rows
        at = np.asarray(codes[breakdown])[inside]
        n_cells = len(values) * n_extra
        cell = number * n_cells + at * n_extra + extra_at
        keep = (at >= 0) & (extra_at >= 0)
        kept = weights if keep.all() else [w[keep] for w in weights]
        cell = cell if keep.all() else cell[keep]
        sums = [np.bincount(cell, weights=w, minlength=n_months * n_cells) for w in kept]
        blocks.append(np.stack(sums, axis=-1).reshape(n_months, n_cells, len(weights)))
    # sums of whole numbers: exact in float64 up to 2**53
    return np.concatenate(blocks, axis=1).astype(np.int64)


def _periods(
    months: pd.DatetimeIndex, monthly: np.ndarray, span: int
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The calendar periods of ``span`` months (1, 3 or 12) all of whose months are in
    ``months`` (consecutive month starts), with their sums of the monthly cells."""
    if span == 1:
        return months, monthly
    index = np.arange(len(months))
    start = index[((months.month.to_numpy() - 1) % span == 0) & (index + span <= len(months))]
    return months[start], monthly[start[:, None] + np.arange(span)].sum(axis=1)


def _sort(
    table: pd.DataFrame,
    categories: Mapping[str, Sequence[str]],
    extra_name: str | None = None,
    extra_values: Sequence[str] = (),
) -> pd.DataFrame:
    breakdown_order = {b: i for i, b in enumerate(categories)}
    value_order = {(b, v): i for b, values in categories.items() for i, v in enumerate(values)}
    keys = pd.DataFrame(
        {
            "_type": table["period_type"].map({p: i for i, p in enumerate(PERIOD_TYPES)}),
            "_start": table["period_start"],
            "_breakdown": table["breakdown"].map(breakdown_order),
            "_value": pd.Series(
                list(zip(table["breakdown"], table["breakdown_value"], strict=True)),
                index=table.index,
                dtype=object,
            ).map(value_order),
        }
    )
    order = ["_type", "_start", "_breakdown", "_value"]
    if extra_name:
        keys["_extra"] = table[extra_name].map({v: i for i, v in enumerate(extra_values)})
        order.append("_extra")
    position = keys.sort_values(order, kind="stable").index
    return table.loc[position].reset_index(drop=True)


def _add_proportion(table: pd.DataFrame, name: str, count: str, denominator: str) -> None:
    """``name`` = count / denominator × 100 with its Wilson 95% interval (stats.proportion_with_ci)."""
    ci = stats.proportion_with_ci(
        table[count].astype("float64"), table[denominator].astype("float64")
    )
    value = ci["value"].to_numpy()
    # r = n: the Wilson upper limit is 100% exactly, which floating point misses by 1e-14
    everyone = (table[count] == table[denominator]).fillna(False).to_numpy(dtype=bool)
    table[name] = value
    table[f"{name}_ci95_lower"] = ci["ci_lower"].to_numpy()
    table[f"{name}_ci95_upper"] = np.where(everyone & np.isfinite(value), 100.0, ci["ci_upper"])


def _add_rate(table: pd.DataFrame, name: str, count: str, denominator: str) -> None:
    """``name`` = count / denominator × 1,000, Byars (10+) or exact Poisson (<10) 95% limits."""
    ci = stats.rate_with_ci(
        table[count].astype("float64"), table[denominator].astype("float64"), 1000
    )
    table[name] = ci["value"].to_numpy()
    table[f"{name}_ci95_lower"] = ci["ci_lower"].to_numpy()
    table[f"{name}_ci95_upper"] = ci["ci_upper"].to_numpy()


# -- measures ----------------------------------------------------------------------------------
def is_late_booking(gestation_days: pd.Series, definitions: MaternityDefinitions) -> pd.Series:
    """Booked at 13+0 weeks (91 days) or later, by default (docs/definitions.md)."""
    return gestation_days >= definitions.late_booking_from_days


def _is(values: pd.Series, value: str) -> np.ndarray:
    """``values == value`` as booleans, missing being no match."""
    return values.eq(value).to_numpy(dtype=bool, na_value=False)


def late_bookings(
    bookings: pd.DataFrame, imd: pd.DataFrame, definitions: MaternityDefinitions | None = None
) -> pd.DataFrame:
    """Bookings, booked by 10+0 weeks, late (13+0 or later) and very late (20+1 or later) bookings
    by month, quarter and year, for all women and each breakdown, with percentages of bookings
    and Wilson 95% CIs. Periods are by booking date.

    Definitions (docs/definitions.md, config/maternity.yaml): booked by 10+0 = gestation at booking <= 70
    days (NICE NG201 ambition); late = >= 91 days; very late = >= 141 days. Before disclosure
    control: :func:`build_late_bookings` adds SPC and suppression.
    """
    d = definitions or MaternityDefinitions()
    gestation = bookings["gestation_at_booking_days"].to_numpy(dtype="int64")
    counts = {
        "bookings": np.ones(len(bookings), dtype=np.int64),
        "booked_by_10_weeks": gestation <= d.booked_by_days,
        "late_bookings": is_late_booking(gestation, d),
        "very_late_bookings": gestation >= d.very_late_booking_from_days,
    }
    table = count_by_period(
        bookings["booking_date"], breakdown_codes(bookings, imd), counts, BREAKDOWNS
    )
    add_late_booking_shares(table)
    return table


BOOKING_COUNTS = ("bookings", "booked_by_10_weeks", "late_bookings", "very_late_bookings")


def add_late_booking_shares(table: pd.DataFrame) -> None:
    """The percentages of bookings (Wilson 95% CIs) from the counts of each row."""
    _add_proportion(table, "booked_by_10_weeks_pct", "booked_by_10_weeks", "bookings")
    _add_proportion(table, "late_booking_pct", "late_bookings", "bookings")
    _add_proportion(table, "very_late_booking_pct", "very_late_bookings", "bookings")


def gestation_bands(gestation_days: pd.Series, definitions: MaternityDefinitions) -> pd.Series:
    """Extremely preterm (< 196), very preterm (196-223), moderate to late preterm (224-258) or
    term (>= 259), by default (docs/definitions.md)."""
    band = _gestation_band_codes(gestation_days.to_numpy(dtype="int64"), definitions)
    return pd.Series(np.asarray(GESTATION_BANDS, dtype=object)[band], index=gestation_days.index)


def _gestation_band_codes(gestation_days: np.ndarray, d: MaternityDefinitions) -> np.ndarray:
    """:func:`gestation_bands` as positions in ``GESTATION_BANDS``."""
    g = gestation_days
    return np.select(
        [g < d.very_preterm_from_days, g < d.moderate_preterm_from_days, g < d.preterm_before_days],
        [GESTATION_BANDS.index(band) for band in GESTATION_BANDS[:3]],
        default=GESTATION_BANDS.index(TERM),
    )


EXTREMELY_PRETERM = "Extremely preterm (under 28+0 weeks)"
VERY_PRETERM = "Very preterm (28+0 to 31+6 weeks)"
MODERATE_PRETERM = "Moderate to late preterm (32+0 to 36+6 weeks)"
ALL_PRETERM = "All preterm (under 37+0 weeks)"
TERM = "Term (37+0 weeks or later)"
GESTATION_BANDS = (EXTREMELY_PRETERM, VERY_PRETERM, MODERATE_PRETERM, ALL_PRETERM, TERM)


def premature_deliveries(
    births: pd.DataFrame, imd: pd.DataFrame, definitions: MaternityDefinitions | None = None
) -> pd.DataFrame:
    """Births (babies, live and still), live births, stillbirths, and preterm (< 259 days), very
    preterm (196-223) and extremely preterm (< 196) births by month, quarter and year, for all
    women and each breakdown, as crude rates per 1,000 births with Byars / exact Poisson 95% CIs
    (the method of Fingertips indicator 91743). Periods are by date of birth.
    """
    d = definitions or MaternityDefinitions()
    gestation = births["gestation_at_birth_days"].to_numpy(dtype="int64")
    counts = {
        "births": np.ones(len(births), dtype=np.int64),
        "live_births": _is(births["birth_outcome"], "live"),
        "stillbirths": _is(births["birth_outcome"], "stillbirth"),
        "preterm_births": gestation < d.preterm_before_days,
        "very_preterm_births": (gestation >= d.very_preterm_from_days)
        & (gestation < d.moderate_preterm_from_days),
        "extremely_preterm_births": gestation < d.very_preterm_from_days,
    }
    table = count_by_period(births["birth_date"], breakdown_codes(births, imd), counts, BREAKDOWNS)
    add_birth_rates(table)
    return table


BIRTH_COUNTS = (
    "births",
    "live_births",
    "stillbirths",
    "preterm_births",
    "very_preterm_births",
    "extremely_preterm_births",
)


def add_birth_rates(table: pd.DataFrame) -> None:
    """The rates per 1,000 births (Byars / exact Poisson 95% CIs) from the counts of each row."""
    _add_rate(table, "stillbirths_per_1000", "stillbirths", "births")
    _add_rate(table, "preterm_per_1000", "preterm_births", "births")
    _add_rate(table, "very_preterm_per_1000", "very_preterm_births", "births")
    _add_rate(table, "extremely_preterm_per_1000", "extremely_preterm_births", "births")


def preterm_outcomes(
    births: pd.DataFrame, imd: pd.DataFrame, definitions: MaternityDefinitions | None = None
) -> pd.DataFrame:
    """For babies by gestation band (extremely, very, moderate to late preterm, all preterm, and
    term for comparison), by calendar year of birth: neonatal unit admission, survival to 28 days
    and to 1 year among live births whose outcome is known, as percentages with Wilson 95% CIs.

    Survival is known only once the baby could have reached the age (and follow-up recorded it),
    so the latest years have few or no known outcomes: the ``*_known`` columns say how many.
    """
    d = definitions or MaternityDefinitions()
    band = _gestation_band_codes(births["gestation_at_birth_days"].to_numpy(dtype="int64"), d)
    preterm = np.flatnonzero(band != GESTATION_BANDS.index(TERM))
    # each preterm baby counts in its own band and in "All preterm": the records, then those again
    rows = np.concatenate([np.arange(len(births)), preterm])
    band = np.concatenate([band, np.full(len(preterm), GESTATION_BANDS.index(ALL_PRETERM))])
    live = _is(births["birth_outcome"], "live")

    def known(column: str) -> np.ndarray:
        return live & births[column].astype("boolean").notna().to_numpy()

    def answered(column: str, value: bool) -> np.ndarray:
        return live & births[column].astype("boolean").eq(value).to_numpy(bool, na_value=False)

    counts = {
        "live_births": live,
        "nnu_admission_known": known("neonatal_unit_admission"),
        "nnu_admissions": answered("neonatal_unit_admission", True),
        "survival_28_days_known": known("survived_28_days"),
        "deaths_under_28_days": answered("survived_28_days", False),
        "survival_1_year_known": known("survived_1_year"),
        "deaths_under_1_year": answered("survived_1_year", False),
    }
    table = count_by_period(
        births["birth_date"].to_numpy(dtype="datetime64[ns]")[rows],
        {b: codes[rows] for b, codes in breakdown_codes(births, imd).items()},
        {name: values[rows] for name, values in counts.items()},
        BREAKDOWNS,
        period_types=("year",),
        extra=Extra("gestation_band", GESTATION_BANDS, band),
    )
    add_outcome_shares(table)
    return table


PRETERM_OUTCOME_COUNTS = (
    "live_births",
    "nnu_admission_known",
    "nnu_admissions",
    "survival_28_days_known",
    "deaths_under_28_days",
    "survival_1_year_known",
    "deaths_under_1_year",
)


def add_outcome_shares(table: pd.DataFrame) -> None:
    """Neonatal unit admission and survival percentages (Wilson 95% CIs) from the counts."""
    _add_proportion(table, "nnu_admission_pct", "nnu_admissions", "nnu_admission_known")
    for period in ("28_days", "1_year"):
        known_n = table[f"survival_{period}_known"]
        table["_survivors"] = known_n - table[f"deaths_under_{period}"]
        _add_proportion(table, f"survival_{period}_pct", "_survivors", f"survival_{period}_known")
    del table["_survivors"]


def pregnancy_outcomes(
    bookings: pd.DataFrame,
    births: pd.DataFrame,
    terminations: pd.DataFrame,
    area_code: str,
) -> pd.DataFrame:
    """By calendar year, for all women and by age band: bookings, terminations, pregnancies
    (bookings + terminations), maternities, live births and stillbirths, and terminations as a
    percentage of pregnancies (Wilson 95% CI).

    Pregnancies are the proxy issue 3 names: pregnancies booked with the provider in the year
    plus abortions to residents in the year (DHSC, area ``area_code``). It misses pregnancies
    that miscarried before booking and counts twice a booked pregnancy later terminated. A year
    is shown for a source only where its extract covers the whole year; otherwise that source's
    counts are null (and so are pregnancies). Age bands are those the DHSC table can be matched
    to (35 and over together); terminations have no 'Not known' age beyond total minus the sum
    of the age groups.
    """
    birth_counts = {
        "maternities": _first_babies(births),
        "live_births": _is(births["birth_outcome"], "live"),
        "stillbirths": _is(births["birth_outcome"], "stillbirth"),
    }
    keys = ["period_start", "period_type", "breakdown", "breakdown_value"]
    parts = []
    for dates, codes, counts in (
        (
            bookings["booking_date"],
            _pregnancy_codes(bookings),
            {"bookings": np.ones(len(bookings), dtype=np.int64)},
        ),
        (births["birth_date"], _pregnancy_codes(births), birth_counts),
    ):
        # years only where the extract covers all twelve months (count_by_period)
        table = count_by_period(dates, codes, counts, PREGNANCY_BREAKDOWNS, period_types=("year",))
        parts.append(table.set_index(keys))
    parts.append(_termination_counts(terminations, area_code).set_index(keys))
    table = pd.concat(parts, axis=1, join="outer").reset_index()
    for column in ("bookings", "terminations", "maternities", "live_births", "stillbirths"):
        table[column] = table[column].astype("Int64")
    table["pregnancies"] = table["bookings"] + table["terminations"]
    _add_proportion(table, "termination_pct", "terminations", "pregnancies")
    table = _sort(table, PREGNANCY_BREAKDOWNS)
    return table[
        [
            *keys,
            "pregnancies",
            "bookings",
            "terminations",
            "maternities",
            "live_births",
            "stillbirths",
            "termination_pct",
            "termination_pct_ci95_lower",
            "termination_pct_ci95_upper",
        ]
    ]


def _first_babies(births: pd.DataFrame) -> np.ndarray:
    """True for the first baby of each booking in a calendar year, and for every baby without a
    booking: one per delivery, so twins make one maternity. Pairs of booking and year are
    matched on digests of the id (see :func:`_digests`), confirmed on its text."""
    ids = births["booking_pseudo_id"]
    year = births["birth_date"].dt.year
    first = np.ones(len(births), dtype=bool)
    present = np.flatnonzero(ids.notna().to_numpy())
    text = ids.to_numpy(dtype=object)[present]
    year_at, years = pd.factorize(year.to_numpy()[present], use_na_sentinel=False)
    id_at = pd.factorize(_digests(text))[0]
    # pairs are numbered in order of first appearance: the first row of pair k is the k-th new
    key = id_at * len(years) + year_at
    pair = pd.factorize(key)[0]
    new = ~pd.Series(key).duplicated().to_numpy()
    earliest = np.flatnonzero(new)[pair]
    repeat = np.flatnonzero(~new)
    if (text[repeat] == text[earliest[repeat]]).all():
        first[present[repeat]] = False
        return first
    # two ids sharing a digest: on the text itself
    pairs = pd.DataFrame({"id": ids, "year": year})
    return (~pairs.duplicated() | ids.isna()).to_numpy(dtype=bool)


def _pregnancy_codes(records: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each record's position among the values of ``PREGNANCY_BREAKDOWNS``: the DHSC age band
    of its age band ('Not known' where not recorded)."""
    at, age = _distinct(records["mother_age_band"])
    band = age.map({k: v[0] for k, v in PREGNANCY_AGE_BANDS.items()})
    label = band.astype(object).fillna(NOT_KNOWN)
    return {
        "all": np.zeros(len(records), dtype=np.int64),
        "age_band": _positions(label, PREGNANCY_BREAKDOWNS["age_band"])[at],
    }


def _termination_counts(terminations: pd.DataFrame, area_code: str) -> pd.DataFrame:
    rows = terminations[terminations["area_code"] == area_code]
    start = pd.to_datetime(rows["year"].astype("int64").astype(str) + "-01-01")
    out = [pd.DataFrame({"period_start": start, "breakdown_value": ALL, "breakdown": "all",
                         "terminations": rows["terminations"].astype("Int64")})]  # fmt: skip
    bands: dict[str, list[str]] = {}
    for band, columns in PREGNANCY_AGE_BANDS.values():
        bands.setdefault(band, []).extend(columns)
    ages = rows[TERMINATION_AGE_COLUMNS].astype("Int64")
    for band, columns in bands.items():  # five DHSC age bands, not rows
        out.append(
            pd.DataFrame(
                {
                    "period_start": start,
                    "breakdown_value": band,
                    "breakdown": "age_band",
                    # a suppressed part leaves the band missing, never a partial sum
                    "terminations": ages[columns]
                    .sum(axis=1, min_count=len(columns))
                    .where(ages[columns].notna().all(axis=1)),
                }
            )
        )
    all_known = ages.notna().all(axis=1)
    out.append(
        pd.DataFrame(
            {
                "period_start": start,
                "breakdown_value": NOT_KNOWN,
                "breakdown": "age_band",
                "terminations": (rows["terminations"].astype("Int64") - ages.sum(axis=1)).where(
                    all_known
                ),
            }
        )
    )
    table = pd.concat(out, ignore_index=True).assign(period_type="year")
    table["terminations"] = table["terminations"].astype("Int64")
    return table[["period_start", "period_type", "breakdown", "breakdown_value", "terminations"]]


# -- SPC ---------------------------------------------------------------------------------------
def add_spc(
    table: pd.DataFrame, value_col: str, settings: SpcSettings, prefix: str
) -> pd.DataFrame:
    """XmR chart columns (``<prefix>_spc_*``, see ``SPC_COLUMNS``) on the monthly rows for all
    women, from :func:`cov_pipeline.spc.spc_series` with the measure's configured settings
    (improvement direction, target, baseline, rebases); null on every other row."""
    out = table.copy()
    charted = (out["period_type"] == "month") & (out["breakdown"] == "all")
    spc = spc_series(
        out.loc[charted, ["period_start", value_col]],
        value_col,
        "period_start",
        **settings.spc_kwargs(),
    )
    for column in SPC_COLUMNS:
        name = f"{prefix}_{column}"
        values = spc[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            out[name] = pd.Series(pd.NA, index=out.index, dtype="boolean")
        elif pd.api.types.is_integer_dtype(values.dtype):
            out[name] = pd.Series(pd.NA, index=out.index, dtype="Int64")
        elif pd.api.types.is_float_dtype(values.dtype):
            out[name] = np.nan
        else:
            out[name] = pd.Series(None, index=out.index, dtype=object)
        out.loc[charted, name] = values.to_numpy()
    return out


def spc_columns(prefix: str) -> list[str]:
    return [f"{prefix}_{column}" for column in SPC_COLUMNS]


def spc_chart_frame(table: pd.DataFrame, value_col: str, prefix: str) -> pd.DataFrame:
    """The monthly all-women rows with the SPC columns under their plain names, for charts."""
    rows = table[(table["period_type"] == "month") & (table["breakdown"] == "all")]
    return rows[["period_start", value_col, *spc_columns(prefix)]].rename(
        columns={f"{prefix}_{c}": c for c in SPC_COLUMNS}
    )


# -- marts -------------------------------------------------------------------------------------
def _spc_settings(spc_settings: Mapping[str, SpcSettings] | None, measure: str) -> SpcSettings:
    if spc_settings is None:
        from cov_pipeline.spc import load_spc_settings

        spc_settings = load_spc_settings()
    if measure not in spc_settings:
        raise KeyError(f"no SPC settings for measure {measure!r} (config/spc.yaml)")
    return spc_settings[measure]


def late_bookings_with_spc(
    bookings: pd.DataFrame,
    imd: pd.DataFrame,
    definitions: MaternityDefinitions | None = None,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """:func:`late_bookings` with SPC on the monthly late booking % for all women (measure
    ``late_booking_pct``)."""
    table = late_bookings(bookings, imd, definitions)
    settings = _spc_settings(spc_settings, "late_booking_pct")
    return add_spc(table, "late_booking_pct", settings, "late_booking")


def build_late_bookings(
    bookings: pd.DataFrame,
    imd: pd.DataFrame,
    definitions: MaternityDefinitions | None = None,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """``marts.late_bookings``: measures and SPC, at full detail (the published tier withholds
    small numbers: :mod:`cov_pipeline.publishing`)."""
    return late_bookings_with_spc(bookings, imd, definitions, spc_settings)


def premature_deliveries_with_spc(
    births: pd.DataFrame,
    imd: pd.DataFrame,
    definitions: MaternityDefinitions | None = None,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """:func:`premature_deliveries` with SPC on the monthly preterm and extremely preterm rates
    for all women (measures ``preterm_rate``, ``extremely_preterm_rate``)."""
    table = premature_deliveries(births, imd, definitions)
    preterm = _spc_settings(spc_settings, "preterm_rate")
    extremely = _spc_settings(spc_settings, "extremely_preterm_rate")
    table = add_spc(table, "preterm_per_1000", preterm, "preterm")
    return add_spc(table, "extremely_preterm_per_1000", extremely, "extremely_preterm")


def build_premature_deliveries(
    births: pd.DataFrame,
    imd: pd.DataFrame,
    definitions: MaternityDefinitions | None = None,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """``marts.premature_deliveries``: measures and SPC, at full detail."""
    return premature_deliveries_with_spc(births, imd, definitions, spc_settings)


def build_pregnancy_outcomes(
    bookings: pd.DataFrame, births: pd.DataFrame, terminations: pd.DataFrame, area_code: str
) -> pd.DataFrame:
    """``marts.pregnancy_outcomes``: :func:`pregnancy_outcomes`, at full detail."""
    return pregnancy_outcomes(bookings, births, terminations, area_code)


def build_preterm_outcomes(
    births: pd.DataFrame, imd: pd.DataFrame, definitions: MaternityDefinitions | None = None
) -> pd.DataFrame:
    """``marts.preterm_outcomes``: :func:`preterm_outcomes`, at full detail."""
    return preterm_outcomes(births, imd, definitions)


# -- column descriptions -----------------------------------------------------------------------
def _common_descriptions(date_basis: str, period_types: str) -> dict[str, str]:
    return {
        "period_start": f"First day of the period ({date_basis}).",
        "period_type": f"{period_types}. Calendar quarters and years, shown only where the "
        "extract covers every month of them.",
        "breakdown": "What the rows are split by: all (all women), deprivation_group, "
        "imd_quintile, ethnic_group, ethnic_minority, nrpf or age_band. The values of each "
        "breakdown add up to the 'all' row.",
        "breakdown_value": "The group: 'All'; deprivation_group 'Most deprived 30% (deciles 1-3)' "
        "/ 'Other 70% (deciles 4-10)' (national IMD deciles of the mother's LSOA, docs/definitions.md); "
        "imd_quintile Q1 (most deprived) to Q5; ethnic_group by NHS ethnic category (White "
        "British A; White other B, C; Mixed D-G; Asian H-L; Black M-P; Chinese or other R, S); "
        "ethnic_minority 'Ethnic minority (all but White British)' = every category except A, "
        "White other included; nrpf no recourse to public funds; age_band the mother's age at "
        "booking. 'Not known' where the field is blank, Z or 99, or the LSOA is not in the lookup.",
    }


def _ci_descriptions(name: str, what: str, method: str) -> dict[str, str]:
    return {
        name: what,
        f"{name}_ci95_lower": f"Lower 95% confidence limit of {name} ({method}).",
        f"{name}_ci95_upper": f"Upper 95% confidence limit of {name} ({method}).",
    }


def _spc_descriptions(prefix: str, measure: str) -> dict[str, str]:
    return {
        f"{prefix}_{column}": f"{measure}, monthly, all women only (null elsewhere): {text}"
        for column, text in SPC_COLUMNS.items()
    }


_WILSON = "Wilson score interval"
_BYARS = "Byars' approximation for 10 or more events, exact Poisson below"


def late_bookings_descriptions(d: MaternityDefinitions | None = None) -> dict[str, str]:
    d = d or MaternityDefinitions()
    return {
        **_common_descriptions("by booking date", "month, quarter or year"),
        "bookings": "Pregnancies booked with the provider in the period (antenatal booking "
        "appointments).",
        "booked_by_10_weeks": f"Bookings at {d.booked_by_days} days of gestation or earlier "
        "(10+0 weeks: NICE NG201 ambition).",
        **_ci_descriptions(
            "booked_by_10_weeks_pct", "booked_by_10_weeks / bookings × 100.", _WILSON
        ),
        "late_bookings": f"Bookings at {d.late_booking_from_days} days of gestation or later "
        "(13+0 weeks: late booking, docs/definitions.md).",
        **_ci_descriptions("late_booking_pct", "late_bookings / bookings × 100.", _WILSON),
        "very_late_bookings": f"Bookings at {d.very_late_booking_from_days} days or later "
        "(20+1 weeks).",
        **_ci_descriptions(
            "very_late_booking_pct", "very_late_bookings / bookings × 100.", _WILSON
        ),
        **_spc_descriptions("late_booking", "Late booking % (lower is better)"),
    }


def premature_deliveries_descriptions(d: MaternityDefinitions | None = None) -> dict[str, str]:
    d = d or MaternityDefinitions()
    return {
        **_common_descriptions("by date of birth", "month, quarter or year"),
        "births": "Babies born in the period, live and stillborn (one per baby: twins count "
        "twice).",
        "live_births": "Babies born alive.",
        "stillbirths": "Babies stillborn.",
        **_ci_descriptions("stillbirths_per_1000", "stillbirths per 1,000 births.", _BYARS),
        "preterm_births": f"Babies born before {d.preterm_before_days} days of gestation "
        "(37+0 weeks).",
        **_ci_descriptions(
            "preterm_per_1000", "preterm_births per 1,000 births (as Fingertips 91743).", _BYARS
        ),
        "very_preterm_births": f"Babies born at {d.very_preterm_from_days}-"
        f"{d.moderate_preterm_from_days - 1} days (28+0 to 31+6 weeks).",
        **_ci_descriptions(
            "very_preterm_per_1000", "very_preterm_births per 1,000 births.", _BYARS
        ),
        "extremely_preterm_births": f"Babies born before {d.very_preterm_from_days} days "
        "(28+0 weeks).",
        **_ci_descriptions(
            "extremely_preterm_per_1000", "extremely_preterm_births per 1,000 births.", _BYARS
        ),
        **_spc_descriptions("preterm", "Preterm births per 1,000 (lower is better)"),
        **_spc_descriptions(
            "extremely_preterm", "Extremely preterm births per 1,000 (lower is better)"
        ),
    }


PREGNANCY_OUTCOME_DESCRIPTIONS = {
    **_common_descriptions("calendar year", "year"),
    "breakdown": "all (all women) or age_band (the mother's age: at booking for bookings, at "
    "delivery for births, at the abortion for terminations; 35 and over together, as DHSC "
    "publishes it).",
    "breakdown_value": "'All', or the age band ('Not known' where not recorded).",
    "pregnancies": "PROXY: bookings + terminations in the year, i.e. pregnancies booked with "
    "the provider plus abortions to residents (DHSC). Misses pregnancies lost before booking "
    "and counts twice a booked pregnancy later terminated. Null where either part is missing.",
    "bookings": "Pregnancies booked with the provider in the year (null where the bookings "
    "extract does not cover the whole year).",
    "terminations": "Abortions to residents of the area in the year (DHSC abortion statistics; "
    "null where not published or suppressed by DHSC).",
    "maternities": "Deliveries in the year resulting in a live or stillbirth (a twin delivery "
    "counts once).",
    "live_births": "Babies born alive in the year.",
    "stillbirths": "Babies stillborn in the year.",
    **_ci_descriptions("termination_pct", "terminations / pregnancies × 100.", _WILSON),
}


def preterm_outcomes_descriptions(d: MaternityDefinitions | None = None) -> dict[str, str]:
    d = d or MaternityDefinitions()
    return {
        **_common_descriptions("calendar year of birth", "year"),
        "gestation_band": f"{EXTREMELY_PRETERM} (< {d.very_preterm_from_days} days), "
        f"{VERY_PRETERM}, {MODERATE_PRETERM}, {ALL_PRETERM} (< {d.preterm_before_days} days: "
        "the three bands together) or the comparison band "
        f"{TERM}.",
        "live_births": "Babies born alive in the band: the population of the outcome columns "
        "(stillbirths are in marts.premature_deliveries).",
        "nnu_admission_known": "Live births whose neonatal unit admission is recorded.",
        "nnu_admissions": "Live births admitted to a neonatal unit.",
        **_ci_descriptions(
            "nnu_admission_pct", "nnu_admissions / nnu_admission_known × 100.", _WILSON
        ),
        "survival_28_days_known": "Live births whose survival to 28 days is known (not yet known "
        "for the most recent births).",
        "deaths_under_28_days": "Of those, babies who died before 28 days (neonatal deaths).",
        **_ci_descriptions(
            "survival_28_days_pct",
            "(survival_28_days_known - deaths_under_28_days) / survival_28_days_known × 100.",
            _WILSON,
        ),
        "survival_1_year_known": "Live births whose survival to 1 year is known (none yet for "
        "births in the last year before the extract).",
        "deaths_under_1_year": "Of those, babies who died before 1 year (infant deaths).",
        **_ci_descriptions(
            "survival_1_year_pct",
            "(survival_1_year_known - deaths_under_1_year) / survival_1_year_known × 100.",
            _WILSON,
        ),
    }
