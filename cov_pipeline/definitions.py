"""The Dagster code location: every asset, check, job, schedule and resource of the pipeline.

Loaded by ``workspace.yaml`` (webserver, daemon) and by ``cov-pipeline refresh``. Resources read
their settings from environment variables (``EnvVar`` where set) with working defaults.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from dagster import (
    AssetSelection,
    Definitions,
    EnvVar,
    ExecutorDefinition,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

from assets import deprivation, quality, reference
from assets.automation import nightly_schedule, raw_folder_sensor
from assets.expectations import gx_checks_for
from assets.fingertips_download import fingertips_download_job
from assets.published import DISCLOSURE_SUMMARY, PUBLISHED_ASSETS, PUBLISHED_CHECKS, PUBLISHED_KEYS
from assets.registry import Source, by_group, project_sources
from assets.reporting import reporting_assets
from cov_pipeline import settings
from cov_pipeline.months import MONTHS_TAG
from cov_pipeline.one_writer import one_writer
from resources.fingertips_api import FingertipsApiResource
from resources.great_expectations import GreatExpectationsResource
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
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


def source_selection(group: str, *reads) -> AssetSelection:
    """A source's job: its group, what is built from it (the quality and reporting tables), and
    the reference tables it reads, so it runs on a fresh warehouse too. Never what is downstream
    of those reference tables: the deprivation lookup feeds maternity and referrals alike, and a
    new referral extract must not rebuild the maternity marts."""
    return AssetSelection.groups(group).downstream() | AssetSelection.assets(*reads)


def rebuild_months_job(sources: Sequence[Source]):
    """``rebuild_months``: the jobs of the sources with monthly marts in one, for a run that
    rebuilds chosen months (the run tag ``cov/months``): their staging from every raw file, the
    monthly marts by month (cov_pipeline/months.py), their other marts and what is built from
    them whole."""
    selection = AssetSelection.assets()
    for source in sources:
        selection = selection | source_selection(source.group, *source.reads)
    marts = ", ".join(key.path[1] for s in sources for key in s.monthly_marts)
    return define_asset_job(
        "rebuild_months",
        selection=selection,
        description=f"Rebuild the months named by the run tag {MONTHS_TAG} (e.g. 2024-06, "
        f"2024-06,2024-07 or 2024-06:2024-09) of the monthly marts ({marts}) after a corrected "
        "extract: staging is rebuilt from every raw file, those months' rows are recomputed "
        "and merged with the stored ones, SPC is recomputed over the whole series, and what "
        "depends on the marts is rebuilt. Without the tag it rebuilds every month.",
    )


# Read by every source's mart or by the benchmark: the reference tables.
REFERENCE_ASSETS = [
    reference.fingertips_indicators,
    reference.cipfa_neighbours,
    *deprivation.DEPRIVATION_ASSETS,
]
# Everything that reads the raw zone. The API download is no asset but its own op job
# (fingertips_download), so neither this nor "Materialize all" can call the network.
WAREHOUSE_ASSETS = AssetSelection.all()


@dataclass(frozen=True)
class Pipeline:
    """Every definition derived from the registered sources (:mod:`assets.registry`)."""

    assets: list
    checks: list
    jobs: list
    sensors: list
    schedules: list


def build_pipeline(sources: Sequence[Source]) -> Pipeline:
    """The assets, checks, jobs (``refresh_all`` and one per source group), sensors (one per raw
    folder, and the reference folder's) and the nightly schedule of ``sources``."""
    source_assets = [
        *REFERENCE_ASSETS,
        *(a for source in sources for a in source.assets),
        *quality.quality_assets(sources),
    ]
    mart_keys = [key for a in source_assets for key in a.keys if key.path[0] == "marts"]
    assets = [
        *source_assets,
        *PUBLISHED_ASSETS,
        DISCLOSURE_SUMMARY,
        *reporting_assets(mart_keys, [*PUBLISHED_KEYS, DISCLOSURE_SUMMARY.key]),
    ]
    checks = [*gx_checks_for([k for s in sources for k in s.marts]), *PUBLISHED_CHECKS]
    refresh_all = define_asset_job(
        "refresh_all",
        selection=WAREHOUSE_ASSETS,
        description="Materialise every warehouse table from the raw extracts (the nightly run).",
    )
    jobs = [refresh_all]
    job_of_folder = {"reference": refresh_all.name}
    for group, members in by_group(sources).items():
        reads = list(dict.fromkeys(r for s in members for r in s.reads))
        description = next((s.job_description for s in members if s.job_description), "")
        job = define_asset_job(
            group, selection=source_selection(group, *reads), description=description
        )
        jobs.append(job)
        for source in members:
            job_of_folder.setdefault(source.raw_folder, job.name)
    monthly = [s for s in sources if s.monthly_marts]
    if monthly:
        jobs.append(rebuild_months_job(monthly))
    jobs.append(fingertips_download_job)
    sensors = [raw_folder_sensor(folder, job) for folder, job in job_of_folder.items()]
    return Pipeline(assets, checks, jobs, sensors, [nightly_schedule(refresh_all.name)])


PIPELINE = build_pipeline(project_sources())
ASSETS = PIPELINE.assets
CHECKS = PIPELINE.checks
SENSORS = PIPELINE.sensors


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
        # unset fields read their variables when an asset asks, as the module functions do
        "settings": PipelineSettings(),
    }


def build_definitions(pipeline: Pipeline = PIPELINE, resources: dict | None = None) -> Definitions:
    return Definitions(
        assets=pipeline.assets,
        asset_checks=pipeline.checks,
        jobs=pipeline.jobs,
        schedules=pipeline.schedules,
        sensors=pipeline.sensors,
        resources=resources or build_resources(),
        executor=executor_for(settings.warehouse_url(), settings.executor()),
    )


defs = build_definitions()


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
        assets=ASSETS, asset_checks=CHECKS, jobs=PIPELINE.jobs[:1], resources=resources
    )
    job = scoped.resolve_job_def("refresh_all")
    return job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
