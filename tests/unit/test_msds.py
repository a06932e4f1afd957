"""MSDS publications: both layouts, label drift, rounding, omitted zeros, bad rows, and the mart."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.msds import (
    CATEGORIES,
    MART_DESCRIPTIONS,
    STAGING_DESCRIPTIONS,
    label_key,
    load_msds,
    maternity_vs_england,
)
from cov_pipeline.quality import FileFault
from cov_pipeline.sample_data.msds import generate_msds

REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "real-data"
REAL_MSDS = REAL_DATA / "msds_annual_RKB_and_England_2020-22.csv"
needs_real_msds = pytest.mark.skipif(
    not REAL_MSDS.exists(), reason=f"real MSDS file not present at {REAL_MSDS}"
)

ANNUAL = "Period,Dimension,Org_Level,Org_Code,Org_Name,Measure,Count_Of,Value\n"
MONTHLY = (
    "ReportingPeriodStartDate,ReportingPeriodEndDate,Dimension,Org_Level,Org_Code,Org_Name,"
    "Measure,Count_Of,Final_value\n"
)
RKB = "Provider,RKB,UNIVERSITY HOSPITALS COVENTRY AND WARWICKSHIRE NHS TRUST"
ENG = "National,National,ALL SUBMITTERS"
BOOKING = "GestAgeFormalAntenatalBookingGroup"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return path


def booking_rows(period: str, org: str, counts: dict[str, str], dimension: str = BOOKING) -> str:
    return "".join(f"{period},{dimension},{org},{m},Deliveries,{v}\n" for m, v in counts.items())


def wilson_pct(r: float, n: float) -> tuple[float, float]:
    """Wilson score 95% limits written out: (2r + z² ∓ z√(z² + 4r(1 - r/n))) / 2(n + z²)."""
    z = 1.959963984540054
    half = z * math.sqrt(z * z + 4 * r * (1 - r / n))
    return (
        100 * (2 * r + z * z - half) / (2 * (n + z * z)),
        100 * (2 * r + z * z + half) / (2 * (n + z * z)),
    )


def mart_row(mart: pd.DataFrame, period: str, org: str, measure: str) -> pd.Series:
    rows = mart[
        (mart["period"] == period) & (mart["org_code"] == org) & (mart["measure_id"] == measure)
    ]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# -- the real publication ----------------------------------------------------------------------
@needs_real_msds
def test_real_file_reproduces_the_readme_figures_for_rkb_2020_21():
    load = load_msds([REAL_MSDS])
    assert load.input_rows == 488
    assert load.quarantine.empty
    assert load.rows_accounted_for == 488
    mart = maternity_vs_england(load.staging)

    late = mart_row(mart, "2020-21", "RKB", "late_booking")
    assert late["total_deliveries"] == 5350
    assert (late["numerator"], late["denominator"]) == (615, 5090)
    assert round(late["value_pct"], 1) == 12.1
    assert (late["ci95_lower"], late["ci95_upper"]) == pytest.approx(wilson_pct(615, 5090))
    assert late["compared_to_england"] == "Worse"  # England 2020-21: 47,765 of 478,590 (10.0%)
    assert late["england_value_pct"] == pytest.approx(100 * 47765 / 478590)

    preterm = mart_row(mart, "2020-21", "RKB", "preterm")
    assert (preterm["numerator"], preterm["denominator"]) == (555, 5440)
    assert round(preterm["value_pct"], 1) == 10.2

    extreme = mart_row(mart, "2020-21", "RKB", "extremely_preterm")
    assert (extreme["numerator"], extreme["denominator"]) == (55, 5440)
    assert round(extreme["value_pct"], 1) == 1.0

    deprived = mart_row(mart, "2020-21", "RKB", "most_deprived_30pct")
    # deciles 1-3: 1,070 + 560 + 785 of the 5,135 with a known decile
    assert (deprived["numerator"], deprived["denominator"]) == (2415, 5135)
    assert deprived["compared_to_england"] in {"Higher", "Lower", "Similar"}
    assert mart["is_rounded_input"].all()


@needs_real_msds
def test_real_file_labels_normalise_across_its_two_releases():
    staging = load_msds([REAL_MSDS]).staging
    deciles = staging[
        (staging["dimension"] == "DeprivationDecileAtBooking") & (staging["org_code"] == "RKB")
    ]
    published = deciles.set_index(["period", "measure"])["measure_as_published"]
    assert published[("2020-21", "02")] == "2"
    assert published[("2021-22", "02")] == "02"
    missing = staging[staging["measure"] == "Missing value / Value outside reporting parameters"]
    assert set(missing["measure_as_published"]) == {
        "Missing value / Value outside reporting parameters",
        "Missing Value / Value outside reporting parameters",
        "Missing Value/Value outside reporting parameters",
    }
    totals = staging[staging["dimension"] == "TotalDeliveries"]
    assert totals["measure"].isna().all()  # the totals have a blank Measure: kept missing
    assert staging["is_rounded"].all()


# -- labels --------------------------------------------------------------------------------------
def test_label_key_ignores_case_spacing_slashes_and_zero_padding():
    keys = label_key(
        pd.Series(
            [
                "02",
                "2",
                "Missing Value/Value outside reporting parameters",
                "  missing value /  Value outside reporting parameters ",
                "0 to 70 days",
                "01 - Most deprived",
            ]
        )
    )
    assert keys.tolist() == [
        "2",
        "2",
        "missing value / value outside reporting parameters",
        "missing value / value outside reporting parameters",
        "0 to 70 days",
        "1 - most deprived",
    ]


def test_a_newer_release_with_renamed_labels_normalises(tmp_path):
    old = write(
        tmp_path,
        "msds-old.csv",
        ANNUAL
        + booking_rows(
            "2022-23",
            RKB,
            {
                "0 to 70 days": "3000",
                "71 to 90 days": "1300",
                "91 to 140 days": "400",
                "141+ days": "200",
                "Missing value / Value outside reporting parameters": "45",
            },
        ),
    )
    newer = write(
        tmp_path,
        "msds-newer.csv",
        ANNUAL
        + booking_rows(
            "2023-24",
            "PROVIDER,RKB,University Hospitals Coventry and Warwickshire NHS Trust",
            {
                "0 to 70 days": "3000",
                "71  to 90 days": "1300",
                " 91 to 140 days ": "400",
                "141 days and over": "200",
                "Missing / Value outside reporting parameters": "45",
            },
            dimension="GestAgeBookingGroup",
        ),
    )
    load = load_msds([old, newer])
    assert load.quarantine.empty
    staging = load.staging
    by_period = {
        period: rows.set_index("measure")["value"].to_dict()
        for period, rows in staging.groupby("period")
    }
    assert by_period["2022-23"] == by_period["2023-24"]
    renamed = staging[staging["period"] == "2023-24"]
    assert set(renamed["dimension"]) == {BOOKING}
    assert set(renamed["dimension_as_published"]) == {"GestAgeBookingGroup"}
    assert set(renamed["org_level"]) == {"Provider"}
    mart = maternity_vs_england(staging)
    assert mart_row(mart, "2023-24", "RKB", "late_booking")["numerator"] == 600


def test_an_unknown_category_of_a_known_dimension_is_quarantined_not_guessed(tmp_path):
    path = write(
        tmp_path,
        "msds-unknown.csv",
        ANNUAL
        + booking_rows(
            "2022-23",
            RKB,
            {"0 to 70 days": "3000", "71 to 90 days": "1300", "13 weeks or later": "600"},
        ),
    )
    load = load_msds([path])
    assert load.quarantine["reasons"].tolist() == [
        "measure: '13 weeks or later' is not a known category of GestAgeFormalAntenatalBookingGroup"
    ]
    assert load.quarantine["line_number"].tolist() == [4]
    # no zeros are restored beside a rejected row: the missing categories might be that row
    assert not load.staging["is_restored_zero"].any()
    assert load.rows_accounted_for == load.input_rows == 3


# -- values --------------------------------------------------------------------------------------
def test_blank_values_stay_missing_and_make_their_sum_missing(tmp_path):
    path = write(
        tmp_path,
        "msds-blank.csv",
        ANNUAL
        + booking_rows(
            "2022-23",
            RKB,
            {
                "0 to 70 days": "3000",
                "71 to 90 days": "",
                "91 to 140 days": "400",
                "141+ days": "200",
            },
        ),
    )
    load = load_msds([path])
    staged = load.staging.set_index("measure")
    assert pd.isna(staged.loc["71 to 90 days", "value"])
    assert load.quarantine.empty
    row = mart_row(maternity_vs_england(load.staging), "2022-23", "RKB", "late_booking")
    assert row["numerator"] == 600
    assert pd.isna(row["denominator"])  # not 3,600: one of its categories is missing
    assert pd.isna(row["value_pct"])


def test_a_value_that_is_not_a_number_is_quarantined(tmp_path):
    path = write(
        tmp_path,
        "msds-text.csv",
        ANNUAL + booking_rows("2022-23", RKB, {"0 to 70 days": "3000", "71 to 90 days": "n/a"}),
    )
    load = load_msds([path])
    assert load.quarantine[["line_number", "reasons"]].values.tolist() == [
        [3, "value: 'n/a' is not a number"]
    ]
    assert load.quarantine["record"].iloc[0].endswith('"Count_Of":"Deliveries","Value":"n\\/a"}')
    assert load.quarantine["source"].tolist() == ["msds"]


def test_a_suppressed_value_is_missing_and_flagged_not_a_fault(tmp_path):
    path = write(
        tmp_path,
        "msds-star.csv",
        ANNUAL + booking_rows("2022-23", RKB, {"0 to 70 days": "3000", "141+ days": "*"}),
    )
    load = load_msds([path])
    assert load.quarantine.empty
    star = load.staging.set_index("measure").loc["141+ days"]
    assert pd.isna(star["value"]) and bool(star["is_suppressed"])


def test_a_negative_value_is_quarantined(tmp_path):
    path = write(
        tmp_path, "msds-negative.csv", ANNUAL + booking_rows("2022-23", RKB, {"0 to 70 days": "-5"})
    )
    assert load_msds([path]).quarantine["reasons"].tolist() == [
        "value: greater_than_or_equal_to(0) (got -5.0)"
    ]


def test_counts_are_flagged_rounded_when_the_file_rounds_them(tmp_path):
    rounded = write(
        tmp_path,
        "msds-a.csv",
        ANNUAL + booking_rows("2022-23", RKB, {"0 to 70 days": "3000", "141+ days": "5"}),
    )
    exact = write(
        tmp_path,
        "msds-b.csv",
        ANNUAL + booking_rows("2023-24", RKB, {"0 to 70 days": "3001", "141+ days": "5"}),
    )
    staging = load_msds([rounded, exact]).staging
    flags = staging[~staging["is_restored_zero"]].groupby("source_file")["is_rounded"].unique()
    assert flags.to_dict() == {"msds-a.csv": [True], "msds-b.csv": [False]}


# -- omitted zero rows ---------------------------------------------------------------------------
def test_omitted_zero_rows_are_restored_for_known_dimensions_only(tmp_path):
    path = write(
        tmp_path,
        "msds-zeros.csv",
        ANNUAL
        + booking_rows(
            "2022-23",
            RKB,
            {"0 to 70 days": "3000", "71 to 90 days": "1300", "91 to 140 days": "400"},
        )
        + f"2022-23,AgeAtBookingMotherGroup,{RKB},Under 20,Deliveries,205\n"
        + f"2022-23,TotalDeliveries,{RKB},,Deliveries,4750\n",
    )
    load = load_msds([path])
    restored = load.staging[load.staging["is_restored_zero"]]
    # MSDS omits zero rows: '141+ days' and the missing category were zero.
    assert sorted(restored["measure"]) == [
        "141+ days",
        "Missing value / Value outside reporting parameters",
    ]
    assert (restored["value"] == 0).all()
    assert restored["line_number"].isna().all()
    assert (restored["source_row_count"] == 0).all()
    assert set(restored["dimension"]) == {BOOKING}  # never an unknown dimension, never totals
    # England did not publish the dimension at all: nothing is restored for it
    assert not load.staging["is_england"].any()
    assert load.rows_accounted_for == load.input_rows == 5
    row = mart_row(maternity_vs_england(load.staging), "2022-23", "RKB", "late_booking")
    assert (row["numerator"], row["denominator"]) == (400, 4700)


def test_the_known_categories_table_covers_every_measure_category():
    from cov_pipeline.msds import COMPARISON_MEASURES

    known = set(map(tuple, CATEGORIES[["dimension", "measure"]].to_numpy()))
    for measure in COMPARISON_MEASURES:
        for category in (*measure.numerator, *measure.denominator):
            assert (measure.dimension, category) in known


# -- duplicates ----------------------------------------------------------------------------------
def test_identical_rows_in_two_releases_merge_and_conflicts_are_quarantined(tmp_path):
    rows = {"0 to 70 days": "3000", "71 to 90 days": "1300"}
    a = write(tmp_path, "msds-a.csv", ANNUAL + booking_rows("2022-23", RKB, rows))
    b = write(
        tmp_path,
        "msds-b.csv",
        ANNUAL + booking_rows("2022-23", RKB, {**rows, "71 to 90 days": "1305"}),
    )
    load = load_msds([a, b])
    staged = load.staging[~load.staging["is_restored_zero"]].set_index("measure")
    assert staged.loc["0 to 70 days", "source_row_count"] == 2
    assert "71 to 90 days" not in staged.index
    assert (
        load.quarantine["reasons"].tolist()
        == [
            "conflicting values for the same period, organisation, dimension and measure: "
            "msds-a.csv:3, msds-b.csv:3"
        ]
        * 2
    )
    assert load.quarantine["record"].tolist()[1].endswith('"Value":"1305"}')
    assert load.rows_accounted_for == load.input_rows == 4


# -- periods and layouts ---------------------------------------------------------------------------
def test_monthly_layout_with_iso_and_uk_dates(tmp_path):
    path = write(
        tmp_path,
        "msds-2023-04-exp-data.csv",
        MONTHLY
        + f"2023-04-01,2023-04-30,TotalDeliveries,{RKB},,Deliveries,445\n"
        + f"01/05/2023,31/05/2023,TotalDeliveries,{RKB},,Deliveries,450\n"
        + f"2023-04-01,2024-03-31,TotalDeliveries,{RKB},,Deliveries,5300\n",
    )
    staging = load_msds([path]).staging.sort_values("line_number")
    assert staging["period"].tolist() == ["2023-04", "2023-05", "2023-24"]
    assert staging["period_type"].tolist() == ["month", "month", "financial_year"]
    assert staging["period_end"].tolist() == [
        pd.Timestamp("2023-04-30"),
        pd.Timestamp("2023-05-31"),
        pd.Timestamp("2024-03-31"),
    ]


def test_an_unreadable_date_or_period_is_quarantined(tmp_path):
    monthly = write(
        tmp_path,
        "msds-m.csv",
        MONTHLY
        + f"2023-13-01,2023-04-30,TotalDeliveries,{RKB},,Deliveries,445\n"
        + f"2023-05-31,2023-05-01,TotalDeliveries,{RKB},,Deliveries,445\n",
    )
    annual = write(
        tmp_path, "msds-y.csv", ANNUAL + f"2020-22,TotalDeliveries,{RKB},,Deliveries,5350\n"
    )
    quarantine = load_msds([monthly, annual]).quarantine
    assert quarantine[["source_file", "line_number", "reasons"]].values.tolist() == [
        ["msds-m.csv", 2, "period_start: '2023-13-01' is not a date (YYYY-MM-DD or DD/MM/YYYY)"],
        ["msds-m.csv", 3, "period_end: before period_start"],
        ["msds-y.csv", 2, "period: '2020-22' is not a financial year like 2020-21"],
    ]


def test_a_row_missing_its_dimension_or_category_is_quarantined(tmp_path):
    path = write(
        tmp_path,
        "msds-blank-labels.csv",
        ANNUAL
        + f"2022-23,,{RKB},,Deliveries,445\n"
        + f"2022-23,{BOOKING},{RKB},,Deliveries,445\n"
        + f"2022-23,TotalDeliveries,{RKB},,Deliveries,4450\n",  # totals have no category
    )
    assert load_msds([path]).quarantine["reasons"].tolist() == [
        "dimension: missing",
        "measure: missing",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "msds-x.csv: file is empty"),
        (ANNUAL, "msds-x.csv: has a header but no data rows"),
        (
            "Period,Dimension,Org_Level,Org_Code,Org_Name,Measure,Value\n2022-23,a,b,c,d,e,5\n",
            "msds-x.csv: missing required column(s) of the annual MSDS layout: 'Count_Of'",
        ),
        (
            "Indicator ID,Value\n1,2\n",
            "msds-x.csv: not an MSDS file: the header has neither ReportingPeriodStartDate "
            "(monthly layout) nor Period (annual layout)",
        ),
        (
            ANNUAL.replace("\n", ",Note\n") + f"2022-23,TotalDeliveries,{RKB},,Deliveries,5,x\n",
            "msds-x.csv: unexpected column(s): 'Note'",
        ),
        (
            # a copy cut short: NUL bytes after the last record
            ANNUAL + f"2022-23,TotalDeliveries,{RKB},,Deliveries,5\n" + "\0" * 3,
            "msds-x.csv: ends in 3 NUL byte(s) after its last record: the copy was cut short; "
            "send the file again",
        ),
    ],
)
def test_file_faults(tmp_path, text, message):
    path = tmp_path / "msds-x.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FileFault) as caught:
        load_msds([path])
    assert str(caught.value) == message


def test_no_files_is_a_file_fault():
    with pytest.raises(FileFault, match=r"^msds-\*\.csv: no MSDS files found$"):
        load_msds([])


# -- records the raw reader could not read as delivered ----------------------------------------
TOTALS = (
    f"2022-23,TotalDeliveries,{RKB},,Deliveries,4450\n"
    + f"2022-23,TotalBabies,{RKB},,Babies,4500\n"
    + f"2022-23,TotalDeliveries,{ENG},,Deliveries,560000\n"
)
# An organisation name with a comma the publisher did not quote: one field too many.
UNQUOTED_COMMA = "2022-23,TotalBabies,Provider,RKB,UNIVERSITY HOSPITALS, COVENTRY,,Babies,4500\n"
EXTRA_FIELD = (
    "record has 9 fields, the header 8 (extra: '4500'; a comma in a field that is not quoted?)"
)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (UNQUOTED_COMMA + TOTALS.split("\n", 1)[0] + "\n", 2),  # the first record
        (TOTALS.split("\n", 1)[0] + "\n" + UNQUOTED_COMMA, 3),  # a later one
    ],
)
def test_an_extra_unquoted_comma_is_a_row_fault_wherever_the_record_is(tmp_path, text, line):
    path = write(
        tmp_path, "msds-comma.csv", ANNUAL + text + f"2022-23,TotalBabies,{ENG},,Babies,5\n"
    )
    load = load_msds([path])
    assert load.quarantine[["line_number", "reasons"]].values.tolist() == [[line, EXTRA_FIELD]]
    assert load.quarantine["record"].iloc[0].startswith('{"Period":"2022-23"')
    assert sorted(load.staging["org_code"]) == ["National", "RKB"]
    assert load.rows_accounted_for == load.input_rows == 3


def test_a_nul_byte_inside_a_field_is_a_row_fault(tmp_path):
    text = ANNUAL + TOTALS.replace("NHS TRUST,", "NHS TRUST\0,", 1)
    load = load_msds([write(tmp_path, "msds-nul.csv", text)])
    assert load.quarantine[["line_number", "reasons"]].values.tolist() == [
        [2, "NUL byte in Org_Name"]
    ]
    assert len(load.staging) == 2 and load.rows_accounted_for == 3


def test_a_cleared_row_is_quarantined_and_no_omitted_zero_is_restored_from_its_file(tmp_path):
    # A spreadsheet's cleared row: it may have been any category of the file, so the categories
    # the file leaves out are not known to be zeros.
    rows = booking_rows("2022-23", RKB, {"0 to 70 days": "3000", "141+ days": "5"})
    cleared = write(tmp_path, "msds-a.csv", ANNUAL + rows + ",,,,,,,\n\n" + TOTALS)
    load = load_msds([cleared])
    assert load.quarantine[["line_number", "reasons"]].values.tolist() == [
        [4, "every field is empty (a cleared row)"]
    ]
    assert load.quarantine["record"].iloc[0] == (
        '{"Period":"","Dimension":"","Org_Level":"","Org_Code":"","Org_Name":"","Measure":"",'
        '"Count_Of":"","Value":""}'
    )
    assert load.restored_zero_rows == 0
    assert load.rows_accounted_for == load.input_rows == 6
    # the same file without it: the omitted categories are restored as zeros
    clean = write(tmp_path, "msds-a.csv", ANNUAL + rows + TOTALS)
    assert load_msds([clean]).restored_zero_rows == 3


def test_an_upper_case_csv_extension_is_read(tmp_path):
    total = f"2023-04-01,2023-04-30,TotalDeliveries,{RKB},,Deliveries,445\n"
    load = load_msds([write(tmp_path, "MSDS-2022-23.CSV", MONTHLY.upper() + total)])
    assert load.quarantine.empty
    assert load.staging["source_file"].tolist() == ["MSDS-2022-23.CSV"]
    assert load.files[0].name == "MSDS-2022-23.CSV" and load.files[0].rows == 1


UNREADABLE_YEARS = "is outside the financial years that can be read (1678-79 to 2261-62)"


@pytest.mark.parametrize(
    ("period", "value", "reason"),
    [
        ("2262-63", "5", f"period: '2262-63' {UNREADABLE_YEARS}"),  # its end would overflow
        ("9999-00", "5", f"period: '9999-00' {UNREADABLE_YEARS}"),
        ("2022-23", "1st", "value: '1st' is not a number"),
        ("2022-23", "inf", "value: 'inf' is not a number"),
        ("2022-23", "9" * 400, f"value: '{'9' * 400}' is not a number"),
    ],
)
def test_values_that_do_not_convert_are_row_faults_not_errors(tmp_path, period, value, reason):
    row = f"{period},TotalDeliveries,{RKB},,Deliveries,{value}\n"
    load = load_msds([write(tmp_path, "msds-odd.csv", ANNUAL + row)])
    assert load.quarantine["reasons"].tolist() == [reason]
    assert load.staging.empty


def test_monthly_dates_at_the_end_of_what_pandas_holds_do_not_overflow(tmp_path):
    text = (
        MONTHLY
        + f"2262-04-01,2262-04-11,TotalDeliveries,{RKB},,Deliveries,5\n"
        + f"2261-04-01,2262-03-31,TotalDeliveries,{RKB},,Deliveries,5\n"
        + f"2261-05-01,2262-04-30,TotalDeliveries,{RKB},,Deliveries,5\n"
    )
    load = load_msds([write(tmp_path, "msds-late.csv", text)])
    assert load.staging["period"].tolist() == ["2261-62", "2262-04-01 to 2262-04-11"]
    assert load.quarantine["reasons"].tolist() == [
        "period_end: '2262-04-30' is not a date (YYYY-MM-DD or DD/MM/YYYY)"
    ]


# -- the mart --------------------------------------------------------------------------------------
def test_small_provider_counts_pass_through_as_published(tmp_path):
    # NHS England publishes these counts (rounded to 5): public already, so the mart and the
    # published tier show them as they are.
    rows = {"0 to 70 days": "300", "71 to 90 days": "100", "91 to 140 days": "5"}
    path = write(
        tmp_path,
        "msds-small.csv",
        ANNUAL + booking_rows("2022-23", RKB, rows) + booking_rows("2022-23", ENG, rows),
    )
    mart = maternity_vs_england(load_msds([path]).staging)
    provider = mart_row(mart, "2022-23", "RKB", "late_booking")
    assert provider["numerator"] == 5 and provider["denominator"] == 405
    assert provider["value_pct"] == pytest.approx(100 * 5 / 405)
    assert provider["compared_to_england"] == "Similar"  # the same figures as England here
    england = mart_row(mart, "2022-23", "National", "late_booking")
    assert england["numerator"] == 5
    assert pd.isna(england["compared_to_england"])


def test_deprivation_share_has_no_polarity(tmp_path):
    deciles = ["01 - Most deprived", *(f"{d:02d}" for d in range(2, 10)), "10 - Least deprived"]
    provider = dict(zip(deciles, ["1000", "600", "800", *["300"] * 7], strict=True))
    england = dict(zip(deciles, ["500"] * 10, strict=True))
    text = ANNUAL + "".join(
        f"2022-23,DeprivationDecileAtBooking,{org},{m},Deliveries,{v}\n"
        for org, counts in ((RKB, provider), (ENG, england))
        for m, v in counts.items()
    )
    mart = maternity_vs_england(load_msds([write(tmp_path, "msds-d.csv", text)]).staging)
    row = mart_row(mart, "2022-23", "RKB", "most_deprived_30pct")
    assert (row["numerator"], row["denominator"]) == (2400, 4500)
    assert row["england_value_pct"] == pytest.approx(30.0)
    assert row["polarity"] == "none"
    assert row["compared_to_england"] == "Higher"  # 53.3% (51.9-54.8) lies above 30%


def test_every_column_is_described(tmp_path):
    path = write(
        tmp_path, "msds-a.csv", ANNUAL + booking_rows("2022-23", RKB, {"0 to 70 days": "30"})
    )
    staging = load_msds([path]).staging
    mart = maternity_vs_england(staging)
    assert list(staging.columns) == list(STAGING_DESCRIPTIONS)
    assert list(mart.columns) == list(MART_DESCRIPTIONS)
    assert all(MART_DESCRIPTIONS.values()) and all(STAGING_DESCRIPTIONS.values())


# -- the synthetic sample --------------------------------------------------------------------------
def test_synthetic_sample_loads_cleanly_and_shows_the_headline_levels(tmp_path):
    paths = generate_msds(tmp_path, np.random.default_rng(7))
    assert sum(p.stat().st_size for p in paths) < 1_000_000
    load = load_msds(paths)
    assert load.quarantine.empty
    assert load.restored_zero_rows > 0
    assert load.rows_accounted_for == load.input_rows
    assert (load.staging["dimension_as_published"] == "GestAgeBookingGroup").any()
    mart = maternity_vs_england(load.staging)
    annual = mart[(mart["period_type"] == "financial_year") & (mart["org_code"] == "RKB")]
    assert len(annual) == 6 * 4  # 2019-20 .. 2024-25, four measures, none lost to renamed labels
    level = annual.groupby("measure_id")["value_pct"].mean()
    assert 11 < level["late_booking"] < 13
    assert 9.5 < level["preterm"] < 11
    assert 0.7 < level["extremely_preterm"] < 1.4
    assert 45 < level["most_deprived_30pct"] < 49
    assert annual["total_deliveries"].between(5000, 5600).all()
    monthly = mart[mart["period_type"] == "month"]
    assert set(monthly["period"]) == {"2025-02", "2025-03"}


def test_an_error_while_parsing_is_a_file_fault_naming_the_file(tmp_path, monkeypatch):
    import cov_pipeline.msds.parsing as msds

    def failing(raw, layout):
        raise ValueError('Unable to parse string "1st" at position 0')

    monkeypatch.setattr(msds, "parse_msds", failing)
    path = write(tmp_path, "msds-x.csv", ANNUAL + f"2022-23,TotalDeliveries,{RKB},,Deliveries,5\n")
    with pytest.raises(FileFault) as caught:
        load_msds([path])
    assert str(caught.value) == (
        "msds-x.csv: could not be parsed: nothing from this source was written (ValueError: "
        'Unable to parse string "1st" at position 0)'
    )
