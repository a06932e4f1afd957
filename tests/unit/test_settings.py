"""Settings read from the environment (the day a run treats as today), and the settings resource
the assets read them through."""

import datetime as dt
from pathlib import Path

import pytest

from cov_pipeline import settings
from cov_pipeline.disclosure import Rules
from resources.settings import PipelineSettings


def test_as_of_is_today_unless_pinned(monkeypatch):
    monkeypatch.delenv("COV_AS_OF", raising=False)
    assert settings.as_of() == dt.date.today()
    monkeypatch.setenv("COV_AS_OF", "2024-02-29")
    assert settings.as_of() == dt.date(2024, 2, 29)


def test_a_pinned_day_that_is_not_a_date_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("COV_AS_OF", "2023-02-29")
    with pytest.raises(ValueError, match=r"COV_AS_OF='2023-02-29' is not a date \(YYYY-MM-DD\)"):
        settings.as_of()


def test_the_settings_resource_reads_an_unset_field_from_its_variable_when_asked(monkeypatch):
    # constructed first, as the code location does: the variable set afterwards still counts
    resource = PipelineSettings()
    monkeypatch.setenv("COV_AS_OF", "2024-02-29")
    monkeypatch.setenv("COV_HOME_AREA_CODE", "E08000025")
    monkeypatch.setenv("COV_QUARANTINE_CEILING", "0.2")
    monkeypatch.setenv("COV_IMD_VINTAGE", "IoD2025")
    monkeypatch.setenv("COV_REFERRAL_WAIT_THRESHOLD_DAYS", "28")
    monkeypatch.setenv("COV_SMALL_COUNT_MAX", "5")
    monkeypatch.setenv("COV_EXPORT_DIR", "elsewhere")
    assert resource.today() == dt.date(2024, 2, 29)
    assert resource.home_area() == "E08000025"
    assert resource.max_quarantine_share() == 0.2
    assert resource.deprivation_vintage() == "IoD2025"
    assert resource.wait_threshold_days() == 28
    assert resource.disclosure_rules() == Rules(threshold=5)
    assert resource.export_path() == Path("elsewhere")


def test_a_field_set_on_the_settings_resource_wins_over_its_variable(monkeypatch):
    monkeypatch.setenv("COV_AS_OF", "2024-02-29")
    monkeypatch.setenv("COV_HOME_AREA_CODE", "E08000025")
    monkeypatch.setenv("COV_PROTECTION_WIDTH", "9")
    resource = PipelineSettings(
        as_of="2025-01-31", home_area_code="E06000001", small_count_max=3, survey_min_base=30
    )
    assert resource.today() == dt.date(2025, 1, 31)
    assert resource.home_area() == "E06000001"
    assert resource.disclosure_rules() == Rules(threshold=3, protection=9, min_base=30)
    with pytest.raises(ValueError, match=r"as_of='2023-02-29' is not a date \(YYYY-MM-DD\)"):
        PipelineSettings(as_of="2023-02-29").today()


def test_the_settings_resource_describes_every_field_for_the_ui():
    fields = PipelineSettings.model_fields
    assert fields and all(f.description for f in fields.values())
