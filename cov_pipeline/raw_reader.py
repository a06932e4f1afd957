"""The one reader of raw files: every source, reference file and codebook is read here.

A source declares what differs (its file pattern, its header and the aliases each extract
version uses, its contract and parsers); this module does the rest, the same way for all:

- **discovery**: a source's files match its pattern, the extension in any case
  (``referrals_2025-06-01.CSV`` is a referrals extract); hidden files are not extracts; a file
  in the folder that matches no pattern is listed as ignored (the assets say so); a folder that
  cannot be read is a file fault, never "no files found";
- **one read of the bytes**, hashed, under a stability guard: a file modified within the settle
  time (``COV_RAW_SETTLE_SECONDS``) is waited for, and a file whose size or modification time
  changes while it is read is read again, so that a copy in progress is never read half-way; a
  file that does not settle is a file fault ("left for the next run") and nothing is written;
- **encoding**: UTF-8, with or without a byte order mark; anything else is a file fault naming
  the byte, its offset and its line. NUL bytes after the last record (a copy cut short) are a
  file fault; a NUL inside a record is a fault of that row;
- **lines**: LF, CRLF and a lone CR each end a line; line numbers are physical (a quoted field's
  line breaks counted; the header is line 1). A blank line is not a record and is skipped; a
  cleared row (every field empty, ``,,,`` as a spreadsheet leaves it) is a row fault;
- **fields**: a record with more or fewer fields than the header is a row fault wherever it is,
  first record or last, in every source (never a shifted file, never a file fault); a quote that
  is never closed is a file fault (it would swallow the records after it);
- **header**: matched with the source's declared names and aliases (spaces and case folded
  where the source allows), missing, unexpected and repeated columns each a file fault.

File faults raise :class:`FileFault`, whose message always starts with the file's name. Row
faults are returned per row (``record_fault``) for the source to quarantine with its own reasons.
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import io
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from cov_pipeline.quality import FileFault, SourceFile, line_breaks, sha256_of

ARROW_STRING = pd.StringDtype("pyarrow")
RECORD_FAULT = "record_fault"
SETTLE_ENV = "COV_RAW_SETTLE_SECONDS"
DEFAULT_SETTLE_SECONDS = 5
# A file still changing this long after the settle time is left for the next run.
STABLE_WAIT_SECONDS = 15.0


def settle_seconds_from_env() -> float:
    text = os.environ.get(SETTLE_ENV, "").strip()
    try:
        return max(0.0, float(text)) if text else float(DEFAULT_SETTLE_SECONDS)
    except ValueError:
        raise ValueError(f"{SETTLE_ENV} must be a number of seconds, not {text!r}") from None


PARSING_FAILED = "could not be parsed: nothing from this source was written"


def parsing_fault(path: Path | str, error: Exception, consequence: str = PARSING_FAILED):
    """The file fault for an error no rule foresaw while parsing ``path``: the file named, the
    error in its own words."""
    return FileFault(path, f"{consequence} ({type(error).__name__}: {error})")


@contextmanager
def faults_name_the_file(path: Path | str, consequence: str = PARSING_FAILED) -> Iterator[None]:
    """Any error raised within, but a FileFault (or memory running out), ends as a FileFault
    naming the file: never a bare pandas message such as 'Unable to parse string "1st"'."""
    try:
        yield
    except (FileFault, MemoryError):
        raise
    except Exception as error:
        raise parsing_fault(path, error, consequence) from error


# -- discovery ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Discovery:
    """The files of a folder matching a source's patterns, and the others (ignored, reported)."""

    files: list[Path]
    ignored: list[Path] = field(default_factory=list)


def matches(name: str, pattern: str) -> bool:
    """``name`` matches the glob ``pattern``, the extension compared in any case."""
    stem, dot, extension = name.rpartition(".")
    folded = f"{stem}.{extension.lower()}" if dot else name
    return fnmatch.fnmatchcase(folded, pattern) or fnmatch.fnmatchcase(name, pattern)


def folder_entries(folder: Path) -> list[Path]:
    """The regular, visible files of ``folder`` (none if it does not exist), sorted by name; a
    folder that exists but cannot be listed is a file fault, not an empty folder."""
    folder = Path(folder)
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise FileFault(folder, f"folder cannot be read ({exc.strerror or exc})") from None
    files = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_file():
                files.append(Path(entry.path))
        except OSError:
            files.append(Path(entry.path))  # reading it will say what is wrong
    return sorted(files, key=lambda p: p.name)


def discover(folder: Path, patterns: str | Sequence[str]) -> Discovery:
    """The files of ``folder`` matching any of ``patterns`` (sorted by name), and the rest."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    found, ignored = [], []
    for path in folder_entries(folder):
        (found if any(matches(path.name, p) for p in patterns) else ignored).append(path)
    return Discovery(found, ignored)


# -- one stable read of the bytes ------------------------------------------------------------
@dataclass(frozen=True)
class RawBytes:
    """A file's bytes as read once; the hash is taken when first asked for (the reader asks in
    a thread while it parses: hashlib releases the GIL)."""

    path: Path
    data: bytes

    @property
    def name(self) -> str:
        return self.path.name

    @cached_property
    def sha256(self) -> str:
        return sha256_of(self.data)


def _stat(path: Path) -> os.stat_result:
    try:
        return path.stat()
    except FileNotFoundError:
        raise FileFault(path, "disappeared before it could be read") from None
    except OSError as exc:
        raise FileFault(path, f"cannot be read ({exc.strerror or exc})") from None


def read_stable(path: Path, settle_seconds: float | None = None) -> RawBytes:
    """The bytes of ``path``, read once the file has rested ``settle_seconds`` (the environment's
    ``COV_RAW_SETTLE_SECONDS`` when None) and unchanged while it was read (size and modification
    time the same before and after, and the size that of the bytes read)."""
    path = Path(path)
    settle = settle_seconds_from_env() if settle_seconds is None else max(0.0, settle_seconds)
    deadline = time.monotonic() + settle + STABLE_WAIT_SECONDS
    while True:
        before = _stat(path)
        age = time.time() - before.st_mtime
        if 0 <= age < settle:
            if time.monotonic() + (settle - age) > deadline:
                break
            time.sleep(settle - age + 0.01)
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FileFault(path, f"cannot be read ({exc.strerror or exc})") from None
        after = _stat(path)
        same = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        if same and len(data) == after.st_size:
            return RawBytes(path, data)
        if time.monotonic() > deadline:
            break
        time.sleep(min(0.25, max(settle, 0.05)))
    raise FileFault(
        path,
        "is still being written (it changed while being read, or within the settle time of "
        f"{settle:g} s): left for the next run; nothing from this source was replaced",
    )


def _trailing_nuls(data: bytes) -> int:
    """The NUL bytes among the NULs, line ends and blanks that end ``data``: the tail is looked
    at, not a copy of the whole file (unless the padding is longer than the tail)."""
    for size in (1 << 16, len(data)):
        tail = data[-size:]
        kept = tail.rstrip(b"\0\r\n\t ")
        if kept or size >= len(data):
            return tail[len(kept) :].count(b"\0")
    return 0


def check_bytes(raw: RawBytes) -> None:
    """The file faults seen on the bytes alone: an empty file, NUL padding after the end."""
    data = raw.data
    if not data or data.isspace():
        raise FileFault(raw.path, "file is empty")
    nuls = _trailing_nuls(data)
    if nuls:
        raise FileFault(
            raw.path,
            f"ends in {nuls} NUL byte(s) after its last record: the copy was cut short; send "
            "the file again",
        )


def check_text(raw: RawBytes) -> str:
    """The file's text (UTF-8, a BOM allowed), or the file fault that says what is wrong."""
    check_bytes(raw)
    data = raw.data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(data) - len(exc.object)  # positions after a BOM
        line = line_breaks(data[:offset]) + 1
        raise FileFault(
            raw.path,
            f"not UTF-8: byte 0x{data[offset]:02x} at offset {offset} (line {line}) cannot be "
            "decoded; re-export the file as UTF-8",
        ) from None


# -- YAML ------------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader refusing a key given twice in one mapping (the plain loader keeps the
    last value without a word: ``{M: Male, F: Female, M: Female}`` would code men as women)."""


def _mapping_without_repeats(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep=False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue  # the constructor reports an unhashable key in its words
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found key {key!r} twice (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_repeats
)


def load_yaml(raw: RawBytes):
    """The YAML document of a raw file (UTF-8), refusing repeated keys, as a file fault."""
    text = check_text(raw)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise FileFault(raw.path, f"not valid YAML: {exc}") from None


# -- headers ---------------------------------------------------------------------------------
def fold(name: str) -> str:
    """A column name compared as people write it: spaces collapsed and trimmed, any case."""
    return " ".join(str(name).split()).casefold()


@dataclass(frozen=True)
class Header:
    """The columns an extract must hold (``required``), may hold (``optional``), and the other
    names earlier extract versions gave them (``aliases``: delivered name to column). Names are
    compared trimmed and, with ``fold_case``, in any case with spaces collapsed. Columns are
    matched by name, in any order."""

    required: Sequence[str]
    optional: Sequence[str] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    fold_case: bool = False

    @property
    def columns(self) -> list[str]:
        return [*self.required, *self.optional]

    def _key(self, name: str) -> str:
        return fold(name) if self.fold_case else str(name).strip()

    def resolve(self, path: Path, names: Sequence[str]) -> list[str]:
        """The column each delivered name stands for, or the file fault saying what is wrong."""
        known = {self._key(c): c for c in self.columns}
        known.update({self._key(a): c for a, c in self.aliases.items()})
        resolved = [known.get(self._key(n)) for n in names]
        faults = []
        missing = [c for c in self.required if c not in resolved]
        if missing:
            faults.append("missing required column(s) " + ", ".join(repr(c) for c in missing))
        unexpected = [n for n, c in zip(names, resolved, strict=True) if c is None]
        if unexpected:
            faults.append("unexpected column(s) " + ", ".join(repr(str(n)) for n in unexpected))
        repeated = sorted({c for c in resolved if c is not None and resolved.count(c) > 1})
        if repeated:
            faults.append(
                "repeated column(s) " + ", ".join(map(self._as_delivered(names), repeated))
            )
        if faults:
            raise FileFault(path, "wrong header: " + "; ".join(faults))
        return [c for c in resolved if c is not None]

    def _as_delivered(self, names: Sequence[str]) -> Callable[[str], str]:
        def words(column: str) -> str:
            keys = self._keys_of(column)
            return repeated_column(column, [str(n).strip() for n in names if self._key(n) in keys])

        return words

    def _keys_of(self, column: str) -> set[str]:
        return {self._key(column)} | {self._key(a) for a, c in self.aliases.items() if c == column}


def repeated_column(column: str, given_as: Sequence[str]) -> str:
    """A column a header repeats, in words: its name, and the names it was given where they
    differ (an older extract version's name beside the current one)."""
    if len(set(given_as)) < 2:
        return repr(column)
    return f"{column!r} (given as {' and '.join(map(repr, given_as))})"


HeaderRule = Header | Callable[[Path, list[str]], list[str]]


# -- records ---------------------------------------------------------------------------------
@dataclass
class Records:
    """One file's records: ``frame`` holds a text column per header column (named as the source
    declares them), ``line_number`` (physical line where the record starts), ``source_file`` and
    ``record_fault`` (None, or why the record cannot be read as delivered); ``delivered`` the
    header's names as in the file, in order, matched to ``frame``'s columns."""

    frame: pd.DataFrame
    info: SourceFile
    columns: list[str]
    delivered: list[str]

    def record_faults(self) -> pd.Series:
        return self.frame[RECORD_FAULT]


def read_records(
    path: Path | RawBytes,
    header: HeaderRule,
    *,
    what: str = "data rows",
    settle_seconds: float | None = None,
    text: str = "arrow",
    allow_empty: bool = False,
) -> Records:
    """Read one CSV file as the module docstring says. ``header`` resolves the delivered names
    (a :class:`Header` or a function of the path and names returning the columns, raising
    FileFault). ``text`` is ``"arrow"`` (``string[pyarrow]`` columns) or ``"object"`` (Python
    strings). A file without records is a file fault ("has a header but no {what}") unless
    ``allow_empty``."""
    raw = path if isinstance(path, RawBytes) else read_stable(Path(path), settle_seconds)
    check_bytes(raw)
    delivered, header_lines = _header(raw)
    resolve = header.resolve if isinstance(header, Header) else header
    columns = list(resolve(raw.path, delivered))
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(lambda: raw.sha256)  # hashed while parsed
        # Arrow checks every field is UTF-8 as it reads: the whole file is decoded to Python
        # text only for the exact reader (which then says where a byte is not UTF-8)
        frame = _read_fast(raw.data, columns, header_lines)
        if frame is None:
            frame = _read_exact(raw.path, check_text(raw), columns, header_lines)
        sha256 = digest.result()
    if frame.empty and not allow_empty:
        raise FileFault(raw.path, f"has a header but no {what}")
    frame = _with_cleared_rows(frame, columns)
    if text == "object":
        for column in columns:
            frame[column] = frame[column].astype(object)
    frame["source_file"] = raw.name
    info = SourceFile(raw.name, sha256, len(raw.data), len(frame))
    return Records(frame, info, columns, list(delivered))


HEAD_BYTES = 1 << 16  # where the header is looked for first (a header is a line or two)


def _header(raw: RawBytes) -> tuple[list[str], int]:
    """The header's names and how many physical lines it takes, read from the file's first
    lines (decoded alone; the whole file only where the header runs past them)."""
    data = raw.data
    end = data.rfind(b"\n", 0, HEAD_BYTES) if len(data) > HEAD_BYTES else len(data)
    try:
        head = data[: end + 1 if end < len(data) else end].decode("utf-8-sig") if end >= 0 else None
    except UnicodeDecodeError:
        head = None
    if head is None:
        head = check_text(raw)  # a fault naming the byte, or the header's lines are long
    try:
        return _header_names(raw, head)
    except csv.Error:
        if len(head) < len(data) - 3:  # the header may go on past the first lines
            try:
                return _header_names(raw, check_text(raw))
            except csv.Error as again:
                exc = again
        raise FileFault(raw.path, f"header (line 1) is not readable CSV: {exc}") from None


def _header_names(raw: RawBytes, text: str) -> tuple[list[str], int]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    names = next(reader, [])
    if not names or all(not n.strip() for n in names):
        raise FileFault(raw.path, "first line is not a header (no column names)")
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank:
        raise FileFault(raw.path, f"header has blank column name(s) at position(s) {blank}")
    return names, reader.line_num


def _read_fast(data: bytes, columns: list[str], header_lines: int) -> pd.DataFrame | None:
    """Arrow's multithreaded reader, for files it reads exactly as the exact reader would: no
    NUL, no lone CR, every record with the header's fields, no blank line. None for any other
    file (the exact reader then says what is wrong)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if header_lines != 1:
        return None  # a header name with a line break: rare, and numbered by the exact reader
    quoted = b'"' in data
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(
            pcsv.read_csv,
            pa.py_buffer(memoryview(data)[bom:]),  # no copy of the file
            read_options=pcsv.ReadOptions(
                use_threads=True, column_names=columns, skip_rows=header_lines
            ),
            parse_options=pcsv.ParseOptions(
                quote_char='"' if quoted else False, newlines_in_values=quoted
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.large_string() for name in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=True,
            ),
        )
        # While Arrow reads (both without the GIL): a NUL byte sends the file to the exact
        # reader (its record is a row fault), and the lines are counted once. A blank line needs
        # no search: Arrow skips it, so the lines then outnumber the records and their quoted
        # line breaks (checked below).
        exact = b"\0" in data
        carriage_returns = data.count(b"\r")
        crlf = data.count(b"\r\n") if carriage_returns else 0
        lines = data.count(b"\n") + carriage_returns - crlf
        lines += 0 if data.endswith((b"\n", b"\r")) else 1
        try:
            table = reading.result()
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None  # a record with the wrong number of fields, a quoting fault, not UTF-8
    if exact:
        return None
    if carriage_returns != crlf:
        return None  # a lone CR ends a line: the exact reader numbers the lines
    frame = table.to_pandas(types_mapper={pa.large_string(): ARROW_STRING}.get)
    breaks = np.zeros(len(frame), dtype=np.int64)
    if quoted and lines != header_lines + len(frame):
        for column in columns:
            breaks += frame[column].str.count("\r\n|\n").to_numpy(dtype=np.int64)
    if lines != header_lines + len(frame) + int(breaks.sum()):
        return None  # a blank line Arrow skipped: the exact reader numbers the lines
    starts = header_lines + 1 + np.cumsum(1 + breaks) - (1 + breaks)
    frame["line_number"] = starts.astype(np.int64)
    frame[RECORD_FAULT] = _no_faults(len(frame), frame.index)
    return frame


def _no_faults(length: int, index: pd.Index) -> pd.Series:
    """A fault column with no fault, as Arrow text: pandas' concat tests every value of a column
    of Python objects that may all be None (seconds for a million rows), an Arrow one not."""
    import pyarrow as pa

    return pd.Series(pd.arrays.ArrowStringArray(pa.nulls(length, pa.large_string())), index=index)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _read_exact(path: Path, text: str, columns: list[str], header_lines: int) -> pd.DataFrame:
    """Python's CSV reader, record by record: for files with NUL bytes, lone CRs, blank lines or
    records of the wrong length. Every record is kept; faults are worded per record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    lines: list[str] | None = None
    n = len(columns)
    rows: list[list[str]] = []
    starts: list[int] = []
    faults: list[str | None] = []
    next(reader)  # the header, read and checked already
    previous = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            start = previous + 1
            if "unexpected end of data" in str(exc):
                raise FileFault(
                    path,
                    f"a quoted field opened on line {start} is never closed (the file may be "
                    "cut short, or a quote is missing)",
                ) from None
            if lines is None:
                lines = _LINE_BREAK.split(text)
            delivered = "\n".join(lines[start - 1 : reader.line_num])
            rows.append([delivered] + [""] * (n - 1))
            starts.append(start)
            faults.append(f"line is not readable CSV ({exc})")
            previous = reader.line_num
            continue
        start, previous = previous + 1, reader.line_num
        if not row or (len(row) == 1 and not row[0].strip() and n > 1):
            continue  # a blank line is not a record
        fault = None
        if all(not value.strip() for value in row):
            fault = CLEARED_ROW  # whatever its number of commas: a spreadsheet's cleared row
        elif len(row) > n:
            extra = ", ".join(repr(v) for v in row[n:])
            fault = (
                f"record has {len(row)} fields, the header {n} (extra: {extra}; a comma in a "
                "field that is not quoted?)"
            )
        elif len(row) < n:
            fault = f"record has {len(row)} fields, the header {n}"
        if any("\0" in value for value in row):
            names = [*columns, *(["an extra field"] * max(0, len(row) - n))]
            where = [c for c, v in zip(names, row, strict=False) if "\0" in v]
            nul = NUL_FAULT + ", ".join(where)
            fault = f"{fault}; {nul}" if fault else nul
        row = (row + [""] * n)[:n]
        rows.append(row)
        starts.append(start)
        faults.append(fault)
    frame = pd.DataFrame(rows, columns=columns, dtype=ARROW_STRING)
    if not rows:
        frame = pd.DataFrame({c: pd.Series([], dtype=ARROW_STRING) for c in columns})
    frame["line_number"] = np.asarray(starts, dtype=np.int64)
    frame[RECORD_FAULT] = pd.Series(pd.array(faults, dtype=ARROW_STRING), index=frame.index)
    return frame


CLEARED_ROW = "every field is empty (a cleared row)"
NUL_FAULT = "NUL byte in "


def with_record_faults(reasons: pd.Series, faults: pd.Series) -> pd.Series:
    """A source's reasons per row ('' where valid) with the reader's record faults: a record
    whose fields cannot be taken as delivered (wrong number of fields, an unreadable line, a
    cleared row) has that fault as its only reason (the source's reasons about its fields would
    be about shifted or absent values); a NUL byte is added before the source's reasons."""
    faults = pd.Series(faults, index=reasons.index)
    present = faults.notna().to_numpy()
    if not present.any():
        return reasons
    reasons = reasons.copy()
    rows = reasons.index[present]
    fault = faults[rows].astype(str)
    own = reasons[rows].astype(str)
    nul_only = fault.str.startswith(NUL_FAULT)
    reasons[rows] = fault.where(~nul_only | own.eq(""), fault + " | " + own)
    return reasons


def _with_cleared_rows(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Marks the records whose every field is empty or spaces (a spreadsheet's cleared row)."""
    if frame.empty or not columns:
        return frame
    first = frame[columns[0]]
    candidates = np.flatnonzero((first.str.strip() == "").to_numpy(dtype=bool, na_value=True))
    if len(candidates) == 0:
        return frame
    rest = frame.iloc[candidates][columns]
    empty = rest.apply(lambda c: c.str.strip() == "").all(axis=1).to_numpy(dtype=bool)
    cleared = candidates[empty]
    if len(cleared):
        faults = frame[RECORD_FAULT].copy()
        existing = faults.iloc[cleared]
        faults.iloc[cleared] = [CLEARED_ROW if pd.isna(f) else f for f in existing]
        frame[RECORD_FAULT] = faults
    return frame
