"""Maternity: the provider's bookings and births extracts and the DHSC terminations table, their
quarantine, and the proxy-measure marts (late bookings, premature deliveries, pregnancy outcomes,
preterm outcomes) with SPC charts, at full detail for the team."""

from collections.abc import Callable, Iterator

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
)

from assets.by_month import first_and_last, rebuild_by_month
from assets.checks import StagedTable, mart_asset, publish_mart, publish_staging, staging_asset
from assets.deprivation import DEPRIVATION_ASSETS, IMD_LSOA
from assets.metadata import fail_on_file_fault, markdown_table
from assets.registry import Source
from cov_pipeline.charts import png_markdown, spc_chart_png
from cov_pipeline.maternity import (
    BIRTH_STAGING_DESCRIPTIONS,
    BIRTHS_PATTERN,
    BOOKING_STAGING_DESCRIPTIONS,
    BOOKINGS_PATTERN,
    PREGNANCY_OUTCOME_DESCRIPTIONS,
    SOURCE,
    TERMINATION_STAGING_DESCRIPTIONS,
    TERMINATIONS_PATTERN,
    TableLoad,
    build_pregnancy_outcomes,
    build_preterm_outcomes,
    late_bookings_descriptions,
    late_bookings_with_spc,
    load_maternity,
    load_maternity_definitions,
    premature_deliveries_descriptions,
    premature_deliveries_with_spc,
    preterm_outcomes_descriptions,
    spc_chart_frame,
)
from cov_pipeline.maternity.by_month import (
    late_bookings_for_months,
    premature_deliveries_for_months,
)
from cov_pipeline.months import in_months
from cov_pipeline.msds import FILE_PATTERN as MSDS_PATTERN
from cov_pipeline.quality import FileFault
from cov_pipeline.raw_reader import matches
from cov_pipeline.spc import load_spc_settings, summarise_latest
from cov_pipeline.warehouse import Warehouse
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

GROUP = "maternity"
BOOKINGS = AssetKey(["staging", "maternity_bookings"])
BIRTHS = AssetKey(["staging", "maternity_births"])
TERMINATIONS = AssetKey(["staging", "terminations"])
QUARANTINE = AssetKey(["quality", "maternity_quarantine"])
REVISIONS = AssetKey(["quality", "maternity_revisions"])
LATE_BOOKINGS = AssetKey(["marts", "late_bookings"])
PREMATURE_DELIVERIES = AssetKey(["marts", "premature_deliveries"])
PREGNANCY_OUTCOMES = AssetKey(["marts", "pregnancy_outcomes"])
PRETERM_OUTCOMES = AssetKey(["marts", "preterm_outcomes"])

# The staging columns each mart reads (record-level tables are read column by column, not
# whole): the breakdowns need the mother's age band, ethnic category, LSOA and NRPF flag.
_BREAKDOWN_COLUMNS = ["mother_age_band", "ethnic_category", "lsoa_code", "nrpf"]
MOTHER_COLUMNS = {
    "bookings": ["booking_date", "gestation_at_booking_days", *_BREAKDOWN_COLUMNS],
    "births": ["birth_date", "gestation_at_birth_days", "birth_outcome", *_BREAKDOWN_COLUMNS],
}
PRETERM_OUTCOME_COLUMNS = [
    *MOTHER_COLUMNS["births"],
    "neonatal_unit_admission",
    "survived_28_days",
    "survived_1_year",
]
PREGNANCY_COLUMNS = {
    "bookings": ["booking_date", "mother_age_band"],
    "births": ["booking_pseudo_id", "birth_date", "birth_outcome", "mother_age_band"],
}
IMD_COLUMNS = ["lsoa_code", "imd_decile"]

_STAGED = {
    # asset key -> (table description, column descriptions)
    BOOKINGS: (
        "Antenatal bookings, one row per booking (record level).",
        BOOKING_STAGING_DESCRIPTIONS,
    ),
    BIRTHS: (
        "Births, one row per baby, live or stillborn (record level).",
        BIRTH_STAGING_DESCRIPTIONS,
    ),
    TERMINATIONS: (
        "Abortions to residents by area, year and age group (DHSC).",
        TERMINATION_STAGING_DESCRIPTIONS,
    ),
}


@staging_asset(
    "maternity_staging",
    GROUP,
    {
        BOOKINGS: (
            "Every antenatal booking in data/raw/maternity/bookings*.csv (pseudonymised provider "
            "extract): typed, validated (pandera: gestation in (0, 400) days, NHS ethnic codes, "
            "age bands, LSOA in the IMD lookup, no date in the future, pseudo id unique). Record "
            "level: staging schema only.",
            "maternity bookings",
        ),
        BIRTHS: (
            "Every baby in data/raw/maternity/births*.csv, live or stillborn, with neonatal unit "
            "admission and survival where known, linked to its booking (a birth before its "
            "booking is quarantined). Record level: staging schema only.",
            "maternity births",
        ),
        TERMINATIONS: (
            "Abortions to residents by area, year and age group from the DHSC abortion "
            "statistics tables in data/raw/maternity/terminations*.csv ('*' suppressed by DHSC: "
            "missing; '-' zero).",
            "terminations",
        ),
    },
    QUARANTINE,
    "Maternity rows rejected with their file, line and every reason (impossible gestation, a "
    "birth before its booking, a date in the future, an unknown ethnic code, an LSOA missing "
    "from the lookup, a repeated pseudo id, ...).",
    deps=[IMD_LSOA],
    revisions_key=REVISIONS,
)
def maternity_staging(
    context: AssetExecutionContext,
    raw_files: RawFilesResource,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
) -> Iterator:
    wh = warehouse.warehouse
    patterns = (BOOKINGS_PATTERN, BIRTHS_PATTERN, TERMINATIONS_PATTERN)
    imd = wh.read_table("staging", IMD_LSOA.path[1], ["lsoa_code"])
    try:
        files = raw_files.discover(
            context.log, SOURCE, patterns, "maternity extracts", others=[MSDS_PATTERN]
        )
        paths = [[p for p in files if matches(p.name, pattern)] for pattern in patterns]
        load = load_maternity(*paths, imd, as_of=settings.today())
    except FileFault as fault:
        fail_on_file_fault(fault)
    tables: dict[AssetKey, TableLoad] = {
        BOOKINGS: load.bookings,
        BIRTHS: load.births,
        TERMINATIONS: load.terminations,
    }
    for key, table in tables.items():
        context.log.info(
            f"{key.path[1]}: {table.input_rows} rows read, {len(table.staging)} staged, "
            f"{len(table.quarantine)} quarantined, {len(table.revisions)} copies or earlier "
            "versions collapsed (quality.maternity_revisions)"
        )
    staged = [
        StagedTable.from_load(
            key, table, *_STAGED[key], {"quarantined_rows": len(table.quarantine)}
        )
        for key, table in tables.items()
    ]
    # all four tables change together, or none does
    yield from publish_staging(
        wh,
        staged,
        QUARANTINE,
        load.quarantine,
        "Rejected maternity rows.",
        load.files,
        revisions=(REVISIONS, load.revisions),
        ceiling=settings.max_quarantine_share(),
    )


def _json_ready(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value.item() if hasattr(value, "item") else value


def _chart(table: pd.DataFrame, value_col: str, prefix: str, measure: str) -> dict:
    """The XmR chart (PNG in Markdown), the latest point's SPC reading and the number of special-
    cause points of one monthly series, from the team's mart (full detail: the UI is the team's
    view; the published tier has its own rules)."""
    spc = load_spc_settings()[measure]
    frame = spc_chart_frame(table, value_col, prefix)
    title = spc.label or measure
    png = spc_chart_png(
        frame, title, spc.value_label or value_col, "period_start", value_col, target=spc.target
    )
    latest = summarise_latest(frame, period_col="period_start", value_col=value_col).iloc[0]
    reading = {
        k: _json_ready(latest[k])
        for k in ("latest_period", "latest_value", "spc_rule", "spc_variation", "n_points")
    }
    return {
        f"{measure}_spc_chart": MetadataValue.md(
            png_markdown(png, f"{title}, Coventry, by month, with SPC limits")
        ),
        f"{measure}_latest": MetadataValue.json(reading),
        f"{measure}_special_cause_points": int(frame["spc_rule"].notna().sum()),
    }


def _yearly(table: pd.DataFrame, columns: list[str]) -> MetadataValue:
    rows = table[(table["period_type"] == "year") & (table["breakdown"] == "all")]
    return MetadataValue.md(markdown_table(rows[["period_start", *columns]], rows=20))


def _mart_asset(key: AssetKey, deps: list[AssetKey], description: str) -> Callable:
    """A maternity mart (:func:`assets.checks.mart_asset` in the maternity group)."""
    return mart_asset(key, GROUP, deps, description)


def _staging(
    wh: Warehouse, key: AssetKey, columns: list[str] | None = None, where: str | None = None
) -> pd.DataFrame:
    return wh.read_table("staging", key.path[1], columns, where)


def _monthly_mart(
    context: AssetExecutionContext,
    wh: Warehouse,
    key: AssetKey,
    staged: AssetKey,
    date_column: str,
    whole: Callable[..., pd.DataFrame],
    for_months: Callable[..., pd.DataFrame],
) -> tuple[pd.DataFrame, dict]:
    """A monthly mart (late bookings, premature deliveries) built from ``staged`` (its records
    dated by ``date_column``) by ``whole``, or by ``for_months`` from the stored mart and the
    records of the months the run asks for (:func:`assets.by_month.rebuild_by_month`)."""
    definitions = load_maternity_definitions()
    spc = load_spc_settings()
    columns = MOTHER_COLUMNS[staged.path[1].removeprefix("maternity_")]
    imd = _staging(wh, IMD_LSOA, IMD_COLUMNS)

    def build_whole():
        records = _staging(wh, staged, columns)
        return whole(records, imd, definitions, spc), len(records), None

    def build_months(stored: pd.DataFrame, months: list[pd.Timestamp]):
        coverage = first_and_last(wh, staged.path[1], date_column)
        records = _staging(wh, staged, columns, in_months(date_column, months))
        table = for_months(stored, records, imd, months, coverage, definitions, spc)
        return table, len(records), months

    return rebuild_by_month(context, wh, key, build_whole, build_months)


@_mart_asset(
    LATE_BOOKINGS,
    [BOOKINGS, IMD_LSOA],
    "Bookings, booked by 10+0 weeks, late (13+0 or later) and very late (20+1 or later) "
    "bookings by month, quarter and year, for all women and by deprivation, IMD quintile, "
    "ethnic group, ethnic minority, no recourse to public funds and age band: percentages with "
    "Wilson 95% CIs, SPC on the monthly late booking % (lower is better).",
)
def late_bookings_mart(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    wh = warehouse.warehouse
    table, rebuilt = _monthly_mart(
        context,
        wh,
        LATE_BOOKINGS,
        BOOKINGS,
        "booking_date",
        late_bookings_with_spc,
        late_bookings_for_months,
    )
    return publish_mart(
        wh,
        LATE_BOOKINGS,
        table,
        "Late antenatal bookings.",
        late_bookings_descriptions(load_maternity_definitions()),
        {
            **rebuilt,
            **_chart(table, "late_booking_pct", "late_booking", "late_booking_pct"),
            "all_women_by_year": _yearly(
                table, ["bookings", "late_bookings", "late_booking_pct", "booked_by_10_weeks_pct"]
            ),
        },
    )


@_mart_asset(
    PREMATURE_DELIVERIES,
    [BIRTHS, IMD_LSOA],
    "Births, live births and stillbirths; preterm (under 37+0 weeks), very preterm (28+0 to "
    "31+6) and extremely preterm (under 28+0) births by month, quarter and year, for all women "
    "and each target group: rates per 1,000 births with Byars / exact Poisson 95% CIs, SPC on "
    "the monthly preterm and extremely preterm rates (lower is better).",
)
def premature_deliveries_mart(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    wh = warehouse.warehouse
    table, rebuilt = _monthly_mart(
        context,
        wh,
        PREMATURE_DELIVERIES,
        BIRTHS,
        "birth_date",
        premature_deliveries_with_spc,
        premature_deliveries_for_months,
    )
    return publish_mart(
        wh,
        PREMATURE_DELIVERIES,
        table,
        "Premature deliveries.",
        premature_deliveries_descriptions(load_maternity_definitions()),
        {
            **rebuilt,
            **_chart(table, "preterm_per_1000", "preterm", "preterm_rate"),
            **_chart(
                table, "extremely_preterm_per_1000", "extremely_preterm", "extremely_preterm_rate"
            ),
            "all_births_by_year": _yearly(
                table, ["births", "preterm_per_1000", "extremely_preterm_per_1000"]
            ),
        },
    )


@_mart_asset(
    PREGNANCY_OUTCOMES,
    [BOOKINGS, BIRTHS, TERMINATIONS],
    "By calendar year, for all women and by age band: pregnancies (PROXY: bookings plus "
    "terminations to residents), bookings, terminations (DHSC), maternities, live births and "
    "stillbirths, and terminations as a share of pregnancies.",
)
def pregnancy_outcomes_mart(
    context: AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> MaterializeResult:
    wh = warehouse.warehouse
    area_code = settings.home_area()
    table = build_pregnancy_outcomes(
        _staging(wh, BOOKINGS, PREGNANCY_COLUMNS["bookings"]),
        _staging(wh, BIRTHS, PREGNANCY_COLUMNS["births"]),
        _staging(wh, TERMINATIONS),
        area_code,
    )
    return publish_mart(
        wh,
        PREGNANCY_OUTCOMES,
        table,
        "Pregnancy outcomes by year.",
        PREGNANCY_OUTCOME_DESCRIPTIONS,
        {
            "all_women_by_year": _yearly(
                table, ["pregnancies", "bookings", "terminations", "live_births", "stillbirths"]
            ),
            "area_code": area_code,
        },
    )


@_mart_asset(
    PRETERM_OUTCOMES,
    [BIRTHS, IMD_LSOA],
    "For live-born babies by gestation band (extremely, very, moderate to late, all preterm; "
    "term for comparison), by year of birth, for all women and each target group: neonatal "
    "unit admission, survival to 28 days and to 1 year where known, with Wilson 95% CIs.",
)
def preterm_outcomes_mart(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    wh = warehouse.warehouse
    definitions = load_maternity_definitions()
    table = build_preterm_outcomes(
        _staging(wh, BIRTHS, PRETERM_OUTCOME_COLUMNS),
        _staging(wh, IMD_LSOA, IMD_COLUMNS),
        definitions,
    )
    everyone = table[table["breakdown"] == "all"]
    return publish_mart(
        wh,
        PRETERM_OUTCOMES,
        table,
        "Outcomes of preterm babies.",
        preterm_outcomes_descriptions(definitions),
        {
            "all_women": MetadataValue.md(
                markdown_table(
                    everyone[
                        [
                            "period_start",
                            "gestation_band",
                            "live_births",
                            "nnu_admission_pct",
                            "survival_28_days_pct",
                            "survival_1_year_pct",
                        ]
                    ],  # fmt: skip
                    rows=40,
                )
            ),
        },
    )


MATERNITY_ASSETS = [
    maternity_staging,
    late_bookings_mart,
    premature_deliveries_mart,
    pregnancy_outcomes_mart,
    preterm_outcomes_mart,
]

SOURCE_SPEC = Source(
    name="maternity",
    group=GROUP,
    assets=MATERNITY_ASSETS,
    quarantine="maternity_quarantine",
    staging=["maternity_bookings", "maternity_births", "terminations"],
    raw_folder="maternity",
    reads=DEPRIVATION_ASSETS,
    job_description="Maternity extracts and MSDS publications to staging, marts and quality tables.",
    sample="cov_pipeline.sample_data.maternity:generate_maternity",
    monthly_marts=[LATE_BOOKINGS, PREMATURE_DELIVERIES],
)
