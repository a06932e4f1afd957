"""The nightly schedule and the raw-folder sensors, through Dagster's own evaluation contexts."""

from __future__ import annotations

import datetime as dt
import os
import time
from zoneinfo import ZoneInfo

import pytest
from dagster import DagsterInstance, build_schedule_context, build_sensor_context, materialize

from cov_pipeline.definitions import ASSETS, defs
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

SENSORS = ["fingertips", "reference", "household_survey", "maternity", "referrals"]


@pytest.fixture
def instance(tmp_path):
    """A Dagster instance of its own (a sensor's first evaluation reads its history)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


def evaluate(sensor_name: str, raw_dir, instance, cursor=None, settle_seconds=0):
    """One tick of a sensor, as the daemon evaluates it. Files written by a test are seconds old:
    no settling unless the test asks for it."""
    sensor = defs.resolve_sensor_def(sensor_name)
    raw_files = RawFilesResource(raw_dir=str(raw_dir), settle_seconds=settle_seconds)
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"raw_files": raw_files}, definitions=defs
    )
    return sensor.evaluate_tick(context)


def test_nightly_schedule_requests_the_full_refresh_at_two_uk_time():
    schedule = defs.resolve_schedule_def("nightly_refresh")
    # 02:00 in London is 01:00 UTC in summer (BST) and 02:00 UTC in winter (GMT)
    summer = dt.datetime(2026, 7, 1, 2, 0, tzinfo=ZoneInfo("Europe/London"))
    assert summer.astimezone(dt.UTC).hour == 1
    result = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=summer))
    assert len(result.run_requests) == 1
    assert schedule.job_name == "refresh_all"
    ticks = schedule.cron_schedule, schedule.execution_timezone
    assert ticks == ("0 2 * * *", "Europe/London")


def test_sensor_runs_on_new_files_and_skips_unchanged_ones(tmp_path, instance):
    folder = tmp_path / "fingertips"
    folder.mkdir()
    (folder / "a.csv").write_text("x")

    first = evaluate("fingertips_files", tmp_path, instance)
    assert len(first.run_requests) == 1
    assert first.run_requests[0].job_name in (None, "fingertips")
    assert first.run_requests[0].tags["cov/changed_files"] == "a.csv"

    unchanged = evaluate("fingertips_files", tmp_path, instance, first.cursor)
    assert unchanged.run_requests == []
    assert unchanged.skip_message == f"no new or changed files in {folder}"

    (folder / "b.csv").write_text("y")
    added = evaluate("fingertips_files", tmp_path, instance, first.cursor)
    assert added.run_requests[0].tags["cov/changed_files"] == "b.csv"

    (folder / "a.csv").write_text("changed")
    changed = evaluate("fingertips_files", tmp_path, instance, added.cursor)
    assert changed.run_requests[0].tags["cov/changed_files"] == "a.csv"

    # the same content rewritten with a new modification time counts as a change too
    stat = (folder / "b.csv").stat()
    os.utime(folder / "b.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    touched = evaluate("fingertips_files", tmp_path, instance, changed.cursor)
    assert touched.run_requests[0].tags["cov/changed_files"] == "b.csv"

    (folder / "a.csv").unlink()
    removed = evaluate("fingertips_files", tmp_path, instance, touched.cursor)
    assert removed.run_requests[0].tags["cov/changed_files"] == "a.csv (removed)"


def test_each_change_gets_its_own_run_key(tmp_path, instance):
    folder = tmp_path / "fingertips"
    folder.mkdir()
    (folder / "a.csv").write_text("x")
    first = evaluate("fingertips_files", tmp_path, instance)
    (folder / "a.csv").write_text("xx")
    second = evaluate("fingertips_files", tmp_path, instance, first.cursor)
    assert first.run_requests[0].run_key != second.run_requests[0].run_key


def test_sensor_skips_a_missing_folder_with_the_reason(tmp_path, instance):
    result = evaluate("reference_files", tmp_path, instance)
    assert result.run_requests == []
    assert result.skip_message == f"raw folder {tmp_path / 'reference'} does not exist"


def test_reference_changes_refresh_everything():
    assert defs.resolve_sensor_def("reference_files").job_name == "refresh_all"
    assert defs.resolve_sensor_def("fingertips_files").job_name == "fingertips"


def _staging_assets():
    """Every asset that reads the raw zone: the staging tables of every source and reference."""
    return [a for a in ASSETS if any(key.path[0] == "staging" for key in a.keys)]


def test_the_first_tick_after_a_refresh_starts_nothing_and_then_only_news(
    raw_dir, duckdb_url, instance
):
    result = materialize(
        _staging_assets(),
        resources={
            "warehouse": WarehouseResource(url=duckdb_url),
            "raw_files": RawFilesResource(raw_dir=str(raw_dir)),
            "settings": PipelineSettings(),
        },
        instance=instance,
    )
    assert result.success
    # the daemon's first tick: no cursor, every file already read (reference/areas.csv, read by
    # no asset, was there before the refresh)
    cursors = {}
    for source in SENSORS:
        first = evaluate(f"{source}_files", raw_dir, instance)
        assert first.run_requests == [], (source, first.run_requests)
        assert first.skip_message == f"no new or changed files in {raw_dir / source}"
        cursors[source] = first.cursor
        assert first.cursor  # later ticks compare sizes and times from here

    # news since the refresh, seen by a first tick too: a new extract, a changed file, a
    # removed one; an untouched folder stays quiet
    new = raw_dir / "referrals" / "referrals_2026-12-01.csv"
    new.write_bytes((raw_dir / "referrals" / "referrals_2026-11-01.csv").read_bytes())
    changed = raw_dir / "household_survey" / "household_survey_2024.csv"
    changed.write_text(changed.read_text() + "\n")
    (raw_dir / "maternity" / "births_2019.csv").unlink()
    expected = {
        "referrals": "referrals_2026-12-01.csv",
        "household_survey": "household_survey_2024.csv",
        "maternity": "births_2019.csv (removed)",
    }
    for source in SENSORS:
        for cursor in (None, cursors[source]):
            tick = evaluate(f"{source}_files", raw_dir, instance, cursor)
            changes = [r.tags["cov/changed_files"] for r in tick.run_requests]
            assert changes == ([expected[source]] if source in expected else []), (source, cursor)


def test_a_sensor_waits_for_a_new_file_to_settle(tmp_path, instance):
    folder = tmp_path / "fingertips"
    folder.mkdir()
    (folder / "a.csv").write_text("x")
    settling = evaluate("fingertips_files", tmp_path, instance, settle_seconds=1)
    assert settling.run_requests == []
    assert settling.skip_message.startswith(f"waiting for a.csv in {folder} to settle")
    assert settling.cursor is None  # nothing taken for read: the next tick looks again
    time.sleep(1.2)
    settled = evaluate("fingertips_files", tmp_path, instance, settle_seconds=1)
    assert [r.tags["cov/changed_files"] for r in settled.run_requests] == ["a.csv"]


def test_runs_the_sensors_request_together_queue_one_at_a_time(tmp_path):
    # the project's instance: a run queue started by the daemon, one run at a time, and run
    # monitoring that fails a run whose process died
    from cov_pipeline.run_health import MonitoredRunLauncher
    from cov_pipeline.settings import PROJECT_ROOT

    with DagsterInstance.from_config(str(PROJECT_ROOT / "dagster_home")) as project:
        coordinator = project.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert project.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert isinstance(project.run_launcher, MonitoredRunLauncher)
        assert project.run_monitoring_enabled
        assert project.run_monitoring_max_resume_run_attempts == 0
