"""Reference assets: the Fingertips indicator methods and the CIPFA statistical neighbours."""

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, asset

from assets.metadata import OWNERS, fail_on_file_fault, table_metadata
from cov_pipeline.indicators import (
    INDICATOR_COLUMNS,
    NEIGHBOUR_COLUMNS,
    load_reference_csv,
    parse_indicator_reference,
    parse_neighbours,
)
from cov_pipeline.quality import FileFault, SourceFile, sha256_of
from resources.raw_files import RawFilesResource
from resources.warehouse import WarehouseResource

from .kinds import warehouse_kinds

INDICATOR_DESCRIPTIONS = {
    "indicator_id": "Fingertips indicator ID.",
    "short_name": "Short name used in reports.",
    "value_type": "crude_rate, proportion or other: decides how CIs are recomputed.",
    "multiplier": "Scale of the value (1000 for per 1,000; 100 for %).",
    "polarity": "Fingertips polarity: which direction is better.",
    "unit": "Unit of the value.",
}
NEIGHBOUR_DESCRIPTIONS = {
    "area_code": "Area whose neighbours these are.",
    "neighbour_code": "ONS code of the neighbour.",
    "neighbour_name": "Name of the neighbour.",
    "neighbour_rank": "CIPFA nearest-neighbour rank (1 = nearest).",
    "source_file": "Reference file the list came from (the API download wins when present).",
}


def _read(raw_files: RawFilesResource, pattern: str, required: list[str]):
    paths = raw_files.files("reference", pattern)
    if not paths:
        raise FileFault(raw_files.source_dir("reference") / pattern, "no reference file found")
    frames, files = [], []
    for path in paths:
        frame = load_reference_csv(path, required)
        frames.append(frame.assign(source_file=path.name))
        data = path.read_bytes()
        files.append(SourceFile(path.name, sha256_of(data), len(data), len(frame)))
    return pd.concat(frames, ignore_index=True), files, paths


@asset(
    key=["staging", "fingertips_indicators"],
    group_name="reference",
    owners=OWNERS,
    kinds=warehouse_kinds(),
    pool="warehouse",
    description="How each Fingertips indicator is computed: value type, multiplier, polarity "
    "(from reference/fingertips_indicators.csv).",
)
def fingertips_indicators(
    context: AssetExecutionContext, raw_files: RawFilesResource, warehouse: WarehouseResource
) -> MaterializeResult:
    try:
        frame, files, paths = _read(raw_files, "fingertips_indicators*.csv", INDICATOR_COLUMNS)
        table = parse_indicator_reference(frame, paths[0])
    except (FileFault, ValueError) as fault:
        fail_on_file_fault(fault)
    warehouse.warehouse.replace_table(
        "staging",
        "fingertips_indicators",
        table,
        "Fingertips indicator methods.",
        INDICATOR_DESCRIPTIONS,
    )
    return MaterializeResult(
        metadata=table_metadata(
            "staging", "fingertips_indicators", table, INDICATOR_DESCRIPTIONS, files
        )
    )


@asset(
    key=["staging", "cipfa_neighbours"],
    group_name="reference",
    owners=OWNERS,
    kinds=warehouse_kinds(),
    pool="warehouse",
    description="CIPFA nearest statistical neighbours with their rank, from reference/"
    "cipfa_neighbours*.csv (the Fingertips API download, when present, replaces the shipped list).",
)
def cipfa_neighbours(
    context: AssetExecutionContext, raw_files: RawFilesResource, warehouse: WarehouseResource
) -> MaterializeResult:
    try:
        frame, files, _ = _read(raw_files, "cipfa_neighbours*.csv", NEIGHBOUR_COLUMNS)
        table = parse_neighbours(frame)
    except (FileFault, ValueError) as fault:
        fail_on_file_fault(fault)
    warehouse.warehouse.replace_table(
        "staging", "cipfa_neighbours", table, "CIPFA nearest neighbours.", NEIGHBOUR_DESCRIPTIONS
    )
    return MaterializeResult(
        metadata=table_metadata("staging", "cipfa_neighbours", table, NEIGHBOUR_DESCRIPTIONS, files)
    )
