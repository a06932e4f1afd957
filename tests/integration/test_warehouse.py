"""The warehouse contract on both backends: schemas, atomic replacement, bulk paths, round trips."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.warehouse import SCHEMAS, TableWrite, Warehouse, WarehouseError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area_code": ["E08000026", "E92000001", "E12000005"],
            "count": pd.array([81, None, 7], dtype="Int64"),
            "value": [5.9, np.nan, 4.1],
            "is_suppressed": [False, True, False],
            "period_start": [dt.date(2020, 1, 1), None, dt.date(2021, 4, 1)],
            "note": ['comma, "quote"\nand a line break', None, ""],
        }
    )


def test_round_trip_keeps_values_types_and_nulls(warehouse: Warehouse):
    frame = _frame()
    warehouse.replace_table("marts", "example", frame)

    back = warehouse.read_table("marts", "example")

    assert list(back.columns) == list(frame.columns)
    assert back["area_code"].tolist() == ["E08000026", "E92000001", "E12000005"]
    assert back["count"].dtype == "Int64"
    assert back["count"].isna().tolist() == [False, True, False]
    assert back["value"].iloc[0] == 5.9 and np.isnan(back["value"].iloc[1])
    assert back["is_suppressed"].tolist() == [False, True, False]
    assert back["period_start"].iloc[0] == pd.Timestamp("2020-01-01")
    assert pd.isna(back["period_start"].iloc[1])
    # blank and missing text stay different things
    assert back["note"].tolist() == ['comma, "quote"\nand a line break', None, ""]


def test_schemas_are_created(warehouse: Warehouse):
    warehouse.ensure_schemas()
    found = set(
        warehouse.query("SELECT schema_name FROM information_schema.schemata")["schema_name"]
    )
    assert set(SCHEMAS) <= found


def test_column_comments_land_in_the_warehouse(warehouse: Warehouse):
    warehouse.replace_table(
        "marts", "described", _frame(), "One row per area.", {"value": "Rate per 1,000 it's"}
    )
    if warehouse.backend == "duckdb":
        sql = (
            "SELECT comment FROM duckdb_columns() "
            "WHERE schema_name = 'marts' AND table_name = 'described' AND column_name = 'value'"
        )
    else:
        sql = (
            "SELECT col_description('marts.described'::regclass, attnum) AS comment "
            "FROM pg_attribute WHERE attrelid = 'marts.described'::regclass AND attname = 'value'"
        )
    assert warehouse.query(sql)["comment"].iloc[0] == "Rate per 1,000 it's"


def test_failed_write_leaves_every_previous_table_whole(warehouse: Warehouse):
    warehouse.replace_tables(
        {
            ("marts", "first"): TableWrite(pd.DataFrame({"x": [1, 2, 3]})),
            ("quality", "second"): TableWrite(pd.DataFrame({"y": ["a"]})),
        }
    )

    class Unwritable:
        def __str__(self):
            raise RuntimeError("cannot render")

    broken = pd.DataFrame({"y": pd.Series([Unwritable()], dtype=object)})
    with pytest.raises(WarehouseError, match="previous tables kept"):
        warehouse.replace_tables(
            {
                ("marts", "first"): TableWrite(pd.DataFrame({"x": [9]})),
                ("quality", "second"): TableWrite(broken),
            }
        )

    assert warehouse.read_table("marts", "first")["x"].tolist() == [1, 2, 3]
    assert warehouse.read_table("quality", "second")["y"].tolist() == ["a"]
    assert "first__new" not in warehouse.list_tables("marts")


def test_rewrite_with_same_input_gives_identical_table(warehouse: Warehouse):
    warehouse.replace_table("staging", "again", _frame())
    first = warehouse.read_table("staging", "again")
    warehouse.replace_table("staging", "again", _frame())
    pd.testing.assert_frame_equal(first, warehouse.read_table("staging", "again"))


def test_unknown_schema_and_backend_are_refused(tmp_path):
    with pytest.raises(WarehouseError, match="unsupported warehouse URL"):
        Warehouse("sqlite:///x.db")
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with pytest.raises(WarehouseError, match="unknown schema 'raw'"):
        wh.replace_table("raw", "t", pd.DataFrame({"a": [1]}))


def test_bulk_write_of_many_rows(warehouse: Warehouse):
    n = 300_000
    frame = pd.DataFrame({"i": np.arange(n), "s": np.where(np.arange(n) % 2, "odd", "even")})
    warehouse.replace_table("staging", "big", frame)
    assert warehouse.row_count("staging", "big") == n


def test_object_columns_take_their_type_from_the_first_value_present_however_far_down():
    from cov_pipeline.warehouse import sql_type

    def column(values):
        return pd.Series([None] * 10_000 + [pd.NA, np.nan] + values, dtype=object)

    assert sql_type(column([dt.date(2024, 1, 1), None]), "duckdb") == "DATE"
    assert sql_type(column([True, False]), "postgresql") == "BOOLEAN"
    # a datetime is not a DATE
    assert sql_type(column([dt.datetime(2024, 1, 1)]), "duckdb") == "VARCHAR"
    assert sql_type(column(["E08000026"]), "postgresql") == "TEXT"
    assert sql_type(column([]), "duckdb") == "VARCHAR"  # nothing present: text


def test_both_copy_paths_keep_blank_text_nulls_infinities_and_timestamps(warehouse: Warehouse):
    from cov_pipeline.warehouse import _arrow_table

    arrow = pd.DataFrame(
        {
            "text": pd.array(["", None, 'a "b",\nc'], dtype="string[pyarrow]"),
            "value": [np.inf, -np.inf, np.nan],
            "at": pd.to_datetime(["2024-02-29 13:45:00", None, "1999-12-31 00:00:00"]),
        }
    )
    # an object column mixing numbers and text: Arrow refuses it, pandas' path writes it as text
    mixed = arrow.assign(code=[1, "x", None])
    assert _arrow_table(arrow) is not None and _arrow_table(mixed) is None
    for name, frame in (("arrow_path", arrow), ("pandas_path", mixed)):
        warehouse.replace_table("staging", name, frame)
        back = warehouse.read_table("staging", name)
        assert back["text"].tolist() == ["", None, 'a "b",\nc'], name
        assert back["value"].iloc[0] == np.inf and back["value"].iloc[1] == -np.inf, name
        assert np.isnan(back["value"].iloc[2]), name
        assert back["at"].iloc[0] == pd.Timestamp("2024-02-29 13:45:00"), name
        assert pd.isna(back["at"].iloc[1]), name
    assert warehouse.read_table("staging", "pandas_path")["code"].tolist() == ["1", "x", None]


def test_reading_through_copy_gives_what_the_driver_gives(warehouse: Warehouse):
    # On PostgreSQL read_table parses COPY's CSV with Arrow; the driver's rows are the reference.
    from cov_pipeline.warehouse import _normalise_dtypes, qualified

    frame = _frame().assign(
        at=pd.to_datetime(["2024-02-29 13:45:00", None, "1999-12-31 00:00:00"]),
        flag=pd.array([True, None, False], dtype="boolean"),
        big=[2**53, -1, 0],
        ratio=[np.inf, -np.inf, 1 / 3],
    )
    warehouse.replace_table("marts", "both_ways", frame)
    described = warehouse.describe_columns("marts")
    described = described[described["table_name"] == "both_ways"]
    types = dict(zip(described["column_name"], described["data_type"].astype(str), strict=True))
    by_driver = _normalise_dtypes(
        warehouse.query(f"SELECT * FROM {qualified('marts', 'both_ways')}"), types
    )
    pd.testing.assert_frame_equal(
        warehouse.read_table("marts", "both_ways"), by_driver, check_exact=True
    )
    subset = warehouse.read_table("marts", "both_ways", ["note", "big"], where="big >= 0")
    assert subset["note"].tolist() == ['comma, "quote"\nand a line break', ""]


def test_processes_setting_up_a_new_postgresql_database_at_once_take_turns(postgres_warehouse_url):
    # The multiprocess executor starts several steps at once on a new database; each sets the
    # schemas up. Side by side, CREATE SCHEMA IF NOT EXISTS raised a unique violation; here
    # every one of them succeeds and the schemas exist once.
    import threading

    warehouses = [Warehouse(postgres_warehouse_url) for _ in range(8)]
    start, errors = threading.Barrier(len(warehouses)), []

    def set_up(wh: Warehouse) -> None:
        start.wait()
        try:
            wh.ensure_schemas()
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=set_up, args=(wh,)) for wh in warehouses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for wh in warehouses:
        wh.dispose()
    assert errors == []
    check = Warehouse(postgres_warehouse_url)
    try:
        found = check.query(
            "SELECT nspname FROM pg_namespace WHERE nspname IN ('staging', 'marts', 'published', "
            "'quality') ORDER BY nspname"
        )["nspname"].tolist()
    finally:
        check.dispose()
    assert found == sorted(SCHEMAS)
