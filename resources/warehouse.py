"""The warehouse as a Dagster resource: configured by a SQLAlchemy URL (``COV_WAREHOUSE_URL``)."""

from __future__ import annotations

from functools import cached_property

from dagster import ConfigurableResource

from cov_pipeline import settings
from cov_pipeline.warehouse import Warehouse


class WarehouseResource(ConfigurableResource):
    """Writes tables atomically (new table beside the old, swapped in one transaction) and reads
    them back for downstream assets. DuckDB by default; ``postgresql+psycopg://`` in production."""

    url: str = settings.DEFAULT_WAREHOUSE_URL

    @cached_property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.url)

    @property
    def kind(self) -> str:
        return "postgres" if self.warehouse.backend == "postgresql" else "duckdb"
