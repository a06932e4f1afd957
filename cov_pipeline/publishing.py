"""The ``published`` tier: which tables leave the team, at what granularity, and what binds them.

Each published table is declared here (:class:`cov_pipeline.disclosure.TableSpec`) and made from
its mart by the one disclosure engine (:mod:`cov_pipeline.disclosure`). Granularity is chosen so
the tables stay useful: maternity by quarter and year (months only for all women, whose monthly
counts are large), referrals by quarter and year, the waiting list at quarter ends. Tables that
share cells are published together (:data:`PUBLICATIONS`), so a cell carries one flag everywhere.
Figures already public (Fingertips, MSDS) pass through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cov_pipeline.disclosure import (
    DEFAULT_RULES,
    Base,
    Count,
    Identity,
    Link,
    Margin,
    Periods,
    Publication,
    Rules,
    Series,
    TableSpec,
    publish,
)
from cov_pipeline.maternity import (
    ALL_PRETERM,
    BIRTH_COUNTS,
    BOOKING_COUNTS,
    EXTREMELY_PRETERM,
    MODERATE_PRETERM,
    PRETERM_OUTCOME_COUNTS,
    TERM,
    VERY_PRETERM,
    add_birth_rates,
    add_late_booking_shares,
    add_outcome_shares,
)

FLAG = "is_suppressed"
FLAG_DESCRIPTION = (
    "True where a figure in the row is withheld (null) by disclosure control: a count of 1-7, a "
    "figure computed from one, a survey estimate on too few respondents, or a cell withheld so "
    "that no published total or difference gives another back (docs/disclosure.md)."
)
# quality.disclosure_summary: one row per published table, as an intruder sees it.
DISCLOSURE_SUMMARY_DESCRIPTIONS = {
    "table_name": "Published table (schema published).",
    "policy": "suppress (withhold small counts and what would give them back) or round (to 5).",
    "rows": "Rows in the published table.",
    "rows_with_withheld": "Rows with at least one figure withheld.",
    "count_cells": "Count cells the mart knows (rows × count columns, nulls left out).",
    "withheld_cells": "Count cells withheld.",
    "primary_cells": "Withheld because the count is 1-7 (primary suppression).",
    "secondary_cells": "Withheld so that no relation gives a primary cell back (secondary).",
    "withheld_share": "withheld_cells / count_cells.",
    "rows_withheld_share": "rows_with_withheld / rows.",
    "audit_failures": "Withheld cells the intruder's audit can pin down or narrow too far (must "
    "be 0), plus counts of 1-7 shown.",
}


def _ci(name: str) -> tuple[str, ...]:
    return (name, f"{name}_ci95_lower", f"{name}_ci95_upper")


def _spc(prefix: str) -> tuple[str, ...]:
    from cov_pipeline.spc import SPC_COLUMNS

    return tuple(f"{prefix}_{c}" for c in SPC_COLUMNS)


MATERNITY_KEYS = ("period_type", "period_start", "breakdown", "breakdown_value")
BREAKDOWN_MARGIN = Margin("breakdown_value", "All", family="breakdown")

# The plan's groups each have a small 'Not known' category (a blank LSOA, flag or ethnicity).
# Published on its own, its counts are mostly 1-7, and protecting it withholds one of the
# plan's two groups beside it (the other 70% lost its late-booking percentage most years). So
# it is published together with the group it least changes, and says so.
NOT_KNOWN_JOINS = {
    ("deprivation_group", "Not known"): "Other 70% (deciles 4-10) or not known",
    ("deprivation_group", "Other 70% (deciles 4-10)"): "Other 70% (deciles 4-10) or not known",
    ("ethnic_minority", "Not known"): "White British or not known",
    ("ethnic_minority", "White British"): "White British or not known",
    ("nrpf", "Not known"): "Recourse to public funds or not known",
    ("nrpf", "Recourse to public funds"): "Recourse to public funds or not known",
}


def join_not_known(
    counts: tuple[str, ...], recompute: Callable[[pd.DataFrame], None], extra: tuple[str, ...] = ()
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A ``select`` step: the rows of :data:`NOT_KNOWN_JOINS` summed under their joint label,
    their shares and rates recomputed from the summed counts by ``recompute`` (the mart's own
    functions); every other row as the mart has it."""

    def joined(mart: pd.DataFrame) -> pd.DataFrame:
        label = pd.Series(
            [
                NOT_KNOWN_JOINS.get(k)
                for k in zip(mart["breakdown"], mart["breakdown_value"], strict=True)
            ],
            index=mart.index,
        )
        members = mart[label.notna()].assign(breakdown_value=label.dropna())
        keys = [*MATERNITY_KEYS, *extra]
        summed = members.groupby(keys, sort=False)[list(counts)].sum(min_count=1).reset_index()
        recompute(summed)
        merged = pd.concat([mart[label.isna()], summed], ignore_index=True)
        for column in counts:
            merged[column] = merged[column].astype("Int64")
        return merged[[c for c in mart.columns if c in merged.columns]]

    return joined


def _then(*steps):
    def selected(mart: pd.DataFrame) -> pd.DataFrame:
        for step in steps:
            mart = step(mart)
        return mart

    return selected


# The business plan's target groups; the finer breakdowns (ethnic group, IMD quintile, age band)
# are published by year only, or stay in the team's marts where outcomes are rare.
PLAN_BREAKDOWNS = ("all", "deprivation_group", "ethnic_minority", "nrpf")


def _quarters_years_and_all_women_months(mart: pd.DataFrame) -> pd.DataFrame:
    """Months are mostly small numbers below all women: years for every group, quarters for
    the plan's groups, months for all women only."""
    period, breakdown = mart["period_type"], mart["breakdown"]
    keep = (
        (period == "year")
        | ((period == "quarter") & breakdown.isin(PLAN_BREAKDOWNS))
        | (breakdown == "all")
    )
    return mart[keep]


def _births_and_prematurity(mart: pd.DataFrame) -> pd.DataFrame:
    """Stillbirths are a few a year in most groups; with births and live births both shown,
    each is their difference. So this table shows births and prematurity; live births and
    stillbirths are published by year in pregnancy_outcomes."""
    return mart.drop(columns=["live_births", "stillbirths", *_ci("stillbirths_per_1000")])


def _years_and_all_women_quarters(mart: pd.DataFrame) -> pd.DataFrame:
    """Rare events (stillbirths, very and extremely preterm births) are small numbers in most
    months, and in most quarters of a group: years for the plan's groups, quarters for all
    women."""
    period, breakdown = mart["period_type"], mart["breakdown"]
    keep = ((period == "year") & breakdown.isin(PLAN_BREAKDOWNS)) | (
        (period == "quarter") & (breakdown == "all")
    )
    return mart[keep]


def _without_spc(mart: pd.DataFrame) -> pd.DataFrame:
    return mart[[c for c in mart.columns if "_spc_" not in c]]


def _all_women_and_deprivation(mart: pd.DataFrame) -> pd.DataFrame:
    """Deaths of preterm babies are few: all women and the 30% most deprived against the rest."""
    return mart[mart["breakdown"].isin(["all", "deprivation_group"])]


def _all_women_months(frame: pd.DataFrame) -> pd.Series:
    return (frame["period_type"] == "month") & (frame["breakdown"] == "all")


LATE_BOOKINGS = TableSpec(
    name="late_bookings",
    keys=MATERNITY_KEYS,
    select=_then(
        _quarters_years_and_all_women_months,
        join_not_known(BOOKING_COUNTS, add_late_booking_shares),
    ),
    counts=(
        Count("bookings"),
        Count("booked_by_10_weeks", "bookings", _ci("booked_by_10_weeks_pct")),
        Count("late_bookings", "bookings", _ci("late_booking_pct")),
        Count("very_late_bookings", "bookings", _ci("very_late_booking_pct")),
    ),
    margins=(BREAKDOWN_MARGIN,),
    periods=Periods(),
    series=(Series(_spc("late_booking"), ("bookings", "late_bookings"), (), _all_women_months),),
    description="Late antenatal bookings by quarter and year for each group, and by month for "
    "all women.",
)

PREMATURE_DELIVERIES = TableSpec(
    name="premature_deliveries",
    keys=MATERNITY_KEYS,
    select=_then(
        _years_and_all_women_quarters,
        join_not_known(BIRTH_COUNTS, add_birth_rates),
        _births_and_prematurity,
        _without_spc,
    ),
    counts=(
        Count("births"),
        Count("preterm_births", "births", _ci("preterm_per_1000")),
        Count("very_preterm_births", "births", _ci("very_preterm_per_1000")),
        Count("extremely_preterm_births", "births", _ci("extremely_preterm_per_1000")),
    ),
    margins=(BREAKDOWN_MARGIN,),
    periods=Periods(),
    # no months, so no monthly SPC: its columns are left out
    description="Premature deliveries by year for the plan's target groups, and by quarter for all women.",
)
PREGNANCY_OUTCOMES = TableSpec(
    name="pregnancy_outcomes",
    keys=MATERNITY_KEYS,
    counts=(
        Count("pregnancies"),
        Count("bookings"),
        # DHSC publishes abortions to residents (withholding its own small counts)
        Count("terminations", "pregnancies", _ci("termination_pct"), public=True),
        Count("maternities"),
        Count("live_births"),
        Count("stillbirths"),
    ),
    margins=(BREAKDOWN_MARGIN,),
    identities=(Identity("pregnancies", ("bookings", "terminations")),),
    description="Pregnancies (bookings plus terminations), births and terminations by year.",
)

PRETERM_OUTCOMES = TableSpec(
    name="preterm_outcomes",
    keys=(*MATERNITY_KEYS, "gestation_band"),
    select=_then(
        _all_women_and_deprivation,
        join_not_known(PRETERM_OUTCOME_COUNTS, add_outcome_shares, extra=("gestation_band",)),
    ),
    counts=(
        Count("live_births"),
        Count("nnu_admission_known", "live_births"),
        Count("nnu_admissions", "nnu_admission_known", _ci("nnu_admission_pct")),
        Count("survival_28_days_known", "live_births"),
        Count("deaths_under_28_days", "survival_28_days_known", _ci("survival_28_days_pct")),
        Count("survival_1_year_known", "live_births"),
        Count("deaths_under_1_year", "survival_1_year_known", _ci("survival_1_year_pct")),
    ),
    margins=(
        BREAKDOWN_MARGIN,
        Margin(
            "gestation_band", ALL_PRETERM, parts=(EXTREMELY_PRETERM, VERY_PRETERM, MODERATE_PRETERM)
        ),
    ),
    description="Outcomes of live-born preterm babies by gestation band and year, for all "
    "women and by deprivation.",
)

_AGE_35_PLUS = {"35 to 39": "35 and over", "40 to 44": "35 and over", "45 or Over": "35 and over"}
_YEAR = {"period_type": ("year",)}
MATERNITY_LINKS = (
    # the same bookings counted in two tables
    Link(("pregnancy_outcomes", "bookings"), ("late_bookings", "bookings"), MATERNITY_KEYS,
         right_where=_YEAR, right_map={"breakdown_value": _AGE_35_PLUS}),
    # births of a year = its live births + stillbirths
    Link(("premature_deliveries", "births"),
         (("pregnancy_outcomes", "live_births"), ("pregnancy_outcomes", "stillbirths")),
         MATERNITY_KEYS, left_where=_YEAR),
    # term and all preterm live births make all live births of the year
    Link(("pregnancy_outcomes", "live_births"), ("preterm_outcomes", "live_births"),
         MATERNITY_KEYS, right_where={"gestation_band": (ALL_PRETERM, TERM)}),
)  # fmt: skip


# -- referrals ---------------------------------------------------------------------------------
REFERRAL_KEYS = ("period_type", "period_start", "breakdown", "category")


# Age bands have enough referrals a quarter; the other breakdowns are published by year (a
# small 'Not known' group would take one of the main groups with it most quarters).
QUARTERLY_REFERRAL_BREAKDOWNS = ("All", "Age band")
WAITING_BREAKDOWNS = ("All", "Deprivation group")
# Categories too small to publish on their own, published together.
GROUPED_CATEGORIES = {("Sex", "Indeterminate"): "Indeterminate or not known",
                      ("Sex", "Not known"): "Indeterminate or not known"}  # fmt: skip


def referrals_by_quarter_and_year(mart: pd.DataFrame) -> pd.DataFrame:
    """Monthly referrals summed to calendar years, and to quarters for the broad breakdowns,
    where every month of them is in the mart (a part-period total would read as a fall)."""
    months = mart[["month", "breakdown", "category", "category_order", "referrals"]].copy()
    grouped = pd.Series(
        [
            GROUPED_CATEGORIES.get(k)
            for k in zip(months["breakdown"], months["category"], strict=True)
        ],
        index=months.index,
    )
    months["category"] = grouped.fillna(months["category"])
    # a grouped category takes the place of its first member
    months["category_order"] = months.groupby(["breakdown", "category"])[
        "category_order"
    ].transform("min")
    frames = []
    for period_type, freq, size in (("quarter", "Q", 3), ("year", "Y", 12)):
        start = months["month"].dt.to_period(freq).dt.start_time.astype("datetime64[ns]")
        grouped = months.assign(period_start=start).groupby(
            ["period_start", "breakdown", "category", "category_order"], sort=True
        )
        summed = grouped.agg(referrals=("referrals", "sum"), months=("month", "nunique"))
        summed = summed[summed["months"] == size].drop(columns="months").reset_index()
        if period_type == "quarter":
            summed = summed[summed["breakdown"].isin(QUARTERLY_REFERRAL_BREAKDOWNS)]
        frames.append(summed.assign(period_type=period_type))
    out = pd.concat(frames, ignore_index=True)
    out["referrals"] = out["referrals"].astype("Int64")
    return out[["period_type", "period_start", "breakdown", "category", "category_order",
                "referrals"]]  # fmt: skip


REFERRAL_TRENDS = TableSpec(
    name="referral_trends",
    keys=REFERRAL_KEYS,
    select=referrals_by_quarter_and_year,
    counts=(Count("referrals"),),
    margins=(Margin("category", "All referrals", family="breakdown"),),
    periods=Periods(levels=(("quarter", "year", "Y"),)),
    description="Referrals to the young people's risky-behaviour service by quarter and year.",
)


def waiting_at_quarter_ends(mart: pd.DataFrame) -> pd.DataFrame:
    """The waiting list at the end of each calendar quarter (a stock: it does not add up over
    time) for the broad breakdowns; not the month's flows (first seen, discharges: small
    numbers in most months), nor SPC (its monthly series is not all published)."""
    rows = mart[
        mart["month"].dt.month.isin([3, 6, 9, 12]) & mart["breakdown"].isin(WAITING_BREAKDOWNS)
    ]
    flows = ["first_seen", "first_seen_median_wait_days", "first_seen_p90_wait_days", "discharges"]
    columns = [c for c in rows.columns if "_spc_" not in c and c not in flows]
    return rows[columns]


REFERRAL_WAITING = TableSpec(
    name="referral_waiting",
    keys=("month", "breakdown", "category"),
    select=waiting_at_quarter_ends,
    counts=(
        Count("waiting_list", derived=("waiting_median_days", "waiting_p90_days")),
        Count("waiting_over_threshold"),
    ),
    margins=(Margin("category", "All referrals", family="breakdown"),),
    description="The waiting list and waits at each quarter end.",
)


# -- household survey --------------------------------------------------------------------------
def _survey_indicators(mart: pd.DataFrame) -> pd.DataFrame:
    """Estimates, CIs and the unweighted base; not the sums of weights (with them, the estimate
    of a withheld group comes back from the All row's)."""
    return mart.drop(columns=["sum_of_weights", "effective_n", "is_withheld"])


SURVEY_INDICATORS = TableSpec(
    name="household_survey_indicators",
    keys=("wave_year", "breakdown", "category", "indicator"),
    select=_survey_indicators,
    counts=(Count("unweighted_n"),),
    margins=(Margin("category", "All adults", family="breakdown"),),
    bases=(Base("unweighted_n", ("value", "ci95_lower", "ci95_upper", "standard_error")),),
    description="Household survey estimates by wave and group.",
)


# -- public inputs, passed through -------------------------------------------------------------
INDICATOR_VALUES = TableSpec(
    name="indicator_values",
    keys=("indicator_id", "area_code", "sex", "age", "time_period"),
    counts=(Count("count", public=True), Count("denominator", public=True)),
    description="Fingertips values (public: passed through).",
)
INFANT_MORTALITY_BENCHMARK = TableSpec(
    name="infant_mortality_benchmark",
    keys=("display_order",),
    counts=(Count("count", public=True), Count("denominator", public=True)),
    description="The business plan's infant mortality table (Fingertips: public).",
)
MATERNITY_VS_ENGLAND = TableSpec(
    name="maternity_vs_england",
    keys=("period_type", "period", "org_code", "measure_id"),
    counts=(Count("numerator", public=True), Count("denominator", public=True)),
    description="MSDS comparisons with England (NHS England's rounded counts: public).",
)


@dataclass(frozen=True)
class Publishing:
    """Tables published together (they share cells) from the marts of the same names."""

    name: str
    specs: tuple[TableSpec, ...]
    links: tuple[Link, ...] = ()
    after: Callable[[Publication, Mapping[str, pd.DataFrame]], dict[str, pd.DataFrame]] | None = (
        None
    )

    @property
    def tables(self) -> list[str]:
        extra = ["household_survey_change"] if self.after is not None else []
        return [s.name for s in self.specs] + extra


def survey_change(publication: Publication, marts: Mapping[str, pd.DataFrame]) -> dict:
    """``published.household_survey_change``: a change between two waves is shown only where
    both waves' estimates are published; the effective sizes are left out (with the estimates'
    CIs they are not needed, and they come from the sums of weights)."""
    change = marts["household_survey_change"].copy()
    ok = both_waves_shown(change, publication.tables["household_survey_indicators"])
    withheld = ~ok
    for column in ("from_value", "to_value", "change", "change_ci95_lower", "change_ci95_upper",
                   "z_statistic", "p_value"):  # fmt: skip
        change[column] = change[column].mask(withheld)
    change["is_significant"] = change["is_significant"] & ok
    change["change_direction"] = change["change_direction"].mask(withheld, "Not compared")
    change["assessment"] = change["assessment"].mask(withheld, "Not compared")
    change = change.drop(columns=["from_effective_n", "to_effective_n", "is_withheld"])
    change[FLAG] = withheld
    return {"household_survey_change": change}


def both_waves_shown(change: pd.DataFrame, shown: pd.DataFrame) -> np.ndarray:
    """For each row of a change between waves: are both waves' estimates shown in the
    published indicators ``shown``?"""
    known = shown.loc[shown["value"].notna(), ["wave_year", "breakdown", "category", "indicator"]]
    key = ["breakdown", "category", "indicator"]
    ok = np.ones(len(change), dtype=bool)
    for side in ("from_wave", "to_wave"):
        found = change.merge(
            known.rename(columns={"wave_year": side}).assign(_ok=True), on=[*key, side], how="left"
        )["_ok"]
        ok &= found.notna().to_numpy()
    return ok


def changes_without_published_waves(change: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    """Rows of a published change shown although an estimate of either wave is withheld in the
    published indicators (the change would give it back): none, where all is well."""
    rows = change[change["change"].notna()]
    bad = ~both_waves_shown(rows, shown)
    return rows.loc[bad, ["breakdown", "category", "indicator", "from_wave", "to_wave", "change"]]


PUBLICATIONS = (
    Publishing(
        "maternity",
        (LATE_BOOKINGS, PREMATURE_DELIVERIES, PREGNANCY_OUTCOMES, PRETERM_OUTCOMES),
        MATERNITY_LINKS,
    ),
    Publishing("referrals", (REFERRAL_TRENDS, REFERRAL_WAITING)),
    Publishing("household_survey", (SURVEY_INDICATORS,), after=survey_change),
    Publishing("fingertips", (INDICATOR_VALUES, INFANT_MORTALITY_BENCHMARK)),
    Publishing("msds", (MATERNITY_VS_ENGLAND,)),
)


def publish_group(
    publishing: Publishing, marts: Mapping[str, pd.DataFrame], rules: Rules = DEFAULT_RULES
) -> tuple[dict[str, pd.DataFrame], Publication]:
    """Every table of ``publishing`` made from ``marts`` (by table name)."""
    publication = publish(marts, publishing.specs, publishing.links, rules)
    tables = dict(publication.tables)
    if publishing.after is not None:
        tables.update(publishing.after(publication, marts))
    return tables, publication


def published_descriptions(
    mart_descriptions: Mapping[str, str], table: pd.DataFrame
) -> dict[str, str]:
    """Column descriptions of a published table: its mart's, with the withheld flag's."""
    out = {c: mart_descriptions.get(c, "") for c in table.columns}
    out[FLAG] = FLAG_DESCRIPTION
    return out
