"""A record holding a NUL byte is quarantined on both warehouses: PostgreSQL text cannot hold a
NUL, so the reason shows it as \\x00 and the record's JSON as \\u0000; nothing is lost."""

import json

import numpy as np

from assets.deprivation import imd_lsoa
from assets.maternity import MATERNITY_ASSETS
from cov_pipeline.sample_data.deprivation import generate_deprivation
from cov_pipeline.warehouse import Warehouse
from tests.pipeline import materialize_on

BOOKINGS = (
    "booking_pseudo_id,booking_date,gestation_at_booking_days,mother_age_band,ethnic_category,"
    "lsoa_code,nrpf_flag"
)
BIRTHS = (
    "birth_pseudo_id,booking_pseudo_id,birth_date,gestation_at_birth_days,birth_outcome,"
    "birthweight_grams,neonatal_unit_admission,survived_28_days,survived_1_year,mother_age_band,"
    "ethnic_category,lsoa_code,nrpf_flag"
)
TERMINATIONS = (
    "Year,Area code,Area name,Area type,Total abortions,Under 18,18-19,20-24,25-29,30-34,"
    '35 and over,"Rate per 1,000 women aged 15-44"'
)


def test_a_nul_byte_in_a_pseudo_id_is_quarantined_on_either_warehouse(
    tmp_path, warehouse_url, monkeypatch
):
    raw = tmp_path / "raw"
    generate_deprivation(raw, np.random.default_rng(0))
    folder = raw / "maternity"
    folder.mkdir()
    lsoa = "E01009001"
    bookings = [f"BK{i:04d},2024-01-{10 + i:02d},70,25 to 29,A,{lsoa},N" for i in range(6)]
    bookings[2] = bookings[2].replace("BK0002", "BK\x000002")
    (folder / "bookings_2024.csv").write_text("\n".join([BOOKINGS, *bookings]) + "\n")
    (folder / "births_2024.csv").write_text(
        BIRTHS + f"\nBB0000,BK0000,2024-08-01,280,live,3400,N,Y,,25 to 29,A,{lsoa},N\n"
    )
    (folder / "terminations_2024.csv").write_text(
        TERMINATIONS
        + '\n2024,E08000026,Coventry,Local authority,"1,234",40,80,300,350,260,204,15.0\n'
    )
    monkeypatch.setenv("COV_QUARANTINE_CEILING", "1")  # a six-row extract
    result = materialize_on([imd_lsoa, *MATERNITY_ASSETS], raw, warehouse_url)
    assert result.success
    wh = Warehouse(warehouse_url)
    try:
        quarantine = wh.read_table("quality", "maternity_quarantine")
        staged = wh.read_table("staging", "maternity_bookings")
    finally:
        wh.dispose()
    assert len(staged) == 5
    row = quarantine.iloc[0]
    assert (row["source_file"], row["line_number"]) == ("bookings_2024.csv", 4)
    assert row["reasons"].startswith("NUL byte in booking_pseudo_id")
    assert "\x00" not in row["reasons"]
    assert json.loads(row["record"])["booking_pseudo_id"] == "BK\x000002"


def test_a_raw_folder_that_cannot_be_read_fails_the_step_naming_it(tmp_path, monkeypatch):
    """Not "no files found": the step fails saying the folder cannot be read, nothing written."""
    import cov_pipeline.raw_reader as reader

    raw = tmp_path / "raw"
    generate_deprivation(raw, np.random.default_rng(0))
    real_scandir = reader.os.scandir

    def refuse(path):
        if str(path).endswith("reference"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(reader.os, "scandir", refuse)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    result = materialize_on([imd_lsoa], raw, url)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith("reference: folder cannot be read (Permission denied)")
    wh = Warehouse(url)
    try:
        assert not wh.table_exists("staging", "imd_lsoa")
    finally:
        wh.dispose()
