"""The deprivation lookup: national IMD rank and decile of every LSOA, from the official files.

Reads the English Indices of Deprivation "File 1" (IMD ranks and deciles) and the longer "File 7"
(all ranks, scores and deciles) layouts: UTF-8 with a BOM, ranks written with thousands
separators ("11,101"). Two vintages: IMD 2019 on 2011 LSOAs and IoD 2025 on 2021 LSOAs; the
header says which a file is (``LSOA code (2011)`` / ``LSOA code (2021)``). Files are read by the
one raw reader (:mod:`cov_pipeline.raw_reader`). The lookup is used whole or not at all, so every
fault is a :class:`FileFault` naming the file and its lines, a record the reader cannot read as
delivered (a wrong number of fields, a NUL byte, a cleared row) too: no row is dropped.
Reference: MHCLG, English Indices of Deprivation 2019 / 2025, technical report and file
descriptions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline.quality import FileFault, SourceFile, within_whole_numbers
from cov_pipeline.raw_reader import RECORD_FAULT, parsing_fault, read_records
from cov_pipeline.schemas.imd import ImdLsoa

FILE_PATTERN = "imd*.csv"
# Deciles 1-3: the most deprived 30% of LSOAs nationally (docs/definitions.md, "most deprived 30%").
MOST_DEPRIVED_DECILES = (1, 2, 3)
# Opens the file fault of a file whose parsing raised (never a bare pandas message).
PARSING_FAILED = "could not be parsed: the lookup was not written"
# How many offending lines a fault message lists before it says how many more there are.
FAULT_LINES_SHOWN = 5


@dataclass(frozen=True)
class ImdVintage:
    """A release of the indices and the LSOA and district boundaries its files use."""

    name: str
    lsoa_vintage: str
    lad_years: tuple[str, ...]
    release: str


VINTAGES: dict[str, ImdVintage] = {
    "IMD2019": ImdVintage("IMD2019", "2011", ("2019",), "English Indices of Deprivation 2019"),
    # IoD 2025 files give 2024 districts; 2025 is accepted should a re-issue update them.
    "IoD2025": ImdVintage(
        "IoD2025", "2021", ("2024", "2025"), "English Indices of Deprivation 2025"
    ),
}

# Column name patterns (case and runs of spaces ignored). File 1 writes the short IMD names;
# File 7 and the 2025 files add "(where 1 is most deprived ...)".
_YEAR = r"\((?P<year>\d{4})\)"
COLUMN_PATTERNS: dict[str, re.Pattern[str]] = {
    column: re.compile(pattern, re.IGNORECASE)
    for column, pattern in {
        "lsoa_code": rf"LSOA code {_YEAR}",
        "lsoa_name": rf"LSOA name {_YEAR}",
        "lad_code": rf"Local Authority District code {_YEAR}",
        "lad_name": rf"Local Authority District name {_YEAR}",
        "imd_rank": r"Index of Multiple Deprivation \(IMD\) Rank(?: \(where 1 is most deprived\))?",
        "imd_decile": (
            r"Index of Multiple Deprivation \(IMD\) Decile"
            r"(?: \(where 1 is most deprived 10% of LSOAs\))?"
        ),
    }.items()
}
# How a missing column is named in a fault message.
COLUMN_DISPLAY = {
    "lsoa_code": "LSOA code (<year>)",
    "lsoa_name": "LSOA name (<year>)",
    "lad_code": "Local Authority District code (<year>)",
    "lad_name": "Local Authority District name (<year>)",
    "imd_rank": "Index of Multiple Deprivation (IMD) Rank",
    "imd_decile": "Index of Multiple Deprivation (IMD) Decile",
}
_CHECK_TEXT = {
    "not_nullable": "is blank",
    "field_uniqueness": "is duplicated",
    "in_range": "is outside 1-10",
    "greater_than_or_equal_to": "is below 1",
    "str_length": "is blank",
}
_PATTERN_TEXT = {
    "lsoa_code": "is not an English LSOA code (E01 and six digits)",
    "lad_code": "is not a local authority district code (E06-E09 and six digits)",
}

OUTPUT_DESCRIPTIONS = {
    "lsoa_code": "ONS code of the Lower layer Super Output Area (2011 or 2021 boundaries: see lsoa_vintage).",
    "lsoa_name": "LSOA name as published.",
    "lad_code": "Local authority district the LSOA lies in (districts of the release's year).",
    "lad_name": "Local authority district name.",
    "imd_rank": "National rank on the Index of Multiple Deprivation (1 = most deprived in England).",
    "imd_decile": "National IMD decile (1 = most deprived 10% of LSOAs in England).",
    "imd_quintile": "National IMD quintile (1 = most deprived 20%): deciles 1-2 are quintile 1.",
    "is_most_deprived_30pct": "True for national deciles 1-3, the most deprived 30% (docs/definitions.md).",
    "imd_vintage": "Release of the indices: IMD2019 (English IoD 2019) or IoD2025.",
    "lsoa_vintage": "LSOA boundaries the codes belong to: '2011' (IMD2019) or '2021' (IoD2025).",
    "source_file": "Reference file the row was read from.",
}


@dataclass
class ImdLoad:
    """The lookup, the files it came from, and the imd*.csv files of another vintage left aside."""

    table: pd.DataFrame
    files: list[SourceFile] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def resolve_vintage(name: str) -> ImdVintage:
    """The vintage called ``name`` (case ignored), or ValueError listing the supported ones."""
    by_key = {key.lower(): vintage for key, vintage in VINTAGES.items()}
    vintage = by_key.get(str(name).strip().lower())
    if vintage is None:
        raise ValueError(
            f"unknown IMD vintage {name!r} (COV_IMD_VINTAGE): use one of {', '.join(VINTAGES)}"
        )
    return vintage


@dataclass(frozen=True)
class ImdHeader:
    """Where a file keeps each column we need, and which vintage its header says it is."""

    vintage: ImdVintage
    positions: dict[str, int]
    names: dict[str, str]


def match_header(path: Path, names: list[str]) -> ImdHeader:
    """Match a file's header (``names``, spaces collapsed) to the columns we need and name its
    vintage, or raise FileFault."""
    positions: dict[str, int] = {}
    years: dict[str, str] = {}
    for column, pattern in COLUMN_PATTERNS.items():
        hits = [(i, pattern.fullmatch(name)) for i, name in enumerate(names)]
        hits = [(i, m) for i, m in hits if m is not None]
        if len(hits) > 1:
            found = ", ".join(repr(names[i]) for i, _ in hits)
            raise FileFault(
                path, f"more than one column could be {COLUMN_DISPLAY[column]}: {found}"
            )
        if hits:
            positions[column] = hits[0][0]
            years[column] = hits[0][1].groupdict().get("year") or ""
    missing = [COLUMN_DISPLAY[c] for c in COLUMN_PATTERNS if c not in positions]
    if missing:
        raise FileFault(
            path,
            f"missing required column(s): {', '.join(repr(m) for m in missing)} (not the "
            "official File 1 or File 7 layout of the English Indices of Deprivation)",
        )
    lsoa_year = years["lsoa_code"]
    vintage = next((v for v in VINTAGES.values() if v.lsoa_vintage == lsoa_year), None)
    if vintage is None:
        supported = ", ".join(f"{v.name} on {v.lsoa_vintage} LSOAs" for v in VINTAGES.values())
        raise FileFault(
            path, f"'{names[positions['lsoa_code']]}': no supported vintage ({supported})"
        )
    if years["lsoa_name"] != lsoa_year:
        raise FileFault(
            path,
            f"'{names[positions['lsoa_name']]}' does not match '{names[positions['lsoa_code']]}'",
        )
    for column in ("lad_code", "lad_name"):
        if years[column] not in vintage.lad_years:
            raise FileFault(
                path,
                f"'{names[positions[column]]}' with {lsoa_year} LSOAs: {vintage.name} files give "
                f"{' or '.join(vintage.lad_years)} districts (is this an earlier release?)",
            )
    return ImdHeader(vintage, positions, {c: names[i] for c, i in positions.items()})


def _lines_text(lines: np.ndarray, values: pd.Series | None = None) -> str:
    """'lines 2 ('x'), 4 ('y')': the lines, each with its value when ``values`` are given."""
    if values is None:
        shown = [str(line) for line in lines]
    else:
        shown = [f"{line} ({value!r})" for line, value in zip(lines, values, strict=True)]
    text = ", ".join(shown[:FAULT_LINES_SHOWN])
    more = len(shown) - FAULT_LINES_SHOWN
    label = "line" if len(shown) == 1 else "lines"
    return f"{label} {text}" + (f" and {more} more" if more > 0 else "")


def _record_faults(lines: pd.Series, faults: pd.Series) -> list[str]:
    """The records the reader could not read as delivered (a wrong number of fields, a NUL byte,
    a cleared row), one message per fault with its lines: the lookup is used whole, so each is a
    fault of the file, never a row dropped."""
    groups = list(lines.groupby(faults.to_numpy(), sort=False))
    messages = [f"{fault}: {_lines_text(at.to_numpy())}" for fault, at in groups]
    more = len(messages) - FAULT_LINES_SHOWN
    if more > 0:
        messages = [*messages[:FAULT_LINES_SHOWN], f"and {more} more record(s) not readable"]
    return messages


def _whole_numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """'11,101' -> 11101; returns the numbers (Int64) and a mask of text that is not one."""
    cleaned = text.str.replace(",", "", regex=False).str.replace(" ", "", regex=False)
    number = pd.to_numeric(cleaned, errors="coerce")
    whole = number.notna() & within_whole_numbers(number.to_numpy()) & (number % 1 == 0)
    invalid = (cleaned.ne("") & ~whole).astype(bool)
    return number.where(whole).astype("Int64"), invalid


class OtherVintage(Exception):
    """A file whose header is of another vintage than the one asked for: left aside, its
    records not parsed."""

    def __init__(self, vintage: ImdVintage):
        super().__init__(vintage.name)
        self.vintage = vintage


def read_imd_file(path: Path, vintage: ImdVintage) -> tuple[pd.DataFrame, SourceFile]:
    """One IMD file of ``vintage`` as the lookup's columns (see ``OUTPUT_DESCRIPTIONS``) with its
    lines, read by the one raw reader (:mod:`cov_pipeline.raw_reader`), or a FileFault naming the
    file and the lines at fault. Raises :class:`OtherVintage` when the header is of another
    vintage (the rest of the file is then not parsed)."""
    headers: list[ImdHeader] = []

    def columns(path: Path, names: list[str]) -> list[str]:
        names = [" ".join(name.split()) for name in names]
        header = match_header(path, names)
        if header.vintage != vintage:
            raise OtherVintage(header.vintage)
        headers.append(header)
        # every column by its name as delivered (the reader's faults say 'NUL byte in <name>'),
        # or, where a name is repeated (among columns the lookup does not use), with its position
        if len(set(names)) < len(names):
            return [f"{name} (column {i + 1})" for i, name in enumerate(names)]
        return names

    records = read_records(path, columns)
    header = headers[0]
    needed = list(header.positions)
    frame = records.frame
    raw = frame[[records.columns[header.positions[c]] for c in needed]]
    raw = raw.set_axis(needed, axis=1).apply(lambda column: column.str.strip())
    lines = frame["line_number"]
    unreadable = frame[RECORD_FAULT].notna()
    faults = _record_faults(lines[unreadable], frame.loc[unreadable, RECORD_FAULT])
    if faults:
        # the other checks look at the readable records only: a cleared row is not 'blank' too
        raw, lines = raw.loc[~unreadable], lines.loc[~unreadable]
    raw, lines = raw.reset_index(drop=True), lines.reset_index(drop=True)

    # Arrow text until the contract is checked: its patterns then run in RE2, where \d is 0-9
    # only (an LSOA code in other digits is not an ONS code)
    typed = raw[["lsoa_code", "lsoa_name", "lad_code", "lad_name"]].replace("", None)
    not_numbers = pd.DataFrame(False, index=raw.index, columns=raw.columns)
    for column in ("imd_rank", "imd_decile"):
        typed[column], not_numbers[column] = _whole_numbers(raw[column])
        bad = not_numbers[column]
        if bad.any():
            faults.append(
                f"{header.names[column]} is not a whole number: "
                + _lines_text(lines[bad].to_numpy(), raw.loc[bad, column])
            )
    faults.extend(_contract_faults(typed, raw, lines, header, not_numbers))
    if faults:
        raise FileFault(path, "; ".join(faults))

    decile = typed["imd_decile"].astype("int64")
    out = typed.astype({c: object for c in ("lsoa_code", "lsoa_name", "lad_code", "lad_name")})
    out = out.assign(
        imd_rank=typed["imd_rank"].astype("int64"),
        imd_decile=decile,
        imd_quintile=(decile + 1) // 2,
        is_most_deprived_30pct=decile.isin(MOST_DEPRIVED_DECILES),
        imd_vintage=vintage.name,
        lsoa_vintage=vintage.lsoa_vintage,
        source_file=path.name,
        line_number=lines.astype("int64"),
    )
    return out, records.info


def _contract_faults(
    typed: pd.DataFrame,
    raw: pd.DataFrame,
    lines: pd.Series,
    header: ImdHeader,
    reported: pd.DataFrame,
) -> list[str]:
    """The pandera contract's failures as one message per column and rule, with their lines."""
    import pandera.errors as pa_errors

    try:
        ImdLsoa.validate(typed, lazy=True)
    except pa_errors.SchemaErrors as err:
        cases = err.failure_cases
        cases = cases[cases["index"].notna() & cases["column"].isin(list(header.names))]
        # text that is not a number has been reported already: do not call it blank as well
        rows = cases["index"].astype("int64").to_numpy()
        columns = reported.columns.get_indexer(cases["column"])
        already = (cases["check"] == "not_nullable").to_numpy() & reported.to_numpy()[rows, columns]
        cases = cases.loc[~already]
        messages = []
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            rule = str(check).split("(")[0]
            text = _PATTERN_TEXT[column] if rule == "str_matches" else _CHECK_TEXT.get(rule, check)
            rows = group["index"].astype("int64").sort_values()
            messages.append(
                f"{header.names[column]} {text}: "
                + _lines_text(lines.loc[rows].to_numpy(), raw.loc[rows, column])
            )
        return messages
    return []


def load_imd(paths: Iterable[Path], vintage: str | ImdVintage) -> ImdLoad:
    """The lookup from every file of the chosen vintage among ``paths``; others are left aside.

    Raises FileFault when a file is faulty, when no file is of the chosen vintage, or when one LSOA
    is in two files.
    """
    chosen = vintage if isinstance(vintage, ImdVintage) else resolve_vintage(vintage)
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault(f"reference/{FILE_PATTERN}", "no IMD lookup file found")
    frames, files, skipped = [], [], {}
    for path in paths:
        try:
            frame, info = read_imd_file(path, chosen)
        except OtherVintage as other:
            skipped[path.name] = other.vintage.name
            continue
        except FileFault:
            raise
        except Exception as exc:  # a fault of parsing, said with the file's name
            raise parsing_fault(path, exc, PARSING_FAILED) from exc
        frames.append(frame)
        files.append(info)
    if not frames:
        found = ", ".join(f"{name} is {v}" for name, v in skipped.items())
        raise FileFault(
            f"reference/{FILE_PATTERN}",
            f"no file of the configured vintage {chosen.name} (COV_IMD_VINTAGE; header "
            f"'LSOA code ({chosen.lsoa_vintage})'): {found}",
        )
    table = pd.concat(frames, ignore_index=True)
    repeated = table["lsoa_code"].duplicated(keep=False)
    if repeated.any():
        rows = table.loc[repeated].sort_values(["lsoa_code", "source_file"], kind="stable")
        where = (
            (rows["source_file"] + " line " + rows["line_number"].astype(str))
            .groupby(rows["lsoa_code"])
            .agg(" and ".join)
        )
        shown = "; ".join(f"{code} in {place}" for code, place in where.head(5).items())
        more = len(where) - 5
        raise FileFault(
            rows["source_file"].iloc[-1],
            f"LSOA code(s) in more than one {chosen.name} file: {shown}"
            + (f" and {more} more" if more > 0 else ""),
        )
    table = table.sort_values("lsoa_code", kind="stable").reset_index(drop=True)
    return ImdLoad(table=table[list(OUTPUT_DESCRIPTIONS)], files=files, skipped=skipped)
