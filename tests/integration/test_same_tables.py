"""Same answers: the whole graph on the shipped sample gives the tables recorded before.

Every warehouse table (staging, marts, quality) is reduced to a fingerprint: its row count and,
per column, the warehouse type and a SHA-256 of the column's values in a canonical text form
(rows sorted, floats to 9 significant digits, so a change in summation order does not count
while any changed figure does). ``tests/fixtures/golden_tables.json`` holds the fingerprints
recorded from the code before the speed work of issue #7; a difference names the table and the
columns. After a deliberate change to a table, record the new fingerprints with

    COV_UPDATE_GOLDEN=1 .venv/bin/pytest tests/integration/test_same_tables.py

and say in the commit why the tables changed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance

from cov_pipeline.definitions import execute_refresh_all
from cov_pipeline.warehouse import SCHEMAS, Warehouse

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden_tables.json"
# Tables that record the run itself (its id, times, durations), not the data.
RUN_RECORDS = {"quality.run_summary"}
# The day the fingerprints were recorded: the run treats it as today (quarantine reasons name it).
RECORDED_AS_OF = "2026-11-22"


def canonical(value) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return "<null>"
    if isinstance(value, float | np.floating):
        return "<null>" if math.isnan(value) else f"{float(value):.9g}"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def fingerprint(frame: pd.DataFrame, types: dict[str, str]) -> dict:
    text = pd.DataFrame({c: [canonical(v) for v in frame[c].tolist()] for c in frame.columns})
    text = text.sort_values(list(text.columns), kind="stable").reset_index(drop=True)
    columns = {}
    for column in text.columns:
        digest = hashlib.sha256("\x1f".join(text[column]).encode()).hexdigest()
        columns[column] = [types[column], digest]
    return {"rows": len(frame), "columns": columns}


def fingerprints(url: str) -> dict[str, dict]:
    wh = Warehouse(url)
    out = {}
    for schema in SCHEMAS:
        described = wh.describe_columns(schema)
        for name in wh.list_tables(schema):
            table = f"{schema}.{name}"
            if table in RUN_RECORDS:
                continue
            rows = described[described["table_name"] == name]
            types = dict(zip(rows["column_name"], rows["data_type"].astype(str), strict=True))
            out[table] = fingerprint(wh.read_table(schema, name), types)
    wh.dispose()
    return out


def differences(got: dict, expected: dict) -> list[str]:
    problems = []
    for table in sorted(set(got) | set(expected)):
        if table not in got:
            problems.append(f"{table}: missing")
        elif table not in expected:
            problems.append(f"{table}: not in the recorded tables")
        elif got[table] != expected[table]:
            old, new = expected[table], got[table]
            changed = [
                c
                for c in sorted(set(old["columns"]) | set(new["columns"]))
                if old["columns"].get(c) != new["columns"].get(c)
            ]
            problems.append(f"{table}: rows {old['rows']} -> {new['rows']}; columns {changed}")
    return problems


@pytest.fixture(params=["sample", "benchmark_0.01"])
def case(request, raw_dir, tmp_path) -> tuple[str, Path]:
    """The shipped sample, and the benchmark profile at scale 0.01 (national Fingertips
    exports, record-level maternity in every month: the inputs the speed work is aimed at)."""
    if request.param == "sample":
        return request.param, raw_dir
    from cov_pipeline.sample_data import generate_all

    target = tmp_path / "benchmark_raw"
    generate_all(target, seed=20251, scale=0.01, profile="benchmark")
    return request.param, target


def test_the_whole_graph_gives_the_recorded_tables(case, duckdb_url, monkeypatch):
    name, raw = case
    monkeypatch.setenv("COV_AS_OF", RECORDED_AS_OF)
    result = execute_refresh_all(raw, duckdb_url, DagsterInstance.ephemeral())
    assert result.success
    got = fingerprints(duckdb_url)
    recorded = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if os.environ.get("COV_UPDATE_GOLDEN") == "1":
        recorded[name] = got
        GOLDEN.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"recorded {len(got)} tables of {name!r} in {GOLDEN}")
    assert differences(got, recorded[name]) == []


def test_a_changed_figure_is_seen():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", None]})
    types = {"a": "DOUBLE", "b": "VARCHAR"}
    base = fingerprint(frame, types)
    assert fingerprint(frame.iloc[::-1], types) == base  # row order does not count
    assert fingerprint(frame.assign(a=[1.0, 2.0 + 1e-12]), types) == base  # nor the 13th digit
    changed = fingerprint(frame.assign(a=[1.0, 2.001]), types)
    assert differences({"t": changed}, {"t": base}) == ["t: rows 2 -> 2; columns ['a']"]
    assert differences({}, {"t": base}) == ["t: missing"]
