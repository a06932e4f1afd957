"""Maternity, the source's declaration: its name and the file patterns of its three extracts,
the definitions that set the measures (gestation thresholds in days, ``config/maternity.yaml``)
and the labels of the gestation bands they cut, and the raw layouts (the headers of the bookings
and births extracts, the columns and markers of the DHSC terminations table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import yaml

from cov_pipeline.config import CONFIG_DIR
from cov_pipeline.repeats import RepeatRule
from cov_pipeline.schemas.maternity import GESTATION_MAX_EXCLUSIVE, GESTATION_MIN_EXCLUSIVE

SOURCE = "maternity"
BOOKINGS_PATTERN = "bookings*.csv"
BIRTHS_PATTERN = "births*.csv"
TERMINATIONS_PATTERN = "terminations*.csv"

# -- records seen twice (cov_pipeline.repeats) ---------------------------------------------------
# A pseudo id names one booking or birth: a copy is a resent extract, and two versions of one id
# cannot be ordered (the provider's extracts are cumulative, not dated publications).
RECORD_RULE = RepeatRule(
    "a pseudo id seen again with the same values is collapsed; with other values, every copy is "
    "quarantined (nothing says which is right)"
)
# DHSC revises last year's figures in the next publication, one file a year named by its year
# (terminations_2023.csv): the later file's row for a year and area is kept.
TERMINATIONS_RULE = RepeatRule(
    "a year and area seen again with the same values is collapsed; with other values in a later "
    "file (a later publication, by its name), the later file's row is staged and the earlier one "
    "recorded as revised; two versions within one file are quarantined",
    newer_wins=True,
)

# -- definitions -------------------------------------------------------------------------------
MATERNITY_CONFIG_ENV = "COV_MATERNITY_CONFIG"
DEFAULT_MATERNITY_CONFIG = CONFIG_DIR / "maternity.yaml"


class MaternityConfigError(ValueError):
    """A definitions file that cannot be used (unknown key, thresholds out of order)."""


@dataclass(frozen=True)
class MaternityDefinitions:
    """Gestation thresholds in days that define the measures; defaults per docs/definitions.md.

    - booked by 10+0 weeks: gestation at booking <= ``booked_by_days`` (70; NICE NG201 ambition);
    - late booking: >= ``late_booking_from_days`` (91, 13+0 weeks; misses "booked by 12+6");
    - very late booking: >= ``very_late_booking_from_days`` (141, 20+1 weeks; MSDS "141+ days");
    - preterm: born before ``preterm_before_days`` (259, 37+0 weeks; WHO, Fingertips 91743);
    - moderate to late preterm: ``moderate_preterm_from_days`` (224, 32+0) to 258;
    - very preterm: ``very_preterm_from_days`` (196, 28+0) to 223;
    - extremely preterm: under ``very_preterm_from_days`` (196, 28+0).
    """

    booked_by_days: int = 70
    late_booking_from_days: int = 91
    very_late_booking_from_days: int = 141
    preterm_before_days: int = 259
    moderate_preterm_from_days: int = 224
    very_preterm_from_days: int = 196

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise MaternityConfigError(f"{item.name} must be a whole number of days")
            if not GESTATION_MIN_EXCLUSIVE < value < GESTATION_MAX_EXCLUSIVE:
                raise MaternityConfigError(
                    f"{item.name} = {value} is outside ({GESTATION_MIN_EXCLUSIVE}, "
                    f"{GESTATION_MAX_EXCLUSIVE}) days"
                )
        if not (
            self.booked_by_days < self.late_booking_from_days <= self.very_late_booking_from_days
        ):
            raise MaternityConfigError(
                "booking thresholds must satisfy booked_by_days < late_booking_from_days <= "
                "very_late_booking_from_days"
            )
        if not (
            self.very_preterm_from_days < self.moderate_preterm_from_days < self.preterm_before_days
        ):
            raise MaternityConfigError(
                "birth thresholds must satisfy very_preterm_from_days < "
                "moderate_preterm_from_days < preterm_before_days"
            )


def maternity_config_path() -> Path:
    """``$COV_MATERNITY_CONFIG`` where set, else the packaged ``config/maternity.yaml``."""
    return Path(os.environ.get(MATERNITY_CONFIG_ENV) or DEFAULT_MATERNITY_CONFIG)


def load_maternity_definitions(path: str | Path | None = None) -> MaternityDefinitions:
    """The definitions in ``path`` (else ``$COV_MATERNITY_CONFIG``, else the packaged file);
    keys left out keep their defaults. Raises MaternityConfigError naming the file."""
    source = Path(path) if path is not None else maternity_config_path()
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MaternityConfigError(f"{source}: cannot read maternity definitions: {exc}") from exc
    if not isinstance(document, Mapping):
        raise MaternityConfigError(f"{source}: expected a mapping of setting to days")
    known = {item.name for item in fields(MaternityDefinitions)}
    unknown = sorted(set(document) - known)
    if unknown:
        raise MaternityConfigError(f"{source}: unknown setting(s) {unknown}; known {sorted(known)}")
    try:
        return MaternityDefinitions(**document)
    except MaternityConfigError as exc:
        raise MaternityConfigError(f"{source}: {exc}") from None


# -- gestation bands: the labels of the bands the birth thresholds cut -------------------------
EXTREMELY_PRETERM = "Extremely preterm (under 28+0 weeks)"
VERY_PRETERM = "Very preterm (28+0 to 31+6 weeks)"
MODERATE_PRETERM = "Moderate to late preterm (32+0 to 36+6 weeks)"
ALL_PRETERM = "All preterm (under 37+0 weeks)"
TERM = "Term (37+0 weeks or later)"
GESTATION_BANDS = (EXTREMELY_PRETERM, VERY_PRETERM, MODERATE_PRETERM, ALL_PRETERM, TERM)


# -- raw layouts -------------------------------------------------------------------------------
BOOKING_HEADER = (
    "booking_pseudo_id",
    "booking_date",
    "gestation_at_booking_days",
    "mother_age_band",
    "ethnic_category",
    "lsoa_code",
    "nrpf_flag",
)
BIRTH_HEADER = (
    "birth_pseudo_id",
    "booking_pseudo_id",
    "birth_date",
    "gestation_at_birth_days",
    "birth_outcome",
    "birthweight_grams",
    "neonatal_unit_admission",
    "survived_28_days",
    "survived_1_year",
    "mother_age_band",
    "ethnic_category",
    "lsoa_code",
    "nrpf_flag",
)
# DHSC abortion statistics, local authority of residence table: numbers by age group and the
# crude rate per 1,000 resident women aged 15-44; one file per publication year.
TERMINATIONS_COLUMNS = {
    "Year": "year",
    "Area code": "area_code",
    "Area name": "area_name",
    "Area type": "area_type",
    "Total abortions": "terminations",
    "Under 18": "terminations_under_18",
    "18-19": "terminations_18_19",
    "20-24": "terminations_20_24",
    "25-29": "terminations_25_29",
    "30-34": "terminations_30_34",
    "35 and over": "terminations_35_and_over",
    "Rate per 1,000 women aged 15-44": "rate_per_1000_women_15_44",
}
TERMINATIONS_HEADER = tuple(TERMINATIONS_COLUMNS)
TERMINATION_AGE_COLUMNS = [
    c for c in TERMINATIONS_COLUMNS.values() if c.startswith("terminations_")
]
# DHSC marks a count it withheld with "*"; "-" is its zero.
DHSC_SUPPRESSED = "*"
DHSC_ZERO = "-"
