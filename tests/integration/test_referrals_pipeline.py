"""Referrals end to end through dagster.materialize, on DuckDB and on PostgreSQL: the sample
extracts staged, the marts populated, SPC flagging the planted rise and the waiting list's growth."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assets.deprivation import imd_lsoa
from assets.published import PUBLISHED_ASSETS
from assets.referrals import REFERRALS_ASSETS
from cov_pipeline.disclosure import audit_published
from cov_pipeline.publishing import PUBLICATIONS
from cov_pipeline.sample_data.deprivation import generate_deprivation
from cov_pipeline.settings import PROJECT_ROOT
from cov_pipeline.warehouse import Warehouse
from tests.pipeline import failure_message, materialize_on

SAMPLE = PROJECT_ROOT / "data" / "raw" / "referrals"
TABLES = [
    ("staging", "imd_lsoa"),
    ("staging", "referrals"),
    ("quality", "referrals_quarantine"),
    ("marts", "referral_trends"),
    ("marts", "referral_waiting"),
]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    target = tmp_path / "raw"
    shutil.copytree(SAMPLE, target / "referrals")
    generate_deprivation(target, np.random.default_rng(0))
    return target


PUBLISH_REFERRALS = next(a for a in PUBLISHED_ASSETS if a.op.name == "publish_referrals")


def run(raw_dir: Path, url: str):
    return materialize_on([imd_lsoa, *REFERRALS_ASSETS, PUBLISH_REFERRALS], raw_dir, url)


def snapshot(url: str) -> dict[str, pd.DataFrame]:
    wh = Warehouse(url)
    tables = {f"{s}.{n}": wh.read_table(s, n) for s, n in TABLES if wh.table_exists(s, n)}
    wh.dispose()
    return tables


def chart_png(result, asset: str, key: str = "chart") -> bytes:
    event = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset
    )
    markdown = event.materialization.metadata[key].value
    return base64.b64decode(markdown.split("base64,", 1)[1].rstrip(")"))


def run_passing_checks(raw_dir: Path, url: str):
    """A run that succeeds with both quarantine checks passed."""
    result = run(raw_dir, url)
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"rows_accounted_for": True, "quarantine_share_within_ceiling": True}
    return result


def test_sample_marts_and_spc_flag_the_rise_and_the_waiting_list(raw_dir, warehouse_url):
    result = run_passing_checks(raw_dir, warehouse_url)
    tables = snapshot(warehouse_url)

    staged = tables["staging.referrals"]
    quarantine = tables["quality.referrals_quarantine"]
    assert staged["referral_id"].is_unique
    # 2,302 + 2,370 rows: 4,157 referrals, 503 superseded by the later extract, 12 quarantined
    assert (len(staged), int(staged["extract_rows"].sum()), len(quarantine)) == (4157, 4660, 12)
    planted = dict(zip(quarantine["line_number"], quarantine["reasons"], strict=True))
    assert planted[1459] == "age: 9 is outside the service's age range 10-24"
    assert planted[1794] == "first_contact_date: 2026-03-11 is before the referral date 2026-03-20"
    assert planted[2369] == (
        "first_contact_date: 2026-12-03 is after the extract date 2026-11-01 (a date in the future)"
    )

    trends = tables["marts.referral_trends"]
    everyone = trends[trends["breakdown"] == "All"].set_index("month")
    assert everyone.index.min() == pd.Timestamp("2018-01-01")
    assert everyone.index.max() == pd.Timestamp("2026-10-01")  # the last complete month
    assert len(everyone) == 106 and everyone["referrals"].notna().all()
    assert int(everyone["referrals"].sum()) == len(staged)
    by_year = everyone["referrals"].groupby(everyone.index.year).sum()
    assert by_year.loc[2018:2025].is_monotonic_increasing  # rising year on year
    # the planted rise from September 2025 is special cause, high, every month since
    since_rise = everyone.loc["2025-09-01":]
    assert set(since_rise["spc_variation"]) == {"special_cause_high"}
    assert (since_rise["spc_rule"] == "outside_limits").sum() >= 8
    exploitation = trends[trends["category"] == "Exploitation"].set_index("month")
    flagged = exploitation.loc["2025-09-01":, "spc_variation"]
    assert (flagged == "special_cause_high").sum() >= 10
    assert set(flagged) <= {"special_cause_high", "common_cause"}
    assert set(trends["spc_variation"].dropna()) <= {
        "common_cause",
        "special_cause_high",
        "special_cause_low",
    }

    waiting = tables["marts.referral_waiting"]
    queue = waiting[waiting["breakdown"] == "All"].set_index("month")
    # independently: the sample's staged rows at 31 October 2026
    end = pd.Timestamp("2026-10-31")
    on_list = (
        (staged["referral_date"] <= end)
        & ~(staged["first_contact_date"] <= end)
        & ~(staged["discharge_date"] <= end)
    )
    assert queue.loc["2026-10-01", "waiting_list"] == on_list.sum() == 358
    waits = (end - staged.loc[on_list, "referral_date"]).dt.days
    assert queue.loc["2026-10-01", "waiting_median_days"] == waits.median()
    assert queue.loc["2026-10-01", "waiting_over_threshold"] == (waits > 42).sum()
    # a list that appears once demand outruns capacity and grows
    assert queue.loc["2024-12-01", "waiting_list"] < queue.loc["2025-12-01", "waiting_list"]
    assert queue.loc["2025-12-01", "waiting_list"] < queue.loc["2026-10-01", "waiting_list"]
    assert set(queue.loc["2025-12-01":, "waiting_list_spc_variation"]) == {"concern"}
    assert set(queue.loc["2026-01-01":, "median_wait_spc_variation"]) == {"concern"}
    assert queue.loc["2026-10-01", "first_seen_median_wait_days"] > 90

    # the team's marts keep every count; the published tables show no count of 1-7, and the
    # intruder's audit recovers no withheld cell
    assert trends["referrals"].between(1, 7).any() and "is_suppressed" not in trends
    publishing = next(p for p in PUBLICATIONS if p.name == "referrals")
    wh = Warehouse(warehouse_url)
    published = {name: wh.read_table("published", name) for name in publishing.tables}
    wh.dispose()
    for spec in publishing.specs:
        for count in spec.counts:
            assert not published[spec.name][count.column].between(1, 7).any(), count.column
    assert published["referral_trends"]["referrals"].isna().any()  # small counts to protect
    marts = {"referral_trends": trends, "referral_waiting": waiting}
    assert audit_published(published, marts, publishing.specs)["passes"].all()

    # both marts carry their chart, a PNG of the series with its SPC limits
    assert chart_png(result, "referral_trends").startswith(PNG)
    assert chart_png(result, "referral_waiting").startswith(PNG)
    assert chart_png(result, "referral_waiting", "chart_median_wait").startswith(PNG)


def test_every_mart_column_is_described_and_no_record_level_column_is_published(
    raw_dir, warehouse_url
):
    assert run(raw_dir, warehouse_url).success
    wh = Warehouse(warehouse_url)
    columns = wh.describe_columns("marts")
    ours = columns[columns["table_name"].isin(["referral_trends", "referral_waiting"])]
    assert len(ours) == 17 + 30
    assert ours["description"].notna().all() and (ours["description"].str.len() > 10).all()
    assert not set(ours["column_name"]) & {"referral_id", "lsoa_code", "referral_date", "age"}
    wh.dispose()


def test_a_later_extract_with_changes_wins_through_the_asset(raw_dir, duckdb_url):
    later = raw_dir / "referrals" / "referrals_2026-11-15.CSV"  # the extension in capitals
    later.write_text(
        "referral_id,referral_date,age,sex,ethnic_category,lsoa_code,referral_source,"
        "presenting_need,first_contact_date,discharge_date\n"
        # YP004166 was waiting at 1 November; seen on 10 November
        "YP004166,2026-10-31,19,2,A,E01009017,EDU,EXP,2026-11-10,\n",
        encoding="utf-8",
    )
    result = run(raw_dir, duckdb_url)
    assert result.success
    staged = Warehouse(duckdb_url).read_table("staging", "referrals").set_index("referral_id")
    changed = staged.loc["YP004166"]
    assert changed["source_file"] == "referrals_2026-11-15.CSV"
    assert changed["first_contact_date"] == pd.Timestamp("2026-11-10")
    assert changed["extract_rows"] == 2
    assert changed["changed_in_later_extract"] == "first_contact_date"
    assert len(staged) == 4157


def test_damaged_records_are_quarantined_each_alone_through_the_asset(raw_dir, duckdb_url):
    # one raw reader (issue 13): a field more in the first record, a NUL byte in a later one's
    # id, a spreadsheet's cleared row; a file that is no extract beside them is ignored
    folder = raw_dir / "referrals"
    path = folder / "referrals_2026-11-01.csv"
    header, *records = path.read_text(encoding="utf-8").splitlines()
    damaged = [records[0].split(",")[0], records[5].split(",")[0]]
    records[0] = records[0].replace(",", ",EXTRA,", 1)  # line 2
    records[5] = records[5][:3] + "\0" + records[5][3:]  # line 7
    records.insert(10, "," * 9)  # line 12
    path.write_text("\n".join([header, *records]) + "\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not an extract", encoding="utf-8")

    run_passing_checks(raw_dir, duckdb_url)
    tables = snapshot(duckdb_url)
    quarantine = tables["quality.referrals_quarantine"]
    staged = tables["staging.referrals"].set_index("referral_id")
    assert len(quarantine) == 12 + 3  # the sample's twelve, and these three alone
    ours = quarantine[quarantine["source_file"] == path.name].set_index("line_number")
    assert ours.loc[2, "reasons"] == (
        "record has 11 fields, the header 10 (extra: "
        f"'{records[0].rsplit(',', 1)[1]}'; a comma in a field that is not quoted?)"
    )
    assert ours.loc[7, "reasons"] == "NUL byte in referral_id"
    assert "\\u0000" in ours.loc[7, "record"]
    assert ours.loc[12, "reasons"] == "every field is empty (a cleared row)"
    # a damaged row is no referral's version: the earlier extract's, if any, is staged
    earlier = pd.read_csv(folder / "referrals_2024-04-01.csv", dtype=str)["referral_id"]
    for referral in damaged:
        if referral in set(earlier):
            assert staged.loc[referral, "source_file"] == "referrals_2024-04-01.csv"
        else:
            assert referral not in staged.index
    assert len(staged) == 4157 - sum(r not in set(earlier) for r in damaged)


def test_a_wrong_header_fails_and_keeps_every_table(raw_dir, warehouse_url):
    assert run(raw_dir, warehouse_url).success
    before = snapshot(warehouse_url)
    path = raw_dir / "referrals" / "referrals_2024-04-01.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("presenting_need", "need", 1), encoding="utf-8")

    result = run(raw_dir, warehouse_url)
    assert not result.success
    assert failure_message(result).startswith(
        "referrals_2024-04-01.csv: wrong header: missing required column(s) 'presenting_need'; "
        "unexpected column(s) 'need'"
    )
    after = snapshot(warehouse_url)
    assert before.keys() == after.keys() == {f"{s}.{n}" for s, n in TABLES}
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


def test_rerun_with_same_inputs_gives_identical_tables(raw_dir, duckdb_url):
    assert run(raw_dir, duckdb_url).success
    first = snapshot(duckdb_url)
    assert run(raw_dir, duckdb_url).success
    second = snapshot(duckdb_url)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], obj=name)
