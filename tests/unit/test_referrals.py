"""Referrals: every bad-input case with the reason it must produce, the later-extract-wins rule,
and the waiting-time and demand figures against arithmetic written out here.

Percentiles are linear interpolation between closest ranks (Hyndman and Fan type 7, Excel
PERCENTILE.INC): for n sorted values x[0..n-1], the p-th percentile lies at h = (n - 1)p and is
x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.disclosure import Count, TableSpec, publish
from cov_pipeline.publishing import REFERRAL_TRENDS, REFERRAL_WAITING
from cov_pipeline.quality import FileFault
from cov_pipeline.raw_reader import CLEARED_ROW
from cov_pipeline.referrals import (
    TRENDS_DESCRIPTIONS,
    WAITING_DESCRIPTIONS,
    age_bands,
    load_referrals,
    monthly_referrals,
    referral_trends,
    referral_waiting,
    waiting_figures,
    waiting_snapshots,
)
from cov_pipeline.spc import load_spc_settings

HEADER = (
    "referral_id,referral_date,age,sex,ethnic_category,lsoa_code,referral_source,"
    "presenting_need,first_contact_date,discharge_date"
)
TODAY = dt.date(2026, 11, 22)
# A two-LSOA deprivation lookup: decile 2 (most deprived 30%) and decile 8.
IMD = pd.DataFrame(
    {
        "lsoa_code": ["E01000001", "E01000002"],
        "imd_decile": [2, 8],
        "imd_quintile": [1, 4],
        "is_most_deprived_30pct": [True, False],
    }
)


def row(
    rid: str = "R1",
    referred: str = "2024-01-10",
    age: str = "15",
    sex: str = "2",
    ethnic: str = "A",
    lsoa: str = "E01000001",
    source: str = "EDU",
    need: str = "SM",
    contact: str = "",
    discharge: str = "",
) -> str:
    return ",".join([rid, referred, age, sex, ethnic, lsoa, source, need, contact, discharge])


def write(folder: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def load(paths: list[Path], today: dt.date = TODAY):
    return load_referrals(paths, IMD, today=today)


def one(tmp_path: Path, *rows: str, name: str = "referrals_2024-04-01.csv"):
    """Load one extract; return the staged rows and the quarantine reasons by line."""
    result = load([write(tmp_path, name, list(rows))])
    assert result.rows_accounted_for == result.input_rows == len(rows)
    quarantine = result.quarantine
    return result.staging, dict(zip(quarantine["line_number"], quarantine["reasons"], strict=True))


# -- bad input, one case per test -----------------------------------------------------------
def test_first_contact_before_referral_is_quarantined(tmp_path):
    staged, reasons = one(tmp_path, row(contact="2024-01-05"), row("R2"))
    assert reasons == {2: "first_contact_date: 2024-01-05 is before the referral date 2024-01-10"}
    assert staged["referral_id"].tolist() == ["R2"]


def test_discharge_before_first_contact_is_quarantined(tmp_path):
    staged, reasons = one(tmp_path, row(contact="2024-01-20", discharge="2024-01-15"), row("R2"))
    assert reasons == {2: "discharge_date: 2024-01-15 is before the first contact date 2024-01-20"}


def test_discharge_before_referral_without_first_contact_is_quarantined(tmp_path):
    _, reasons = one(tmp_path, row(discharge="2024-01-02"))
    assert reasons == {2: "discharge_date: 2024-01-02 is before the referral date 2024-01-10"}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"referred": "2024-04-02"},
            "referral_date: 2024-04-02 is after the extract date 2024-04-01 (a date in the future)",
        ),
        (
            {"contact": "2024-05-01"},
            "first_contact_date: 2024-05-01 is after the extract date 2024-04-01 (a date in the "
            "future)",
        ),
        (
            {"contact": "2024-01-11", "discharge": "2025-01-11"},
            "discharge_date: 2025-01-11 is after the extract date 2024-04-01 (a date in the future)",
        ),
    ],
)
def test_a_date_in_the_future_is_quarantined(tmp_path, fields, reason):
    _, reasons = one(tmp_path, row(**fields))
    assert reasons == {2: reason}


def test_a_date_on_the_extract_date_is_not_in_the_future(tmp_path):
    staged, reasons = one(tmp_path, row(referred="2024-04-01"))
    assert reasons == {} and len(staged) == 1


@pytest.mark.parametrize("age", ["9", "25", "-3"])
def test_an_age_outside_the_service_range_is_quarantined(tmp_path, age):
    _, reasons = one(tmp_path, row(age=age))
    assert reasons == {2: f"age: {age} is outside the service's age range 10-24"}


def test_ages_10_and_24_are_in_range_and_banded(tmp_path):
    staged, reasons = one(tmp_path, row("A", age="10"), row("B", age="24"))
    assert reasons == {}
    assert staged.set_index("referral_id")["age_band"].to_dict() == {"A": "10-13", "B": "18-24"}
    bands = age_bands(pd.Series([10, 13, 14, 15, 16, 17, 18, 24, 25], dtype="Int64"))
    assert bands.tolist() == [
        "10-13", "10-13", "14-15", "14-15", "16-17", "16-17", "18-24", "18-24", None,
    ]  # fmt: skip


def test_an_unknown_presenting_need_is_quarantined(tmp_path):
    _, reasons = one(tmp_path, row(need="GAM"))
    assert reasons == {
        2: "presenting_need: 'GAM' is not a known presenting need (SM, RSH, HH, EXP, YJ)"
    }


def test_an_unknown_referral_source_is_quarantined(tmp_path):
    _, reasons = one(tmp_path, row(source="CAMHS"))
    assert reasons == {
        2: "referral_source: 'CAMHS' is not a known referral source "
        "(EDU, CSC, EH, YJS, POL, GP, HLT, VCS, SELF, OTH)"
    }


def test_unknown_sex_and_ethnic_codes_and_a_malformed_lsoa_give_every_reason(tmp_path):
    _, reasons = one(tmp_path, row(sex="M", ethnic="Q", lsoa="E0100001"))
    assert reasons == {
        2: "sex: 'M' is not a Person Stated Gender Code (1, 2, 9, X) | "
        "ethnic_category: 'Q' is not an NHS ethnic category code "
        "(A, B, C, D, E, F, G, H, J, K, L, M, N, P, R, S, Z) | "
        "lsoa_code: 'E0100001' is not an LSOA code (E01 or W01 and six digits)"
    }


def test_text_that_is_not_a_date_or_whole_age_is_quarantined_not_called_missing(tmp_path):
    _, reasons = one(tmp_path, row(referred="2024-02-30", age="15.5", contact="10/01/2024"))
    assert reasons == {
        2: "referral_date: '2024-02-30' is not a date (YYYY-MM-DD) | "
        "first_contact_date: '10/01/2024' is not a date (YYYY-MM-DD) | "
        "age: '15.5' is not a whole number"
    }


def test_an_age_beyond_the_whole_numbers_read_exactly_is_quarantined_not_a_crash(tmp_path):
    # whole numbers as floats, but 2**64 and 1e300 fit no int64, and 2**53 + 1 reads as 2**53
    staged, reasons = one(tmp_path, row("R1", age="18446744073709551616"), row("R2", age="1e300"),
                          row("R3", age="9007199254740993"), row("R4", age="15"))  # fmt: skip
    beyond = " is out of range (beyond ±9007199254740991, the largest whole number read exactly)"
    assert reasons == {
        2: "age: '18446744073709551616'" + beyond,
        3: "age: '1e300'" + beyond,
        4: "age: '9007199254740993'" + beyond,
    }
    assert staged["referral_id"].tolist() == ["R4"]


def test_a_line_break_at_the_end_of_a_quoted_header_name_moves_every_record_down(tmp_path):
    # the header spans lines 1-2 ('"referral_id' then '"'): R1 is on line 3, R2 on line 4
    header = HEADER.replace("referral_id", '"referral_id\n"', 1)
    path = write(tmp_path, "referrals_2024-04-01.csv", [row("R1", age="9"), row("R2")], header)
    result = load([path])
    assert result.quarantine["line_number"].tolist() == [3]
    assert result.staging["line_number"].tolist() == [4]


def test_a_blank_line_is_skipped_and_a_line_of_empty_fields_quarantined(tmp_path):
    path = write(tmp_path, "referrals_2024-04-01.csv", [row("R1"), "", ",,,,,,,,,", row("R2")])
    result = load([path])
    assert result.staging["line_number"].tolist() == [2, 5]
    assert result.quarantine["line_number"].tolist() == [4]  # every field empty, line 4
    assert result.quarantine["reasons"].tolist() == [CLEARED_ROW]
    assert result.input_rows == 3 == result.rows_accounted_for


def test_missing_required_fields_are_quarantined(tmp_path):
    _, reasons = one(tmp_path, row(rid="", referred="", age="", source="", need=""))
    assert reasons == {
        2: "referral_id: missing | referral_date: missing | age: missing | "
        "referral_source: missing | presenting_need: missing"
    }


def test_a_referral_before_the_service_opened_is_quarantined(tmp_path):
    _, reasons = one(tmp_path, row(referred="2017-12-31"))
    assert reasons == {2: "referral_date: 2017-12-31 is before the service opened (2018-01-01)"}


def test_blank_sex_ethnicity_and_lsoa_are_kept_as_not_known(tmp_path):
    staged, reasons = one(tmp_path, row(sex="", ethnic="", lsoa=""), row("R2", lsoa="E01099999"))
    assert reasons == {}
    first, outside = staged.iloc[0], staged.iloc[1]
    assert pd.isna(first["sex_code"]) and first["sex"] == "Not known"
    assert pd.isna(first["ethnic_category"]) and first["ethnic_group"] == "Not stated"
    assert pd.isna(first["lsoa_code"]) and first["deprivation_group"] == "Not known"
    # a valid LSOA outside the lookup (over the border) is kept, its deprivation unknown
    assert outside["lsoa_code"] == "E01099999" and pd.isna(outside["imd_decile"])
    assert outside["deprivation_group"] == "Not known"


def test_lsoa_is_joined_to_deprivation(tmp_path):
    staged, _ = one(tmp_path, row("A", lsoa="E01000001"), row("B", lsoa="E01000002"))
    by_id = staged.set_index("referral_id")
    assert by_id.loc["A", ["imd_decile", "imd_quintile", "is_most_deprived_30pct"]].tolist() == [
        2, 1, True,
    ]  # fmt: skip
    assert by_id.loc["A", "deprivation_group"] == "Most deprived 30% (deciles 1-3)"
    assert by_id.loc["B", "deprivation_group"] == "Other 70% (deciles 4-10)"


def test_a_duplicated_referral_id_within_an_extract_keeps_the_first_identical_copy(tmp_path):
    staged, reasons = one(tmp_path, row("R1"), row("R2"), row("R1"))
    assert reasons == {
        4: "referral_id: 'R1' is repeated in referrals_2024-04-01.csv, identical to line 2"
    }
    assert sorted(staged["referral_id"]) == ["R1", "R2"]
    assert staged.set_index("referral_id").loc["R1", "line_number"] == 2


def test_a_duplicated_referral_id_with_different_fields_quarantines_every_copy(tmp_path):
    staged, reasons = one(tmp_path, row("R1", need="SM"), row("R2"), row("R1", need="HH"))
    conflict = (
        "referral_id: 'R1' appears 2 times in referrals_2024-04-01.csv with different fields "
        "(lines 2, 4)"
    )
    assert reasons == {2: conflict, 4: conflict}
    assert staged["referral_id"].tolist() == ["R2"]


# -- several extracts: the later extract wins -------------------------------------------------
def test_a_referral_in_a_later_extract_with_changed_fields_is_staged_from_the_later(tmp_path):
    first = write(tmp_path, "referrals_2024-04-01.csv", [row("R1"), row("R2", need="HH")])
    second = write(
        tmp_path,
        "referrals_2024-10-01.csv",
        [row("R1", contact="2024-05-02", discharge="2024-09-01"), row("R3", referred="2024-06-01")],
    )
    result = load([second, first])  # the file order given does not matter
    assert result.quarantine.empty
    assert result.input_rows == 4 and result.rows_accounted_for == 4
    assert result.superseded_rows == 1
    staged = result.staging.set_index("referral_id")
    assert sorted(staged.index) == ["R1", "R2", "R3"]
    r1 = staged.loc["R1"]
    assert r1["source_file"] == "referrals_2024-10-01.csv" and r1["line_number"] == 2
    assert r1["first_contact_date"] == pd.Timestamp("2024-05-02")
    assert r1["extract_date"] == pd.Timestamp("2024-10-01")
    assert r1["extract_rows"] == 2
    assert r1["changed_in_later_extract"] == "first_contact_date, discharge_date"
    assert r1["status"] == "discharged" and r1["wait_days"] == 113
    assert staged.loc["R2", "extract_rows"] == 1
    assert pd.isna(staged.loc["R2", "changed_in_later_extract"])


def test_an_unchanged_repeat_in_a_later_extract_is_merged_without_changes(tmp_path):
    first = write(tmp_path, "referrals_2024-04-01.csv", [row("R1")])
    second = write(tmp_path, "referrals_2024-10-01.csv", [row("R1")])
    result = load([first, second])
    r1 = result.staging.iloc[0]
    assert (r1["source_file"], r1["extract_rows"]) == ("referrals_2024-10-01.csv", 2)
    assert pd.isna(r1["changed_in_later_extract"])


def test_extracts_are_ordered_by_the_date_in_their_name_not_by_name_alone(tmp_path):
    # "referrals_2024-04-01_b.csv" sorts after "..._a" but "referrals_2023..." is earlier
    older = write(tmp_path, "referrals_2023-12-01.csv", [row("R1", referred="2023-11-01")])
    newer = write(
        tmp_path, "referrals_2024-04-01.csv", [row("R1", referred="2023-11-01", need="YJ")]
    )
    staged = load([newer, older]).staging
    assert staged.loc[0, "presenting_need_code"] == "YJ"
    assert staged.loc[0, "changed_in_later_extract"] == "presenting_need"


def test_when_the_later_version_is_quarantined_the_earlier_is_not_used(tmp_path):
    first = write(tmp_path, "referrals_2024-04-01.csv", [row("R1"), row("R2")])
    second = write(tmp_path, "referrals_2024-10-01.csv", [row("R1", contact="2024-01-01")])
    result = load([first, second])
    assert result.staging["referral_id"].tolist() == ["R2"]
    reasons = {
        (f, n): r
        for f, n, r in result.quarantine[["source_file", "line_number", "reasons"]].to_numpy()
    }
    assert reasons == {
        ("referrals_2024-04-01.csv", 2): "referral_id: 'R1' is quarantined in the later extract "
        "referrals_2024-10-01.csv; the later extract wins, so this earlier version is not used",
        ("referrals_2024-10-01.csv", 2): "first_contact_date: 2024-01-01 is before the referral "
        "date 2024-01-10",
    }
    assert result.rows_accounted_for == result.input_rows == 3


def test_an_invalid_earlier_version_is_quarantined_and_the_later_one_staged(tmp_path):
    first = write(tmp_path, "referrals_2024-04-01.csv", [row("R1", age="9")])
    second = write(tmp_path, "referrals_2024-10-01.csv", [row("R1", age="11")])
    result = load([first, second])
    assert result.staging["age"].tolist() == [11]
    assert result.staging.loc[0, "extract_rows"] == 1  # the bad row is counted in quarantine
    assert result.quarantine["reasons"].tolist() == [
        "age: 9 is outside the service's age range 10-24"
    ]
    assert result.rows_accounted_for == result.input_rows == 2


def test_every_input_row_is_staged_superseded_or_quarantined(tmp_path):
    first = write(
        tmp_path,
        "referrals_2024-04-01.csv",
        [row("R1"), row("R2"), row("R2"), row("R3", age="30"), row("R4")],
    )
    second = write(
        tmp_path, "referrals_2024-10-01.csv", [row("R1", contact="2024-02-01"), row("R5")]
    )
    result = load([first, second])
    assert len(result.staging) == 4  # R1 (from the later extract), R2, R4, R5
    assert len(result.quarantine) == 2  # the second R2, R3
    assert result.superseded_rows == 1  # R1's earlier version
    assert result.input_rows == 7 == result.rows_accounted_for


# -- file faults ------------------------------------------------------------------------------
def test_a_file_not_named_by_its_extract_date_fails(tmp_path):
    path = write(tmp_path, "referrals_latest.csv", [row()])
    with pytest.raises(FileFault, match=r"referrals_latest.csv: file name must be referrals_"):
        load([path])


def test_an_extract_dated_after_today_fails(tmp_path):
    path = write(tmp_path, "referrals_2030-01-01.csv", [row()])
    # today as the run sees it (TODAY here; COV_AS_OF in a run), named in the message
    with pytest.raises(
        FileFault,
        match=rf"extract date 2030-01-01 in the file name is after today \({TODAY}\)",
    ):
        load([path])


def test_a_wrong_header_fails_naming_the_columns(tmp_path):
    header = HEADER.replace("presenting_need", "need")
    path = write(tmp_path, "referrals_2024-04-01.csv", [row()], header=header)
    with pytest.raises(FileFault) as fault:
        load([path])
    assert str(fault.value) == (
        "referrals_2024-04-01.csv: wrong header: missing required column(s) 'presenting_need'; "
        "unexpected column(s) 'need'"
    )


def test_a_header_without_rows_fails(tmp_path):
    path = write(tmp_path, "referrals_2024-04-01.csv", [])
    with pytest.raises(FileFault, match="has a header but no referrals"):
        load([path])


def test_no_extracts_fails():
    with pytest.raises(FileFault, match="no referral extracts"):
        load([])


# -- damage as deliveries are damaged: the one raw reader's row and file faults (issue 13) ----
AN_EXTRA_FIELD = (
    "record has 11 fields, the header 10 (extra: '2024-02-01'; a comma in a field that is not "
    "quoted?)"
)


@pytest.mark.parametrize("at", [0, 2], ids=["first record", "later record"])
def test_an_unquoted_comma_is_a_fault_of_its_row_alone(tmp_path, at):
    # 'EDU,SCHOOL' unquoted: one field more than the header, in the first record or a later one
    rows = [row(f"R{n}", contact="2024-01-20", discharge="2024-02-01") for n in (1, 2, 3)]
    rows[at] = row(f"R{at + 1}", source="EDU,SCHOOL", contact="2024-01-20", discharge="2024-02-01")
    staged, reasons = one(tmp_path, *rows)
    assert reasons == {at + 2: AN_EXTRA_FIELD}
    others = {"R1": 2, "R2": 3, "R3": 4}
    del others[f"R{at + 1}"]
    assert dict(zip(staged["referral_id"], staged["line_number"], strict=True)) == others


def test_a_record_with_fields_missing_is_a_fault_of_its_row(tmp_path):
    short = ",".join(row("R1").split(",")[:7])
    staged, reasons = one(tmp_path, short, row("R2"))
    assert reasons == {2: "record has 7 fields, the header 10"}
    assert staged["referral_id"].tolist() == ["R2"]


def test_a_nul_byte_inside_a_field_is_a_fault_of_its_row(tmp_path):
    # the fields are in place: the row's other reasons follow, the NUL shown as \x00 in them
    # (PostgreSQL text holds no NUL); the record keeps it, as JSON writes it
    result = load(
        [write(tmp_path, "referrals_2024-04-01.csv", [row(lsoa="E010\x00001"), row("R2")])]
    )
    assert result.quarantine[["line_number", "reasons"]].values.tolist() == [
        [
            2,
            "NUL byte in lsoa_code | lsoa_code: 'E010\\x00001' is not an LSOA code (E01 or W01 "
            "and six digits)",
        ]
    ]
    assert '"lsoa_code":"E010\\u0000001"' in result.quarantine.loc[0, "record"]
    assert result.staging["referral_id"].tolist() == ["R2"]


def test_a_row_the_reader_could_not_read_takes_no_part_in_the_version_rules(tmp_path):
    # The unreadable R1 of the later extract is not R1's latest version (its fields, id
    # included, are not as delivered), nor a copy of the readable R1 beside it
    first = write(tmp_path, "referrals_2024-04-01.csv", [row("R1"), row("R2")])
    second = write(
        tmp_path,
        "referrals_2024-10-01.csv",
        [row("R2", source="EDU,SCHOOL", discharge="2024-02-01"), row("R1", need="HH")],
    )
    result = load([first, second])
    reasons = result.quarantine.set_index(["source_file", "line_number"])["reasons"].to_dict()
    assert reasons == {
        ("referrals_2024-10-01.csv", 2): "record has 11 fields, the header 10 (extra: "
        "'2024-02-01'; a comma in a field that is not quoted?)"
    }
    staged = result.staging.set_index("referral_id")
    assert staged.loc["R1", ["source_file", "extract_rows"]].tolist() == [
        "referrals_2024-10-01.csv", 2,
    ]  # fmt: skip
    assert staged.loc["R2", "source_file"] == "referrals_2024-04-01.csv"
    assert result.rows_accounted_for == result.input_rows == 4


def test_nul_padding_after_the_last_record_fails_naming_the_file(tmp_path):
    path = write(tmp_path, "referrals_2024-04-01.csv", [row()])
    path.write_bytes(path.read_bytes() + b"\0" * 64)
    with pytest.raises(FileFault) as fault:
        load([path])
    assert str(fault.value).startswith(
        "referrals_2024-04-01.csv: ends in 64 NUL byte(s) after its last record"
    )


def test_an_extract_with_its_extension_in_capitals_is_found_and_read(tmp_path):
    from cov_pipeline.raw_reader import discover
    from cov_pipeline.referrals import FILE_PATTERN

    path = write(tmp_path, "referrals_2025-06-01.CSV", [row()])
    (tmp_path / "notes.txt").write_text("not an extract")
    found = discover(tmp_path, FILE_PATTERN)
    assert (found.files, [p.name for p in found.ignored]) == ([path], ["notes.txt"])
    staged = load(found.files).staging
    assert staged.loc[0, "source_file"] == "referrals_2025-06-01.CSV"
    assert staged.loc[0, "extract_date"] == pd.Timestamp("2025-06-01")


def test_values_that_are_no_number_or_date_are_row_faults_even_in_a_whole_column(tmp_path):
    # every age and every referral date unreadable: reasons, not a conversion error
    staged, reasons = one(
        tmp_path,
        row("R1", age="1st", referred="1st"),
        row("R2", age="inf", referred="2024-13-01"),
        row("R3", age="NaN", referred="NaT"),
    )
    assert reasons == {
        2: "referral_date: '1st' is not a date (YYYY-MM-DD) | age: '1st' is not a whole number",
        3: "referral_date: '2024-13-01' is not a date (YYYY-MM-DD) | age: 'inf' is not a whole "
        "number",
        4: "referral_date: 'NaT' is not a date (YYYY-MM-DD) | age: 'NaN' is not a whole number",
    }
    assert staged.empty


def test_an_error_while_parsing_is_a_file_fault_naming_the_file(tmp_path, monkeypatch):
    import cov_pipeline.referrals.parsing as referrals

    def fails(values, convert):
        raise ValueError('Unable to parse string "1st" at position 0')

    monkeypatch.setattr(referrals, "by_value", fails)
    path = write(tmp_path, "referrals_2024-04-01.csv", [row()])
    with pytest.raises(FileFault) as fault:
        load([path])
    assert str(fault.value) == (
        "referrals_2024-04-01.csv: could not be parsed: nothing from this source was written "
        '(ValueError: Unable to parse string "1st" at position 0)'
    )


# -- waiting list and waiting times, by hand ---------------------------------------------------
# Six referrals; the extract taken on 2024-04-01 makes January to March 2024 the complete months.
#   R1 referred 2024-01-03, first contact 2024-01-10 (wait 7), discharged 2024-03-15
#   R2 referred 2024-01-10, first contact 2024-02-20 (wait 41), open
#   R3 referred 2024-01-20, no contact, closed 2024-02-05
#   R4 referred 2024-01-31, first contact 2024-03-31 (wait 60), open
#   R5 referred 2024-02-15, waiting
#   R6 referred 2024-03-02, waiting
# On the list at a month end E: referred on or before E, neither seen nor closed on or before E.
#   31 Jan: R2 (21 days), R3 (11), R4 (0)           -> 3 waiting, waits 0, 11, 21
#   29 Feb: R4 (29), R5 (14)                         -> 2 waiting, waits 14, 29
#   31 Mar: R5 (45), R6 (29); R4 was seen on 31 Mar  -> 2 waiting, waits 29, 45
WAITING_FIXTURE = [
    row("R1", "2024-01-03", contact="2024-01-10", discharge="2024-03-15", need="SM"),
    row("R2", "2024-01-10", contact="2024-02-20", need="SM"),
    row("R3", "2024-01-20", discharge="2024-02-05", need="HH"),
    row("R4", "2024-01-31", contact="2024-03-31", need="HH"),
    row("R5", "2024-02-15", need="SM"),
    row("R6", "2024-03-02", need="HH"),
]


@pytest.fixture
def six(tmp_path) -> pd.DataFrame:
    result = load([write(tmp_path, "referrals_2024-04-01.csv", WAITING_FIXTURE)])
    assert result.quarantine.empty
    return result.staging


def test_waiting_list_snapshots_match_the_hand_list(six):
    months = pd.date_range("2024-01-01", "2024-03-01", freq="MS")
    rows, position, waited = waiting_snapshots(
        six["referral_date"], six["first_contact_date"], six["discharge_date"], months
    )
    ids = six["referral_id"].to_numpy()[rows]
    got = sorted(zip(position.tolist(), ids.tolist(), waited.tolist(), strict=True))
    assert got == [
        (0, "R2", 21), (0, "R3", 11), (0, "R4", 0),
        (1, "R4", 29), (1, "R5", 14),
        (2, "R5", 45), (2, "R6", 29),
    ]  # fmt: skip


def test_waiting_figures_match_the_hand_calculation(six):
    figures = waiting_figures(six, threshold_days=42)
    everyone = figures[figures["breakdown"] == "All"].set_index("month")
    assert everyone.index.tolist() == list(pd.date_range("2024-01-01", periods=3, freq="MS"))
    assert everyone["month_end"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-31", "2024-02-29", "2024-03-31",
    ]  # fmt: skip
    assert everyone["waiting_list"].tolist() == [3, 2, 2]
    # medians: Jan 0, 11, 21 -> 11; Feb 14, 29 -> (14 + 29) / 2 = 21.5; Mar 29, 45 -> 37
    assert everyone["waiting_median_days"].tolist() == [11.0, 21.5, 37.0]
    # P90: Jan h = 2 × 0.9 = 1.8 -> 11 + 0.8 × (21 - 11) = 19
    #      Feb h = 1 × 0.9 = 0.9 -> 14 + 0.9 × (29 - 14) = 27.5
    #      Mar h = 0.9           -> 29 + 0.9 × (45 - 29) = 43.4
    assert everyone["waiting_p90_days"].tolist() == pytest.approx([19.0, 27.5, 43.4])
    # over 42 days: only R5 at 31 March (45 days)
    assert everyone["waiting_over_threshold"].tolist() == [0, 0, 1]
    assert everyone["wait_threshold_days"].tolist() == [42, 42, 42]
    # first seen: Jan R1 (7), Feb R2 (41), Mar R4 (60); one each, so median = P90 = the wait
    assert everyone["first_seen"].tolist() == [1, 1, 1]
    assert everyone["first_seen_median_wait_days"].tolist() == [7.0, 41.0, 60.0]
    assert everyone["first_seen_p90_wait_days"].tolist() == [7.0, 41.0, 60.0]
    # discharges: Feb R3 (closed before contact), Mar R1
    assert everyone["discharges"].tolist() == [0, 1, 1]

    # by presenting need: hidden harm is R3, R4, R6
    hidden = figures[figures["category"] == "Hidden harm"].set_index("month")
    # Jan: R3 (11), R4 (0) -> median 5.5, P90 0 + 0.9 × 11 = 9.9; Feb: R4 (29); Mar: R6 (29)
    assert hidden["waiting_list"].tolist() == [2, 1, 1]
    assert hidden["waiting_median_days"].tolist() == pytest.approx([5.5, 29.0, 29.0])
    assert hidden["waiting_p90_days"].tolist() == pytest.approx([9.9, 29.0, 29.0])
    nobody = figures[figures["category"] == "Youth justice"]
    assert (nobody["waiting_list"] == 0).all() and nobody["waiting_median_days"].isna().all()


def test_a_threshold_from_configuration_changes_the_count_over_it(six):
    figures = waiting_figures(six, threshold_days=28)
    everyone = figures[figures["breakdown"] == "All"]
    # over 28 days: Feb R4 (29); Mar R5 (45), R6 (29)
    assert everyone["waiting_over_threshold"].tolist() == [0, 1, 2]


def test_the_waiting_mart_keeps_small_counts_and_the_published_table_withholds_them(six):
    mart = referral_waiting(six)
    assert list(mart.columns) == list(WAITING_DESCRIPTIONS)
    everyone = mart[mart["breakdown"] == "All"]
    assert everyone["waiting_list"].tolist() == [3, 2, 2]  # the team's mart: full detail
    assert everyone["waiting_median_days"].notna().all()

    table = publish({"referral_waiting": mart}, [REFERRAL_WAITING]).tables["referral_waiting"]
    assert set(table["month"].dt.month) == {3}  # quarter ends only
    march = table[table["breakdown"] == "All"].iloc[0]
    assert pd.isna(march["waiting_list"]) and pd.isna(march["waiting_median_days"])
    assert march["is_suppressed"]
    assert not [c for c in table.columns if "_spc_" in c or c.startswith("first_seen")]


# -- demand, by hand ------------------------------------------------------------------------
def referrals_by_month(counts: list[int], start: str = "2022-01-01") -> list[str]:
    """counts[m] referrals in month m, all on the 5th, need SM (rows for an extract)."""
    months = pd.date_range(start, periods=len(counts), freq="MS")
    rows, n = [], 0
    for month, count in zip(months, counts, strict=True):  # a fixture of a few hundred rows
        for _ in range(count):
            n += 1
            day = (month + pd.Timedelta(days=4)).strftime("%Y-%m-%d")
            rows.append(row(f"R{n}", day, contact=day, discharge=day))
    return rows


def test_rolling_total_and_change_on_last_year_by_hand(tmp_path):
    # 14 months, January 2022 to February 2023: 10, 11, ..., 23 referrals
    counts = list(range(10, 24))
    path = write(tmp_path, "referrals_2023-03-01.csv", referrals_by_month(counts))
    staged = load([path]).staging
    everyone = monthly_referrals(staged).query("breakdown == 'All'").set_index("month")
    assert everyone["referrals"].tolist() == counts
    rolling = everyone["referrals_rolling_12m"]
    assert rolling.iloc[:11].isna().all()
    # Dec 2022: 10 + 11 + ... + 21 = 12 × (10 + 21) / 2 = 186; Jan 2023: 186 - 10 + 22 = 198;
    # Feb 2023: 198 - 11 + 23 = 210
    assert rolling.iloc[11:].tolist() == [186, 198, 210]
    # Jan 2023 (22) against Jan 2022 (10): +12, +120.0%; Feb 2023 (23) against 11: +12, +109.1%
    assert everyone["referrals_same_month_last_year"].iloc[12:].tolist() == [10, 11]
    assert everyone["change_on_last_year"].iloc[12:].tolist() == [12, 12]
    assert everyone["change_on_last_year_pct"].iloc[12:].tolist() == [120.0, 109.1]
    assert everyone["change_on_last_year"].iloc[:12].isna().all()


def test_the_trend_mart_is_neutral_on_demand_and_withholds_small_counts(tmp_path):
    # 20 quiet months of 10 then 10 busy months of 40: a rise, neither good nor bad
    counts = [10] * 20 + [40] * 10
    path = write(tmp_path, "referrals_2024-07-01.csv", referrals_by_month(counts))
    mart = referral_trends(load([path]).staging)
    assert list(mart.columns) == list(TRENDS_DESCRIPTIONS)
    everyone = mart[mart["breakdown"] == "All"]
    assert set(everyone["spc_variation"].iloc[20:]) == {"special_cause_high"}
    assert not {"improvement", "concern"} & set(mart["spc_variation"].dropna())
    # every referral is female: the male, indeterminate and not known rows are true zeros
    male = mart[(mart["breakdown"] == "Sex") & (mart["category"] == "Male")]
    assert (male["referrals"] == 0).all()
    assert set(mart["breakdown"]) == {
        "All", "Presenting need", "Referral source", "Age band", "Sex", "Ethnic group",
        "Deprivation group", "IMD quintile",
    }  # fmt: skip


def test_the_trend_mart_keeps_small_counts_and_publishes_quarters_and_years(tmp_path):
    counts = [5] * 12 + [20, 6]
    path = write(tmp_path, "referrals_2023-03-01.csv", referrals_by_month(counts))
    mart = referral_trends(load([path]).staging)
    everyone = mart.query("breakdown == 'All'")
    # the team's mart: every month, small or not, with its change on a year earlier
    jan, feb = everyone.iloc[12], everyone.iloc[13]
    assert (jan["referrals"], jan["referrals_same_month_last_year"]) == (20, 5)
    assert jan["change_on_last_year"] == 15 and feb["referrals"] == 6
    assert everyone["referrals_rolling_12m"].iloc[11] == 60
    # published: complete quarters and years only (Q1 2023 lacks March): 15 a quarter, 60 a year
    table = publish({"referral_trends": mart}, [REFERRAL_TRENDS]).tables["referral_trends"]
    everyone = table[table["breakdown"] == "All"].set_index(["period_type", "period_start"])
    assert everyone.loc["quarter", "referrals"].tolist() == [15, 15, 15, 15]
    assert everyone.loc[("year", pd.Timestamp("2022-01-01")), "referrals"] == 60
    assert not (table["period_start"] >= pd.Timestamp("2023-01-01")).any()


def thirty_in_january(contact: str = "") -> list[str]:
    """30 referrals on 5 January 2024: 25 girls (sex 2) and 5 boys (sex 1), all else alike."""
    return [
        row(f"R{n}", "2024-01-05", sex="1" if n <= 5 else "2", contact=contact)
        for n in range(1, 31)
    ]


MONTHLY_TRENDS = TableSpec(
    "referral_trends",
    ("month", "breakdown", "category"),
    (Count("referrals"),),
    margins=REFERRAL_TRENDS.margins,
)


def test_a_breakdown_cannot_give_back_a_withheld_category(tmp_path):
    # January 2024: All 30, Female 25, Male 5. Male is withheld (1-7); 30 - 25 would give it
    # back, so Female is withheld too (the smallest non-zero other cell), and not the All row.
    # Indeterminate and Not known are 0: zero is shown and withholding it would protect nothing.
    # (The engine on the month's cells with the published table's relations.)
    path = write(tmp_path, "referrals_2024-02-01.csv", thirty_in_january())
    mart = referral_trends(load([path]).staging)
    mart = publish({"referral_trends": mart}, [MONTHLY_TRENDS]).tables["referral_trends"]
    mart = mart.set_index(["breakdown", "category"])
    assert mart.loc[("All", "All referrals"), "referrals"] == 30
    sex = mart.loc["Sex"]
    assert sex["referrals"].isna().to_dict() == {
        "Female": True, "Male": True, "Indeterminate": False, "Not known": False,
    }  # fmt: skip
    assert sex["is_suppressed"].to_dict() == sex["referrals"].isna().to_dict()
    # every other breakdown puts all 30 in one category: nothing to withhold there
    others = mart.drop(index=["Sex"], level="breakdown")
    assert others["referrals"].notna().all()
    assert set(others["referrals"]) == {0, 30}


def test_the_waiting_mart_protects_its_breakdowns_too(tmp_path):
    # the same 30, none seen by 31 January (26 days waited each): the list splits 25 / 5 by sex
    path = write(tmp_path, "referrals_2024-02-01.csv", thirty_in_january())
    whole = dataclasses.replace(REFERRAL_WAITING, select=lambda frame: frame)
    mart = referral_waiting(load([path]).staging)
    mart = publish({"referral_waiting": mart}, [whole]).tables["referral_waiting"]
    mart = mart.set_index(["breakdown", "category"])
    assert mart.loc[("All", "All referrals"), "waiting_list"] == 30
    assert mart.loc[("All", "All referrals"), "waiting_median_days"] == 26
    sex = mart.loc["Sex"]
    assert sex.loc[["Female", "Male"], "waiting_list"].isna().all()
    assert sex.loc[["Female", "Male"], "waiting_median_days"].isna().all()
    # nobody over the threshold: zeros are shown (they tell nothing of the withheld lists)
    assert (sex.loc[["Female", "Male"], "waiting_over_threshold"] == 0).all()
    assert (sex.loc[["Indeterminate", "Not known"], "waiting_list"] == 0).all()
    assert mart.loc[("Presenting need", "Substance misuse"), "waiting_list"] == 30


@pytest.mark.parametrize(
    ("rows", "name", "staged_rows"),
    [
        # every row quarantined (age 9 is under the service's range): staging has no rows
        ([row(age="9"), row("R2", age="9")], "referrals_2024-05-01.csv", 0),
        # referrals only in the month the extract was taken: no complete month to report
        (
            [row(referred="2024-05-03"), row("R2", referred="2024-05-04")],
            "referrals_2024-05-20.csv",
            2,
        ),
    ],
)
def test_no_month_to_report_gives_empty_marts_of_the_usual_columns_and_types(
    tmp_path, six, rows, name, staged_rows
):
    staged, _ = one(tmp_path, *rows, name=name)
    assert len(staged) == staged_rows
    for build, columns in (
        (referral_trends, TRENDS_DESCRIPTIONS),
        (referral_waiting, WAITING_DESCRIPTIONS),
    ):
        mart = build(staged)
        assert len(mart) == 0
        assert list(mart.columns) == list(columns)
        # the types of a mart with rows (six referrals over three months)
        pd.testing.assert_series_equal(mart.dtypes, build(six).dtypes)
    trends = referral_trends(staged)
    assert trends["month"].dtype == "datetime64[ns]" and trends["referrals"].dtype == "int64"


def test_spc_settings_for_the_three_measures_are_configured():
    settings = load_spc_settings()
    assert settings["referrals"].improvement == "neutral"
    assert settings["waiting_list"].improvement == "down"
    assert settings["median_wait_days"].improvement == "down"


# -- speed work (issue #7): the shortcuts give what the plain computation gives ---------------
def test_fields_padded_with_whitespace_are_trimmed_before_they_are_read(tmp_path):
    # tabs, spaces and a no-break space around fields: read as the trimmed text
    padded = row(" R1", "2024-01-10\t", " 15 ", "2\u00a0", " A", "E01000001 ", " EDU", "SM ")
    staged, reasons = one(tmp_path, padded, row("R2"))
    assert reasons == {}
    r1 = staged.set_index("referral_id").loc["R1"]
    assert (r1["referral_date"], r1["age"], r1["sex"]) == (pd.Timestamp("2024-01-10"), 15, "Female")
    assert (r1["ethnic_group"], r1["imd_decile"], r1["referral_source"]) == (
        "White British",
        2,
        "Education (school or college)",
    )


def test_validating_only_the_rows_that_may_fail_reports_what_pandera_reports(tmp_path):
    # pandera on the whole frame is the oracle: the same failure cases, in the same order
    import pandera.errors as pa_errors

    from cov_pipeline.quality import rows_that_may_fail
    from cov_pipeline.referrals import (
        ReferralRecord,
        delivered_text,
        parse_referrals,
        read_referral_file,
    )

    rows = [row(f"R{n}") for n in range(1, 41)]
    rows[3] = row("R4", age="9")
    rows[7] = row("R8", sex="7", lsoa="E0100001", contact="2024-01-02")
    rows[12] = row("R13", referred="2017-12-31", source="", need="XX")
    rows[20] = row("R21", contact="2024-05-01", discharge="2024-01-05")
    rows[33] = row("", age="", ethnic="Q")
    path = write(tmp_path, "referrals_2024-04-01.csv", rows)
    raw, _, _ = read_referral_file(path, TODAY)
    typed, _, _ = parse_referrals(raw, delivered_text(raw))

    def failure_cases(frame: pd.DataFrame) -> pd.DataFrame:
        with pytest.raises(pa_errors.SchemaErrors) as caught:
            ReferralRecord.validate(frame, lazy=True)
        return caught.value.failure_cases.reset_index(drop=True)

    marked = rows_that_may_fail(ReferralRecord.to_schema(), typed)
    assert np.flatnonzero(marked).tolist() == [3, 7, 12, 20, 33]
    pd.testing.assert_frame_equal(failure_cases(typed[marked]), failure_cases(typed))


def test_the_marts_read_only_their_input_columns(six):
    from cov_pipeline.referrals import TRENDS_INPUT_COLUMNS, WAITING_INPUT_COLUMNS

    assert set(TRENDS_INPUT_COLUMNS) < set(WAITING_INPUT_COLUMNS) < set(six.columns)
    trends, waiting = six[TRENDS_INPUT_COLUMNS], six[WAITING_INPUT_COLUMNS]
    pd.testing.assert_frame_equal(referral_trends(trends), referral_trends(six))
    pd.testing.assert_frame_equal(referral_waiting(waiting), referral_waiting(six))


def test_percentiles_per_cell_are_those_of_pandas_groupby_quantile():
    from cov_pipeline.referrals import _percentiles

    rng = np.random.default_rng(7)
    # two breakdowns (grid positions 0-4 and 5-9); whole days, then fractions; some missing
    cells = np.column_stack([rng.integers(0, 5, 300), rng.integers(5, 10, 300)])
    for values in (rng.integers(0, 90, 300).astype(float), rng.normal(20, 9, 300)):
        values[::17] = np.nan
        grouped = pd.Series(np.repeat(values, 2)).groupby(cells.ravel())
        for got, q in zip(_percentiles(cells, values, 10), (0.5, 0.9), strict=True):
            np.testing.assert_array_equal(got, grouped.quantile(q).reindex(range(10)).to_numpy())


def test_a_month_rebuilt_from_its_referrals_gives_the_marts_of_a_full_build(tmp_path, six):
    from cov_pipeline.months import RebuildWhole
    from cov_pipeline.referrals import reporting_months
    from cov_pipeline.referrals.by_month import (
        referral_trends_for_months,
        referral_waiting_for_months,
    )

    # R5 (referred in February, waiting at the February and March month ends) corrected
    fixture = [
        row("R5", "2024-02-15", need="HH") if r.startswith("R5,") else r for r in WAITING_FIXTURE
    ]
    (tmp_path / "corrected").mkdir()
    corrected = load([write(tmp_path / "corrected", "referrals_2024-04-01.csv", fixture)]).staging
    february = [pd.Timestamp("2024-02-01")]
    reporting = reporting_months(corrected)
    in_february = corrected[corrected["referral_date"].dt.month == 2]
    open_then = corrected[
        corrected["first_contact_date"].isna()
        | corrected["discharge_date"].isna()
        | (corrected["first_contact_date"] >= february[0])
        | (corrected["discharge_date"] >= february[0])
    ]
    trends = referral_trends_for_months(referral_trends(six), in_february, february, reporting)
    pd.testing.assert_frame_equal(trends, referral_trends(corrected))
    waiting = referral_waiting_for_months(
        referral_waiting(six, 42), open_then, february, reporting, 42
    )
    pd.testing.assert_frame_equal(waiting, referral_waiting(corrected, 42))
    assert not waiting.equals(referral_waiting(six, 42))

    # a stored mart that cannot be the base: rebuilt whole, saying why
    with pytest.raises(RebuildWhole, match="outside the mart's months"):
        referral_trends_for_months(trends, in_february, [pd.Timestamp("2025-01-01")], reporting)
    with pytest.raises(RebuildWhole, match="does not read back"):
        referral_trends_for_months(
            trends.drop(columns="referrals"), in_february, february, reporting
        )
    with pytest.raises(RebuildWhole, match="another threshold"):
        referral_waiting_for_months(waiting, open_then, february, reporting, 28)
