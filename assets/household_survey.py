"""Household survey: harmonised responses, their quarantine, and the weighted indicator marts."""

from collections.abc import Iterator

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from assets.checks import StagedTable, mart_asset, publish_mart, publish_staging, staging_asset
from assets.metadata import fail_on_file_fault, markdown_table
from assets.registry import Source
from cov_pipeline.charts import estimates_chart_png, png_markdown
from cov_pipeline.household_survey import (
    CHANGE_DESCRIPTIONS,
    CODEBOOK_NAME,
    INDICATOR_DESCRIPTIONS,
    INDICATOR_INPUT_COLUMNS,
    MIN_UNWEIGHTED_N,
    SOURCE,
    STAGING_DESCRIPTIONS,
    WAVE_PATTERN,
    load_household_survey,
    wave_changes,
    weighted_indicators,
)
from cov_pipeline.quality import FileFault
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

GROUP = "household_survey"
STAGING = AssetKey(["staging", "household_survey_responses"])
QUARANTINE = AssetKey(["quality", "household_survey_quarantine"])
INDICATORS = AssetKey(["marts", "household_survey_indicators"])
CHANGE = AssetKey(["marts", "household_survey_change"])


@staging_asset(
    "household_survey_staging",
    GROUP,
    {
        STAGING: (
            "Every respondent of every household survey wave in data/raw/household_survey/, "
            "harmonised through codebook.yaml, validated (pandera) and scored (AUDIT-C, SWEMWBS "
            "metric score). Respondent level: staging schema only.",
            "household survey",
        )
    },
    QUARANTINE,
    "Household survey rows rejected with their file, line and every reason (unmapped code, "
    "answer off its scale, missing or non-positive weight, respondent twice in a wave, an "
    "export's totals line, a record that cannot be read as delivered).",
)
def household_survey_staging(
    context: AssetExecutionContext,
    raw_files: RawFilesResource,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
) -> Iterator:
    folder = raw_files.source_dir(SOURCE)
    try:
        paths = raw_files.discover(
            context.log, SOURCE, WAVE_PATTERN, "survey wave files", others=[CODEBOOK_NAME]
        )
        load = load_household_survey(folder / CODEBOOK_NAME, paths)
    except FileFault as fault:
        fail_on_file_fault(fault)
    staged = load.staging
    not_scored = int(
        ((staged["swemwbs_items_answered"] > 0) & (staged["swemwbs_items_answered"] < 7)).sum()
    )
    context.log.info(
        f"{load.input_rows} rows read: {len(staged)} staged, {len(load.quarantine)} quarantined; "
        f"{not_scored} SWEMWBS block(s) with an item missing kept but not scored"
    )
    by_wave = staged.groupby("wave_year").size()
    table = StagedTable.from_load(
        STAGING,
        load,
        "Household survey responses, harmonised and scored (respondent level).",
        STAGING_DESCRIPTIONS,
        {
            "respondents_by_wave": MetadataValue.json({str(k): int(v) for k, v in by_wave.items()}),
            "swemwbs_blocks_incomplete_not_scored": not_scored,
        },
    )
    yield from publish_staging(
        warehouse.warehouse,
        [table],
        QUARANTINE,
        load.quarantine,
        "Rejected household survey rows.",
        load.files,
        ceiling=settings.max_quarantine_share(),
    )


def _headline(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """All adults, one row per indicator, one column per wave (or comparison)."""
    everyone = table[table["breakdown"] == "All"]
    return everyone.pivot_table(
        index="indicator_name", columns=column, values="value", sort=False
    ).reset_index()


@mart_asset(
    INDICATORS,
    GROUP,
    [STAGING],
    description="Household survey indicators by wave, for all adults and by sex, age band, IMD "
    "quintile and ethnic group: good or very good health, bad or very bad health, current "
    "smoking, AUDIT-C 5 or more, mean SWEMWBS metric score, low wellbeing. Weighted estimates "
    f"with 95% CIs on Kish's effective n; withheld where fewer than {MIN_UNWEIGHTED_N} answered.",
)
def household_survey_indicators(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    wh = warehouse.warehouse
    table = weighted_indicators(wh.read_table("staging", STAGING.path[1], INDICATOR_INPUT_COLUMNS))
    headline = table[table["breakdown"] == "All"].assign(value=lambda t: t["value"].round(1))
    return publish_mart(
        wh,
        INDICATORS,
        table,
        "Household survey weighted indicators by wave and breakdown.",
        INDICATOR_DESCRIPTIONS,
        {
            "all_adults_by_wave": MetadataValue.md(
                markdown_table(_headline(headline, "wave_year"), rows=20)
            ),
            "withheld_rows": int(table["is_withheld"].sum()),
            "chart": MetadataValue.md(_prevalence_chart(table)),
        },
    )


def _prevalence_chart(table) -> str:
    """All adults' weighted prevalences by wave, with their 95% CIs."""
    prevalences = table[(table["breakdown"] == "All") & (table["measure"] == "proportion")]
    png = estimates_chart_png(
        prevalences, "wave_year", "indicator_name",
        title="Household survey: all adults (weighted, 95% CI)", value_label="%",
    )  # fmt: skip
    return png_markdown(png, "Household survey prevalences by wave")


@mart_asset(
    CHANGE,
    GROUP,
    [INDICATORS],
    description="Change in each household survey indicator between consecutive waves and the "
    "latest wave against the first, with a 95% CI and a two-sample z-test on the effective "
    "sample sizes; Better / Worse by the indicator's polarity where significant.",
)
def household_survey_change(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    wh = warehouse.warehouse
    table = wave_changes(wh.read_table("marts", INDICATORS.path[1]))
    everyone = table[table["breakdown"] == "All"]
    summary = everyone.assign(
        waves=everyone["from_wave"].astype(str) + "-" + everyone["to_wave"].astype(str),
        change=everyone["change"].round(1),
    )[["indicator_name", "waves", "change", "assessment"]]
    return publish_mart(
        wh,
        CHANGE,
        table,
        "Household survey: change between waves with significance tests.",
        CHANGE_DESCRIPTIONS,
        {"all_adults": MetadataValue.md(markdown_table(summary, rows=30))},
    )


HOUSEHOLD_SURVEY_ASSETS = [
    household_survey_staging,
    household_survey_indicators,
    household_survey_change,
]

SOURCE_SPEC = Source(
    name="household_survey",
    group=GROUP,
    assets=HOUSEHOLD_SURVEY_ASSETS,
    quarantine="household_survey_quarantine",
    staging=["household_survey_responses"],
    raw_folder="household_survey",
    job_description="Household survey waves to staging, marts and the quality tables.",
    sample="cov_pipeline.sample_data.household_survey:generate_household_survey",
)
