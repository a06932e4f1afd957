"""OHID Fingertips: the staged exports, their quarantine, and the analysts' indicator marts."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
)

from assets.checks import (
    SAMPLE_SIZE,
    StagedTable,
    mart_asset,
    publish_mart,
    publish_staging,
    repeats_metadata,
    staging_asset,
)
from assets.metadata import fail_on_file_fault, markdown_table
from assets.reference import cipfa_neighbours, fingertips_indicators
from assets.registry import Source
from cov_pipeline.charts import estimates_chart_png, png_markdown
from cov_pipeline.fingertips import FILE_PATTERN, STAGING_DESCRIPTIONS, load_fingertips
from cov_pipeline.indicators import (
    BENCHMARK_DESCRIPTIONS,
    INDICATOR_VALUE_DESCRIPTIONS,
    INFANT_MORTALITY_ID,
    indicator_values,
    infant_mortality_benchmark,
)
from cov_pipeline.quality import FileFault
from cov_pipeline.settings import ENGLAND_AREA_CODE
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

STAGING = AssetKey(["staging", "fingertips_indicator_values"])
QUARANTINE = AssetKey(["quality", "fingertips_quarantine"])
REVISIONS = AssetKey(["quality", "fingertips_revisions"])
INDICATORS = AssetKey(["staging", "fingertips_indicators"])
NEIGHBOURS = AssetKey(["staging", "cipfa_neighbours"])
INDICATOR_VALUES = AssetKey(["marts", "indicator_values"])
BENCHMARK = AssetKey(["marts", "infant_mortality_benchmark"])
GROUP = "fingertips"


@staging_asset(
    "fingertips_staging",
    GROUP,
    {
        STAGING: (
            "Every row of every Fingertips export in data/raw/fingertips/, typed, validated "
            "(pandera) and de-duplicated across overlapping exports. Record level.",
            "Fingertips",
        )
    },
    QUARANTINE,
    "Fingertips rows rejected with their file, line and every reason.",
    revisions_key=REVISIONS,
)
def fingertips_staging(
    context: AssetExecutionContext,
    raw_files: RawFilesResource,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
) -> Iterator:
    try:
        paths = raw_files.discover(context.log, "fingertips", FILE_PATTERN, "Fingertips exports")
        load = load_fingertips(paths)
    except FileFault as fault:
        fail_on_file_fault(fault)
    context.log.info(
        f"{load.input_rows} rows read: {len(load.staging)} staged, {len(load.quarantine)} "
        f"quarantined, {load.duplicate_rows_merged} repeated across exports merged"
    )
    repeats = repeats_metadata(
        context.log, REVISIONS.path[1], load.revisions, load.conflicting_rows
    )
    staged = StagedTable.from_load(
        STAGING,
        load,
        "Fingertips export rows, typed and de-duplicated.",
        STAGING_DESCRIPTIONS,
        {"duplicate_rows_merged": load.duplicate_rows_merged, **repeats},
    )
    yield from publish_staging(
        warehouse.warehouse,
        [staged],
        QUARANTINE,
        load.quarantine,
        "Rejected Fingertips rows.",
        load.files,
        ceiling=settings.max_quarantine_share(),
        revisions=(REVISIONS, load.revisions),
    )


def headline_rows_of_interest(home: str) -> str:
    """SQL condition: headline rows of England, the home area, its parents and its neighbours.

    The mart needs only these; filtering in the database keeps the national export (every area
    of England) out of Python.
    """
    code = home.replace("'", "''")
    staging = f"staging.{STAGING.path[1]}"
    return (
        "is_headline AND ("
        f"area_code IN ('{ENGLAND_AREA_CODE}', '{code}') "
        f"OR area_code IN (SELECT parent_code FROM {staging} WHERE area_code = '{code}') "
        "OR area_code IN (SELECT neighbour_code FROM staging.cipfa_neighbours "
        f"WHERE area_code = '{code}'))"
    )


@mart_asset(
    INDICATOR_VALUES,
    GROUP,
    [STAGING, INDICATORS, NEIGHBOURS],
    description="Headline Fingertips values for England, the region, Coventry and its CIPFA "
    "neighbours, with CIs and the comparison with England recomputed from count and denominator.",
    check_specs=[
        AssetCheckSpec(
            "published_cis_agree_with_recomputation",
            asset=INDICATOR_VALUES,
            description="Published 95% CIs agree with a recomputation from count and denominator "
            "within tolerance (WARN: Fingertips sometimes uses exact limits for large counts).",
        )
    ],
)
def indicator_values_mart(
    context: AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> Iterator:
    wh = warehouse.warehouse
    home = settings.home_area()
    neighbours = wh.read_table("staging", NEIGHBOURS.path[1])
    table = indicator_values(
        wh.read_table("staging", STAGING.path[1], where=headline_rows_of_interest(home)),
        wh.read_table("staging", INDICATORS.path[1]),
        neighbours,
        home,
    )
    yield publish_mart(
        wh,
        INDICATOR_VALUES,
        table,
        "Headline Fingertips indicator values.",
        INDICATOR_VALUE_DESCRIPTIONS,
        {"chart": MetadataValue.md(_infant_mortality_chart(table))},
    )
    disagree = table[table["ci_agrees_with_file"].eq(False).fillna(False).astype(bool)]
    checked = int(table["ci_agrees_with_file"].notna().sum())
    yield AssetCheckResult(
        check_name="published_cis_agree_with_recomputation",
        passed=disagree.empty,
        severity=AssetCheckSeverity.WARN,
        description=f"{len(disagree)} of {checked} recomputable rows disagree with the published CI",
        metadata={
            "failure_count": len(disagree),
            "rows_checked": checked,
            "failure_sample": MetadataValue.md(
                markdown_table(
                    disagree[[
                        "indicator_id", "area_code", "time_period", "ci95_lower", "ci95_upper",
                        "recomputed_ci95_lower", "recomputed_ci95_upper",
                    ]],
                    rows=SAMPLE_SIZE,
                )
            ),
        },
    )  # fmt: skip


def _infant_mortality_chart(table) -> str:
    """Infant mortality over the pooled periods: the home area against England, with 95% CIs."""
    rows = table[
        (table["indicator_id"] == INFANT_MORTALITY_ID)
        & (table["sex"] == "Persons")
        & table["area_role"].isin(["home", "england"])
        & table["value"].notna()
    ]
    png = estimates_chart_png(
        rows.assign(period=rows["period_start"].dt.year), "period", "area_name",
        title="Infant mortality, 3-year pooled (start year)", value_label="per 1,000 live births",
    )  # fmt: skip
    return png_markdown(png, "Infant mortality, home area and England")


@mart_asset(
    BENCHMARK,
    GROUP,
    [INDICATOR_VALUES],
    description="The business plan's infant mortality table for the latest period: England, "
    "Coventry and its five CIPFA neighbours with rank, value, CI and comparison with England.",
)
def infant_mortality_benchmark_mart(
    context: AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> MaterializeResult:
    wh = warehouse.warehouse
    table = infant_mortality_benchmark(
        wh.read_table("marts", "indicator_values"), settings.home_area()
    )
    return publish_mart(
        wh,
        BENCHMARK,
        table,
        "Infant mortality benchmark table.",
        BENCHMARK_DESCRIPTIONS,
        {"time_period": str(table["time_period"].iloc[0])},
    )


SOURCE_SPEC = Source(
    name="fingertips",
    group=GROUP,
    assets=[fingertips_staging, indicator_values_mart, infant_mortality_benchmark_mart],
    quarantine="fingertips_quarantine",
    staging=["fingertips_indicator_values"],
    raw_folder="fingertips",
    reads=[fingertips_indicators, cipfa_neighbours],
    job_description="Fingertips exports to staging, marts and the quality tables.",
    sample="cov_pipeline.sample_data.fingertips:generate_fingertips",
)
