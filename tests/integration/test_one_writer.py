"""One writer at a time, whatever starts a run: the warehouse lock, runs from two doors at once,
preconditions checked before anything is written, and runs whose process died marked failed.

The command-line tests start ``cov-pipeline`` as a person does, in their own processes, on a
temporary warehouse, raw zone and Dagster home (the project's instance settings).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus

from cov_pipeline.run_health import WORKER_TAG, MonitoredRunLauncher, Worker, mark_dead_runs
from cov_pipeline.settings import PROJECT_ROOT
from cov_pipeline.warehouse import Warehouse
from cov_pipeline.warehouse_lock import WarehouseBusy, WarehouseLock

CLI = Path(sys.executable).parent / "cov-pipeline"
CLI_TIMEOUT_S = 240
# Rows the shipped sample stages for the two jobs the tests run side by side.
SURVEY_ROWS = ("staging", "household_survey_responses")
REFERRAL_ROWS = ("staging", "referrals")


def _home(path: Path) -> Path:
    """A Dagster home with the project's instance settings (queue, pools, run monitoring)."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", path / "dagster.yaml")
    return path


def _env(home: Path, warehouse_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "COV_WAREHOUSE_URL": warehouse_url,
        "COV_RAW_DIR": str(PROJECT_ROOT / "data" / "raw"),
        "COV_EXPORT_DIR": str(tmp_path / "exports"),
        "COV_DOCS_DIR": str(tmp_path / "docs"),
        **extra,
    }


class Cli:
    """``cov-pipeline refresh --job JOB`` in its own process, its output in a file."""

    def __init__(self, job: str, env: dict[str, str], log: Path):
        self.log = log
        self._out = log.open("w")
        self.process = subprocess.Popen(
            [str(CLI), "refresh", "--job", job],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout_s: float = CLI_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"{text!r} never printed (exit {self.process.poll()}):\n{self.output()}"
                )
            time.sleep(0.2)

    def finish(self) -> int:
        try:
            return self.process.wait(timeout=CLI_TIMEOUT_S)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._out.close()


def _run_id(output: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith("run ") and "UI)" in line)
    return line.split()[1]


def _step_span(home: Path, run_id: str) -> tuple[float, float]:
    """When the run's first step started and its last step ended."""
    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.status == DagsterRunStatus.SUCCESS, run.status
        times = [
            entry.timestamp
            for entry in instance.all_logs(run_id)
            if entry.dagster_event
            and entry.dagster_event.event_type
            in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS)
        ]
    return min(times), max(times)


def _two_runs_at_once(tmp_path: Path, warehouse_url: str, homes: tuple[Path, Path]) -> None:
    """Both CLIs reach the warehouse while the test holds it, so both wait, then go at once:
    each must take its turn, succeed, and leave whole tables."""
    held = WarehouseLock(warehouse_url)
    clis = []
    with held.hold("the test", timeout_s=10):
        for job, home in zip(("household_survey", "referrals"), homes, strict=True):
            env = _env(home, warehouse_url, tmp_path)
            clis.append(Cli(job, env, tmp_path / f"{job}.log"))
        for cli in clis:
            cli.wait_for("waiting for the test [")
    codes = [cli.finish() for cli in clis]
    outputs = [cli.output() for cli in clis]
    assert codes == [0, 0], "\n\n".join(outputs)
    for output, home in zip(outputs, homes, strict=True):
        assert "could not set lock" not in output.lower() and "Traceback" not in output, output
        assert "holds the warehouse" in output
        # the exact command that opens the UI on the instance the run is recorded in
        assert f"DAGSTER_HOME={home} {CLI.parent / 'dagster'} dev -w " in output, output
    # whichever went second said which run it waited for
    ids = [_run_id(o) for o in outputs]
    assert any(
        f"waiting for run {other[:8]}" in o for o, other in zip(outputs, ids[::-1], strict=True)
    ), outputs
    # and their steps did not overlap: one writer at a time
    spans = sorted(_step_span(home, run_id) for home, run_id in zip(homes, ids, strict=True))
    assert spans[0][1] <= spans[1][0], spans
    warehouse = Warehouse(warehouse_url)
    try:
        assert warehouse.row_count(*SURVEY_ROWS) > 0
        assert warehouse.row_count(*REFERRAL_ROWS) > 0
        summary = warehouse.read_table("quality", "run_summary")
        assert {"household_survey", "referrals"} <= set(summary["source"])
    finally:
        warehouse.dispose()


def test_two_refreshes_on_two_instances_take_turns_on_duckdb(tmp_path):
    # two Dagster instances (as `dagster dev` without DAGSTER_HOME beside the project's): no
    # shared run queue, one warehouse file
    homes = (_home(tmp_path / "home_a"), _home(tmp_path / "home_b"))
    _two_runs_at_once(tmp_path, f"duckdb:///{tmp_path / 'warehouse.duckdb'}", homes)


@pytest.mark.postgres
def test_two_refreshes_take_turns_on_postgresql(tmp_path, postgres_warehouse_url):
    home = _home(tmp_path / "home")
    _two_runs_at_once(tmp_path, postgres_warehouse_url, (home, home))


def test_a_run_interrupted_while_it_waits_stops_having_written_nothing(tmp_path):
    # Ctrl-C on the command line (a termination from the UI sends the run the same SIGINT)
    warehouse_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    env = _env(_home(tmp_path / "home"), warehouse_url, tmp_path)
    with WarehouseLock(warehouse_url).hold("the test", timeout_s=10):
        cli = Cli("household_survey", env, tmp_path / "cli.log")
        cli.wait_for("waiting for the test [")
        interrupted = time.monotonic()
        cli.process.send_signal(signal.SIGINT)
        assert cli.finish() == 1, cli.output()
        assert time.monotonic() - interrupted < 30
    assert "done " not in cli.output() and "Traceback" not in cli.output(), cli.output()
    assert "interrupted while waiting for the warehouse: nothing was written" in cli.output()
    warehouse = Warehouse(warehouse_url)
    try:
        assert warehouse.list_tables("staging") == []
    finally:
        warehouse.dispose()


def test_the_lock_names_its_holder_waits_and_gives_up(warehouse_url):
    first, second = WarehouseLock(warehouse_url), WarehouseLock(warehouse_url)
    for _ in first.acquire("run aaaaaaaa (refresh_all)", timeout_s=5):
        pytest.fail("a free lock is taken without waiting")
    try:
        assert first.current_holder().startswith("run aaaaaaaa (refresh_all)")
        messages = []
        with pytest.raises(WarehouseBusy, match=r"still held by run aaaaaaaa \(refresh_all\)"):
            for message in second.acquire("run bbbbbbbb (maternity)", timeout_s=0.6, poll_s=0.1):
                messages.append(message)
        said = [m for m in messages if m]
        assert len(said) == 1 and said[0].startswith("waiting for run aaaaaaaa (refresh_all)")
        assert "holds the warehouse" in said[0]
    finally:
        first.release()
    assert first.current_holder() is None
    with second.hold("run bbbbbbbb (maternity)", timeout_s=5):
        assert second.current_holder().startswith("run bbbbbbbb (maternity)")


def test_a_killed_run_is_marked_failed_and_frees_the_warehouse(tmp_path):
    home = _home(tmp_path / "home")
    env = _env(home, f"duckdb:///{tmp_path / 'warehouse.duckdb'}", tmp_path)
    killed = Cli("household_survey", env, tmp_path / "killed.log")
    killed.wait_for("holds the warehouse")
    killed.process.send_signal(signal.SIGKILL)
    killed.finish()
    killed_id = _run_id(killed.output())
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(killed_id).status == DagsterRunStatus.STARTED

    # the next refresh marks it failed at start-up, then runs (the lock died with its holder)
    again = Cli("household_survey", env, tmp_path / "again.log")
    assert again.finish() == 0, again.output()
    assert f"marked failed: run {killed_id[:8]} (household_survey)" in again.output()
    assert "waiting for" not in again.output()
    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(killed_id)
        assert run.status == DagsterRunStatus.FAILURE
        failure = instance.all_logs(killed_id, of_type=DagsterEventType.RUN_FAILURE)
        assert "is gone" in failure[-1].dagster_event.message


def _recorded_run(instance: DagsterInstance, worker: str | None) -> DagsterRun:
    run = DagsterRun(
        job_name="refresh_all",
        run_id=str(uuid.uuid4()),
        status=DagsterRunStatus.STARTED,
        tags={WORKER_TAG: worker} if worker else {},
    )
    return instance.add_run(run)


def test_a_started_run_whose_process_is_gone_is_failed_by_the_sweep_and_the_monitor(tmp_path):
    with DagsterInstance.from_config(str(_home(tmp_path / "home"))) as instance:
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        dead_worker = Worker(Worker.this_process().host, gone.pid, "1")
        dead = _recorded_run(instance, dead_worker.tag())
        alive = _recorded_run(instance, Worker.this_process().tag())
        elsewhere = _recorded_run(instance, Worker("another-host", gone.pid, "1").tag())
        untagged = _recorded_run(instance, None)

        # the daemon's run monitoring asks the instance's launcher
        launcher = instance.run_launcher
        assert isinstance(launcher, MonitoredRunLauncher)
        assert launcher.supports_check_run_worker_health
        assert launcher.check_run_worker_health(dead).status.value == "FAILED"
        for run in (alive, elsewhere, untagged):
            assert launcher.check_run_worker_health(run).status.value == "RUNNING"

        # the command line's sweep at start-up
        marked = mark_dead_runs(instance)
        assert len(marked) == 1 and marked[0].startswith(f"run {dead.run_id[:8]} (refresh_all)")
        status = {r.run_id: instance.get_run_by_id(r.run_id).status for r in (dead, alive)}
        assert status == {
            dead.run_id: DagsterRunStatus.FAILURE,
            alive.run_id: DagsterRunStatus.STARTED,
        }
        for run in (elsewhere, untagged):
            assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED


def test_a_reused_pid_is_not_taken_for_the_dead_worker():
    me = Worker.this_process()
    assert me.alive() is True
    assert Worker(me.host, me.pid, str(int(me.start) - 1)).alive() is False


def _refuses_before_writing(tmp_path: Path, warehouse_url: str, expected: str, **env: str):
    """A refresh whose preconditions fail: exit 1 with one message, and not a table written."""
    home = _home(tmp_path / "home")
    cli = Cli("household_survey", _env(home, warehouse_url, tmp_path, **env), tmp_path / "cli.log")
    assert cli.finish() == 1, cli.output()
    output = cli.output()
    failures = [line for line in output.splitlines() if " failed: " in line]
    assert len(failures) == 1, output
    assert "the run cannot finish, so it writes nothing: " in failures[0]
    assert expected in failures[0], failures[0]
    assert "Traceback" not in output and "done " not in output, output
    warehouse = Warehouse(warehouse_url)
    try:
        assert not any(warehouse.list_tables(schema) for schema in ("staging", "marts", "quality"))
    finally:
        warehouse.dispose()


def test_an_unwritable_export_folder_stops_the_run_before_anything_is_written(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the export folder's parent should be")
    _refuses_before_writing(
        tmp_path,
        f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        f"the export folder {blocker / 'exports'} (COV_EXPORT_DIR) is not writable",
        COV_EXPORT_DIR=str(blocker / "exports"),
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("variable", "schema"), [("COV_ANALYST_ROLE", "marts"), ("COV_PUBLIC_ROLE", "published")]
)
def test_a_missing_role_stops_the_run_before_anything_is_written(
    tmp_path, postgres_warehouse_url, monkeypatch, variable, schema
):
    role = f"cov_missing_{uuid.uuid4().hex[:8]}"
    _refuses_before_writing(
        tmp_path,
        postgres_warehouse_url,
        f"the PostgreSQL role '{role}' ({variable}), to be granted read access to {schema}, "
        "does not exist",
        **{variable: role},
    )
    # nor does a write that skips the run's check (a test's materialize) go on without the grant
    import pandas as pd

    from cov_pipeline.warehouse import WarehouseError

    assert Warehouse(postgres_warehouse_url).role_problems() == []  # the test roles exist
    monkeypatch.setenv(variable, role)
    warehouse = Warehouse(postgres_warehouse_url)
    try:
        (problem,) = warehouse.role_problems()
        assert problem.startswith(f"the PostgreSQL role '{role}' ({variable})")
        with pytest.raises(WarehouseError, match="does not exist.*nothing was written"):
            warehouse.replace_table("marts", "x", pd.DataFrame({"x": [1]}))
        assert warehouse.list_tables("marts") == []
    finally:
        warehouse.dispose()


def test_preconditions_hold_on_a_writable_folder_and_on_duckdb(tmp_path):
    from cov_pipeline.exports import export_dir_problem

    assert export_dir_problem(tmp_path / "new" / "exports") is None
    assert list((tmp_path / "new" / "exports").rglob("parquet"))  # where the Parquet files go
    assert list((tmp_path / "new" / "exports").rglob(".write-probe-*")) == []
    assert Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}", "nobody").role_problems() == []
