"""One home for configuration: environment variables with working defaults.

Everything that names a path, a URL or a tunable threshold reads it from here, so the Dagster
resources (``EnvVar``-backed) and the command line agree on the same defaults.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_RAW_DIR = "data/raw"
DEFAULT_WAREHOUSE_URL = "duckdb:///data/warehouse/cov_pipeline.duckdb"
DEFAULT_EXPORT_DIR = "data/warehouse/exports"
DEFAULT_FINGERTIPS_API_URL = "https://fingertips.phe.org.uk/api/"
# Bounds on one Fingertips API download (the fingertips_api resource, set from the variables
# COV_DOWNLOAD_DEADLINE_SECONDS and COV_DOWNLOAD_MAX_BYTES): the whole download, every request and
# retry included, ends by the deadline, and no single answer may be larger than the cap, so a
# stalled, trickling or runaway server cannot hold a run or fill the disk.
DEFAULT_DOWNLOAD_DEADLINE_SECONDS = 600
DEFAULT_DOWNLOAD_MAX_BYTES = 500_000_000
# Share of a source's rows that may be quarantined before the blocking check fails the run.
DEFAULT_QUARANTINE_CEILING = 0.05
# Areas kept in marts.indicator_values: Coventry, its region and England (by Area Code, never by
# the Area Type text, which changes with each boundary vintage).
DEFAULT_HOME_AREA_CODE = "E08000026"
DEFAULT_REGION_AREA_CODE = "E12000005"
ENGLAND_AREA_CODE = "E92000001"


def raw_dir() -> str:
    return os.environ.get("COV_RAW_DIR", DEFAULT_RAW_DIR)


def warehouse_url() -> str:
    return os.environ.get("COV_WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL)


def export_dir() -> str:
    return os.environ.get("COV_EXPORT_DIR", DEFAULT_EXPORT_DIR)


def fingertips_api_url() -> str:
    return os.environ.get("COV_FINGERTIPS_API_URL", DEFAULT_FINGERTIPS_API_URL)


def home_area_code() -> str:
    return os.environ.get("COV_HOME_AREA_CODE", DEFAULT_HOME_AREA_CODE)


def quarantine_ceiling() -> float:
    return float(os.environ.get("COV_QUARANTINE_CEILING", DEFAULT_QUARANTINE_CEILING))


DEFAULT_ANALYST_ROLE = "analyst"


def analyst_role() -> str:
    """PostgreSQL role given read access to ``marts`` only (empty: grant nothing)."""
    return os.environ.get("COV_ANALYST_ROLE", DEFAULT_ANALYST_ROLE)


def disclosure_rules():
    """Thresholds of the published tier (docs/disclosure.md): the largest count withheld as
    small (``COV_SMALL_COUNT_MAX``, 7), the narrowest interval an intruder may be left with for a
    small count (``COV_PROTECTION_WIDTH``, 7), and the fewest respondents a published survey
    estimate needs (``COV_SURVEY_MIN_BASE``, 50)."""
    from cov_pipeline.disclosure import DEFAULT_MIN_BASE, SMALL_COUNT_MAX, Rules

    return Rules(
        threshold=int(os.environ.get("COV_SMALL_COUNT_MAX", SMALL_COUNT_MAX)),
        protection=int(os.environ.get("COV_PROTECTION_WIDTH", SMALL_COUNT_MAX)),
        min_base=int(os.environ.get("COV_SURVEY_MIN_BASE", DEFAULT_MIN_BASE)),
    )


DEFAULT_PUBLIC_ROLE = "public_reader"


def public_role() -> str:
    """PostgreSQL role given read access to ``published`` only (empty: grant nothing)."""
    return os.environ.get("COV_PUBLIC_ROLE", DEFAULT_PUBLIC_ROLE)


DEFAULT_DOCS_DIR = "data/warehouse/docs"


DEFAULT_IMD_VINTAGE = "IMD2019"


def imd_vintage() -> str:
    """Deprivation release for the LSOA lookup: IMD2019 (2011 LSOAs) or IoD2025 (2021 LSOAs)."""
    return os.environ.get("COV_IMD_VINTAGE", DEFAULT_IMD_VINTAGE)


# Referrals: people on the waiting list longer than this many days count as "over the threshold"
# in marts.referral_waiting (6 weeks by default; commissioners may set another standard).
DEFAULT_REFERRAL_WAIT_THRESHOLD_DAYS = 42


def referral_wait_threshold_days() -> int:
    """Days of waiting beyond which a young person counts as waiting over the threshold."""
    return int(
        os.environ.get("COV_REFERRAL_WAIT_THRESHOLD_DAYS", DEFAULT_REFERRAL_WAIT_THRESHOLD_DAYS)
    )


def as_of() -> dt.date:
    """The day the run treats as today: a date after it is in the future (maternity), an extract
    dated after it is refused (referrals). ``COV_AS_OF`` (YYYY-MM-DD) pins it, to rerun a past
    night's refresh exactly as it ran; unset, it is the calendar day."""
    text = os.environ.get("COV_AS_OF", "").strip()
    if not text:
        return dt.date.today()
    return parse_as_of(text, "COV_AS_OF")


def parse_as_of(text: str, name: str) -> dt.date:
    """A pinned day (YYYY-MM-DD); ``name``, the variable or field that gave it, names a refusal."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a date (YYYY-MM-DD)") from None


EXECUTORS = ("in_process", "multiprocess")


def executor() -> str:
    """How a run executes its steps: ``in_process`` (the default: one process runs them all, one
    after another) or ``multiprocess`` (a process per step, side by side as the pools allow;
    PostgreSQL warehouse only). ``COV_EXECUTOR`` chooses."""
    text = os.environ.get("COV_EXECUTOR", "").strip() or "in_process"
    if text not in EXECUTORS:
        raise ValueError(f"COV_EXECUTOR={text!r} is not one of {', '.join(EXECUTORS)}")
    return text


# How long a run waits for another run that holds the warehouse (cov_pipeline/warehouse_lock.py)
# before it gives up, writing nothing: long enough for a queue of runs at production scale.
DEFAULT_WAREHOUSE_WAIT_SECONDS = 7200


def warehouse_wait_seconds() -> float:
    """Seconds a run waits for the warehouse held by another run (``COV_WAREHOUSE_WAIT_SECONDS``)."""
    text = os.environ.get("COV_WAREHOUSE_WAIT_SECONDS", "").strip()
    try:
        seconds = float(text) if text else DEFAULT_WAREHOUSE_WAIT_SECONDS
    except ValueError:
        raise ValueError(
            f"COV_WAREHOUSE_WAIT_SECONDS={text!r} is not a number of seconds"
        ) from None
    if seconds < 0:
        raise ValueError(f"COV_WAREHOUSE_WAIT_SECONDS={text!r} is negative")
    return seconds


# A raw file modified less than this many seconds ago may still be being copied: the sensors
# wait for it to settle before treating it as news (the raw_files resource's settle_seconds,
# COV_RAW_SETTLE_SECONDS).
DEFAULT_RAW_SETTLE_SECONDS = 5
