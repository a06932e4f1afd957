"""Seeded generator of the SYNTHETIC sample extracts the repository ships under ``data/raw/``.

One module per source (``fingertips``, ``reference``; maternity, referrals and the household survey
join later as siblings). Each exposes ``generate_<source>(out_dir, rng, scale, profile) -> list[Path]``
and is registered in ``SOURCES``. Every source draws from its own generator, seeded from the run's
seed and the source's name, so adding a source never changes the files of another.

Profiles: ``sample`` (the default) writes the small extracts committed to the repository and takes
no ``scale``; ``benchmark`` writes the same extracts plus synthetic volume, about ``scale`` million
rows per source, for the performance benchmark (write it outside the checkout).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cov_pipeline.sample_data.deprivation import generate_deprivation
from cov_pipeline.sample_data.fingertips import generate_fingertips
from cov_pipeline.sample_data.household_survey import generate_household_survey
from cov_pipeline.sample_data.maternity import generate_maternity
from cov_pipeline.sample_data.msds import generate_msds
from cov_pipeline.sample_data.reference import generate_reference
from cov_pipeline.sample_data.referrals import generate_referrals

DEFAULT_SEED = 20251
PROFILES = ("sample", "benchmark")

SourceGenerator = Callable[[Path, np.random.Generator, float, str], list[Path]]
SOURCES: dict[str, SourceGenerator] = {
    "reference": generate_reference,
    "fingertips": generate_fingertips,
    "household_survey": generate_household_survey,
    "deprivation": generate_deprivation,
    "referrals": generate_referrals,
    "msds": generate_msds,
    "maternity": generate_maternity,
}


def source_rng(seed: int, source: str) -> np.random.Generator:
    """The random generator for one source: depends on the seed and the source's name only."""
    return np.random.default_rng([seed, zlib.crc32(source.encode("utf-8"))])


def generate_all(
    out_dir: Path, seed: int = DEFAULT_SEED, scale: float = 1.0, profile: str = "sample"
) -> list[Path]:
    """Regenerate every source's extracts under ``out_dir`` and return the paths written."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
    if profile == "sample" and scale != 1.0:
        raise ValueError("scale applies to the benchmark profile only (--profile benchmark)")
    paths: list[Path] = []
    for name, generate in SOURCES.items():
        paths.extend(generate(Path(out_dir), source_rng(seed, name), scale, profile))
    return paths


__all__ = ["DEFAULT_SEED", "PROFILES", "SOURCES", "generate_all", "source_rng"]
