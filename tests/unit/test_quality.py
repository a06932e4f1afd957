"""Quarantine rows keep each rejected record whole, whatever characters it holds."""

from __future__ import annotations

import json

import pandas as pd

from cov_pipeline.quality import quarantine_frame


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
