"""Young people's risky-behaviour service: staged referrals, their quarantine, and the demand and
waiting-list marts with their SPC charts."""

from collections.abc import Iterator

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from assets.by_month import first_and_last, rebuild_by_month
from assets.checks import StagedTable, mart_asset, publish_mart, publish_staging, staging_asset
from assets.deprivation import DEPRIVATION_ASSETS, IMD_LSOA
from assets.metadata import fail_on_file_fault, markdown_table
from assets.registry import Source
from cov_pipeline.charts import png_markdown, spc_chart_png
from cov_pipeline.months import in_months
from cov_pipeline.quality import FileFault
from cov_pipeline.referrals import (
    ALL,
    FILE_PATTERN,
    SOURCE,
    STAGING_DESCRIPTIONS,
    TRENDS_DESCRIPTIONS,
    TRENDS_INPUT_COLUMNS,
    WAITING_DESCRIPTIONS,
    WAITING_INPUT_COLUMNS,
    load_referrals,
    referral_trends,
    referral_waiting,
    reporting_months,
)
from cov_pipeline.referrals.by_month import (
    open_from,
    referral_trends_for_months,
    referral_waiting_for_months,
)
from cov_pipeline.spc import SPC_COLUMNS, load_spc_settings
from cov_pipeline.warehouse import Warehouse
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

GROUP = "referrals"
STAGING = AssetKey(["staging", "referrals"])
QUARANTINE = AssetKey(["quality", "referrals_quarantine"])
TRENDS = AssetKey(["marts", "referral_trends"])
WAITING = AssetKey(["marts", "referral_waiting"])
IMD_COLUMNS = ["lsoa_code", "imd_decile", "imd_quintile", "is_most_deprived_30pct"]


@staging_asset(
    "referrals_staging",
    GROUP,
    {
        STAGING: (
            "One row per referral to the young people's risky-behaviour service, from the "
            "extracts in data/raw/referrals/ (referrals_YYYY-MM-DD.csv): typed, validated "
            "(pandera), the latest extract's version of each referral (the later extract wins), "
            "LSOA joined to IMD deprivation. Record level: staging schema only.",
            "referrals",
        )
    },
    QUARANTINE,
    "Referral rows rejected with their file, line and every reason (dates out of order or in the "
    "future, age outside 10-24, unknown codes, an id repeated within an extract, an earlier "
    "version of a referral quarantined in a later extract, a record that cannot be read as "
    "delivered).",
    deps=[IMD_LSOA],
)
def referrals_staging(
    context: AssetExecutionContext,
    raw_files: RawFilesResource,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
) -> Iterator:
    wh = warehouse.warehouse
    imd = wh.read_table("staging", IMD_LSOA.path[1], IMD_COLUMNS)
    try:
        paths = raw_files.discover(context.log, SOURCE, FILE_PATTERN, "referral extracts")
        load = load_referrals(paths, imd, today=settings.today())
    except FileFault as fault:
        fail_on_file_fault(fault)
    staged = load.staging
    context.log.info(
        f"{load.input_rows} rows read: {len(staged)} referrals staged, {load.superseded_rows} "
        f"earlier versions superseded by a later extract, {len(load.quarantine)} quarantined"
    )
    by_year = staged.groupby(staged["referral_date"].dt.year).size()
    not_in_lookup = int((staged["lsoa_code"].notna() & staged["imd_decile"].isna()).sum())
    table = StagedTable.from_load(
        STAGING,
        load,
        "Referrals, one row per referral (record level).",
        STAGING_DESCRIPTIONS,
        {
            "superseded_rows": load.superseded_rows,
            "referrals_changed_in_later_extract": int(
                staged["changed_in_later_extract"].notna().sum()
            ),
            "lsoas_not_in_lookup": not_in_lookup,
            "lsoas_blank": int(staged["lsoa_code"].isna().sum()),
            "referrals_by_year": MetadataValue.json({str(k): int(v) for k, v in by_year.items()}),
            "status": MetadataValue.json(
                {str(k): int(v) for k, v in staged["status"].value_counts().items()}
            ),
        },
    )
    yield from publish_staging(
        wh,
        [table],
        QUARANTINE,
        load.quarantine,
        "Rejected referral rows.",
        load.files,
        ceiling=settings.max_quarantine_share(),
    )


def _staged(wh: Warehouse, columns: list[str], where: str | None = None) -> pd.DataFrame:
    return wh.read_table("staging", STAGING.path[1], columns, where)


def _reporting_months(wh: Warehouse) -> pd.DatetimeIndex:
    """The months a full build of the marts covers (:func:`reporting_months`), from the first
    referral and the latest extract as the database finds them."""
    first, last = first_and_last(wh, STAGING.path[1], "referral_date", "extract_date")
    return reporting_months(pd.DataFrame({"referral_date": [first], "extract_date": [last]}))


def spc_chart(rows: pd.DataFrame, value: str, measure: str, prefix: str = "") -> str:
    """The XmR chart of one series of a mart (its SPC columns named ``prefix + spc_...``) as
    Markdown with the PNG inline."""
    spc = load_spc_settings()[measure]
    frame = rows.rename(columns={prefix + c: c for c in SPC_COLUMNS})
    title = spc.label or measure
    png = spc_chart_png(frame, title, spc.value_label or value, "month", value, target=spc.target)
    return png_markdown(png, f"{title}, Coventry, by month, with SPC limits")


def _latest(rows: pd.DataFrame, columns: list[str]) -> MetadataValue:
    """The figures of the latest month, JSON-ready (a handful of columns, not rows)."""
    latest = rows.sort_values("month").tail(1)[columns].iloc[0]
    figures = {}
    for name, value in latest.items():
        if pd.isna(value):
            figures[name] = None
        elif isinstance(value, pd.Timestamp):
            figures[name] = value.date().isoformat()
        else:
            figures[name] = value.item() if hasattr(value, "item") else value
    return MetadataValue.json(figures)


@mart_asset(
    TRENDS,
    GROUP,
    [STAGING],
    description="Referrals received by month, for all referrals and by presenting need, referral "
    "source, age band, sex, ethnic group and deprivation group: monthly count, rolling 12-month "
    "total, change on the same month a year earlier, and XmR (SPC) columns with demand treated "
    "as neutral. Counts of 1-7 withheld.",
)
def referral_trends_mart(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    wh = warehouse.warehouse

    def whole():
        staged = _staged(wh, TRENDS_INPUT_COLUMNS)
        return referral_trends(staged), len(staged), None

    def by_month(stored: pd.DataFrame, months: list[pd.Timestamp]):
        reporting = _reporting_months(wh)
        staged = _staged(wh, TRENDS_INPUT_COLUMNS, in_months("referral_date", months))
        return referral_trends_for_months(stored, staged, months, reporting), len(staged), months

    table, rebuilt = rebuild_by_month(context, wh, TRENDS, whole, by_month)
    everyone = table[table["breakdown"] == ALL]
    columns = ["month", "referrals", "referrals_rolling_12m", "change_on_last_year"]
    return publish_mart(
        wh,
        TRENDS,
        table,
        "Referrals to the young people's risky-behaviour service by month, with SPC.",
        TRENDS_DESCRIPTIONS,
        {
            **rebuilt,
            "chart": MetadataValue.md(spc_chart(everyone, "referrals", "referrals")),
            "latest_month": _latest(everyone, [*columns, "spc_variation", "spc_rule"]),
        },
    )


@mart_asset(
    WAITING,
    GROUP,
    [STAGING],
    description="The waiting list at each month end (referred, no first contact, not "
    "discharged) with the median, 90th percentile and number over the threshold "
    "(COV_REFERRAL_WAIT_THRESHOLD_DAYS, default 42 days) of days waited so far; median and 90th "
    "percentile wait to first contact of those first seen in the month; discharges; XmR (SPC) "
    "on the waiting list and the median wait (lower is better). For all and by each "
    "breakdown; counts of 1-7 withheld.",
)
def referral_waiting_mart(
    context: AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> MaterializeResult:
    wh = warehouse.warehouse
    threshold = settings.wait_threshold_days()

    def whole():
        staged = _staged(wh, WAITING_INPUT_COLUMNS)
        return referral_waiting(staged, threshold), len(staged), None

    def by_month(stored: pd.DataFrame, months: list[pd.Timestamp]):
        reporting = _reporting_months(wh)
        staged = _staged(wh, WAITING_INPUT_COLUMNS, open_from(min(months)))
        table = referral_waiting_for_months(stored, staged, months, reporting, threshold)
        return table, len(staged), [month for month in reporting if month >= min(months)]

    table, rebuilt = rebuild_by_month(context, wh, WAITING, whole, by_month)
    everyone = table[table["breakdown"] == ALL]
    columns = [
        "month",
        "waiting_list",
        "waiting_median_days",
        "waiting_over_threshold",
        "first_seen_median_wait_days",
        "waiting_list_spc_variation",
        "median_wait_spc_variation",
    ]
    return publish_mart(
        wh,
        WAITING,
        table,
        "Waiting list and waiting times of the young people's risky-behaviour service by month.",
        WAITING_DESCRIPTIONS,
        {
            **rebuilt,
            "chart": MetadataValue.md(
                spc_chart(everyone, "waiting_list", "waiting_list", "waiting_list_")
            ),
            "chart_median_wait": MetadataValue.md(
                spc_chart(
                    everyone, "first_seen_median_wait_days", "median_wait_days", "median_wait_"
                )
            ),
            "latest_month": _latest(everyone, columns),
            "wait_threshold_days": threshold,
            "recent_months": MetadataValue.md(
                markdown_table(everyone.sort_values("month", ascending=False)[columns[:5]], rows=12)
            ),
        },
    )


REFERRALS_ASSETS = [referrals_staging, referral_trends_mart, referral_waiting_mart]

SOURCE_SPEC = Source(
    name="referrals",
    group=GROUP,
    assets=REFERRALS_ASSETS,
    quarantine="referrals_quarantine",
    staging=["referrals"],
    raw_folder="referrals",
    reads=DEPRIVATION_ASSETS,
    job_description="Referral extracts of the young people's service to staging, marts and quality.",
    sample="cov_pipeline.sample_data.referrals:generate_referrals",
    monthly_marts=[TRENDS, WAITING],
)
