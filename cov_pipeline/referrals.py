"""Young people's risky-behaviour service: referrals staged from the case-system extracts, and the
demand and waiting-list marts for commissioners.

Extracts are named ``referrals_YYYY-MM-DD.csv`` after the day they were taken; that date orders
them and bounds their dates (a date after it is in the future). A referral delivered by several
extracts is staged once, **from the latest extract that holds it** (the later extract wins: it
records first contacts, discharges and corrections made since). File faults raise
:class:`FileFault`; row faults quarantine the row with every reason (see ``load_referrals``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
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
    Header,
    read_records,
    with_record_faults,
)
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
from cov_pipeline.settings import DEFAULT_REFERRAL_WAIT_THRESHOLD_DAYS
from cov_pipeline.spc import SPC_COLUMNS, SpcSettings, load_spc_settings, spc_series

SOURCE = "referrals"
FILE_PATTERN = "*.csv"
# referrals_2026-11-01.csv, optionally with a suffix: referrals_2026-11-01_part2.csv
FILE_NAME = re.compile(r"^referrals_(?P<date>\d{4}-\d{2}-\d{2})(?:[_-][^/]*)?\.(?i:csv)$")

# The extract's columns, as the case system writes them (docs/definitions.md, "Sources").
RAW_COLUMNS = [
    "referral_id",
    "referral_date",
    "age",
    "sex",
    "ethnic_category",
    "lsoa_code",
    "referral_source",
    "presenting_need",
    "first_contact_date",
    "discharge_date",
]
RAW_HEADER = Header(required=RAW_COLUMNS)
# Opens the file fault of an extract whose parsing raised (never a bare pandas message).
PARSING_FAILED = "could not be parsed: nothing from this source was written"
DATE_COLUMNS = ["referral_date", "first_contact_date", "discharge_date"]
# The columns staged as text (the codes under their typed names).
TEXT_COLUMNS = [
    "referral_id",
    "sex",
    "ethnic_category",
    "lsoa_code",
    "referral_source",
    "presenting_need",
]
# Typed names of the coded columns (the staging table also carries their labels).
TYPED_NAMES = {
    "sex": "sex_code",
    "referral_source": "referral_source_code",
    "presenting_need": "presenting_need_code",
}
RAW_NAMES = {typed: raw for raw, typed in TYPED_NAMES.items()}

AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("10-13", 10, 13),
    ("14-15", 14, 15),
    ("16-17", 16, 17),
    ("18-24", 18, 24),
)
ETHNIC_GROUPS = ("White British", "White Other", "Mixed", "Asian", "Black", "Other", "Not stated")
NOT_KNOWN = "Not known"
MOST_DEPRIVED = "Most deprived 30% (deciles 1-3)"
LESS_DEPRIVED = "Other 70% (deciles 4-10)"
DEPRIVATION_GROUPS = (MOST_DEPRIVED, LESS_DEPRIVED, NOT_KNOWN)
IMD_QUINTILE_GROUPS = (
    "Q1 (most deprived)",
    "Q2",
    "Q3",
    "Q4",
    "Q5 (least deprived)",
    NOT_KNOWN,
)
STATUSES = ("waiting", "seen, open", "discharged", "closed before first contact")

STAGING_DESCRIPTIONS = {
    "referral_id": "Referral identifier from the case system (pseudonymised), unique.",
    "referral_date": "Date the service received the referral.",
    "age": f"Age in whole years at referral ({MIN_AGE}-{MAX_AGE}, the service's range).",
    "age_band": "Age band at referral: 10-13, 14-15, 16-17, 18-24.",
    "sex_code": "NHS Person Stated Gender Code as delivered (1, 2, 9, X); null where blank.",
    "sex": "Male, Female, Indeterminate, or Not known (code X or blank).",
    "ethnic_category": "NHS ethnic category letter code as delivered (A-S, Z); null where blank.",
    "ethnic_group": "Broad ethnic group: White British, White Other, Mixed, Asian, Black, Other, "
    "or Not stated (code Z or blank).",
    "lsoa_code": "LSOA of the young person's home as delivered; null where not recorded.",
    "imd_decile": "National IMD decile of the LSOA (1 = most deprived 10%), from staging.imd_lsoa; "
    "null where the LSOA is blank or not in the lookup (e.g. outside the area).",
    "imd_quintile": "National IMD quintile of the LSOA (1 = most deprived 20%); null as imd_decile.",
    "is_most_deprived_30pct": "LSOA in national IMD deciles 1-3 (docs/definitions.md); null as imd_decile.",
    "deprivation_group": f"'{MOST_DEPRIVED}', '{LESS_DEPRIVED}' or '{NOT_KNOWN}'.",
    "referral_source_code": "Referral source code as delivered.",
    "referral_source": "Who referred: " + "; ".join(REFERRAL_SOURCES.values()) + ".",
    "presenting_need_code": "Presenting need code as delivered.",
    "presenting_need": "Main presenting need: " + "; ".join(PRESENTING_NEEDS.values()) + ".",
    "first_contact_date": "Date of the first contact with the young person; null if not yet seen.",
    "discharge_date": "Date the referral was closed; null while open.",
    "wait_days": "Days from referral to first contact; null if not yet seen.",
    "status": "As at the extract: waiting (no first contact, not closed), seen, open; "
    "discharged; or closed before first contact.",
    "extract_date": "Date the extract the row was staged from was taken (from its file name).",
    "source_file": "Extract the row was staged from: the latest that holds the referral.",
    "line_number": "Line in that file where the record starts (the header is line 1).",
    "extract_rows": "Rows of the extracts merged into this referral: 1, plus earlier extracts' "
    "versions superseded by this one (the later extract wins).",
    "changed_in_later_extract": "Fields whose value differs from the previous extract's version "
    "of the referral, comma separated; null if the referral is in one extract or unchanged.",
}
STAGING_COLUMNS = list(STAGING_DESCRIPTIONS)


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


# -- labels and deprivation ---------------------------------------------------------------------
def age_bands(age: pd.Series) -> pd.Series:
    """The service's age bands (10-13, 14-15, 16-17, 18-24); null outside 10-24."""
    labels = np.array([label for label, _, _ in AGE_BANDS] + [None], dtype=object)
    edges = np.array([low for _, low, _ in AGE_BANDS] + [AGE_BANDS[-1][2] + 1])
    values = age.astype("float64").to_numpy()
    position = np.searchsorted(edges, values, side="right") - 1
    inside = (values >= edges[0]) & (values < edges[-1])
    return pd.Series(labels[np.where(inside, position, len(AGE_BANDS))], index=age.index)


def deprivation(lsoa_code: pd.Series, imd: pd.DataFrame) -> pd.DataFrame:
    """The national IMD decile, quintile, most-deprived-30% flag and deprivation group of each
    LSOA (same index as ``lsoa_code``).

    ``imd`` is the lookup of ``staging.imd_lsoa`` (``lsoa_code, imd_decile, imd_quintile,
    is_most_deprived_30pct``). A blank LSOA, or one not in the lookup (outside the area, or of
    another boundary vintage), gets nulls and the deprivation group 'Not known'.
    """
    lookup = imd[["lsoa_code", "imd_decile", "imd_quintile", "is_most_deprived_30pct"]]
    # Looked up once per distinct LSOA (a few hundred), then spread over the referrals.
    codes, distinct = pd.factorize(lsoa_code, use_na_sentinel=False)
    found = pd.DataFrame({"lsoa_code": distinct}).merge(
        lookup, on="lsoa_code", how="left", validate="many_to_one"
    )
    flag = found["is_most_deprived_30pct"].astype("boolean")
    group = np.select(
        [flag.eq(True).fillna(False).to_numpy(), flag.eq(False).fillna(False).to_numpy()],
        [0, 1],
        default=2,
    )
    return columns_frame(
        {
            "imd_decile": found["imd_decile"].astype("Int64").array.take(codes),
            "imd_quintile": found["imd_quintile"].astype("Int64").array.take(codes),
            "is_most_deprived_30pct": flag.array.take(codes),
            "deprivation_group": _labels((MOST_DEPRIVED, LESS_DEPRIVED, NOT_KNOWN), group[codes]),
        },
        lsoa_code.index,
    )


def _mapped(codes: pd.Series, labels: Mapping[str, str], otherwise: object = np.nan) -> np.ndarray:
    """``codes.map(labels).fillna(otherwise)`` as an object array: the same lookup of each code
    among the keys, without the intermediate copies."""
    position = pd.Index(list(labels)).get_indexer(codes)
    return np.array([*labels.values(), otherwise], dtype=object)[position]  # -1: otherwise


def _labels(labels: Iterable[str], position: np.ndarray) -> np.ndarray:
    """The label at each position, as an object array (one string object per label, shared)."""
    return np.array(list(labels), dtype=object)[position]


def label_referrals(typed: pd.DataFrame) -> pd.DataFrame:
    """Labels, age band, wait and status of valid typed referrals (the new columns only, same
    index as ``typed``)."""
    first_contact = typed["first_contact_date"].to_numpy(dtype="datetime64[ns]")
    discharge = typed["discharge_date"].to_numpy(dtype="datetime64[ns]")
    seen, closed = ~np.isnat(first_contact), ~np.isnat(discharge)
    waited = first_contact - typed["referral_date"].to_numpy(dtype="datetime64[ns]")
    not_seen = np.isnat(waited)
    # Whole days, rounded down as Timedelta.days is.
    days = np.where(not_seen, np.timedelta64(0, "D"), waited) // np.timedelta64(1, "D")
    groups = {code: group for code, (_, group) in ETHNIC_CATEGORIES.items()}
    status = np.select([~seen & ~closed, seen & ~closed, seen & closed], [0, 1, 2], default=3)
    return columns_frame(
        {
            "age_band": age_bands(typed["age"]),
            "sex": _mapped(typed["sex_code"], SEX_CODES, SEX_CODES["X"]),
            "ethnic_group": _mapped(typed["ethnic_category"], groups, "Not stated"),
            "referral_source": _mapped(typed["referral_source_code"], REFERRAL_SOURCES),
            "presenting_need": _mapped(typed["presenting_need_code"], PRESENTING_NEEDS),
            "wait_days": pd.arrays.IntegerArray(days.astype(np.int64), mask=not_seen),
            "status": _labels(STATUSES, status),
        },
        typed.index,
    )


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
        try:
            frame, info, extract_date = read_referral_file(path, today)
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            text = delivered_text(frame)
            parsed.append((text, *parse_referrals(frame, text)))
        except FileFault:
            raise
        except Exception as exc:  # a fault of parsing, said with the file's name
            raise FileFault(path, f"{PARSING_FAILED} ({type(exc).__name__}: {exc})") from exc
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


# -- marts: breakdowns and months ---------------------------------------------------------------
ALL = "All"
ALL_REFERRALS = "All referrals"
# (breakdown, staging column or None for everyone, its categories in display order)
BREAKDOWNS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    (ALL, None, (ALL_REFERRALS,)),
    ("Presenting need", "presenting_need", tuple(PRESENTING_NEEDS.values())),
    ("Referral source", "referral_source", tuple(REFERRAL_SOURCES.values())),
    ("Age band", "age_band", tuple(label for label, _, _ in AGE_BANDS)),
    ("Sex", "sex", tuple(SEX_CODES.values())),
    ("Ethnic group", "ethnic_group", ETHNIC_GROUPS),
    ("Deprivation group", "deprivation_group", DEPRIVATION_GROUPS),
    ("IMD quintile", "imd_quintile_group", IMD_QUINTILE_GROUPS),
)
# The columns of staging.referrals each mart reads (the dates, and the breakdowns' labels with
# IMD quintile): an asset building a mart need read no other (issue #7).
TRENDS_INPUT_COLUMNS = [
    "referral_date",
    "extract_date",
    "imd_quintile",
    *(column for _, column, _ in BREAKDOWNS if column in STAGING_DESCRIPTIONS),
]
WAITING_INPUT_COLUMNS = [
    *TRENDS_INPUT_COLUMNS,
    "first_contact_date",
    "discharge_date",
    "wait_days",
]
PERCENTILE_METHOD = (
    "linear interpolation between closest ranks (Hyndman and Fan type 7, as Excel "
    "PERCENTILE.INC and numpy): for n sorted values x1..xn the p-th percentile lies at rank "
    "1 + (n - 1)p"
)


def reporting_months(referrals: pd.DataFrame) -> pd.DatetimeIndex:
    """Month starts from the month of the first referral to the last month complete before the
    latest extract was taken (a part month would show as a fall in demand)."""
    if referrals.empty:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    first = referrals["referral_date"].min().to_period("M")
    last = referrals["extract_date"].max().to_period("M") - 1
    return pd.period_range(first, last, freq="M").to_timestamp().astype("datetime64[ns]")


def month_positions(dates: pd.Series, months: pd.DatetimeIndex) -> np.ndarray:
    """Position of each date's month among ``months`` (may fall outside 0..K-1); a large number
    for a missing date (never reached)."""
    never = np.iinfo(np.int64).max // 2
    if len(months) == 0:
        return np.full(len(dates), never, dtype=np.int64)
    values = np.asarray(dates, dtype="datetime64[ns]")
    # Months since 1970-01 of each date and of the first month: their difference.
    number = values.astype("datetime64[M]").astype(np.int64)
    first = np.datetime64(months[0], "M").astype(np.int64)
    return np.where(np.isnat(values), never, number - first)


def breakdown_cells(referrals: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The mart's cells (breakdown, category, category_order) and, per referral and breakdown,
    the number of the cell the referral falls in (shape: referrals × breakdowns)."""
    quintile = referrals["imd_quintile"].astype("float64").to_numpy()
    labels = {
        "imd_quintile_group": np.where(
            np.isnan(quintile),
            NOT_KNOWN,
            np.array(IMD_QUINTILE_GROUPS[:5], dtype=object)[
                np.nan_to_num(quintile, nan=1).astype(int) - 1
            ],
        )
    }
    cells, codes, offset = [], [], 0
    for breakdown, column, categories in BREAKDOWNS:  # eight breakdowns, not rows
        cells.append(
            pd.DataFrame(
                {
                    "breakdown": breakdown,
                    "category": list(categories),
                    "category_order": np.arange(1, len(categories) + 1),
                }
            )
        )
        if column is None:
            code = np.zeros(len(referrals), dtype=np.int64)
        else:
            # a Series, so that a label column read as categories is recoded, not spelt out
            values = labels[column] if column in labels else referrals[column]
            code = pd.Categorical(values, categories=list(categories)).codes.astype(np.int64)
            if (code < 0).any():
                unknown = sorted({str(v) for v in np.asarray(values, dtype=object)[code < 0]})
                raise ValueError(f"{column}: values outside the mart's categories: {unknown}")
        codes.append(code + offset)
        offset += len(categories)
    table = pd.concat(cells, ignore_index=True)
    return table, np.column_stack(codes) if codes else np.zeros((len(referrals), 0), np.int64)


def _grid(cells: pd.DataFrame, months: pd.DatetimeIndex) -> pd.DataFrame:
    """Every cell × every month, cell-major: row ``cell × K + month``."""
    k = len(months)
    grid = cells.loc[np.repeat(np.arange(len(cells)), k)].reset_index(drop=True)
    grid.insert(0, "month", np.tile(months.to_numpy(), len(cells)))
    return grid


def _cells(codes: np.ndarray, rows: np.ndarray, position: np.ndarray, k: int) -> np.ndarray:
    """Grid position (cell × K + month) of each (row, breakdown): shape rows × breakdowns."""
    return codes[rows] * k + position[:, None]


def _flat(codes: np.ndarray, rows: np.ndarray, position: np.ndarray, k: int) -> np.ndarray:
    """:func:`_cells` flattened, row by row."""
    return _cells(codes, rows, position, k).ravel()


def _count(flat: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(flat, weights=weights, minlength=size).astype(np.int64)


def _percentiles(
    cells: np.ndarray, values: np.ndarray, size: int, qs: Iterable[float] = (0.5, 0.9)
) -> list[np.ndarray]:
    """Percentiles of ``values`` per flat grid position (NaN where none), by PERCENTILE_METHOD.

    ``cells`` holds the grid position of each row in each breakdown (:func:`_cells`; a grid
    position belongs to one breakdown) and ``values`` one value per row; missing values are
    left out. The rows are sorted by value once, then for each breakdown by grid position with
    a stable sort, which leaves each cell's values in order; the percentile is then read at
    rank 1 + (n - 1)p with the arithmetic of pandas' groupby quantile, which this replaces
    (same figures, to the last bit).
    """
    qs = list(qs)
    out = [np.full(size, np.nan) for _ in qs]
    values = np.asarray(values, dtype="float64")
    known = np.flatnonzero(~np.isnan(values))
    # A stable sort of 16-bit integers is a radix sort: used for whole days of waiting, and
    # for grid positions, which fit 16 bits on any real mart.
    order_by = values[known]
    small = len(known) and order_by.min() >= -(2**15) and order_by.max() < 2**15
    if small and (order_by == np.floor(order_by)).all():
        order_by = order_by.astype(np.int16)
    in_value_order = known[np.argsort(order_by, kind="stable")]
    values = values[in_value_order]
    key = np.uint16 if size <= np.iinfo(np.uint16).max + 1 else np.int64
    for cell in np.ascontiguousarray(cells[in_value_order].T):  # one breakdown at a time
        ordered = values[np.argsort(cell.astype(key), kind="stable")]
        count = np.bincount(cell, minlength=size)
        start = (np.cumsum(count) - count)[count > 0]
        n = count[count > 0]
        for result, q in zip(out, qs, strict=True):
            rank = q * (n - 1).astype("float64")  # counted from 0
            low = rank.astype(np.int64)  # rounded down, as pandas does
            fraction = rank % 1
            below = ordered[start + low]
            above = ordered[start + np.minimum(low + 1, n - 1)]
            result[count > 0] = np.where(fraction == 0.0, below, below + (above - below) * fraction)
    return out


def _spc_kwargs(settings: Mapping[str, SpcSettings] | None, measure: str) -> dict:
    settings = settings if settings is not None else load_spc_settings()
    if measure not in settings:
        raise KeyError(f"no SPC settings for {measure!r} in the SPC configuration")
    return settings[measure].spc_kwargs()


def _with_spc(
    grid: pd.DataFrame,
    value: str,
    measure: str,
    settings: Mapping[str, SpcSettings] | None,
    prefix: str = "",
) -> pd.DataFrame:
    """``spc_series`` per breakdown and category with the measure's configured settings."""
    out = spc_series(
        grid, value, "month", ["breakdown", "category"], **_spc_kwargs(settings, measure)
    )
    if prefix:
        out = out.rename(columns={c: prefix + c for c in SPC_COLUMNS})
    return out


# -- marts: referral trends ---------------------------------------------------------------------
def _spc_descriptions(prefix: str, what: str) -> dict[str, str]:
    return {prefix + name: f"{what}: {text}" for name, text in SPC_COLUMNS.items()}


_CELL_DESCRIPTIONS = {
    "month": "Calendar month (its first day).",
    "breakdown": "How referrals are split: All, Presenting need, Referral source, Age band, Sex, "
    "Ethnic group, Deprivation group (IMD deciles 1-3 vs 4-10), IMD quintile.",
    "category": "The group within the breakdown ('All referrals' for All; 'Not known' / "
    "'Not stated' where not recorded).",
    "category_order": "Display order of the category within its breakdown.",
}
TRENDS_DESCRIPTIONS = {
    **_CELL_DESCRIPTIONS,
    "referrals": "Referrals received in the month.",
    "referrals_rolling_12m": "Referrals received in the 12 months ending with this month; null "
    "before 12 months of data.",
    "referrals_same_month_last_year": "Referrals received in the same month a year earlier; null "
    "in the first year.",
    "change_on_last_year": "referrals - referrals_same_month_last_year.",
    "change_on_last_year_pct": "Change on the same month a year earlier as a % of that month "
    "(null where it had no referrals).",
    **_spc_descriptions(
        "",
        "SPC (XmR) of monthly referrals in this breakdown and category, demand treated as "
        "neutral (config 'referrals')",
    ),
}


def monthly_referrals(referrals: pd.DataFrame) -> pd.DataFrame:
    """Referrals received per month, for all and by each breakdown, with the rolling 12-month
    total and the change on the same month a year earlier; before SPC.

    One row per month × category, every month from the first referral to the last complete
    month: a month without referrals in a category is a true zero.
    """
    months = reporting_months(referrals)
    cells, codes = breakdown_cells(referrals)
    k = len(months)
    size = len(cells) * k
    grid = _grid(cells, months)
    position = month_positions(referrals["referral_date"], months)
    inside = np.flatnonzero((position >= 0) & (position < k))
    counts = _count(_flat(codes, inside, position[inside], k), size).reshape(len(cells), k)

    totals = np.cumsum(counts, axis=1)
    rolling = np.full(counts.shape, np.nan)
    if k >= 12:
        rolling[:, 11:] = totals[:, 11:] - np.pad(totals, ((0, 0), (1, 0)))[:, : k - 11]
    last_year = np.full(counts.shape, np.nan)
    last_year[:, 12:] = counts[:, :-12]
    grid["referrals"] = counts.ravel()
    grid["referrals_rolling_12m"] = pd.array(rolling.ravel(), dtype="Float64").astype("Int64")
    grid["referrals_same_month_last_year"] = pd.array(last_year.ravel(), dtype="Float64").astype(
        "Int64"
    )
    change = grid["referrals"] - grid["referrals_same_month_last_year"]
    grid["change_on_last_year"] = change.astype("Int64")
    base = grid["referrals_same_month_last_year"].astype("Float64")
    grid["change_on_last_year_pct"] = (
        (100 * change.astype("Float64") / base.where(base > 0)).astype("float64").round(1)
    )
    return grid


def referral_trends(
    referrals: pd.DataFrame, spc_settings: Mapping[str, SpcSettings] | None = None
) -> pd.DataFrame:
    """:func:`monthly_referrals` with Making Data Count XmR columns per breakdown and category
    (demand is neutral: special causes are high or low, not better or worse), at full detail
    (the published tier withholds small numbers).
    """
    table = _with_spc(monthly_referrals(referrals), "referrals", "referrals", spc_settings)
    return table[list(TRENDS_DESCRIPTIONS)].reset_index(drop=True)


# -- marts: waiting list and waiting times ------------------------------------------------------
def waiting_snapshots(
    referral_date: pd.Series,
    first_contact_date: pd.Series,
    discharge_date: pd.Series,
    months: pd.DatetimeIndex,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who is on the waiting list at each month end, and for how long they have waited.

    On the list at month end E: referred on or before E, and neither first seen nor discharged
    on or before E. A referral is on the list at the month ends from its referral month to the
    month before the month it leaves (first contact or discharge, whichever is first), so each
    referral spans one run of month ends; the runs are expanded with ``np.repeat`` (no loop over
    referrals or months). Returns the referral position, the month position and the days
    waited so far (E - referral date) of every (referral, month end) pair on the list.
    """
    k = len(months)
    start = np.maximum(month_positions(referral_date, months), 0)
    # The earlier of the two dates, either where the other is missing.
    leaves = np.fmin(
        np.asarray(first_contact_date, dtype="datetime64[ns]"),
        np.asarray(discharge_date, dtype="datetime64[ns]"),
    )
    stop = np.minimum(month_positions(leaves, months), k)  # first month end not on the list
    spans = np.maximum(stop - start, 0)
    rows = np.repeat(np.arange(len(spans)), spans)
    run_start = np.repeat(np.cumsum(spans) - spans, spans)
    position = np.repeat(start, spans) + (np.arange(len(rows)) - run_start)
    month_ends = (months + pd.offsets.MonthEnd(0)).to_numpy() if k else np.array([], "M8[ns]")
    referred = referral_date.to_numpy(dtype="datetime64[ns]")[rows]
    waited = (month_ends[position] - referred).astype("timedelta64[D]").astype(np.int64)
    return rows, position.astype(np.int64), waited


WAITING_DESCRIPTIONS = {
    "month": _CELL_DESCRIPTIONS["month"],
    "month_end": "Last day of the month: the date the waiting list is counted on.",
    **_CELL_DESCRIPTIONS,
    "waiting_list": "Young people on the waiting list at the month end: referred, no first "
    "contact, not discharged.",
    "waiting_median_days": "Median days waited so far (month end - referral date) by those on "
    "the waiting list; percentile method: " + PERCENTILE_METHOD + ".",
    "waiting_p90_days": "90th percentile of days waited so far by those on the waiting list "
    "(same percentile method).",
    "wait_threshold_days": "Threshold for waiting_over_threshold in days "
    "(COV_REFERRAL_WAIT_THRESHOLD_DAYS; 42 = 6 weeks by default).",
    "waiting_over_threshold": "People on the waiting list at the month end who have waited more "
    "than wait_threshold_days.",
    "first_seen": "Young people first seen (first contact) in the month.",
    "first_seen_median_wait_days": "Median days from referral to first contact of those first "
    "seen in the month (same percentile method).",
    "first_seen_p90_wait_days": "90th percentile of days from referral to first contact of "
    "those first seen in the month (same percentile method).",
    "discharges": "Referrals closed (discharged) in the month, seen or not.",
    **_spc_descriptions(
        "waiting_list_",
        "SPC (XmR) of the waiting list at month end, lower is better (config 'waiting_list')",
    ),
    **_spc_descriptions(
        "median_wait_",
        "SPC (XmR) of first_seen_median_wait_days, lower is better (config "
        "'median_wait_days'); months with no one first seen are gaps",
    ),
}


def waiting_figures(
    referrals: pd.DataFrame, threshold_days: int = DEFAULT_REFERRAL_WAIT_THRESHOLD_DAYS
) -> pd.DataFrame:
    """The waiting list at each month end and waiting times, for all and by each breakdown;
    before SPC.

    Waiting list (see :func:`waiting_snapshots`), with the median, 90th percentile and number
    waiting more than ``threshold_days`` of the days waited so far; for those first seen in the
    month, the median and 90th percentile of days from referral to first contact; discharges in
    the month (seen or not). Percentiles by ``PERCENTILE_METHOD``.
    """
    months = reporting_months(referrals)
    cells, codes = breakdown_cells(referrals)
    k = len(months)
    size = len(cells) * k
    grid = _grid(cells, months)
    grid.insert(1, "month_end", (grid["month"] + pd.offsets.MonthEnd(0)).astype("datetime64[ns]"))
    n_breakdowns = codes.shape[1]

    rows, position, waited = waiting_snapshots(
        referrals["referral_date"],
        referrals["first_contact_date"],
        referrals["discharge_date"],
        months,
    )
    on_list = _cells(codes, rows, position, k)
    flat = on_list.ravel()
    waits = np.repeat(waited, n_breakdowns)
    grid["waiting_list"] = _count(flat, size)
    median, p90 = _percentiles(on_list, waited, size)
    grid["waiting_median_days"] = median
    grid["waiting_p90_days"] = p90
    grid["wait_threshold_days"] = np.int64(threshold_days)
    grid["waiting_over_threshold"] = _count(flat, size, (waits > threshold_days).astype(float))

    seen_at = month_positions(referrals["first_contact_date"], months)
    seen = np.flatnonzero((seen_at >= 0) & (seen_at < k))
    seen_cells = _cells(codes, seen, seen_at[seen], k)
    wait = referrals["wait_days"].astype("float64").to_numpy()[seen]
    grid["first_seen"] = _count(seen_cells.ravel(), size)
    median, p90 = _percentiles(seen_cells, wait, size)
    grid["first_seen_median_wait_days"] = median
    grid["first_seen_p90_wait_days"] = p90

    closed_at = month_positions(referrals["discharge_date"], months)
    closed = np.flatnonzero((closed_at >= 0) & (closed_at < k))
    grid["discharges"] = _count(_flat(codes, closed, closed_at[closed], k), size)
    return grid


def referral_waiting(
    referrals: pd.DataFrame,
    threshold_days: int = DEFAULT_REFERRAL_WAIT_THRESHOLD_DAYS,
    spc_settings: Mapping[str, SpcSettings] | None = None,
) -> pd.DataFrame:
    """:func:`waiting_figures` with XmR columns on the waiting list and on the median wait to
    first contact (lower is better for both), at full detail.
    """
    grid = waiting_figures(referrals, threshold_days)
    settings = spc_settings if spc_settings is not None else load_spc_settings()  # read once
    table = _with_spc(grid, "waiting_list", "waiting_list", settings, "waiting_list_")
    table = _with_spc(
        table, "first_seen_median_wait_days", "median_wait_days", settings, "median_wait_"
    )
    for column in ("waiting_list", "waiting_over_threshold", "first_seen", "discharges"):
        table[column] = table[column].astype("Int64")
    return table[list(WAITING_DESCRIPTIONS)].reset_index(drop=True)
