"""Rebuilding one month of the monthly marts (the run tag ``cov/months``), on DuckDB and on
PostgreSQL: after a month's records are corrected in the raw extracts, a run that rebuilds only
that month writes exactly the tables a full rebuild writes, reading only that month's staging
rows (the referral waiting list: that month and the later ones, which its referrals wait
across), and says so in each mart's metadata."""

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from assets.deprivation import imd_lsoa
from assets.maternity import MATERNITY_ASSETS
from assets.referrals import REFERRALS_ASSETS
from cov_pipeline.months import MONTHS_TAG, parse_months
from cov_pipeline.sample_data.deprivation import generate_deprivation
from cov_pipeline.settings import PROJECT_ROOT
from cov_pipeline.warehouse import Warehouse, scratch_database
from tests.conftest import POSTGRES_ENV, ensure_analyst_role, postgres_url
from tests.integration.test_one_writer import CLI, CLI_TIMEOUT_S, _env, _home
from tests.integration.test_same_tables import differences, fingerprints
from tests.pipeline import materialize_on

MONTH = "2024-06"
MONTHLY_MARTS = ["late_bookings", "premature_deliveries", "referral_trends", "referral_waiting"]
SAMPLE = PROJECT_ROOT / "data" / "raw"


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    """The maternity extracts (not MSDS), the referral extracts and the IMD lookup."""
    target = tmp_path / "raw"
    (target / "maternity").mkdir(parents=True)
    for pattern in ("bookings*.csv", "births*.csv", "terminations*.csv"):
        for path in (SAMPLE / "maternity").glob(pattern):
            shutil.copy(path, target / "maternity" / path.name)
    shutil.copytree(SAMPLE / "referrals", target / "referrals")
    generate_deprivation(target, np.random.default_rng(0))
    return target


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_warehouses(request, tmp_path) -> Iterator[tuple[str, str]]:
    """Two empty warehouses of one backend: DuckDB always, PostgreSQL where configured."""
    if request.param == "duckdb":
        yield tuple(f"duckdb:///{tmp_path / f'{name}.duckdb'}" for name in ("a", "b"))
        return
    base = postgres_url()
    if base is None:
        pytest.skip(f"no PostgreSQL configured: set {POSTGRES_ENV} (the CI script sets it)")
    ensure_analyst_role(base)
    with ExitStack() as stack:
        yield tuple(stack.enter_context(scratch_database(base, "cov_test")) for _ in range(2))


def run(raw_dir: Path, url: str, months: str | None = None):
    assets = [imd_lsoa, *MATERNITY_ASSETS, *REFERRALS_ASSETS]
    result = materialize_on(assets, raw_dir, url, tags={MONTHS_TAG: months} if months else None)
    assert result.success
    return result


def correct_month(raw_dir: Path) -> None:
    """Correct records of June 2024 in the raw extracts: a third of the month's bookings and
    babies get another gestation, and its referrals (in the latest extract, which wins) another
    sex, which also moves them between cells of the later months' waiting lists."""
    edits = {
        "maternity/bookings_2024.csv": ("booking_date", "gestation_at_booking_days", "150"),
        "maternity/births_2024.csv": ("birth_date", "gestation_at_birth_days", "200"),
        "referrals/referrals_2026-11-01.csv": ("referral_date", "sex", None),
    }
    for name, (date, column, value) in edits.items():
        path = raw_dir / name
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        rows = frame.index[frame[date].str.startswith(MONTH)][::3]
        assert len(rows) > 3
        if value is None:  # swap 1 and 2
            frame.loc[rows, column] = frame.loc[rows, column].map({"1": "2", "2": "1"}).fillna("1")
        else:
            frame.loc[rows, column] = value
        frame.to_csv(path, index=False)


def metadata(result, mart: str) -> dict:
    event = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["marts", mart]
    )
    return {k: v.value for k, v in event.materialization.metadata.items()}


def late_bookings_and_june(url: str) -> tuple[pd.DataFrame, dict[str, int]]:
    wh = Warehouse(url)
    late_bookings = wh.read_table("marts", "late_bookings")
    counts = {
        column: wh.query(
            f"SELECT count(*) AS n FROM staging.{table} "
            f"WHERE {column} >= DATE '{MONTH}-01' AND {column} < DATE '2024-07-01'"
        )["n"].iloc[0]
        for table, column in (
            ("maternity_bookings", "booking_date"),
            ("referrals", "referral_date"),
        )
    }
    wh.dispose()
    return late_bookings, counts


def test_one_month_rebuilt_gives_the_full_rebuild(raw_dir, two_warehouses):
    by_month, full = two_warehouses
    run(raw_dir, by_month)
    before, _ = late_bookings_and_june(by_month)
    correct_month(raw_dir)

    result = run(raw_dir, by_month, MONTH)
    run(raw_dir, full)

    # the same tables, to the last figure, whichever way they were built
    assert differences(fingerprints(by_month), fingerprints(full)) == []
    after, in_month = late_bookings_and_june(by_month)
    # the correction moved June's counts and no other month's (SPC may move anywhere)
    counts = ["period_start", "breakdown", "breakdown_value", "bookings", "late_bookings"]
    month_rows = [t.query("period_type == 'month'")[counts] for t in (before, after)]
    moved = month_rows[0].merge(month_rows[1], how="outer", indicator=True)
    moved = moved[moved["_merge"] != "both"]
    assert set(moved["period_start"]) == {pd.Timestamp(f"{MONTH}-01")}

    # only the month was recomputed, from only its staging rows
    for mart in ("late_bookings", "premature_deliveries", "referral_trends"):
        assert metadata(result, mart)["months_rebuilt"] == MONTH
    assert metadata(result, "late_bookings")["staging_rows_read"] == in_month["booking_date"]
    assert metadata(result, "referral_trends")["staging_rows_read"] == in_month["referral_date"]
    waiting = metadata(result, "referral_waiting")
    assert waiting["months_rebuilt"].startswith(f"{MONTH}, 2024-07")
    assert "2024-05" not in waiting["months_rebuilt"]


def test_a_month_run_without_a_stored_mart_rebuilds_it_whole(raw_dir, duckdb_url):
    result = run(raw_dir, duckdb_url, MONTH)
    late = metadata(result, "late_bookings")
    assert late["months_rebuilt"] == "every month"
    assert "does not exist yet" in late["rebuilt_whole_because"]


def test_a_month_outside_the_mart_rebuilds_it_whole(raw_dir, duckdb_url):
    run(raw_dir, duckdb_url)
    result = run(raw_dir, duckdb_url, "2030-01")
    for mart in MONTHLY_MARTS:
        assert "outside the mart's months" in metadata(result, mart)["rebuilt_whole_because"]


def test_months_are_named_as_months_or_ranges():
    assert parse_months("2024-11:2025-01, 2024-06") == [
        pd.Timestamp(m) for m in ("2024-06", "2024-11", "2024-12", "2025-01")
    ]
    for bad in ("2024-13", "June", "2024-06:2024-01", "", "2024-06:2024-07:2024-08"):
        with pytest.raises(ValueError, match=MONTHS_TAG):
            parse_months(bad)


def test_the_command_rebuilds_a_month(raw_dir, duckdb_url, tmp_path):
    home = _home(tmp_path / "home")
    env = _env(home, duckdb_url, tmp_path, COV_RAW_DIR=str(raw_dir))

    def refresh(*args: str) -> str:
        done = subprocess.run(
            [str(CLI), "refresh", "--job", "referrals", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    refresh()
    correct_month(raw_dir)
    output = refresh("--month", MONTH)
    assert f"rebuilding the months {MONTH} of the monthly marts" in output
    with DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(AssetKey(["marts", "referral_trends"]))
        assert event.asset_materialization.metadata["months_rebuilt"].value == MONTH
        assert instance.get_run_by_id(event.run_id).tags[MONTHS_TAG] == MONTH


def test_the_command_refuses_a_month_it_cannot_read():
    done = subprocess.run(
        [str(CLI), "refresh", "--month", "2024-6"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "'2024-6' is not a month YYYY-MM" in done.stderr
