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
from cov_pipeline.raw_reader import CLEARED_ROW

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


def test_a_lone_cr_ends_a_line_in_a_field_and_as_the_line_end(tmp_path):
    england = {"Area Code": "E92000001", "Area Name": "England"}
    # a lone CR pasted into a quoted field: the record spans lines 2-3, the next starts on 4
    path = write_export(tmp_path / "a.csv", [row(**{"Indicator Name": "Infant\rmortality"}),
                                             row(**england)])  # fmt: skip
    staged = load_fingertips([path]).staging.set_index("area_code")
    assert staged.loc["E08000026", "indicator_name"] == "Infant\nmortality"
    assert staged["line_number"].to_dict() == {"E08000026": 2, "E92000001": 4}
    # an old Mac export: every line ends in a lone CR (Python's csv module refused its header)
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\r").replace(b"Infant\rm", b"Infant m"))
    load = load_fingertips([path])
    assert load.quarantine.empty
    assert load.staging.set_index("area_code")["line_number"].to_dict() == {
        "E08000026": 2, "E92000001": 3}  # fmt: skip


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


def test_numbers_too_large_to_read_exactly_and_far_years_are_quarantined(tmp_path):
    beyond = " is out of range (beyond ±9007199254740991, the largest whole number read exactly)"
    path = write_export(
        tmp_path / "a.csv",
        [row(**{"Indicator ID": "18446744073709551616"}),
         row(**{"Area Code": "E08000001", "Time period Sortable": "1e300"}),
         row(**{"Area Code": "E08000002", "Time period": "7919"}),  # beyond pandas' 2262
         row(**{"Area Code": "E08000003", "Time period": "0001/02"}),
         row(**{"Area Code": "E08000004"})],
    )  # fmt: skip
    load = load_fingertips([path])
    reasons = dict(zip(load.quarantine["line_number"], load.quarantine["reasons"], strict=True))
    assert reasons[2].startswith("indicator_id: '18446744073709551616'" + beyond)
    assert reasons[3] == "time_period_sortable: '1e300'" + beyond
    assert reasons[4] == "time_period: '7919' is not a recognised period"
    assert reasons[5] == "time_period: '0001/02' is not a recognised period"
    assert load.staging["area_code"].tolist() == ["E08000004"]


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


def test_a_cleared_row_is_quarantined_on_either_reading_path(tmp_path):
    # ',,,' (a spreadsheet's cleared row) is a record, unlike a blank line: with or without a
    # blank line elsewhere (which sends the file down the exact reader) it is quarantined with
    # the reader's one reason (not a reason per empty field), never dropped
    path = write_export(tmp_path / "a.csv", [row(), row(**{"Area Code": "E92000001",
                                                          "Area Name": "England"})])  # fmt: skip
    lines = path.read_bytes().split(b"\r\n")
    commas = b"," * (len(HEADER) - 1)
    for body, england_line in ((lines[:2] + [commas] + lines[2:], 4),
                               (lines[:2] + [commas, b""] + lines[2:], 5)):  # fmt: skip
        path.write_bytes(b"\r\n".join(body))
        load = load_fingertips([path])
        assert load.staging["line_number"].tolist() == [2, england_line]
        assert load.quarantine["line_number"].tolist() == [3]
        assert load.quarantine["reasons"].tolist() == [CLEARED_ROW]
        assert load.rows_accounted_for == load.input_rows == 3


@pytest.mark.parametrize("bad_line", [2, 4])
def test_an_unquoted_comma_is_a_row_fault_in_the_first_record_or_a_later_one(tmp_path, bad_line):
    rows = [row(**{"Area Code": code}) for code in ("E08000026", "E08000025", "E08000027")]
    path = write_export(tmp_path / "a.csv", rows)
    lines = path.read_bytes().split(b"\r\n")
    # a thousands separator left unquoted in the count: one field more than the header
    lines[bad_line - 1] = lines[bad_line - 1].replace(b",81,", b",1,081,")
    path.write_bytes(b"\r\n".join(lines))
    load = load_fingertips([path])
    assert load.quarantine["line_number"].tolist() == [bad_line]
    # that one reason: the fields after the comma are shifted, reasons about them would mislead
    assert load.quarantine["reasons"].tolist() == [
        f"record has {len(HEADER) + 1} fields, the header {len(HEADER)} (extra: ''; a comma in "
        "a field that is not quoted?)"
    ]
    assert load.staging["line_number"].tolist() == [n for n in (2, 3, 4) if n != bad_line]
    assert load.rows_accounted_for == load.input_rows == 3


def test_a_record_with_too_few_fields_is_a_row_fault(tmp_path):
    path = write_export(tmp_path / "a.csv", [row(), row(**{"Area Code": "E08000025"})])
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b",")] + b"\r\n")  # the last field cut off
    load = load_fingertips([path])
    assert load.staging["line_number"].tolist() == [2]
    assert load.quarantine["line_number"].tolist() == [3]
    assert load.quarantine["reasons"].iloc[0] == (
        f"record has {len(HEADER) - 1} fields, the header {len(HEADER)}"
    )


def test_a_nul_byte_inside_a_field_is_a_row_fault_before_the_other_reasons(tmp_path):
    path = write_export(
        tmp_path / "a.csv",
        [row(), row(**{"Area Name": "Cov\0entry", "Value": "n/a"}), row(**{"Sex": "\0"})],
    )
    load = load_fingertips([path])
    assert load.staging["line_number"].tolist() == [2]
    assert load.quarantine["line_number"].tolist() == [3, 4]
    assert load.quarantine["reasons"].tolist() == [
        "NUL byte in area_name | value: 'n/a' is not a number",
        "NUL byte in sex",
    ]


def test_nul_padding_after_the_last_record_fails_the_file_by_name(tmp_path):
    path = write_export(tmp_path / "cut.csv", [row()])
    path.write_bytes(path.read_bytes() + b"\0" * 512)  # a copy cut short
    with pytest.raises(
        FileFault, match=r"^cut.csv: ends in 512 NUL byte\(s\) after its last record"
    ):
        load_fingertips([path])


def test_an_export_with_the_extension_in_capitals_is_read(tmp_path):
    from cov_pipeline.fingertips import FILE_PATTERN
    from resources.raw_files import RawFilesResource

    folder = tmp_path / "fingertips"
    folder.mkdir()
    write_export(folder / "infant_mortality.CSV", [row()])
    write_export(folder / "low_birth_weight.csv", [row(**{"Indicator ID": "20101"})])
    (folder / "notes.txt").write_text("not an export")
    paths = RawFilesResource(raw_dir=str(tmp_path)).files("fingertips", FILE_PATTERN)
    assert [p.name for p in paths] == ["infant_mortality.CSV", "low_birth_weight.csv"]
    load = load_fingertips(paths)
    assert load.staging["source_file"].tolist() == ["infant_mortality.CSV", "low_birth_weight.csv"]


def test_area_codes_are_ons_gss_codes(tmp_path):
    gss = " is not an ONS GSS code (a capital letter and eight digits)"
    path = write_export(
        tmp_path / "a.csv",
        [row(),
         row(**{"Area Code": "E0800002"}),  # seven digits
         row(**{"Area Code": "e08000025"}),
         row(**{"Area Code": "E080000271"}),
         row(**{"Area Code": "E08000028", "Parent Code": "E1200005"}),
         row(**{"Area Code": "E92000001", "Parent Code": ""}),  # England: no parent
         row(**{"Area Code": "E\u0660\u0668\u0660\u0660\u0660\u0660\u0662\u0669"})],  # Arabic-Indic
    )  # fmt: skip
    load = load_fingertips([path])
    reasons = dict(zip(load.quarantine["line_number"], load.quarantine["reasons"], strict=True))
    assert reasons == {
        3: "area_code: 'E0800002'" + gss,
        4: "area_code: 'e08000025'" + gss,
        5: "area_code: 'E080000271'" + gss,
        6: "parent_code: 'E1200005'" + gss,
        8: "area_code: 'E\u0660\u0668\u0660\u0660\u0660\u0660\u0662\u0669'" + gss + " | "
        "area_code: str_matches('^[A-Za-z0-9]{3,12}$') (got E\u0660\u0668\u0660\u0660\u0660\u0660\u0662\u0669)",
    }
    assert load.staging["area_code"].tolist() == ["E08000026", "E92000001"]


def test_a_rate_needs_a_positive_denominator_where_its_count_is_given(tmp_path):
    path = write_export(
        tmp_path / "a.csv",
        [row(**{"Count": "76", "Denominator": "0"}),
         row(**{"Area Code": "E08000025", "Count": "", "Denominator": "0", "Value": "",
                "Value note": "Suppressed"}),  # no count: nothing to divide
         row(**{"Area Code": "E08000027", "Count": "76", "Denominator": ""})],  # not published
    )  # fmt: skip
    load = load_fingertips([path])
    assert load.quarantine["line_number"].tolist() == [2]
    assert load.quarantine["reasons"].tolist() == [
        "denominator: '0' is not positive, though count is given (a rate needs a denominator "
        "above 0)"
    ]
    assert load.staging["line_number"].tolist() == [3, 4]


def test_a_period_in_other_digits_is_a_row_fault_not_an_error(tmp_path):
    path = write_export(
        tmp_path / "a.csv",
        [row(**{"Time period": "\uff12\uff10\uff12\uff12"}),  # fullwidth 2022
         row(**{"Area Code": "E08000025", "Time period": "\u0662\u0660\u0662\u0660 - 22"})],
    )  # fmt: skip
    load = load_fingertips([path])
    assert load.staging.empty
    assert [r.split(":")[0] for r in load.quarantine["reasons"]] == ["time_period"] * 2
    assert all(r.endswith("is not a recognised period") for r in load.quarantine["reasons"])


@pytest.mark.parametrize(
    "error",
    [
        ValueError('Unable to parse string "1st" at position 0'),
        ValueError("Cannot convert non-finite values (NA or inf) to integer"),
    ],
)
def test_any_other_error_while_parsing_is_a_file_fault_naming_the_file(
    tmp_path, monkeypatch, error
):
    import cov_pipeline.fingertips.periods as ft

    good = write_export(tmp_path / "a.csv", [row()])
    bad = write_export(tmp_path / "b.csv", [row(**{"Time period": "2019 - 21"})])
    parse_labels = ft._parse_period_labels

    def failing(labels):
        if (labels == "2019 - 21").any():
            raise error
        return parse_labels(labels)

    monkeypatch.setattr(ft, "_parse_period_labels", failing)
    assert load_fingertips([good]).quarantine.empty
    with pytest.raises(FileFault, match=r"^b.csv: could not be parsed: .*\(ValueError: ") as fault:
        load_fingertips([good, bad])
    assert str(error) in str(fault.value)


def test_any_other_error_while_reading_is_a_file_fault_naming_the_file(tmp_path, monkeypatch):
    import cov_pipeline.fingertips.parsing as ft

    def failing(path, header, **kwargs):
        raise csv.Error("field larger than field limit (131072)")

    path = write_export(tmp_path / "a.csv", [row()])
    monkeypatch.setattr(ft, "read_records", failing)
    with pytest.raises(
        FileFault, match=r"^a.csv: could not be parsed: .*\(Error: field larger than field limit"
    ):
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
    """Arrow kernels, hashed codes, filters and the reader's fast path give exactly what its
    exact path and plain ``.str`` / ``to_numeric`` / ``hash_pandas_object`` / ``take`` give, on
    every quirk."""
    from cov_pipeline import raw_reader
    from cov_pipeline.fingertips import deduplication, parsing, rows

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
    read_fast = raw_reader._read_fast

    def spy(*args):
        frame = read_fast(*args)
        fast_reads.append(frame is not None)
        return frame

    monkeypatch.setattr(raw_reader, "_read_fast", spy)
    optimised = load_fingertips([c, b, a])
    assert fast_reads == [True, False, True]  # a.csv and c.csv took the fast reader

    # the reader's exact path (Python's csv module) for every file
    monkeypatch.setattr(raw_reader, "_read_fast", lambda *args: None)
    monkeypatch.setattr(rows, "_trim", _plain_trim)
    monkeypatch.setattr(rows, "_clean_text", _plain_clean_text)
    monkeypatch.setattr(rows, "_parse_number", _plain_parse_number)
    monkeypatch.setattr(deduplication, "_row_hash", _plain_row_hash)
    for module in (rows, deduplication, parsing):  # each looks _take_rows up
        monkeypatch.setattr(module, "_take_rows", _plain_take_rows)
    monkeypatch.setattr(rows, "join_reasons", _plain_join_reasons)
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


# -- the speed work's shortcuts, each against what it replaces --------------------------------------
def _bad_rows() -> list[dict[str, str]]:
    """Rows breaking every rule of the contract, beside good ones."""
    return [
        row(),
        row(**{"Area Code": "", "Sex": "  ", "Age": "", "Value": "9.9"}),  # missing, outside CI
        row(**{"Area Code": "E0800003!", "Area Name": "Birmingham"}),  # bad code
        row(**{"Area Code": "E08000030", "Indicator ID": "-5"}),  # not > 0
        row(**{"Area Code": "E08000031", "Count": "-3", "Denominator": "-1"}),  # not >= 0
        row(**{"Area Code": "E08000032", "Lower CI 99.8 limit": "5.0"}),  # 99.8% inside 95%
        row(**{"Area Code": "E08000033", "Indicator Name": "", "Area Name": " "}),
        row(**{"Area Code": "E08000034", "Time period": "", "Time period Sortable": ""}),
        row(**{"Area Code": "E08000035", "Value": "", "Count": "", "Value note": "Suppressed"}),
    ]


def test_contract_checked_on_suspect_rows_words_what_the_whole_frame_would(tmp_path, monkeypatch):
    """pandera validates only the rows the cheap screen flags: the reasons are the same as when
    it validates every row, and every row pandera rejects was flagged."""
    import cov_pipeline.fingertips.rows as ft
    from cov_pipeline.quality import pandera_reasons
    from cov_pipeline.schemas.fingertips import FingertipsRow

    path = write_export(tmp_path / "a.csv", _bad_rows() * 3)
    screened = load_fingertips([path])

    seen = {}
    suspects = ft._contract_suspects

    def spy(schema, frame):
        seen["frame"], seen["suspects"] = frame, suspects(schema, frame)
        return seen["suspects"]

    monkeypatch.setattr(ft, "_contract_suspects", spy)
    load_fingertips([path])
    monkeypatch.setattr(ft, "_contract_suspects", lambda schema, frame: np.ones(len(frame), bool))
    whole = load_fingertips([path])

    pd.testing.assert_frame_equal(screened.staging, whole.staging)
    pd.testing.assert_frame_equal(screened.quarantine, whole.quarantine)
    rejected = pandera_reasons(FingertipsRow, seen["frame"].copy()).index
    assert 0 < len(set(rejected)) < len(seen["frame"])
    assert seen["suspects"][rejected.to_numpy(dtype=int)].all()
    reasons = " | ".join(whole.quarantine["reasons"])
    for rule in ("str_matches", "greater_than(0)", "greater_than_or_equal_to(0)", "missing",
                 "ci95_lower <= value", "ci99_8_lower <= ci95_lower"):  # fmt: skip
        assert rule in reasons


def test_contract_features_the_screen_cannot_predict_make_every_row_a_suspect():
    import pandera.pandas as pa

    import cov_pipeline.fingertips.rows as ft

    frame = pd.DataFrame({"a": [1, 2, 2], "b": ["x", "y", "z"]})
    unique = pa.DataFrameSchema({"a": pa.Column(int, unique=True)})
    assert ft._contract_suspects(unique, frame).all()
    aggregate = pa.DataFrameSchema({"a": pa.Column(int, pa.Check(lambda s: s.mean() > 5))})
    assert ft._contract_suspects(aggregate, frame).all()
    objects = pa.DataFrameSchema({"b": pa.Column(str)})  # pandera checks each value's type
    assert ft._contract_suspects(objects, frame).all()
    plain = pa.DataFrameSchema({"a": pa.Column(int, pa.Check.gt(1))})
    assert ft._contract_suspects(plain, frame).tolist() == [True, False, False]


def _text(values, chunks=1):
    import pyarrow as pa

    size = max(1, -(-len(values) // chunks))
    parts = [values[i : i + size] for i in range(0, len(values), size)] or [[]]
    return pa.chunked_array([pa.array(p, pa.large_string()) for p in parts], pa.large_string())


def test_byte_screens_never_miss_whitespace_a_line_break_or_a_comma():
    """Every character Arrow or Python counts as whitespace, at either end, is seen by the screen
    on the raw bytes; and the screened trim gives Arrow's trim."""
    import pyarrow as pa
    import pyarrow.compute as pc

    import cov_pipeline.fingertips.arrow_text as ft

    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    chars = pa.array([chr(c) for c in points], pa.large_string())
    arrow_space = np.asarray(pc.utf8_is_space(chars))
    spaces = [chr(c) for c, s in zip(points, arrow_space, strict=True) if s or chr(c).isspace()]
    assert len(spaces) > 25
    for space in spaces:
        for value in (space + "x", "x" + space, space):
            array = _text(["a", "", value, "b"], chunks=2)
            assert ft._may_have_outer_space(array), repr(value)
            assert ft._trim(array).equals(pc.utf8_trim_whitespace(array)), repr(value)
    clean = _text(["Coventry", "", "É", "a b", "x"] * 50, chunks=3)
    assert ft._trim(clean) is clean
    sliced = pa.chunked_array([pa.array([" a", "b", "c "], pa.large_string()).slice(1, 1)])
    assert not ft._may_have_outer_space(sliced)  # bytes outside the slice are not its values
    assert ft._may_contain(_text(["a", "rate\r\nper", "b"], 2), b"\r")
    assert ft._may_contain(_text(["1", "1,000"], 2), b",")
    assert not ft._may_contain(_text(["1", "1000", ""], 2), b",")


def test_nulls_set_through_a_bitmap_equal_if_else():
    import pyarrow as pa
    import pyarrow.compute as pc

    import cov_pipeline.fingertips.arrow_text as ft

    cases = [
        _text(["", "a", "", "b"] * 5, chunks=3),
        _text(["a", "b"], chunks=1),
        _text([""] * 7, chunks=2),
        pa.chunked_array([pa.array(["x", "", None, "y", ""], pa.large_string())]),  # has nulls
        pa.chunked_array([pa.array(["z", "", "q", ""], pa.large_string()).slice(1)]),  # offset
    ]
    for text in cases:
        blank = pc.equal(text, "")
        expected = pc.if_else(blank, pa.scalar(None, text.type), text)
        assert ft._null_where(blank, text).equals(expected)


def test_whole_numbers_as_pandas_astype_gives_them():
    import cov_pipeline.fingertips.rows as ft

    values = np.array([1.0, np.nan, -7.0, 2.0**53, -(2.0**63), 0.0, -0.0, 92196.0])
    pd.testing.assert_extension_array_equal(
        ft._whole_numbers(values), pd.Series(values).astype("Int64").array
    )
    for bad in (0.5, np.inf, 2.0**63):
        with pytest.raises(Exception) as expected:
            pd.Series([1.0, bad]).astype("Int64")
        with pytest.raises(type(expected.value), match=str(expected.value)):
            ft._whole_numbers(np.array([1.0, bad]))


def test_rows_taken_as_slices_equal_a_plain_take():
    import cov_pipeline.fingertips.deduplication as ft

    n = 6000
    frame = pd.DataFrame(
        {
            "text": pd.array(
                [f"v{i % 97}" if i % 13 else None for i in range(n)], "string[pyarrow]"
            ),
            "number": np.arange(n, dtype="float64"),
            "whole": pd.array(np.arange(n), "Int64"),
            "name": np.array([f"f{i % 3}" for i in range(n)], dtype=object),
        }
    )
    frame["text"] = pd.concat([frame["text"][:2500], frame["text"][2500:]]).array  # 2 chunks
    keep = np.ones(n, dtype=bool)
    patterns = {
        "all": keep,
        "few dropped": keep & ~np.isin(np.arange(n), [0, 2499, 2500, 4000, n - 1]),
        "many short runs": np.arange(n) % 3 != 0,
        "none": ~keep,
    }
    for name, rows in patterns.items():
        positions = np.flatnonzero(rows)
        taken = ft._take_rows(frame, positions, ["name", "text", "number", "whole"])
        expected = frame.take(positions).reset_index(drop=True)[["name", "text", "number", "whole"]]
        pd.testing.assert_frame_equal(taken, expected, obj=name)
    shuffled = np.random.default_rng(1).permutation(n)[:100]
    pd.testing.assert_frame_equal(
        ft._take_rows(frame, shuffled), frame.take(shuffled).reset_index(drop=True)
    )


def _plain_deduplicate(valid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rules applied to every row of the table, by pandas, with hashes of the values."""
    from cov_pipeline.fingertips import KEY_COLUMNS, MEASURE_COLUMNS, STAGING_DESCRIPTIONS

    order = np.lexsort((valid["line_number"].to_numpy(), valid["source_file"].to_numpy()))
    rows = valid.iloc[order].reset_index(drop=True)
    small = pd.DataFrame(
        {
            "key": pd.util.hash_pandas_object(rows[KEY_COLUMNS], index=False),
            "measures": pd.util.hash_pandas_object(rows[MEASURE_COLUMNS], index=False),
            "file": rows["source_file"],
            "line": rows["line_number"],
        }
    )
    conflict = small.groupby("key")["measures"].transform("nunique") > 1
    same_file = small.duplicated(["key", "file"]) & ~conflict
    reasons = pd.Series("", index=small.index, dtype=object)
    places = small["file"] + ":" + small["line"].astype(str)
    listed = places[conflict].groupby(small.loc[conflict, "key"]).transform(", ".join)
    reasons[conflict] = (
        "conflicting rows for the same indicator, area, breakdown and period: " + listed
    )
    first_line = small.groupby(["key", "file"])["line"].transform("first")
    reasons[same_file] = (
        "duplicate of line " + first_line[same_file].astype(str) + " in the same file"
    )
    kept = reasons == ""
    first = kept & ~small["key"].where(kept).duplicated()  # fine here: no hash comes near 2**53
    staged = rows[first].reset_index(drop=True)
    staged["source_row_count"] = (
        small[kept].groupby("key").size().reindex(small.loc[first, "key"]).to_numpy()
    )
    columns = [c for c in STAGING_DESCRIPTIONS if c in staged.columns]
    quarantined = rows[~kept].reset_index(drop=True).assign(_reasons=reasons[~kept].to_numpy())
    return staged[columns + [c for c in staged if c not in columns]], quarantined


def test_deduplication_decided_on_repeated_keys_equals_the_whole_table_rules(tmp_path):
    """Only rows whose key repeats go through the rules; the result is the rules' result for the
    whole table, whatever the order of the rows."""
    from cov_pipeline.fingertips import deduplicate, parse_fingertips, read_fingertips_file

    rng = np.random.default_rng(7)
    areas = [f"E0800{i:04d}" for i in range(60)]
    periods = [("2019 - 21", "20190000"), ("2020 - 22", "20200000"), ("2022/23", "20220000")]

    def some_row():
        period, sortable = periods[rng.integers(len(periods))]
        value = ["5.9", "6.0"][rng.integers(2)] if rng.random() < 0.2 else "5.9"
        return row(
            **{"Area Code": areas[rng.integers(len(areas))], "Time period": period,
               "Time period Sortable": sortable, "Value": value, "Sex": ["Persons", "Male"][rng.integers(2)]}
        )  # fmt: skip

    files = [
        write_export(tmp_path / f"{name}.csv", [some_row() for _ in range(150)]) for name in "abc"
    ]
    raw = pd.concat([read_fingertips_file(p)[0] for p in files], ignore_index=True)
    valid, _ = parse_fingertips(raw)
    for shuffle in (False, True):
        rows = valid.sample(frac=1, random_state=3).reset_index(drop=True) if shuffle else valid
        staged, quarantined = deduplicate(rows)
        expected_staged, expected_quarantined = _plain_deduplicate(rows)
        pd.testing.assert_frame_equal(staged, expected_staged)
        pd.testing.assert_frame_equal(quarantined, expected_quarantined)
        assert staged["source_row_count"].gt(1).any() and len(quarantined) > 0


@pytest.mark.parametrize(
    "bad", [b"\xe9", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xff"]
)
def test_bytes_that_are_not_utf8_fail_the_file_with_or_without_a_bom(tmp_path, bad):
    """Bytes that are not UTF-8 (surrogates, overlong forms, beyond U+10FFFF, cut sequences)
    fail the file naming the byte, its offset in the file and its line, BOM or not."""
    import re

    for bom in (b"", b"\xef\xbb\xbf"):
        path = write_export(tmp_path / "a.csv", [row(), row(**{"Area Name": "Coventry"})])
        data = bom + path.read_bytes().replace(b"Coventry", b"Cov" + bad + b"entry", 1)
        path.write_bytes(data)
        offset = data.index(b"Cov" + bad) + 3
        expected = (
            f"a.csv: not UTF-8: byte 0x{bad[0]:02x} at offset {offset} (line 2) cannot be "
            "decoded; re-export the file as UTF-8"
        )
        with pytest.raises(FileFault, match=f"^{re.escape(expected)}$"):
            load_fingertips([path])


def test_not_utf8_is_reported_before_a_header_fault(tmp_path):
    path = write_export(tmp_path / "a.csv", [row()], [h for h in HEADER if h != "Value"])
    path.write_bytes(path.read_bytes() + b"\xe9\r\n")
    with pytest.raises(FileFault, match=r"^a.csv: not UTF-8: byte 0xe9"):
        load_fingertips([path])
    path.write_bytes(b"\xef\xbb\xbf")  # a BOM and nothing else: decoded, it has no header
    with pytest.raises(FileFault, match=r"^a.csv: first line is not a header \(no column names\)$"):
        load_fingertips([path])


def test_rows_without_any_time_period_are_quarantined(tmp_path):
    """Every row missing its period (labels parsed: none) quarantines them all, as it would
    with one labelled row beside them."""
    path = write_export(
        tmp_path / "a.csv",
        [row(**{"Time period": ""}), row(**{"Time period": " ", "Area Code": "E92000001"})],
    )
    load = load_fingertips([path])
    assert load.staging.empty
    assert load.quarantine["reasons"].tolist() == ["time_period: missing"] * 2
    assert parse_time_periods(pd.Series([None, "2022"], dtype=object)).iloc[0].isna().all()
