"""The pipeline's settings as a Dagster resource: what the asset bodies read, shown on the UI's
resources page with a description of each."""

import dataclasses
import datetime as dt
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from cov_pipeline import settings
from cov_pipeline.disclosure import DEFAULT_MIN_BASE, SMALL_COUNT_MAX, Rules


class PipelineSettings(ConfigurableResource):
    """The day a run treats as today, the home area, the quarantine ceiling, the deprivation
    release, the referral wait threshold and the disclosure rules, for the assets that read
    them. A field left unset is read from its environment variable (``cov_pipeline/settings.py``)
    when an asset asks for it, so the variables work as they always have; a value set here (in
    the launchpad, for one run) wins over the variable. The export folder is read from
    ``COV_EXPORT_DIR`` only: a run checks it is writable before its first step."""

    as_of: str | None = Field(
        default=None,
        description="The day the run treats as today (YYYY-MM-DD): a date after it is in the "
        "future, an extract dated after it is refused; set it to rerun a past night exactly. "
        "Unset: COV_AS_OF, else the calendar day.",
    )
    home_area_code: str | None = Field(
        default=None,
        description="Area code of the home area of the marts and of the Fingertips download. "
        f"Unset: COV_HOME_AREA_CODE, else {settings.DEFAULT_HOME_AREA_CODE} (Coventry).",
    )
    quarantine_ceiling: float | None = Field(
        default=None,
        description="Share of a source's rows that may be quarantined before the blocking check "
        f"stops the run. Unset: COV_QUARANTINE_CEILING, else {settings.DEFAULT_QUARANTINE_CEILING}.",
    )
    imd_vintage: str | None = Field(
        default=None,
        description="Deprivation release of the LSOA lookup: IMD2019 (2011 LSOAs) or IoD2025 "
        f"(2021 LSOAs). Unset: COV_IMD_VINTAGE, else {settings.DEFAULT_IMD_VINTAGE}.",
    )
    referral_wait_threshold_days: int | None = Field(
        default=None,
        description="Days of waiting beyond which a young person counts as waiting over the "
        "threshold. Unset: COV_REFERRAL_WAIT_THRESHOLD_DAYS, else "
        f"{settings.DEFAULT_REFERRAL_WAIT_THRESHOLD_DAYS}.",
    )
    small_count_max: int | None = Field(
        default=None,
        description="Largest count the published tier withholds as small. Unset: "
        f"COV_SMALL_COUNT_MAX, else {SMALL_COUNT_MAX}.",
    )
    protection_width: int | None = Field(
        default=None,
        description="Narrowest interval an intruder may be left with for a withheld small count. "
        f"Unset: COV_PROTECTION_WIDTH, else {SMALL_COUNT_MAX}.",
    )
    survey_min_base: int | None = Field(
        default=None,
        description="Fewest respondents a published survey estimate needs. Unset: "
        f"COV_SURVEY_MIN_BASE, else {DEFAULT_MIN_BASE}.",
    )

    def today(self) -> dt.date:
        """The day the run treats as today (``as_of``)."""
        if self.as_of is None:
            return settings.as_of()
        return settings.parse_as_of(self.as_of, "as_of")

    def home_area(self) -> str:
        return settings.home_area_code() if self.home_area_code is None else self.home_area_code

    def max_quarantine_share(self) -> float:
        if self.quarantine_ceiling is None:
            return settings.quarantine_ceiling()
        return self.quarantine_ceiling

    def deprivation_vintage(self) -> str:
        return settings.imd_vintage() if self.imd_vintage is None else self.imd_vintage

    def wait_threshold_days(self) -> int:
        if self.referral_wait_threshold_days is None:
            return settings.referral_wait_threshold_days()
        return self.referral_wait_threshold_days

    def disclosure_rules(self) -> Rules:
        """The thresholds of the published tier (docs/disclosure.md)."""
        given = {
            "threshold": self.small_count_max,
            "protection": self.protection_width,
            "min_base": self.survey_min_base,
        }
        return dataclasses.replace(
            settings.disclosure_rules(), **{k: v for k, v in given.items() if v is not None}
        )

    def export_path(self) -> Path:
        """Where the exports are written (``COV_EXPORT_DIR``)."""
        return Path(settings.export_dir())
