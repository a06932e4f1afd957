"""The ``cov-pipeline`` command: refresh the warehouse, open the UI, summarise what it holds.

``refresh`` runs a job in this process as a run of the project's Dagster instance, through the
job's own executor: like a run the UI or the daemon starts, it takes the warehouse before its
first step, waiting (with a message naming the run that holds it) while another run writes
(``cov_pipeline/one_writer.py``). It prints each step as it ends and the outcome, and first
marks failed any run of the instance whose process died (``cov_pipeline/run_health.py``).

``ui`` starts ``dagster dev`` (the webserver and the daemon, which starts queued runs, sensors
and the schedule) on the same instance.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from cov_pipeline import settings
from cov_pipeline.months import MONTHS_TAG, parse_months
from cov_pipeline.warehouse import SCHEMAS, Warehouse
from cov_pipeline.warehouse_lock import WarehouseLock

WORKSPACE = settings.PROJECT_ROOT / "workspace.yaml"


def _use_project_dagster_home() -> Path:
    """Runs recorded by the command show in the UI: the project-level DAGSTER_HOME by default."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.PROJECT_ROOT / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home.resolve())
    return home.resolve()


def _bin(name: str) -> Path:
    """A command installed beside this Python (the project's ``.venv/bin``)."""
    return Path(sys.executable).parent / name


def ui_command(home: Path) -> str:
    """The shell command that opens the UI on the instance at ``home``, from anywhere."""
    return (
        f"cd {shlex.quote(str(Path.cwd()))} && DAGSTER_HOME={shlex.quote(str(home))} "
        f"{shlex.quote(str(_bin('dagster')))} dev -w {shlex.quote(str(WORKSPACE))}"
    )


def _error_text(error) -> str:
    """A Dagster error's message without the exception's module path."""
    if error is None:
        return "failed"
    message = error.message.strip()
    head, _, rest = message.partition(": ")
    return rest if rest and "." in head and " " not in head else message


@contextmanager
def _instance(home: Path) -> Iterator[object]:
    """The Dagster instance of ``home``, opened under a lock on the folder: the first opening
    creates its storage (SQLite databases stamped with their schema version), and two commands
    starting together on a new home both did it ("alembic_version has more than one head")."""
    import fcntl

    from dagster import DagsterInstance

    with open(home / ".cov_pipeline_instance.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            instance = DagsterInstance.get()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    with instance:
        yield instance


def refresh(job_name: str = "refresh_all", months: str = "") -> int:
    """Run a job (everything by default) as a run of the instance, print its progress and what
    was written; 0 when it succeeded. ``months`` (``2024-06,2024-07``) tags the run to rebuild
    only those months of the monthly marts (``cov_pipeline/months.py``)."""
    home = _use_project_dagster_home()
    sys.stdout.reconfigure(line_buffering=True)  # progress and errors in the order they happen
    from dagster import DagsterEventType, DagsterRunStatus
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run_iterator

    from cov_pipeline.run_health import WORKER_TAG, Worker, mark_dead_runs

    print(
        f"materialising job {job_name!r} from {settings.raw_dir()} into {_warehouse().display_name}"
    )
    if months:
        print(f"rebuilding the months {months} of the monthly marts ({MONTHS_TAG}={months})")
    print(f"(Dagster home {home}; open the UI on it with:\n  {ui_command(home)} )")
    with _instance(home) as instance:
        for line in mark_dead_runs(instance):
            print(f"marked failed: {line}", file=sys.stderr)
        repository = ReconstructableRepository.for_module(
            "cov_pipeline.definitions", "defs", working_directory=os.getcwd()
        )
        job = repository.get_reconstructable_job(job_name)
        run = instance.create_run_for_job(
            job_def=job.get_definition(),
            # this command prints the run's progress, failures and warnings itself (below),
            # one line each; Dagster's console log would add its stack traces
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            tags={
                WORKER_TAG: Worker.this_process().tag(),
                "cov/started_by": "cov-pipeline",
                **({MONTHS_TAG: months} if months else {}),
            },
            job_code_origin=job.get_python_origin(),
        )
        print(f"run {run.run_id} ({run.run_id[:8]} in the UI)")
        checks, steps_done = [], 0
        for event in execute_run_iterator(job, run, instance):
            if event.is_step_success:
                steps_done += 1
                seconds = event.step_success_data.duration_ms / 1000
                print(f"  done    {event.step_key} ({seconds:.1f} s)")
            elif event.is_step_failure:
                error = _error_text(event.step_failure_data.error)
                print(f"FAILED {event.step_key}: {error}", file=sys.stderr)
            elif event.is_step_skipped:
                print(f"  skipped {event.step_key} (an upstream step or blocking check failed)")
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                checks.append(event.asset_check_evaluation_data)
            elif event.is_engine_event and "the warehouse" in (event.message or ""):
                print(event.message)  # waiting for the run that holds it, or holding it
            elif event.is_run_failure:
                data = event.job_failure_data
                error = _error_text(data.error) if data and data.error else event.message
                print(f"run {run.run_id[:8]} failed: {error}", file=sys.stderr)
        status = instance.get_run_by_id(run.run_id).status
        warnings = [
            f"  {entry.step_key or 'run'}: {entry.user_message}"
            for entry in instance.all_logs(run.run_id)
            if entry.dagster_event is None and entry.level >= logging.WARNING
        ]
    if warnings:
        print("\nWarnings:", *warnings, sep="\n")
    if steps_done:  # a run refused before its first step wrote nothing to summarise
        summary()
    failed = [c for c in checks if not c.passed]
    print(f"\nAsset checks: {len(checks) - len(failed)} passed, {len(failed)} failed")
    for check in failed:
        key = check.asset_check_key
        print(f"  FAILED {key.asset_key.to_user_string()} {key.name} ({check.severity.value})")
    if status != DagsterRunStatus.SUCCESS:
        print(f"run {run.run_id} did not succeed: see the messages above", file=sys.stderr)
        return 1
    print(f"run {run.run_id} succeeded")
    return 0


def _warehouse() -> Warehouse:
    return Warehouse(settings.warehouse_url())


def summary() -> int:
    """Row counts of every table, and the infant mortality benchmark table.

    A DuckDB file admits one process at a time, readers included: there the summary waits for a
    run that holds the warehouse, as runs do. PostgreSQL serves readers beside a writer.
    """
    wh = _warehouse()
    waiting = nullcontext()
    if wh.backend == "duckdb":
        waiting = WarehouseLock(settings.warehouse_url()).hold(
            "cov-pipeline summary",
            settings.warehouse_wait_seconds(),
            on_wait=lambda message: print(message, file=sys.stderr),
        )
    with waiting:
        _print_summary(wh)
    wh.dispose()
    return 0


def _print_summary(wh: Warehouse) -> None:
    print(f"\nTables in {wh.display_name}:")
    for schema in SCHEMAS:
        for name in wh.list_tables(schema):
            print(f"  {schema + '.' + name:<45} {wh.row_count(schema, name):>10,} rows")
    if wh.table_exists("marts", "infant_mortality_benchmark"):
        table = wh.read_table("marts", "infant_mortality_benchmark")
        print("\nInfant mortality per 1,000 live births (marts.infant_mortality_benchmark):")
        for row in table.itertuples():
            rank = (
                ""
                if row.cipfa_neighbour_rank is None
                or str(row.cipfa_neighbour_rank) in ("<NA>", "nan")
                else f"rank {row.cipfa_neighbour_rank}"
            )
            print(
                f"  {row.area_name:<14} {row.time_period:<10} {row.value_with_ci:<16} {rank:<7} {row.compared_to_england}"
            )


def ui(port: int | None = None, host: str | None = None) -> int:
    """Start ``dagster dev`` (webserver and daemon) on the project's instance; does not return."""
    home = _use_project_dagster_home()
    print(f"Dagster UI on the instance {home} (the same command by hand: {ui_command(home)})")
    with _instance(home):  # a new home's storage created once, whoever else opens it now
        pass
    command = [str(_bin("dagster")), "dev", "-w", str(WORKSPACE)]
    if port is not None:
        command += ["-p", str(port)]
    if host is not None:
        command += ["-h", host]
    sys.stdout.flush()
    os.execv(command[0], command)
    return 1  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cov-pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "refresh", help="materialise the whole graph (or one job) and summarise"
    )
    run.add_argument("--job", help="job to run (default: refresh_all; rebuild_months with --month)")
    run.add_argument(
        "--month",
        action="append",
        default=[],
        metavar="YYYY-MM[:YYYY-MM]",
        help="rebuild only this month (or range) of the monthly marts after a corrected extract; "
        "may be repeated",
    )
    commands.add_parser("summary", help="print the tables in the warehouse")
    start_ui = commands.add_parser(
        "ui", help="start the Dagster UI and daemon (dagster dev) on the project's instance"
    )
    start_ui.add_argument("-p", "--port", type=int, help="port of the UI (default 3000)")
    start_ui.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    args = parser.parse_args(argv)
    if args.command == "refresh":
        months = ",".join(args.month)
        try:
            parse_months(months) if months else None
        except ValueError as error:
            parser.error(str(error))
        return refresh(args.job or ("rebuild_months" if months else "refresh_all"), months)
    if args.command == "ui":
        return ui(args.port, args.host)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
