"""The Dagster code location: every asset, check, job, schedule and resource of the pipeline.

Loaded by ``workspace.yaml`` (webserver, daemon) and by ``cov-pipeline refresh``. Resources read
their settings from environment variables (``EnvVar`` where set) with working defaults.
"""

from __future__ import annotations

import os

from dagster import (
    AssetSelection,
    Definitions,
    EnvVar,
    ExecutorDefinition,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

from assets import (
    deprivation,
    fingertips,
    household_survey,
    maternity,
    msds,
    quality,
    reference,
    referrals,
)
from assets.automation import nightly_schedule, raw_folder_sensor
from assets.expectations import GX_CHECKS
from assets.fingertips_download import fingertips_download_job
from assets.published import DISCLOSURE_SUMMARY, PUBLISHED_ASSETS, PUBLISHED_CHECKS, PUBLISHED_KEYS
from assets.reporting import reporting_assets
from cov_pipeline import settings
from cov_pipeline.one_writer import one_writer
from resources.fingertips_api import FingertipsApiResource
from resources.great_expectations import GreatExpectationsResource
from resources.raw_files import RawFilesResource
from resources.warehouse import WarehouseResource


def executor_for(warehouse_url: str, choice: str = "in_process") -> ExecutorDefinition:
    """How a run executes its steps: ``choice`` (``COV_EXECUTOR``), for this warehouse.

    One process runs every step by default, on both warehouses. A process per step (the
    multiprocess executor) loads this code location again for each of the 35 steps of the
    nightly job, and Great Expectations again for each check: on this project's 2-core machine
    the nightly run took 106 s so on PostgreSQL against 20 s in one process on the shipped
    sample, and 140 s against 84 s at benchmark scale 1 (docs/scaling.md). Steps side by side
    pay off only with more cores and larger inputs: ``multiprocess`` is there for that, on
    PostgreSQL; a DuckDB file admits one process at a time, so it is refused there.

    Either way the run first takes the warehouse, so one run writes at a time whatever started
    it (``one_writer``: the run's worker recorded, its preconditions checked, the lock held).
    """
    if choice == "in_process":
        return one_writer(in_process_executor)
    if choice != "multiprocess":
        raise ValueError(f"unknown executor {choice!r}: in_process or multiprocess")
    if warehouse_url.startswith("duckdb"):
        raise ValueError(
            "COV_EXECUTOR=multiprocess needs the PostgreSQL warehouse: a DuckDB file admits one "
            "process at a time (unset COV_EXECUTOR, or point COV_WAREHOUSE_URL at PostgreSQL)"
        )
    return one_writer(multiprocess_executor)


def env_or_default(name: str, default: str | int):
    """An ``EnvVar`` (shown as such in the UI) where the variable is set, else the default; a
    whole number's variable is read as one (``EnvVar.int``)."""
    if not os.environ.get(name):
        return default
    return EnvVar.int(name) if isinstance(default, int) else EnvVar(name)


SOURCE_ASSETS = [
    reference.fingertips_indicators,
    reference.cipfa_neighbours,
    *deprivation.DEPRIVATION_ASSETS,
    fingertips.fingertips_staging,
    fingertips.indicator_values_mart,
    fingertips.infant_mortality_benchmark_mart,
    *household_survey.HOUSEHOLD_SURVEY_ASSETS,
    *msds.MSDS_ASSETS,
    *maternity.MATERNITY_ASSETS,
    *referrals.REFERRALS_ASSETS,
    quality.quarantine,
    quality.run_summary,
]
MART_KEYS = [key for a in SOURCE_ASSETS for key in a.keys if key.path[0] == "marts"]
ASSETS = [
    *SOURCE_ASSETS,
    *PUBLISHED_ASSETS,
    DISCLOSURE_SUMMARY,
    *reporting_assets(MART_KEYS, [*PUBLISHED_KEYS, DISCLOSURE_SUMMARY.key]),
]
CHECKS = [*GX_CHECKS, *PUBLISHED_CHECKS]

# Everything that reads the raw zone. The API download is no asset but its own op job
# (fingertips_download), so neither this nor "Materialize all" can call the network.
WAREHOUSE_ASSETS = AssetSelection.all()

refresh_all = define_asset_job(
    "refresh_all",
    selection=WAREHOUSE_ASSETS,
    description="Materialise every warehouse table from the raw extracts (the nightly run).",
)


def source_selection(group: str, *reads) -> AssetSelection:
    """A source's job: its group, what is built from it (the quality and reporting tables), and
    the reference tables it reads, so it runs on a fresh warehouse too. Never what is downstream
    of those reference tables: the deprivation lookup feeds maternity and referrals alike, and a
    new referral extract must not rebuild the maternity marts."""
    return AssetSelection.groups(group).downstream() | AssetSelection.assets(*reads)


fingertips_job = define_asset_job(
    "fingertips",
    selection=source_selection(
        "fingertips", reference.fingertips_indicators, reference.cipfa_neighbours
    ),
    description="Fingertips exports to staging, marts and the quality tables.",
)

household_survey_job = define_asset_job(
    "household_survey",
    selection=source_selection("household_survey"),
    description="Household survey waves to staging, marts and the quality tables.",
)

maternity_job = define_asset_job(
    "maternity",
    selection=source_selection("maternity", *deprivation.DEPRIVATION_ASSETS),
    description="Maternity extracts and MSDS publications to staging, marts and quality tables.",
)

referrals_job = define_asset_job(
    "referrals",
    selection=source_selection("referrals", *deprivation.DEPRIVATION_ASSETS),
    description="Referral extracts of the young people's service to staging, marts and quality.",
)

nightly_refresh = nightly_schedule(refresh_all.name)

# A raw folder and the job its new files start.
SENSORS = [
    raw_folder_sensor("fingertips", fingertips_job.name),
    raw_folder_sensor("reference", refresh_all.name),
    raw_folder_sensor("household_survey", household_survey_job.name),
    raw_folder_sensor("maternity", maternity_job.name),
    raw_folder_sensor("referrals", referrals_job.name),
]


def build_resources() -> dict:
    return {
        "warehouse": WarehouseResource(
            url=env_or_default("COV_WAREHOUSE_URL", settings.DEFAULT_WAREHOUSE_URL)
        ),
        "raw_files": RawFilesResource(
            raw_dir=env_or_default("COV_RAW_DIR", settings.DEFAULT_RAW_DIR),
            settle_seconds=env_or_default(
                "COV_RAW_SETTLE_SECONDS", settings.DEFAULT_RAW_SETTLE_SECONDS
            ),
        ),
        "fingertips_api": FingertipsApiResource(
            base_url=env_or_default("COV_FINGERTIPS_API_URL", settings.DEFAULT_FINGERTIPS_API_URL),
            deadline_seconds=env_or_default(
                "COV_DOWNLOAD_DEADLINE_SECONDS", settings.DEFAULT_DOWNLOAD_DEADLINE_SECONDS
            ),
            max_bytes=env_or_default("COV_DOWNLOAD_MAX_BYTES", settings.DEFAULT_DOWNLOAD_MAX_BYTES),
        ),
        "great_expectations": GreatExpectationsResource(
            docs_dir=env_or_default("COV_DOCS_DIR", settings.DEFAULT_DOCS_DIR)
        ),
    }


defs = Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    jobs=[
        refresh_all,
        fingertips_job,
        maternity_job,
        referrals_job,
        household_survey_job,
        fingertips_download_job,
    ],
    schedules=[nightly_refresh],
    sensors=SENSORS,
    resources=build_resources(),
    executor=executor_for(settings.warehouse_url(), settings.executor()),
)


def execute_refresh_all(raw_dir: str | os.PathLike, warehouse_url: str, instance, **kwargs):
    """Run the nightly job (every asset and check of ``refresh_all``) in this process, reading
    ``raw_dir`` and writing ``warehouse_url``: for the benchmark and the tests, which must not
    touch the checkout's warehouse. Other keyword arguments go to ``execute_in_process``."""
    resources = {
        **build_resources(),
        "warehouse": WarehouseResource(url=warehouse_url),
        "raw_files": RawFilesResource(raw_dir=str(raw_dir)),
    }
    scoped = Definitions(
        assets=ASSETS, asset_checks=CHECKS, jobs=[refresh_all], resources=resources
    )
    job = scoped.resolve_job_def(refresh_all.name)
    return job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
