"""MSDS publications: the normalised long table, its quarantine, and the provider-vs-England mart."""

from collections.abc import Iterator

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from assets.checks import (
    StagedTable,
    mart_asset,
    publish_mart,
    publish_staging,
    repeats_metadata,
    staging_asset,
)
from assets.metadata import fail_on_file_fault
from assets.registry import Source
from cov_pipeline.maternity import BIRTHS_PATTERN, BOOKINGS_PATTERN, TERMINATIONS_PATTERN
from cov_pipeline.msds import (
    FILE_PATTERN,
    MART_DESCRIPTIONS,
    STAGING_DESCRIPTIONS,
    load_msds,
    maternity_vs_england,
)
from cov_pipeline.quality import FileFault
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

MATERNITY_PATTERNS = (BOOKINGS_PATTERN, BIRTHS_PATTERN, TERMINATIONS_PATTERN)

GROUP = "maternity"
RAW_FOLDER = "maternity"
STAGING = AssetKey(["staging", "msds_measures"])
QUARANTINE = AssetKey(["quality", "msds_quarantine"])
REVISIONS = AssetKey(["quality", "msds_revisions"])
MART = AssetKey(["marts", "maternity_vs_england"])


@staging_asset(
    "msds_staging",
    GROUP,
    {
        STAGING: (
            "Every count of every MSDS publication in data/raw/maternity/msds-*.csv (monthly and "
            "annual layouts) as one long table: labels normalised across releases, counts flagged "
            "as arriving rounded to 5, blank values kept missing, and the zero rows MSDS omits "
            "restored for dimensions whose categories are known.",
            "MSDS",
        )
    },
    QUARANTINE,
    "MSDS rows rejected with their file, line and every reason (a record not readable as "
    "delivered: wrong number of fields, NUL byte, cleared row; unreadable date or period, "
    "non-numeric value, unknown category of a known dimension, conflicting copies).",
    revisions_key=REVISIONS,
)
def msds_staging(
    context: AssetExecutionContext,
    raw_files: RawFilesResource,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
) -> Iterator:
    try:
        paths = raw_files.discover(
            context.log, RAW_FOLDER, FILE_PATTERN, "MSDS files", others=MATERNITY_PATTERNS
        )
        load = load_msds(paths)
    except FileFault as fault:
        fail_on_file_fault(fault)
    context.log.info(
        f"{load.input_rows} rows read: {len(load.staging) - load.restored_zero_rows} staged, "
        f"{len(load.quarantine)} quarantined, {load.restored_zero_rows} omitted zero rows restored"
    )
    repeats = repeats_metadata(
        context.log, REVISIONS.path[1], load.revisions, load.conflicting_rows
    )
    staged = StagedTable.from_load(
        STAGING,
        load,
        "MSDS counts, normalised across releases.",
        STAGING_DESCRIPTIONS,
        {"restored_zero_rows": load.restored_zero_rows, **repeats},
    )
    yield from publish_staging(
        warehouse.warehouse,
        [staged],
        QUARANTINE,
        load.quarantine,
        "Rejected MSDS rows.",
        load.files,
        ceiling=settings.max_quarantine_share(),
        revisions=(REVISIONS, load.revisions),
    )


@mart_asset(
    MART,
    GROUP,
    [STAGING],
    description="Per MSDS period, each provider's and England's late booking %, preterm %, "
    "extremely preterm % and share of deliveries in IMD deciles 1-3, with Wilson 95% CIs and the "
    "comparison with England. Inputs arrive rounded to 5 by NHS England (public figures, passed "
    "on as published).",
)
def maternity_vs_england_mart(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    wh = warehouse.warehouse
    table = maternity_vs_england(wh.read_table("staging", STAGING.path[1]))
    latest = table[table["period_type"] == "financial_year"]
    latest = latest[latest["period_start"] == latest["period_start"].max()]
    return publish_mart(
        wh,
        MART,
        table,
        "Maternity provider measures compared with England (MSDS).",
        MART_DESCRIPTIONS,
        {
            "latest_financial_year": MetadataValue.json(
                {
                    f"{row.org_code} {row.measure_id}": (
                        None if pd.isna(row.value_pct) else round(float(row.value_pct), 1)
                    )
                    for row in latest.itertuples()  # a dozen summary rows, not input rows
                }
            ),
        },
    )


MSDS_ASSETS = [msds_staging, maternity_vs_england_mart]

SOURCE_SPEC = Source(
    name="msds",
    group=GROUP,
    assets=MSDS_ASSETS,
    quarantine="msds_quarantine",
    staging=["msds_measures"],
    raw_folder=RAW_FOLDER,
    job_description="Maternity extracts and MSDS publications to staging, marts and quality tables.",
    sample="cov_pipeline.sample_data.msds:generate_msds",
)
