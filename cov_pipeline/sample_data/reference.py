"""Reference extracts: the areas the sample data uses and Coventry's CIPFA nearest neighbours.

Unlike the other sample extracts these are not invented: the codes, names and parents are the
published ONS/Fingertips ones, and the neighbour list is the one in Coventry's public health business
plan 2025-28. Only the benchmark profile adds synthetic areas, named as such.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENGLAND_CODE = "E92000001"
COVENTRY_CODE = "E08000026"
UA_AREA_TYPE = "Counties & UAs (from Apr 2023)"
# The label Fingertips gave the same upper-tier areas before the April 2023 boundary vintage.
UA_AREA_TYPE_2021 = "Counties & UAs (from Apr 2021)"
CIPFA_SOURCE = "Coventry public health business plan 2025-28 / CIPFA nearest neighbours"

# Synthetic benchmark areas get codes E069nnnnn: well formed, but far above the real E06 codes.
SYNTHETIC_CODE_PREFIX = "E069"
MAX_SYNTHETIC_AREAS = 100_000


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    area_type: str
    parent_code: str
    level: str  # "england", "region" or "ua": how the generator treats the area


ENGLAND = Area(ENGLAND_CODE, "England", "England", "", "england")
REGIONS: tuple[Area, ...] = (
    Area("E12000005", "West Midlands region", "Region", ENGLAND_CODE, "region"),
    Area("E12000004", "East Midlands region", "Region", ENGLAND_CODE, "region"),
    Area("E12000002", "North West region", "Region", ENGLAND_CODE, "region"),
    Area("E12000006", "East of England region", "Region", ENGLAND_CODE, "region"),
    Area("E12000003", "Yorkshire and the Humber region", "Region", ENGLAND_CODE, "region"),
)
UPPER_TIER: tuple[Area, ...] = (
    Area(COVENTRY_CODE, "Coventry", UA_AREA_TYPE, "E12000005", "ua"),
    Area("E06000015", "Derby", UA_AREA_TYPE, "E12000004", "ua"),
    Area("E08000001", "Bolton", UA_AREA_TYPE, "E12000002", "ua"),
    Area("E06000031", "Peterborough", UA_AREA_TYPE, "E12000006", "ua"),
    Area("E08000035", "Leeds", UA_AREA_TYPE, "E12000003", "ua"),
    Area("E08000039", "Sheffield", UA_AREA_TYPE, "E12000003", "ua"),
)
AREAS: tuple[Area, ...] = (ENGLAND, *REGIONS, *UPPER_TIER)
AREA_NAMES = {area.code: area.name for area in AREAS}

# Coventry's CIPFA nearest neighbours, in rank order, as listed in the business plan 2025-28.
CIPFA_NEIGHBOURS: tuple[tuple[str, int], ...] = (
    ("E06000015", 1),  # Derby
    ("E08000001", 2),  # Bolton
    ("E06000031", 3),  # Peterborough
    ("E08000035", 4),  # Leeds
    ("E08000039", 5),  # Sheffield
)


def synthetic_areas(n: int) -> tuple[Area, ...]:
    """The benchmark profile's made-up upper-tier areas, spread over the five regions above."""
    if n > MAX_SYNTHETIC_AREAS:
        raise ValueError(
            f"{n} synthetic areas asked for, but the code range {SYNTHETIC_CODE_PREFIX}nnnnn "
            f"holds {MAX_SYNTHETIC_AREAS}: lower --scale"
        )
    return tuple(
        Area(
            f"{SYNTHETIC_CODE_PREFIX}{i:05d}",
            f"Synthetic area {i:05d}",
            UA_AREA_TYPE,
            REGIONS[i % len(REGIONS)].code,
            "ua",
        )
        for i in range(n)
    )


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


# How each Fingertips indicator's CI is recomputed, as its Fingertips metadata gives it (value type,
# multiplier, polarity, unit). Published facts about the indicators, not simulated.
INDICATOR_METHODS = [
    [
        "92196",
        "Infant mortality",
        "crude_rate",
        "1000",
        "RAG - Low is good",
        "per 1,000 live births",
    ],
    [
        "92705",
        "Neonatal mortality",
        "crude_rate",
        "1000",
        "RAG - Low is good",
        "per 1,000 live births",
    ],
    ["92530", "Stillbirths", "crude_rate", "1000", "RAG - Low is good", "per 1,000 births"],
    [
        "91743",
        "Premature births (under 37 weeks)",
        "crude_rate",
        "1000",
        "RAG - Low is good",
        "per 1,000 births",
    ],
    ["20101", "Low birth weight of term babies", "proportion", "100", "RAG - Low is good", "%"],
    ["93085", "Smoking at time of delivery", "proportion", "100", "RAG - Low is good", "%"],
]


def generate_reference(
    out_dir: Path, rng: np.random.Generator, scale: float = 1.0, profile: str = "sample"
) -> list[Path]:
    """Write ``reference/cipfa_neighbours.csv``, ``areas.csv`` and ``fingertips_indicators.csv``.

    ``rng`` is unused (nothing here is random) but keeps the signature every source shares. In the
    benchmark profile ``areas.csv`` also lists the synthetic areas the Fingertips generator adds.
    """
    del rng
    folder = Path(out_dir) / "reference"
    neighbours = [
        [COVENTRY_CODE, AREA_NAMES[COVENTRY_CODE], code, AREA_NAMES[code], str(rank), CIPFA_SOURCE]
        for code, rank in CIPFA_NEIGHBOURS
    ]
    areas = list(AREAS)
    if profile == "benchmark":
        from cov_pipeline.sample_data.fingertips import benchmark_area_count

        areas.extend(synthetic_areas(benchmark_area_count(scale)))
    return [
        _write_csv(
            folder / "cipfa_neighbours.csv",
            [
                "area_code",
                "area_name",
                "neighbour_code",
                "neighbour_name",
                "neighbour_rank",
                "source",
            ],
            neighbours,
        ),
        _write_csv(
            folder / "areas.csv",
            ["area_code", "area_name", "area_type", "parent_code"],
            [[a.code, a.name, a.area_type, a.parent_code] for a in areas],
        ),
        _write_csv(
            folder / "fingertips_indicators.csv",
            ["indicator_id", "short_name", "value_type", "multiplier", "polarity", "unit"],
            INDICATOR_METHODS,
        ),
    ]
