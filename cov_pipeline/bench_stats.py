"""Time our vectorised intervals against PHStatsMethods' row-by-row ones on the same groups.

Run ``python -m cov_pipeline.bench_stats [--groups N] [--seed S] [--skip-oracle]``. Prints one
line per method with wall-clock seconds; PHStatsMethods (a test-only dependency) is timed only
where it is installed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from cov_pipeline.stats import proportion_with_ci, rate_with_ci

DEFAULT_GROUPS = 100_000
DEFAULT_SEED = 20240601


def make_groups(n_groups: int, seed: int) -> pd.DataFrame:
    """One row per group: a denominator of 100 to 1,000,000 and a count up to a fifth of it.

    Counts start at 1 because PHStatsMethods' rate function raises on a zero count.
    """
    rng = np.random.default_rng(seed)
    denominator = np.round(10 ** rng.uniform(2, 6, n_groups)).astype(np.int64)
    count = rng.integers(1, np.maximum(denominator // 5, 2), endpoint=True)
    return pd.DataFrame({"group": np.arange(n_groups), "count": count, "denominator": denominator})


def _time(fn: Callable[[], object], repeat: int) -> float:
    """Best of ``repeat`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=DEFAULT_GROUPS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=3, help="runs of our functions (best kept)")
    parser.add_argument("--skip-oracle", action="store_true", help="do not time PHStatsMethods")
    args = parser.parse_args(argv)

    frame = make_groups(args.groups, args.seed)
    # Worst case for us: every count under 10 takes the exact (gamma quantile) path.
    small = frame["count"] % 10
    rows: list[tuple[str, float]] = [
        (
            "cov_pipeline rate_with_ci (Byars / exact)",
            _time(lambda: rate_with_ci(frame["count"], frame["denominator"]), args.repeat),
        ),
        (
            "cov_pipeline rate_with_ci, all counts 0-9 (exact)",
            _time(lambda: rate_with_ci(small, frame["denominator"]), args.repeat),
        ),
        (
            "cov_pipeline proportion_with_ci (Wilson)",
            _time(lambda: proportion_with_ci(frame["count"], frame["denominator"]), args.repeat),
        ),
    ]

    note = ""
    if args.skip_oracle:
        note = "PHStatsMethods skipped (--skip-oracle)"
    else:
        try:
            from PHStatsMethods import ph_proportion, ph_rate
        except ImportError:
            note = "PHStatsMethods not installed: oracle not timed"
        else:
            # Grouped so that each group is one row, as in our call; timed once (it is slow).
            rows.append(
                (
                    "PHStatsMethods ph_rate",
                    _time(
                        lambda: ph_rate(
                            frame, "count", "denominator", "group", metadata=False, multiplier=1000
                        ),
                        1,
                    ),
                )
            )
            rows.append(
                (
                    "PHStatsMethods ph_proportion",
                    _time(
                        lambda: ph_proportion(
                            frame, "count", "denominator", "group", metadata=False, multiplier=100
                        ),
                        1,
                    ),
                )
            )

    width = max(len(name) for name, _ in rows)
    print(f"{args.groups:,} groups (seed {args.seed})")
    print(f"{'method':<{width}}  {'seconds':>9}")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:>9.3f}")
    if note:
        print(note)


if __name__ == "__main__":
    main()
