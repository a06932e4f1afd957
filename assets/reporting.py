"""Reporting assets for analysts: the data dictionary mart and the published exports."""

from collections.abc import Sequence
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.automation import MARTS_FRESHNESS
from assets.kinds import warehouse_kinds
from assets.metadata import OWNERS, table_metadata
from cov_pipeline import settings
from cov_pipeline.exports import (
    DICTIONARY_DESCRIPTIONS,
    DICTIONARY_TABLE,
    SNAPSHOT_NAME,
    data_dictionary,
    publish_marts,
)
from resources.warehouse import WarehouseResource


def reporting_assets(mart_keys: Sequence[AssetKey]) -> list[AssetsDefinition]:
    """The dictionary and the exports, downstream of every mart in ``mart_keys``."""
    dictionary_key = AssetKey(["marts", DICTIONARY_TABLE])

    @asset(
        key=dictionary_key,
        deps=list(mart_keys),
        group_name="reporting",
        owners=OWNERS,
        kinds=warehouse_kinds(),
        pool="warehouse",
        freshness_policy=MARTS_FRESHNESS,
        description="Every mart column with its type, unit and description, from the column "
        "comments in the warehouse.",
    )
    def data_dictionary_mart(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        wh = warehouse.warehouse
        table = data_dictionary(wh)
        wh.replace_table(
            "marts",
            DICTIONARY_TABLE,
            table,
            "Data dictionary of the marts.",
            DICTIONARY_DESCRIPTIONS,
        )
        undescribed = table[table["description"] == ""]
        return MaterializeResult(
            metadata={
                **table_metadata(
                    "marts",
                    DICTIONARY_TABLE,
                    table,
                    DICTIONARY_DESCRIPTIONS,
                    warehouse=wh.display_name,
                ),
                "columns_without_description": len(undescribed),
            }
        )

    @asset(
        key=["exports", "analyst_exports"],
        deps=[*mart_keys, dictionary_key],
        group_name="reporting",
        owners=OWNERS,
        kinds={"parquet", "duckdb"},
        pool="warehouse",
        description="The marts published for analysts to COV_EXPORT_DIR: one Parquet file per mart, "
        f"a read-only DuckDB snapshot ({SNAPSHOT_NAME}) and the Markdown data dictionary.",
    )
    def analyst_exports(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        export_dir = Path(settings.export_dir())
        written = publish_marts(warehouse.warehouse, export_dir)
        context.log.info(f"published {len(written)} files to {export_dir}")
        return MaterializeResult(
            metadata={
                "export_dir": MetadataValue.path(str(export_dir.resolve())),
                "files": MetadataValue.json([str(p.relative_to(export_dir)) for p in written]),
                "snapshot": MetadataValue.path(str((export_dir / SNAPSHOT_NAME).resolve())),
            }
        )

    return [data_dictionary_mart, analyst_exports]
