"""Maternity: every bad-input case with the reason it must produce, the measures against
arithmetic written out here, the definitions held in configuration, and disclosure control.

Wilson score interval for r of n, z = 1.959964 (95%):
    (2r + z² ∓ z·sqrt(z² + 4r(1 - r/n))) / (2(n + z²)).
Exact Poisson limits of a count O (used under 10 events): χ²(0.025; 2O)/2 and χ²(0.975; 2O + 2)/2.
Byars (10 or more): O(1 - 1/(9O) - z/(3√O))³ and (O+1)(1 - 1/(9(O+1)) + z/(3√(O+1)))³.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import chi2

from cov_pipeline.disclosure import publish
from cov_pipeline.maternity import (
    ALL_PRETERM,
    BREAKDOWNS,
    ETHNIC_MINORITY,
    EXTREMELY_PRETERM,
    NOT_KNOWN,
    PREGNANCY_OUTCOME_DESCRIPTIONS,
    TERM,
    VERY_PRETERM,
    MaternityConfigError,
    MaternityDefinitions,
    build_late_bookings,
    build_pregnancy_outcomes,
    build_premature_deliveries,
    build_preterm_outcomes,
    late_bookings,
    late_bookings_descriptions,
    load_maternity,
    load_maternity_definitions,
    mother_breakdowns,
    parse_births,
    pregnancy_outcomes,
    premature_deliveries,
    premature_deliveries_descriptions,
    preterm_outcomes,
    preterm_outcomes_descriptions,
    read_extract,
)
from cov_pipeline.publishing import LATE_BOOKINGS, PREMATURE_DELIVERIES
from cov_pipeline.quality import FileFault

Z = 1.959964
AS_OF = dt.date(2026, 11, 22)
# A two-LSOA deprivation lookup: decile 2 (most deprived 30%) and decile 8.
IMD = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002"], "imd_decile": [2, 8]})
BOOKING_HEADER = (
    "booking_pseudo_id,booking_date,gestation_at_booking_days,mother_age_band,ethnic_category,"
    "lsoa_code,nrpf_flag"
)
BIRTH_HEADER = (
    "birth_pseudo_id,booking_pseudo_id,birth_date,gestation_at_birth_days,birth_outcome,"
    "birthweight_grams,neonatal_unit_admission,survived_28_days,survived_1_year,"
    "mother_age_band,ethnic_category,lsoa_code,nrpf_flag"
)
TERMINATIONS_HEADER = (
    "Year,Area code,Area name,Area type,Total abortions,Under 18,18-19,20-24,25-29,30-34,"
    '35 and over,"Rate per 1,000 women aged 15-44"'
)
GOOD_BOOKING = "BK000001,2024-01-10,70,25 to 29,A,E01000001,N"
GOOD_BIRTH = "BB000001,BK000001,2024-08-01,280,live,3400,N,Y,,25 to 29,A,E01000001,N"
GOOD_TERMINATIONS = '2023,E08000026,Coventry,Local authority,"1,234",40,80,300,350,260,204,15.0'


def wilson(r: float, n: float) -> tuple[float, float]:
    centre, spread = 2 * r + Z * Z, Z * math.sqrt(Z * Z + 4 * r * (1 - r / n))
    return 100 * (centre - spread) / (2 * (n + Z * Z)), 100 * (centre + spread) / (2 * (n + Z * Z))


def write(folder: Path, name: str, header: str, rows: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def load(
    tmp_path: Path,
    bookings: list[str] | None = None,
    births: list[str] | None = None,
    terminations: list[str] | None = None,
):
    """Load one file of each kind; the defaults are a single good row each."""
    b = write(tmp_path, "bookings_2024.csv", BOOKING_HEADER, bookings or [GOOD_BOOKING])
    c = write(tmp_path, "births_2024.csv", BIRTH_HEADER, births or [GOOD_BIRTH])
    t = write(
        tmp_path, "terminations_2023.csv", TERMINATIONS_HEADER, terminations or [GOOD_TERMINATIONS]
    )
    return load_maternity([b], [c], [t], IMD, as_of=AS_OF)


def quarantined(table) -> list[tuple[str, int, str]]:
    q = table.quarantine
    return list(zip(q["source_file"], q["line_number"], q["reasons"], strict=True))


def assert_adds_up(result) -> None:
    for table in result.tables:
        assert len(table.staging) + len(table.quarantine) == table.input_rows, table.table


# -- bad input ---------------------------------------------------------------------------------
BAD_BOOKINGS = [
    (
        "gestation of 0 days (impossible)",
        "BK000002,2024-01-11,0,25 to 29,A,E01000001,N",
        "gestation_at_booking_days: 0 is outside the possible range (0, 400) days",
    ),
    (
        "gestation of 400 days (impossible)",
        "BK000002,2024-01-11,400,25 to 29,A,E01000001,N",
        "gestation_at_booking_days: 400 is outside the possible range (0, 400) days",
    ),
    (
        "a date in the future",
        "BK000002,2026-11-23,70,25 to 29,A,E01000001,N",
        "booking_date: 2026-11-23 is in the future (after 2026-11-22)",
    ),
    (
        "an unknown ethnic code",
        "BK000002,2024-01-11,70,25 to 29,X,E01000001,N",
        "ethnic_category: 'X' is not an NHS ethnic category code (A-H, J-N, P, R, S, Z or 99)",
    ),
    (
        "an LSOA missing from the lookup",
        "BK000002,2024-01-11,70,25 to 29,A,E01099999,N",
        "lsoa_code: 'E01099999' is not in the IMD lookup",
    ),
    (
        "a malformed LSOA code",
        "BK000002,2024-01-11,70,25 to 29,A,E0100001,N",
        "lsoa_code: 'E0100001' is not an LSOA code (E01 or W01 and six digits)",
    ),
    (
        "an LSOA code in digits other than 0-9 (Arabic-Indic)",
        "BK000002,2024-01-11,70,25 to 29,A,E01\u0661\u0662\u0663\u0664\u0665\u0666,N",
        "lsoa_code: 'E01\u0661\u0662\u0663\u0664\u0665\u0666' is not an LSOA code (E01 or W01 "
        "and six digits)",
    ),
    (
        "a date that is not a date",
        "BK000002,31/01/2024,70,25 to 29,A,E01000001,N",
        "booking_date: '31/01/2024' is not a date (YYYY-MM-DD)",
    ),
    (
        "a gestation that is not a number",
        "BK000002,2024-01-11,ten,25 to 29,A,E01000001,N",
        "gestation_at_booking_days: 'ten' is not a whole number",
    ),
    (
        "a missing booking date",
        "BK000002,,70,25 to 29,A,E01000001,N",
        "booking_date: missing",
    ),
    (
        "an unknown age band",
        "BK000002,2024-01-11,70,26 to 30,A,E01000001,N",
        "mother_age_band: '26 to 30' is not an age band (Under 20, 20 to 24, 25 to 29, 30 to 34, "
        "35 to 39, 40 to 44, 45 or Over)",
    ),
    (
        "an NRPF flag that is not Y or N",
        "BK000002,2024-01-11,70,25 to 29,A,E01000001,maybe",
        "nrpf_flag: 'MAYBE' is not Y, N or blank",
    ),
    (
        "a record with too few fields",
        "BK000002,2024-01-11,70,25 to 29,A",
        "record has 5 fields, the header 7",
    ),
]


@pytest.mark.parametrize(
    ("case", "row", "reason"), BAD_BOOKINGS, ids=[c for c, _, _ in BAD_BOOKINGS]
)
def test_each_bad_booking_is_quarantined_with_its_reason(tmp_path, case, row, reason):
    result = load(tmp_path, bookings=[GOOD_BOOKING, row])
    assert quarantined(result.bookings) == [("bookings_2024.csv", 3, reason)], case
    assert result.bookings.staging["booking_pseudo_id"].tolist() == ["BK000001"]
    assert_adds_up(result)


OUT_OF_RANGE = "is out of range (beyond ±9007199254740991, the largest whole number read exactly)"


@pytest.mark.parametrize(
    "value",
    [
        "99999999999999999999",  # beyond 2**63: no int64 holds it
        "-99999999999999999999",
        "9223372036854775808",  # 2**63
        "9007199254740993",  # 2**53 + 1: a float64 reads it as 2**53
        "1e300",
    ],
)
def test_a_whole_number_too_large_to_read_exactly_is_quarantined(tmp_path, value):
    row = f"BK000002,2024-01-11,{value},25 to 29,A,E01000001,N"
    result = load(tmp_path, bookings=[GOOD_BOOKING, row])
    assert quarantined(result.bookings) == [
        ("bookings_2024.csv", 3, f"gestation_at_booking_days: '{value}' {OUT_OF_RANGE}")
    ]
    assert result.bookings.staging["booking_pseudo_id"].tolist() == ["BK000001"]
    assert_adds_up(result)


def test_counts_years_and_weights_out_of_range_are_quarantined_and_the_largest_is_exact(tmp_path):
    big = "99999999999999999999"
    births = [GOOD_BIRTH, GOOD_BIRTH.replace("BB000001", "BB000002").replace(",3400,", f",{big},")]
    terminations = [
        GOOD_TERMINATIONS,
        f'{big},E08000026,Coventry,Local authority,"1,234",40,80,300,350,260,204,15.0',
        '2022,E08000026,Coventry,Local authority,"99,999,999,999,999,999,999",,,,,,,15.0',
        # 2**53 - 1, the largest whole number a float64 holds with every one below it
        "2021,E08000026,Coventry,Local authority,9007199254740991,,,,,,,15.0",
    ]
    result = load(tmp_path, births=births, terminations=terminations)
    assert quarantined(result.births) == [
        ("births_2024.csv", 3, f"birthweight_grams: '{big}' {OUT_OF_RANGE}")
    ]
    assert quarantined(result.terminations) == [
        ("terminations_2023.csv", 3, f"Year: '{big}' {OUT_OF_RANGE}"),
        (
            "terminations_2023.csv",
            4,
            f"Total abortions: '99,999,999,999,999,999,999' {OUT_OF_RANGE}",
        ),
    ]
    staged = result.terminations.staging.set_index("year")
    assert staged.loc[2021, "terminations"] == 9_007_199_254_740_991
    assert staged.index.tolist() == [2023, 2021]
    assert_adds_up(result)


def test_the_possible_range_is_open_at_both_ends(tmp_path):
    rows = [
        "BK000001,2024-01-10,1,25 to 29,A,E01000001,N",
        "BK000002,2024-01-10,399,25 to 29,A,E01000001,N",
    ]
    result = load(tmp_path, bookings=rows, births=[GOOD_BIRTH.replace("BK000001", "")])
    assert result.bookings.quarantine.empty
    assert result.bookings.staging["gestation_at_booking_days"].tolist() == [1, 399]


def test_every_reason_of_a_row_is_kept(tmp_path):
    row = "BK000002,2030-01-01,900,25 to 29,X,E01099999,N"
    result = load(tmp_path, bookings=[GOOD_BOOKING, row])
    assert quarantined(result.bookings) == [
        (
            "bookings_2024.csv",
            3,
            "gestation_at_booking_days: 900 is outside the possible range (0, 400) days | "
            "ethnic_category: 'X' is not an NHS ethnic category code (A-H, J-N, P, R, S, Z or 99) | "
            "booking_date: 2030-01-01 is in the future (after 2026-11-22) | "
            "lsoa_code: 'E01099999' is not in the IMD lookup",
        )
    ]


def test_an_identical_copy_of_a_booking_is_collapsed_and_recorded(tmp_path):
    """A resent extract: the copy is staged once, not quarantined, and recorded with both
    files; the rows still add up (staged + quarantined + collapsed = read)."""
    other = write(tmp_path, "bookings_2025.csv", BOOKING_HEADER, [GOOD_BOOKING])
    first = write(tmp_path, "bookings_2024.csv", BOOKING_HEADER, [GOOD_BOOKING])
    births = write(tmp_path, "births_2024.csv", BIRTH_HEADER, [GOOD_BIRTH])
    terms = write(tmp_path, "terminations_2023.csv", TERMINATIONS_HEADER, [GOOD_TERMINATIONS])
    result = load_maternity([other, first], [births], [terms], IMD, as_of=AS_OF)
    assert quarantined(result.bookings) == []
    assert result.bookings.staging[["source_file", "line_number"]].values.tolist() == [
        ["bookings_2024.csv", 2]
    ]
    revisions = result.revisions
    assert revisions[
        ["record_key", "outcome", "kept_file", "kept_line", "source_file", "line_number"]
    ].values.tolist() == [
        ["BK000001", "identical copy collapsed", "bookings_2024.csv", 2, "bookings_2025.csv", 2]
    ]
    assert result.bookings.rows_accounted_for == result.bookings.input_rows == 2


def test_a_copy_that_fails_a_rule_is_quarantined_naming_the_staged_copy(tmp_path):
    late = GOOD_BOOKING.replace("2024-01-10", "2099-01-10")
    result = load(tmp_path, bookings=[late, late], births=[GOOD_BIRTH.replace("BK000001", "")])
    reasons = [r for _, _, r in quarantined(result.bookings)]
    assert len(reasons) == 2 and all("is in the future" in r for r in reasons)
    assert "is duplicated, identical to bookings_2024.csv line 2" in reasons[1]
    assert result.revisions.empty


def test_a_revised_terminations_row_takes_the_later_publication_and_records_the_change(tmp_path):
    """DHSC's next publication revises last year's row for Coventry: the newer file's row is
    staged, the earlier one recorded as revised with the fields that changed."""
    first = GOOD_TERMINATIONS.replace("2023,", "2022,", 1)
    revised = first.replace('"1,234",40', '"1,236",42')
    older = write(tmp_path, "terminations_2022.csv", TERMINATIONS_HEADER, [first])
    newer = write(
        tmp_path, "terminations_2023.csv", TERMINATIONS_HEADER, [revised, GOOD_TERMINATIONS]
    )
    bookings = write(tmp_path, "bookings_2024.csv", BOOKING_HEADER, [GOOD_BOOKING])
    births = write(tmp_path, "births_2024.csv", BIRTH_HEADER, [GOOD_BIRTH])
    result = load_maternity([bookings], [births], [older, newer], IMD, as_of=AS_OF)
    assert quarantined(result.terminations) == []
    staged = result.terminations.staging
    assert staged[
        ["year", "source_file", "terminations", "terminations_under_18"]
    ].values.tolist() == [
        [2022, "terminations_2023.csv", 1236, 42],
        [2023, "terminations_2023.csv", 1234, 40],
    ]
    revision = result.revisions.iloc[0]
    assert (revision.outcome, revision.record_key) == (
        "revised by a later publication",
        "2022 E08000026",
    )
    assert (revision.source_file, revision.line_number) == ("terminations_2022.csv", 2)
    assert (revision.kept_file, revision.kept_line) == ("terminations_2023.csv", 2)
    assert revision.changes == "Total abortions: 1,234 -> 1,236; Under 18: 40 -> 42"
    assert result.terminations.rows_accounted_for == result.terminations.input_rows == 3


def test_a_duplicated_pseudo_id_with_different_values_quarantines_every_copy(tmp_path):
    changed = GOOD_BOOKING.replace(",70,", ",72,")
    result = load(
        tmp_path,
        bookings=[GOOD_BOOKING, changed],
        births=[GOOD_BIRTH.replace("BK000001", "")],
    )
    reason = (
        "booking_pseudo_id: 'BK000001' appears more than once with different values "
        "(bookings_2024.csv line 2, bookings_2024.csv line 3)"
    )
    assert quarantined(result.bookings) == [
        ("bookings_2024.csv", 2, reason),
        ("bookings_2024.csv", 3, reason),
    ]
    assert result.bookings.staging.empty
    assert_adds_up(result)


BAD_BIRTHS = [
    (
        "a birth before its booking",
        "BB000002,BK000001,2024-01-09,280,live,3400,N,Y,,25 to 29,A,E01000001,N",
        "birth_date: 2024-01-09 is before its booking ('BK000001' booked 2024-01-10)",
    ),
    (
        "gestation at birth of 0 days",
        "BB000002,BK000001,2024-08-01,0,live,3400,N,Y,,25 to 29,A,E01000001,N",
        "gestation_at_birth_days: 0 is outside the possible range (0, 400) days",
    ),
    (
        "a birth date in the future",
        "BB000002,BK000001,2027-08-01,280,live,3400,N,,,25 to 29,A,E01000001,N",
        "birth_date: 2027-08-01 is in the future (after 2026-11-22)",
    ),
    (
        "an unknown ethnic code on a birth",
        "BB000002,BK000001,2024-08-01,280,live,3400,N,Y,,25 to 29,I,E01000001,N",
        "ethnic_category: 'I' is not an NHS ethnic category code (A-H, J-N, P, R, S, Z or 99)",
    ),
    (
        "an LSOA of a birth missing from the lookup",
        "BB000002,BK000001,2024-08-01,280,live,3400,N,Y,,25 to 29,A,W01000009,N",
        "lsoa_code: 'W01000009' is not in the IMD lookup",
    ),
    (
        "a duplicated birth pseudo id",
        "BB000001,BK000001,2024-08-02,280,live,3400,N,Y,,25 to 29,A,E01000001,N",
        "birth_pseudo_id: 'BB000001' appears more than once with different values "
        "(births_2024.csv line 2, births_2024.csv line 3)",
    ),
    (
        "an unknown birth outcome",
        "BB000002,BK000001,2024-08-01,280,miscarriage,3400,N,Y,,25 to 29,A,E01000001,N",
        "birth_outcome: 'miscarriage' is not a birth outcome (live, stillbirth)",
    ),
    (
        "an impossible birthweight",
        "BB000002,BK000001,2024-08-01,280,live,34000,N,Y,,25 to 29,A,E01000001,N",
        "birthweight_grams: 34000 is outside the possible range (0, 7000) grams",
    ),
    (
        "a stillbirth with a neonatal outcome",
        "BB000002,BK000001,2024-08-01,280,stillbirth,3100,Y,,,25 to 29,A,E01000001,N",
        "a stillbirth has no neonatal unit admission or survival (they must be blank)",
    ),
    (
        "alive at 1 year after dying before 28 days",
        "BB000002,BK000001,2024-08-01,280,live,3400,N,N,Y,25 to 29,A,E01000001,N",
        "survived_1_year is Y but survived_28_days is N",
    ),
]


@pytest.mark.parametrize(("case", "row", "reason"), BAD_BIRTHS, ids=[c for c, _, _ in BAD_BIRTHS])
def test_each_bad_birth_is_quarantined_with_its_reason(tmp_path, case, row, reason):
    result = load(tmp_path, births=[GOOD_BIRTH, row])
    if "duplicated" in case:  # both copies go: nothing says which is right
        expected = [("births_2024.csv", 2, reason), ("births_2024.csv", 3, reason)]
    else:
        expected = [("births_2024.csv", 3, reason)]
    assert quarantined(result.births) == expected, case
    assert_adds_up(result)


def test_a_birth_whose_booking_is_not_in_the_extract_is_kept(tmp_path):
    rows = [GOOD_BIRTH, GOOD_BIRTH.replace("BB000001,BK000001", "BB000002,")]
    result = load(tmp_path, births=rows)
    staged = result.births.staging
    assert result.births.quarantine.empty
    assert staged["has_staged_booking"].tolist() == [True, False]
    assert staged["booking_pseudo_id"].isna().tolist() == [False, True]


def test_codes_are_normalised_and_blanks_stay_missing(tmp_path):
    rows = [GOOD_BOOKING, "BK000002,2024-01-11,70,, c ,,y"]
    births = [GOOD_BIRTH.replace(",live,", ",Live,")]
    result = load(tmp_path, bookings=rows, births=births)
    staged = result.bookings.staging.set_index("booking_pseudo_id")
    assert staged.loc["BK000002", "ethnic_category"] == "C"
    assert bool(staged.loc["BK000002", "nrpf"]) is True
    assert staged.loc["BK000002", ["mother_age_band", "lsoa_code"]].isna().all()
    assert result.births.staging["birth_outcome"].tolist() == ["live"]
    assert pd.isna(result.births.staging["survived_1_year"].iloc[0])


def test_terminations_read_dhsc_suppression_zeros_and_thousands(tmp_path):
    rows = [
        GOOD_TERMINATIONS,
        "2023,E06000053,Isles of Scilly,Local authority,*,-,-,*,*,-,-,*",
    ]
    result = load(tmp_path, terminations=rows)
    staged = result.terminations.staging.set_index("area_code")
    assert staged.loc["E08000026", "terminations"] == 1234
    assert staged.loc["E08000026", "terminations_20_24"] == 300
    assert staged.loc["E08000026", "rate_per_1000_women_15_44"] == 15.0
    assert not staged.loc["E08000026", "has_suppressed_counts"]
    scilly = staged.loc["E06000053"]
    assert pd.isna(scilly["terminations"]) and scilly["terminations_under_18"] == 0
    assert scilly["has_suppressed_counts"]
    assert pd.isna(scilly["rate_per_1000_women_15_44"])


@pytest.mark.parametrize(
    ("case", "row", "reason"),
    [
        (
            "age groups that do not add up",
            '2022,E08000026,Coventry,Local authority,"1,235",40,80,300,350,260,204,15.0',
            "Total abortions: 1235 is not the sum of the age groups (1234)",
        ),
        (
            "a year in the future",
            '2027,E08000026,Coventry,Local authority,"1,234",40,80,300,350,260,204,15.0',
            "Year: 2027 is in the future (after 2026)",
        ),
        (
            "a count that is not a number",
            '2022,E08000026,Coventry,Local authority,"1,234",forty,80,300,350,260,204,15.0',
            "Under 18: 'forty' is not a whole number",
        ),
        (
            "a malformed area code",
            '2022,COV,Coventry,Local authority,"1,234",40,80,300,350,260,204,15.0',
            "Area code: 'COV' is not an ONS area code",
        ),
        (
            "the same area and year twice, different",
            '2023,E08000026,Coventry,Local authority,"1,233",39,80,300,350,260,204,15.0',
            "Year and area: '2023 E08000026' appears more than once with different values "
            "(terminations_2023.csv line 2, terminations_2023.csv line 3)",
        ),
    ],
)
def test_each_bad_terminations_row_is_quarantined(tmp_path, case, row, reason):
    result = load(tmp_path, terminations=[GOOD_TERMINATIONS, row])
    lines = [3] if "twice" not in case else [2, 3]
    assert quarantined(result.terminations) == [
        ("terminations_2023.csv", line, reason) for line in lines
    ], case
    assert_adds_up(result)


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        (
            "booking_pseudo_id,booking_date,gestation_at_booking_days,mother_age_band,"
            "ethnic_category,lsoa_code\nBK000001,2024-01-10,70,25 to 29,A,E01000001\n",
            "bookings_2024.csv: wrong header: missing required column(s) 'nrpf_flag'",
        ),
        (
            BOOKING_HEADER + ",postcode\n" + GOOD_BOOKING + ",CV1 1AA\n",
            "bookings_2024.csv: wrong header: unexpected column(s) 'postcode'",
        ),
        (BOOKING_HEADER + "\n", "bookings_2024.csv: has a header but no data rows"),
        ("", "bookings_2024.csv: file is empty"),
    ],
)
def test_file_faults_name_the_file_and_the_fault(tmp_path, content, fault):
    (tmp_path / "bookings_2024.csv").write_text(content, encoding="utf-8")
    births = write(tmp_path, "births_2024.csv", BIRTH_HEADER, [GOOD_BIRTH])
    terms = write(tmp_path, "terminations_2023.csv", TERMINATIONS_HEADER, [GOOD_TERMINATIONS])
    with pytest.raises(FileFault) as raised:
        load_maternity([tmp_path / "bookings_2024.csv"], [births], [terms], IMD, as_of=AS_OF)
    assert str(raised.value) == fault


def test_a_file_that_is_not_utf8_is_a_file_fault(tmp_path):
    path = tmp_path / "births_2024.csv"
    path.write_bytes((BIRTH_HEADER + "\n" + GOOD_BIRTH.replace("N,Y", "N,Y") + "\n").encode())
    path.write_bytes(path.read_bytes().replace(b"live", b"l\xe9ve"))
    bookings = write(tmp_path, "bookings_2024.csv", BOOKING_HEADER, [GOOD_BOOKING])
    terms = write(tmp_path, "terminations_2023.csv", TERMINATIONS_HEADER, [GOOD_TERMINATIONS])
    with pytest.raises(FileFault, match=r"births_2024.csv: not UTF-8: byte 0xe9"):
        load_maternity([bookings], [path], [terms], IMD, as_of=AS_OF)


def test_no_extract_is_a_file_fault(tmp_path):
    terms = write(tmp_path, "terminations_2023.csv", TERMINATIONS_HEADER, [GOOD_TERMINATIONS])
    with pytest.raises(FileFault, match="no bookings extract found"):
        load_maternity([], [], [terms], IMD, as_of=AS_OF)


# -- definitions -------------------------------------------------------------------------------
def test_definitions_default_to_design_section_6(tmp_path, monkeypatch):
    defaults = MaternityDefinitions()
    assert (
        defaults.booked_by_days,
        defaults.late_booking_from_days,
        defaults.very_late_booking_from_days,
    ) == (70, 91, 141)
    assert (
        defaults.preterm_before_days,
        defaults.moderate_preterm_from_days,
        defaults.very_preterm_from_days,
    ) == (259, 224, 196)
    assert load_maternity_definitions() == defaults  # the packaged YAML says the same
    other = tmp_path / "maternity.yaml"
    other.write_text("late_booking_from_days: 140\n", encoding="utf-8")
    monkeypatch.setenv("COV_MATERNITY_CONFIG", str(other))
    assert load_maternity_definitions().late_booking_from_days == 140
    assert load_maternity_definitions().booked_by_days == 70


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("late_booking_days: 91\n", "unknown setting"),
        ("late_booking_from_days: 60\n", "booked_by_days < late_booking_from_days"),
        ("preterm_before_days: 400\n", r"400 is outside \(0, 400\) days"),
        ("very_preterm_from_days: 230\n", "very_preterm_from_days < moderate_preterm_from_days"),
    ],
)
def test_bad_definitions_are_refused_with_the_file_named(tmp_path, text, message):
    path = tmp_path / "maternity.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MaternityConfigError, match=message) as raised:
        load_maternity_definitions(path)
    assert str(path) in str(raised.value)


# -- measures ----------------------------------------------------------------------------------
def bookings_frame(gestations: list[int], dates, lsoas=None, ethnic=None) -> pd.DataFrame:
    n = len(gestations)
    return pd.DataFrame(
        {
            "booking_pseudo_id": [f"BK{i:06d}" for i in range(n)],
            "booking_date": pd.to_datetime(
                pd.Series(dates if not isinstance(dates, str) else [dates] * n)
            ),
            "gestation_at_booking_days": pd.array(gestations, dtype="Int64"),
            "mother_age_band": ["25 to 29"] * n,
            "ethnic_category": ethnic or ["A"] * n,
            "lsoa_code": lsoas or ["E01000001"] * n,
            "nrpf": pd.array([False] * n, dtype="boolean"),
        }
    )


# 20 bookings in January 2024: 13 at 70 days or earlier, 4 between, 3 late (one very late).
GESTATIONS = [49] * 5 + [70] * 8 + [71, 85, 90, 88] + [91, 140, 141]


def test_late_bookings_three_of_twenty_is_fifteen_percent_with_the_wilson_interval():
    table = late_bookings(bookings_frame(GESTATIONS, "2024-01-15"), IMD)
    row = table[(table["breakdown"] == "all")].iloc[0]
    assert (row["period_type"], row["period_start"]) == ("month", pd.Timestamp("2024-01-01"))
    assert (row["bookings"], row["booked_by_10_weeks"], row["late_bookings"]) == (20, 13, 3)
    assert row["very_late_bookings"] == 1
    assert row["late_booking_pct"] == pytest.approx(15.0)
    lower, upper = wilson(3, 20)  # 5.24% to 36.04%
    assert row["late_booking_pct_ci95_lower"] == pytest.approx(lower, abs=1e-6)
    assert row["late_booking_pct_ci95_upper"] == pytest.approx(upper, abs=1e-6)
    assert round(lower, 2) == 5.24 and round(upper, 2) == 36.04
    assert row["booked_by_10_weeks_pct"] == pytest.approx(65.0)
    assert row["very_late_booking_pct"] == pytest.approx(5.0)
    # one month only: no complete quarter or year
    assert set(table["period_type"]) == {"month"}


def test_late_bookings_by_deprivation_use_the_mothers_lsoa():
    # first 8 in decile 2, next 11 in decile 8, the last (141 days) with no LSOA recorded
    lsoas = ["E01000001"] * 8 + ["E01000002"] * 11 + [""]
    frame = bookings_frame(GESTATIONS, "2024-01-15", lsoas=lsoas)
    frame["lsoa_code"] = frame["lsoa_code"].replace("", None)
    table = late_bookings(frame, IMD)
    groups = table[table["breakdown"] == "deprivation_group"].set_index("breakdown_value")
    assert groups["bookings"].to_dict() == {
        "Most deprived 30% (deciles 1-3)": 8,
        "Other 70% (deciles 4-10)": 11,
        NOT_KNOWN: 1,
    }
    assert groups["late_bookings"].tolist() == [0, 2, 1]
    quintiles = table[table["breakdown"] == "imd_quintile"].set_index("breakdown_value")
    assert quintiles.loc["Q1 (most deprived)", "bookings"] == 8
    assert quintiles.loc["Q4", "bookings"] == 11


def test_quarters_and_years_only_where_every_month_is_covered():
    dates = [f"2023-{m:02d}-15" for m in range(1, 13)] + ["2024-01-20"]
    table = late_bookings(bookings_frame([95] + [60] * 12, dates), IMD)
    everyone = table[table["breakdown"] == "all"]
    assert everyone.groupby("period_type").size().to_dict() == {
        "month": 13,
        "quarter": 4,
        "year": 1,
    }
    year = everyone[everyone["period_type"] == "year"].iloc[0]
    assert (year["period_start"], year["bookings"], year["late_bookings"]) == (
        pd.Timestamp("2023-01-01"), 12, 1,
    )  # fmt: skip
    # every breakdown value has a row in every period (zero where nobody fell in it)
    months = table[table["period_type"] == "month"]
    assert len(months) == 13 * sum(len(v) for v in BREAKDOWNS.values())


def test_configured_definitions_move_the_lines():
    wider = MaternityDefinitions(late_booking_from_days=140)
    table = late_bookings(bookings_frame(GESTATIONS, "2024-01-15"), IMD, wider)
    assert table[table["breakdown"] == "all"]["late_bookings"].iloc[0] == 2  # 140 and 141


def births_frame(gestations: list[int], date="2024-03-10", outcome=None) -> pd.DataFrame:
    n = len(gestations)
    return pd.DataFrame(
        {
            "birth_pseudo_id": [f"BB{i:06d}" for i in range(n)],
            "booking_pseudo_id": [f"BK{i:06d}" for i in range(n)],
            "birth_date": pd.to_datetime(
                pd.Series(date if not isinstance(date, str) else [date] * n)
            ),
            "gestation_at_birth_days": pd.array(gestations, dtype="Int64"),
            "birth_outcome": outcome or ["live"] * n,
            "neonatal_unit_admission": pd.array([None] * n, dtype="boolean"),
            "survived_28_days": pd.array([None] * n, dtype="boolean"),
            "survived_1_year": pd.array([None] * n, dtype="boolean"),
            "mother_age_band": ["30 to 34"] * n,
            "ethnic_category": ["A"] * n,
            "lsoa_code": ["E01000002"] * n,
            "nrpf": pd.array([False] * n, dtype="boolean"),
        }
    )


def test_premature_births_per_1000_with_exact_poisson_limits_under_ten():
    # 50 births: 195 (extremely), 196 and 223 (very), 224 and 258 (moderate to late), 45 at term
    gestations = [195, 196, 223, 224, 258] + [259] * 45
    outcome = ["stillbirth"] + ["live"] * 49
    table = premature_deliveries(births_frame(gestations, outcome=outcome), IMD)
    row = table[table["breakdown"] == "all"].iloc[0]
    assert (row["births"], row["live_births"], row["stillbirths"]) == (50, 49, 1)
    assert (row["preterm_births"], row["very_preterm_births"], row["extremely_preterm_births"]) == (
        5, 2, 1,
    )  # fmt: skip
    assert row["preterm_per_1000"] == pytest.approx(100.0)
    # exact Poisson limits of 5 events: χ²(0.025; 10)/2 = 1.6235, χ²(0.975; 12)/2 = 11.6683
    lower, upper = chi2.ppf(0.025, 10) / 2, chi2.ppf(0.975, 12) / 2
    assert round(lower, 4) == 1.6235 and round(upper, 4) == 11.6683
    assert row["preterm_per_1000_ci95_lower"] == pytest.approx(lower / 50 * 1000)
    assert row["preterm_per_1000_ci95_upper"] == pytest.approx(upper / 50 * 1000)
    assert row["extremely_preterm_per_1000"] == pytest.approx(20.0)
    assert row["stillbirths_per_1000"] == pytest.approx(20.0)


def test_premature_births_per_1000_with_byars_limits_from_ten():
    table = premature_deliveries(births_frame([250] * 12 + [280] * 188), IMD)
    row = table[table["breakdown"] == "all"].iloc[0]
    o = 12
    lower = o * (1 - 1 / (9 * o) - Z / (3 * math.sqrt(o))) ** 3
    upper = (o + 1) * (1 - 1 / (9 * (o + 1)) + Z / (3 * math.sqrt(o + 1))) ** 3
    assert row["preterm_per_1000"] == pytest.approx(60.0)
    assert row["preterm_per_1000_ci95_lower"] == pytest.approx(lower / 200 * 1000, rel=1e-6)
    assert row["preterm_per_1000_ci95_upper"] == pytest.approx(upper / 200 * 1000, rel=1e-6)


def test_preterm_outcomes_survival_where_known():
    # 2023, one baby a month to cover the year: 10 extremely preterm live births and 2 at term.
    dates = [f"2023-{m:02d}-10" for m in range(1, 13)]
    frame = births_frame([180] * 10 + [280] * 2, date=dates)
    frame["neonatal_unit_admission"] = pd.array([True] * 9 + [None] + [False] * 2, dtype="boolean")
    # 28 days: 3 died, 7 survived, all known; 1 year: 2 not yet known, 3 died, 5 survived
    frame["survived_28_days"] = pd.array([False] * 3 + [True] * 7 + [True] * 2, dtype="boolean")
    frame["survived_1_year"] = pd.array(
        [False] * 3 + [True] * 5 + [None] * 2 + [True] * 2, dtype="boolean"
    )
    table = preterm_outcomes(frame, IMD)
    everyone = table[table["breakdown"] == "all"].set_index("gestation_band")
    assert set(table["period_type"]) == {"year"}
    extreme = everyone.loc[EXTREMELY_PRETERM]
    assert extreme["live_births"] == 10
    assert (extreme["nnu_admission_known"], extreme["nnu_admissions"]) == (9, 9)
    assert (extreme["survival_28_days_known"], extreme["deaths_under_28_days"]) == (10, 3)
    assert extreme["survival_28_days_pct"] == pytest.approx(70.0)
    lower, upper = wilson(7, 10)
    assert extreme["survival_28_days_pct_ci95_lower"] == pytest.approx(lower, abs=1e-6)
    assert extreme["survival_28_days_pct_ci95_upper"] == pytest.approx(upper, abs=1e-6)
    assert (extreme["survival_1_year_known"], extreme["deaths_under_1_year"]) == (8, 3)
    assert extreme["survival_1_year_pct"] == pytest.approx(62.5)
    assert everyone.loc[ALL_PRETERM, "live_births"] == 10  # the bands add up to all preterm
    assert everyone.loc[VERY_PRETERM, "live_births"] == 0
    assert everyone.loc[TERM, "survival_28_days_pct"] == pytest.approx(100.0)


def test_pregnancies_are_bookings_plus_terminations_by_year():
    bookings = bookings_frame([60] * 12, [f"2023-{m:02d}-01" for m in range(1, 13)])
    bookings["mother_age_band"] = ["Under 20"] * 2 + ["40 to 44"] * 3 + ["25 to 29"] * 7
    births = births_frame(
        [280] * 13, date=[f"2023-{m:02d}-05" for m in range(1, 13)] + ["2023-12-05"]
    )
    births.loc[12, "booking_pseudo_id"] = births.loc[11, "booking_pseudo_id"]  # twins
    births.loc[0, "birth_outcome"] = "stillbirth"
    terminations = pd.DataFrame(
        {
            "year": [2023, 2023], "area_code": ["E08000026", "E08000025"],
            "terminations": [1234, 999], "terminations_under_18": [40, 1],
            "terminations_18_19": [80, 1], "terminations_20_24": [300, 1],
            "terminations_25_29": [350, 1], "terminations_30_34": [260, 1],
            "terminations_35_and_over": [204, 994],
        }
    )  # fmt: skip
    table = pregnancy_outcomes(bookings, births, terminations, "E08000026")
    everyone = table[table["breakdown"] == "all"].iloc[0]
    assert everyone["period_start"] == pd.Timestamp("2023-01-01")
    assert (everyone["bookings"], everyone["terminations"], everyone["pregnancies"]) == (
        12, 1234, 1246,
    )  # fmt: skip
    assert (everyone["maternities"], everyone["live_births"], everyone["stillbirths"]) == (
        12,
        12,
        1,
    )
    assert everyone["termination_pct"] == pytest.approx(1234 / 1246 * 100)
    ages = table[table["breakdown"] == "age_band"].set_index("breakdown_value")
    assert ages.loc["Under 20", "terminations"] == 120  # under 18 + 18-19
    assert ages.loc["Under 20", "pregnancies"] == 122
    assert ages.loc["35 and over", "bookings"] == 3  # 40 to 44 falls in DHSC's 35 and over
    assert ages.loc["35 and over", "terminations"] == 204
    assert ages.loc[NOT_KNOWN, "terminations"] == 0


def test_pregnancies_are_missing_where_terminations_are_not_published():
    bookings = bookings_frame([60] * 12, [f"2024-{m:02d}-01" for m in range(1, 13)])
    births = births_frame([280], date="2024-06-01")
    terminations = pd.DataFrame(
        {
            "year": [2023],
            "area_code": ["E08000026"],
            "terminations": [10],
            **{
                c: [2]
                for c in (
                    "terminations_under_18",
                    "terminations_18_19",
                    "terminations_20_24",
                    "terminations_25_29",
                    "terminations_30_34",
                )
            },
            "terminations_35_and_over": [0],
        }  # fmt: skip
    )
    table = pregnancy_outcomes(bookings, births, terminations, "E08000026")
    y2024 = table[(table["breakdown"] == "all") & (table["period_start"] == "2024-01-01")].iloc[0]
    assert (
        y2024["bookings"] == 12 and pd.isna(y2024["terminations"]) and pd.isna(y2024["pregnancies"])
    )


def test_ethnic_groups_keep_white_other_inside_the_minority_total():
    frame = bookings_frame([60] * 6, "2024-01-01", ethnic=["A", "B", "C", "N", "Z", None])
    frame["nrpf"] = pd.array([True, False, None, False, False, False], dtype="boolean")
    groups = mother_breakdowns(frame, IMD)
    assert groups["ethnic_group"].tolist() == [
        "White British",
        "White other (Irish or any other White)",
        "White other (Irish or any other White)",
        "Black or Black British",
        NOT_KNOWN,
        NOT_KNOWN,
    ]
    assert groups["ethnic_minority"].tolist() == [
        "White British", ETHNIC_MINORITY, ETHNIC_MINORITY, ETHNIC_MINORITY, NOT_KNOWN, NOT_KNOWN,
    ]  # fmt: skip
    assert groups["nrpf"].tolist() == [
        "No recourse to public funds", "Recourse to public funds", NOT_KNOWN,
        "Recourse to public funds", "Recourse to public funds", "Recourse to public funds",
    ]  # fmt: skip


# -- marts: SPC and disclosure control ---------------------------------------------------------
def monthly_bookings(late_per_month: list[int], per_month: int = 100) -> pd.DataFrame:
    """``per_month`` bookings in each month from January 2022, the first ``late`` of them late."""
    gestations, dates = [], []
    for i, late in enumerate(late_per_month):  # months of a test series
        month = pd.Timestamp("2022-01-01") + pd.DateOffset(months=i)
        gestations += [100] * late + [60] * (per_month - late)
        dates += [month + pd.Timedelta(days=9)] * per_month
    return bookings_frame(gestations, dates)


def test_spc_flags_a_rise_in_late_bookings_on_the_monthly_all_women_series_only():
    # 20 stable months alternating 12 and 26 late of 100, then 4 months at 50 (values in %).
    # centre = (12 × 10 + 26 × 10 + 50 × 4) / 24 = 24.17; moving ranges: 19 of 14, one of 24,
    # three of 0: mean 290 / 23 = 12.61 (none above 3.267 × 12.61, so none screened);
    # sigma = 12.61 × 2.66 / 3 = 11.18; upper limit 24.17 + 2.66 × 12.61 = 57.7, so 50 is inside
    # it but beyond the 2-sigma line (46.5): two of three beyond 2 sigma, a concern (lower is
    # better). The stable months alternate about the centre: no run, no trend.
    table = build_late_bookings(monthly_bookings([12, 26] * 10 + [50] * 4), IMD)
    charted = (table["period_type"] == "month") & (table["breakdown"] == "all")
    spc = table[charted].sort_values("period_start")
    assert spc["late_booking_spc_variation"].tolist() == ["common_cause"] * 20 + ["concern"] * 4
    assert spc["late_booking_spc_rule"].tolist()[-4:] == ["two_of_three_beyond_two_sigma"] * 4
    assert spc["late_booking_spc_centre"].iloc[0] == pytest.approx(580 / 24)
    assert spc["late_booking_spc_upper_limit"].iloc[0] == pytest.approx(580 / 24 + 2.66 * 290 / 23)
    assert table.loc[~charted, "late_booking_spc_centre"].isna().all()
    assert table.loc[~charted, "late_booking_spc_variation"].isna().all()


def publish_whole(spec, mart: pd.DataFrame) -> pd.DataFrame:
    """The published tier's engine on a mart's every row (the declared relations of ``spec``)."""
    whole = dataclasses.replace(spec, select=lambda frame: frame)
    publication = publish({spec.name: mart}, [whole])
    assert publication.decision.audit["passes"].all()
    return publication.tables[spec.name]


def test_the_mart_keeps_small_counts_and_the_published_tier_withholds_them():
    # January 2024, 43 bookings: deprived 15 (2 late), other 20 (9 late), LSOA unknown 8 (none).
    lsoas = ["E01000001"] * 15 + ["E01000002"] * 20 + [None] * 8
    gestations = [100] * 2 + [60] * 13 + [100] * 9 + [60] * 11 + [60] * 8
    mart = build_late_bookings(bookings_frame(gestations, "2024-01-15", lsoas=lsoas), IMD)
    deprived, other = "Most deprived 30% (deciles 1-3)", "Other 70% (deciles 4-10)"
    groups = mart[mart["breakdown"] == "deprivation_group"].set_index("breakdown_value")
    assert groups.loc[deprived, "late_bookings"] == 2  # the team's mart: full detail
    assert groups.loc[deprived, "late_booking_pct"] == pytest.approx(100 * 2 / 15)

    table = publish_whole(LATE_BOOKINGS, mart)
    groups = table[table["breakdown"] == "deprivation_group"].set_index("breakdown_value")
    # 2 late: a count of 1-7, withheld with its percentage and CI
    assert pd.isna(groups.loc[deprived, "late_bookings"])
    assert groups.loc[deprived, ["late_booking_pct", "late_booking_pct_ci95_lower"]].isna().all()
    # 11 (all women, published) - 9 - 0 would give the 2 back: the smallest non-zero other cell
    # (9, not the zero) is withheld as well; the zero stays.
    assert pd.isna(groups.loc[other, "late_bookings"])
    assert pd.isna(groups.loc[other, "late_booking_pct"])
    assert groups.loc[NOT_KNOWN, "late_bookings"] == 0
    assert groups["bookings"].tolist() == [15, 8, 20]  # nothing small: shown (rows in key order)
    assert groups["is_suppressed"].tolist() == [True, False, True]
    everyone = table[table["breakdown"] == "all"].iloc[0]
    assert everyone["late_bookings"] == 11 and not everyone["is_suppressed"]


def test_a_small_month_is_protected_inside_its_quarter_and_its_series_loses_its_spc():
    # Q1 2024 bookings for all women: 30, 3, 30 = 63 (published): February's 3 is withheld, and
    # January (the first of the two smallest others) with it, so 63 - 30 gives nothing away.
    # The SPC centre is the mean of the three months: it would give their sum away, so the
    # series' SPC figures are withheld.
    gestations = [60] * 63
    dates = ["2024-01-10"] * 30 + ["2024-02-10"] * 3 + ["2024-03-10"] * 30
    mart = build_late_bookings(bookings_frame(gestations, dates), IMD)
    table = publish_whole(LATE_BOOKINGS, mart)
    everyone = table[table["breakdown"] == "all"].set_index(["period_type", "period_start"])
    assert everyone.loc[("quarter", pd.Timestamp("2024-01-01")), "bookings"] == 63
    months = everyone.loc["month", "bookings"]
    assert months.isna().tolist() == [True, True, False]
    assert everyone.loc["month", "late_booking_spc_centre"].isna().all()
    assert mart["late_booking_spc_centre"].notna().any()  # the team's mart keeps its chart


def test_the_published_births_table_leaves_stillbirths_to_the_yearly_table():
    # 40 births with 3 stillbirths: births and live births side by side give the 3 back, so the
    # published prematurity table shows births without live births and stillbirths.
    outcome = ["stillbirth"] * 3 + ["live"] * 37
    mart = build_premature_deliveries(births_frame([280] * 40, outcome=outcome), IMD)
    everyone = mart[mart["breakdown"] == "all"].iloc[0]
    assert (everyone["births"], everyone["stillbirths"], everyone["live_births"]) == (40, 3, 37)
    published = PREMATURE_DELIVERIES.select(mart)
    assert not {"live_births", "stillbirths", "stillbirths_per_1000"} & set(published.columns)


def test_every_mart_column_has_a_description():
    dates = [f"2023-{m:02d}-10" for m in range(1, 13)]
    bookings = bookings_frame([60] * 12, dates)
    births = births_frame([280] * 12, date=dates)
    terminations = pd.DataFrame(
        {
            "year": [2023],
            "area_code": ["E08000026"],
            "terminations": [10],
            **{
                c: [2]
                for c in (
                    "terminations_under_18",
                    "terminations_18_19",
                    "terminations_20_24",
                    "terminations_25_29",
                    "terminations_30_34",
                )
            },
            "terminations_35_and_over": [0],
        }  # fmt: skip
    )
    marts = [
        (build_late_bookings(bookings, IMD), late_bookings_descriptions()),
        (build_premature_deliveries(births, IMD), premature_deliveries_descriptions()),
        (build_pregnancy_outcomes(bookings, births, terminations, "E08000026"),
         PREGNANCY_OUTCOME_DESCRIPTIONS),
        (build_preterm_outcomes(births, IMD), preterm_outcomes_descriptions()),
    ]  # fmt: skip
    for table, descriptions in marts:
        assert set(table.columns) == set(descriptions), set(table.columns) ^ set(descriptions)
        assert not {"booking_pseudo_id", "birth_pseudo_id", "lsoa_code"} & set(table.columns)


def test_quoted_fields_keep_physical_line_numbers(tmp_path):
    rows = [
        'BK000001,2024-01-10,70,"25 to 29",A,E01000001,N',
        'BK000002,2024-01-10,70,"25 to\n29",A,E01000001,N',  # a line break inside quotes
        "BK000003,2024-01-10,900,25 to 29,A,E01000001,N",
        'BK000004,2024-01-10,"70"',
    ]
    result = load(tmp_path, bookings=rows)
    assert quarantined(result.bookings) == [
        (
            "bookings_2024.csv",
            3,
            "mother_age_band: '25 to\n29' is not an age band (Under 20, 20 to 24, 25 to 29, "
            "30 to 34, 35 to 39, 40 to 44, 45 or Over)",
        ),
        (
            "bookings_2024.csv",
            5,
            "gestation_at_booking_days: 900 is outside the possible range (0, 400) days",
        ),
        ("bookings_2024.csv", 6, "record has 3 fields, the header 7"),
    ]
    assert result.bookings.staging["line_number"].tolist() == [2]


# -- reading and linking at speed (issue #7): the fast paths give what the rules say ------------
def test_line_ends_a_byte_order_mark_and_column_order_do_not_change_what_is_staged(tmp_path):
    rows = [GOOD_BOOKING, "BK000002,2024-01-11,900,25 to 29,A,E01000001,N"]
    plain = load(tmp_path, bookings=rows)
    # the same extract from Windows, with a byte order mark and the columns in another order
    names = BOOKING_HEADER.split(",")
    order = [names.index(n) for n in reversed(names)]
    lines = [",".join(reversed(names))] + [",".join(r.split(",")[i] for i in order) for r in rows]
    text = "\ufeff" + "\r\n".join(lines) + "\r\n"
    (tmp_path / "bookings_2024.csv").write_bytes(text.encode("utf-8"))
    births = [tmp_path / "births_2024.csv"]
    terminations = [tmp_path / "terminations_2023.csv"]
    windows = load_maternity([tmp_path / "bookings_2024.csv"], births, terminations, IMD, AS_OF)
    pd.testing.assert_frame_equal(plain.bookings.staging, windows.bookings.staging)
    assert quarantined(windows.bookings) == [
        (
            "bookings_2024.csv",
            3,
            "gestation_at_booking_days: 900 is outside the possible range (0, 400) days",
        )
    ]


def test_a_blank_line_is_skipped_and_still_counted_in_line_numbers(tmp_path):
    rows = [GOOD_BOOKING, "", "BK000002,2024-01-11,900,25 to 29,A,E01000001,N"]
    result = load(tmp_path, bookings=rows)
    assert result.bookings.staging["line_number"].tolist() == [2]
    assert [line for _, line, _ in quarantined(result.bookings)] == [4]
    assert result.bookings.input_rows == 2


def test_a_lone_carriage_return_ends_a_line_as_lf_and_crlf_do(tmp_path):
    # as pandas, Python's csv module and the Fingertips and referrals readers take it
    rows = [
        GOOD_BOOKING,
        "BK000002,2024-01-11,900,25 to 29,A,E01000001,N",
        "BK000003,2024-01-12,71,25 to 29,A,E01000001,N",
    ]
    plain = load(tmp_path, bookings=rows)
    path = tmp_path / "bookings_2024.csv"
    others = [tmp_path / "births_2024.csv"], [tmp_path / "terminations_2023.csv"]
    classic_mac = "\r".join([BOOKING_HEADER, *rows]) + "\r"
    mixed = BOOKING_HEADER + "\r\n" + rows[0] + "\r" + rows[1] + "\n" + rows[2]
    for text in (classic_mac, mixed):
        path.write_bytes(text.encode("utf-8"))
        result = load_maternity([path], *others, IMD, AS_OF)
        pd.testing.assert_frame_equal(result.bookings.staging, plain.bookings.staging)
        assert quarantined(result.bookings) == [
            (
                "bookings_2024.csv",
                3,
                "gestation_at_booking_days: 900 is outside the possible range (0, 400) days",
            )
        ]
    assert result.bookings.staging["line_number"].tolist() == [2, 4]


def test_a_record_cut_by_a_lone_carriage_return_is_quarantined_in_two_pieces(tmp_path):
    rows = [
        GOOD_BOOKING,
        "BK000002,2024-01-11,70\r25 to 29,A,E01000001,N",
        "BK000003,2024-01-12,71,25 to 29,A,E01000001,N",
    ]
    result = load(tmp_path, bookings=rows)
    assert quarantined(result.bookings) == [
        ("bookings_2024.csv", 3, "record has 3 fields, the header 7"),
        # its fields are shifted: the field count is its one reason, not five about the values
        ("bookings_2024.csv", 4, "record has 4 fields, the header 7"),
    ]
    # nothing lost: both pieces are kept as delivered
    records = [json.loads(r) for r in result.bookings.quarantine["record"]]
    assert [list(r.values())[:4] for r in records] == [
        ["BK000002", "2024-01-11", "70", ""],
        ["25 to 29", "A", "E01000001", "N"],
    ]
    assert result.bookings.staging["line_number"].tolist() == [2, 5]
    assert_adds_up(result)


def test_a_lone_carriage_return_in_a_file_with_quotes_is_a_line_break_too(tmp_path):
    rows = [
        'BK000001,2024-01-10,70,"25 to 29",A,E01000001,N\r'  # a record ended by a lone CR
        'BK000002,2024-01-10,70,"25 to\r29",A,E01000001,N',  # a lone CR inside quotes
        "BK000003,2024-01-10,900,25 to 29,A,E01000001,N",
    ]
    result = load(tmp_path, bookings=rows)
    assert quarantined(result.bookings) == [
        (
            "bookings_2024.csv",
            3,
            "mother_age_band: '25 to\r29' is not an age band (Under 20, 20 to 24, 25 to 29, "
            "30 to 34, 35 to 39, 40 to 44, 45 or Over)",
        ),
        (
            "bookings_2024.csv",
            5,
            "gestation_at_booking_days: 900 is outside the possible range (0, 400) days",
        ),
    ]
    assert result.bookings.staging["line_number"].tolist() == [2]
    assert_adds_up(result)


def test_whole_numbers_are_read_in_any_form_that_is_a_whole_number(tmp_path):
    gestations = ["1e2", "+70", "70.0", " 71 ", "70.5", "0x46"]
    rows = [f"BK00000{i},2024-01-11,{g},25 to 29,A,E01000001,N" for i, g in enumerate(gestations)]
    result = load(tmp_path, bookings=rows, births=[GOOD_BIRTH.replace("BK000001", "")])
    assert result.bookings.staging["gestation_at_booking_days"].tolist() == [100, 70, 70, 71]
    assert [reason for _, _, reason in quarantined(result.bookings)] == [
        "gestation_at_booking_days: '70.5' is not a whole number",
        "gestation_at_booking_days: '0x46' is not a whole number",
    ]


def test_a_birth_is_linked_to_the_first_booking_with_its_id(tmp_path):
    # the second booking with the id (9 September) would put the birth before its booking
    bookings = pd.DataFrame(
        {
            "booking_pseudo_id": ["BK000001", "BK000002", "BK000001"],
            "booking_date": pd.to_datetime(["2024-01-10", "2024-01-11", "2024-09-09"]),
        }
    )
    path = write(tmp_path, "births_2024.csv", BIRTH_HEADER, [GOOD_BIRTH])
    raw, _ = read_extract(path, BIRTH_HEADER.split(","))
    staged, quarantine, _ = parse_births(raw, pd.Index(["E01000001"]), AS_OF, bookings)
    assert quarantine.empty
    assert staged["has_staged_booking"].tolist() == [True]


def test_twins_born_either_side_of_new_year_are_a_maternity_in_each_year():
    # one baby a month through 2023 and 2024 (so both years are covered), then the twin of
    # December 2023's baby born on 1 January 2024, and two babies of 2023 without a booking
    dates = [f"{y}-{m:02d}-15" for y in (2023, 2024) for m in range(1, 13)]
    births = births_frame([280] * 27, date=[*dates, "2024-01-01", "2023-03-03", "2023-04-04"])
    births.loc[24, "booking_pseudo_id"] = births.loc[11, "booking_pseudo_id"]
    births.loc[[25, 26], "booking_pseudo_id"] = None
    bookings = bookings_frame([60], "2023-01-01")
    terminations = pd.DataFrame(
        {"year": pd.Series([], dtype="int64"), "area_code": pd.Series([], dtype=object),
         "terminations": pd.Series([], dtype="Int64"),
         **{c: pd.Series([], dtype="Int64") for c in (
             "terminations_under_18", "terminations_18_19", "terminations_20_24",
             "terminations_25_29", "terminations_30_34", "terminations_35_and_over")}}
    )  # fmt: skip
    table = pregnancy_outcomes(bookings, births, terminations, "E08000026")
    everyone = table[table["breakdown"] == "all"].set_index("period_start")
    assert everyone.loc["2023-01-01", "maternities"] == 14  # 12 + 2 without a booking
    assert everyone.loc["2024-01-01", "maternities"] == 13  # 12 + the twin of December
    assert everyone.loc["2024-01-01", "live_births"] == 13


def test_not_known_is_published_with_the_group_it_changes_least():
    # Deprivation, 2024: other 70% 40 bookings (4 late), not known 5 (1 late). Published as
    # "Other 70% (deciles 4-10) or not known": 45 bookings, 5 late = 11.11%, with the Wilson
    # interval of 5/45 worked out here (z = 1.959964).
    lsoas = ["E01000001"] * 30 + ["E01000002"] * 40 + [None] * 5
    gestations = [60] * 30 + [100] * 4 + [60] * 36 + [100] + [60] * 4
    mart = build_late_bookings(bookings_frame(gestations, "2024-01-15", lsoas=lsoas), IMD)
    table = LATE_BOOKINGS.select(mart.assign(period_type="year"))
    groups = table[table["breakdown"] == "deprivation_group"].set_index("breakdown_value")
    assert sorted(groups.index) == [
        "Most deprived 30% (deciles 1-3)",
        "Other 70% (deciles 4-10) or not known",
    ]
    joined = groups.loc["Other 70% (deciles 4-10) or not known"]
    assert (joined["bookings"], joined["late_bookings"]) == (45, 5)
    assert joined["late_booking_pct"] == pytest.approx(100 * 5 / 45)
    z, r, n = 1.959964, 5, 45
    half = z * math.sqrt(z * z + 4 * r * (1 - r / n))
    assert joined["late_booking_pct_ci95_lower"] == pytest.approx(
        100 * (2 * r + z * z - half) / (2 * (n + z * z)), rel=1e-5
    )
    assert joined["late_booking_pct_ci95_upper"] == pytest.approx(
        100 * (2 * r + z * z + half) / (2 * (n + z * z)), rel=1e-5
    )
