"""MSDS, the parsers: every file read by the one raw reader (:mod:`cov_pipeline.raw_reader`)
in the layout its header names, its labels normalised across releases, its periods and values
parsed (a row fault quarantines the row with every reason), identical copies across releases
merged and conflicts quarantined, and the zero rows MSDS omits restored (:func:`load_msds`). A
file fault, or an error while parsing a file, raises :class:`FileFault` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline.disclosure import ROUNDING_BASE
from cov_pipeline.msds.definitions import (
    ANNUAL_HEADER,
    CONFLICT,
    COUNT_OF_NAMES,
    DIMENSIONS,
    ENGLAND_ORG_LEVEL,
    FILE_PATTERN,
    KEY_COLUMNS,
    MISSING,
    MISSING_ALIASES,
    MONTHLY_HEADER,
    ORG_LEVEL_NAMES,
    PUBLISHED_NAMES,
    RECORD_RULE,
    SNAKE_NAMES,
    SOURCE,
    STAGING_TABLE,
    SUPPRESSED_MARKER,
)
from cov_pipeline.msds.descriptions import STAGING_DESCRIPTIONS
from cov_pipeline.quality import (
    FileFault,
    SourceFile,
    empty_quarantine,
    empty_revisions,
    join_reasons,
    pandera_reasons,
    quarantine_frame,
)
from cov_pipeline.raw_reader import (
    RECORD_FAULT,
    faults_name_the_file,
    read_records,
    repeated_column,
)
from cov_pipeline.repeats import CountsRepeats, key_text, places_of, resolve_repeats, revision_rows
from cov_pipeline.schemas.msds import MsdsRow


@dataclass
class MsdsLoad(CountsRepeats):
    """The outcome of loading every MSDS file."""

    CONFLICT = CONFLICT

    @property
    def restored_zero_rows(self) -> int:
        return int(self.staging["is_restored_zero"].sum())


# -- labels ----------------------------------------------------------------------------------
def label_key(labels: pd.Series) -> pd.Series:
    """A matching key: lower case, single spaces, ' / ' around slashes, no leading zero padding."""
    text = labels.fillna("").astype(str).str.lower()
    text = text.str.replace(r"\s*/\s*", " / ", regex=True)
    text = text.str.replace(r"\s+", " ", regex=True).str.strip()
    return text.str.replace(r"^0+(?=\d)", "", regex=True)


def _key(text: str) -> str:
    return label_key(pd.Series([text])).iloc[0]


def _lookup(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {_key(alias): canonical for alias, canonical in pairs}


DIMENSION_NAMES = _lookup((alias, d.name) for d in DIMENSIONS for alias in (d.name, *d.aliases))
CATEGORY_NAMES = {
    d.name: _lookup(
        [(c, c) for c in d.categories]
        + list(d.label_aliases.items())
        + ([(a, MISSING) for a in MISSING_ALIASES] if MISSING in d.categories else [])
    )
    for d in DIMENSIONS
}
CATEGORIES = pd.DataFrame(
    [(d.name, c) for d in DIMENSIONS for c in d.categories], columns=["dimension", "measure"]
)


def normalise_labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Canonical dimension, measure, org level and count-of; and each unknown category's reason.

    Dimensions outside ``DIMENSIONS`` keep their published label, spaces trimmed.
    """
    out = frame.copy()
    published_dimension = frame["dimension"].str.strip()
    dimension = label_key(published_dimension).map(DIMENSION_NAMES)
    out["dimension"] = dimension.fillna(published_dimension).replace("", None)
    measure_text = frame["measure"].str.replace(r"\s+", " ", regex=True).str.strip()
    keys = label_key(frame["measure"])
    canonical = pd.Series(None, index=frame.index, dtype=object)
    unknown = pd.Series(False, index=frame.index)
    for name, categories in CATEGORY_NAMES.items():  # a handful of dimensions, not rows
        rows = out["dimension"] == name
        if not rows.any() or not categories:
            continue
        mapped = keys[rows].map(categories)
        canonical.loc[rows] = mapped
        unknown.loc[rows] = mapped.isna()
    out["measure"] = canonical.where(canonical.notna(), measure_text.replace("", None))
    out["dimension_as_published"] = published_dimension
    out["measure_as_published"] = measure_text.replace("", None)
    for column, names in (("org_level", ORG_LEVEL_NAMES), ("count_of", COUNT_OF_NAMES)):
        text = frame[column].str.replace(r"\s+", " ", regex=True).str.strip()
        out[column] = (
            label_key(text).map(_lookup((n, n) for n in names)).fillna(text).replace("", None)
        )
    for column in ("org_code", "org_name"):
        out[column] = frame[column].str.strip().replace("", None)
    not_known = "measure: '" + measure_text + "' is not a known category of " + out["dimension"]
    reasons = not_known.where(measure_text.ne(""), "measure: missing").where(unknown)
    return out, reasons


# -- reading ---------------------------------------------------------------------------------
def check_header(path: Path, names: list[str]) -> str:
    """'monthly' or 'annual' by the header, or a FileFault naming what is wrong with it."""
    stripped = [" ".join(n.split()) for n in names]
    # an older name (OLDER_NAMES) is compared as the name it stands for
    folded = [PUBLISHED_NAMES.get(n.lower(), n).lower() for n in stripped]
    if "reportingperiodstartdate" in folded:
        layout, expected = "monthly", MONTHLY_HEADER
    elif "period" in folded:
        layout, expected = "annual", ANNUAL_HEADER
    else:
        raise FileFault(
            path,
            "not an MSDS file: the header has neither ReportingPeriodStartDate (monthly layout) "
            "nor Period (annual layout)",
        )
    wanted = {h.lower(): h for h in expected}
    missing = [h for h in expected if h.lower() not in folded]
    if missing:
        raise FileFault(
            path,
            f"missing required column(s) of the {layout} MSDS layout: "
            + ", ".join(repr(m) for m in missing),
        )
    unexpected = [n for n, f in zip(stripped, folded, strict=True) if f not in wanted]
    if unexpected:
        raise FileFault(path, f"unexpected column(s): {', '.join(repr(u) for u in unexpected)}")
    duplicated = sorted({f for f in folded if folded.count(f) > 1})
    if duplicated:
        raise FileFault(
            path,
            "duplicated column(s): "
            + ", ".join(
                repeated_column(
                    wanted[f], [n for n, g in zip(stripped, folded, strict=True) if g == f]
                )
                for f in duplicated
            ),
        )
    return layout


def read_msds_file(path: Path) -> tuple[pd.DataFrame, str, SourceFile]:
    """One file as text columns (snake_case) plus ``source_file``, ``line_number`` and
    ``record_fault``, read by the one raw reader (:mod:`cov_pipeline.raw_reader`): the layout is
    chosen from the header (:func:`check_header`); a record that cannot be read as delivered
    (wrong number of fields, a NUL byte, a cleared row) carries its fault."""
    layouts: list[str] = []

    def columns(path: Path, names: list[str]) -> list[str]:
        layouts.append(check_header(path, names))
        return [PUBLISHED_NAMES[" ".join(n.split()).lower()] for n in names]

    # the reader names columns in its faults ('NUL byte in Org_Name') as published
    records = read_records(path, columns, text="object")
    return records.frame.rename(columns=SNAKE_NAMES), layouts[0], records.info


def as_delivered(raw: pd.DataFrame, layout: str) -> pd.DataFrame:
    """The text columns under the layout's published names, with ``source_file`` and
    ``line_number`` (for quarantine records)."""
    header = MONTHLY_HEADER if layout == "monthly" else ANNUAL_HEADER
    delivered = raw[[SNAKE_NAMES[name] for name in header]]
    delivered.columns = list(header)
    return delivered.assign(source_file=raw["source_file"], line_number=raw["line_number"])


# -- parsing ---------------------------------------------------------------------------------
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[T ]00:00(?::00)?)?$"
_UK_DATE = r"^\d{1,2}/\d{1,2}/\d{4}$"
_FINANCIAL_YEAR = r"^(?P<y1>\d{4})\s*[-/]\s*(?P<y2>\d{2})$"
# The financial years whose first and last days pandas can hold as dates.
READABLE_FINANCIAL_YEARS = "the financial years that can be read (1678-79 to 2261-62)"


def parse_dates(text: pd.Series) -> pd.Series:
    """'2023-04-01' or '01/04/2023' (day first, as NHS files write them) to dates; else NaT."""
    text = text.str.strip()
    iso = pd.to_datetime(
        text.str[:10].where(text.str.match(_ISO_DATE)), format="%Y-%m-%d", errors="coerce"
    )
    uk = pd.to_datetime(text.where(text.str.match(_UK_DATE)), format="%d/%m/%Y", errors="coerce")
    return iso.fillna(uk).astype("datetime64[ns]")


def parse_periods(raw: pd.DataFrame, layout: str) -> tuple[pd.DataFrame, list[pd.Series]]:
    """period_type, period, period_start, period_end for each row, and the reasons of bad ones."""
    out = pd.DataFrame(index=raw.index)
    reasons: list[pd.Series] = []
    if layout == "annual":
        text = raw["period"].str.strip()
        parts = text.str.extract(_FINANCIAL_YEAR)
        y1 = pd.to_numeric(parts["y1"], errors="coerce")
        y2 = pd.to_numeric(parts["y2"], errors="coerce")
        financial_year = y1.notna() & (y2 == (y1 + 1) % 100)
        start_year = y1.where(financial_year).astype("Int64")
        out["period_start"] = _year_dates(start_year, "04-01")
        out["period_end"] = _year_dates(start_year + 1, "03-31")
        valid = financial_year & out["period_start"].notna() & out["period_end"].notna()
        out["period_type"] = np.where(valid, "financial_year", None)
        label = start_year.astype(str) + "-" + (start_year + 1).mod(100).astype(str).str.zfill(2)
        out["period"] = label.where(valid, None)
        reasons.append(_reason(text.eq(""), "period: missing"))
        reasons.append(
            ("period: '" + raw["period"] + "' is not a financial year like 2020-21").where(
                text.ne("") & ~financial_year
            )
        )
        reasons.append(
            ("period: '" + raw["period"] + f"' is outside {READABLE_FINANCIAL_YEARS}").where(
                financial_year & ~valid
            )
        )
        return out, reasons
    for column in ("period_start", "period_end"):
        text = raw[column].str.strip()
        out[column] = parse_dates(text)
        reasons.append(_reason(text.eq(""), f"{column}: missing"))
        reasons.append(
            (f"{column}: '" + raw[column] + "' is not a date (YYYY-MM-DD or DD/MM/YYYY)").where(
                text.ne("") & out[column].isna()
            )
        )
    start, end = out["period_start"], out["period_end"]
    reasons.append(_reason(end < start, "period_end: before period_start"))
    # compared field by field: date arithmetic near the last date pandas holds would overflow
    is_month = (
        (start.dt.day == 1)
        & (end.dt.year == start.dt.year)
        & (end.dt.month == start.dt.month)
        & end.dt.is_month_end
    )
    is_year = (
        (start.dt.month == 4)
        & (start.dt.day == 1)
        & (end.dt.year == start.dt.year + 1)
        & (end.dt.month == 3)
        & (end.dt.day == 31)
    )
    out["period_type"] = np.select([is_month, is_year], ["month", "financial_year"], "period")
    out.loc[start.isna() | end.isna(), "period_type"] = None
    fy = start.dt.year.astype("Int64")
    out["period"] = np.select(
        [is_month, is_year],
        [
            start.dt.strftime("%Y-%m"),
            fy.astype(str) + "-" + (fy + 1).mod(100).astype(str).str.zfill(2),
        ],
        start.dt.strftime("%Y-%m-%d") + " to " + end.dt.strftime("%Y-%m-%d"),
    )
    out["period"] = out["period"].where(out["period_type"].notna(), None)
    return out, reasons


def _year_dates(years: pd.Series, month_day: str) -> pd.Series:
    """The date ``month_day`` ('04-01') of each year; NaT where missing or beyond what pandas
    holds (1677-09-21 to 2262-04-11)."""
    text = years.astype(str).str.zfill(4) + "-" + month_day
    dates = pd.to_datetime(text.where(years.notna()), format="%Y-%m-%d", errors="coerce")
    return dates.astype("datetime64[ns]")


def _reason(mask: pd.Series, message: str) -> pd.Series:
    return pd.Series(np.where(mask, message, None), index=mask.index, dtype=object)


def parse_values(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """value (float, null where blank or '*'), is_suppressed, and the reason of non-numbers."""
    text = raw["value"].str.strip()
    suppressed = text.eq(SUPPRESSED_MARKER)
    number = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    invalid = text.ne("") & ~suppressed & (number.isna() | ~np.isfinite(number))
    out = pd.DataFrame(
        {
            "value": number.where(~invalid & ~suppressed).astype("float64"),
            "is_suppressed": suppressed,
        },
        index=raw.index,
    )
    reason = ("value: '" + raw["value"] + "' is not a number").where(invalid)
    return out, reason


def parse_msds(raw: pd.DataFrame, layout: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Typed rows of one file: (all rows typed, quarantine, each row's reasons; '' when valid).

    A record the reader could not read as delivered (a wrong number of fields, a NUL byte, a
    cleared row) is quarantined with that fault alone: its fields may be shifted or empty, and
    what they would say is no reason of the row's.
    """
    raw = raw.reset_index(drop=True)
    record_fault = raw[RECORD_FAULT]
    periods, period_reasons = parse_periods(raw, layout)
    values, value_reason = parse_values(raw)
    labels, label_reasons = normalise_labels(raw)
    typed = pd.concat(
        [
            periods,
            labels[
                [
                    "dimension", "dimension_as_published", "org_level", "org_code", "org_name",
                    "measure", "measure_as_published", "count_of",
                ]
            ],
            values,
            raw[["source_file", "line_number"]],
        ],
        axis=1,
    )  # fmt: skip
    contract = pandera_reasons(MsdsRow, typed)
    reasons = [*period_reasons, value_reason, label_reasons]
    reasons.append(contract.groupby(level=0).agg(" | ".join).reindex(typed.index))
    all_reasons = join_reasons(reasons, typed.index).where(record_fault.isna(), record_fault)
    header = MONTHLY_HEADER if layout == "monthly" else ANNUAL_HEADER
    quarantine = quarantine_frame(SOURCE, as_delivered(raw, layout), all_reasons, list(header))
    typed["is_england"] = typed["org_level"].eq(ENGLAND_ORG_LEVEL)
    typed[RECORD_FAULT] = record_fault.notna()
    # a record not read as delivered may hold another column's text where its count should be
    numbers = typed["value"].where(~typed[RECORD_FAULT]).dropna()
    typed["is_rounded"] = bool(len(numbers)) and bool((numbers % ROUNDING_BASE == 0).all())
    return typed, quarantine, all_reasons


# -- de-duplication and restored zeros -------------------------------------------------------
def _row_key(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    return pd.Series(
        pd.util.hash_pandas_object(frame[columns], index=False).to_numpy(), index=frame.index
    )


def deduplicate(valid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One row per period, organisation, dimension, category and count, by MSDS's declared rule
    (``RECORD_RULE``, :mod:`cov_pipeline.repeats`): (staged, rejected, revisions).

    Identical copies in several files (overlapping releases) merge, counted in
    ``source_row_count`` and recorded as copies; a value revised by a later publication is
    staged and the earlier recorded as revised; a second copy in the same file, and every copy
    of a key whose values disagree with no later publication to settle them, go to quarantine
    naming every place (no file silently wins).
    """
    ordered = valid.sort_values(["source_file", "line_number"], kind="stable").reset_index(
        drop=True
    )
    key = _row_key(ordered, KEY_COLUMNS).to_numpy()
    version = _row_key(ordered, ["value", "is_suppressed"]).to_numpy()
    repeats = resolve_repeats(RECORD_RULE, key, version, ordered["source_file"].to_numpy())
    lines = ordered["line_number"].astype(str)
    conflict_with = places_of(key, ordered["source_file"] + ":" + lines, repeats.conflict)
    first_line = pd.Series(lines.to_numpy()[repeats.kept], index=ordered.index)
    reasons = join_reasons(
        [
            (CONFLICT + conflict_with.astype(object)).where(repeats.conflict),
            ("duplicate of line " + first_line + " in the same file").where(repeats.copy_in_file),
        ],
        ordered.index,
    )
    rejected = (reasons != "").to_numpy()
    staged = ~rejected & ~repeats.collapsed
    first = ordered.loc[staged].copy()
    copies = np.bincount(repeats.kept[repeats.copy], minlength=len(ordered))
    first["source_row_count"] = (copies[staged] + 1).astype("int64")
    revisions = empty_revisions()
    if repeats.collapsed.any():  # keys and values in words only where a record came twice
        value = ordered["value"].map(lambda v: "" if v != v else format(v, ".15g"))
        revisions = revision_rows(
            SOURCE,
            STAGING_TABLE,
            repeats,
            key_text(ordered, KEY_COLUMNS),
            ordered,
            pd.DataFrame({"value": value.where(~ordered["is_suppressed"], SUPPRESSED_MARKER)}),
        )
    return first, ordered.loc[rejected].assign(_reasons=reasons[rejected]), revisions


GROUP_COLUMNS = [
    "period_type", "period", "period_start", "period_end", "org_level", "org_code", "dimension",
    "count_of",
]  # fmt: skip


def restore_zero_rows(staged: pd.DataFrame, blocked: pd.DataFrame) -> pd.DataFrame:
    """Zero rows for the known categories a published dimension left out.

    MSDS omits a category's row when its count is zero, so within a period and organisation that
    published the dimension, a known category with no row is a true zero: here the fill is
    correct. A dimension not published at all for that period and organisation stays absent (not
    zero). Where any row of the same file, organisation and dimension was quarantined, nothing is
    restored: the missing category might be the rejected row, not a zero. A record that could not
    be read as delivered (a cleared row, a wrong number of fields) might have been any row of its
    file: nothing is restored from that file.
    """
    known = staged[staged["dimension"].isin(CATEGORIES["dimension"].unique())]
    if known.empty:
        return staged.iloc[0:0]
    block_cols = ["source_file", "org_level", "org_code", "dimension"]
    flags = blocked[block_cols].drop_duplicates().assign(_blocked=True)
    is_blocked = known[block_cols].merge(flags, how="left", on=block_cols)["_blocked"]
    unreadable = blocked.loc[blocked[RECORD_FAULT].eq(True), "source_file"]
    is_blocked = is_blocked.notna().to_numpy() | known["source_file"].isin(unreadable).to_numpy()
    known = known.assign(_blocked=is_blocked)
    groups = (
        known.groupby(GROUP_COLUMNS, dropna=False, sort=False)
        .agg(
            org_name=("org_name", "first"),
            source_file=("source_file", "first"),
            is_rounded=("is_rounded", "all"),
            _blocked=("_blocked", "any"),
        )
        .reset_index()
    )
    groups = groups[~groups["_blocked"]].drop(columns="_blocked")
    grid = groups.merge(CATEGORIES, on="dimension", how="inner")
    present = known[[*GROUP_COLUMNS, "measure"]].drop_duplicates().assign(_present=True)
    grid = grid.merge(present, on=[*GROUP_COLUMNS, "measure"], how="left")
    restored = grid[grid["_present"].isna()].drop(columns="_present")
    return restored.assign(
        dimension_as_published=None,
        measure_as_published=None,
        is_england=restored["org_level"].eq(ENGLAND_ORG_LEVEL),
        value=0.0,
        is_suppressed=False,
        is_restored_zero=True,
        line_number=pd.array([pd.NA] * len(restored), dtype="Int64"),
        source_row_count=0,
    )


def load_msds(paths: Iterable[Path]) -> MsdsLoad:
    """Read, validate, normalise and de-duplicate every MSDS file; restore omitted zero rows.

    A file fault in any file raises before anything is returned.
    """
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault(f"maternity/{FILE_PATTERN}", "no MSDS files found")
    typed_parts, bad_parts, quarantine_parts, raws, files = [], [], [], {}, []
    for path in paths:  # files, not rows: each file is parsed whole
        with faults_name_the_file(path):
            raw, layout, info = read_msds_file(path)
            typed, quarantine, reasons = parse_msds(raw, layout)
        raws[path.name] = as_delivered(raw, layout)
        files.append(info)
        typed_parts.append(typed[reasons == ""])
        bad_parts.append(typed[reasons != ""])
        quarantine_parts.append(quarantine)
    valid = pd.concat(typed_parts, ignore_index=True)
    staged, duplicates, revisions = deduplicate(valid)
    if not duplicates.empty:
        quarantine_parts.append(
            pd.DataFrame(
                {
                    "source": SOURCE,
                    "source_file": duplicates["source_file"].to_numpy(),
                    "line_number": duplicates["line_number"].astype("int64").to_numpy(),
                    "reasons": duplicates["_reasons"].to_numpy(),
                    "record": _records_of(duplicates, raws).to_numpy(),
                }
            )
        )
    blocked = pd.concat([*bad_parts, duplicates], ignore_index=True)
    staged = staged.assign(is_restored_zero=False)
    restored = restore_zero_rows(staged, blocked)
    staging = pd.concat([staged, restored], ignore_index=True)
    staging["line_number"] = staging["line_number"].astype("Int64")
    staging = staging.sort_values(
        [
            "period_type",
            "period_start",
            "period_end",
            "is_england",
            "org_code",
            "dimension",
            "measure",
        ],
        ascending=[True, True, True, False, True, True, True],
        na_position="first",
        kind="stable",
    ).reset_index(drop=True)
    quarantine = pd.concat([empty_quarantine(), *quarantine_parts], ignore_index=True)
    quarantine = quarantine.sort_values(["source_file", "line_number"], kind="stable")
    return MsdsLoad(
        staging=staging[list(STAGING_DESCRIPTIONS)],
        quarantine=quarantine.reset_index(drop=True),
        files=files,
        input_rows=sum(len(raw) for raw in raws.values()),
        revisions=revisions,
    )


def _records_of(rows: pd.DataFrame, raws: dict[str, pd.DataFrame]) -> pd.Series:
    """The delivered text of typed rows (for their quarantine record), as JSON objects."""
    parts = []
    for name, wanted in rows.groupby("source_file", sort=False):  # files, not rows
        raw = raws[name]
        columns = [c for c in raw.columns if c not in ("source_file", "line_number")]
        found = raw.set_index("line_number").loc[wanted["line_number"].to_numpy(), columns]
        records = found.to_json(orient="records", lines=True, force_ascii=False).splitlines()
        parts.append(pd.Series(records, index=wanted.index))
    return pd.concat(parts).reindex(rows.index)
