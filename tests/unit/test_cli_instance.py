"""The command line opens a new Dagster home once, whoever comes first: two commands starting
together on a fresh home both created its storage and stamped its schema version twice, so every
later opening failed ("Version table 'alembic_version' has more than one head present")."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

from cov_pipeline.cli import _instance


def _open(home: str, barrier) -> None:
    os.environ["DAGSTER_HOME"] = home
    import dagster  # noqa: F401  (imported before the barrier: the openings start together)

    barrier.wait()
    with _instance(Path(home)):
        pass


def test_commands_opening_a_new_home_together_stamp_its_storage_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_DISABLE_TELEMETRY", "1")
    context = multiprocessing.get_context("fork")
    for attempt in range(3):  # without the lock, about one new home in two got two heads
        home = tmp_path / f"home_{attempt}"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        barrier = context.Barrier(4)
        processes = [context.Process(target=_open, args=(str(home), barrier)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
            assert process.exitcode == 0
        with sqlite3.connect(home / "history" / "runs.db") as db:
            heads = db.execute("SELECT COUNT(*) FROM alembic_version").fetchone()[0]
        assert heads == 1, f"attempt {attempt}: {heads} schema versions stamped"
