"""Maternity end to end through dagster.materialize with the IMD lookup, on DuckDB and on
PostgreSQL: the sample extracts staged and the marts populated, SPC flagging the planted rise in
late bookings and nothing on prematurity, disclosure control on every mart, the quarantine
holding exactly the planted bad rows of a small extract, and a file fault keeping the warehouse."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assets.deprivation import imd_lsoa
from assets.maternity import MATERNITY_ASSETS
from assets.published import PUBLISHED_ASSETS
from cov_pipeline.expectations import validate_mart
from cov_pipeline.sample_data.deprivation import generate_deprivation
from cov_pipeline.settings import PROJECT_ROOT
from cov_pipeline.warehouse import Warehouse
from tests.pipeline import failure_message, materialize_on

SAMPLE = PROJECT_ROOT / "data" / "raw" / "maternity"
MARTS = ["late_bookings", "premature_deliveries", "pregnancy_outcomes", "preterm_outcomes"]
TABLES = [
    ("staging", "maternity_bookings"),
    ("staging", "maternity_births"),
    ("staging", "terminations"),
    ("quality", "maternity_quarantine"),
    ("quality", "maternity_revisions"),
    *(("marts", m) for m in MARTS),
    *(("published", m) for m in MARTS),
]
PNG = b"\x89PNG\r\n\x1a\n"


def planted_sample_rows() -> list[list[object]]:
    """The bad rows the generator plants in the committed sample (data/raw/README.md)."""
    return [
        [
            "births_2022.csv",
            4522,
            "birth_date: 2022-01-15 is before its booking ('B49A2F1639' booked 2022-06-01)",
        ],
        [
            "births_2023.csv",
            4490,
            "gestation_at_birth_days: 412 is outside the possible range (0, 400) days",
        ],
        [
            "bookings_2020.csv",
            4640,
            "gestation_at_booking_days: 900 is outside the possible range (0, 400) days",
        ],
        [
            "bookings_2021.csv",
            4606,
            "ethnic_category: 'O' is not an NHS ethnic category code (A-H, J-N, P, R, S, Z or 99)",
        ],
        ["bookings_2022.csv", 4522, "lsoa_code: 'E01099999' is not in the IMD lookup"],
        [
            "bookings_2025.csv",
            4447,
            f"booking_date: 2052-03-14 is in the future (after {dt.date.today()})",
        ],
    ]


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    """The committed maternity extracts (not the MSDS files) and the IMD lookup."""
    target = tmp_path / "raw"
    (target / "maternity").mkdir(parents=True)
    for pattern in ("bookings*.csv", "births*.csv", "terminations*.csv"):
        for path in SAMPLE.glob(pattern):
            shutil.copy(path, target / "maternity" / path.name)
    generate_deprivation(target, np.random.default_rng(0))
    return target


PUBLISH_MATERNITY = next(a for a in PUBLISHED_ASSETS if a.op.name == "publish_maternity")


def run(raw_dir: Path, url: str):
    return materialize_on([imd_lsoa, *MATERNITY_ASSETS, PUBLISH_MATERNITY], raw_dir, url)


def snapshot(url: str) -> dict[str, pd.DataFrame]:
    wh = Warehouse(url)
    tables = {f"{s}.{n}": wh.read_table(s, n) for s, n in TABLES if wh.table_exists(s, n)}
    wh.dispose()
    return tables


def materialization(result, asset: str):
    return next(
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == asset
    )


def chart_png(result, asset: str, key: str) -> bytes:
    markdown = materialization(result, asset).metadata[key].value
    return base64.b64decode(markdown.split("base64,", 1)[1].rstrip(")"))


def test_sample_marts_spc_and_disclosure(raw_dir, warehouse_url):
    result = run(raw_dir, warehouse_url)
    assert result.success
    checks = {
        (e.asset_key.path[-1], e.check_name): e.passed for e in result.get_asset_check_evaluations()
    }
    assert len(checks) == 6 and all(checks.values()), checks
    tables = snapshot(warehouse_url)

    # staging + quarantine = input rows, and the quarantine is exactly the planted rows
    quarantine = tables["quality.maternity_quarantine"]
    assert quarantine[["source_file", "line_number", "reasons"]].values.tolist() == (
        planted_sample_rows()
    )
    assert set(quarantine["source"]) == {"maternity"}
    # the booking delivered twice is staged once; the copy is recorded, not quarantined
    revisions = tables["quality.maternity_revisions"]
    assert revisions[
        ["record_key", "outcome", "kept_file", "kept_line", "source_file", "line_number"]
    ].values.tolist() == [
        [
            "BAE77C79AC",
            "identical copy collapsed",
            "bookings_2020.csv",
            502,
            "bookings_2020.csv",
            4641,
        ]
    ]
    bookings = tables["staging.maternity_bookings"]
    births = tables["staging.maternity_births"]
    assert (len(bookings), len(births), len(tables["staging.terminations"])) == (35_147, 31_565, 36)
    for asset, staged in (("maternity_bookings", bookings), ("maternity_births", births)):
        input_rows = materialization(result, asset).metadata["input_rows"].value
        prefix = asset[10:15]
        assert input_rows == len(staged) + sum(
            (table["source_file"].str[:5] == prefix).sum() for table in (quarantine, revisions)
        )

    # the business plan's headline figures
    late = tables["marts.late_bookings"]
    premature = tables["marts.premature_deliveries"]
    years = premature[(premature["period_type"] == "year") & (premature["breakdown"] == "all")]
    assert years["period_start"].dt.year.tolist() == list(range(2019, 2026))
    assert years["births"].between(4_250, 4_750).all()
    assert years["preterm_per_1000"].between(70, 95).all()
    late_years = late[(late["period_type"] == "year") & (late["breakdown"] == "all")]
    assert late_years["period_start"].dt.year.tolist() == list(range(2019, 2026))
    assert late_years["late_booking_pct"].iloc[:-1].between(10, 13.5).all()
    assert late_years["late_booking_pct"].iloc[-1] > 14  # 2025: the planted rise

    # SPC: the planted rise in late bookings (May to December 2025) is flagged, nothing else
    months = late[(late["period_type"] == "month") & (late["breakdown"] == "all")]
    flagged = months[months["late_booking_spc_rule"].notna()]
    assert flagged["period_start"].dt.strftime("%Y-%m").tolist() == [
        f"2025-{m:02d}" for m in range(5, 13)
    ]
    assert set(flagged["late_booking_spc_variation"]) == {"concern"}
    monthly = premature[(premature["period_type"] == "month") & (premature["breakdown"] == "all")]
    assert len(monthly) == 84
    for prefix in ("preterm", "extremely_preterm"):
        assert monthly[f"{prefix}_spc_rule"].isna().all(), prefix
        # the team's mart: every month, small counts included, has its SPC reading
        assert set(monthly[f"{prefix}_spc_variation"]) == {"common_cause"}
    assert monthly["preterm_per_1000"].notna().all()
    assert monthly["extremely_preterm_births"].between(1, 7).any()
    assert late.loc[late["breakdown"] != "all", "late_booking_spc_centre"].isna().all()

    # the team's marts keep small counts; the published tables show none (but the public
    # terminations of DHSC), and no record-level column reaches either tier
    from cov_pipeline.publishing import PUBLICATIONS

    specs = {spec.name: spec for spec in PUBLICATIONS[0].specs}
    for mart in MARTS:
        for schema in ("marts", "published"):
            assert not {"booking_pseudo_id", "birth_pseudo_id", "lsoa_code", "line_number"} & set(
                tables[f"{schema}.{mart}"].columns
            )
        published = tables[f"published.{mart}"]
        counts = [c.column for c in specs[mart].counts if not c.public]
        values = published[counts]
        assert not ((values >= 1) & (values <= 7)).fillna(False).any().any(), mart
        assert published["is_suppressed"].any(), mart
        assert "is_suppressed" not in tables[f"marts.{mart}"]
    everyone = late[late["breakdown"] == "all"]
    assert everyone[["bookings", "late_bookings", "late_booking_pct"]].notna().all().all()

    # pregnancies = bookings + terminations (DHSC, Coventry), missing while 2025 is unpublished
    pregnancies = tables["marts.pregnancy_outcomes"]
    pregnancies = pregnancies[pregnancies["breakdown"] == "all"].set_index("period_start")
    coventry = tables["staging.terminations"].query("area_code == 'E08000026'")
    for year, terminations in zip(coventry["year"], coventry["terminations"], strict=True):
        row = pregnancies.loc[pd.Timestamp(f"{year}-01-01")]
        assert row["terminations"] == terminations
        assert row["pregnancies"] == row["bookings"] + terminations
    assert pd.isna(pregnancies.loc[pd.Timestamp("2025-01-01"), "pregnancies"])

    # every mart column is described in the warehouse
    wh = Warehouse(warehouse_url)
    columns = wh.describe_columns("marts")
    wh.dispose()
    ours = columns[columns["table_name"].isin(MARTS)]
    assert set(ours["table_name"]) == set(MARTS)
    assert ours["description"].fillna("").str.len().gt(10).all()

    # both tiers pass their Great Expectations suites; a small count shown in the published
    # tier fails its suite
    for mart in MARTS:
        for schema in ("marts", "published"):
            validation = validate_mart(f"{schema}.{mart}", tables[f"{schema}.{mart}"])
            assert validation.success, validation.failures_frame()
    broken = tables["published.late_bookings"].copy()
    broken.loc[broken["very_late_bookings"].first_valid_index(), "very_late_bookings"] = 3
    validation = validate_mart("published.late_bookings", broken)
    assert not validation.success
    assert validation.failed_expectation_types() == ["expect_column_values_to_not_be_in_set"]

    # the SPC charts are in the materialisation metadata
    assert chart_png(result, "late_bookings", "late_booking_pct_spc_chart").startswith(PNG)
    for measure in ("preterm_rate", "extremely_preterm_rate"):
        assert chart_png(result, "premature_deliveries", f"{measure}_spc_chart").startswith(PNG)
    late_metadata = materialization(result, "late_bookings").metadata
    latest = late_metadata["late_booking_pct_latest"].value
    assert latest["latest_period"] == "2025-12-01" and latest["spc_variation"] == "concern"
    assert late_metadata["late_booking_pct_special_cause_points"].value == 8
    # the whole monthly series: no special cause on prematurity
    premature_metadata = materialization(result, "premature_deliveries").metadata
    for measure in ("preterm_rate", "extremely_preterm_rate"):
        assert premature_metadata[f"{measure}_special_cause_points"].value == 0, measure
        assert premature_metadata[f"{measure}_latest"].value["n_points"] == 84


BOOKINGS_HEADER = (
    "booking_pseudo_id,booking_date,gestation_at_booking_days,mother_age_band,ethnic_category,"
    "lsoa_code,nrpf_flag"
)
BIRTHS_HEADER = (
    "birth_pseudo_id,booking_pseudo_id,birth_date,gestation_at_birth_days,birth_outcome,"
    "birthweight_grams,neonatal_unit_admission,survived_28_days,survived_1_year,"
    "mother_age_band,ethnic_category,lsoa_code,nrpf_flag"
)
TERMINATIONS_HEADER = (
    "Year,Area code,Area name,Area type,Total abortions,Under 18,18-19,20-24,25-29,30-34,"
    '35 and over,"Rate per 1,000 women aged 15-44"'
)


@pytest.fixture
def small_extract(tmp_path) -> Path:
    """A small extract: 24 good bookings, 5 planted bad ones (lines 4-8 of bookings_2024.csv)
    and 2 planted bad births (lines 3-4 of births_2024.csv)."""
    raw = tmp_path / "raw"
    generate_deprivation(raw, np.random.default_rng(0))
    folder = raw / "maternity"
    folder.mkdir()
    lsoa = "E01009001"
    good = [
        f"BK{i:04d},2024-{1 + i % 12:02d}-{10 + i // 12:02d},{60 + i},25 to 29,A,{lsoa},N"
        for i in range(24)
    ]
    bookings = [
        good[0],
        good[1],
        f"BKX001,2024-03-03,0,25 to 29,A,{lsoa},N",
        f"BKX002,2099-03-03,70,25 to 29,A,{lsoa},N",
        f"BKX003,2024-03-03,70,25 to 29,X,{lsoa},N",
        "BKX004,2024-03-03,70,25 to 29,A,E01099999,N",
        good[0],
        *good[2:],
    ]
    (folder / "bookings_2024.csv").write_text("\n".join([BOOKINGS_HEADER, *bookings]) + "\n")
    births = [
        f"BB0000,BK0000,2024-08-01,280,live,3400,N,Y,,25 to 29,A,{lsoa},N",
        f"BB0001,BK0001,2024-02-01,280,live,3400,N,Y,,25 to 29,A,{lsoa},N",
        f"BB0002,BK0002,2024-09-01,500,live,3400,N,Y,,25 to 29,A,{lsoa},N",
        f"BB0003,BK0003,2024-10-01,250,live,2600,Y,Y,,25 to 29,A,{lsoa},N",
    ]
    (folder / "births_2024.csv").write_text("\n".join([BIRTHS_HEADER, *births]) + "\n")
    (folder / "terminations_2024.csv").write_text(
        TERMINATIONS_HEADER
        + '\n2024,E08000026,Coventry,Local authority,"1,234",40,80,300,350,260,204,15.0\n'
    )
    return raw


def test_small_extract_quarantine_holds_exactly_the_planted_rows(
    small_extract, warehouse_url, monkeypatch
):
    monkeypatch.setenv("COV_QUARANTINE_CEILING", "1")  # a small extract: the share is high
    result = run(small_extract, warehouse_url)
    assert result.success
    tables = snapshot(warehouse_url)
    quarantine = tables["quality.maternity_quarantine"]
    assert quarantine[["source_file", "line_number", "reasons"]].values.tolist() == [
        [
            "births_2024.csv",
            3,
            "birth_date: 2024-02-01 is before its booking ('BK0001' booked 2024-02-10)",
        ],
        [
            "births_2024.csv",
            4,
            "gestation_at_birth_days: 500 is outside the possible range (0, 400) days",
        ],
        [
            "bookings_2024.csv",
            4,
            "gestation_at_booking_days: 0 is outside the possible range (0, 400) days",
        ],
        [
            "bookings_2024.csv",
            5,
            f"booking_date: 2099-03-03 is in the future (after {dt.date.today()})",
        ],
        [
            "bookings_2024.csv",
            6,
            "ethnic_category: 'X' is not an NHS ethnic category code (A-H, J-N, P, R, S, Z or 99)",
        ],
        ["bookings_2024.csv", 7, "lsoa_code: 'E01099999' is not in the IMD lookup"],
    ]
    revisions = tables["quality.maternity_revisions"]
    assert revisions[["record_key", "kept_line", "line_number"]].values.tolist() == [
        ["BK0000", 2, 8]
    ]
    assert len(tables["staging.maternity_bookings"]) == 24
    assert tables["staging.maternity_births"]["birth_pseudo_id"].tolist() == ["BB0000", "BB0003"]
    late = tables["marts.late_bookings"]
    year = late[(late["period_type"] == "year") & (late["breakdown"] == "all")].iloc[0]
    assert year["bookings"] == 24


def test_a_file_fault_fails_the_run_and_keeps_the_previous_tables(
    small_extract, warehouse_url, monkeypatch
):
    monkeypatch.setenv("COV_QUARANTINE_CEILING", "1")
    assert run(small_extract, warehouse_url).success
    before = snapshot(warehouse_url)
    path = small_extract / "maternity" / "births_2024.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")  # no NRPF column
    result = run(small_extract, warehouse_url)
    assert not result.success
    message = failure_message(result)
    assert "births_2024.csv: wrong header: missing required column(s) 'nrpf_flag'" in message
    after = snapshot(warehouse_url)
    for name, table in before.items():
        pd.testing.assert_frame_equal(after[name], table, check_like=True)
