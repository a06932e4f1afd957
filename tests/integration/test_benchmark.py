"""The benchmark command runs end to end at a tiny scale and reports every step (no timings are
asserted: speed is read from the command's output, never from tests)."""

from __future__ import annotations

import json
import tempfile

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
    assert len(checks) == 11
    assert figures["floor_seconds"] > 0 and figures["input_rows"] > 10_000
    assert figures["check_seconds"] > 0
    assert figures["materialise_seconds"] + figures["check_seconds"] <= figures["refresh_seconds"]
    assert figures["peak_rss_mb"] > 0
    printed = capsys.readouterr().out
    assert "ratio full refresh / floor" in printed
    assert list(scratch.iterdir()) == []  # inputs, warehouse and Dagster home removed
