"""The synthetic maternity extracts: the business plan's headline figures, higher risks in the
target groups, survival unknown for recent births, and the benchmark volume."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.maternity import (
    BIRTHS_PATTERN,
    BOOKINGS_PATTERN,
    TERMINATIONS_PATTERN,
    load_maternity,
    mother_breakdowns,
)
from cov_pipeline.sample_data import DEFAULT_SEED, source_rng
from cov_pipeline.sample_data.deprivation import synthetic_imd_lookup
from cov_pipeline.sample_data.maternity import generate_maternity

REPO_MATERNITY = Path(__file__).resolve().parents[2] / "data" / "raw" / "maternity"


@pytest.fixture(scope="module")
def sample():
    """The committed extracts as staged (the drift test proves they are the generator's)."""
    imd = synthetic_imd_lookup(np.random.default_rng(0))
    load = load_maternity(
        sorted(REPO_MATERNITY.glob(BOOKINGS_PATTERN)),
        sorted(REPO_MATERNITY.glob(BIRTHS_PATTERN)),
        sorted(REPO_MATERNITY.glob(TERMINATIONS_PATTERN)),
        imd,
        as_of=dt.date(2026, 11, 22),
    )
    return load, imd


def test_headline_figures(sample):
    load, imd = sample
    births, bookings = load.births.staging, load.bookings.staging
    per_year = births.groupby(births["birth_date"].dt.year).size()
    assert per_year.index.tolist() == list(range(2019, 2026))
    assert per_year.between(4_250, 4_750).all(), per_year.to_dict()
    assert 4_450 <= per_year.mean() <= 4_600
    late = (bookings["gestation_at_booking_days"] >= 91).mean()
    assert 0.11 <= late <= 0.13
    gestation = births["gestation_at_birth_days"]
    assert 0.075 <= (gestation < 259).mean() <= 0.09
    assert 0.008 <= (gestation < 196).mean() <= 0.012
    groups = mother_breakdowns(births, imd)["deprivation_group"]
    known = groups != "Not known"
    assert 0.45 <= (groups[known] == "Most deprived 30% (deciles 1-3)").mean() <= 0.49
    assert set(load.terminations.staging["year"]) == set(range(2019, 2025))


def test_target_groups_book_later_and_give_birth_earlier(sample):
    load, imd = sample
    bookings, births = load.bookings.staging, load.births.staging
    late = (bookings["gestation_at_booking_days"] >= 91).rename("late")
    preterm = (births["gestation_at_birth_days"] < 259).rename("preterm")
    b_groups, c_groups = mother_breakdowns(bookings, imd), mother_breakdowns(births, imd)
    for breakdown, target, rest in (
        ("deprivation_group", "Most deprived 30% (deciles 1-3)", "Other 70% (deciles 4-10)"),
        ("ethnic_minority", "Ethnic minority (all but White British)", "White British"),
        ("nrpf", "No recourse to public funds", "Recourse to public funds"),
    ):
        late_by = late.groupby(b_groups[breakdown]).mean()
        preterm_by = preterm.groupby(c_groups[breakdown]).mean()
        assert late_by[target] > late_by[rest] * 1.2, breakdown
        assert preterm_by[target] > preterm_by[rest], breakdown


def test_survival_is_unknown_for_recent_births(sample):
    load, _ = sample
    live = load.births.staging[load.births.staging["birth_outcome"] == "live"]
    known = live["survived_1_year"].notna().groupby(live["birth_date"].dt.year).mean()
    assert known[2019] > 0.95 and known[2025] < 0.1
    late_2025 = live[live["birth_date"] > "2026-01-03"]
    assert late_2025.empty or late_2025["survived_28_days"].isna().all()
    preterm = live[live["gestation_at_birth_days"] < 259]
    assert 0.4 <= preterm["neonatal_unit_admission"].mean() <= 0.6
    stillbirths = load.births.staging[load.births.staging["birth_outcome"] == "stillbirth"]
    assert stillbirths[["neonatal_unit_admission", "survived_28_days"]].isna().all().all()


def test_benchmark_profile_adds_about_scale_million_records(tmp_path):
    sample_paths = generate_maternity(tmp_path / "a", source_rng(DEFAULT_SEED, "maternity"))
    paths = generate_maternity(
        tmp_path / "b", source_rng(DEFAULT_SEED, "maternity"), scale=0.01, profile="benchmark"
    )
    assert [p.name for p in paths[: len(sample_paths)]] == [p.name for p in sample_paths]
    for a, b in zip(sample_paths, paths, strict=False):
        assert a.read_bytes() == b.read_bytes(), a.name
    extra = {p.name: pd.read_csv(p, dtype=str) for p in paths[len(sample_paths) :]}
    assert set(extra) == {"bookings_benchmark.csv", "births_benchmark.csv"}
    total = sum(len(frame) for frame in extra.values())
    assert 8_500 <= total <= 11_500
    assert extra["bookings_benchmark.csv"]["booking_pseudo_id"].str.startswith("XB").all()
    assert extra["births_benchmark.csv"]["birth_pseudo_id"].str.startswith("XN").all()
