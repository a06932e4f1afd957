"""A staging step whose blocking checks fail writes nothing: staging, quarantine and marts stay
as the previous run left them, and the failed checks are reported with the reason."""

from __future__ import annotations

import pandas as pd

from cov_pipeline.definitions import ASSETS
from cov_pipeline.warehouse import Warehouse
from tests.pipeline import materialize_on


def run(raw_dir, url):
    return materialize_on(ASSETS, raw_dir, url)


def tables(url) -> dict[str, pd.DataFrame]:
    warehouse = Warehouse(url)
    try:
        return {
            f"{schema}.{name}": warehouse.read_table(schema, name)
            for schema in ("staging", "quality", "marts")
            for name in warehouse.list_tables(schema)
            if name != "run_log"
        }
    finally:
        warehouse.dispose()


def test_a_quarantine_above_the_ceiling_leaves_every_table_as_it_was(
    raw_dir, duckdb_url, monkeypatch
):
    assert run(raw_dir, duckdb_url).success
    before = tables(duckdb_url)
    bookings = raw_dir / "maternity" / "bookings_2024.csv"
    header, *records = bookings.read_text(encoding="utf-8").splitlines()
    # the year's booking dates written 2024/01/01: an eighth of all bookings, above the 5% ceiling
    damaged = [r.replace(",2024-", ",2024/", 1) for r in records]
    bookings.write_text("\n".join([header, *damaged]) + "\n", encoding="utf-8")

    result = run(raw_dir, duckdb_url)

    assert not result.success
    failure = next(
        e for e in result.all_events if e.is_step_failure and "maternity" in (e.step_key or "")
    )
    message = failure.step_failure_data.error.message
    assert "quarantine_share_within_ceiling" in message
    assert "Nothing was written" in message
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks[("staging/maternity_bookings", "quarantine_share_within_ceiling")] is False
    after = tables(duckdb_url)
    assert sorted(after) == sorted(before)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[name], obj=name)
