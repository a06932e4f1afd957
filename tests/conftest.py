"""Shared fixtures: temporary warehouses (DuckDB always, PostgreSQL where configured)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cov_pipeline.warehouse import SCHEMAS, Warehouse, scratch_database

POSTGRES_ENV = "COV_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


requires_postgres = pytest.mark.skipif(
    postgres_url() is None,
    reason=f"no PostgreSQL configured: set {POSTGRES_ENV} (the CI script sets it)",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path_factory):
    """Tests never touch the checkout's warehouse or Dagster home, and send no telemetry."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    # Tests write extracts and read them at once: the raw reader's settle time (a file modified
    # within it is waited for) is off unless a test sets it.
    monkeypatch.setenv("COV_RAW_SETTLE_SECONDS", "0")
    scratch = tmp_path_factory.mktemp("checkout_outputs")
    monkeypatch.setenv("COV_WAREHOUSE_URL", f"duckdb:///{scratch / 'unused.duckdb'}")
    monkeypatch.setenv("COV_EXPORT_DIR", str(scratch / "exports"))
    monkeypatch.setenv("COV_DOCS_DIR", str(scratch / "docs"))


@pytest.fixture
def raw_dir(tmp_path):
    """A copy of the shipped sample extracts (every source), safe to add bad files to."""
    import shutil

    from cov_pipeline.settings import PROJECT_ROOT

    target = tmp_path / "raw"
    shutil.copytree(PROJECT_ROOT / "data" / "raw", target)
    return target


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


def ensure_analyst_role(server_url: str) -> None:
    """The role the warehouse grants ``marts`` to (``analyst``, a login role as analysts use it).

    A run refuses to write where it does not exist (the database administrator creates it in
    production; docs/deployment.md); on the test server the tests create it, once per server.
    """
    import contextlib

    import sqlalchemy as sa

    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            # and the public role, granted ``published`` only
            for role, kind in (("analyst", "LOGIN"), ("public_reader", "NOLOGIN")):
                sql = "SELECT 1 FROM pg_roles WHERE rolname = %s"
                if conn.exec_driver_sql(sql, (role,)).first():
                    continue
                # another process may create it meanwhile
                with contextlib.suppress(sa.exc.DBAPIError):
                    conn.exec_driver_sql(f"CREATE ROLE {role} {kind}")
    finally:
        admin.dispose()


@pytest.fixture
def postgres_warehouse_url() -> Iterator[str]:
    """A fresh PostgreSQL database per test, dropped afterwards; the analyst role exists."""
    base = postgres_url()
    if base is None:
        pytest.skip(f"no PostgreSQL configured: set {POSTGRES_ENV} (the CI script sets it)")
    ensure_analyst_role(base)
    with scratch_database(base, "cov_test") as url:
        yield url


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path) -> str:
    """Run a test on both backends: DuckDB always, PostgreSQL where configured."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("postgres_warehouse_url")


@pytest.fixture
def warehouse(warehouse_url) -> Iterator[Warehouse]:
    wh = Warehouse(warehouse_url)
    yield wh
    wh.dispose()


__all__ = ["SCHEMAS", "requires_postgres"]
