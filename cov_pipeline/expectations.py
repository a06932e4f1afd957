"""Great Expectations 1.x suites on the marts and published tables: the output expectations.

pandera holds the input contracts (raw tables); these suites hold what the marts promise analysts:
rates within bounds, CIs around values, keys unique, no unsuppressed small counts.

Using it::

    result = validate_mart("marts.indicator_values", frame, docs_dir=Path("data/warehouse/docs"))
    result.success, result.results, result.failures  # per-expectation outcomes, failures first

``validate_mart`` validates an in-memory frame (an ephemeral GX context, a pandas data source with
one dataframe asset per mart, a whole-frame batch definition, the frame passed as the batch
parameter) and, given ``docs_dir``, runs a checkpoint whose ``UpdateDataDocsAction`` writes Data Docs
to a filesystem site rooted at ``docs_dir`` (``docs_dir/index.html``). Validation pages of earlier
runs stay in the folder and remain listed in the index, so the site keeps the history.

Adding a suite for a new mart takes a few lines: write a function that imports GX's expectations
inside it and returns a list of them, and register it under the mart's ``schema.table`` name::

    @suite("marts.my_new_mart")
    def _my_new_mart() -> list:
        import great_expectations.expectations as gxe

        return [
            gxe.ExpectColumnValuesToNotBeNull(column="area_code"),
            gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=100),
            *ci_around("value", "ci95_lower", "ci95_upper"),
            *no_unsuppressed_small_counts("count", exempt_england=True),
        ]

Restrict an expectation to some rows with ``row_condition=Column("unit") == "%"`` (GX Condition
objects from ``great_expectations.expectations.row_conditions``; combine with ``&`` / ``|``); the
string form is deprecated since GX 1.9. Give an expectation ``notes=`` where its reason is not
obvious: notes show in Data Docs. ``assets.expectations.gx_asset_checks`` then turns the mart into
a Dagster asset check: add its ``"schema.table": AssetKey([...])`` to ``GX_CHECKS`` there.

GX is imported lazily, inside the functions (it costs seconds to import), with
``GX_ANALYTICS_ENABLED=false`` unless already set; the context is created once per process and
cached, with progress bars off, and so are each mart's suite, validation definition and
checkpoint (the suites are fixed while a process runs). Data Docs pages are rendered by GX's views
with their templates compiled once per process (:mod:`cov_pipeline.gx_docs`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cov_pipeline.disclosure import SMALL_COUNT_MAX, SMALL_COUNT_MIN

SMALL_COUNTS = list(range(SMALL_COUNT_MIN, SMALL_COUNT_MAX + 1))  # suppressed below England
ENGLAND_ROLE = "england"
DATA_SOURCE = "marts"
UNEXPECTED_SAMPLE = 5

SUITES: dict[str, Callable[[], list[Any]]] = {}


def suite(table_name: str) -> Callable[[Callable[[], list[Any]]], Callable[[], list[Any]]]:
    """Register a function returning a mart's expectations under its ``schema.table`` name."""

    def register(build: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
        if table_name in SUITES:
            raise ValueError(f"a suite for {table_name} is already registered")
        SUITES[table_name] = build
        return build

    return register


# -- reusable pieces -------------------------------------------------------------------------------
def not_null(*columns: str) -> list[Any]:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns]


def ci_around(value: str, lower: str, upper: str) -> list[Any]:
    """``lower <= value <= upper`` on every row where both sides of a comparison are present."""
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=value, column_B=lower, or_equal=True, mostly=1.0,
            ignore_row_if="either_value_is_missing", notes=f"{lower} <= {value} where both known.",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=upper, column_B=value, or_equal=True, mostly=1.0,
            ignore_row_if="either_value_is_missing", notes=f"{value} <= {upper} where both known.",
        ),
    ]  # fmt: skip


def no_unsuppressed_small_counts(
    count: str = "count",
    suppressed_flag: str | None = "is_suppressed",
    exempt_england: bool = True,
) -> list[Any]:
    """No count of 1-7 is published below England level unless its row is flagged suppressed.

    A row condition restricts the expectation to rows that are not flagged (when the mart has the
    flag) and, with ``exempt_england``, not England's (published whole, docs/definitions.md).
    """
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    condition = None
    if suppressed_flag is not None:
        condition = Column(suppressed_flag) == False  # noqa: E712 (a GX condition, not a test)
    if exempt_england:
        not_england = Column("area_role") != ENGLAND_ROLE
        condition = not_england if condition is None else condition & not_england
    return [
        gxe.ExpectColumnValuesToNotBeInSet(
            column=count,
            value_set=SMALL_COUNTS,
            row_condition=condition,
            notes="Disclosure control: a count of 1-7 below England level must be suppressed "
            "(null, with every figure derived from it).",
        )
    ]


# -- the suites ------------------------------------------------------------------------------------
INDICATOR_VALUES_KEY = ["indicator_id", "area_code", "sex", "age", "time_period"]


@suite("marts.indicator_values")
def _indicator_values() -> list[Any]:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *not_null("indicator_id", "area_code", "time_period", "area_role"),
        gxe.ExpectColumnValuesToBeInSet(
            column="area_role", value_set=["england", "region", "home", "cipfa_neighbour"]
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="value", min_value=0, max_value=1000,
            notes="Values are rates per 1,000 or percentages.",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="value", min_value=0, max_value=100, row_condition=Column("unit") == "%",
            notes="A percentage lies in 0-100.",
        ),
        # The published value within its published CI is an input contract (pandera's
        # FingertipsRow), not repeated here (no rule in both); ours is checked.
        *ci_around("recomputed_value", "recomputed_ci95_lower", "recomputed_ci95_upper"),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=INDICATOR_VALUES_KEY,
            notes="One headline row per indicator, area, sex, age and period.",
        ),
    ]  # fmt: skip


@suite("marts.infant_mortality_benchmark")
def _infant_mortality_benchmark() -> list[Any]:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=3, max_value=20,
            notes="England, the home area and its CIPFA neighbours (five in the business plan).",
        ),
        *not_null("display_order", "area_code", "area_role", "time_period"),
        gxe.ExpectColumnValuesToBeInSet(
            column="area_role", value_set=["england", "home", "cipfa_neighbour"]
        ),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="area_role", value_set=["england", "home"],
            notes="The table has an England row and a home-area row...",
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column="area_role", row_condition=Column("area_role").is_in(["england", "home"]),
            notes="...and exactly one of each.",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="value", min_value=0, max_value=50,
            notes="Infant mortality per 1,000 live births.",
        ),
        gxe.ExpectColumnUniqueValueCountToBeBetween(
            column="time_period", min_value=1, max_value=1,
            notes="Every row is for the same (latest) period.",
        ),
        gxe.ExpectColumnValuesToBeUnique(column="display_order"),
        gxe.ExpectColumnValuesToBeUnique(column="area_code"),
        gxe.ExpectColumnValuesToBeUnique(column="cipfa_neighbour_rank"),
    ]  # fmt: skip


# -- results ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, in plain Python types."""

    expectation_type: str
    column: str | None
    success: bool
    observed_value: Any = None
    unexpected_count: int | None = None
    unexpected_values: list[Any] = field(default_factory=list)
    exception: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation_type,
            "column": self.column or "",
            "success": self.success,
            "observed_value": self.observed_value,
            "unexpected_count": self.unexpected_count,
            "unexpected_values": ", ".join(str(v) for v in self.unexpected_values),
            "exception": self.exception or "",
        }


@dataclass(frozen=True)
class MartValidation:
    table_name: str
    success: bool
    results: list[ExpectationOutcome]
    data_docs: Path | None = None

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]

    @property
    def evaluated(self) -> int:
        return len(self.results)

    def failures_frame(self) -> pd.DataFrame:
        """The failed expectations, one row each (without the always-false success column)."""
        columns = [c for c in ExpectationOutcome("", None, True).as_row() if c != "success"]
        rows = [r.as_row() for r in self.failures]
        return pd.DataFrame(rows, columns=[*columns, "success"])[columns]

    def failed_expectation_types(self) -> list[str]:
        return [r.expectation_type for r in self.failures]


# -- the GX machinery ------------------------------------------------------------------------------
_lock = threading.Lock()


@functools.cache
def _context():
    """The process's ephemeral GX context: in-memory stores, no analytics, no progress bars."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.config.analytics_enabled = False
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.data_sources.add_pandas(DATA_SOURCE)
    return context


def _batch_definition(context, table_name: str):
    source = context.data_sources.get(DATA_SOURCE)
    try:
        asset = source.get_asset(table_name)
    except LookupError:
        asset = source.add_dataframe_asset(table_name)
    try:
        return asset.get_batch_definition("whole_frame")
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe("whole_frame")


def _docs_site(context, docs_dir: Path) -> str:
    """A filesystem Data Docs site rooted at ``docs_dir`` (one site per folder, added once)."""
    root = str(docs_dir.resolve())
    name = "docs_" + hashlib.sha1(root.encode()).hexdigest()[:10]
    if name not in context.list_data_docs_sites():
        from cov_pipeline.gx_docs import site_views_config

        context.add_data_docs_site(
            name,
            {
                "class_name": "SiteBuilder",
                **site_views_config(),
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": root,
                },
            },
        )
    return name


@functools.cache
def _validation_definition(table_name: str) -> tuple[Any, dict[str, int]]:
    """The validation definition of ``table_name``'s suite, and each expectation's place in it.

    Registered once per process and table: the suites do not change while it runs, and
    registering a suite again costs GX a comparison of every expectation with every other
    (0.6 s for the larger suites). Call with ``_lock`` held.
    """
    import great_expectations as gx

    context = _context()
    suite_ = context.suites.add_or_update(
        gx.ExpectationSuite(name=table_name, expectations=SUITES[table_name]())
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(
            name=table_name, data=_batch_definition(context, table_name), suite=suite_
        )
    )
    return definition, {e.id: i for i, e in enumerate(suite_.expectations)}


@functools.cache
def _checkpoint(table_name: str, docs_dir: Path | None) -> Any:
    """The checkpoint running ``table_name``'s validation, building Data Docs into ``docs_dir``
    when given; once per process, table and folder. Call with ``_lock`` held."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    context = _context()
    definition, _ = _validation_definition(table_name)
    actions = []
    name = f"{table_name}__checkpoint"
    if docs_dir is not None:
        site = _docs_site(context, docs_dir)
        actions.append(UpdateDataDocsAction(name="update_data_docs", site_names=[site]))
        name = f"{name}__{site}"
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=actions,
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": UNEXPECTED_SAMPLE,
            },
        )
    )


def validate_mart(
    table_name: str,
    frame: pd.DataFrame,
    docs_dir: Path | str | None = None,
    *,
    run_name: str | None = None,
) -> MartValidation:
    """Validate a mart's frame against its registered suite; build Data Docs into ``docs_dir``.

    ``run_name`` (e.g. the Dagster run id) labels the validation in Data Docs. Raises KeyError for
    a table without a suite.
    """
    if table_name not in SUITES:
        raise KeyError(f"no Great Expectations suite registered for {table_name}")
    if docs_dir is not None:
        docs_dir = Path(docs_dir).resolve()
        docs_dir.mkdir(parents=True, exist_ok=True)
    with _lock:  # GX contexts are not thread-safe; one validation at a time per process
        from great_expectations.core.run_identifier import RunIdentifier

        checkpoint = _checkpoint(table_name, docs_dir)
        _, order = _validation_definition(table_name)
        run = checkpoint.run(
            batch_parameters={"dataframe": frame},
            run_id=RunIdentifier(run_name=run_name) if run_name else None,
        )
    (suite_result,) = run.run_results.values()
    # failures first, each group in the suite's order
    ranked = sorted(
        suite_result.results,
        key=lambda r: (bool(r.success), order.get(r.expectation_config.id, len(order))),
    )
    outcomes = [_outcome(r) for r in ranked]
    return MartValidation(
        table_name=table_name,
        success=bool(suite_result.success),
        results=outcomes,
        data_docs=docs_dir / "index.html" if docs_dir is not None else None,
    )


def _outcome(result) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = {k: v for k, v in dict(config.kwargs).items() if k not in ("batch_id",)}
    columns = kwargs.get("column") or kwargs.get("column_list")
    if columns is None and "column_A" in kwargs:
        columns = [kwargs["column_A"], kwargs["column_B"]]
    column = ", ".join(columns) if isinstance(columns, list) else columns
    details = dict(result.result or {})
    exception = _exception_message(result.exception_info or {})
    return ExpectationOutcome(
        expectation_type=config.type,
        column=column,
        success=bool(result.success),
        observed_value=_plain(details.get("observed_value")),
        unexpected_count=(
            int(details["unexpected_count"])
            if details.get("unexpected_count") is not None
            else None
        ),
        unexpected_values=[_plain(v) for v in details.get("partial_unexpected_list") or []][
            :UNEXPECTED_SAMPLE
        ],
        exception=exception,
        kwargs={k: _plain(v) for k, v in kwargs.items() if k != "row_condition"}
        | ({"row_condition": str(kwargs["row_condition"])} if kwargs.get("row_condition") else {}),
    )


def _exception_message(info: dict) -> str | None:
    """The first error GX caught while computing the expectation (e.g. a missing column)."""
    candidates = [info] if "raised_exception" in info else list(info.values())
    for candidate in candidates:
        if isinstance(candidate, dict) and candidate.get("raised_exception"):
            return str(candidate.get("exception_message"))[:300]
    return None


def _plain(value: Any) -> Any:
    """numpy scalars and tuples as plain Python values (for metadata and JSON)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


@suite("marts.household_survey_indicators")
def _household_survey_indicators() -> list[Any]:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *not_null("wave_year", "breakdown", "category", "indicator", "measure"),
        gxe.ExpectColumnValuesToBeInSet(column="measure", value_set=["proportion", "mean"]),
        gxe.ExpectColumnValuesToBeBetween(
            column="value", min_value=0, max_value=100, row_condition=Column("measure") == "proportion",
            notes="A weighted prevalence is a percentage.",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="value", min_value=7, max_value=35, row_condition=Column("measure") == "mean",
            notes="SWEMWBS metric scores run from 7 to 35.",
        ),
        *ci_around("value", "ci95_lower", "ci95_upper"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="unweighted_n", column_B="effective_n", or_equal=True, mostly=1.0,
            ignore_row_if="either_value_is_missing",
            notes="Kish's effective sample size never exceeds the respondents.",
        ),
        gxe.ExpectColumnValuesToBeNull(
            column="value", row_condition=Column("is_withheld") == True,  # noqa: E712
            notes="A value on fewer than 50 respondents is withheld.",
        ),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["wave_year", "breakdown", "category", "indicator"]),
    ]  # fmt: skip


@suite("marts.household_survey_change")
def _household_survey_change() -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *not_null("breakdown", "category", "indicator", "comparison", "from_wave", "to_wave"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="to_wave", column_B="from_wave", notes="A change runs forward in time.",
        ),
        gxe.ExpectColumnValuesToBeBetween(column="p_value", min_value=0, max_value=1),
        *ci_around("change", "change_ci95_lower", "change_ci95_upper"),
    ]  # fmt: skip


@suite("marts.maternity_vs_england")
def _maternity_vs_england() -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *not_null("period_type", "period", "org_code", "measure_id", "is_rounded_input"),
        gxe.ExpectColumnValuesToBeInSet(
            column="measure_id",
            value_set=["late_booking", "preterm", "extremely_preterm", "most_deprived_30pct"],
        ),
        gxe.ExpectColumnValuesToBeBetween(column="value_pct", min_value=0, max_value=100),
        *ci_around("value_pct", "ci95_lower", "ci95_upper"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="denominator", column_B="numerator", or_equal=True, mostly=1.0,
            ignore_row_if="either_value_is_missing", notes="A numerator is part of its denominator.",
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["period_type", "period", "org_code", "measure_id"],
            notes="One row per period, organisation and measure.",
        ),
    ]  # fmt: skip


@suite("marts.referral_trends")
def _referral_trends() -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *not_null("month", "breakdown", "category"),
        gxe.ExpectColumnValuesToBeBetween(column="referrals", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="referrals_rolling_12m", column_B="referrals", or_equal=True, mostly=1.0,
            ignore_row_if="either_value_is_missing",
            notes="A 12-month total includes its own month.",
        ),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["month", "breakdown", "category"]),
    ]  # fmt: skip


@suite("marts.referral_waiting")
def _referral_waiting() -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *not_null("month", "month_end", "breakdown", "category"),
        gxe.ExpectColumnValuesToBeBetween(column="waiting_list", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="waiting_median_days", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="waiting_p90_days", column_B="waiting_median_days", or_equal=True,
            mostly=1.0, ignore_row_if="either_value_is_missing",
            notes="The 90th percentile wait is at least the median.",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="waiting_list", column_B="waiting_over_threshold", or_equal=True,
            mostly=1.0, ignore_row_if="either_value_is_missing",
            notes="Those waiting over the threshold are part of the list.",
        ),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["month", "breakdown", "category"]),
    ]  # fmt: skip


# -- maternity marts (cov_pipeline.maternity) ------------------------------------------------------
MATERNITY_KEY = ["period_type", "period_start", "breakdown", "breakdown_value"]


def _maternity_common(counts: tuple[str, ...], period_types: list[str]) -> list[Any]:
    """Keys present, periods of a known type, counts never negative (the team's marts keep
    small counts: the published tier's suites hold the disclosure rule)."""
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *not_null("period_start", "period_type", "breakdown", "breakdown_value"),
        gxe.ExpectColumnValuesToBeInSet(column="period_type", value_set=period_types),
        *(gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in counts),
    ]


def _part_of(part: str, whole: str) -> Any:
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=whole, column_B=part, or_equal=True, mostly=1.0,
        ignore_row_if="either_value_is_missing", notes=f"{part} is part of {whole}.",
    )  # fmt: skip


def _share(name: str, maximum: float) -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column=name, min_value=0, max_value=maximum),
        *ci_around(name, f"{name}_ci95_lower", f"{name}_ci95_upper"),
    ]


@suite("marts.late_bookings")
def _late_bookings() -> list[Any]:
    import great_expectations.expectations as gxe

    from cov_pipeline.maternity import BOOKING_COUNTS

    return [
        *_maternity_common(BOOKING_COUNTS, ["month", "quarter", "year"]),
        _part_of("booked_by_10_weeks", "bookings"),
        _part_of("late_bookings", "bookings"),
        _part_of("very_late_bookings", "late_bookings"),
        *_share("booked_by_10_weeks_pct", 100),
        *_share("late_booking_pct", 100),
        *_share("very_late_booking_pct", 100),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=MATERNITY_KEY),
    ]


@suite("marts.premature_deliveries")
def _premature_deliveries() -> list[Any]:
    import great_expectations.expectations as gxe

    from cov_pipeline.maternity import BIRTH_COUNTS

    return [
        *_maternity_common(BIRTH_COUNTS, ["month", "quarter", "year"]),
        _part_of("live_births", "births"),
        _part_of("preterm_births", "births"),
        _part_of("very_preterm_births", "preterm_births"),
        _part_of("extremely_preterm_births", "preterm_births"),
        *_share("stillbirths_per_1000", 1000),
        *_share("preterm_per_1000", 1000),
        *_share("very_preterm_per_1000", 1000),
        *_share("extremely_preterm_per_1000", 1000),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=MATERNITY_KEY),
    ]


@suite("marts.pregnancy_outcomes")
def _pregnancy_outcomes() -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        *_maternity_common(
            (
                "pregnancies",
                "bookings",
                "terminations",
                "maternities",
                "live_births",
                "stillbirths",
            ),
            ["year"],
        ),
        _part_of("bookings", "pregnancies"),
        _part_of("terminations", "pregnancies"),
        *_share("termination_pct", 100),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=MATERNITY_KEY),
    ]


@suite("marts.preterm_outcomes")
def _preterm_outcomes() -> list[Any]:
    import great_expectations.expectations as gxe

    from cov_pipeline.maternity import PRETERM_OUTCOME_COUNTS

    return [
        *_maternity_common(PRETERM_OUTCOME_COUNTS, ["year"]),
        *not_null("gestation_band"),
        _part_of("nnu_admission_known", "live_births"),
        _part_of("nnu_admissions", "nnu_admission_known"),
        _part_of("survival_28_days_known", "live_births"),
        _part_of("deaths_under_28_days", "survival_28_days_known"),
        _part_of("survival_1_year_known", "live_births"),
        _part_of("deaths_under_1_year", "survival_1_year_known"),
        *_share("nnu_admission_pct", 100),
        *_share("survival_28_days_pct", 100),
        *_share("survival_1_year_pct", 100),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=[*MATERNITY_KEY, "gestation_band"]),
    ]


# -- the published tier (cov_pipeline.publishing) --------------------------------------------------
def _published_suite(spec) -> Callable[[], list[Any]]:
    """Every published table: rows, the withheld flag set, keys unique, and no count of 1-7
    shown (counts already public by their source, Fingertips and MSDS, are exempt)."""

    def build() -> list[Any]:
        import great_expectations.expectations as gxe

        keys = list(spec.keys)
        unique = (
            gxe.ExpectColumnValuesToBeUnique(column=keys[0])
            if len(keys) == 1
            else gxe.ExpectCompoundColumnsToBeUnique(column_list=keys)
        )
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *not_null(spec.flag_column),
            *(
                e
                for count in spec.counts
                if not count.public
                for e in no_unsuppressed_small_counts(
                    count.column, suppressed_flag=None, exempt_england=False
                )
            ),
            unique,
        ]

    return build


def _register_published_suites() -> None:
    from cov_pipeline.publishing import PUBLICATIONS

    for publishing in PUBLICATIONS:
        for spec in publishing.specs:
            suite(f"published.{spec.name}")(_published_suite(spec))


_register_published_suites()
