"""The ``cov-pipeline`` command: refresh the warehouse and summarise what it holds."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cov_pipeline import settings
from cov_pipeline.warehouse import SCHEMAS, Warehouse


def _use_project_dagster_home() -> Path:
    """Runs recorded by the command show in the UI: the project-level DAGSTER_HOME by default."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.PROJECT_ROOT / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home.resolve())
    return home


def refresh(job_name: str = "refresh_all") -> int:
    """Materialise a job (everything by default) in this process and print what was written."""
    home = _use_project_dagster_home()
    from dagster import DagsterInstance

    from cov_pipeline.definitions import defs

    job = defs.resolve_job_def(job_name)
    print(
        f"materialising job {job_name!r} from {settings.raw_dir()} into {_warehouse().display_name}"
    )
    print(f"(Dagster home {home}; open the UI with: .venv/bin/dagster-webserver -w workspace.yaml)")
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    failures = [event for event in result.all_events if event.is_step_failure]
    for event in failures:
        error = event.step_failure_data.error
        message = error.message.strip() if error else "failed"
        print(f"FAILED {event.step_key}: {message}", file=sys.stderr)
    summary()
    checks = result.get_asset_check_evaluations()
    failed = [c for c in checks if not c.passed]
    print(f"\nAsset checks: {len(checks) - len(failed)} passed, {len(failed)} failed")
    for check in failed:
        key = check.asset_check_key
        print(f"  FAILED {key.asset_key.to_user_string()} {key.name} ({check.severity.value})")
    if not result.success:
        print(f"run {result.run_id} did not succeed: see the messages above", file=sys.stderr)
        return 1
    print(f"run {result.run_id} succeeded")
    return 0


def _warehouse() -> Warehouse:
    return Warehouse(settings.warehouse_url())


def summary() -> int:
    """Row counts of every table, and the infant mortality benchmark table."""
    wh = _warehouse()
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
    wh.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cov-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "refresh", help="materialise the whole graph (or one job) and summarise"
    )
    run.add_argument("--job", default="refresh_all", help="job to run (default: refresh_all)")
    commands.add_parser("summary", help="print the tables in the warehouse")
    args = parser.parse_args(argv)
    if args.command == "refresh":
        return refresh(args.job)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
