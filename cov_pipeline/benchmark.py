"""Benchmark a full refresh: scaled synthetic inputs, per-asset time, rows per second and peak memory,
beside the floor (DuckDB's native CSV reader loading the same files into tables).

    python -m cov_pipeline.benchmark --scale 1
    python -m cov_pipeline.benchmark --scale 0.25 1 4 --json bench.json
    python -m cov_pipeline.benchmark --scale 1 --repeat 3
    python -m cov_pipeline.benchmark --scale 1 --postgres postgresql+psycopg://postgres@127.0.0.1/postgres

The refresh is the nightly job ``refresh_all`` run in one process, as the nightly run executes it
on DuckDB: every asset and every asset check, the Great Expectations suites included (their steps
are totalled apart). Each scale runs in a fresh Python process, so each pays what a nightly run
pays (importing GX, registering its suites) and its peak memory is its own. Inputs go to a
temporary folder and the warehouse to a temporary DuckDB file (with ``--postgres``, to a scratch
database created on that server and dropped after); nothing is written into the checkout.
Figures are printed, and written as JSON with ``--json``.

Timings on a shared virtual machine move by a fifth between runs of the same files; with
``--repeat N`` each scale runs N times (each in a fresh process, inputs generated again with the
same seed) and the run with the median full refresh is reported, with the range over the runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
GX_CHECK_NAME = "great_expectations"
# The floor reads every field as text, as our loaders do, with the quoting the exports use.
CSV_OPTIONS = "all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"'"


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_SIZE


class RssSampler:
    """Samples this process's resident memory in the background, with timestamps."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), current_rss_bytes()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float, end: float) -> int:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return max(inside) if inside else 0


@dataclass
class StepFigure:
    step: str
    seconds: float
    rows: int
    rows_per_second: float
    peak_rss_mb: float


@dataclass
class ScaleFigures:
    scale: float
    input_files: int
    input_mb: float
    input_rows: int
    generate_seconds: float
    refresh_seconds: float
    materialise_seconds: float
    check_seconds: float
    floor_seconds: float
    ratio_to_floor: float
    peak_rss_mb: float
    steps: list[StepFigure] = field(default_factory=list)
    warehouse: str = "duckdb"
    # with --repeat: every run's full refresh, floor and ratio, this run (the median) among them
    runs: list[dict] = field(default_factory=list)


SPREAD_FIELDS = ("refresh_seconds", "floor_seconds", "ratio_to_floor", "peak_rss_mb")


def median_run(runs: list[ScaleFigures]) -> ScaleFigures:
    """The run whose full refresh is the median (the lower of the middle two for an even count),
    carrying every run's refresh, floor, ratio and peak memory in ``runs``."""
    ordered = sorted(runs, key=lambda r: r.refresh_seconds)
    chosen = ordered[(len(ordered) - 1) // 2]
    spread = [{name: getattr(r, name) for name in SPREAD_FIELDS} for r in runs]
    return ScaleFigures(**{**asdict(chosen), "steps": chosen.steps, "runs": spread})


def spread_line(figures: ScaleFigures) -> str:
    """``refresh 32.05 s (30.10-39.83), floor ...`` over the runs of one scale."""
    parts = []
    for name, label, unit in (("refresh_seconds", "full refresh", " s"), ("floor_seconds", "floor", " s"),
                              ("ratio_to_floor", "ratio", ""), ("peak_rss_mb", "peak RSS", " MB")):  # fmt: skip
        values = [run[name] for run in figures.runs]
        parts.append(
            f"{label} {getattr(figures, name):,.2f}{unit} ({min(values):,.2f}-{max(values):,.2f})"
        )
    return f"  the median run of {len(figures.runs)}, and the range over them: " + ", ".join(parts)


def count_csv_rows(paths: list[Path]) -> int:
    """Data rows of CSV files as DuckDB's reader sees them (quoted line breaks handled)."""
    import duckdb

    con = duckdb.connect()
    total = 0
    for path in paths:
        total += con.execute(
            f"SELECT COUNT(*) FROM read_csv(?, {CSV_OPTIONS})", [str(path)]
        ).fetchone()[0]
    con.close()
    return total


def measure_floor(paths: list[Path], workdir: Path) -> float:
    """Seconds for DuckDB's native reader to load every CSV into a table of a fresh file."""
    import duckdb

    target = workdir / "floor.duckdb"
    start = time.perf_counter()
    con = duckdb.connect(str(target))
    for index, path in enumerate(paths):
        con.execute(
            f"CREATE TABLE t{index} AS SELECT * FROM read_csv(?, {CSV_OPTIONS})",
            [str(path)],
        )
    con.close()
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def run_refresh(
    raw_dir: Path, warehouse_url: str, sampler: RssSampler
) -> tuple[float, list[StepFigure], bool]:
    from dagster import DagsterEventType, DagsterInstance

    from cov_pipeline.definitions import execute_refresh_all

    instance = DagsterInstance.ephemeral()
    start = time.perf_counter()
    result = execute_refresh_all(
        raw_dir,
        warehouse_url,
        instance,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    elapsed = time.perf_counter() - start

    starts, ends, rows = {}, {}, {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            starts[event.step_key] = entry.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            ends[event.step_key] = entry.timestamp
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.event_specific_data.materialization.metadata
            count = metadata.get("dagster/row_count")
            if count is not None:
                rows[event.step_key] = rows.get(event.step_key, 0) + int(count.value)
    steps = []
    for step, begun in sorted(starts.items(), key=lambda item: item[1]):
        seconds = ends.get(step, begun) - begun
        n = rows.get(step, 0)
        steps.append(
            StepFigure(
                step=step,
                seconds=round(seconds, 3),
                rows=n,
                rows_per_second=round(n / seconds) if seconds > 0 else 0.0,
                peak_rss_mb=round(sampler.peak_between(begun, ends.get(step, begun)) / 2**20, 1),
            )
        )
    return elapsed, steps, result.success


def is_check(step: str) -> bool:
    """Steps of the Great Expectations asset checks (the other checks run inside their asset)."""
    return step.endswith(f"_{GX_CHECK_NAME}")


def benchmark_scale(
    scale: float, seed: int, keep: Path | None = None, postgres: str | None = None
) -> ScaleFigures:
    """One scale: inputs, floor and the nightly job, into a DuckDB file, or into a scratch
    database on the PostgreSQL server of ``postgres`` (any database URL of it)."""
    from cov_pipeline.sample_data import generate_all
    from cov_pipeline.warehouse import scratch_database

    workdir = Path(tempfile.mkdtemp(prefix=f"cov_bench_{scale}_"))
    try:
        raw = workdir / "raw"
        began = time.perf_counter()
        generate_all(raw, seed=seed, scale=scale, profile="benchmark")
        generate_seconds = time.perf_counter() - began
        csvs = sorted(raw.rglob("*.csv"))
        input_rows = count_csv_rows(csvs)
        floor = measure_floor(csvs, workdir)
        with contextlib.ExitStack() as stack:
            if postgres:
                url = stack.enter_context(scratch_database(postgres, "cov_bench"))
            else:
                url = f"duckdb:///{workdir / 'warehouse.duckdb'}"
            sampler = stack.enter_context(RssSampler())
            refresh, steps, success = run_refresh(raw, url, sampler)
        if not success:
            raise RuntimeError(f"the refresh at scale {scale} failed; see the log above")
        return ScaleFigures(
            scale=scale,
            input_files=len(csvs),
            input_mb=round(sum(p.stat().st_size for p in csvs) / 2**20, 1),
            input_rows=input_rows,
            generate_seconds=round(generate_seconds, 2),
            refresh_seconds=round(refresh, 2),
            materialise_seconds=round(sum(s.seconds for s in steps if not is_check(s.step)), 2),
            check_seconds=round(sum(s.seconds for s in steps if is_check(s.step)), 2),
            floor_seconds=round(floor, 2),
            ratio_to_floor=round(refresh / floor, 2) if floor else float("nan"),
            peak_rss_mb=round(max((rss for _, rss in sampler.samples), default=0) / 2**20, 1),
            steps=steps,
            warehouse="postgresql" if postgres else "duckdb",
        )
    finally:
        if keep is not None:
            shutil.copytree(workdir, keep / workdir.name, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


def print_figures(figures: ScaleFigures) -> None:
    print(f"\nscale {figures.scale}: {figures.input_rows:,} input rows in {figures.input_files} files "
          f"({figures.input_mb} MB), into {figures.warehouse}")  # fmt: skip
    print(f"  {'step':<58} {'seconds':>8} {'rows':>11} {'rows/s':>11} {'peak RSS MB':>12}")
    for step in figures.steps:
        print(f"  {step.step:<58} {step.seconds:>8.2f} {step.rows:>11,} "
              f"{step.rows_per_second:>11,.0f} {step.peak_rss_mb:>12,.0f}")  # fmt: skip
    print(f"  {'full refresh':<58} {figures.refresh_seconds:>8.2f} {'':>11} "
          f"{figures.input_rows / figures.refresh_seconds:>11,.0f} {figures.peak_rss_mb:>12,.0f}")  # fmt: skip
    print(f"  {'floor: DuckDB native CSV reader, same files':<58} {figures.floor_seconds:>8.2f} "
          f"{'':>11} {figures.input_rows / max(figures.floor_seconds, 1e-9):>11,.0f}")  # fmt: skip
    print(f"  of which materialising tables {figures.materialise_seconds:.2f} s, "
          f"Great Expectations checks {figures.check_seconds:.2f} s, the rest Dagster's run "
          "start and hand-over between steps")  # fmt: skip
    print(f"  ratio full refresh / floor: {figures.ratio_to_floor:.2f} "
          f"(materialising alone: {figures.materialise_seconds / figures.floor_seconds:.2f})")  # fmt: skip
    if len(figures.runs) > 1:
        print(spread_line(figures))


def print_scaling(results: list[ScaleFigures]) -> None:
    if len(results) < 2:
        return
    base = results[0]
    print("\nscaling (relative to the smallest scale):")
    print(
        f"  {'scale':>6} {'rows':>12} {'seconds':>9} {'x time':>7} {'x rows':>7} {'peak MB':>8} {'x memory':>9}"
    )
    for r in results:
        print(f"  {r.scale:>6} {r.input_rows:>12,} {r.refresh_seconds:>9.2f} "
              f"{r.refresh_seconds / base.refresh_seconds:>7.2f} {r.input_rows / base.input_rows:>7.2f} "
              f"{r.peak_rss_mb:>8,.0f} {r.peak_rss_mb / base.peak_rss_mb:>9.2f}")  # fmt: skip


def benchmark_in_fresh_process(
    scale: float, seed: int, keep: Path | None, postgres: str | None = None
) -> ScaleFigures:
    """:func:`benchmark_scale` in a new interpreter (the environment, so the benchmark's home and
    temporary folder, passed on); its figures come back as JSON."""
    handle, name = tempfile.mkstemp(suffix=".json")
    os.close(handle)
    result = Path(name)
    command = [sys.executable, "-m", "cov_pipeline.benchmark",
               "--scale", str(scale), "--seed", str(seed), "--one-scale-json", str(result)]  # fmt: skip
    if keep is not None:
        command += ["--keep", str(keep)]
    if postgres:
        command += ["--postgres", postgres]
    try:
        subprocess.run(command, check=True, env={**os.environ, "TMPDIR": tempfile.gettempdir()})
        data = json.loads(result.read_text())
    finally:
        result.unlink(missing_ok=True)
    steps = [StepFigure(**step) for step in data.pop("steps")]
    return ScaleFigures(**data, steps=steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cov_pipeline.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--scale", type=float, nargs="+", default=[1.0],
                        help="scale factors (1 = about 1M Fingertips rows); several for a curve")  # fmt: skip
    parser.add_argument("--seed", type=int, default=20251)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep", type=Path, help="copy the generated inputs and warehouse here")
    parser.add_argument("--postgres", metavar="URL",
                        help="warehouse on this PostgreSQL server (a scratch database, dropped "
                        "after) instead of a DuckDB file")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per scale; the median run is reported with the range")  # fmt: skip
    # run by the command itself: one scale in this process, its figures written to the file
    parser.add_argument("--one-scale-json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.one_scale_json:
        figures = benchmark_scale(args.scale[0], args.seed, args.keep, args.postgres)
        args.one_scale_json.write_text(json.dumps(asdict(figures)))
        return 0
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    with tempfile.TemporaryDirectory(prefix="cov_bench_home_") as home:
        os.environ["DAGSTER_HOME"] = home
        os.environ["COV_EXPORT_DIR"] = str(Path(home) / "exports")
        os.environ["COV_DOCS_DIR"] = str(Path(home) / "docs")
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        # Libraries' own temporary files (GX leaves a docs folder per process) go inside the
        # benchmark's home and leave with it.
        scratch, tempfile.tempdir = tempfile.tempdir, str(Path(home, "tmp"))
        Path(tempfile.tempdir).mkdir()
        results = []
        try:
            for scale in args.scale:
                runs = [benchmark_in_fresh_process(scale, args.seed, args.keep, args.postgres)
                        for _ in range(args.repeat)]  # fmt: skip
                figures = median_run(runs)
                print_figures(figures)
                results.append(figures)
        finally:
            tempfile.tempdir = scratch
    print_scaling(results)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\nlargest peak RSS of one scale's process: {peak:,.0f} MB")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
