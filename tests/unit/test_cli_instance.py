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


def test_the_ui_command_creates_a_new_homes_storage_before_dagster_dev_opens_it(
    tmp_path, monkeypatch
):
    # `cov-pipeline ui` started beside a refresh on a fresh home: dagster dev's processes open
    # the instance without the command line's lock, so the command creates the storage first
    from cov_pipeline import cli

    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    started = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: started.append(argv))
    cli.main(["ui", "-p", "3999"])
    (argv,) = started
    assert argv[1:3] == ["dev", "-w"] and argv[-2:] == ["-p", "3999"]
    with sqlite3.connect(home / "history" / "runs.db") as db:
        assert db.execute("SELECT COUNT(*) FROM alembic_version").fetchone()[0] == 1
