"""The warehouse as a Dagster resource: configured by a SQLAlchemy URL (``COV_WAREHOUSE_URL``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from dagster import ConfigurableResource, InitResourceContext

from cov_pipeline import settings
from cov_pipeline.warehouse import Warehouse


class WarehouseResource(ConfigurableResource):
    """Writes tables atomically (new table beside the old, swapped in one transaction) and reads
    them back for downstream assets. DuckDB by default; ``postgresql+psycopg://`` in production."""

    url: str = settings.DEFAULT_WAREHOUSE_URL

    @cached_property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.url)

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[WarehouseResource]:
        """One DuckDB connection for the steps this resource serves (all of an in-process run,
        one step under the multiprocess executor) instead of one per read and write."""
        with self.warehouse.session():
            yield self

    @property
    def kind(self) -> str:
        return "postgres" if self.warehouse.backend == "postgresql" else "duckdb"
