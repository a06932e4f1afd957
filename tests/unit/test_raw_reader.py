"""The one raw-file reader's rules, each on a small file written out in the test."""

from __future__ import annotations

import os
import threading
import time

import pandas as pd
import pytest

from cov_pipeline.quality import FileFault
from cov_pipeline.raw_reader import (
    CLEARED_ROW,
    RECORD_FAULT,
    Header,
    discover,
    load_yaml,
    read_records,
    read_stable,
)

HEADER = Header(required=["id", "name", "count"])


def records(tmp_path, data: bytes, header=HEADER, **kwargs):
    path = tmp_path / "extract.csv"
    path.write_bytes(data)
    return read_records(path, header, settle_seconds=0, **kwargs)


def _fault(value):
    return None if pd.isna(value) else value


def rows(result):
    frame = result.frame
    return [
        (int(r.line_number), [r.id, r.name, r.count], _fault(getattr(r, RECORD_FAULT)))
        for r in frame.itertuples()
    ]


# Each case: the bytes after the header line, and per record (line, fields, fault or None).
# The same file read with and without quotes (the fast and the exact path) must agree.
CASES = {
    "clean": (b"1,a,3\n2,b,4\n", [(2, ["1", "a", "3"], None), (3, ["2", "b", "4"], None)]),
    "no final line break": (
        b"1,a,3\n2,b,4",
        [(2, ["1", "a", "3"], None), (3, ["2", "b", "4"], None)],
    ),
    "crlf": (b"1,a,3\r\n2,b,4\r\n", [(2, ["1", "a", "3"], None), (3, ["2", "b", "4"], None)]),
    "lone cr ends a line": (
        b"1,a,3\r2,b,4\n",
        [(2, ["1", "a", "3"], None), (3, ["2", "b", "4"], None)],
    ),
    "blank line skipped": (
        b"1,a,3\n\n2,b,4\n",
        [(2, ["1", "a", "3"], None), (4, ["2", "b", "4"], None)],
    ),
    "spaces-only line skipped": (
        b"1,a,3\n   \n2,b,4\n",
        [(2, ["1", "a", "3"], None), (4, ["2", "b", "4"], None)],
    ),
    "cleared row is a fault": (
        b"1,a,3\n,,\n2,b,4\n",
        [(2, ["1", "a", "3"], None), (3, ["", "", ""], CLEARED_ROW), (4, ["2", "b", "4"], None)],
    ),
    "cleared row with more commas than the header": (
        b"1,a,3\n,,,,\n",
        [(2, ["1", "a", "3"], None), (3, ["", "", ""], CLEARED_ROW)],
    ),
    "extra field in the first record": (
        b"1,a,100,3\n2,b,4\n",
        [
            (
                2,
                ["1", "a", "100"],
                "record has 4 fields, the header 3 (extra: '3'; a comma in a field that is not quoted?)",
            ),
            (3, ["2", "b", "4"], None),
        ],
    ),
    "extra field in a later record": (
        b"1,a,3\n2,b,4,5\n",
        [
            (2, ["1", "a", "3"], None),
            (
                3,
                ["2", "b", "4"],
                "record has 4 fields, the header 3 (extra: '5'; a comma in a field that is not quoted?)",
            ),
        ],
    ),
    "short record": (
        b"1,a\n2,b,4\n",
        [(2, ["1", "a", ""], "record has 2 fields, the header 3"), (3, ["2", "b", "4"], None)],
    ),
    "nul inside a field": (
        b"1,a\0b,3\n2,b,4\n",
        [(2, ["1", "a\0b", "3"], "NUL byte in name"), (3, ["2", "b", "4"], None)],
    ),
    "quoted line break counts as a line": (
        b'1,"a\nb",3\n2,b,4\n',
        [(2, ["1", "a\nb", "3"], None), (4, ["2", "b", "4"], None)],
    ),
    "quoted line break and a blank line": (
        b'1,"a\nb",3\n\n2,b,4\n',
        [(2, ["1", "a\nb", "3"], None), (5, ["2", "b", "4"], None)],
    ),
    "quoted comma": (b'1,"a,b",3\n', [(2, ["1", "a,b", "3"], None)]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
@pytest.mark.parametrize("bom", [False, True], ids=["utf8", "bom"])
def test_records_lines_and_faults(tmp_path, case, bom):
    body, expected = CASES[case]
    data = (b"\xef\xbb\xbf" if bom else b"") + b"id,name,count\n" + body
    assert rows(records(tmp_path, data)) == expected


def test_file_faults_name_the_file(tmp_path):
    cases = {
        b"": "file is empty",
        b"id,name,count\n": "has a header but no data rows",
        b"id,name,count\n1,caf\xe9,3\n": "not UTF-8: byte 0xe9 at offset 19 (line 2)",
        b"id,name,count\n1,a,3\n\0\0\0\0": "ends in 4 NUL byte(s) after its last record",
        b'id,name,count\n1,"a,3\n2,b,4\n': "a quoted field opened on line 2 is never closed",
        b"id,name\n1,a\n": "wrong header: missing required column(s) 'count'",
        b"id,name,count,x\n1,a,3,4\n": "wrong header: unexpected column(s) 'x'",
        b"id,name,count,id\n1,a,3,4\n": "wrong header: repeated column(s) 'id'",
        b"id,,count\n1,a,3\n": "header has blank column name(s) at position(s) [2]",
    }
    for data, message in cases.items():
        with pytest.raises(FileFault) as fault:
            records(tmp_path, data)
        assert str(fault.value).startswith("extract.csv: "), data
        assert message in str(fault.value), data


def test_header_aliases_and_folding(tmp_path):
    header = Header(required=["id", "name", "count"], aliases={"Person ID": "id"}, fold_case=True)
    result = records(tmp_path, b"person  id, NAME ,Count\n1,a,3\n", header)
    assert result.columns == ["id", "name", "count"]
    assert rows(result) == [(2, ["1", "a", "3"], None)]


def test_columns_in_any_order(tmp_path):
    result = records(tmp_path, b"count,id,name\n3,1,a\n")
    assert rows(result) == [(2, ["1", "a", "3"], None)]


def test_hash_and_counts(tmp_path):
    import hashlib

    data = b"id,name,count\n1,a,3\n"
    result = records(tmp_path, data)
    assert result.info.sha256 == hashlib.sha256(data).hexdigest()
    assert (result.info.size_bytes, result.info.rows) == (len(data), 1)


def test_discovery_takes_the_extension_in_any_case(tmp_path):
    for name in (
        "referrals_2025-06-01.CSV",
        "referrals_2025-05-01.csv",
        ".hidden.csv",
        "notes.txt",
    ):
        (tmp_path / name).write_text("x")
    found = discover(tmp_path, "referrals_*.csv")
    assert [p.name for p in found.files] == ["referrals_2025-05-01.csv", "referrals_2025-06-01.CSV"]
    assert [p.name for p in found.ignored] == ["notes.txt"]
    assert discover(tmp_path / "absent", "*.csv").files == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_folder_is_a_fault_not_an_empty_one(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0)
    try:
        with pytest.raises(FileFault, match="folder cannot be read"):
            discover(folder, "*.csv")
    finally:
        folder.chmod(0o755)


def test_a_folder_the_system_refuses_is_a_fault_even_for_root(tmp_path, monkeypatch):
    import cov_pipeline.raw_reader as reader

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(reader.os, "scandir", refuse)
    with pytest.raises(FileFault) as fault:
        discover(tmp_path, "*.csv")
    assert str(fault.value) == f"{tmp_path.name}: folder cannot be read (Permission denied)"


def test_a_file_being_rewritten_is_read_only_once_it_settles(tmp_path):
    """A transfer tool truncates the file and writes it again in chunks: the reader waits for
    it to rest for the settle time, and so reads the whole file, never the part written."""
    path = tmp_path / "extract.csv"
    whole = b"id,name,count\n" + b"".join(b"%d,n,1\n" % i for i in range(4535))
    path.write_bytes(whole)
    os.utime(path, (time.time() - 60, time.time() - 60))
    started = threading.Event()

    def rewrite():
        with path.open("wb") as out:
            started.set()
            for start in range(0, len(whole), 4096):
                out.write(whole[start : start + 4096])
                out.flush()
                time.sleep(0.01)

    writer = threading.Thread(target=rewrite)
    writer.start()
    started.wait()
    try:
        result = read_records(path, HEADER, settle_seconds=0.5)
    finally:
        writer.join()
    assert len(result.frame) == 4535


def test_a_file_that_never_settles_is_left_for_the_next_run(tmp_path, monkeypatch):
    import cov_pipeline.raw_reader as reader

    monkeypatch.setattr(reader, "STABLE_WAIT_SECONDS", 0.5)
    path = tmp_path / "extract.csv"
    path.write_bytes(b"id,name,count\n1,a,3\n")
    stop = threading.Event()

    def touch():
        while not stop.is_set():
            path.touch()
            time.sleep(0.05)

    toucher = threading.Thread(target=touch)
    toucher.start()
    try:
        with pytest.raises(FileFault, match="is still being written.*left for the next run"):
            read_stable(path, settle_seconds=0.3)
    finally:
        stop.set()
        toucher.join()


def test_yaml_refuses_a_key_given_twice(tmp_path):
    path = tmp_path / "codebook.yaml"
    path.write_text("sex: {M: Male, F: Female, M: Female}\n")
    with pytest.raises(FileFault, match=r"(?s)codebook.yaml: not valid YAML.*found key 'M' twice"):
        load_yaml(read_stable(path, settle_seconds=0))
    path.write_text("sex: {M: Male, F: Female}\n")
    assert load_yaml(read_stable(path, settle_seconds=0)) == {"sex": {"M": "Male", "F": "Female"}}
