"""Column names across extract versions: a file under an older version's names stages exactly
the rows of the same file under the current names, and a header giving one column under both
names is a file fault naming the file."""

import re
from pathlib import Path

import pandas as pd
import pytest

from cov_pipeline.msds import load_msds
from cov_pipeline.quality import FileFault
from cov_pipeline.referrals import load_referrals
from tests.unit.test_referrals import HEADER, IMD, TODAY, row, write

REFERRALS_OLDER_HEADER = (
    "ref_id,date_referred,age_at_referral,sex,ethnicity,lsoa,source_of_referral,primary_need,"
    "date_first_contact,date_discharged"
)
REFERRAL_ROWS = [
    row("R1"),
    row("R2", referred="2024-02-01", contact="2024-02-10", discharge="2024-03-01"),
    row("R3", age="9"),  # quarantined: outside 10-24, under either header
]


def same_load(current, older) -> None:
    pd.testing.assert_frame_equal(current.staging, older.staging)
    pd.testing.assert_frame_equal(current.quarantine, older.quarantine)
    assert len(current.staging) > 0 and len(current.quarantine) > 0


def test_a_referrals_extract_under_the_older_names_stages_the_same_rows(tmp_path):
    name = "referrals_2026-11-01.csv"
    for version in ("current", "older"):
        (tmp_path / version).mkdir()
    current = write(tmp_path / "current", name, REFERRAL_ROWS)
    older = write(tmp_path / "older", name, REFERRAL_ROWS, header=REFERRALS_OLDER_HEADER)
    same_load(load_referrals([current], IMD, TODAY), load_referrals([older], IMD, TODAY))


def test_a_referrals_header_with_both_names_of_a_column_is_a_file_fault(tmp_path):
    path = write(
        tmp_path,
        "referrals_2026-11-01.csv",
        [row() + ",2024-01-10"],
        header=HEADER + ",date_referred",
    )
    expected = (
        "referrals_2026-11-01.csv: wrong header: repeated column(s) 'referral_date' "
        "(given as 'referral_date' and 'date_referred')"
    )
    with pytest.raises(FileFault, match=f"^{re.escape(expected)}$"):
        load_referrals([path], IMD, TODAY)


MSDS_CURRENT_HEADER = (
    "ReportingPeriodStartDate,ReportingPeriodEndDate,Dimension,Org_Level,Org_Code,Org_Name,"
    "Measure,Count_Of,Final_value"
)
MSDS_OLDER_HEADER = (
    "RPStartDate,RPEndDate,Dimension,Org_Level,Org_Code,Org_Name,Measure,Count_Of,Final_value"
)
MSDS_ROWS = [
    "2023-05-01,2023-05-31,TotalDeliveries,Provider,RKB,Coventry Trust,,Deliveries,450",
    "2023-05-01,2023-05-31,TotalDeliveries,National,ENG,England,,Deliveries,48000",
    "2023-05-01,2023-05-31,GestationLengthBirthGroup37,Provider,RKB,Coventry Trust,<37 weeks,"
    "Babies,35",
    "2023-05-01,2023-05-31,TotalBabies,Provider,RKB,Coventry Trust,,Babies,many",  # quarantined
]


def write_msds(folder: Path, header: str, rows: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "msds-2023-05-exp-data.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_an_msds_file_under_the_older_names_stages_the_same_rows(tmp_path):
    current = write_msds(tmp_path / "current", MSDS_CURRENT_HEADER, MSDS_ROWS)
    older = write_msds(tmp_path / "older", MSDS_OLDER_HEADER, MSDS_ROWS)
    same_load(load_msds([current]), load_msds([older]))
    # in any case, as every MSDS name
    lower = write_msds(tmp_path / "lower", MSDS_OLDER_HEADER.lower(), MSDS_ROWS)
    same_load(load_msds([current]), load_msds([lower]))


def test_an_msds_header_with_both_names_of_a_column_is_a_file_fault(tmp_path):
    path = write_msds(
        tmp_path,
        MSDS_CURRENT_HEADER + ",RPStartDate",
        [MSDS_ROWS[0] + ",2023-05-01"],
    )
    expected = (
        "msds-2023-05-exp-data.csv: duplicated column(s): 'ReportingPeriodStartDate' "
        "(given as 'ReportingPeriodStartDate' and 'RPStartDate')"
    )
    with pytest.raises(FileFault, match=f"^{re.escape(expected)}$"):
        load_msds([path])
