"""Deprivation lookup and MSDS assets through dagster.materialize, on DuckDB and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from assets.deprivation import imd_lsoa
from assets.msds import maternity_vs_england_mart, msds_staging
from cov_pipeline.imd import OUTPUT_DESCRIPTIONS
from cov_pipeline.msds import MART_DESCRIPTIONS, STAGING_DESCRIPTIONS
from cov_pipeline.settings import PROJECT_ROOT
from cov_pipeline.warehouse import Warehouse
from tests.pipeline import failure_message, materialize_on

SAMPLE_RAW = PROJECT_ROOT / "data" / "raw"
REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "real-data"
REAL_IMD = REAL_DATA / "imd2019_coventry.csv"
REAL_MSDS = REAL_DATA / "msds_annual_RKB_and_England_2020-22.csv"
ASSETS = [imd_lsoa, msds_staging, maternity_vs_england_mart]


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    target = tmp_path / "raw"
    (target / "reference").mkdir(parents=True)
    shutil.copy(SAMPLE_RAW / "reference" / "imd2019_lsoa.csv", target / "reference")
    shutil.copytree(
        SAMPLE_RAW / "maternity",
        target / "maternity",
        ignore=shutil.ignore_patterns("bookings*", "births*", "terminations*"),
    )
    return target


def run(raw_dir: Path, url: str):
    return materialize_on(ASSETS, raw_dir, url)


def test_sample_extracts_fill_the_lookup_staging_and_mart(raw_dir, warehouse_url):
    result = run(raw_dir, warehouse_url)
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"rows_accounted_for": True, "quarantine_share_within_ceiling": True}

    wh = Warehouse(warehouse_url)
    imd = wh.read_table("staging", "imd_lsoa")
    assert len(imd) == 195 and int(imd["is_most_deprived_30pct"].sum()) == 78
    staging = wh.read_table("staging", "msds_measures")
    assert staging["is_restored_zero"].any()
    assert wh.row_count("quality", "msds_quarantine") == 0
    mart = wh.read_table("marts", "maternity_vs_england")
    assert list(mart.columns) == list(MART_DESCRIPTIONS)
    rkb = mart[(mart["org_code"] == "RKB") & (mart["period_type"] == "financial_year")]
    assert sorted(rkb["period"].unique()) == [f"{y}-{(y + 1) % 100:02d}" for y in range(2019, 2025)]
    assert rkb["is_rounded_input"].all()

    described = wh.describe_columns("marts")
    described = described[described["table_name"] == "maternity_vs_england"]
    assert (
        dict(zip(described["column_name"], described["description"], strict=True))
        == MART_DESCRIPTIONS
    )
    for schema, table, descriptions in (
        ("staging", "msds_measures", STAGING_DESCRIPTIONS),
        ("staging", "imd_lsoa", OUTPUT_DESCRIPTIONS),
    ):
        columns = wh.describe_columns(schema)
        columns = columns[columns["table_name"] == table]
        assert (
            dict(zip(columns["column_name"], columns["description"], strict=True)) == descriptions
        )
    wh.dispose()


@pytest.mark.skipif(
    not (REAL_IMD.exists() and REAL_MSDS.exists()),
    reason=f"real files not present in {REAL_DATA}",
)
def test_real_files_reproduce_the_published_figures(tmp_path, warehouse_url):
    raw = tmp_path / "raw"
    (raw / "reference").mkdir(parents=True)
    (raw / "maternity").mkdir()
    shutil.copy(REAL_IMD, raw / "reference" / "imd2019_coventry.csv")
    shutil.copy(REAL_MSDS, raw / "maternity" / "msds-annual-RKB-and-England-2020-22.csv")
    result = run(raw, warehouse_url)
    assert result.success

    wh = Warehouse(warehouse_url)
    imd = wh.read_table("staging", "imd_lsoa")
    assert len(imd) == 195 and int(imd["is_most_deprived_30pct"].sum()) == 78
    mart = wh.read_table("marts", "maternity_vs_england")
    rkb = mart[(mart["org_code"] == "RKB") & (mart["period"] == "2020-21")].set_index("measure_id")
    assert set(rkb["total_deliveries"]) == {5350}
    assert (rkb.loc["late_booking", "numerator"], rkb.loc["late_booking", "denominator"]) == (
        615,
        5090,
    )
    assert round(rkb.loc["late_booking", "value_pct"], 1) == 12.1
    assert (rkb.loc["preterm", "numerator"], rkb.loc["preterm", "denominator"]) == (555, 5440)
    assert round(rkb.loc["preterm", "value_pct"], 1) == 10.2
    assert rkb.loc["extremely_preterm", "numerator"] == 55
    assert round(rkb.loc["extremely_preterm", "value_pct"], 1) == 1.0
    assert rkb.loc["late_booking", "compared_to_england"] == "Worse"
    wh.dispose()


ANNUAL = "Period,Dimension,Org_Level,Org_Code,Org_Name,Measure,Count_Of,Value\n"
KEPT = " (nothing was written; the warehouse keeps its previous tables)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"Period,Value\n2022-23,5\n",
            "msds-zz-broken.csv: missing required column(s) of the annual MSDS layout: "
            "'Dimension', 'Org_Level', 'Org_Code', 'Org_Name', 'Measure', 'Count_Of'",
        ),
        (
            # a copy cut short: NUL bytes where the last records should be
            ANNUAL.encode()
            + b"2030-31,TotalDeliveries,Provider,ZZZ,Somewhere,,Deliveries,5\n"
            + b"\0" * 64,
            "msds-zz-broken.csv: ends in 64 NUL byte(s) after its last record: the copy was cut "
            "short; send the file again",
        ),
    ],
)
def test_a_bad_msds_file_fails_the_run_and_keeps_every_previous_table(
    raw_dir, warehouse_url, data, message
):
    assert run(raw_dir, warehouse_url).success
    wh = Warehouse(warehouse_url)
    before = {
        t: wh.read_table(*t.split("."))
        for t in ("staging.msds_measures", "marts.maternity_vs_england")
    }

    (raw_dir / "maternity" / "msds-zz-broken.csv").write_bytes(data)
    result = run(raw_dir, warehouse_url)
    assert not result.success
    assert failure_message(result) == message + KEPT
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, wh.read_table(*name.split(".")), obj=name)
    wh.dispose()


def test_bad_rows_are_quarantined_and_the_rows_add_up(raw_dir, duckdb_url):
    (raw_dir / "maternity" / "msds-zz-bad-rows.csv").write_text(
        "Period,Dimension,Org_Level,Org_Code,Org_Name,Measure,Count_Of,Value\n"
        "2030/31,TotalDeliveries,Provider,ZZZ,Somewhere,,Deliveries,5000\n"
        "2030-31,TotalDeliveries,Provider,ZZZ,Somewhere,,Deliveries,lots\n"
        "2030-3,TotalBabies,Provider,ZZZ,Somewhere,,Babies,5000\n",
        encoding="utf-8",
    )
    result = run(raw_dir, duckdb_url)
    assert result.success
    wh = Warehouse(duckdb_url)
    quarantine = wh.read_table("quality", "msds_quarantine")
    assert quarantine[["line_number", "reasons"]].values.tolist() == [
        [3, "value: 'lots' is not a number"],
        [4, "period: '2030-3' is not a financial year like 2020-21"],
    ]
    staged = wh.read_table("staging", "msds_measures")
    assert (staged["org_code"] == "ZZZ").sum() == 1  # '2030/31' is read as the year 2030-31
    checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert checks["rows_accounted_for"].passed
    metadata = checks["rows_accounted_for"].metadata
    assert metadata["input_rows"].value == metadata["rows_accounted_for"].value
    wh.dispose()


def test_unreadable_records_are_quarantined_and_an_upper_case_extension_is_read(
    raw_dir, duckdb_url
):
    # an extra unquoted comma in the first record and in a later one, a NUL inside a field and a
    # cleared row: each a row fault, quarantined; the file's other rows are staged
    (raw_dir / "maternity" / "msds-zz-records.CSV").write_bytes(
        ANNUAL.encode()
        + b"2030-31,TotalDeliveries,Provider,ZZZ,Somewhere, Else,,Deliveries,5000\n"
        + b"2030-31,TotalBabies,Provider,ZZZ,Somewhere,,Babies,5050\n"
        + b"2030-31,TotalDeliveries,National,National,ALL, SUBMITTERS,,Deliveries,560000\n"
        + b"2030-31,TotalBabies,National,National,ALL SUBMITTERS\0,,Babies,570000\n"
        + b",,,,,,,\n"
    )
    result = run(raw_dir, duckdb_url)
    assert result.success
    wh = Warehouse(duckdb_url)
    quarantine = wh.read_table("quality", "msds_quarantine")
    extra = (
        "record has 9 fields, the header 8 (extra: '{}'; a comma in a field that is not quoted?)"
    )
    assert quarantine[["source_file", "line_number", "reasons"]].values.tolist() == [
        ["msds-zz-records.CSV", 2, extra.format("5000")],
        ["msds-zz-records.CSV", 4, extra.format("560000")],
        ["msds-zz-records.CSV", 5, "NUL byte in Org_Name"],
        ["msds-zz-records.CSV", 6, "every field is empty (a cleared row)"],
    ]
    staged = wh.read_table("staging", "msds_measures")
    zzz = staged[staged["source_file"] == "msds-zz-records.CSV"]
    assert zzz[["org_code", "dimension", "value"]].values.tolist() == [
        ["ZZZ", "TotalBabies", 5050.0]
    ]
    checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert checks["rows_accounted_for"].passed
    wh.dispose()


def test_a_cleared_row_in_the_lookup_fails_its_asset_naming_the_file_and_line(raw_dir, duckdb_url):
    # the lookup is used whole or not at all: a bad record is a fault of the file, never dropped
    lookup = raw_dir / "reference" / "imd2019_lsoa.csv"
    lines = lookup.read_bytes().splitlines(keepends=True)
    lookup.write_bytes(b"".join([*lines[:3], b",,,,,\n", *lines[3:]]))
    result = run(raw_dir, duckdb_url)
    assert not result.success
    assert failure_message(result) == (
        "imd2019_lsoa.csv: every field is empty (a cleared row): line 4" + KEPT
    )


def test_a_vintage_without_a_file_fails_with_a_clear_message(raw_dir, duckdb_url, monkeypatch):
    monkeypatch.setenv("COV_IMD_VINTAGE", "IoD2025")
    result = materialize_on([imd_lsoa], raw_dir, duckdb_url)
    assert not result.success
    assert failure_message(result).startswith(
        "imd*.csv: no file of the configured vintage IoD2025 (COV_IMD_VINTAGE; header "
        "'LSOA code (2021)'): imd2019_lsoa.csv is IMD2019"
    )


def test_rerun_with_the_same_inputs_gives_identical_tables(raw_dir, duckdb_url):
    tables = [
        ("staging", "imd_lsoa"),
        ("staging", "msds_measures"),
        ("marts", "maternity_vs_england"),
    ]
    snapshots = []
    for _ in range(2):
        assert run(raw_dir, duckdb_url).success
        wh = Warehouse(duckdb_url)
        snapshots.append({t: wh.read_table(*t) for t in tables})
        wh.dispose()
    for table in tables:
        pd.testing.assert_frame_equal(snapshots[0][table], snapshots[1][table], obj=str(table))
