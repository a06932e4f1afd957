"""When things run: the nightly schedule and a sensor per raw folder that starts its source's job."""

import hashlib
import json
from datetime import timedelta

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    FreshnessPolicy,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from resources.raw_files import RawFilesResource

NIGHTLY_CRON = "0 2 * * *"
NIGHTLY_TIMEZONE = "Europe/London"
SENSOR_INTERVAL_SECONDS = 60

# Marts are due by 06:00 UK time with data materialised in the previous 24 hours: the nightly run
# at 02:00 leaves four hours for retries before a mart shows as overdue. Every mart asset uses it.
MARTS_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=24), timezone=NIGHTLY_TIMEZONE
)


def nightly_schedule(job_name: str) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="nightly_refresh",
        job_name=job_name,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=NIGHTLY_TIMEZONE,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Materialise everything at 02:00 UK time (GMT or BST).",
    )


def folder_state(raw_files: RawFilesResource, source: str) -> dict[str, list[int]]:
    """Name -> [size, mtime in ns] of every file in a source folder: what the cursor remembers."""
    state = {}
    for path in raw_files.files(source, "*"):
        stat = path.stat()
        state[path.name] = [stat.st_size, stat.st_mtime_ns]
    return state


def raw_folder_sensor(source: str, job_name: str) -> SensorDefinition:
    """Start ``job_name`` when a file in ``<raw>/<source>/`` is added, changed or removed.

    The cursor holds each file's name, size and modification time, so an unchanged folder never
    starts a run, and the run key makes a repeated evaluation of the same change start one run.
    The folder comes from the ``raw_files`` resource (``COV_RAW_DIR``), not from code.
    """

    @sensor(
        name=f"{source}_files",
        job_name=job_name,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Runs job {job_name!r} when a file in the raw folder {source}/ is added, "
        "changed or removed.",
    )
    def _sensor(context: SensorEvaluationContext, raw_files: RawFilesResource):
        folder = raw_files.source_dir(source)
        if not folder.is_dir():
            return SkipReason(f"raw folder {folder} does not exist")
        state = folder_state(raw_files, source)
        previous = json.loads(context.cursor) if context.cursor else {}
        changed = sorted(name for name, sig in state.items() if previous.get(name) != sig)
        removed = sorted(set(previous) - set(state))
        if not changed and not removed:
            return SkipReason(f"no new or changed files in {folder}")
        cursor = json.dumps(state, sort_keys=True)
        context.update_cursor(cursor)
        summary = ", ".join(changed + [f"{name} (removed)" for name in removed])
        context.log.info(f"{source}: {summary}")
        return RunRequest(
            run_key=f"{source}-{hashlib.sha256(cursor.encode()).hexdigest()[:16]}",
            tags={"cov/source": source, "cov/changed_files": summary[:1000]},
        )

    return _sensor
