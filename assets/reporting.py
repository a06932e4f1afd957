"""Reporting assets for analysts: the data dictionary mart and the published exports."""

from collections.abc import Sequence

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.checks import mart_asset, publish_mart
from assets.metadata import OWNERS
from cov_pipeline.exports import (
    DICTIONARY_DESCRIPTIONS,
    DICTIONARY_TABLE,
    PUBLIC,
    TEAM,
    data_dictionary,
    publish_marts,
)
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource


def dictionary_asset(schema: str, group: str, deps: Sequence[AssetKey], what: str):
    """``<schema>.data_dictionary``: every column of the schema's tables with its type, unit and
    description, from the column comments in the warehouse."""

    @mart_asset(
        AssetKey([schema, DICTIONARY_TABLE]),
        group,
        deps,
        description=f"Every column of the {what} with its type, unit and description, from the "
        "column comments in the warehouse.",
    )
    def _dictionary(warehouse: WarehouseResource) -> MaterializeResult:
        wh = warehouse.warehouse
        table = data_dictionary(wh, schema)
        undescribed = table[table["description"] == ""]
        return publish_mart(
            wh,
            AssetKey([schema, DICTIONARY_TABLE]),
            table,
            f"Data dictionary of the {what}.",
            DICTIONARY_DESCRIPTIONS,
            {"columns_without_description": len(undescribed)},
        )

    return _dictionary


def reporting_assets(
    mart_keys: Sequence[AssetKey], published_keys: Sequence[AssetKey] = ()
) -> list[AssetsDefinition]:
    """The dictionaries and the exports, downstream of every mart and published table."""
    data_dictionary_mart = dictionary_asset("marts", "reporting", mart_keys, "marts")
    published_dictionary = dictionary_asset(
        "published", "published", published_keys, "published tables"
    )
    dictionary_key = data_dictionary_mart.key
    public_dictionary_key = published_dictionary.key

    @asset(
        key=["exports", "analyst_exports"],
        deps=[*mart_keys, dictionary_key, *published_keys, public_dictionary_key],
        group_name="reporting",
        owners=OWNERS,
        kinds={"parquet", "duckdb"},
        pool="warehouse",
        description="Both tiers exported to COV_EXPORT_DIR, each to its own folder: "
        f"{TEAM.folder}/ (the team's marts, not for release) and {PUBLIC.folder}/ (the published "
        "tier): one Parquet file per table, a read-only DuckDB snapshot and the Markdown data "
        "dictionary.",
    )
    def analyst_exports(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
    ) -> MaterializeResult:
        export_dir = settings.export_path()
        written = publish_marts(warehouse.warehouse, export_dir)
        context.log.info(f"published {len(written)} files to {export_dir}")
        return MaterializeResult(
            metadata={
                "export_dir": MetadataValue.path(str(export_dir.resolve())),
                "files": MetadataValue.json([str(p.relative_to(export_dir)) for p in written]),
                **{
                    f"{tier.schema}_snapshot": MetadataValue.path(
                        str((export_dir / tier.folder / tier.snapshot).resolve())
                    )
                    for tier in (TEAM, PUBLIC)
                },
            }
        )

    return [data_dictionary_mart, published_dictionary, analyst_exports]
