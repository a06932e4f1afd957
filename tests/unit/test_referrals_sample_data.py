"""The synthetic referral extracts, read as plain text here (independent of the pipeline's loader):
rising demand, consistent dates apart from the planted faults, a later extract that repeats and
updates referrals, and a waiting list that appears and grows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cov_pipeline.sample_data import DEFAULT_SEED, source_rng
from cov_pipeline.sample_data.deprivation import synthetic_imd_lookup
from cov_pipeline.sample_data.referrals import BENCHMARK_FILE, HEADER, generate_referrals

FIRST, SECOND = "referrals_2024-04-01.csv", "referrals_2026-11-01.csv"
# (file, line) of the rows the generator breaks on purpose (data/raw/README.md lists them)
PLANTED = {
    (FIRST, 1459), (FIRST, 1618), (FIRST, 2090), (FIRST, 2303),
    (SECOND, 293), (SECOND, 913), (SECOND, 1274), (SECOND, 1346), (SECOND, 1794),
    (SECOND, 1883), (SECOND, 2369), (SECOND, 2371),
}  # fmt: skip


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("raw")
    paths = generate_referrals(out, source_rng(DEFAULT_SEED, "referrals"))
    assert [p.name for p in paths] == [FIRST, SECOND]
    return out / "referrals"


def read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame.assign(file=path.name, line=range(2, len(frame) + 2))


@pytest.fixture(scope="module")
def rows(sample) -> pd.DataFrame:
    both = pd.concat([read(sample / FIRST), read(sample / SECOND)], ignore_index=True)
    planted = pd.Series(list(zip(both["file"], both["line"], strict=True))).isin(PLANTED)
    return both.assign(planted=planted.to_numpy())


def test_two_extracts_in_the_case_system_layout(sample):
    for name in (FIRST, SECOND):
        text = (sample / name).read_text(encoding="utf-8")
        assert text.splitlines()[0] == ",".join(HEADER)
        assert "\r" not in text and text.endswith("\n")


def test_dates_ages_and_codes_are_consistent_apart_from_the_planted_faults(rows):
    good = rows[~rows["planted"]]
    referred = pd.to_datetime(good["referral_date"])
    contact = pd.to_datetime(good["first_contact_date"].replace("", None))
    discharge = pd.to_datetime(good["discharge_date"].replace("", None))
    taken = pd.to_datetime(good["file"].str[10:20])
    assert (referred >= "2018-01-01").all() and (referred < taken).all()
    assert (contact.isna() | (contact >= referred)).all()
    assert (discharge.isna() | (discharge >= contact.fillna(referred))).all()
    assert (contact.isna() | (contact < taken)).all() and (
        discharge.isna() | (discharge < taken)
    ).all()
    assert good["age"].astype(int).between(10, 24).all()
    # some still open: waiting, or seen and not yet discharged
    assert (contact.isna() & discharge.isna()).sum() > 100
    assert (contact.notna() & discharge.isna()).sum() > 100
    lookup = set(synthetic_imd_lookup(None)["lsoa_code"])
    in_lookup = good["lsoa_code"].isin(lookup)
    assert 0.95 < in_lookup.mean() < 0.99  # the rest blank or over the border
    assert set(good["presenting_need"]) == {"SM", "RSH", "HH", "EXP", "YJ"}
    assert len(set(good["referral_source"])) == 10


def test_a_few_thousand_referrals_rising_every_year(rows):
    latest = rows.drop_duplicates("referral_id", keep="last")
    assert 3_000 <= len(latest) <= 6_000
    per_year = latest.groupby(latest["referral_date"].str[:4]).size()
    full_years = per_year.loc["2018":"2025"]
    assert full_years.is_monotonic_increasing and full_years.iloc[-1] > 2 * full_years.iloc[0]
    # the planted rise: September 2025 to October 2026 against the same months a year earlier
    month = latest["referral_date"].str[:7]
    after = month.between("2025-09", "2026-08").sum()
    before = month.between("2024-09", "2025-08").sum()
    assert after > 1.25 * before


def test_the_later_extract_repeats_referrals_with_changed_fields(rows):
    first = rows[rows["file"] == FIRST].drop_duplicates("referral_id").set_index("referral_id")
    second = rows[rows["file"] == SECOND].drop_duplicates("referral_id").set_index("referral_id")
    both = first.index.intersection(second.index)
    assert 400 <= len(both) <= 700
    columns = [c for c in HEADER if c != "referral_id"]
    changed = (first.loc[both, columns] != second.loc[both, columns]).any(axis=1)
    assert changed.sum() > 150
    # what changes is mostly the contact and discharge the first extract could not yet know
    newly_discharged = (first.loc[both, "discharge_date"] == "") & (
        second.loc[both, "discharge_date"] != ""
    )
    assert newly_discharged.sum() > 150


def test_a_waiting_list_appears_once_demand_outruns_capacity(rows):
    latest = rows[~rows["planted"]].drop_duplicates("referral_id", keep="last")
    referred = pd.to_datetime(latest["referral_date"])
    contact = pd.to_datetime(latest["first_contact_date"].replace("", None))
    discharge = pd.to_datetime(latest["discharge_date"].replace("", None))

    def waiting(day: str) -> int:
        end = pd.Timestamp(day)
        return int(((referred <= end) & ~(contact <= end) & ~(discharge <= end)).sum())

    assert waiting("2020-12-31") < 30 and waiting("2022-12-31") < 30
    assert waiting("2024-12-31") < waiting("2025-12-31") < waiting("2026-10-31")
    assert waiting("2026-10-31") > 200


def test_benchmark_profile_adds_volume_with_its_own_ids(tmp_path):
    paths = generate_referrals(
        tmp_path, source_rng(DEFAULT_SEED, "referrals"), scale=0.002, profile="benchmark"
    )
    assert [p.name for p in paths] == [FIRST, SECOND, BENCHMARK_FILE]
    extra = read(paths[-1])
    assert 300 <= len(extra) <= 500  # about 0.002 × 200,000
    assert extra["referral_id"].str.startswith("YB").all() and extra["referral_id"].is_unique
