"""Reference asset: the IMD lookup by LSOA (national rank, decile, quintile, most deprived 30%)."""

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from assets.kinds import warehouse_kinds
from assets.metadata import OWNERS, fail_on_file_fault, markdown_table, table_metadata
from assets.reference import reference_files
from cov_pipeline.imd import FILE_PATTERN, OUTPUT_DESCRIPTIONS, load_imd
from cov_pipeline.quality import FileFault
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

IMD_LSOA = AssetKey(["staging", "imd_lsoa"])


@asset(
    key=IMD_LSOA,
    group_name="reference",
    owners=OWNERS,
    kinds=warehouse_kinds(),
    pool="warehouse",
    description="National IMD rank, decile and quintile of every LSOA, and whether it is in the "
    "most deprived 30% (deciles 1-3), from the reference/imd*.csv files of the vintage set by "
    "COV_IMD_VINTAGE (IMD2019 on 2011 LSOAs, the default; IoD2025 on 2021 LSOAs).",
)
def imd_lsoa(
    context: AssetExecutionContext,
    raw_files: RawFilesResource,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
) -> MaterializeResult:
    vintage = settings.deprivation_vintage()
    try:
        load = load_imd(reference_files(context, raw_files, FILE_PATTERN, "IMD lookups"), vintage)
    except (FileFault, ValueError) as fault:
        fail_on_file_fault(fault)
    for name, other in load.skipped.items():
        context.log.info(f"{name} left aside: it is {other}, the configured vintage is {vintage}")
    table = load.table
    warehouse.warehouse.replace_table(
        "staging", IMD_LSOA.path[1], table, "IMD lookup by LSOA.", OUTPUT_DESCRIPTIONS
    )
    deciles = table["imd_decile"].value_counts().sort_index()
    return MaterializeResult(
        metadata={
            **table_metadata(
                "staging",
                IMD_LSOA.path[1],
                table,
                OUTPUT_DESCRIPTIONS,
                load.files,
                warehouse.warehouse.display_name,
            ),
            "imd_vintage": str(table["imd_vintage"].iloc[0]),
            "lsoa_vintage": str(table["lsoa_vintage"].iloc[0]),
            "lsoas_most_deprived_30pct": int(table["is_most_deprived_30pct"].sum()),
            "lsoas_by_decile": MetadataValue.md(
                markdown_table(
                    pd.DataFrame({"imd_decile": deciles.index, "lsoas": deciles.to_numpy()}),
                    rows=10,
                )
            ),
            "files_of_other_vintages": MetadataValue.json(load.skipped),
        }
    )


DEPRIVATION_ASSETS = [imd_lsoa]
