"""Great Expectations suites on the marts and published tables as Dagster asset checks, with Data Docs.

One non-blocking check named ``great_expectations`` per mart: it reads the mart back from the
warehouse, validates it against the suite registered in :mod:`cov_pipeline.expectations`, builds
Data Docs under ``COV_DOCS_DIR`` (default ``data/warehouse/docs``) and reports the failed
expectations in its metadata (ERROR on failure). GX is imported only when a run holds a check,
by the first check of the run's process.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from assets.metadata import markdown_table
from cov_pipeline.expectations import SUITES
from cov_pipeline.publishing import PUBLICATIONS
from resources.great_expectations import GreatExpectationsResource
from resources.warehouse import WarehouseResource

CHECK_NAME = "great_expectations"
MAX_FAILURES_SHOWN = 50


def gx_asset_checks(table_to_asset_key: dict[str, AssetKey]) -> list[AssetChecksDefinition]:
    """One ``great_expectations`` asset check per mart, keyed ``schema.table`` -> asset key."""
    missing = sorted(set(table_to_asset_key) - set(SUITES))
    if missing:
        raise KeyError(f"no Great Expectations suite registered for {', '.join(missing)}")
    return [_gx_check(table, key) for table, key in table_to_asset_key.items()]


def _gx_check(table_name: str, asset_key: AssetKey) -> AssetChecksDefinition:
    schema, name = table_name.split(".", 1)

    @asset_check(
        asset=asset_key,
        name=CHECK_NAME,
        blocking=False,
        pool="warehouse",
        description=f"The Great Expectations suite for {table_name} passes (ranges, CIs around "
        "values, keys, no unsuppressed small counts); Data Docs are rebuilt under COV_DOCS_DIR.",
    )
    def _check(
        context: AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        great_expectations: GreatExpectationsResource,
    ) -> AssetCheckResult:
        frame = warehouse.warehouse.read_table(schema, name)
        result = great_expectations.validate(table_name, frame, run_name=context.run.run_id)
        failures = result.failures_frame()
        context.log.info(
            f"{table_name}: {len(failures)} of {result.evaluated} expectations failed "
            f"({len(frame)} rows); Data Docs at {result.data_docs}"
        )
        return AssetCheckResult(
            passed=result.success,
            severity=AssetCheckSeverity.ERROR,
            description=(
                f"{len(failures)} of {result.evaluated} expectations failed"
                + (f": {', '.join(failures['expectation'])}" if len(failures) else "")
            ),
            metadata={
                "failed_expectations": MetadataValue.md(
                    markdown_table(failures, rows=MAX_FAILURES_SHOWN)
                ),
                "failure_count": len(failures),
                "expectations_evaluated": result.evaluated,
                "rows_validated": len(frame),
                "data_docs": MetadataValue.path(str(result.data_docs)),
            },
        )

    return _check


def gx_checks_for(mart_keys: list[AssetKey]) -> list[AssetChecksDefinition]:
    """The Great Expectations check of every mart in ``mart_keys`` (the registered sources'
    marts) and of every published table; each needs its suite registered."""
    tables = {f"marts.{key.path[1]}": key for key in mart_keys}
    tables.update(
        {
            f"published.{spec.name}": AssetKey(["published", spec.name])
            for publishing in PUBLICATIONS
            for spec in publishing.specs
        }
    )
    return gx_asset_checks(tables)


def _project_marts() -> list[AssetKey]:
    from assets.registry import project_sources

    return [key for source in project_sources() for key in source.marts]


GX_CHECKS = gx_checks_for(_project_marts())
