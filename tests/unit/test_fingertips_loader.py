"""The Fingertips loader: each quirk of the real export and each bad input, in its own small case."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.fingertips import load_fingertips, parse_time_periods, read_fingertips_file
from cov_pipeline.quality import FileFault

HEADER = [
    "Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code", "Area Name",
    "Area Type", "Sex", "Age", "Category Type", "Category", "Time period", "Value",
    "Lower CI 95.0 limit", "Upper CI 95.0 limit", "Lower CI 99.8 limit", "Upper CI 99.8 limit",
    "Count", "Denominator", "Value note", "Recent Trend",
    "Compared to England value or percentiles", "Compared to Region value or percentiles",
    "Time period Sortable", "New data", "Compared to goal",
]  # fmt: skip


def row(**overrides) -> dict[str, str]:
    base = {
        "Indicator ID": "92196",
        "Indicator Name": "Infant mortality rate",
        "Parent Code": "E12000005",
        "Parent Name": "West Midlands region",
        "Area Code": "E08000026",
        "Area Name": "Coventry",
        "Area Type": "Counties & UAs (from Apr 2023)",
        "Sex": "Persons",
        "Age": "<1 yr",
        "Category Type": "",
        "Category": "",
        "Time period": "2020 - 22",
        "Value": "5.9",
        "Lower CI 95.0 limit": "4.6",
        "Upper CI 95.0 limit": "7.4",
        "Lower CI 99.8 limit": "4.1",
        "Upper CI 99.8 limit": "8.2",
        "Count": "81",
        "Denominator": "13729",
        "Value note": "",
        "Recent Trend": "Cannot be calculated",
        "Compared to England value or percentiles": "Worse",
        "Compared to Region value or percentiles": "Similar",
        "Time period Sortable": "20200000",
        "New data": "",
        "Compared to goal": "",
    }
    base.update(overrides)
    return base


def write_export(path: Path, rows: list[dict], header: list[str] | None = None) -> Path:
    header = header or HEADER
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


# -- quirks of the real format ----------------------------------------------------------------
def test_crlf_records_and_line_breaks_inside_quoted_fields(tmp_path):
    path = write_export(
        tmp_path / "a.csv",
        [
            row(**{"Indicator Name": "Infant mortality\r\nrate, per 1,000"}),
            row(**{"Area Code": "E92000001", "Area Name": "England", "Value": "3.9",
                   "Lower CI 95.0 limit": "3.8", "Upper CI 95.0 limit": "4.0",
                   "Lower CI 99.8 limit": "3.7", "Upper CI 99.8 limit": "4.1"}),
        ],
    )  # fmt: skip
    load = load_fingertips([path])
    assert load.quarantine.empty
    staged = load.staging.set_index("area_code")
    assert staged.loc["E08000026", "indicator_name"] == "Infant mortality\nrate, per 1,000"
    # the first record spans lines 2-3, so the second starts on line 4
    assert staged.loc["E08000026", "line_number"] == 2
    assert staged.loc["E92000001", "line_number"] == 4


def test_23rd_column_name_varies_with_the_parent_area_type(tmp_path):
    header = HEADER.copy()
    header[22] = "Compared to percentiles"
    r = row()
    r["Compared to percentiles"] = "Not compared"
    load = load_fingertips([write_export(tmp_path / "a.csv", [r], header)])
    assert load.staging["compared_to_parent"].tolist() == ["Not compared"]
    assert load.staging["compared_to_parent_basis"].tolist() == ["Compared to percentiles"]


def test_blank_value_with_a_note_is_missing_never_zero(tmp_path):
    note = "Value suppressed for disclosure control due to small count"
    path = write_export(
        tmp_path / "a.csv",
        [row(**{"Value": "", "Lower CI 95.0 limit": "", "Upper CI 95.0 limit": "",
                "Lower CI 99.8 limit": "", "Upper CI 99.8 limit": "", "Count": "",
                "Value note": note})],
    )  # fmt: skip
    staged = load_fingertips([path]).staging
    assert np.isnan(staged["value"].iloc[0]) and np.isnan(staged["count"].iloc[0])
    assert staged["value_note"].iloc[0] == note


def test_category_rows_sit_beside_headline_rows(tmp_path):
    path = write_export(
        tmp_path / "a.csv",
        [
            row(),
            row(**{"Category Type": "Ethnic groups", "Category": "Asian", "Value": "6.1",
                   "Lower CI 95.0 limit": "4.0", "Upper CI 95.0 limit": "8.9",
                   "Lower CI 99.8 limit": "3.5", "Upper CI 99.8 limit": "9.9"}),
        ],
    )  # fmt: skip
    staged = load_fingertips([path]).staging
    assert staged["is_headline"].tolist() == [True, False]
    assert staged["category"].tolist()[1] == "Asian"


def test_time_period_range_column_present_or_absent(tmp_path):
    with_range = HEADER + ["Time period range"]
    r = row()
    r["Time period range"] = "3y"
    load = load_fingertips(
        [
            write_export(tmp_path / "new.csv", [r], with_range),
            write_export(
                tmp_path / "old.csv",
                [row(**{"Time period": "2019 - 21", "Time period Sortable": "20190000"})],
            ),
        ]
    )
    assert sorted(load.staging["time_period_range"].fillna("-")) == ["-", "3y"]


@pytest.mark.parametrize(
    ("label", "kind", "start", "end", "years"),
    [
        ("2020 - 22", "calendar_year", "2020-01-01", "2022-12-31", 3),
        ("2022", "calendar_year", "2022-01-01", "2022-12-31", 1),
        ("2022/23", "financial_year", "2022-04-01", "2023-03-31", 1),
        ("2020/21 - 22/23", "financial_year", "2020-04-01", "2023-03-31", 3),
        ("1998 - 00", "calendar_year", "1998-01-01", "2000-12-31", 3),
        ("2023/24 Q4", "financial_quarter", "2024-01-01", "2024-03-31", 1),
        ("2023 Q2", "calendar_quarter", "2023-04-01", "2023-06-30", 1),
        ("Mar 2024", "month", "2024-03-01", "2024-03-31", 1),
    ],
)
def test_time_periods(label, kind, start, end, years):
    parsed = parse_time_periods(pd.Series([label])).iloc[0]
    assert parsed["period_type"] == kind
    assert parsed["period_start"] == pd.Timestamp(start)
    assert parsed["period_end"] == pd.Timestamp(end)
    assert parsed["period_years"] == years


def test_overlapping_files_are_deduplicated_and_counted(tmp_path):
    a = write_export(
        tmp_path / "a.csv",
        [row(), row(**{"Time period": "2019 - 21", "Time period Sortable": "20190000"})],
    )
    b = write_export(tmp_path / "b.csv", [row(**{"New data": "New data"})])
    load = load_fingertips([b, a])
    assert len(load.staging) == 2
    merged = load.staging[load.staging["time_period"] == "2020 - 22"].iloc[0]
    assert merged["source_file"] == "a.csv" and merged["source_row_count"] == 2
    assert load.duplicate_rows_merged == 1
    assert load.rows_accounted_for == load.input_rows == 3


# -- bad input: file level --------------------------------------------------------------------
def test_missing_required_column_names_the_file_and_column(tmp_path):
    header = [h for h in HEADER if h != "Value"]
    path = write_export(tmp_path / "bad.csv", [row()], header)
    with pytest.raises(FileFault, match=r"^bad.csv: missing required column\(s\): 'Value'$"):
        load_fingertips([path])


def test_not_utf8(tmp_path):
    path = write_export(tmp_path / "latin.csv", [row(**{"Area Name": "Coventry"})])
    path.write_bytes(path.read_bytes().replace(b"Coventry", "Cov\u00e9ntry".encode("latin-1")))
    with pytest.raises(
        FileFault, match=r"^latin.csv: not UTF-8: byte 0xe9 at offset \d+ \(line 2\)"
    ):
        load_fingertips([path])


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(FileFault, match=r"^empty.csv: file is empty$"):
        load_fingertips([path])


def test_header_only(tmp_path):
    path = write_export(tmp_path / "header.csv", [])
    with pytest.raises(FileFault, match=r"^header.csv: has a header but no data rows$"):
        load_fingertips([path])


def test_columns_in_another_order(tmp_path):
    header = HEADER.copy()
    header[4], header[5] = header[5], header[4]
    path = write_export(tmp_path / "order.csv", [row()], header)
    with pytest.raises(
        FileFault,
        match=r"^order.csv: columns out of order: column 5 is 'Area Name' where the Fingertips export has 'Area Code'$",
    ):
        load_fingertips([path])


def test_no_files():
    with pytest.raises(FileFault, match="no Fingertips exports"):
        load_fingertips([])


def test_a_bad_file_fails_the_whole_load_even_beside_good_ones(tmp_path):
    good = write_export(tmp_path / "a.csv", [row()])
    bad = tmp_path / "b.csv"
    bad.write_bytes(b"")
    with pytest.raises(FileFault, match="^b.csv"):
        load_fingertips([good, bad])


# -- bad input: row level ---------------------------------------------------------------------
def test_non_numeric_value_is_quarantined_with_file_line_and_reason(tmp_path):
    path = write_export(
        tmp_path / "a.csv",
        [
            row(),
            row(**{"Time period": "2019 - 21", "Value": "n/a", "Time period Sortable": "20190000"}),
        ],
    )
    load = load_fingertips([path])
    assert len(load.staging) == 1
    q = load.quarantine.iloc[0]
    assert (q["source"], q["source_file"], q["line_number"]) == ("fingertips", "a.csv", 3)
    assert q["reasons"] == "value: 'n/a' is not a number"
    assert '"time_period":"2019 - 21"' in q["record"]


def test_several_reasons_on_one_row_are_all_kept(tmp_path):
    path = write_export(
        tmp_path / "a.csv",
        [row(**{"Area Code": "", "Count": "-3", "Time period": "sometime"})],
    )
    reasons = load_fingertips([path]).quarantine["reasons"].iloc[0]
    assert "time_period: 'sometime' is not a recognised period" in reasons
    assert "area_code: missing" in reasons
    assert "count: greater_than_or_equal_to(0) (got -3.0)" in reasons


def test_value_outside_its_own_ci_is_quarantined(tmp_path):
    path = write_export(tmp_path / "a.csv", [row(**{"Value": "9.9"})])
    reasons = load_fingertips([path]).quarantine["reasons"].iloc[0]
    assert "ci95_lower <= value <= ci95_upper" in reasons


def test_duplicated_row_in_one_file_is_quarantined_as_duplicate(tmp_path):
    path = write_export(tmp_path / "a.csv", [row(), row()])
    load = load_fingertips([path])
    assert len(load.staging) == 1
    assert load.quarantine["reasons"].tolist() == ["duplicate of line 2 in the same file"]
    assert load.quarantine["line_number"].tolist() == [3]
    assert load.rows_accounted_for == load.input_rows == 2


def test_two_files_disagreeing_on_the_same_row_quarantine_both(tmp_path):
    a = write_export(tmp_path / "a.csv", [row()])
    b = write_export(tmp_path / "b.csv", [row(**{"Value": "6.0"})])
    load = load_fingertips([a, b])
    assert load.staging.empty
    expected = (
        "conflicting rows for the same indicator, area, breakdown and period: a.csv:2, b.csv:2"
    )
    assert load.quarantine["reasons"].tolist() == [expected, expected]
    assert load.quarantine["source_file"].tolist() == ["a.csv", "b.csv"]


def test_read_reports_sha256_and_rows(tmp_path):
    import hashlib

    path = write_export(tmp_path / "a.csv", [row()])
    _, info = read_fingertips_file(path)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.rows == 1 and info.name == "a.csv"


def test_fast_and_exact_readers_agree(tmp_path):
    from cov_pipeline.fingertips import HEADER as COLUMNS
    from cov_pipeline.fingertips import _read_exact, _read_fast

    path = write_export(
        tmp_path / "a.csv",
        [row(), row(**{"Area Code": "E92000001", "Indicator Name": "rate, per 1,000"})],
    )
    text = path.read_bytes().decode("utf-8")
    names = [name for _, name in COLUMNS]
    fast = _read_fast(path.read_bytes(), text, names, 1)
    exact = _read_exact(path, text, names, 1)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, exact)


def test_blank_lines_do_not_shift_line_numbers(tmp_path):
    path = write_export(
        tmp_path / "a.csv", [row(), row(**{"Time period": "2019 - 21", "Value": "x"})]
    )
    data = path.read_bytes()
    first_break = data.index(b"\r\n", data.index(b"\r\n") + 2)
    path.write_bytes(data[:first_break] + b"\r\n\r\n" + data[first_break + 2 :])  # blank line 3
    load = load_fingertips([path])
    assert load.staging["line_number"].tolist() == [2]
    assert load.quarantine["line_number"].tolist() == [4]


def test_a_record_with_too_many_fields_fails_the_file_with_its_line(tmp_path):
    path = write_export(tmp_path / "a.csv", [row(), row()])
    data = path.read_bytes().rstrip(b"\r\n") + b",extra\r\n"
    path.write_bytes(data)
    with pytest.raises(FileFault, match=r"^a.csv: not a readable CSV: .*line 3"):
        load_fingertips([path])


# -- the optimised loader against a straightforward reference -------------------------------------
def _plain_text(array) -> pd.Series:
    return array.to_pandas().astype(object)


def _as_arrow(series: pd.Series):
    import pyarrow as pa

    return pa.chunked_array([pa.array(series.to_numpy(dtype=object), pa.large_string())])


def _plain_trim(array):
    return _as_arrow(_plain_text(array).str.strip())


def _plain_clean_text(array):
    cleaned = _plain_text(array).str.replace("\r\n", "\n", regex=False).str.strip()
    return _as_arrow(cleaned.where(cleaned != "", None))


def _plain_parse_number(array):
    text = _plain_text(array).str.strip().str.replace(",", "", regex=False)
    number = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    invalid = (text != "").to_numpy() & ~np.isfinite(number)
    return np.where(invalid, np.nan, number), invalid


def _plain_row_hash(frame, columns):
    return pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()


def _plain_take_rows(frame, positions, columns=None):
    taken = frame.take(positions).reset_index(drop=True)
    return taken if columns is None else taken[columns]


def _plain_join_reasons(parts, index):
    result = pd.Series("", index=index, dtype=object)
    for text in parts:
        present = text.notna() & (text.astype(str) != "")
        if present.any():
            separator = pd.Series(np.where(result != "", " | ", ""), index=index)
            result = result.where(~present, result + separator + text.astype(str))
    return result


def test_optimised_loader_matches_a_straightforward_reference(tmp_path, monkeypatch):
    """Arrow kernels, hashed codes, filters and the fast reader give exactly what pandas' reader
    and plain ``.str`` / ``to_numeric`` / ``hash_pandas_object`` / ``take`` give, on every quirk."""
    import cov_pipeline.fingertips as ft

    nbsp, ideographic = "\u00a0", "\u3000"
    one_line = [
        row(),  # kept; re-exported identically in c.csv
        row(**{"Area Code": f" E08000025{nbsp}", "Area Name": "  Birmingham\t",
               "Value": " 1,234.5 ", "Lower CI 95.0 limit": "1,000", "Upper CI 95.0 limit": "1,500",
               "Lower CI 99.8 limit": "", "Upper CI 99.8 limit": "", "Count": "1,234",
               "Denominator": "100,000", "New data": f"New data{ideographic}"}),
        row(**{"Area Code": "E08000027", "Value": "", "Lower CI 95.0 limit": "",
               "Upper CI 95.0 limit": "", "Lower CI 99.8 limit": "", "Upper CI 99.8 limit": "",
               "Count": "", "Value note": "Value suppressed for disclosure control"}),
        row(**{"Area Code": "E08000028", "Category Type": "Ethnic groups", "Category": " Asian ",
               "Value": "6.1", "Lower CI 95.0 limit": "4.0", "Upper CI 95.0 limit": "8.9",
               "Lower CI 99.8 limit": "3.5", "Upper CI 99.8 limit": "9.9"}),
        row(**{"Area Code": "E08000029", "Value": "n/a"}),  # not a number
        row(**{"Area Code": "E08000030", "Indicator ID": "92196.5"}),  # not whole
        row(**{"Area Code": "E08000031", "Time period": "sometime", "Count": "-3"}),
        row(**{"Area Code": "", "Sex": "  ", "Value": "9.9"}),  # missing, blank, outside its CI
        row(**{"Area Code": "E0800003!", "Value": "inf"}),  # bad code, not finite
        row(**{"Area Code": "E08000032", "Time period": "2022/23", "Time period Sortable": "20220000"}),
        row(**{"Area Code": "E08000032", "Time period": "2022/23", "Time period Sortable": "20220000"}),
        row(**{"Area Code": "E08000033", "Time period": "Mar 2024"}),  # disagrees with b.csv
    ]  # fmt: skip
    header = HEADER.copy()
    header[22] = "Compared to percentiles"
    a = write_export(tmp_path / "a.csv", one_line, header)
    a.write_bytes(b"\xef\xbb\xbf" + a.read_bytes())  # BOM
    multi_line = [
        row(**{"Indicator Name": "Infant mortality\r\nrate, per 1,000", "Area Code": "E08000034"}),
        row(**{"Area Code": "E08000033", "Time period": "Mar 2024", "Value": "6.0"}),
    ]
    b = write_export(tmp_path / "b.csv", multi_line)
    data = b.read_bytes()
    b.write_bytes(data.replace(b"\r\n", b"\r\n\r\n", 1))  # a blank line after the header
    with_range = HEADER + ["Time period range"]
    c = write_export(tmp_path / "c.csv", [{**row(), "Time period range": "3y"}], with_range)

    fast_reads = []
    read_fast = ft._read_fast

    def spy(*args):
        frame = read_fast(*args)
        fast_reads.append(frame is not None)
        return frame

    monkeypatch.setattr(ft, "_read_fast", spy)
    optimised = load_fingertips([c, b, a])
    assert fast_reads == [True, False, True]  # a.csv and c.csv took the fast reader

    monkeypatch.setattr(ft, "_read_fast", lambda *args: None)  # pandas' reader for every file
    monkeypatch.setattr(ft, "_trim", _plain_trim)
    monkeypatch.setattr(ft, "_clean_text", _plain_clean_text)
    monkeypatch.setattr(ft, "_parse_number", _plain_parse_number)
    monkeypatch.setattr(ft, "_row_hash", _plain_row_hash)
    monkeypatch.setattr(ft, "_take_rows", _plain_take_rows)
    monkeypatch.setattr(ft, "join_reasons", _plain_join_reasons)
    reference = load_fingertips([c, b, a])

    pd.testing.assert_frame_equal(optimised.staging, reference.staging)
    pd.testing.assert_frame_equal(optimised.quarantine, reference.quarantine)
    assert optimised.input_rows == reference.input_rows == 15
    # every quirk reached the frames being compared
    staged = optimised.staging.set_index("area_code")
    assert staged.loc["E08000025", "value"] == 1234.5
    assert staged.loc["E08000025", "area_name"] == "Birmingham"
    assert staged.loc["E08000025", "new_data"] == "New data"
    assert staged.loc["E08000026", "source_row_count"] == 2
    assert pd.isna(staged.loc["E08000027", "value"])
    assert staged.loc["E08000028", "category"] == "Asian"
    assert staged.loc["E08000034", "indicator_name"] == "Infant mortality\nrate, per 1,000"
    assert staged.loc["E08000034", "line_number"] == 3  # after the blank line 2
    reasons = optimised.quarantine.set_index(["source_file", "line_number"])["reasons"]
    assert reasons[("a.csv", 6)] == "value: 'n/a' is not a number"
    assert reasons[("a.csv", 7)] == (
        "indicator_id: '92196.5' is not a whole number | indicator_id: missing"
    )
    assert reasons[("a.csv", 12)] == "duplicate of line 11 in the same file"
    conflict = (
        "conflicting rows for the same indicator, area, breakdown and period: a.csv:13, b.csv:5"
    )
    assert reasons[("a.csv", 13)] == reasons[("b.csv", 5)] == conflict
    assert "area_code: missing" in reasons[("a.csv", 9)]
    assert "sex: missing" in reasons[("a.csv", 9)]
    assert "value: 'inf' is not a number" in reasons[("a.csv", 10)]
    assert "area_code: str_matches" in reasons[("a.csv", 10)]
