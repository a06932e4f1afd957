"""Adding a source is its assets, its declaration and one registration: a small school-nurse
source, declared here as a new source module would declare itself, is registered and
materialised end to end (raw file, staging and quarantine, mart, its Great Expectations check,
the quality tables), through every list derived from the registry: its job, its sensor, the
quality tables' lists, the checks and the sample generator's list, which writes its raw file."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, DagsterInstance, MaterializeResult

from assets.checks import StagedTable, mart_asset, publish_staging, staging_asset
from assets.metadata import fail_on_file_fault
from assets.registry import Source, project_sources
from cov_pipeline import expectations
from cov_pipeline.definitions import build_definitions, build_pipeline, build_resources
from cov_pipeline.quality import FileFault, quarantine_frame
from cov_pipeline.raw_reader import RECORD_FAULT, Header, read_records, with_record_faults
from cov_pipeline.sample_data import DEFAULT_SEED, sample_generators, source_rng
from cov_pipeline.warehouse import TableWrite, Warehouse
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

GROUP = "school_nurse"
STAGING = AssetKey(["staging", "school_nurse_visits"])
QUARANTINE = AssetKey(["quality", "school_nurse_quarantine"])
MART = AssetKey(["marts", "school_nurse_visits_by_month"])
HEADER = Header(required=["visit_id", "visit_date", "school"])


def load_visits(paths) -> StagedTable:
    """The source's parser: the one reader, then its own rule (a date that is a date)."""
    frames, files = [], []
    for path in paths:
        records = read_records(path, HEADER, what="visits", text="object")
        frames.append(records.frame)
        files.append(records.info)
    if not frames:
        raise FileFault("school_nurse/visits*.csv", "no visits extract found")
    raw = pd.concat(frames, ignore_index=True)
    dates = pd.to_datetime(raw["visit_date"], format="%Y-%m-%d", errors="coerce")
    reasons = pd.Series(
        np.where(dates.isna(), "visit_date: '" + raw["visit_date"] + "' is not a date", ""),
        index=raw.index,
    )
    reasons = with_record_faults(reasons, raw[RECORD_FAULT])
    valid = (reasons == "").to_numpy()
    staged = raw.loc[valid, ["visit_id", "school", "source_file", "line_number"]].assign(
        visit_date=dates[valid].astype("datetime64[ns]")
    )
    quarantine = quarantine_frame(
        "school_nurse", raw, reasons, ["visit_id", "visit_date", "school"]
    )
    return staged.reset_index(drop=True), quarantine, files, len(raw)


@staging_asset(
    "school_nurse_staging",
    GROUP,
    {STAGING: ("School nurse visits, one row per visit.", "school nurse")},
    QUARANTINE,
    "School nurse visits rejected with their file, line and every reason.",
)
def school_nurse_staging(
    context: AssetExecutionContext,
    raw_files: RawFilesResource,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
) -> Iterator:
    try:
        staged, quarantine, files, read = load_visits(raw_files.files(GROUP, "visits*.csv"))
    except FileFault as fault:
        fail_on_file_fault(fault)
    table = StagedTable(
        STAGING,
        TableWrite(staged, "School nurse visits.", {"visit_id": "Visit."}),
        read,
        len(staged) + len(quarantine),
        quarantine,
        files,
    )
    yield from publish_staging(
        warehouse.warehouse,
        [table],
        QUARANTINE,
        quarantine,
        "Rejected visits.",
        files,
        ceiling=settings.max_quarantine_share(),
    )


@mart_asset(MART, GROUP, [STAGING], "School nurse visits per month.")
def school_nurse_mart(context: AssetExecutionContext, warehouse: WarehouseResource):
    wh = warehouse.warehouse
    visits = wh.read_table("staging", STAGING.path[1])
    month = pd.to_datetime(visits["visit_date"]).dt.strftime("%Y-%m")
    table = month.value_counts().sort_index().rename_axis("month").reset_index(name="visits")
    wh.replace_table("marts", MART.path[1], table, "Visits per month.", {"visits": "Visits."})
    return MaterializeResult(metadata={"rows": len(table)})


def write_visits(out_dir: Path, rng, scale: float, profile: str) -> list[Path]:
    """The source's sample generator: one small extract, two rows of it faulty."""
    folder = Path(out_dir) / "school_nurse"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "visits_2025.CSV"
    path.write_text(
        "visit_id,visit_date,school\nV1,2025-01-10,A\nV2,2025-01-20,B\nV3,2025-02-03,A\n"
        "V4,2025-02-30,C\nV5,2025-02-11,A,extra\n"
    )
    return [path]


def _suite():
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToBeBetween(column="visits", min_value=1)]


SCHOOL_NURSE = Source(
    name="school_nurse",
    group=GROUP,
    assets=[school_nurse_staging, school_nurse_mart],
    quarantine="school_nurse_quarantine",
    staging=["school_nurse_visits"],
    raw_folder="school_nurse",
    job_description="School nurse visits to staging, marts and the quality tables.",
    sample=write_visits,
)


def test_a_registered_source_is_in_every_derived_list_and_runs_end_to_end(
    raw_dir, duckdb_url, monkeypatch
):
    if "marts.school_nurse_visits_by_month" not in expectations.SUITES:
        expectations.suite("marts.school_nurse_visits_by_month")(_suite)
    pipeline = build_pipeline([*project_sources(), SCHOOL_NURSE])

    # every list is derived: its job, its sensor, the quality tables' inputs, its GX check
    jobs = {job.name: job for job in pipeline.jobs}
    assert "school_nurse" in jobs
    assert "school_nurse_files" in {sensor.name for sensor in pipeline.sensors}
    quality_quarantine = next(
        a for a in pipeline.assets if AssetKey(["quality", "quarantine"]) in a.keys
    )
    assert QUARANTINE in quality_quarantine.asset_deps[AssetKey(["quality", "quarantine"])]
    assert any(key.asset_key == MART for check in pipeline.checks for key in check.check_keys)

    # the sample generator's list: the project's, then the new source's, which writes its file
    generators = sample_generators([*project_sources(), SCHOOL_NURSE])
    assert list(generators) == [*sample_generators(), "school_nurse"]
    rng = source_rng(DEFAULT_SEED, "school_nurse")
    written = generators["school_nurse"](raw_dir, rng, 1.0, "sample")
    assert written == [raw_dir / "school_nurse" / "visits_2025.CSV"]
    monkeypatch.setenv("COV_QUARANTINE_CEILING", "1")  # a five-row extract
    resources = {
        **build_resources(),
        "warehouse": WarehouseResource(url=duckdb_url),
        "raw_files": RawFilesResource(raw_dir=str(raw_dir)),
    }
    definitions = build_definitions(pipeline, resources)
    job = definitions.resolve_job_def("school_nurse")
    result = job.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success

    wh = Warehouse(duckdb_url)
    try:
        assert wh.read_table("marts", MART.path[1]).values.tolist() == [
            ["2025-01", 2],
            ["2025-02", 1],
        ]
        quarantine = wh.read_table("quality", "quarantine")
        ours = quarantine[quarantine["source"] == "school_nurse"]
        assert ours[["line_number", "reasons"]].values.tolist() == [
            [5, "visit_date: '2025-02-30' is not a date"],
            [
                6,
                "record has 4 fields, the header 3 (extra: 'extra'; a comma in a field that is not quoted?)",
            ],
        ]
        summary = wh.read_table("quality", "run_summary").set_index("source")
        assert summary.loc["school_nurse", ["staged_rows", "quarantined_rows"]].tolist() == [3, 2]
    finally:
        wh.dispose()
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks[("marts/school_nurse_visits_by_month", "great_expectations")] is True
    assert checks[("staging/school_nurse_visits", "rows_accounted_for")] is True
