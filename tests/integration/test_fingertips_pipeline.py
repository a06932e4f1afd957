"""Fingertips end to end through dagster.materialize, on DuckDB and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import AssetSelection, DagsterInstance

from cov_pipeline.definitions import ASSETS
from cov_pipeline.settings import PROJECT_ROOT
from cov_pipeline.warehouse import Warehouse
from tests.pipeline import materialize_on

SAMPLE_RAW = PROJECT_ROOT / "data" / "raw"

# The business plan's table (Coventry public health business plan 2025-28):
# infant mortality 2020-22 per 1,000 live births, value (lower-upper), CIPFA neighbour rank.
PUBLISHED = {
    "England": ("3.9 (3.8-4.0)", None),
    "Coventry": ("5.9 (4.6-7.4)", None),
    "Derby": ("5.9 (4.4-7.7)", 1),
    "Bolton": ("5.2 (3.9-6.8)", 2),
    "Peterborough": ("4.6 (3.3-6.4)", 3),
    "Leeds": ("4.9 (4.1-5.9)", 4),
    "Sheffield": ("4.2 (3.3-5.3)", 5),
}


# Fingertips and the reference tables it reads (6 of the graph's assets): the tests below check
# Fingertips only, and a whole-graph run costs five times as long.
FINGERTIPS = AssetSelection.groups("fingertips").upstream()


def run(
    raw_dir: Path,
    url: str,
    instance: DagsterInstance | None = None,
    selection: AssetSelection | None = FINGERTIPS,
):
    return materialize_on(ASSETS, raw_dir, url, selection=selection, instance=instance)


def snapshot(url: str) -> dict[str, pd.DataFrame]:
    wh = Warehouse(url)
    tables = {
        f"{schema}.{name}": wh.read_table(schema, name)
        for schema in ("staging", "marts", "quality")
        for name in wh.list_tables(schema)
    }
    wh.dispose()
    return tables


def test_sample_extracts_reproduce_the_business_plan_table(raw_dir, warehouse_url):
    result = run(raw_dir, warehouse_url)
    assert result.success

    wh = Warehouse(warehouse_url)
    table = wh.read_table("marts", "infant_mortality_benchmark")
    assert table["time_period"].unique().tolist() == ["2020 - 22"]
    assert table["area_name"].tolist() == list(PUBLISHED)
    for row in table.itertuples():
        expected, rank = PUBLISHED[row.area_name]
        assert row.value_with_ci == expected, row.area_name
        assert (None if pd.isna(row.cipfa_neighbour_rank) else row.cipfa_neighbour_rank) == rank
    coventry = table.set_index("area_name").loc["Coventry"]
    assert coventry["compared_to_england"] == "Worse"  # 3.9 lies below Coventry's 4.6-7.4

    values = wh.read_table("marts", "indicator_values")
    assert set(values["area_role"]) == {"england", "region", "home", "cipfa_neighbour"}
    # no category (breakdown) row reaches the mart: each key once, with its headline value
    keys = ["indicator_id", "area_code", "time_period", "sex", "age"]
    staged = wh.read_table("staging", "fingertips_indicator_values")
    assert not staged["is_headline"].all()  # the sample has breakdown rows to leave out
    assert not values.duplicated(keys).any()
    headline = staged[staged["is_headline"]][[*keys, "value"]]
    joined = values[[*keys, "value"]].merge(headline, on=keys, how="left", suffixes=("", "_s"))
    pd.testing.assert_series_equal(joined["value"], joined["value_s"], check_names=False)
    wh.dispose()

    checks = result.get_asset_check_evaluations()
    assert checks and all(e.passed for e in checks), [e for e in checks if not e.passed]
    names = {(e.asset_key.to_user_string(), e.check_name) for e in checks}
    assert ("staging/fingertips_indicator_values", "rows_accounted_for") in names


def test_rerun_with_same_inputs_gives_identical_tables(raw_dir, duckdb_url):
    assert run(raw_dir, duckdb_url).success
    first = snapshot(duckdb_url)
    assert run(raw_dir, duckdb_url).success
    second = snapshot(duckdb_url)
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], check_like=False, obj=name)


def test_a_bad_file_fails_the_run_and_keeps_every_previous_table(raw_dir, warehouse_url):
    assert run(raw_dir, warehouse_url).success
    before = snapshot(warehouse_url)

    (raw_dir / "fingertips" / "zz_broken.csv").write_text("Indicator ID,Value\r\n1,2\r\n")
    result = run(raw_dir, warehouse_url)

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith("zz_broken.csv: missing required column(s): 'Indicator Name'")
    after = snapshot(warehouse_url)
    assert before.keys() == after.keys()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


def test_row_faults_go_to_quarantine_and_valid_rows_go_on(raw_dir, duckdb_url):
    source = next((raw_dir / "fingertips").glob("*.csv"))
    lines = source.read_bytes().split(b"\r\n")
    header, first = lines[0], lines[1]
    assert b",Persons," in first
    bad = first.replace(b",Persons,", b",,", 1)  # a row with no Sex
    (raw_dir / "fingertips" / "zz_extra.csv").write_bytes(header + b"\r\n" + bad + b"\r\n")

    result = run(raw_dir, duckdb_url)
    assert result.success
    wh = Warehouse(duckdb_url)
    quarantined = wh.read_table("quality", "fingertips_quarantine")
    extra = quarantined[quarantined["source_file"] == "zz_extra.csv"]
    assert extra["line_number"].tolist() == [2]
    assert extra["source"].tolist() == ["fingertips"]
    assert extra["reasons"].tolist() == ["sex: missing"]
    wh.dispose()


def test_quarantine_above_the_ceiling_blocks_the_marts(raw_dir, duckdb_url, monkeypatch):
    assert run(raw_dir, duckdb_url).success
    marts_before = snapshot(duckdb_url)["marts.indicator_values"]

    path = next((raw_dir / "fingertips").glob("*.csv"))
    text = path.read_bytes().decode("utf-8")
    header, _, rest = text.partition("\r\n")
    (raw_dir / "fingertips" / "zz_bad_values.csv").write_text(
        header + "\r\n" + rest.replace("Persons", "", 3), encoding="utf-8", newline=""
    )
    monkeypatch.setenv("COV_QUARANTINE_CEILING", "0")

    result = run(raw_dir, duckdb_url)
    assert not result.success
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }
    ceiling = checks[("staging/fingertips_indicator_values", "quarantine_share_within_ceiling")]
    assert ceiling.passed is False
    materialized = {
        k.to_user_string()
        for k in result.get_asset_materialization_events()
        and [e.asset_key for e in result.get_asset_materialization_events()]
    }
    assert "marts/indicator_values" not in materialized
    pd.testing.assert_frame_equal(marts_before, snapshot(duckdb_url)["marts.indicator_values"])


def test_one_source_job_runs_alone_on_a_fresh_warehouse(raw_dir, duckdb_url):
    """A sensor may start one source's job before any other source has been loaded."""
    from dagster import AssetSelection

    selection = AssetSelection.groups("household_survey").downstream()
    result = materialize_on(ASSETS, raw_dir, duckdb_url, selection=selection)
    assert result.success
    summary = Warehouse(duckdb_url).read_table("quality", "run_summary")
    assert summary["source"].tolist() == ["household_survey"]


TREND_MARTS = {
    "marts/indicator_values",
    "marts/household_survey_indicators",
    "marts/referral_trends",
    "marts/referral_waiting",
    "marts/late_bookings",
    "marts/premature_deliveries",
}


def test_trend_marts_show_a_chart_and_every_asset_its_metadata(raw_dir, duckdb_url):
    result = run(raw_dir, duckdb_url, selection=None)  # every source's marts
    assert result.success
    charts, tables = set(), set()
    for event in result.get_asset_materialization_events():
        key = event.asset_key.to_user_string()
        metadata = event.materialization.metadata
        if any("data:image/png;base64," in str(v.value) for v in metadata.values()):
            charts.add(key)
        if key.split("/")[0] in ("staging", "marts", "quality"):
            assert {
                "dagster/row_count",
                "dagster/column_schema",
                "dagster/table_name",
                "preview",
            } <= set(metadata), key
            tables.add(key)
        if key.startswith("staging/"):
            files = metadata.get("source_files")
            assert files is not None and all(len(f["sha256"]) == 64 for f in files.value), key
    assert charts >= TREND_MARTS
    wh = Warehouse(duckdb_url)
    summary = wh.read_table("quality", "run_summary").set_index("source")
    assert summary.loc["fingertips", "staged_rows"] == wh.row_count(
        "staging", "fingertips_indicator_values"
    )
    wh.dispose()


def test_damaged_records_are_quarantined_and_nul_padding_fails_through_the_asset(
    raw_dir, duckdb_url
):
    # one raw reader (issue 13): a field more in the first record, a NUL byte inside a later
    # one, a spreadsheet's cleared row, in an export with the extension in capitals; a file
    # that is no export beside them is ignored
    folder = raw_dir / "fingertips"
    source = folder / "infant_mortality_2024-export.csv"
    header, *records = source.read_bytes().rstrip(b"\r\n").split(b"\r\n")
    records[0] = records[0].replace(b",Persons,", b",Persons,EXTRA,", 1)  # line 2
    records[5] = records[5].replace(b",Persons,", b",Per\0sons,", 1)  # line 7
    records.insert(10, b"," * header.count(b","))  # line 12
    path = folder / "infant_mortality_2024-export.CSV"
    source.unlink()
    path.write_bytes(b"\r\n".join([header, *records]) + b"\r\n")
    (folder / "notes.txt").write_text("not an export", encoding="utf-8")

    result = run(raw_dir, duckdb_url)
    assert result.success
    tables = snapshot(duckdb_url)
    quarantine = tables["quality.fingertips_quarantine"]
    ours = quarantine[quarantine["source_file"] == path.name].set_index("line_number")
    assert ours["reasons"].to_dict() == {
        2: "record has 28 fields, the header 27 (extra: '3y'; a comma in a field that is not "
        "quoted?)",
        7: "NUL byte in sex",
        12: "every field is empty (a cleared row)",
    }
    # every other row is staged or quarantined as before: the counts add up
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks[("staging/fingertips_indicator_values", "rows_accounted_for")]

    path.write_bytes(path.read_bytes() + b"\0" * 4096)  # a copy cut short
    result = run(raw_dir, duckdb_url)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(f"{path.name}: ends in 4096 NUL byte(s) after its last record")
    after = snapshot(duckdb_url)
    for name in ("staging.fingertips_indicator_values", "quality.fingertips_quarantine"):
        pd.testing.assert_frame_equal(tables[name], after[name], obj=name)
