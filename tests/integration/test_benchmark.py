"""The benchmark command runs end to end at a tiny scale and reports every step (no timings are
asserted: speed is read from the command's output, never from tests)."""

from __future__ import annotations

import json
import tempfile

from assets.expectations import GX_CHECKS
from cov_pipeline import benchmark


def test_the_benchmark_reports_every_step_and_the_floor(tmp_path, capsys, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "bench.json"
    assert benchmark.main(["--scale", "0.005", "--json", str(out)]) == 0
    (figures,) = json.loads(out.read_text())
    steps = {s["step"]: s for s in figures["steps"]}
    # every staging step and mart of the nightly job, and the Great Expectations checks
    for step in ("fingertips_staging", "maternity_staging", "referrals_staging",
                 "household_survey_staging", "marts__late_bookings", "exports__analyst_exports"):  # fmt: skip
        assert steps[step]["seconds"] > 0, step
    assert steps["fingertips_staging"]["rows"] > 5_000  # the national exports, scaled
    checks = [s for s in steps if benchmark.is_check(s)]
    assert len(checks) == len(GX_CHECKS) == 21  # 11 marts and 10 published tables
    assert figures["floor_seconds"] > 0 and figures["input_rows"] > 10_000
    assert figures["check_seconds"] > 0
    assert figures["materialise_seconds"] + figures["check_seconds"] <= figures["refresh_seconds"]
    assert figures["peak_rss_mb"] > 0
    printed = capsys.readouterr().out
    assert "ratio full refresh / floor" in printed
    assert list(scratch.iterdir()) == []  # inputs, warehouse and Dagster home removed


def _figures(refresh: float, floor: float, peak: float) -> benchmark.ScaleFigures:
    return benchmark.ScaleFigures(
        scale=1.0, input_files=1, input_mb=1.0, input_rows=100, generate_seconds=1.0,
        refresh_seconds=refresh, materialise_seconds=refresh - 1, check_seconds=0.5,
        floor_seconds=floor, ratio_to_floor=round(refresh / floor, 2), peak_rss_mb=peak,
        steps=[benchmark.StepFigure("fingertips_staging", refresh - 1, 100, 1.0, peak)],
    )  # fmt: skip


def test_repeated_runs_report_the_median_run_and_the_range():
    runs = [_figures(39.8, 6.9, 1773), _figures(30.0, 6.0, 1953), _figures(32.0, 6.4, 1800)]
    median = benchmark.median_run(runs)
    # sorted by full refresh: 30.0, 32.0, 39.8 -> the middle run, whole (its own floor and steps)
    assert (median.refresh_seconds, median.floor_seconds, median.ratio_to_floor) == (32.0, 6.4, 5.0)
    assert median.steps[0].seconds == 31.0
    assert [r["refresh_seconds"] for r in median.runs] == [39.8, 30.0, 32.0]
    line = benchmark.spread_line(median)
    assert "full refresh 32.00 s (30.00-39.80)" in line and "floor 6.40 s (6.00-6.90)" in line
    assert "peak RSS 1,800.00 MB (1,773.00-1,953.00)" in line
    # an even count takes the lower of the middle two
    assert benchmark.median_run(runs[:2]).refresh_seconds == 30.0


def test_repeat_must_be_at_least_one(capsys):
    import pytest

    with pytest.raises(SystemExit):
        benchmark.main(["--scale", "0.005", "--repeat", "0"])
    assert "--repeat must be at least 1" in capsys.readouterr().err


def test_the_benchmark_runs_into_a_scratch_postgresql_database_and_drops_it(tmp_path, monkeypatch):
    import pytest
    import sqlalchemy as sa

    from tests.conftest import POSTGRES_ENV, ensure_analyst_role, postgres_url

    server = postgres_url()
    if server is None:
        pytest.skip(f"no PostgreSQL configured: set {POSTGRES_ENV} (the CI script sets it)")
    ensure_analyst_role(server)  # the run grants it the marts, and refuses to write without it
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "bench.json"
    assert benchmark.main(["--scale", "0.005", "--postgres", server, "--json", str(out)]) == 0
    (figures,) = json.loads(out.read_text())
    assert figures["warehouse"] == "postgresql"
    steps = {s["step"]: s for s in figures["steps"]}
    assert steps["fingertips_staging"]["rows"] > 5_000 and steps["marts__late_bookings"]["rows"] > 0
    engine = sa.create_engine(server, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT datname FROM pg_database WHERE starts_with(datname, 'cov_bench')"
        ).all()
    engine.dispose()
    assert left == []  # the scratch database is dropped
