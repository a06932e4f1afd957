"""Records seen twice in MSDS and Fingertips, by each source's declared rule: an identical copy
is collapsed and counted, a value revised by a later publication replaces the earlier one (both
recorded in the source's revisions table), and versions that cannot be ordered are quarantined
naming both files. Every input row ends staged, collapsed, superseded or quarantined."""

from pathlib import Path

import pandas as pd
import pytest

from assets.fingertips import fingertips_staging
from assets.msds import msds_staging
from cov_pipeline.fingertips import load_fingertips
from cov_pipeline.fingertips import publication as export_year
from cov_pipeline.msds import load_msds
from cov_pipeline.msds import publication as msds_publication
from cov_pipeline.quality import IDENTICAL_COPY, REVISED
from cov_pipeline.warehouse import Warehouse
from tests.pipeline import materialize_on
from tests.unit.test_fingertips_loader import row, write_export

MONTHLY = (
    "ReportingPeriodStartDate,ReportingPeriodEndDate,Dimension,Org_Level,Org_Code,Org_Name,"
    "Measure,Count_Of,Final_value\n"
)


def reasons_by_place(quarantine: pd.DataFrame) -> dict[tuple[str, int], str]:
    places = zip(quarantine["source_file"], quarantine["line_number"], strict=True)
    return dict(zip(places, quarantine["reasons"], strict=True))


def may(org: str, value: str) -> str:
    """One count of May 2023 (total deliveries of an organisation)."""
    return f"2023-05-01,2023-05-31,TotalDeliveries,Provider,{org},Trust {org},,Deliveries,{value}\n"


def write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MONTHLY + "".join(lines))
    return path


def msds_files(folder: Path) -> list[Path]:
    """May's publication, June's (which restates May: one copy, one revision) and a file whose
    name gives no publication (a conflict with May's), with a copy and a conflict in one file."""
    return [
        write(
            folder / "msds-2023-05-exp-data.csv",
            may("RAA", "100"),  # line 2: copied by June, identical
            may("RBB", "200"),  # line 3: revised by June
            may("RCC", "300"),  # line 4: disagrees with a file of unknown publication
            may("RDD", "400"),  # line 5
            may("RDD", "400"),  # line 6: a second copy in the same file
            may("REE", "500"),  # line 7: and another value in the same file
            may("REE", "505"),  # line 8
        ),
        write(folder / "msds-2023-06-exp-data.csv", may("RAA", "100"), may("RBB", "205")),
        write(folder / "msds-resent.csv", may("RCC", "305")),
    ]


def test_msds_publications_are_ordered_by_file_name():
    assert msds_publication("msds-2023-05-exp-data.csv") < msds_publication(
        "msds-2023-06-exp-data.csv"
    )
    # the annual publication follows its year's March and precedes April's monthly file
    assert (
        msds_publication("msds-2023-03-exp-data.csv")
        < msds_publication("msds-annual-2022-23.csv")
        < msds_publication("msds-2023-04-exp-data.csv")
    )
    for name in ("msds-resent.csv", "msds-2023-13-exp-data.csv", "msds-annual-2022-24.csv"):
        assert msds_publication(name) is None


def test_msds_copies_revisions_and_conflicts(tmp_path):
    load = load_msds(msds_files(tmp_path))
    staged = load.staging.set_index("org_code")
    assert staged["value"].to_dict() == {"RAA": 100.0, "RBB": 205.0, "RDD": 400.0}
    assert staged["source_row_count"].to_dict() == {"RAA": 2, "RBB": 1, "RDD": 1}
    assert staged.loc["RBB", "source_file"] == "msds-2023-06-exp-data.csv"

    revisions = load.revisions
    assert revisions[
        ["outcome", "source_file", "line_number", "kept_file", "kept_line", "changes"]
    ].values.tolist() == [
        [REVISED, "msds-2023-05-exp-data.csv", 3, "msds-2023-06-exp-data.csv", 3, "value: 200 -> 205"],
        [IDENTICAL_COPY, "msds-2023-06-exp-data.csv", 2, "msds-2023-05-exp-data.csv", 2, ""],
    ]  # fmt: skip
    assert revisions["record_key"].str.contains("org_code=RBB").iloc[0]
    assert set(revisions["table_name"]) == {"msds_measures"} and set(revisions["source"]) == {
        "msds"
    }

    quarantine = load.quarantine
    reasons = reasons_by_place(quarantine)
    conflict = "conflicting values for the same period, organisation, dimension and measure: "
    assert reasons == {
        ("msds-2023-05-exp-data.csv", 4): conflict + "msds-2023-05-exp-data.csv:4, msds-resent.csv:2",
        ("msds-resent.csv", 2): conflict + "msds-2023-05-exp-data.csv:4, msds-resent.csv:2",
        ("msds-2023-05-exp-data.csv", 6): "duplicate of line 5 in the same file",
        ("msds-2023-05-exp-data.csv", 7): conflict + "msds-2023-05-exp-data.csv:7, msds-2023-05-exp-data.csv:8",
        ("msds-2023-05-exp-data.csv", 8): conflict + "msds-2023-05-exp-data.csv:7, msds-2023-05-exp-data.csv:8",
    }  # fmt: skip
    assert load.conflicting_rows == 4

    # 10 rows: 3 staged, 1 copy collapsed (counted in RAA's source_row_count), 1 superseded, 5
    # quarantined
    assert load.input_rows == 10 == load.rows_accounted_for
    assert len(load.staging) + len(revisions) + len(quarantine) == 10


def fingertips_row(area: str, value: str, **more: str) -> dict[str, str]:
    return row(**{"Area Code": area, "Value": value, **more})


def fingertips_files(folder: Path) -> list[Path]:
    """The 2023 export, the 2024 export (one copy, one revision), and an API download (no
    year: a conflict with 2023's), with a copy and a conflict in one file."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_export(
            folder / "infant_mortality_2023-export.csv",
            [
                fingertips_row("E08000026", "5.9"),  # line 2: exported again in 2024, identical
                fingertips_row("E08000025", "5.1"),  # line 3: revised in 2024
                fingertips_row("E08000027", "6.2"),  # line 4: disagrees with the API download
                fingertips_row("E08000028", "6.0"),  # line 5
                fingertips_row("E08000028", "6.0"),  # line 6: a second copy in the same file
                fingertips_row("E08000029", "7.0"),  # line 7: and another value in one file
                fingertips_row("E08000029", "7.2"),  # line 8
            ],
        ),
        write_export(
            folder / "infant_mortality_2024-export.csv",
            [
                fingertips_row("E08000026", "5.9", **{"New data": "New data"}),
                fingertips_row("E08000025", "5.2", Count="83"),
            ],
        ),
        write_export(folder / "fingertips_api_92196.csv", [fingertips_row("E08000027", "6.4")]),
    ]


def test_fingertips_exports_are_ordered_by_the_year_in_their_name():
    assert export_year("infant_mortality_2023-export.csv") == "2023"
    assert export_year("child_maternal_2024-EXPORT.CSV") == "2024"
    assert export_year("fingertips_api_92196.csv") is None


def test_fingertips_copies_revisions_and_conflicts(tmp_path):
    load = load_fingertips(fingertips_files(tmp_path))
    staged = load.staging.set_index("area_code")
    assert staged["value"].to_dict() == {"E08000025": 5.2, "E08000026": 5.9, "E08000028": 6.0}
    assert staged["source_row_count"].to_dict() == {"E08000025": 1, "E08000026": 2, "E08000028": 1}
    assert staged.loc["E08000025", "source_file"] == "infant_mortality_2024-export.csv"
    # the copy staged is the first by file name and line
    assert staged.loc["E08000026", "source_file"] == "infant_mortality_2023-export.csv"

    later, earlier = "infant_mortality_2024-export.csv", "infant_mortality_2023-export.csv"
    revisions = load.revisions.sort_values("outcome")
    assert revisions[
        ["outcome", "source_file", "line_number", "kept_file", "kept_line", "changes"]
    ].values.tolist() == [
        [IDENTICAL_COPY, later, 2, earlier, 2, ""],
        [REVISED, earlier, 3, later, 3, "value: 5.1 -> 5.2; count: 81 -> 83"],
    ]
    assert revisions["record_key"].iloc[1] == (
        "indicator_id=92196, area_code=E08000025, sex=Persons, age=<1 yr, category_type=, "
        "category=, time_period=2020 - 22"
    )

    quarantine = load.quarantine
    reasons = reasons_by_place(quarantine)
    conflict = "conflicting rows for the same indicator, area, breakdown and period: "
    assert reasons == {
        ("fingertips_api_92196.csv", 2): conflict + f"fingertips_api_92196.csv:2, {earlier}:4",
        (earlier, 4): conflict + f"fingertips_api_92196.csv:2, {earlier}:4",
        (earlier, 6): "duplicate of line 5 in the same file",
        (earlier, 7): conflict + f"{earlier}:7, {earlier}:8",
        (earlier, 8): conflict + f"{earlier}:7, {earlier}:8",
    }  # fmt: skip
    assert load.conflicting_rows == 4
    assert load.input_rows == 10 == load.rows_accounted_for
    assert len(load.staging) + len(load.revisions) + len(quarantine) == 10


def test_fingertips_versions_in_two_exports_of_one_year_conflict(tmp_path):
    """Two exports of the same year say different things: nothing tells which is newer."""
    paths = [
        write_export(tmp_path / "child_maternal_2024-export.csv", [fingertips_row("E08000026", "5.9")]),
        write_export(tmp_path / "infant_mortality_2024-export.csv", [fingertips_row("E08000026", "6.1")]),
    ]  # fmt: skip
    load = load_fingertips(paths)
    assert load.staging.empty and load.revisions.empty
    places = "child_maternal_2024-export.csv:2, infant_mortality_2024-export.csv:2"
    assert set(load.quarantine["reasons"]) == {
        "conflicting rows for the same indicator, area, breakdown and period: " + places
    }
    assert len(load.quarantine) == 2 == load.rows_accounted_for


def materialize_staging(raw: Path, url: str, asset):
    return materialize_on([asset], raw, url)


@pytest.mark.parametrize(
    ("source", "asset", "files", "revisions_table"),
    [
        ("maternity", msds_staging, msds_files, "msds_revisions"),
        ("fingertips", fingertips_staging, fingertips_files, "fingertips_revisions"),
    ],
)
def test_revisions_are_written_with_staging_and_counted(
    tmp_path, warehouse_url, monkeypatch, source, asset, files, revisions_table
):
    """On DuckDB and PostgreSQL: the revisions table is written with staging and the
    quarantine, and the counts are in the staging table's metadata."""
    monkeypatch.setenv("COV_QUARANTINE_CEILING", "1")  # half the small case is quarantined
    files(tmp_path / "raw" / source)
    result = materialize_staging(tmp_path / "raw", warehouse_url, asset)
    assert result.success
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["rows_accounted_for"] is True
    metadata = {
        key: value.value
        for event in result.get_asset_materialization_events()
        if event.asset_key.path[0] == "staging"
        for key, value in event.materialization.metadata.items()
    }
    assert {
        k: metadata[k]
        for k in (
            "identical_copies_collapsed",
            "revised_by_later_publication",
            "conflicting_rows_quarantined",
        )
    } == {
        "identical_copies_collapsed": 1,
        "revised_by_later_publication": 1,
        "conflicting_rows_quarantined": 4,
    }
    wh = Warehouse(warehouse_url)
    revisions = wh.read_table("quality", revisions_table)
    quarantined = wh.row_count("quality", f"{revisions_table.split('_')[0]}_quarantine")
    assert sorted(revisions["outcome"]) == [IDENTICAL_COPY, REVISED]
    assert quarantined == 5
    assert isinstance(revisions, pd.DataFrame) and len(revisions.columns) == 9
    wh.dispose()
