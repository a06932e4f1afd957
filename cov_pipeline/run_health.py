"""Dead runs are marked failed: which process runs each run, and whether it still lives.

A run whose process is killed (SIGKILL, a crash, a reboot) cannot report its own end, and
Dagster's local run launcher cannot tell a live run worker from a dead one, so such a run stayed
STARTED for ever. Every run of this code location records its worker (host, pid and the
process's start time, so a reused pid is not mistaken for it) in the run tag ``cov/worker``
before its first step (``cov_pipeline/one_writer.py``). Two things read it:

- :class:`MonitoredRunLauncher`, the project instance's run launcher: Dagster's local launcher
  that also answers the daemon's run monitoring (``run_monitoring`` in ``dagster.yaml``), so the
  daemon fails a run whose worker is gone within a poll interval;
- :func:`mark_dead_runs`, which ``cov-pipeline refresh`` calls at start-up, for instances no
  daemon watches.

A dead run is reported failed through the instance (``report_run_failed``) and the concurrency
pool slots it held are freed, so the next run is not kept waiting for them.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

WORKER_TAG = "cov/worker"
# A run may be recorded in these states while its worker lives.
UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks after boot (Linux ``/proc``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count after the last ")"
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass(frozen=True)
class Worker:
    """The process that runs a run: where, which pid, and when that process started."""

    host: str
    pid: int
    start: str = ""

    @classmethod
    def this_process(cls) -> Worker:
        return cls(socket.gethostname(), os.getpid(), _start_ticks(os.getpid()) or "")

    @classmethod
    def parse(cls, tag: str | None) -> Worker | None:
        try:
            host, pid, start = (tag or "").rsplit("/", 2)
            return cls(host, int(pid), start)
        except ValueError:
            return None

    def tag(self) -> str:
        return f"{self.host}/{self.pid}/{self.start}"

    def alive(self) -> bool | None:
        """True or False on this host; None where it cannot be told (another host)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, owned by someone else
            pass
        if not self.start:
            return True
        # the pid may have been reused by a process started since
        return _start_ticks(self.pid) == self.start


def worker_of(run: DagsterRun) -> Worker | None:
    return Worker.parse(run.tags.get(WORKER_TAG))


def dead_runs(instance: DagsterInstance) -> list[tuple[DagsterRun, Worker]]:
    """Unfinished runs whose recorded worker, on this host, is gone."""
    found = []
    for run in instance.get_runs(filters=RunsFilter(statuses=UNFINISHED)):
        worker = worker_of(run)
        if worker is not None and worker.alive() is False:
            found.append((run, worker))
    return found


def dead_run_message(worker: Worker) -> str:
    return (
        f"the run's process (pid {worker.pid} on {worker.host}) is gone: it was killed or "
        "crashed before it could report its end; tables it was replacing keep their previous "
        "content (every table is swapped in whole)"
    )


def mark_failed(instance: DagsterInstance, run: DagsterRun, message: str) -> None:
    """Report the run failed and free the pool slots its steps held."""
    instance.report_run_failed(run, message)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        storage.free_concurrency_slots_for_run(run.run_id)


def mark_dead_runs(instance: DagsterInstance) -> list[str]:
    """Fail every unfinished run whose process died; one line per run marked."""
    marked = []
    for run, worker in dead_runs(instance):
        mark_failed(instance, run, dead_run_message(worker))
        marked.append(f"run {run.run_id[:8]} ({run.job_name}): {dead_run_message(worker)}")
    return marked


class MonitoredRunLauncher(DefaultRunLauncher):
    """Dagster's default launcher (runs in processes started by the code server), able to say
    whether a run's worker still lives, so the daemon's run monitoring fails dead runs.

    Configured in ``dagster_home/dagster.yaml`` (``run_launcher``) with ``run_monitoring``.
    A run not yet tagged, or run on another host, counts as running: only a process known to
    be gone fails a run.
    """

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        worker = worker_of(run)
        if worker is not None and worker.alive() is False:
            return CheckRunHealthResult(WorkerStatus.FAILED, dead_run_message(worker))
        return CheckRunHealthResult(WorkerStatus.RUNNING)
