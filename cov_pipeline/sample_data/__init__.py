"""Seeded generator of the SYNTHETIC sample extracts the repository ships under ``data/raw/``.

One module per source and one per reference file set (``reference``, ``deprivation``). Each
exposes ``generate_<name>(out_dir, rng, scale, profile) -> list[Path]``. A source's generator is
declared with the source itself (``Source.sample``, in :mod:`assets.registry`), so the list of
sources written is the registry's (:func:`sample_generators`); the reference files, which are no
source, are listed here (``REFERENCE``). Every source draws from its own generator, seeded from
the run's seed and the source's name, so adding a source never changes the files of another.

Profiles: ``sample`` (the default) writes the small extracts committed to the repository and takes
no ``scale``; ``benchmark`` writes the same extracts plus synthetic volume, about ``scale`` million
rows per source, for the performance benchmark (write it outside the checkout).
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cov_pipeline.sample_data.deprivation import generate_deprivation
from cov_pipeline.sample_data.reference import generate_reference

if TYPE_CHECKING:
    from assets.registry import Source

DEFAULT_SEED = 20251
PROFILES = ("sample", "benchmark")

SourceGenerator = Callable[[Path, np.random.Generator, float, str], list[Path]]
# The reference files every source's job reads (the Fingertips indicators and CIPFA neighbours,
# the IMD lookup): no source of their own, so listed here.
REFERENCE: dict[str, SourceGenerator] = {
    "reference": generate_reference,
    "deprivation": generate_deprivation,
}


def sample_generators(sources: Sequence[Source] | None = None) -> dict[str, SourceGenerator]:
    """The generators by name: the reference files', then each source's that declares one
    (``Source.sample``, a function or its ``"module:function"`` path), of ``sources``, by default
    the registered ones (:func:`assets.registry.project_sources`)."""
    if sources is None:
        from assets.registry import project_sources

        sources = project_sources()
    return {
        **REFERENCE,
        **{s.name: _generator(s.sample) for s in sources if s.sample is not None},
    }


def _generator(sample: str | SourceGenerator) -> SourceGenerator:
    if not isinstance(sample, str):
        return sample
    module, _, name = sample.partition(":")
    return getattr(importlib.import_module(module), name)


def source_rng(seed: int, source: str) -> np.random.Generator:
    """The random generator for one source: depends on the seed and the source's name only."""
    return np.random.default_rng([seed, zlib.crc32(source.encode("utf-8"))])


def generate_all(
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
    profile: str = "sample",
    sources: Sequence[Source] | None = None,
) -> list[Path]:
    """Regenerate the reference files and every source's extracts (of ``sources``, by default
    the registered ones) under ``out_dir`` and return the paths written."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
    if profile == "sample" and scale != 1.0:
        raise ValueError("scale applies to the benchmark profile only (--profile benchmark)")
    paths: list[Path] = []
    for name, generate in sample_generators(sources).items():
        paths.extend(generate(Path(out_dir), source_rng(seed, name), scale, profile))
    return paths


__all__ = [
    "DEFAULT_SEED",
    "PROFILES",
    "REFERENCE",
    "generate_all",
    "sample_generators",
    "source_rng",
]
