"""One writer at a time: the warehouse lock a run takes before its first step and holds to its end.

Runs reach the warehouse through several doors (the UI, the daemon's sensors and schedule,
``cov-pipeline refresh``, ``dagster dev`` on a throwaway instance, ``dagster job execute``), and
not all of them share one Dagster instance, hence one run queue. The lock lives beside the
warehouse instead, so every run of this code location that writes it takes the same lock
whatever started it and whichever instance records it:

- DuckDB: an exclusive ``flock`` on ``<warehouse file>.lock`` beside the database file. The
  file names the holder (run, job, process, since when) for the waiting run's message.
- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) in the warehouse
  database, held by a connection whose ``application_name`` names the holder.

Either way the operating system or the server releases the lock when its process dies, so a
killed run never leaves the warehouse locked. A run that finds the lock taken waits, saying
which run holds it, and gives up after ``COV_WAREHOUSE_WAIT_SECONDS`` with one message (nothing
written). Free of Dagster: the executor (``cov_pipeline/one_writer.py``) and the command line use it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cov_pipeline.warehouse import ADVISORY_CLASS, ADVISORY_WRITER, Warehouse, WarehouseError

# PostgreSQL keeps 63 bytes of application_name.
_APPLICATION_NAME_BYTES = 63
_APPLICATION_PREFIX = "cov-pipeline: "
# How often a waiting run looks again, and how often it repeats that it is still waiting.
POLL_SECONDS = 1.0
REMIND_SECONDS = 60.0


class WarehouseBusy(WarehouseError):
    """The warehouse stayed held by another run for longer than the wait allowed."""


def holder_description(run_id: str, job_name: str) -> str:
    """How a run names itself as the lock's holder: the short run id the UI shows, and the job."""
    return f"run {run_id[:8]} ({job_name})"


class WarehouseLock:
    """The one-writer lock of the warehouse named by ``url`` (a no-op for in-memory DuckDB).

    :meth:`acquire` waits for it, :meth:`release` lets it go; :meth:`hold` does both around a
    block. One object holds the lock once at a time.
    """

    def __init__(self, url: str):
        self.url = url
        self.warehouse = Warehouse(url)
        self._handle = None  # DuckDB: the open lock file
        self._engine_held: sa.Engine | None = None  # PostgreSQL: the session holding the lock
        self._conn = None

    @property
    def lock_path(self) -> Path | None:
        """DuckDB: the file whose ``flock`` is the lock (``cov_pipeline.duckdb.lock``)."""
        path = self.warehouse.duckdb_path
        return None if path is None else path.with_name(path.name + ".lock")

    def acquire(
        self, holder: str, timeout_s: float, poll_s: float = POLL_SECONDS
    ) -> Iterator[str | None]:
        """Take the lock for ``holder``, waiting up to ``timeout_s``; a generator.

        While the lock is taken it yields, every ``poll_s``, either a message to pass on
        ("waiting for run 1a2b3c4d (refresh_all) ... that holds the warehouse ...": when the wait
        starts, when the holder changes, and every minute) or None, so the caller can give up
        between polls (a run being cancelled). When the generator ends the lock is held; it
        raises :class:`WarehouseBusy` when the time is up.
        """
        if self.warehouse.backend == "postgresql":
            try_acquire, who = self._open_postgres(holder)
        elif self.lock_path is not None:
            try_acquire, who = self._open_duckdb()
        else:  # an in-memory database is private to its process
            return
        try:
            if try_acquire():
                self._mark_held(holder)
                return
            started = time.monotonic()
            deadline = started + timeout_s
            told, told_at = None, started
            while True:
                current = who() or "another run"
                now = time.monotonic()
                message = None
                if current != told or now - told_at >= REMIND_SECONDS:
                    waited = "" if told is None else f" (waited {now - started:.0f} s)"
                    message = (
                        f"waiting for {current} that holds the warehouse "
                        f"{self.warehouse.display_name}{waited}; giving up after "
                        f"{timeout_s:.0f} s (COV_WAREHOUSE_WAIT_SECONDS)"
                    )
                    told, told_at = current, now
                if now >= deadline:
                    raise WarehouseBusy(
                        f"the warehouse {self.warehouse.display_name} is still held by {current} "
                        f"after {timeout_s:.0f} s of waiting (COV_WAREHOUSE_WAIT_SECONDS): "
                        "nothing was written; run again when it has finished"
                    )
                yield message
                time.sleep(min(poll_s, max(deadline - time.monotonic(), 0.0)))
                if try_acquire():
                    self._mark_held(holder)
                    return
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Let the lock go (and close what :meth:`acquire` opened, held or not)."""
        if self._handle is not None:
            import fcntl

            handle, self._handle = self._handle, None
            try:
                handle.seek(0)
                handle.truncate()
                handle.flush()
                fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                handle.close()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:  # the session is the lock's own: closing it would release the lock too
                conn.exec_driver_sql("SELECT pg_advisory_unlock_all()")
            finally:
                conn.close()
        if self._engine_held is not None:
            self._engine_held.dispose()
            self._engine_held = None

    @contextmanager
    def hold(
        self, holder: str, timeout_s: float, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        """Hold the lock inside the block; ``on_wait`` hears the waiting messages."""
        for message in self.acquire(holder, timeout_s):
            if message and on_wait is not None:
                on_wait(message)
        try:
            yield
        finally:
            self.release()

    def current_holder(self) -> str | None:
        """Who holds the lock now (as they named themselves), or None when it is free."""
        if self.warehouse.backend == "postgresql":
            engine = _engine(self.url, "lock probe")
            try:
                with engine.connect() as conn:
                    return _postgres_holder(conn)
            finally:
                engine.dispose()
        path = self.lock_path
        if path is None or not path.exists():
            return None
        import fcntl

        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(path)
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None

    # -- DuckDB: flock on a file beside the database --------------------------------------------
    def _open_duckdb(self):
        import fcntl

        path = self.lock_path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = handle = path.open("a+")

        def try_acquire() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        return try_acquire, lambda: _read_holder(path)

    # -- PostgreSQL: a session advisory lock in the warehouse database ---------------------------
    def _open_postgres(self, holder: str):
        self._engine_held = _engine(self.url, holder)
        self._conn = conn = self._engine_held.connect()

        def try_acquire() -> bool:
            return bool(
                conn.exec_driver_sql(
                    "SELECT pg_try_advisory_lock(%s, %s)", (ADVISORY_CLASS, ADVISORY_WRITER)
                ).scalar()
            )

        return try_acquire, lambda: _postgres_holder(conn)

    def _mark_held(self, holder: str) -> None:
        """DuckDB: write who holds the lock into the lock file, for those who wait."""
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.write(json.dumps(_holder_record(holder)))
            self._handle.flush()


def _engine(url: str, holder: str) -> sa.Engine:
    """A PostgreSQL engine whose sessions are named after the holder (``application_name``)."""
    url = make_url(url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = (_APPLICATION_PREFIX + holder).encode()[:_APPLICATION_NAME_BYTES]
    return sa.create_engine(
        url,
        poolclass=sa.pool.NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"application_name": name.decode(errors="ignore")},
    )


def _postgres_holder(conn) -> str | None:
    """The holder of the advisory lock in this database, from its session's application_name."""
    row = conn.exec_driver_sql(
        "SELECT a.application_name, a.backend_start FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
        "AND l.objsubid = 2 "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (ADVISORY_CLASS, ADVISORY_WRITER),
    ).first()
    if row is None:
        return None
    name = str(row[0] or "another session")
    name = name.removeprefix(_APPLICATION_PREFIX)
    return f"{name} [PostgreSQL session since {row[1]:%Y-%m-%dT%H:%M:%S%z}]"


def _holder_record(holder: str) -> dict:
    return {
        "holder": holder,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def _read_holder(path: Path) -> str | None:
    """The holder named in a DuckDB lock file, with its process and start time."""
    try:
        record = json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or "holder" not in record:
        return None
    return (
        f"{record['holder']} [pid {record.get('pid')} on {record.get('host')}, "
        f"since {record.get('since')}]"
    )
