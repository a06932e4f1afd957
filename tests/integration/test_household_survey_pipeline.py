"""Household survey end to end through dagster.materialize, on DuckDB and on PostgreSQL."""

from __future__ import annotations

import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml

from assets.household_survey import (
    household_survey_change,
    household_survey_indicators,
    household_survey_staging,
)
from cov_pipeline.settings import PROJECT_ROOT
from cov_pipeline.warehouse import Warehouse
from tests.pipeline import failure_message, materialize_on

SAMPLE = PROJECT_ROOT / "data" / "raw" / "household_survey"
ASSETS = [household_survey_staging, household_survey_indicators, household_survey_change]
TABLES = [
    ("staging", "household_survey_responses"),
    ("quality", "household_survey_quarantine"),
    ("marts", "household_survey_indicators"),
    ("marts", "household_survey_change"),
]


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    target = tmp_path / "raw"
    shutil.copytree(SAMPLE, target / "household_survey")
    return target


def run(raw_dir: Path, url: str):
    return materialize_on(ASSETS, raw_dir, url)


def snapshot(url: str) -> dict[str, pd.DataFrame]:
    wh = Warehouse(url)
    tables = {f"{s}.{n}": wh.read_table(s, n) for s, n in TABLES if wh.table_exists(s, n)}
    wh.dispose()
    return tables


def whole_percent(value: float) -> int:
    return int(Decimal(repr(float(value))).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def test_sample_reproduces_the_published_good_health_figures(raw_dir, warehouse_url):
    result = run(raw_dir, warehouse_url)
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"rows_accounted_for": True, "quarantine_share_within_ceiling": True}

    tables = snapshot(warehouse_url)
    staged = tables["staging.household_survey_responses"]
    assert staged.groupby("wave_year").size().to_dict() == {2018: 2000, 2021: 2000, 2024: 2000}
    quarantine = tables["quality.household_survey_quarantine"]
    assert quarantine[["source_file", "line_number", "reasons"]].values.tolist() == [
        [
            "household_survey_2021.csv",
            140,
            "respondent_id: '210138' is duplicated in wave 2021, identical to "
            "household_survey_2021.csv line 139",
        ],
        ["household_survey_2024.csv", 2002, "weight: missing (column 'design_weight')"],
    ]

    mart = tables["marts.household_survey_indicators"]
    everyone = mart[mart["breakdown"] == "All"].set_index(["indicator", "wave_year"])["value"]
    # the published figures: 78% (2018) and 73% (2021) in good or very good health
    assert whole_percent(everyone[("good_health", 2018)]) == 78
    assert whole_percent(everyone[("good_health", 2021)]) == 73
    assert 70 <= everyone[("good_health", 2024)] <= 78
    # smoking and wellbeing fell, alcohol use rose, from 2018 to 2021
    assert everyone[("current_smoking", 2021)] < everyone[("current_smoking", 2018)]
    assert everyone[("swemwbs_mean", 2021)] < everyone[("swemwbs_mean", 2018)]
    assert everyone[("low_wellbeing", 2021)] > everyone[("low_wellbeing", 2018)]
    assert everyone[("audit_c_increasing_risk", 2021)] > everyone[("audit_c_increasing_risk", 2018)]
    assert set(mart["breakdown"]) == {"All", "Sex", "Age band", "IMD quintile", "Ethnic group"}
    # every published estimate rests on 50 or more respondents and lies inside its CI
    published = mart[~mart["is_withheld"]]
    assert (published["unweighted_n"] >= 50).all()
    assert (published["ci95_lower"] <= published["value"]).all()
    assert (published["value"] <= published["ci95_upper"]).all()
    withheld = mart[mart["is_withheld"]]
    assert not withheld.empty and withheld["value"].isna().all()
    assert (withheld["unweighted_n"].dropna() < 50).all()

    change = tables["marts.household_survey_change"]
    good = change[(change["breakdown"] == "All") & (change["indicator"] == "good_health")]
    first = good[(good["from_wave"] == 2018) & (good["to_wave"] == 2021)].iloc[0]
    assert first["comparison"] == "consecutive"
    assert first["change"] == pytest.approx(
        everyone[("good_health", 2021)] - everyone[("good_health", 2018)]
    )
    assert (first["change_direction"], first["assessment"]) == ("Decrease", "Worse")
    assert set(good["comparison"]) == {"consecutive", "latest_vs_first"}
    assert len(good) == 3


def test_bad_rows_through_the_asset(raw_dir, warehouse_url):
    path = raw_dir / "household_survey" / "household_survey_2018.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    first, second = lines[1], lines[2]
    assert first.startswith("CHS18-00001,") and second.startswith("CHS18-00002,")

    def respondent(rid: str, **changes: str) -> str:
        header = lines[0].split(",")
        fields = dict(zip(header, first.split(","), strict=True))
        fields.update(resp_id=rid, **changes)
        return ",".join(fields[h] for h in header)

    extra = [
        respondent("CHS18-90001", wt_final=""),  # line 2002
        respondent("CHS18-90002", wt_final="-0.5"),  # 2003
        respondent("CHS18-90003", wb_3="6"),  # 2004
        respondent("CHS18-90004", wb_5="-9"),  # 2005: kept, not scored
        respondent("CHS18-90005", sex="3"),  # 2006
        first,  # 2007: identical copy of line 2
        second.rsplit(",", 1)[0] + ",9.9999",  # 2008: respondent 2 with another weight
    ]
    path.write_text("\n".join(lines + extra) + "\n", encoding="utf-8")

    result = run(raw_dir, warehouse_url)
    assert result.success
    wh = Warehouse(warehouse_url)
    quarantine = wh.read_table("quality", "household_survey_quarantine")
    wave_2018 = quarantine[quarantine["source_file"] == "household_survey_2018.csv"]
    conflict = (
        "respondent_id: 'CHS18-00002' appears more than once in wave 2018 with different answers "
        "(household_survey_2018.csv line 3, household_survey_2018.csv line 2008)"
    )
    assert dict(zip(wave_2018["line_number"], wave_2018["reasons"], strict=True)) == {
        3: conflict,
        2002: "weight: missing (column 'wt_final')",
        2003: "weight: '-0.5' in column 'wt_final' is not positive",
        2004: "swemwbs_3: '6' in column 'wb_3' is outside the scale 1-5",
        2006: "sex: code '3' in column 'sex' is not in the codebook for wave 2018",
        2007: "respondent_id: 'CHS18-00001' is duplicated in wave 2018, identical to "
        "household_survey_2018.csv line 2",
        2008: conflict,
    }
    staged = wh.read_table("staging", "household_survey_responses").set_index("respondent_id")
    kept = staged.loc["CHS18-90004"]
    assert kept["swemwbs_items_answered"] == 6
    assert pd.isna(kept["swemwbs_raw_score"]) and pd.isna(kept["swemwbs_metric_score"])
    assert pd.isna(kept["is_low_wellbeing"])
    assert "CHS18-00002" not in staged.index and "CHS18-00001" in staged.index
    assert len(staged) == 6000 - 1 + 1
    wh.dispose()
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["rows_accounted_for"]


def test_damaged_records_and_a_totals_line_are_quarantined_each_alone(raw_dir, duckdb_url):
    # one raw reader (issue 13): a field more in the first record, a NUL byte in a later one, a
    # spreadsheet's cleared row and an export's totals line; the 2021 wave's extension in capitals
    folder = raw_dir / "household_survey"
    path = folder / "household_survey_2018.csv"
    header, *records = path.read_text(encoding="utf-8").splitlines()
    weights = sum(float(r.rsplit(",", 1)[1]) for r in records)
    records[0] = records[0].replace(",", ",EXTRA,", 1)  # line 2
    records[5] = records[5].replace(",", ",\0", 1)  # line 7
    records.insert(10, "," * header.count(","))  # line 12
    records.append("Total" + "," * header.count(",") + f"{weights:.4f}")  # line 2003
    path.write_text("\n".join([header, *records]) + "\n", encoding="utf-8")
    wave_2021 = folder / "household_survey_2021.csv"
    wave_2021.rename(wave_2021.with_suffix(".CSV"))

    result = run(raw_dir, duckdb_url)
    assert result.success
    wh = Warehouse(duckdb_url)
    quarantine = wh.read_table("quality", "household_survey_quarantine")
    staged = wh.read_table("staging", "household_survey_responses")
    wh.dispose()
    ours = quarantine[quarantine["source_file"] == path.name].set_index("line_number")
    assert ours["reasons"].to_dict() == {
        2: "record has 19 fields, the header 18 (extra: "
        f"'{records[0].rsplit(',', 1)[1]}'; a comma in a field that is not quoted?)",
        7: "NUL byte in age_grp | age_band: code '\\x00"
        + records[5].split(",")[1][1:]
        + "' in column 'age_grp' is not in the codebook for wave 2018",
        12: "every field is empty (a cleared row)",
        2003: "a totals row, not a respondent ('Total' in column 'resp_id')",
    }
    assert len(quarantine) == 2 + 4  # the sample's two, and these four alone
    assert "Total" not in set(staged["respondent_id"])
    assert staged.groupby("wave_year").size().to_dict() == {2018: 1998, 2021: 2000, 2024: 2000}
    assert set(staged.loc[staged["wave_year"] == 2021, "source_file"]) == {
        "household_survey_2021.CSV"
    }


def test_a_column_the_codebook_does_not_know_fails_and_keeps_every_table(raw_dir, warehouse_url):
    assert run(raw_dir, warehouse_url).success
    before = snapshot(warehouse_url)

    path = raw_dir / "household_survey" / "household_survey_2021.csv"
    text = path.read_bytes().decode("utf-8")  # CRLF records: keep them as they are
    changed = text.replace("\r\n", ",42\r\n").replace("Weight,42", "Weight,Shoe_size", 1)
    path.write_bytes(changed.encode("utf-8"))
    result = run(raw_dir, warehouse_url)

    assert not result.success
    assert failure_message(result).startswith(
        "household_survey_2021.csv: wave 2021: column(s) 'Shoe_size' not in the codebook"
    )
    assert not result.get_asset_materialization_events()
    after = snapshot(warehouse_url)
    assert before.keys() == after.keys() == {f"{s}.{n}" for s, n in TABLES}
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


def test_a_mapped_column_that_is_absent_fails_naming_wave_and_column(raw_dir, duckdb_url):
    path = raw_dir / "household_survey" / "household_survey_2024.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["sex_at_birth"])
    frame.to_csv(path, index=False)
    result = run(raw_dir, duckdb_url)
    assert not result.success
    assert failure_message(result).startswith(
        "household_survey_2024.csv: wave 2024: column(s) the codebook maps are missing: "
        "'sex_at_birth' (sex)"
    )


def test_a_file_no_wave_describes_fails(raw_dir, duckdb_url):
    folder = raw_dir / "household_survey"
    shutil.copy(folder / "household_survey_2024.csv", folder / "household_survey_2027.csv")
    result = run(raw_dir, duckdb_url)
    assert not result.success
    assert failure_message(result).startswith(
        "household_survey_2027.csv: no wave in codebook.yaml describes this file"
    )


def test_a_new_wave_is_a_codebook_entry_and_a_file(raw_dir, duckdb_url):
    folder = raw_dir / "household_survey"
    shutil.copy(folder / "household_survey_2024.csv", folder / "household_survey_2027.csv")
    codebook = yaml.safe_load((folder / "codebook.yaml").read_text(encoding="utf-8"))
    codebook["waves"][2027] = {**codebook["waves"][2024], "files": "household_survey_2027*.csv"}
    (folder / "codebook.yaml").write_text(yaml.safe_dump(codebook), encoding="utf-8")

    assert run(raw_dir, duckdb_url).success
    wh = Warehouse(duckdb_url)
    mart = wh.read_table("marts", "household_survey_indicators")
    assert sorted(mart["wave_year"].unique()) == [2018, 2021, 2024, 2027]
    change = wh.read_table("marts", "household_survey_change")
    pairs = set(zip(change["comparison"], change["from_wave"], change["to_wave"], strict=True))
    assert pairs == {
        ("consecutive", 2018, 2021),
        ("consecutive", 2021, 2024),
        ("consecutive", 2024, 2027),
        ("latest_vs_first", 2018, 2027),
    }
    wh.dispose()


def test_rerun_with_same_inputs_gives_identical_tables(raw_dir, duckdb_url):
    assert run(raw_dir, duckdb_url).success
    first = snapshot(duckdb_url)
    assert run(raw_dir, duckdb_url).success
    second = snapshot(duckdb_url)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], obj=name)


def test_marts_describe_every_column_and_hold_no_respondent_rows(raw_dir, duckdb_url):
    assert run(raw_dir, duckdb_url).success
    wh = Warehouse(duckdb_url)
    comments = wh.query(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name = 'marts' AND table_name LIKE 'household_survey%'"
    )
    assert len(comments) > 30 and comments["comment"].notna().all()
    assert (comments["comment"].str.len() > 10).all()
    marts = set(wh.list_tables("marts"))
    assert {"household_survey_indicators", "household_survey_change"} <= marts
    columns = set(comments["column_name"])
    assert not columns & {"respondent_id", "weight", "line_number"}
    wh.dispose()
