"""Reference assets: the Fingertips indicator methods and the CIPFA statistical neighbours."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.metadata import OWNERS, fail_on_file_fault, table_metadata
from cov_pipeline.imd import FILE_PATTERN as IMD_PATTERN
from cov_pipeline.indicators import (
    INDICATOR_DESCRIPTIONS,
    NEIGHBOUR_DESCRIPTIONS,
    load_indicator_reference,
    load_neighbours,
)
from cov_pipeline.quality import FileFault
from resources.raw_files import RawFilesResource
from resources.warehouse import WarehouseResource

from .kinds import warehouse_kinds

# How both reference files are held to their contract (docs/definitions.md, "Reference files").
WHOLE_OR_NOT_AT_ALL = (
    " Read by the one raw reader and used whole or not at all: a row breaking the contract (an "
    "unreadable, cleared or wrongly split record included) refuses the file, the failure listing "
    "every fault with its file and line; nothing is written and the previous table stays."
)


INDICATORS_PATTERN = "fingertips_indicators*.csv"
NEIGHBOURS_PATTERN = "cipfa_neighbours*.csv"
# Every kind of file the reference folder holds (areas.csv lists the areas' names and types for
# readers of the folder; no asset reads it): each reference asset reads its own kind and warns
# about a file of no kind here.
REFERENCE_PATTERNS = (INDICATORS_PATTERN, NEIGHBOURS_PATTERN, IMD_PATTERN, "areas*.csv")


def reference_files(
    context: AssetExecutionContext, raw_files: RawFilesResource, pattern: str, what: str
):
    """The reference folder's files of one kind, logged as read (see RawFilesResource.discover)."""
    others = [p for p in REFERENCE_PATTERNS if p != pattern]
    return raw_files.discover(context.log, "reference", pattern, what, others=others)


@asset(
    key=["staging", "fingertips_indicators"],
    group_name="reference",
    owners=OWNERS,
    kinds=warehouse_kinds(),
    pool="warehouse",
    description="How each Fingertips indicator is computed: value type, multiplier, polarity "
    "(from reference/fingertips_indicators*.csv). Contract: indicator_id a whole number of 1 or "
    "more, listed once across the files; short_name not blank; value_type crude_rate, "
    "proportion or other; multiplier a number above 0; polarity one Fingertips uses (or "
    "blank: no judgement)." + WHOLE_OR_NOT_AT_ALL,
)
def fingertips_indicators(
    context: AssetExecutionContext, raw_files: RawFilesResource, warehouse: WarehouseResource
) -> MaterializeResult:
    try:
        load = load_indicator_reference(
            reference_files(context, raw_files, INDICATORS_PATTERN, "indicator references")
        )
    except (FileFault, ValueError) as fault:
        fail_on_file_fault(fault)
    warehouse.warehouse.replace_table(
        "staging",
        "fingertips_indicators",
        load.table,
        "Fingertips indicator methods.",
        INDICATOR_DESCRIPTIONS,
    )
    return MaterializeResult(
        metadata=table_metadata(
            "staging", "fingertips_indicators", load.table, INDICATOR_DESCRIPTIONS, load.files
        )
    )


@asset(
    key=["staging", "cipfa_neighbours"],
    group_name="reference",
    owners=OWNERS,
    kinds=warehouse_kinds(),
    pool="warehouse",
    description="CIPFA nearest statistical neighbours with their rank, from reference/"
    "cipfa_neighbours*.csv (the Fingertips API download, when present, replaces the shipped list "
    "of its area). Contract, per area and file: ranks the whole numbers 1 to n, each once (no "
    "gap, no fraction); area and neighbour codes ONS GSS codes (a capital letter and eight "
    "digits), never blank; no neighbour listed twice, none the area itself; no total row."
    + WHOLE_OR_NOT_AT_ALL,
)
def cipfa_neighbours(
    context: AssetExecutionContext, raw_files: RawFilesResource, warehouse: WarehouseResource
) -> MaterializeResult:
    try:
        load = load_neighbours(
            reference_files(context, raw_files, NEIGHBOURS_PATTERN, "CIPFA neighbour lists")
        )
    except (FileFault, ValueError) as fault:
        fail_on_file_fault(fault)
    for name, areas in load.replaced.items():
        context.log.info(f"{name}: the list of {', '.join(areas)} is replaced by a later file")
    warehouse.warehouse.replace_table(
        "staging",
        "cipfa_neighbours",
        load.table,
        "CIPFA nearest neighbours.",
        NEIGHBOUR_DESCRIPTIONS,
    )
    return MaterializeResult(
        metadata={
            **table_metadata(
                "staging", "cipfa_neighbours", load.table, NEIGHBOUR_DESCRIPTIONS, load.files
            ),
            "lists_replaced_by_a_later_file": MetadataValue.json(load.replaced),
        }
    )
