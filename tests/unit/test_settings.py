"""Settings read from the environment: the day a run treats as today."""

import datetime as dt

import pytest

from cov_pipeline import settings


def test_as_of_is_today_unless_pinned(monkeypatch):
    monkeypatch.delenv("COV_AS_OF", raising=False)
    assert settings.as_of() == dt.date.today()
    monkeypatch.setenv("COV_AS_OF", "2024-02-29")
    assert settings.as_of() == dt.date(2024, 2, 29)


def test_a_pinned_day_that_is_not_a_date_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("COV_AS_OF", "2023-02-29")
    with pytest.raises(ValueError, match=r"COV_AS_OF='2023-02-29' is not a date \(YYYY-MM-DD\)"):
        settings.as_of()
