"""The reference files through Dagster: a list breaking its contract fails its asset with every
fault named, writes nothing, and never reaches the benchmark mart."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import DagsterInstance

from assets import fingertips, reference
from cov_pipeline.warehouse import Warehouse
from tests.pipeline import failure_message, materialize_on

# The reference tables, the Fingertips staging and the two marts built on the neighbours.
ASSETS = [
    reference.fingertips_indicators,
    reference.cipfa_neighbours,
    fingertips.fingertips_staging,
    fingertips.indicator_values_mart,
    fingertips.infant_mortality_benchmark_mart,
]
TABLES = [
    ("staging", "cipfa_neighbours"),
    ("staging", "fingertips_indicators"),
    ("marts", "indicator_values"),
    ("marts", "infant_mortality_benchmark"),
]


def run(raw_dir: Path, url: str, assets=ASSETS):
    return materialize_on(assets, raw_dir, url)


def tables(url: str) -> dict[str, pd.DataFrame]:
    wh = Warehouse(url)
    try:
        return {f"{schema}.{name}": wh.read_table(schema, name) for schema, name in TABLES}
    finally:
        wh.dispose()


def test_derby_listed_twice_fails_the_list_and_keeps_every_table(raw_dir, duckdb_url):
    assert run(raw_dir, duckdb_url).success
    before = tables(duckdb_url)
    assert before["marts.infant_mortality_benchmark"]["cipfa_neighbour_rank"].dropna().tolist() == [
        1, 2, 3, 4, 5
    ]  # fmt: skip

    shipped = raw_dir / "reference" / "cipfa_neighbours.csv"
    text = shipped.read_text(encoding="utf-8")
    derby = next(line for line in text.splitlines() if ",Derby," in line)
    shipped.write_text(text + derby.replace(",1,", ",6,") + "\n", encoding="utf-8")
    result = run(raw_dir, duckdb_url)

    assert not result.success
    message = failure_message(result, "staging__cipfa_neighbours")
    assert message.startswith(
        "cipfa_neighbours.csv: CIPFA neighbours refused (1 fault; the list is used whole or not "
        "at all): line 7: neighbour E06000015 (Derby) listed again for E08000026 (first on "
        "line 2)"
    )
    assert "nothing was written" in message
    # the marts built on the neighbours did not run; every table is as it was
    materialised = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "marts/infant_mortality_benchmark" not in materialised
    assert "staging/cipfa_neighbours" not in materialised
    after = tables(duckdb_url)
    for name, table in before.items():
        pd.testing.assert_frame_equal(table, after[name], obj=name)


def test_the_api_list_reaches_the_benchmark_mart(raw_dir, duckdb_url):
    shipped = (raw_dir / "reference" / "cipfa_neighbours.csv").read_text(encoding="utf-8")
    rows = [line.split(",") for line in shipped.splitlines()[1:]]
    # the API's order: the shipped list reversed (Sheffield nearest)
    api = ["area_code,neighbour_code,neighbour_name,neighbour_rank"] + [
        f"{row[0]},{row[2]},{row[3]},{rank}" for rank, row in enumerate(reversed(rows), start=1)
    ]
    (raw_dir / "reference" / "cipfa_neighbours_api.csv").write_text("\n".join(api) + "\n")

    result = run(raw_dir, duckdb_url)
    assert result.success
    (listed,) = result.asset_materializations_for_node("staging__cipfa_neighbours")
    replaced = listed.metadata["lists_replaced_by_a_later_file"].value
    assert replaced == {"cipfa_neighbours.csv": ["E08000026"]}
    table = tables(duckdb_url)["marts.infant_mortality_benchmark"]
    neighbours = table[table["area_role"] == "cipfa_neighbour"]
    assert neighbours["area_name"].tolist() == [
        "Sheffield", "Leeds", "Peterborough", "Bolton", "Derby"
    ]  # fmt: skip
    assert neighbours["cipfa_neighbour_rank"].tolist() == [1, 2, 3, 4, 5]


def test_an_unknown_value_type_fails_the_indicator_methods(raw_dir, duckdb_url):
    path = raw_dir / "reference" / "fingertips_indicators.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",crude_rate,", ",rate,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run(raw_dir, duckdb_url, [reference.fingertips_indicators])

    assert not result.success
    assert failure_message(result, "staging__fingertips_indicators").startswith(
        "fingertips_indicators.csv: Fingertips indicator methods refused (1 fault; the list is "
        "used whole or not at all): line 3: value_type 'rate' is not one of crude_rate, other, "
        "proportion"
    )
    wh = Warehouse(duckdb_url)
    assert "fingertips_indicators" not in wh.list_tables("staging")
    wh.dispose()


def test_a_file_of_no_known_kind_in_the_reference_folder_is_named_in_a_warning(raw_dir, duckdb_url):
    import logging

    (raw_dir / "reference" / "neighbours_notes.txt").write_text("who chose them", encoding="utf-8")
    instance = DagsterInstance.ephemeral()
    result = materialize_on(ASSETS[:2], raw_dir, duckdb_url, instance=instance)
    assert result.success  # a stray file is reported, not read and not fatal
    warnings = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.level == logging.WARNING and "ignored" in entry.user_message
    ]
    # each reference asset names it once; the other reference files are known and not named
    assert len(warnings) == 2, warnings
    assert all("neighbours_notes.txt" in w for w in warnings)
    assert not any("areas.csv" in w or "imd" in w for w in warnings)
