"""The nightly schedule and the raw-folder sensors, through Dagster's own evaluation contexts."""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

from dagster import build_schedule_context, build_sensor_context

from cov_pipeline.definitions import defs
from resources.raw_files import RawFilesResource


def evaluate(sensor_name: str, raw_dir, cursor=None):
    sensor = defs.resolve_sensor_def(sensor_name)
    context = build_sensor_context(
        cursor=cursor, resources={"raw_files": RawFilesResource(raw_dir=str(raw_dir))}
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


def test_sensor_runs_on_new_files_and_skips_unchanged_ones(tmp_path):
    folder = tmp_path / "fingertips"
    folder.mkdir()
    (folder / "a.csv").write_text("x")

    first = evaluate("fingertips_files", tmp_path)
    assert len(first.run_requests) == 1
    assert first.run_requests[0].job_name in (None, "fingertips")
    assert first.run_requests[0].tags["cov/changed_files"] == "a.csv"

    unchanged = evaluate("fingertips_files", tmp_path, first.cursor)
    assert unchanged.run_requests == []
    assert unchanged.skip_message == f"no new or changed files in {folder}"

    (folder / "b.csv").write_text("y")
    added = evaluate("fingertips_files", tmp_path, first.cursor)
    assert added.run_requests[0].tags["cov/changed_files"] == "b.csv"

    (folder / "a.csv").write_text("changed")
    changed = evaluate("fingertips_files", tmp_path, added.cursor)
    assert changed.run_requests[0].tags["cov/changed_files"] == "a.csv"

    # the same content rewritten with a new modification time counts as a change too
    stat = (folder / "b.csv").stat()
    os.utime(folder / "b.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    touched = evaluate("fingertips_files", tmp_path, changed.cursor)
    assert touched.run_requests[0].tags["cov/changed_files"] == "b.csv"

    (folder / "a.csv").unlink()
    removed = evaluate("fingertips_files", tmp_path, touched.cursor)
    assert removed.run_requests[0].tags["cov/changed_files"] == "a.csv (removed)"


def test_each_change_gets_its_own_run_key(tmp_path):
    folder = tmp_path / "fingertips"
    folder.mkdir()
    (folder / "a.csv").write_text("x")
    first = evaluate("fingertips_files", tmp_path)
    (folder / "a.csv").write_text("xx")
    second = evaluate("fingertips_files", tmp_path, first.cursor)
    assert first.run_requests[0].run_key != second.run_requests[0].run_key


def test_sensor_skips_a_missing_folder_with_the_reason(tmp_path):
    result = evaluate("reference_files", tmp_path)
    assert result.run_requests == []
    assert result.skip_message == f"raw folder {tmp_path / 'reference'} does not exist"


def test_reference_changes_refresh_everything():
    assert defs.resolve_sensor_def("reference_files").job_name == "refresh_all"
    assert defs.resolve_sensor_def("fingertips_files").job_name == "fingertips"
