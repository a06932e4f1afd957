"""The synthetic household survey waves: published good-health figures, distinct layouts, weights.

The headline check reads the raw files directly (codes taken from the layouts, arithmetic here),
independent of the pipeline's harmonisation and estimation code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.household_survey import load_codebook
from cov_pipeline.sample_data import DEFAULT_SEED, source_rng
from cov_pipeline.sample_data.household_survey import (
    BENCHMARK_FILE,
    generate_household_survey,
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("raw")
    generate_household_survey(out, source_rng(DEFAULT_SEED, "household_survey"))
    return out / "household_survey"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# wave: file, id column, weight column, health column, codes for good/very good, no-answer codes
WAVES = {
    2018: ("household_survey_2018.csv", "resp_id", "wt_final", "genhealth", {"1", "2"}, {"-9", "-8"}),
    2021: ("household_survey_2021.csv", "ID", "Weight", "GenHealth", {"VG", "G"}, {"99"}),
    2024: ("household_survey_2024.csv", "respondent", "design_weight", "q_health", {"5", "4"}, {""}),
}  # fmt: skip


def weighted_good_health(sample: Path, year: int) -> float:
    name, rid, weight, health, good, no_answer = WAVES[year]
    rows = read(sample / name).drop_duplicates()  # the 2021 file repeats one record
    rows = rows[(rows[weight] != "") & ~rows[health].isin(no_answer)]
    w = rows[weight].astype(float)
    return float((w * rows[health].isin(good)).sum() / w.sum())


def test_good_health_reproduces_the_published_78_and_73_percent(sample):
    assert round(100 * weighted_good_health(sample, 2018)) == 78
    assert round(100 * weighted_good_health(sample, 2021)) == 73
    assert 70 <= 100 * weighted_good_health(sample, 2024) <= 78


def test_three_waves_of_about_2000_in_different_layouts(sample):
    headers = {}
    for year, (name, rid, weight, *_) in WAVES.items():
        rows = read(sample / name)
        assert 2_000 <= len(rows) <= 2_002
        assert rows[rid].nunique() == 2_000 + (year == 2024)
        headers[year] = tuple(rows.columns)
        assert weight in rows.columns
    assert len({frozenset(h) for h in headers.values()}) == 3
    for a, b in ((2018, 2021), (2021, 2024), (2018, 2024)):
        assert not set(headers[a]) & set(headers[b]), (a, b)
    raw_2021 = (sample / "household_survey_2021.csv").read_bytes()
    assert raw_2021.count(b"\r\n") == 2_002  # header + 2,000 + the repeated record


def test_the_codebook_describes_every_wave_file(sample):
    codebook = load_codebook(sample / "codebook.yaml")
    assert sorted(codebook.waves) == [2018, 2021, 2024]
    for year, (name, *_) in WAVES.items():
        wave = codebook.wave_for(sample / name)
        assert wave.year == year
        assert set(read(sample / name).columns) == set(wave.known_columns)


def test_weights_are_quota_like_and_correct_the_sex_balance(sample):
    name, _, weight, *_ = WAVES[2018]
    rows = read(sample / name)
    w = rows[weight].astype(float)
    assert (w > 0).all()
    assert w.mean() == pytest.approx(1.0, abs=0.01)
    assert w.min() < 0.8 and w.max() > 1.5
    male = rows["sex"] == "1"
    assert male.mean() < 0.47  # men under-represented among respondents
    assert (w * male).sum() / w.sum() == pytest.approx(0.495, abs=0.01)  # weighted back


def test_the_deliberate_row_faults(sample):
    rows_2021 = read(sample / "household_survey_2021.csv")
    repeated = rows_2021[rows_2021.duplicated(keep=False)]
    assert len(repeated) == 2 and repeated.index.tolist() == [137, 138]  # lines 139 and 140
    rows_2024 = read(sample / "household_survey_2024.csv")
    assert (rows_2024["design_weight"] == "").sum() == 1
    assert rows_2024["design_weight"].iloc[-1] == ""


def test_benchmark_profile_adds_2024_volume_and_keeps_the_sample(sample, tmp_path):
    paths = generate_household_survey(
        tmp_path, source_rng(DEFAULT_SEED, "household_survey"), scale=0.01, profile="benchmark"
    )
    names = [p.name for p in paths]
    assert names[-1] == BENCHMARK_FILE
    for path in paths[:-1]:
        assert path.read_bytes() == (sample / path.name).read_bytes()
    volume = read(paths[-1])
    assert len(volume) == 1_000
    assert tuple(volume.columns) == tuple(read(sample / "household_survey_2024.csv").columns)
    assert volume["respondent"].str.startswith("R24-B").all() and volume["respondent"].is_unique
    codebook = load_codebook(paths[0])
    assert codebook.wave_for(paths[-1]).year == 2024
    assert np.isfinite(volume["design_weight"].astype(float)).all()
    with pytest.raises(ValueError, match="unknown profile"):
        generate_household_survey(tmp_path, np.random.default_rng(1), profile="huge")
