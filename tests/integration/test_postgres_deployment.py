"""Production on PostgreSQL: the shipped instance configuration, and the analyst role's reach."""

from __future__ import annotations

import shutil

import psycopg
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, DagsterRunStatus, materialize

from cov_pipeline.definitions import ASSETS as PIPELINE
from cov_pipeline.settings import PROJECT_ROOT
from cov_pipeline.warehouse import Warehouse, scratch_database
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource
from tests.conftest import postgres_url, requires_postgres

pytestmark = [pytest.mark.postgres, requires_postgres]


@pytest.fixture
def instance_database():
    """A fresh PostgreSQL database for Dagster's own storage, as libpq URL (dagster-postgres)."""
    with scratch_database(postgres_url(), "cov_dagster", drivername="postgresql+psycopg2") as url:
        yield url


def test_a_job_runs_on_the_shipped_postgres_instance_config(
    tmp_path, monkeypatch, instance_database, postgres_warehouse_url
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", instance_database)

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        result = materialize(
            PIPELINE,
            resources={
                "warehouse": WarehouseResource(url=postgres_warehouse_url),
                "raw_files": RawFilesResource(raw_dir=str(PROJECT_ROOT / "data" / "raw")),
                "settings": PipelineSettings(),
            },
            instance=instance,
        )
        assert result.success
        runs = instance.get_runs()
        assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS]

    # the run history is in PostgreSQL, not in the home folder
    with psycopg.connect(instance_database.replace("+psycopg2", "")) as conn:
        count = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert count == 1


def test_the_analyst_role_reads_marts_and_the_public_role_published_only(postgres_warehouse_url):
    # the fixture made sure the login role analyst exists (tests/conftest.py)
    result = materialize(
        PIPELINE,
        resources={
            "warehouse": WarehouseResource(url=postgres_warehouse_url),
            "raw_files": RawFilesResource(raw_dir=str(PROJECT_ROOT / "data" / "raw")),
            "settings": PipelineSettings(),
        },
    )
    assert result.success

    as_analyst = (
        sa.engine.make_url(postgres_warehouse_url)
        .set(drivername="postgresql", username="analyst", password=None)
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(as_analyst, autocommit=True) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM marts.infant_mortality_benchmark").fetchone()[0]
        assert rows == 7
        for table in ("staging.fingertips_indicator_values", "quality.quarantine"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(f"SELECT * FROM {table} LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE marts.mine (x int)")

    # The public role (COV_PUBLIC_ROLE, default public_reader: a group role the web server's
    # login is granted) reads the published tier and nothing else.
    as_owner = sa.engine.make_url(postgres_warehouse_url).set(drivername="postgresql")
    with psycopg.connect(as_owner.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("SET ROLE public_reader")
        shown = conn.execute("SELECT COUNT(*) FROM published.late_bookings").fetchone()[0]
        assert shown > 0
        for table in (
            "marts.late_bookings",
            "staging.maternity_bookings",
            "quality.quarantine",
            "quality.disclosure_summary",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(f"SELECT * FROM {table} LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE published.mine (x int)")

    # a table replaced by a later run is readable too (default privileges, not one-off grants)
    Warehouse(postgres_warehouse_url).replace_table("marts", "infant_mortality_benchmark", _tiny())
    with psycopg.connect(as_analyst, autocommit=True) as conn:
        assert conn.execute("SELECT x FROM marts.infant_mortality_benchmark").fetchone()[0] == 1


def _tiny():
    import pandas as pd

    return pd.DataFrame({"x": [1]})


def test_a_job_takes_a_process_per_step_when_asked_on_postgresql(tmp_path, postgres_warehouse_url):
    # As deployed: the code location from its module, the job from the command line, the
    # executor from COV_EXECUTOR (one process runs every step unless it says multiprocess).
    import os
    import subprocess
    import sys
    from pathlib import Path

    from dagster import DagsterEventType

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "COV_RAW_DIR": str(PROJECT_ROOT / "data" / "raw"),
        "COV_WAREHOUSE_URL": postgres_warehouse_url,
        "COV_EXECUTOR": "multiprocess",
        "COV_EXPORT_DIR": str(tmp_path / "exports"),
        "COV_DOCS_DIR": str(tmp_path / "docs"),
    }
    command = [str(Path(sys.executable).parent / "dagster"), "job", "execute",
               "-m", "cov_pipeline.definitions", "-j", "fingertips"]  # fmt: skip
    done = subprocess.run(
        command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    with DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
        starts = [
            entry
            for entry in instance.all_logs(run.run_id)
            if entry.dagster_event and entry.dagster_event.event_type == DagsterEventType.STEP_START
        ]
    assert len(starts) >= 3
    pids = {entry.dagster_event.pid for entry in starts}
    assert len(pids) == len(starts), pids  # each step in its own process
    assert Warehouse(postgres_warehouse_url).row_count("marts", "indicator_values") > 0
