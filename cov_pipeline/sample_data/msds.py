"""SYNTHETIC NHS Maternity Services Data Set (MSDS) publications for provider RKB and England.

Annual files for 2019-20 to 2024-25 (the annual layout, ``Period ... Value``) and two monthly files
(``ReportingPeriodStartDate ... Final_value``). Counts are multinomial draws around the levels the
project expects (docs/definitions.md): the provider delivers about 5,300 a year (a tertiary centre, so about
10% of its babies are preterm), about 12% of deliveries are booked at 91 days or later and about
47% of those with a known decile live in IMD deciles 1-3. As MSDS publishes them, every count is
rounded to the nearest 5 and a row whose count rounds to zero is left out. Labels drift between
releases the way MSDS's do, and the 2024-25 file is a "newer release" with renamed labels.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cov_pipeline.msds import (
    ANNUAL_HEADER,
    BOOKING_GROUPS,
    DECILES,
    GESTATION_LENGTHS,
    MISSING,
    MONTHLY_HEADER,
    PSEUDO_POSTCODE,
    RESIDENT_ELSEWHERE,
)

ROUND_TO = 5
ANNUAL_START_YEARS = tuple(range(2019, 2025))  # 2019-20 .. 2024-25
NEWER_RELEASE_YEAR = 2024  # the 2024-25 file renames labels
MONTHS = ((2025, 2, 28), (2025, 3, 31))  # the monthly files: February and March 2025
AGE_GROUPS = ("Under 20", "20 to 24", "25 to 29", "30 to 34", "35 to 39", "40 to 44", "45 or Over")


@dataclass(frozen=True)
class Org:
    level: str
    code: str
    name: str
    deliveries_per_year: float
    babies_per_delivery: float
    booking: tuple[float, ...]  # shares of 0-70, 71-90, 91-140, 141+ days (known bookings)
    gestation: tuple[float, ...]  # shares of the 11 GestationLengthBirth bands (known)
    deciles: tuple[float, ...]  # shares of deciles 1..10 (known)
    age: tuple[float, ...]
    missing_share: float  # share of deliveries / babies with the item not recorded


PROVIDER = Org(
    "Provider",
    "RKB",
    "UNIVERSITY HOSPITALS COVENTRY AND WARWICKSHIRE NHS TRUST",
    5_300,
    1.018,
    (0.625, 0.255, 0.080, 0.040),  # 12% late
    (0.010, 0.013, 0.011, 0.068, 0.130, 0.196, 0.278, 0.205, 0.077, 0.011, 0.001),  # 10.2% preterm
    (0.21, 0.12, 0.14, 0.08, 0.11, 0.08, 0.09, 0.06, 0.065, 0.045),  # 47% in deciles 1-3
    (0.04, 0.15, 0.28, 0.31, 0.17, 0.045, 0.005),
    0.008,
)
ENGLAND = Org(
    "National",
    "National",
    "ALL SUBMITTERS",
    540_000,
    1.0075,
    (0.660, 0.240, 0.068, 0.032),  # 10% late
    (0.0045, 0.007, 0.009, 0.054, 0.086, 0.150, 0.290, 0.240, 0.135, 0.022, 0.0025),  # 7.45%
    (0.135, 0.123, 0.117, 0.108, 0.099, 0.094, 0.088, 0.084, 0.080, 0.072),  # 37.5% in 1-3
    (0.03, 0.13, 0.28, 0.33, 0.18, 0.05, 0.01),
    0.04,
)

# How each release spells the labels that drift: (old releases, 2021-22 on, newer release).
MISSING_SPELLINGS = {
    "old_gestation": "Missing Value / Value outside reporting parameters",
    "old_group37": "Missing Value/Value outside reporting parameters",
    "newer": "Missing / Value outside reporting parameters",
}
NEWER_LABELS = {
    "141+ days": "141 days and over",
    "<37 weeks": "Under 37 weeks",
    ">=37 weeks": "37 weeks and over",
    "27 weeks and under": "Under 28 weeks",
    "01 - Most deprived": "1",
}
NEWER_BOOKING_DIMENSION = "GestAgeBookingGroup"


def _round5(counts: np.ndarray) -> np.ndarray:
    """Nearest multiple of 5, halves up, as MSDS publishes counts."""
    return (np.floor(np.asarray(counts, dtype=float) / ROUND_TO + 0.5) * ROUND_TO).astype(np.int64)


def _split(rng: np.random.Generator, total: int, shares: tuple[float, ...]) -> np.ndarray:
    p = np.asarray(shares, dtype=float)
    return rng.multinomial(total, p / p.sum())


def _decile_labels(release: str) -> list[str]:
    if release == "old":  # 2019-20, 2020-21: '2'..'9' unpadded
        return [DECILES[0], *(str(d) for d in range(2, 10)), DECILES[-1]]
    if release == "newer":
        return [NEWER_LABELS[DECILES[0]], *DECILES[1:]]
    return list(DECILES)


def simulate_org(
    rng: np.random.Generator, org: Org, scale: float, release: str
) -> list[tuple[str, str, str, int]]:
    """(dimension, measure, count_of, count) rows of one organisation and period, unrounded."""
    deliveries = int(
        rng.normal(org.deliveries_per_year * scale, 0.015 * org.deliveries_per_year * scale)
    )
    babies = int(round(deliveries * org.babies_per_delivery))
    newer = release == "newer"

    def label(text: str) -> str:
        return NEWER_LABELS.get(text, text) if newer else text

    def missing(kind: str) -> str:
        if newer:
            return MISSING_SPELLINGS["newer"]
        if release == "old" and kind in ("old_gestation", "old_group37"):
            return MISSING_SPELLINGS[kind]
        return MISSING

    rows: list[tuple[str, str, str, int]] = [
        ("TotalDeliveries", "", "Deliveries", deliveries),
        ("TotalBabies", "", "Babies", babies),
    ]
    booking_missing = rng.binomial(deliveries, org.missing_share)
    booking = _split(rng, deliveries - booking_missing, org.booking)
    dimension = NEWER_BOOKING_DIMENSION if newer else "GestAgeFormalAntenatalBookingGroup"
    rows += [
        (dimension, label(c), "Deliveries", int(n))
        for c, n in zip(BOOKING_GROUPS, booking, strict=True)
    ]
    rows.append((dimension, missing("booking"), "Deliveries", int(booking_missing)))

    gestation_missing = rng.binomial(babies, org.missing_share / 2)
    gestation = _split(rng, babies - gestation_missing, org.gestation)
    rows += [
        ("GestationLengthBirth", label(c), "Babies", int(n))
        for c, n in zip(GESTATION_LENGTHS, gestation, strict=True)
    ]
    rows.append(
        ("GestationLengthBirth", missing("old_gestation"), "Babies", int(gestation_missing))
    )
    preterm = int(gestation[:4].sum())
    rows += [
        ("GestationLengthBirthGroup37", label("<37 weeks"), "Babies", preterm),
        ("GestationLengthBirthGroup37", label(">=37 weeks"), "Babies", int(gestation[4:].sum())),
        ("GestationLengthBirthGroup37", missing("old_group37"), "Babies", int(gestation_missing)),
    ]

    decile_missing = rng.binomial(deliveries, org.missing_share / 4)
    pseudo = rng.binomial(deliveries, 0.002)
    elsewhere = 0 if org.level == "Provider" else rng.binomial(deliveries, 0.001)
    deciles = _split(rng, deliveries - decile_missing - pseudo - elsewhere, org.deciles)
    rows += [
        ("DeprivationDecileAtBooking", c, "Deliveries", int(n))
        for c, n in zip(_decile_labels(release), deciles, strict=True)
    ]
    rows += [
        ("DeprivationDecileAtBooking", PSEUDO_POSTCODE, "Deliveries", int(pseudo)),
        ("DeprivationDecileAtBooking", RESIDENT_ELSEWHERE, "Deliveries", int(elsewhere)),
        ("DeprivationDecileAtBooking", missing("deprivation"), "Deliveries", int(decile_missing)),
    ]
    ages = _split(rng, deliveries, org.age)
    rows += [
        ("AgeAtBookingMotherGroup", c, "Deliveries", int(n))
        for c, n in zip(AGE_GROUPS, ages, strict=True)
    ]
    return rows


def publication_rows(
    rng: np.random.Generator, scale: float, release: str
) -> list[tuple[str, str, str, str, str, str, str]]:
    """Rounded rows (Dimension, Org_Level, Org_Code, Org_Name, Measure, Count_Of, value text) of
    England and the provider; rows that round to zero are left out, as MSDS does."""
    out = []
    for org in (ENGLAND, PROVIDER):
        rows = simulate_org(rng, org, scale, release)
        rounded = _round5([n for *_, n in rows])
        level = org.level.upper() if release == "newer" and org.level == "National" else org.level
        code = "ALL" if release == "monthly" and org.level == "National" else org.code
        for (dimension, measure, count_of, _), value in zip(rows, rounded, strict=True):
            if value == 0:
                continue  # MSDS omits zero rows
            out.append((dimension, level, code, org.name, measure, count_of, str(value)))
    return out


def _write(path: Path, header: tuple[str, ...], rows: list[list[str]], bom: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def annual_release(start_year: int) -> str:
    if start_year == NEWER_RELEASE_YEAR:
        return "newer"
    return "old" if start_year < 2021 else "current"


def generate_msds(
    out_dir: Path, rng: np.random.Generator, scale: float = 1.0, profile: str = "sample"
) -> list[Path]:
    """Write ``maternity/msds-*.csv`` under ``out_dir`` (the same in every profile).

    Annual files ``msds-annual-<yyyy-yy>.csv`` (UTF-8 with a BOM, like the published annual CSV)
    and monthly files ``msds-<yyyy-mm>-exp-data.csv`` (no BOM). In 2023-24 one provider count is
    published blank (missing, not zero); the 2024-25 file renames labels.
    """
    del scale, profile
    folder = Path(out_dir) / "maternity"
    paths = []
    for year in ANNUAL_START_YEARS:
        period = f"{year}-{(year + 1) % 100:02d}"
        rows = [[period, *row] for row in publication_rows(rng, 1.0, annual_release(year))]
        if year == 2023:
            blank = next(
                r for r in rows if r[1] == "AgeAtBookingMotherGroup" and r[3] == PROVIDER.code
            )
            blank[7] = ""
        if year == NEWER_RELEASE_YEAR:
            rows = [
                [*r[:5], f"  {r[5]} " if r[5] == "91 to 140 days" else r[5], *r[6:]] for r in rows
            ]
        paths.append(_write(folder / f"msds-annual-{period}.csv", ANNUAL_HEADER, rows, bom=True))
    for year, month, last_day in MONTHS:
        start, end = f"{year}-{month:02d}-01", f"{year}-{month:02d}-{last_day}"
        rows = [[start, end, *row] for row in publication_rows(rng, 1 / 12, "monthly")]
        name = f"msds-{year}-{month:02d}-exp-data.csv"
        paths.append(_write(folder / name, MONTHLY_HEADER, rows, bom=False))
    return paths
