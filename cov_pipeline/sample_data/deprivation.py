"""A SYNTHETIC IMD 2019 lookup for Coventry-like LSOAs, in the official "File 1" layout.

195 well-formed 2011 LSOA codes (E01009001 to E01009195) with made-up names, ranks and deciles:
the codes are not Coventry's and the deciles are not any real area's. The deciles are spread the
way Coventry's are (78 of 195 LSOAs in national deciles 1-3), so measures by deprivation look
realistic. The maternity generator samples mothers' LSOAs from :func:`synthetic_imd_lookup`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

FILE_NAME = "imd2019_lsoa.csv"
FILE_1_HEADER = [
    "LSOA code (2011)",
    "LSOA name (2011)",
    "Local Authority District code (2019)",
    "Local Authority District name (2019)",
    "Index of Multiple Deprivation (IMD) Rank",
    "Index of Multiple Deprivation (IMD) Decile",
]
LAD_CODE = "E08000026"
LAD_NAME = "Coventry"
FIRST_LSOA_NUMBER = 9001
# LSOAs per national decile, 1 (most deprived) to 10: 195 in all, 78 in deciles 1-3 (40%), the
# shape of Coventry's distribution under IMD 2019.
DECILE_COUNTS = (30, 26, 22, 20, 20, 19, 18, 16, 14, 10)
# LSOAs in England under IMD 2019: national ranks run 1..32,844 and deciles split them in tenths.
NATIONAL_LSOAS_2011 = 32_844
LSOAS_PER_MSOA = 5
# The lookup is the same on every run and for every caller (see synthetic_imd_lookup).
LOOKUP_SEED = 2019


def synthetic_imd_lookup(rng: np.random.Generator | None = None) -> pd.DataFrame:
    """The synthetic lookup: ``lsoa_code, lsoa_name, lad_code, lad_name, imd_rank, imd_decile``.

    Deterministic and independent of ``rng``: any generator may call it with its own ``rng``
    (nothing is drawn from it) and gets exactly the LSOAs of ``reference/imd2019_lsoa.csv``, so
    synthetic records always find their LSOA in the lookup. Ranks are drawn inside each decile's
    national band (decile d holds ranks (d-1)·N/10+1 .. d·N/10, N = 32,844), unique, from a fixed
    seed. Sorted by LSOA code.
    """
    del rng
    own = np.random.default_rng(LOOKUP_SEED)
    counts = np.asarray(DECILE_COUNTS)
    deciles = own.permutation(np.repeat(np.arange(1, 11), counts))
    bounds = (np.arange(11) * NATIONAL_LSOAS_2011) // 10
    ranks = np.empty(len(deciles), dtype=np.int64)
    for decile in range(1, 11):  # ten bands, not rows
        where = np.flatnonzero(deciles == decile)
        band = np.arange(bounds[decile - 1] + 1, bounds[decile] + 1)
        ranks[where] = own.choice(band, size=len(where), replace=False)
    position = np.arange(len(deciles))
    letters = np.array(list("ABCDE"))[position % LSOAS_PER_MSOA]
    msoa = np.char.zfill((position // LSOAS_PER_MSOA + 1).astype(str), 3)
    return pd.DataFrame(
        {
            "lsoa_code": [f"E01{FIRST_LSOA_NUMBER + i:06d}" for i in position],
            "lsoa_name": np.char.add(np.char.add(f"{LAD_NAME} ", msoa), letters),
            "lad_code": LAD_CODE,
            "lad_name": LAD_NAME,
            "imd_rank": ranks,
            "imd_decile": deciles.astype(np.int64),
        }
    )


def write_file_1(lookup: pd.DataFrame, path: Path) -> Path:
    """The lookup in File 1's form: UTF-8 with a BOM, LF records, ranks like "11,101" (quoted)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = lookup.assign(imd_rank=lookup["imd_rank"].map("{:,}".format))
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FILE_1_HEADER)
        writer.writerows(table.itertuples(index=False))  # 195 rows of a fixed sample file
    return path


def generate_deprivation(
    out_dir: Path, rng: np.random.Generator, scale: float = 1.0, profile: str = "sample"
) -> list[Path]:
    """Write ``reference/imd2019_lsoa.csv`` under ``out_dir`` (the same in every profile)."""
    del scale, profile
    return [write_file_1(synthetic_imd_lookup(rng), Path(out_dir) / "reference" / FILE_NAME)]
