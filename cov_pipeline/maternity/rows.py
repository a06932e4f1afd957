"""Maternity, the row rules: :class:`_Rows` parses the text columns of one raw table and
collects every reason a row is quarantined (unparseable or missing values, the pandera contract's
failures in words, dates in the future, LSOAs outside the IMD lookup, records seen more than
once), and the fast text, number, date and id-matching helpers the parsers share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cov_pipeline.maternity.definitions import SOURCE
from cov_pipeline.quality import (
    BEYOND_WHOLE_NUMBERS,
    ReasonCollector,
    failure_cases,
    marked_cells,
    within_whole_numbers,
)
from cov_pipeline.repeats import RepeatRule, places_of, resolve_repeats, revision_rows
from cov_pipeline.schemas.maternity import AGE_BANDS, BIRTH_OUTCOMES, LSOA_CODE_PATTERN

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

# Text columns are Arrow-backed strings: stripping, matching and comparing run in Arrow's
# kernels instead of on a Python object per cell (measured: docs/scaling.md).
ARROW_STRING = pd.StringDtype("pyarrow")


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

    def duplicates(self, ids: pd.Series, column: str, table: str, rule: RepeatRule) -> None:
        """A record seen more than once (``ids`` the key; None where it has none), by the
        table's declared ``rule`` (:mod:`cov_pipeline.repeats`):

        - a copy identical to an earlier one (a resent extract) is collapsed: staged once, the
          copy counted and recorded in the revisions table (a copy that fails other rules is
          quarantined with them, and says whose copy it is);
        - where a later publication revises an earlier one (``rule.newer_wins``: one version per
          file), the version in the latest file is staged and the earlier versions are recorded
          as revised, with the fields that changed;
        - otherwise copies that disagree are all quarantined, naming every place (nothing says
          which is right); so are versions that disagree within one file.
        """
        repeated = (ids.duplicated(keep=False) & ids.notna()).to_numpy(dtype=bool)
        if not repeated.any():
            return
        rows = self.raw.loc[repeated]
        key = ids[repeated]
        digests = pd.util.hash_pandas_object(rows[self.header], index=False).to_numpy()
        faulty = self.reasons.rows_with_reasons()[repeated]
        repeats = resolve_repeats(rule, key.to_numpy(), digests, rows["source_file"], faulty)
        place = rows["source_file"].astype(str) + " line " + rows["line_number"].astype(str)
        index = self.raw.index
        who = (f"{column}: ", ids)
        copy_of_faulty = repeats.copy & faulty
        self.add(
            _at(index, rows.index, copy_of_faulty),
            *who,
            " is duplicated, identical to ",
            _at_values(index, rows.index, place.to_numpy()[repeats.kept], copy_of_faulty),
            quote=[1],
        )
        self.add(
            _at(index, rows.index, repeats.conflict),
            *who,
            " appears more than once with different values (",
            places_of(key.to_numpy(), place, repeats.conflict).reindex(index),
            ")",
            quote=[1],
        )
        collapsed = (repeats.copy & ~faulty) | repeats.revised
        if not collapsed.any():
            return
        self.collapsed |= _at(index, rows.index, collapsed)
        recorded = repeats._replace(copy=repeats.copy & ~faulty)
        self.revisions.append(revision_rows(SOURCE, table, recorded, key, rows, rows[self.header]))


def _at(index: pd.Index, rows: pd.Index, mask: np.ndarray) -> np.ndarray:
    """``mask`` (over ``rows``) as a mask over ``index``."""
    return pd.Series(mask, index=rows).reindex(index, fill_value=False).to_numpy(dtype=bool)


def _at_values(index: pd.Index, rows: pd.Index, values: np.ndarray, mask: np.ndarray) -> pd.Series:
    """``values`` (over ``rows``) where ``mask`` holds, as a Series over ``index``."""
    return pd.Series(values, index=rows).where(mask).reindex(index)
