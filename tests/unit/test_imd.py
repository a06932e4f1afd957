"""The IMD lookup by LSOA: File 1 and File 7 layouts, both vintages, and every file fault."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cov_pipeline import settings
from cov_pipeline.imd import OUTPUT_DESCRIPTIONS, load_imd, resolve_vintage
from cov_pipeline.quality import FileFault
from cov_pipeline.sample_data.deprivation import generate_deprivation, synthetic_imd_lookup

REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "real-data"
REAL_IMD = REAL_DATA / "imd2019_coventry.csv"

FILE_1 = (
    "LSOA code (2011),LSOA name (2011),Local Authority District code (2019),"
    "Local Authority District name (2019),Index of Multiple Deprivation (IMD) Rank,"
    "Index of Multiple Deprivation (IMD) Decile\n"
)
# File 7 of IoD 2019: scores, ranks and deciles of every domain; the IMD columns are in between.
FILE_7 = (
    "LSOA code (2011),LSOA name (2011),Local Authority District code (2019),"
    "Local Authority District name (2019),Index of Multiple Deprivation (IMD) Score,"
    "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived),"
    "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs),"
    "Income Score (rate),Income Rank (where 1 is most deprived),"
    "Income Decile (where 1 is most deprived 10% of LSOAs),Total population: mid 2015 "
    "(excluding prisoners)\n"
)
IOD_2025 = (
    "LSOA code (2021),LSOA name (2021),Local Authority District code (2024),"
    "Local Authority District name (2024),Index of Multiple Deprivation (IMD) Score,"
    "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived),"
    "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)\n"
)


def write(folder: Path, name: str, text: str, bom: bool = True) -> Path:
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def fault_of(paths: list[Path], vintage: str = "IMD2019") -> str:
    with pytest.raises(FileFault) as caught:
        load_imd(paths, vintage)
    return str(caught.value)


@pytest.mark.skipif(not REAL_IMD.exists(), reason=f"real IMD file not present at {REAL_IMD}")
def test_real_file_1_has_195_coventry_lsoas_78_in_deciles_1_to_3():
    load = load_imd([REAL_IMD], "IMD2019")
    table = load.table
    assert len(table) == 195
    assert int(table["is_most_deprived_30pct"].sum()) == 78
    assert int(table["imd_decile"].between(1, 3).sum()) == 78
    assert set(table["lad_code"]) == {"E08000026"}
    assert table["lsoa_code"].is_unique
    # The file's first record, read by eye: E01009522,Coventry 014A,...,"11,101",4
    first = table.set_index("lsoa_code").loc["E01009522"]
    assert (first["lsoa_name"], first["imd_rank"], first["imd_decile"]) == (
        "Coventry 014A",
        11101,
        4,
    )
    assert first["imd_quintile"] == 2
    assert set(table["imd_vintage"]) == {"IMD2019"}
    assert set(table["lsoa_vintage"]) == {"2011"}
    assert list(table.columns) == list(OUTPUT_DESCRIPTIONS)
    assert load.files[0].rows == 195


def test_file_7_long_headers_bom_and_thousands_separators(tmp_path):
    path = write(
        tmp_path,
        "imd2019_file7.csv",
        FILE_7
        + 'E01000001,City of London 001A,E09000001,City of London,6.208,"29,199",9,0.007,"32,831",10,1296\n'
        + 'E01000005,City of London 001E,E09000001,City of London,32.236,"5,454",2,0.207,"3,705",2,1099\n',
    )
    table = load_imd([path], "IMD2019").table
    assert table["lsoa_code"].tolist() == ["E01000001", "E01000005"]
    assert table["imd_rank"].tolist() == [29199, 5454]
    assert table["imd_decile"].tolist() == [9, 2]
    assert table["imd_quintile"].tolist() == [5, 1]
    assert table["is_most_deprived_30pct"].tolist() == [False, True]
    assert table["source_file"].tolist() == ["imd2019_file7.csv"] * 2


def test_iod_2025_on_2021_lsoas(tmp_path):
    path = write(
        tmp_path,
        "imd2025_file1.csv",
        IOD_2025 + 'E01033750,Coventry 045A,E08000026,Coventry,41.2,"3,001",1\n',
    )
    table = load_imd([path], "IoD2025").table
    row = table.iloc[0]
    assert (row["lsoa_code"], row["imd_rank"], row["imd_decile"]) == ("E01033750", 3001, 1)
    assert (row["imd_vintage"], row["lsoa_vintage"]) == ("IoD2025", "2021")
    assert bool(row["is_most_deprived_30pct"]) is True


def test_the_configured_vintage_picks_its_files_and_leaves_the_others(tmp_path):
    old = write(
        tmp_path, "imd2019.csv", FILE_1 + 'E01009522,Coventry 014A,E08000026,Coventry,"11,101",4\n'
    )
    new = write(
        tmp_path, "imd2025.csv", IOD_2025 + "E01033750,Coventry 045A,E08000026,Coventry,1,3001,1\n"
    )
    load_2019 = load_imd([new, old], "IMD2019")
    assert load_2019.table["lsoa_code"].tolist() == ["E01009522"]
    assert load_2019.skipped == {"imd2025.csv": "IoD2025"}
    load_2025 = load_imd([new, old], "iod2025")  # case ignored
    assert load_2025.table["lsoa_code"].tolist() == ["E01033750"]
    assert load_2025.skipped == {"imd2019.csv": "IMD2019"}


def test_deciles_give_quintiles_and_the_most_deprived_30_percent(tmp_path):
    rows = "".join(
        f"E0100{1000 + d:04d},Somewhere {d:03d}A,E08000026,Coventry,{d * 3000},{d}\n"
        for d in range(1, 11)
    )
    table = load_imd([write(tmp_path, "imd.csv", FILE_1 + rows)], "IMD2019").table
    assert table["imd_quintile"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert table["is_most_deprived_30pct"].tolist() == [True] * 3 + [False] * 7


def test_a_missing_column_is_a_file_fault(tmp_path):
    header = FILE_1.replace(",Index of Multiple Deprivation (IMD) Decile", "")
    path = write(
        tmp_path,
        "imd_no_decile.csv",
        header + 'E01009522,Coventry 014A,E08000026,Coventry,"11,101"\n',
    )
    assert fault_of([path]) == (
        "imd_no_decile.csv: missing required column(s): 'Index of Multiple Deprivation (IMD) "
        "Decile' (not the official File 1 or File 7 layout of the English Indices of Deprivation)"
    )


def test_a_decile_outside_1_to_10_is_a_file_fault(tmp_path):
    path = write(
        tmp_path,
        "imd_bad_decile.csv",
        FILE_1
        + "E01009522,Coventry 014A,E08000026,Coventry,11101,4\n"
        + "E01009523,Coventry 010A,E08000026,Coventry,17853,11\n",
    )
    assert fault_of([path]) == (
        "imd_bad_decile.csv: Index of Multiple Deprivation (IMD) Decile is outside 1-10: "
        "line 3 ('11')"
    )


def test_a_duplicated_lsoa_is_a_file_fault(tmp_path):
    path = write(
        tmp_path,
        "imd_duplicate.csv",
        FILE_1
        + "E01009522,Coventry 014A,E08000026,Coventry,11101,4\n"
        + "E01009523,Coventry 010A,E08000026,Coventry,17853,6\n"
        + "E01009522,Coventry 014A,E08000026,Coventry,11101,4\n",
    )
    assert fault_of([path]) == (
        "imd_duplicate.csv: LSOA code (2011) is duplicated: lines 2 ('E01009522'), 4 ('E01009522')"
    )


def test_an_lsoa_in_two_files_is_a_file_fault(tmp_path):
    row = "E01009522,Coventry 014A,E08000026,Coventry,11101,4\n"
    a = write(tmp_path, "imd2019_a.csv", FILE_1 + row)
    b = write(
        tmp_path,
        "imd2019_b.csv",
        FILE_1 + "E01009523,Coventry 010A,E08000026,Coventry,17853,6\n" + row,
    )
    assert fault_of([a, b]) == (
        "imd2019_b.csv: LSOA code(s) in more than one IMD2019 file: E01009522 in "
        "imd2019_a.csv line 2 and imd2019_b.csv line 3"
    )


def test_a_rank_that_is_not_a_number_is_a_file_fault(tmp_path):
    path = write(
        tmp_path, "imd_text_rank.csv", FILE_1 + "E01009522,Coventry 014A,E08000026,Coventry,n/a,4\n"
    )
    assert fault_of([path]) == (
        "imd_text_rank.csv: Index of Multiple Deprivation (IMD) Rank is not a whole number: "
        "line 2 ('n/a')"
    )


def test_a_malformed_lsoa_code_and_a_blank_decile_are_file_faults(tmp_path):
    path = write(
        tmp_path, "imd_blank.csv", FILE_1 + "E0100952,Coventry 014A,E08000026,Coventry,11101,\n"
    )
    assert fault_of([path]) == (
        "imd_blank.csv: LSOA code (2011) is not an English LSOA code (E01 and six digits): "
        "line 2 ('E0100952'); Index of Multiple Deprivation (IMD) Decile is blank: line 2 ('')"
    )


def test_no_file_of_the_configured_vintage(tmp_path):
    path = write(
        tmp_path, "imd2019.csv", FILE_1 + "E01009522,Coventry 014A,E08000026,Coventry,11101,4\n"
    )
    assert fault_of([path], "IoD2025") == (
        "imd*.csv: no file of the configured vintage IoD2025 (COV_IMD_VINTAGE; header "
        "'LSOA code (2021)'): imd2019.csv is IMD2019"
    )
    assert fault_of([]) == "imd*.csv: no IMD lookup file found"


def test_an_earlier_release_is_not_taken_for_imd2019(tmp_path):
    header = FILE_1.replace("(2019)", "(2013)")
    path = write(
        tmp_path, "imd2015.csv", header + "E01009522,Coventry 014A,E08000026,Coventry,11101,4\n"
    )
    assert fault_of([path]) == (
        "imd2015.csv: 'Local Authority District code (2013)' with 2011 LSOAs: IMD2019 files give "
        "2019 districts (is this an earlier release?)"
    )


def test_a_file_that_is_not_utf8_is_a_file_fault(tmp_path):
    path = tmp_path / "imd_latin1.csv"
    path.write_bytes((FILE_1 + "E01009522,Ynys M\xf4n 001A,W06000001,x,1,1\n").encode("latin-1"))
    assert fault_of([path]).startswith("imd_latin1.csv: not UTF-8: byte 0xf4 at offset")


def test_vintage_setting(monkeypatch):
    monkeypatch.delenv("COV_IMD_VINTAGE", raising=False)
    assert settings.imd_vintage() == "IMD2019"
    monkeypatch.setenv("COV_IMD_VINTAGE", "IoD2025")
    assert resolve_vintage(settings.imd_vintage()).lsoa_vintage == "2021"
    with pytest.raises(ValueError, match=r"unknown IMD vintage 'IMD2015' \(COV_IMD_VINTAGE\)"):
        resolve_vintage("IMD2015")


def test_synthetic_lookup_is_coventry_like_fixed_and_loads(tmp_path):
    first = synthetic_imd_lookup(np.random.default_rng(1))
    second = synthetic_imd_lookup(np.random.default_rng(2))
    pd.testing.assert_frame_equal(first, second)  # the same whatever generator a caller passes
    assert len(first) == 195
    assert int((first["imd_decile"] <= 3).sum()) == 78
    assert first["lsoa_code"].str.fullmatch(r"E01009\d{3}").all()
    # each rank lies in its decile's national band: decile d holds ranks (d-1)N/10+1 .. dN/10
    band = np.ceil(first["imd_rank"] * 10 / 32_844).astype(int)
    assert (band == first["imd_decile"]).all()

    (path,) = generate_deprivation(tmp_path, np.random.default_rng(3))
    assert path.read_bytes().startswith(b"\xef\xbb\xbfLSOA code (2011),LSOA name (2011)")
    assert b'"' in path.read_bytes()  # ranks over 999 quoted with a thousands separator
    table = load_imd([path], "IMD2019").table
    assert table["lsoa_code"].tolist() == first["lsoa_code"].tolist()
    assert table["imd_rank"].tolist() == first["imd_rank"].tolist()
    assert int(table["is_most_deprived_30pct"].sum()) == 78


def test_a_rank_beyond_the_whole_numbers_read_exactly_is_a_file_fault(tmp_path):
    # 1e300 and 2**64 are whole numbers as floats, too large for an int64: a fault, not a crash
    rows = "E01009522,Coventry 014A,E08000026,Coventry,1e300,4\n"
    rows += "E01009523,Coventry 015A,E08000026,Coventry,18446744073709551616,4\n"
    path = write(tmp_path, "imd_huge_rank.csv", FILE_1 + rows)
    assert fault_of([path]).startswith(
        "imd_huge_rank.csv: Index of Multiple Deprivation (IMD) Rank is not a whole number: "
    )


# -- records the raw reader could not read as delivered: faults of the file, never dropped ------
GOOD = 'E01009522,Coventry 014A,E08000026,Coventry,"11,101",4\n'
OTHER = "E01009523,Coventry 010A,E08000026,Coventry,17853,6\n"
# A rank with a thousands separator the exporter did not quote: one field too many.
UNQUOTED_RANK = "E01009524,Coventry 010B,E08000026,Coventry,17,853,6\n"
EXTRA_FIELD = (
    "record has 7 fields, the header 6 (extra: '6'; a comma in a field that is not quoted?)"
)


@pytest.mark.parametrize(
    ("rows", "line"),
    [(UNQUOTED_RANK + OTHER, 2), (GOOD + OTHER + UNQUOTED_RANK, 4)],  # first record, or later
)
def test_an_extra_unquoted_comma_is_a_file_fault_naming_its_line(tmp_path, rows, line):
    path = write(tmp_path, "imd_comma.csv", FILE_1 + rows)
    assert fault_of([path]) == f"imd_comma.csv: {EXTRA_FIELD}: line {line}"


def test_a_nul_byte_inside_a_field_is_a_file_fault_naming_its_line(tmp_path):
    path = write(tmp_path, "imd_nul.csv", FILE_1 + GOOD + OTHER.replace("010A", "010A\0"))
    assert fault_of([path]) == "imd_nul.csv: NUL byte in LSOA name (2011): line 3"


def test_cleared_rows_are_file_faults_not_dropped(tmp_path):
    # Each cleared row is named once (not also as a blank code, name, rank and decile); a blank
    # line is no record and no fault.
    rows = GOOD + ",,,,,\n" + "\n" + OTHER + " , ,,,,\n"
    path = write(tmp_path, "imd_cleared.csv", FILE_1 + rows)
    assert fault_of([path]) == "imd_cleared.csv: every field is empty (a cleared row): lines 3, 6"


def test_a_file_7_row_blank_in_the_lookup_columns_only_is_not_dropped(tmp_path):
    path = write(
        tmp_path,
        "imd2019_file7.csv",
        FILE_7
        + 'E01000001,City of London 001A,E09000001,City of London,6.208,"29,199",9,0.007,"32,831",10,1296\n'
        + ",,,,6.208,,,0.007,,10,1296\n",
    )
    assert fault_of([path]).startswith("imd2019_file7.csv: LSOA code (2011) is blank: line 3 ('')")


def test_nul_padding_after_the_last_record_is_a_file_fault(tmp_path):
    path = tmp_path / "imd_cut.csv"
    path.write_bytes((FILE_1 + GOOD + OTHER).encode("utf-8") + b"\0" * 4)
    assert fault_of([path]) == (
        "imd_cut.csv: ends in 4 NUL byte(s) after its last record: the copy was cut short; send "
        "the file again"
    )


def test_an_upper_case_csv_extension_is_read(tmp_path):
    from resources.raw_files import RawFilesResource

    (tmp_path / "reference").mkdir()
    write(tmp_path / "reference", "imd2019_lsoa.CSV", FILE_1 + GOOD + OTHER)
    paths = RawFilesResource(raw_dir=str(tmp_path)).files("reference", "imd*.csv")
    load = load_imd(paths, "IMD2019")
    assert load.table["lsoa_code"].tolist() == ["E01009522", "E01009523"]
    assert load.table["source_file"].tolist() == ["imd2019_lsoa.CSV"] * 2


@pytest.mark.parametrize(
    "code",
    [
        "E01\u0660\u0660\u0669523",  # Arabic-Indic digits: not 0-9
        "E0100952\uff13",  # a full-width digit
        "e01009523",
    ],
)
def test_lsoa_codes_follow_the_ons_pattern_in_ascii_digits(tmp_path, code):
    path = write(tmp_path, "imd_digits.csv", FILE_1 + GOOD + OTHER.replace("E01009523", code))
    assert fault_of([path]) == (
        "imd_digits.csv: LSOA code (2011) is not an English LSOA code (E01 and six digits): "
        f"line 3 ({code!r})"
    )


def test_a_district_code_in_other_digits_is_a_file_fault(tmp_path):
    code = "E0800002\u0666"
    path = write(tmp_path, "imd_lad.csv", FILE_1 + GOOD.replace("E08000026", code))
    assert fault_of([path]) == (
        "imd_lad.csv: Local Authority District code (2019) is not a local authority district "
        f"code (E06-E09 and six digits): line 2 ({code!r})"
    )


def test_a_file_of_another_vintage_is_left_aside_without_parsing_its_records(tmp_path):
    old = write(tmp_path, "imd2019.csv", FILE_1 + GOOD)
    # its records would be faults were it read: it is not the configured vintage
    new = write(tmp_path, "imd2025.csv", IOD_2025 + ",,,,,,\nE01033750,x,1,2\n")
    load = load_imd([old, new], "IMD2019")
    assert load.table["lsoa_code"].tolist() == ["E01009522"]
    assert load.skipped == {"imd2025.csv": "IoD2025"}


def test_a_name_repeated_among_the_columns_not_used_is_read(tmp_path):
    header = FILE_1.replace("\n", ",Note,Note,Note (column 7)\n")
    rows = GOOD.replace("\n", ",a,b,c\n") + OTHER.replace("\n", ",a,\0,c\n")
    path = write(tmp_path, "imd_notes.csv", header + rows)
    assert fault_of([path]) == "imd_notes.csv: NUL byte in Note (column 8): line 3"
    path = write(tmp_path, "imd_notes.csv", header + rows.replace("\0", "b"))
    assert load_imd([path], "IMD2019").table["lsoa_code"].tolist() == ["E01009522", "E01009523"]


def test_an_error_while_parsing_is_a_file_fault_naming_the_file(tmp_path, monkeypatch):
    import cov_pipeline.imd as imd

    def failing(text):
        raise TypeError("Cannot convert non-finite values (NA or inf) to integer")

    monkeypatch.setattr(imd, "_whole_numbers", failing)
    assert fault_of([write(tmp_path, "imd.csv", FILE_1 + GOOD)]) == (
        "imd.csv: could not be parsed: the lookup was not written (TypeError: Cannot convert "
        "non-finite values (NA or inf) to integer)"
    )
