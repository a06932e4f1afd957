"""MSDS, the measures: the provider-versus-England comparison mart
(:func:`maternity_vs_england`), four percentages built from MSDS dimensions (late booking,
preterm, extremely preterm, most deprived 30%), with Wilson 95% CIs and each compared with
England's value of the same period.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cov_pipeline import stats
from cov_pipeline.msds.definitions import BOOKING_GROUPS, DECILES, GESTATION_LENGTHS
from cov_pipeline.msds.descriptions import MART_DESCRIPTIONS


# -- the provider-versus-England mart ----------------------------------------------------------
@dataclass(frozen=True)
class ComparisonMeasure:
    """A percentage built from one MSDS dimension: numerator and denominator categories."""

    measure_id: str
    measure_name: str
    dimension: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    # 'low' (lower is better) or 'none' (no judgement), as stats.compare_with_benchmark takes it
    polarity: str

    @property
    def definition(self) -> str:
        """The categories summed, as MSDS spells them: 'D: 'a' + 'b' over 'a' + 'b' + 'c''."""
        numerator = " + ".join(f"'{c}'" for c in self.numerator)
        denominator = " + ".join(f"'{c}'" for c in self.denominator)
        return f"{self.dimension}: {numerator} over {denominator}"


COMPARISON_MEASURES: tuple[ComparisonMeasure, ...] = (
    # Late booking: booked at 91 days (13+0 weeks) or later, of deliveries with a known booking
    # gestation (docs/definitions.md; NICE ambition: booked by 10+0 weeks).
    ComparisonMeasure(
        "late_booking",
        "Late booking: booked at 91 days (13+0 weeks) or later",
        "GestAgeFormalAntenatalBookingGroup",
        ("91 to 140 days", "141+ days"),
        BOOKING_GROUPS,
        "low",
    ),
    # Preterm: born before 37+0 weeks (259 days), of babies with a known gestation.
    ComparisonMeasure(
        "preterm",
        "Preterm: babies born before 37 weeks",
        "GestationLengthBirthGroup37",
        ("<37 weeks",),
        ("<37 weeks", ">=37 weeks"),
        "low",
    ),
    # Extremely preterm: 27 weeks and under, i.e. before 28+0 weeks (196 days), of babies with a
    # known gestation length.
    ComparisonMeasure(
        "extremely_preterm",
        "Extremely preterm: babies born at 27 weeks and under",
        "GestationLengthBirth",
        ("27 weeks and under",),
        GESTATION_LENGTHS,
        "low",
    ),
    # Most deprived 30%: national IMD deciles 1-3 of the mother's residence at booking, of
    # deliveries with a known decile (pseudo postcodes, residents elsewhere and missing excluded).
    ComparisonMeasure(
        "most_deprived_30pct",
        "Deliveries to mothers living in national IMD deciles 1-3",
        "DeprivationDecileAtBooking",
        DECILES[:3],
        DECILES,
        "none",
    ),
)


_PERIOD_ORG = ["period_type", "period", "period_start", "period_end", "org_level", "org_code"]


def _measure_categories() -> pd.DataFrame:
    rows = [
        (m.measure_id, m.dimension, category, category in m.numerator, category in m.denominator)
        for m in COMPARISON_MEASURES
        for category in dict.fromkeys((*m.denominator, *m.numerator))
    ]
    return pd.DataFrame(
        rows, columns=["measure_id", "dimension", "measure", "in_numerator", "in_denominator"]
    )


def maternity_vs_england(staging: pd.DataFrame) -> pd.DataFrame:
    """Per period and organisation, the four comparison percentages with Wilson CIs and England.

    A measure has a row where the organisation published its dimension in the period. A blank
    (missing) count in any category it sums makes that sum missing, never zero. Counts arrive
    rounded to 5 by NHS England (already public) and are passed on as published.
    """
    categories = _measure_categories()
    rows = staging.merge(categories, on=["dimension", "measure"], how="inner")
    rows = rows.assign(
        _num=rows["value"].where(rows["in_numerator"], 0.0),
        _den=rows["value"].where(rows["in_denominator"], 0.0),
        _num_missing=rows["in_numerator"] & rows["value"].isna(),
        _den_missing=rows["in_denominator"] & rows["value"].isna(),
    )
    grouped = rows.groupby([*_PERIOD_ORG, "measure_id"], sort=False, dropna=False)
    table = grouped.agg(
        org_name=("org_name", "first"),
        is_england=("is_england", "first"),
        numerator=("_num", "sum"),
        denominator=("_den", "sum"),
        _num_missing=("_num_missing", "any"),
        _den_missing=("_den_missing", "any"),
        is_rounded_input=("is_rounded", "all"),
    ).reset_index()
    table["numerator"] = table["numerator"].where(~table["_num_missing"]).round().astype("Int64")
    table["denominator"] = (
        table["denominator"].where(~table["_den_missing"]).round().astype("Int64")
    )

    totals = staging[staging["dimension"].isin(["TotalDeliveries", "TotalBabies"])]
    totals = totals.pivot_table(
        index=_PERIOD_ORG, columns="dimension", values="value", aggfunc="first", dropna=False
    ).reindex(columns=["TotalDeliveries", "TotalBabies"])
    totals = totals.rename(
        columns={"TotalDeliveries": "total_deliveries", "TotalBabies": "total_babies"}
    ).reset_index()
    totals.columns.name = None
    table = table.merge(totals, on=_PERIOD_ORG, how="left")
    for column in ("total_deliveries", "total_babies"):
        table[column] = table[column].round().astype("Int64")

    spec = pd.DataFrame(
        [(m.measure_id, m.measure_name, m.definition, m.polarity) for m in COMPARISON_MEASURES],
        columns=["measure_id", "measure_name", "definition", "polarity"],
    )
    table = table.merge(spec, on="measure_id", how="left")
    ci = stats.proportion_with_ci(table["numerator"], table["denominator"], multiplier=100)
    table["value_pct"] = ci["value"].to_numpy()
    table["ci95_lower"] = ci["ci_lower"].to_numpy()
    table["ci95_upper"] = ci["ci_upper"].to_numpy()

    keys = ["period_type", "period_start", "period_end", "measure_id"]
    england = table.loc[table["is_england"], [*keys, "value_pct"]]
    england = england.drop_duplicates(keys).rename(columns={"value_pct": "england_value_pct"})
    table = table.merge(england, on=keys, how="left")
    comparison = stats.compare_with_benchmark(
        table["ci95_lower"], table["ci95_upper"], table["england_value_pct"], table["polarity"]
    )
    comparison[table["is_england"].to_numpy()] = None
    table["compared_to_england"] = comparison
    order = {m.measure_id: i for i, m in enumerate(COMPARISON_MEASURES)}
    table = table.assign(_order=table["measure_id"].map(order), _other=~table["is_england"])
    table = table.sort_values(
        ["period_type", "period_start", "period_end", "_order", "_other", "org_code"],
        kind="stable",
    )
    return table[list(MART_DESCRIPTIONS)].reset_index(drop=True)
