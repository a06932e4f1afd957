"""When things run: the nightly schedule and a sensor per raw folder that starts its source's job."""

import hashlib
import json
import time
from datetime import timedelta
from pathlib import Path

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


def _arrived(path: Path) -> float:
    """When a file last changed here: its modification time, or when it was copied or moved in
    (the inode change time), whichever is later; a copy that keeps its old mtime counts as new."""
    stat = path.stat()
    return max(stat.st_mtime, stat.st_ctime)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def last_read(context: SensorEvaluationContext, source: str) -> tuple[dict[str, str], float | None]:
    """What the source's assets last read: file name -> SHA-256 from the ``source_files``
    metadata of each staging table's latest materialisation, and when the oldest of those was
    recorded. No time when any of them has never been materialised in this instance: the folder
    has not been read whole yet."""
    graph = context.repository_def.asset_graph
    keys = [
        key
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == source and key.path[0] == "staging"
    ]
    read: dict[str, str] = {}
    times = []
    for key in keys:
        event = context.instance.get_latest_materialization_event(key)
        files = event and event.asset_materialization.metadata.get("source_files")
        if files is None:
            return {}, None
        read.update({f["name"]: f["sha256"] for f in files.value})
        times.append(event.timestamp)
    return read, (min(times) if times else None)


def news_since_last_read(
    context: SensorEvaluationContext, raw_files: RawFilesResource, source: str, names: list[str]
) -> tuple[list[str], list[str]]:
    """A sensor's first evaluation (no cursor yet): the files changed, added or removed since the
    source's tables were last built, so a daemon started after a refresh starts nothing.

    A file read then is news when its SHA-256 differs; a file not read then, when it arrived
    after that read (a file the source does not read, such as ``reference/areas.csv``, was there
    before and stays quiet). Never built in this instance: every file is news.
    """
    read, read_at = last_read(context, source)
    if read_at is None:
        return sorted(names), []
    folder = raw_files.source_dir(source)
    changed = []
    for name in sorted(names):
        path = folder / name
        if name in read:
            if _sha256(path) != read[name]:
                changed.append(name)
        elif _arrived(path) > read_at:
            changed.append(name)
    return changed, sorted(set(read) - set(names))


def raw_folder_sensor(source: str, job_name: str) -> SensorDefinition:
    """Start ``job_name`` when a file in ``<raw>/<source>/`` is added, changed or removed.

    The cursor holds each file's name, size and modification time, so an unchanged folder never
    starts a run, and the run key makes a repeated evaluation of the same change start one run.
    The first evaluation, with no cursor, starts from what the source's tables last read
    (:func:`news_since_last_read`), not from nothing. A file modified less than the raw files'
    ``settle_seconds`` ago (``COV_RAW_SETTLE_SECONDS``) may still be being copied: the sensor
    waits for the folder to settle, so a batch of files makes one run and no run reads half a
    file. Runs requested by sensors firing together wait in the instance's queue (one run at a
    time) and for the warehouse. The folder comes from the ``raw_files`` resource
    (``COV_RAW_DIR``), not from code.
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
        now = time.time()
        # the inode change time moves with every write and is the system clock's, never a
        # copied or future modification time
        settling = [
            name
            for name in sorted(state)
            if now - (folder / name).stat().st_ctime < raw_files.settle_seconds
        ]
        if settling:
            return SkipReason(
                f"waiting for {', '.join(settling)} in {folder} to settle "
                f"({raw_files.settle_seconds} s unmodified)"
            )
        if context.cursor:
            previous = json.loads(context.cursor)
            changed = sorted(name for name, sig in state.items() if previous.get(name) != sig)
            removed = sorted(set(previous) - set(state))
        else:
            changed, removed = news_since_last_read(context, raw_files, source, list(state))
        cursor = json.dumps(state, sort_keys=True)
        context.update_cursor(cursor)
        if not changed and not removed:
            return SkipReason(f"no new or changed files in {folder}")
        summary = ", ".join(changed + [f"{name} (removed)" for name in removed])
        context.log.info(f"{source}: {summary}")
        return RunRequest(
            run_key=f"{source}-{hashlib.sha256(cursor.encode()).hexdigest()[:16]}",
            tags={"cov/source": source, "cov/changed_files": summary[:1000]},
        )

    return _sensor
