"""Every source through the same faults, with the same outcome (one reader for all).

Each source's loader reads a copy of the shipped sample extracts in which one file has been
damaged as deliveries are damaged: an unquoted comma adding a field (in the first record and in
the last), a NUL byte inside a field, a spreadsheet's cleared row, a copy cut short (NUL padding,
or cut in the middle of its last record), a re-export in another encoding, the extension in
capitals, a file with its header only. A file fault names the file; a row fault quarantines
that row (file, line, reason) and every other row is still staged or quarantined as before.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from cov_pipeline.quality import FileFault
from cov_pipeline.raw_reader import discover
from cov_pipeline.settings import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "raw"
AS_OF = dt.date(2026, 12, 1)


def _imd() -> pd.DataFrame:
    from cov_pipeline.imd import load_imd

    return load_imd(sorted((SAMPLE / "reference").glob("imd*.csv")), "IMD2019").table


def _files(folder: Path, pattern: str) -> list[Path]:
    """The files the source's asset reads: its pattern, through the one reader's discovery."""
    return discover(folder, pattern).files


def _maternity(raw: Path, table: str):
    from cov_pipeline import maternity

    folder = raw / "maternity"
    patterns = (
        maternity.BOOKINGS_PATTERN,
        maternity.BIRTHS_PATTERN,
        maternity.TERMINATIONS_PATTERN,
    )
    paths = [_files(folder, pattern) for pattern in patterns]
    load = maternity.load_maternity(*paths, _imd(), as_of=AS_OF)
    return getattr(load, table)


def _fingertips(raw: Path):
    from cov_pipeline.fingertips import load_fingertips

    return load_fingertips(_files(raw / "fingertips", "*.csv"))


def _msds(raw: Path):
    from cov_pipeline.msds import FILE_PATTERN, load_msds

    return load_msds(_files(raw / "maternity", FILE_PATTERN))


def _referrals(raw: Path):
    from cov_pipeline.referrals import FILE_PATTERN, load_referrals

    return load_referrals(_files(raw / "referrals", FILE_PATTERN), _imd(), today=AS_OF)


def _survey(raw: Path):
    from cov_pipeline.household_survey import WAVE_PATTERN, load_household_survey

    folder = raw / "household_survey"
    return load_household_survey(folder / "codebook.yaml", _files(folder, WAVE_PATTERN))


def _imd_lookup(raw: Path):
    from cov_pipeline.imd import FILE_PATTERN, load_imd

    return load_imd(_files(raw / "reference", FILE_PATTERN), "IMD2019")


def _neighbours(raw: Path):
    from cov_pipeline.indicators import load_neighbours

    return load_neighbours(_files(raw / "reference", "cipfa_neighbours*.csv"))


def _indicator_methods(raw: Path):
    from cov_pipeline.indicators import load_indicator_reference

    return load_indicator_reference(_files(raw / "reference", "fingertips_indicators*.csv"))


@dataclass(frozen=True)
class Source:
    folder: str
    file: str  # the file damaged
    load: Callable[[Path], object]  # returns a load with staging, quarantine, input_rows


SOURCES = {
    "fingertips": Source("fingertips", "infant_mortality_2024-export.csv", _fingertips),
    "bookings": Source("maternity", "bookings_2024.csv", lambda raw: _maternity(raw, "bookings")),
    "births": Source("maternity", "births_2024.csv", lambda raw: _maternity(raw, "births")),
    "terminations": Source(
        "maternity", "terminations_2023.csv", lambda raw: _maternity(raw, "terminations")
    ),
    "msds": Source("maternity", "msds-annual-2023-24.csv", _msds),
    "referrals": Source("referrals", "referrals_2026-11-01.csv", _referrals),
    "household_survey": Source("household_survey", "household_survey_2024.csv", _survey),
}
# Lookups used whole (every row is needed to rank neighbours or place an LSOA): a record that
# cannot be read as delivered refuses the file, naming the file and the line, and the previous
# table stays.
LOOKUPS = {
    "imd_lookup": Source("reference", "imd2019_lsoa.csv", _imd_lookup),
    "cipfa_neighbours": Source("reference", "cipfa_neighbours.csv", _neighbours),
    "indicator_methods": Source("reference", "fingertips_indicators.csv", _indicator_methods),
}
EVERY_SOURCE = {**SOURCES, **LOOKUPS}


def _lines(data: bytes) -> tuple[bytes, list[bytes], bytes]:
    """The header line, the record lines and the line ending, of a sample file (no quoted line
    breaks in the samples)."""
    ending = b"\r\n" if b"\r\n" in data else b"\n"
    header, *records = data.rstrip(b"\r\n").split(ending)
    return header, records, ending


def _join(header: bytes, records: list[bytes], ending: bytes) -> bytes:
    return ending.join([header, *records]) + ending


def _with_field(record: bytes) -> bytes:
    first, _, rest = record.partition(b",")
    return first + b",EXTRA," + rest


def _nul(record: bytes) -> bytes:
    comma = record.index(b",")
    return record[: comma - 1] + b"\0" + record[comma - 1 :]


def _records(damage) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        header, records, ending = _lines(data)
        return _join(header, damage(header, records), ending)

    return apply


# name -> (damage of the bytes, line of the faulty record (None: a file fault), expected text)
ROW_FAULTS = {
    "extra field in the first record": (
        _records(lambda h, r: [_with_field(r[0]), *r[1:]]),
        2,
        "fields, the header",
    ),
    "extra field in a later record": (
        _records(lambda h, r: [*r[:-2], _with_field(r[-2]), r[-1]]),
        "last but one",
        "fields, the header",
    ),
    "NUL byte inside a field": (_records(lambda h, r: [r[0], _nul(r[1]), *r[2:]]), 3, "NUL byte"),
    "cleared row": (
        _records(lambda h, r: [r[0], b"," * (len(next(csv.reader([h.decode()]))) - 1), *r[1:]]),
        3,
        "every field is empty",
    ),
    "cut in the middle of the last record": (
        lambda data: data.rstrip(b"\r\n")[: data.rstrip(b"\r\n").rindex(b",")],
        "last",
        "fields, the header",
    ),
}
FILE_FAULTS = {
    "NUL padding after the last record": (lambda d: d + b"\0" * 512, "NUL byte(s) after"),
    "re-exported as Windows-1252": (
        _records(lambda h, r: [r[0], r[1].replace(b",", b"\xe9,", 1), *r[2:]]),
        "not UTF-8",
    ),
    "header only": (_records(lambda h, r: []), "has a header but no"),
}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """Each source's load of the undamaged sample."""
    raw = tmp_path_factory.mktemp("raw") / "raw"
    shutil.copytree(SAMPLE, raw)
    return {name: source.load(raw) for name, source in EVERY_SOURCE.items()}


def _line(raw: Path, source: Source, line) -> int:
    records = len(_lines((raw / source.folder / source.file).read_bytes())[1])
    return {"last": records + 1, "last but one": records}.get(line, line)


def _damaged(tmp_path: Path, source: Source, damage, rename: str | None = None) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(SAMPLE, raw)
    path = raw / source.folder / source.file
    path.write_bytes(damage(path.read_bytes()))
    if rename:
        path.rename(path.with_name(rename))
    return raw


@pytest.mark.parametrize("fault", ROW_FAULTS, ids=list(ROW_FAULTS))
@pytest.mark.parametrize("name", SOURCES, ids=list(SOURCES))
def test_a_row_fault_quarantines_that_row_and_nothing_else(tmp_path, baseline, name, fault):
    source = SOURCES[name]
    damage, line, expected = ROW_FAULTS[fault]
    raw = _damaged(tmp_path, source, damage)
    line = _line(raw, source, line)
    load = source.load(raw)
    before = baseline[name]

    assert load.rows_accounted_for == load.input_rows
    faulty = load.quarantine[
        (load.quarantine["source_file"] == source.file) & (load.quarantine["line_number"] == line)
    ]
    assert len(faulty) == 1, f"{name}: no quarantined row at {source.file} line {line}"
    assert expected in faulty["reasons"].iloc[0], faulty["reasons"].iloc[0]
    # no other row is quarantined for it: every other quarantined row was quarantined before
    # (fewer where the damaged record was one of the sample's planted bad rows, or a version
    # another record conflicted with); an inserted line moves the file's later lines down one
    inserted = fault == "cleared row"
    assert load.input_rows == before.input_rows + inserted

    def shifted(file: str, number: int) -> tuple[str, int]:
        return file, number + (inserted and file == source.file and number >= line)

    earlier = {
        shifted(f, n)
        for f, n in zip(
            before.quarantine["source_file"], before.quarantine["line_number"], strict=True
        )
    }
    now = set(zip(load.quarantine["source_file"], load.quarantine["line_number"], strict=True))
    assert now - {(source.file, line)} <= earlier, sorted(now - earlier - {(source.file, line)})[:5]


@pytest.mark.parametrize("fault", ROW_FAULTS, ids=list(ROW_FAULTS))
@pytest.mark.parametrize("name", LOOKUPS, ids=list(LOOKUPS))
def test_a_row_fault_in_a_lookup_refuses_the_file_naming_the_line(tmp_path, name, fault):
    source = LOOKUPS[name]
    damage, line, expected = ROW_FAULTS[fault]
    raw = _damaged(tmp_path, source, damage)
    line = _line(raw, source, line)
    with pytest.raises(FileFault) as raised:
        source.load(raw)
    message = str(raised.value)
    assert message.startswith(f"{source.file}: "), message
    assert f"line {line}" in message and expected in message, message


@pytest.mark.parametrize("fault", FILE_FAULTS, ids=list(FILE_FAULTS))
@pytest.mark.parametrize("name", EVERY_SOURCE, ids=list(EVERY_SOURCE))
def test_a_file_fault_names_the_file(tmp_path, name, fault):
    source = EVERY_SOURCE[name]
    damage, expected = FILE_FAULTS[fault]
    raw = _damaged(tmp_path, source, damage)
    with pytest.raises(FileFault) as raised:
        source.load(raw)
    assert str(raised.value).startswith(f"{source.file}: "), str(raised.value)
    assert expected in str(raised.value)


@pytest.mark.parametrize("name", EVERY_SOURCE, ids=list(EVERY_SOURCE))
def test_an_extension_in_capitals_is_read(tmp_path, baseline, name):
    source = EVERY_SOURCE[name]
    stem, _, extension = source.file.rpartition(".")
    raw = _damaged(tmp_path, source, lambda d: d, rename=f"{stem}.{extension.upper()}")
    load = source.load(raw)
    table = "table" if name in LOOKUPS else "staging"
    assert len(getattr(load, table)) == len(getattr(baseline[name], table)) > 0
