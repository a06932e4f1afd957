"""Quarantine rows keep each rejected record whole, whatever characters it holds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa
import pytest

from cov_pipeline.quality import (
    FileFault,
    failure_cases,
    marked_cells,
    quarantine_frame,
    reasons_by_row,
)
from cov_pipeline.raw_reader import Header, check_text, read_records, read_stable

BOM = b"\xef\xbb\xbf"


def test_a_record_with_unicode_line_separators_stays_one_record():
    # U+2028, U+0085 and a line feed inside values: str.splitlines() would split at each
    raw = pd.DataFrame(
        {
            "name": ["a\u2028b", "plain", "c\u0085d\ne"],
            "source_file": ["f.csv"] * 3,
            "line_number": [2, 3, 4],
        }
    )
    reasons = pd.Series(["bad", "", "worse"])
    out = quarantine_frame("test", raw, reasons, ["name"])
    assert out["line_number"].tolist() == [2, 4]
    assert [json.loads(r)["name"] for r in out["record"]] == ["a\u2028b", "c\u0085d\ne"]


@pytest.mark.parametrize(
    ("data", "offset", "line"),
    [
        (b"a,b\n1,2\n3,\xe9\n", 10, 3),  # 4 + 4 + 2 bytes before it
        (BOM + b"a,b\n1,2\n3,\xe9\n", 13, 3),  # and the 3 bytes of the BOM
        (BOM + b"ab\n\xe9", 6, 2),  # 3 bytes early, the offset was in line 1
        (b"a,b\r1,\xe9", 6, 2),  # a lone CR ends a line, as the CSV readers count lines
    ],
    ids=["no BOM", "BOM", "BOM, line start", "lone CR"],
)
def test_a_byte_that_is_not_utf8_is_reported_at_its_offset_in_the_file(
    tmp_path, data, offset, line
):
    path = tmp_path / "extract.csv"
    path.write_bytes(data)
    assert data[offset] == 0xE9
    with pytest.raises(FileFault) as raised:
        check_text(read_stable(path, settle_seconds=0))
    assert str(raised.value) == (
        f"extract.csv: not UTF-8: byte 0xe9 at offset {offset} (line {line}) cannot be decoded; "
        "re-export the file as UTF-8"
    )


_SCHEMA = pa.DataFrameSchema(
    {"age": pa.Column("Int64", pa.Check.ge(0), nullable=True), "code": pa.Column(str)}
)


def test_failure_cases_name_the_row_labels_of_the_failing_cells():
    frame = pd.DataFrame(
        {"age": pd.array([-1, 5, None], dtype="Int64"), "code": ["a", None, "c"]},
        index=[10, 11, 12],
    )
    cases = failure_cases(_SCHEMA, frame)
    assert list(zip(cases["column"], cases["check"], cases["index"], strict=True)) == [
        ("age", "greater_than_or_equal_to(0)", 10),
        ("code", "not_nullable", 11),
    ]


def test_failure_cases_are_none_for_a_valid_frame_and_raise_for_a_broken_contract():
    valid = pd.DataFrame({"age": pd.array([1], dtype="Int64"), "code": ["a"]})
    assert failure_cases(_SCHEMA, valid).empty
    wrong_dtype = pd.DataFrame({"age": [1.5], "code": ["a"]})  # our parsing's fault: no row's
    with pytest.raises(pa_errors.SchemaErrors):
        failure_cases(_SCHEMA, wrong_dtype)


def test_marked_cells_reads_each_row_label_and_column_and_an_unknown_column_is_unmarked():
    marks = pd.DataFrame({"a": [True, False], "b": [False, True]}, index=[7, 8])
    columns = pd.Series(["b", "a", "zz", "a"])
    assert marked_cells(marks, np.array([8, 7, 7, 8]), columns).tolist() == [
        True,
        True,
        False,
        False,
    ]


def test_reasons_by_row_joins_a_rows_reasons_in_their_order():
    reasons = pd.Series(["z first", "only", "then a"], index=[2, 0, 2])
    joined = reasons_by_row(reasons, pd.RangeIndex(3))
    assert joined[2] == "z first | then a" and joined[0] == "only" and pd.isna(joined[1])


def _lines(path, names=("id", "note")) -> list[int]:
    records = read_records(path, Header(required=list(names)), settle_seconds=0)
    return records.frame["line_number"].tolist()


def test_line_numbers_count_line_breaks_in_quoted_fields_and_the_header(tmp_path):
    path = tmp_path / "x.csv"
    # lines: 1 header, 2 record a, 3-4 record b (a quoted line break), 5 record c
    path.write_text('id,note\na,plain\nb,"two\nlines"\nc,last\n', encoding="utf-8")
    assert _lines(path) == [2, 3, 5]
    # a header name with a line break in it moves every record down one line
    path.write_text('id,"the\nnote"\na,plain\nb,x', encoding="utf-8")
    assert _lines(path, ("id", "the\nnote")) == [3, 4]


def test_line_breaks_count_lf_crlf_and_a_lone_cr_once_each():
    from cov_pipeline.quality import line_breaks

    # "a\r\n" one, "b\n" one, "c\r" one, "d" none: 3, as text and as bytes
    assert line_breaks("a\r\nb\nc\rd") == 3 and line_breaks(b"a\r\nb\nc\rd") == 3
    assert line_breaks("\r\r\n\n") == 3  # CR, CRLF, LF


def test_line_numbers_count_a_lone_cr_as_a_line_break(tmp_path):
    path = tmp_path / "x.csv"
    # lines: 1 header, 2-3 record a (a lone CR in a quoted field), 4 record b
    path.write_bytes(b'id,note\na,"one\rtwo"\nb,x\n')
    records = read_records(path, Header(required=["id", "note"]), settle_seconds=0)
    assert records.frame["note"].tolist() == ["one\rtwo", "x"]
    assert _lines(path) == [2, 4]
    # an old Mac file, every line ended by a CR, and a CRLF inside a quoted field (lines 3-4)
    path.write_bytes(b'id,note\ra,x\rb,"one\r\ntwo"\rc,y\r')
    records = read_records(path, Header(required=["id", "note"]), settle_seconds=0)
    assert records.frame["id"].tolist() == ["a", "b", "c"]
    assert _lines(path) == [2, 3, 5]
