"""What analysts get after a refresh: a data dictionary of every mart column, and the marts
published as Parquet files plus a read-only DuckDB snapshot they can open while the next run writes.

Files are written beside their final name and renamed into place, so a reader never sees half a
file, and one who has the old snapshot open keeps reading it (the rename leaves their file whole).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cov_pipeline.warehouse import Warehouse, _literal, _quote

DICTIONARY_TABLE = "data_dictionary"
DICTIONARY_MARKDOWN = "data_dictionary.md"


@dataclass(frozen=True)
class Tier:
    """One audience's exports: a warehouse schema, its folder under COV_EXPORT_DIR, its snapshot."""

    schema: str
    folder: str
    snapshot: str
    audience: str


# Named so nobody mistakes one for the other: the team's full detail stays inside the team.
TEAM = Tier(
    "marts",
    "team_not_for_release",
    "cov_pipeline_team_marts.duckdb",
    "the public health intelligence team only (full detail: NOT FOR RELEASE)",
)
PUBLIC = Tier(
    "published",
    "public",
    "cov_pipeline_public.duckdb",
    "release outside the team (disclosure-controlled)",
)
TIERS = (TEAM, PUBLIC)
SNAPSHOT_NAME = TEAM.snapshot

DICTIONARY_DESCRIPTIONS = {
    "table_name": "Table (in the schema of this dictionary: marts or published).",
    "column_name": "Column name.",
    "ordinal": "Position of the column in the table (1 = first).",
    "data_type": "SQL type of the column in the warehouse.",
    "unit": "Unit of the column's values where it has one (%, per 1,000, days, count).",
    "description": "What the column holds (the column comment in the warehouse).",
    "table_description": "What one row of the table is.",
}

# Units read from the naming conventions (units are in column names where they matter).
_UNIT_RULES = [
    (r"(?:_pct|_percent|_percentage)$", "%"),
    (r"per_1000$|_per_1000_", "per 1,000"),
    (r"per_100000$|_per_100000_", "per 100,000"),
    (r"_days$", "days"),
    (r"_weeks$", "weeks"),
    (r"^(?:is|has)_", "true/false"),
    (r"(?:^n_|_count$|^count$|_rows$|^denominator$|_n$)", "count"),
    (r"(?:^|_)share$|_share_", "proportion (0-1)"),
]


def unit_of(columns: pd.Series) -> pd.Series:
    """Unit by column-name convention; empty where the name says nothing."""
    units = pd.Series("", index=columns.index, dtype=object)
    for pattern, unit in _UNIT_RULES:
        hit = columns.str.contains(pattern, regex=True) & (units == "")
        units = units.mask(hit, unit)
    return units


def data_dictionary(warehouse: Warehouse, schema: str = "marts") -> pd.DataFrame:
    """One row per column of the tables of ``schema``: table, column, type, unit, description."""
    columns = warehouse.describe_columns(schema)
    columns = columns[columns["table_name"] != DICTIONARY_TABLE].copy()
    columns["ordinal"] = columns.groupby("table_name").cumcount().astype("int64") + 1
    columns["unit"] = unit_of(columns["column_name"].astype(str))
    columns["description"] = columns["description"].fillna("").astype(str)
    columns["table_description"] = columns["table_description"].fillna("").astype(str)
    return columns[list(DICTIONARY_DESCRIPTIONS)].reset_index(drop=True)


def dictionary_markdown(dictionary: pd.DataFrame, tier: Tier = TEAM) -> str:
    """The data dictionary as Markdown: one section per table, one table row per column."""
    lines = [
        f"# cov-pipeline data dictionary: schema `{tier.schema}`",
        "",
        f"For {tier.audience}. Generated after each refresh from the column comments in the "
        f"warehouse (`{tier.schema}.data_dictionary` holds the same). Rules and definitions: "
        "docs/disclosure.md and docs/ in the repository.",
    ]
    for table, columns in dictionary.groupby("table_name", sort=True):
        lines += ["", f"## {tier.schema}.{table}", ""]
        described = columns["table_description"].iloc[0]
        if described:
            lines += [described, ""]
        lines += ["| column | type | unit | description |", "| --- | --- | --- | --- |"]
        cells = (
            "| `" + columns["column_name"] + "` | " + columns["data_type"] + " | "
            + columns["unit"] + " | " + columns["description"].str.replace("|", "\\|") + " |"
        )  # fmt: skip
        lines += cells.tolist()
    return "\n".join(lines) + "\n"


def export_dir_problem(export_dir: Path) -> str | None:
    """Why the marts cannot be published to ``export_dir``, or None.

    A run checks this before it writes any table: publishing is its last step, and a folder
    found unwritable only then left the warehouse refreshed and the analysts' files stale. The
    folder (and each tier's ``parquet/``) is created if missing and a file written and removed
    in each.
    """
    export_dir = Path(export_dir)
    for folder in (export_dir, *(export_dir / t.folder / "parquet" for t in TIERS)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".write-probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            return (
                f"the export folder {folder} (COV_EXPORT_DIR) is not writable ({reason}): "
                "make it writable or point COV_EXPORT_DIR elsewhere"
            )
    return None


def _replace_file(path: Path, write) -> Path:
    """Write through ``write(tmp_path)`` and rename into place atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def publish_marts(warehouse: Warehouse, export_dir: Path) -> list[Path]:
    """Both tiers' exports (:data:`TIERS`), each to its own folder under ``export_dir``."""
    return [p for tier in TIERS for p in publish_tier(warehouse, Path(export_dir), tier)]


def publish_tier(warehouse: Warehouse, export_dir: Path, tier: Tier) -> list[Path]:
    """Every table of the tier's schema as Parquet, a read-only DuckDB snapshot of them all,
    and the Markdown dictionary, in ``export_dir / tier.folder``."""
    folder = Path(export_dir) / tier.folder
    with warehouse.session():
        dictionary = (
            warehouse.read_table(tier.schema, DICTIONARY_TABLE)
            if warehouse.table_exists(tier.schema, DICTIONARY_TABLE)
            else data_dictionary(warehouse, tier.schema)
        )
        tables = {
            n: warehouse.read_table(tier.schema, n) for n in warehouse.list_tables(tier.schema)
        }
    written = [
        _replace_file(
            folder / "parquet" / f"{name}.parquet",
            lambda p, f=frame: f.to_parquet(p, index=False),
        )
        for name, frame in tables.items()
    ]
    written.append(
        _replace_file(
            folder / tier.snapshot, lambda p: _write_snapshot(p, tables, dictionary, tier.schema)
        )
    )
    written.append(
        _replace_file(
            folder / DICTIONARY_MARKDOWN,
            lambda p: p.write_text(dictionary_markdown(dictionary, tier), encoding="utf-8"),
        )
    )
    return written


def _write_snapshot(
    path: Path, tables: dict[str, pd.DataFrame], dictionary: pd.DataFrame, schema: str = "marts"
) -> None:
    import duckdb

    comments = dictionary.set_index(["table_name", "column_name"])["description"]
    table_comments = dictionary.drop_duplicates("table_name").set_index("table_name")[
        "table_description"
    ]
    con = duckdb.connect(str(path))
    try:
        con.execute(f"CREATE SCHEMA {_quote(schema)}")
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {_quote(schema)}.{_quote(name)} AS SELECT * FROM frame")
            con.unregister("frame")
            if table_comments.get(name):
                con.execute(
                    f"COMMENT ON TABLE {_quote(schema)}.{_quote(name)} IS {_literal(table_comments[name])}"
                )
            for column in frame.columns:
                text = comments.get((name, column))
                if text:
                    con.execute(
                        f"COMMENT ON COLUMN {_quote(schema)}.{_quote(name)}.{_quote(column)} IS {_literal(text)}"
                    )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.chmod(path, 0o444)  # a snapshot: analysts open it, nobody writes to it
