"""Materialisation metadata every asset reports: rows, schema, table, preview, files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

from cov_pipeline.quality import SourceFile
from cov_pipeline.warehouse import sql_type

OWNERS = ["team:public-health-intelligence"]
PREVIEW_ROWS = 10


def markdown_table(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A small Markdown table of the first rows (no extra dependency for to_markdown)."""
    head = frame.head(rows)
    if head.empty:
        return "_no rows_"

    def cell(value) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
            return ""
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")[:80]

    lines = ["| " + " | ".join(str(c) for c in head.columns) + " |"]
    lines.append("| " + " | ".join("---" for _ in head.columns) + " |")
    for record in head.itertuples(index=False):  # at most PREVIEW_ROWS rows
        lines.append("| " + " | ".join(cell(v) for v in record) + " |")
    return "\n".join(lines)


def column_schema(
    frame: pd.DataFrame, descriptions: Mapping[str, str] | None = None
) -> TableSchema:
    descriptions = descriptions or {}
    return TableSchema(
        columns=[
            TableColumn(
                name=str(c), type=sql_type(frame[c], "duckdb"), description=descriptions.get(c)
            )
            for c in frame.columns
        ]
    )


def files_metadata(files: Iterable[SourceFile]) -> MetadataValue:
    return MetadataValue.json([asdict(f) for f in files])


def table_metadata(
    schema: str,
    name: str,
    frame: pd.DataFrame,
    descriptions: Mapping[str, str] | None = None,
    files: Iterable[SourceFile] | None = None,
    warehouse: str | None = None,
) -> dict:
    metadata = {
        "dagster/row_count": len(frame),
        "dagster/column_schema": column_schema(frame, descriptions),
        "dagster/table_name": f"{schema}.{name}",
        "preview": MetadataValue.md(markdown_table(frame)),
    }
    if files is not None:
        metadata["source_files"] = files_metadata(files)
    if warehouse is not None:
        metadata["warehouse"] = warehouse
    return metadata


def fail_on_file_fault(fault: Exception) -> None:
    """Turn a file-level fault into a Dagster Failure whose description names the file and fault."""
    from dagster import Failure

    from cov_pipeline.quality import FileFault

    metadata = {}
    if isinstance(fault, FileFault):
        metadata = {"file": fault.path, "fault": fault.fault}
    raise Failure(
        description=f"{fault} (nothing was written; the warehouse keeps its previous tables)",
        metadata=metadata,
    ) from fault
