"""What analysts get: a complete data dictionary, Parquet files and a snapshot they can keep open."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from cov_pipeline.exports import PUBLIC, SNAPSHOT_NAME, TEAM, publish_marts, unit_of
from cov_pipeline.warehouse import Warehouse
from tests.integration.test_fingertips_pipeline import run


@pytest.fixture
def refreshed(raw_dir, duckdb_url, tmp_path, monkeypatch):
    export_dir = tmp_path / "exports"
    monkeypatch.setenv("COV_EXPORT_DIR", str(export_dir))
    result = run(raw_dir, duckdb_url, selection=None)  # every mart, for the exports
    assert result.success
    return Warehouse(duckdb_url), export_dir


def test_every_mart_column_is_described_in_the_dictionary(refreshed):
    wh, _ = refreshed
    dictionary = wh.read_table("marts", "data_dictionary")
    marts = set(wh.list_tables("marts")) - {"data_dictionary"}
    assert set(dictionary["table_name"]) == marts
    undescribed = dictionary[dictionary["description"] == ""]
    assert undescribed.empty, undescribed[["table_name", "column_name"]].to_string()
    benchmark = dictionary[dictionary["table_name"] == "infant_mortality_benchmark"]
    assert benchmark["column_name"].tolist()[:3] == ["display_order", "area_code", "area_name"]
    assert (dictionary["data_type"] != "").all()


def test_exports_hold_every_mart_as_parquet_and_in_the_snapshot(refreshed):
    wh, exports = refreshed
    export_dir = exports / TEAM.folder
    marts = wh.list_tables("marts")
    for name in marts:
        published = pd.read_parquet(export_dir / "parquet" / f"{name}.parquet")
        assert len(published) == wh.row_count("marts", name)
    with duckdb.connect(str(export_dir / SNAPSHOT_NAME), read_only=True) as con:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
        ).fetchall()}  # fmt: skip
        assert tables == set(marts)
        comment = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'infant_mortality_benchmark' "
            "AND column_name = 'value_with_ci'"
        ).fetchone()[0]
        assert "one decimal" in comment
    markdown = (export_dir / "data_dictionary.md").read_text(encoding="utf-8")
    for name in set(marts) - {"data_dictionary"}:
        assert f"## marts.{name}" in markdown
    assert not [p for p in export_dir.rglob("*.tmp")]


def test_an_open_snapshot_survives_the_next_publication(refreshed):
    wh, exports = refreshed
    export_dir = exports / TEAM.folder
    reader = duckdb.connect(str(export_dir / SNAPSHOT_NAME), read_only=True)
    before = reader.execute("SELECT COUNT(*) FROM marts.indicator_values").fetchone()[0]

    wh.replace_table(
        "marts", "indicator_values", wh.read_table("marts", "indicator_values").head(3)
    )
    publish_marts(wh, exports)  # the next refresh publishes while the analyst reads

    assert reader.execute("SELECT COUNT(*) FROM marts.indicator_values").fetchone()[0] == before
    reader.close()
    with duckdb.connect(str(export_dir / SNAPSHOT_NAME), read_only=True) as fresh:
        assert fresh.execute("SELECT COUNT(*) FROM marts.indicator_values").fetchone()[0] == 3
    assert (export_dir / SNAPSHOT_NAME).stat().st_mode & 0o222 == 0  # published read-only


def test_units_follow_the_column_naming_conventions():
    names = pd.Series(
        ["late_pct", "rate_per_1000", "median_wait_days", "is_suppressed", "count", "area_code"]
    )
    assert unit_of(names).tolist() == ["%", "per 1,000", "days", "true/false", "count", ""]


def test_the_public_folder_holds_the_published_tier_only_and_no_small_counts(refreshed):
    from cov_pipeline.disclosure import audit_published
    from cov_pipeline.publishing import PUBLICATIONS

    wh, exports = refreshed
    public = exports / PUBLIC.folder
    names = {p.stem for p in (public / "parquet").glob("*.parquet")}
    assert names == set(wh.list_tables("published"))
    assert not names & (set(wh.list_tables("marts")) - set(wh.list_tables("published")))
    with duckdb.connect(str(public / PUBLIC.snapshot), read_only=True) as con:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_tables()").fetchall()}
        assert schemas == {"published"}
    for publishing in PUBLICATIONS:
        published = {s.name: wh.read_table("published", s.name) for s in publishing.specs}
        for spec in publishing.specs:
            for count in spec.counts:
                if not count.public:
                    values = published[spec.name][count.column]
                    assert not values.between(1, 7).fillna(False).any(), (spec.name, count.column)
        marts = {n: wh.read_table("marts", n) for n in publishing.tables}
        audit = audit_published(published, marts, publishing.specs, publishing.links)
        assert audit["passes"].all(), audit[~audit["passes"]].head().to_string()
    # the team's marts keep full detail: small counts are there for the team
    late = wh.read_table("marts", "late_bookings")
    assert late["very_late_bookings"].between(1, 7).any()
    summary = wh.read_table("quality", "disclosure_summary")
    assert (summary["audit_failures"] == 0).all()
    assert set(summary["table_name"]) >= {"late_bookings", "referral_trends"}
