"""``python -m cov_pipeline.sample_data``: regenerate the SYNTHETIC sample extracts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cov_pipeline import settings
from cov_pipeline.sample_data import DEFAULT_SEED, PROFILES, generate_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cov_pipeline.sample_data",
        description="Write the synthetic sample extracts (seeded, deterministic).",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(settings.raw_dir()), help="raw zone folder"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="sample",
        help="sample: the small committed extracts; benchmark: plus synthetic volume",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="benchmark profile only: about SCALE million extra rows per source",
    )
    args = parser.parse_args(argv)
    committed = (settings.PROJECT_ROOT / settings.DEFAULT_RAW_DIR).resolve()
    if args.profile == "benchmark" and args.out.resolve() == committed:
        parser.error(f"the benchmark profile must not write into the committed {committed}")
    try:
        paths = generate_all(args.out, seed=args.seed, scale=args.scale, profile=args.profile)
    except ValueError as exc:
        parser.error(str(exc))
    total = 0
    for path in paths:
        size = path.stat().st_size
        total += size
        print(f"wrote {path} ({size:,} bytes)")
    print(f"{len(paths)} files, {total:,} bytes (profile {args.profile}, seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
