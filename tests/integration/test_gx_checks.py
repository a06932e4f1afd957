"""The Great Expectations asset checks on the Fingertips marts, through dagster.materialize."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection, DagsterInstance, materialize

from assets.expectations import CHECK_NAME, GX_CHECKS, gx_asset_checks
from cov_pipeline.definitions import ASSETS as PIPELINE
from cov_pipeline.settings import PROJECT_ROOT
from cov_pipeline.warehouse import Warehouse
from resources.great_expectations import GreatExpectationsResource
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

SAMPLE_RAW = PROJECT_ROOT / "data" / "raw"
VALUES_CHECK = AssetCheckKey(AssetKey(["marts", "indicator_values"]), CHECK_NAME)
BENCHMARK_CHECK = AssetCheckKey(AssetKey(["marts", "infant_mortality_benchmark"]), CHECK_NAME)


@pytest.fixture
def docs_dir(tmp_path) -> Path:
    return tmp_path / "docs"


def run(raw_dir: Path, url: str, docs_dir: Path, selection=None):
    return materialize(
        [*PIPELINE, *GX_CHECKS],
        resources={
            "warehouse": WarehouseResource(url=url),
            "raw_files": RawFilesResource(raw_dir=str(raw_dir)),
            "great_expectations": GreatExpectationsResource(docs_dir=str(docs_dir)),
            "settings": PipelineSettings(),
        },
        instance=DagsterInstance.ephemeral(),
        selection=selection,
        raise_on_error=False,
    )


def evaluations(result) -> dict:
    return {e.asset_check_key: e for e in result.get_asset_check_evaluations()}


def test_the_checks_are_one_non_blocking_check_per_mart_and_published_table():
    from cov_pipeline.definitions import defs

    specs = {spec.key: spec for check in GX_CHECKS for spec in check.check_specs}
    tables = {
        key
        for key in defs.resolve_asset_graph().get_all_asset_keys()
        if key.path[0] in ("marts", "published")
        and key.path[1] not in ("data_dictionary", "household_survey_change")
        or key == AssetKey(["marts", "household_survey_change"])
    }
    assert {key.asset_key for key in specs} == tables  # every table has its suite
    assert {VALUES_CHECK, BENCHMARK_CHECK} <= set(specs)
    assert not any(spec.blocking for spec in specs.values())
    with pytest.raises(KeyError, match="marts.nowhere"):
        gx_asset_checks({"marts.nowhere": AssetKey(["marts", "nowhere"])})


def test_marts_pass_their_suites_and_a_broken_mart_fails(raw_dir, duckdb_url, docs_dir):
    result = run(raw_dir, duckdb_url, docs_dir)
    assert result.success

    checks = evaluations(result)
    for key in (VALUES_CHECK, BENCHMARK_CHECK):
        check = checks[key]
        assert check.passed, check.metadata["failed_expectations"].value
        assert check.metadata["expectations_evaluated"].value >= 10
        assert check.metadata["failure_count"].value == 0
        assert check.metadata["failed_expectations"].value == "_no rows_"
        assert check.metadata["data_docs"].value == str((docs_dir / "index.html").resolve())
    assert (docs_dir / "index.html").is_file()
    assert (docs_dir / "expectations" / "marts" / "indicator_values.html").is_file()

    # Corrupt the mart in the warehouse: a recomputed value above its recomputed CI, and a
    # neighbour's rate per 1,000 of 2,000.
    wh = Warehouse(duckdb_url)
    broken = wh.read_table("marts", "indicator_values")
    row = broken.index[broken["recomputed_value"].notna()][0]
    broken.loc[row, "recomputed_value"] = broken.loc[row, "recomputed_ci95_upper"] + 1
    rate = (broken["area_role"] == "cipfa_neighbour") & (broken["unit"] != "%")
    broken.loc[broken.index[rate][0], "value"] = 2000
    wh.replace_table("marts", "indicator_values", broken)
    wh.dispose()

    rerun = run(raw_dir, duckdb_url, docs_dir, selection=AssetSelection.checks(VALUES_CHECK))

    assert rerun.get_asset_materialization_events() == []  # the check alone ran
    checks = evaluations(rerun)
    assert set(checks) == {VALUES_CHECK}
    check = checks[VALUES_CHECK]
    assert check.passed is False
    assert check.severity.value == "ERROR"
    table = check.metadata["failed_expectations"].value
    assert "expect_column_pair_values_a_to_be_greater_than_b" in table
    assert "recomputed_ci95_upper, recomputed_value" in table
    assert "expect_column_values_to_be_between" in table
    assert check.metadata["failure_count"].value == 2
    assert check.description.startswith("2 of ")
    runs = list((docs_dir / "validations" / "marts" / "indicator_values").iterdir())
    assert rerun.run_id in {p.name for p in runs}


def test_setting_up_the_resource_starts_no_thread(docs_dir, monkeypatch):
    # A thread importing GX while a step imports SQLAlchemy handed the step a half-imported
    # module (a run from the UI failed so): the resource must not import in the background.
    # Every start is recorded (a thread that has already ended would not be listed as live).
    import threading

    from dagster import build_resources

    started = []
    start = threading.Thread.start

    def recorded(thread):
        started.append(thread.name)
        return start(thread)

    monkeypatch.setattr(threading.Thread, "start", recorded)
    with build_resources({"gx": GreatExpectationsResource(docs_dir=str(docs_dir))}) as resources:
        assert resources.gx.docs_dir == str(docs_dir)
    assert started == [], f"threads started by the resource: {started}"
