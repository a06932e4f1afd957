"""Quarantine rows keep each rejected record whole, whatever characters it holds."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cov_pipeline.quality import FileFault, quarantine_frame, read_text_strict

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
        read_text_strict(path)
    assert str(raised.value) == (
        f"extract.csv: not UTF-8: byte 0xe9 at offset {offset} (line {line}) cannot be decoded; "
        "re-export the file as UTF-8"
    )
