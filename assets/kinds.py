"""Kinds shown on each asset in the UI: pandas plus the warehouse backend in use."""

from cov_pipeline import settings


def warehouse_kinds() -> set[str]:
    backend = "postgres" if settings.warehouse_url().startswith("postgresql") else "duckdb"
    return {"pandas", backend}
