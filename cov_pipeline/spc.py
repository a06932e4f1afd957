"""Statistical process control: NHS England "Making Data Count" XmR charts for every source.

Limits, special-cause rules, variation and assurance labels per point, per-measure settings from
``config/spc.yaml``, and a latest-point summary. Vectorised over all groups at once: no loops over
rows. Reference: NHS England / Improvement, "Making Data Count" (2019) and "Making Data Count:
Getting Started" (2019); Wheeler DJ, "Understanding Variation" (2nd edn, 2000); Nelson LS (1982)
J Quality Technology 14:172-3 (moving-range screening).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from numpy.typing import ArrayLike

from cov_pipeline.config import spc_config_path
from cov_pipeline.stats import as_float_array, as_list

__all__ = [
    "ASSURANCE_LABELS",
    "IMPROVEMENT_DIRECTIONS",
    "LIMIT_MULTIPLIER",
    "MIN_BASELINE_POINTS",
    "MOVING_RANGE_SCREEN_MULTIPLIER",
    "RULE_LABELS",
    "RULE_PRECEDENCE",
    "SHIFT_POINTS",
    "SHORT_SERIES_POINTS",
    "SIGMA_PER_MEAN_MOVING_RANGE",
    "SPC_COLUMNS",
    "TREND_POINTS",
    "VARIATION_LABELS",
    "Rebase",
    "SpcConfigError",
    "SpcSettings",
    "XmrLimits",
    "load_spc_settings",
    "spc_series",
    "summarise_latest",
    "xmr_limits",
]

# --------------------------------------------------------------------------------------------
# constants: the method and its vocabulary

# Process limits sit 2.66 mean moving ranges from the centre: 3 sigma, with sigma estimated as
# mean MR / d2 and d2 = 1.128 for ranges of two points (3 / 1.128 = 2.66).
LIMIT_MULTIPLIER = 2.66
SIGMA_PER_MEAN_MOVING_RANGE = LIMIT_MULTIPLIER / 3
# Moving ranges at or above 3.267 × the mean moving range (the upper range limit, D4 for n = 2)
# are screened out and the mean recomputed once (Nelson 1982). The MDC Excel tools do not screen;
# NHSRplotthedots does by default, keeping only ranges strictly below the limit, as here.
MOVING_RANGE_SCREEN_MULTIPLIER = 3.267
SHIFT_POINTS = 7  # a run of this many points on one side of the centre line
TREND_POINTS = 7  # this many points each higher (or each lower) than the one before
MIN_BASELINE_POINTS = 12  # a fixed baseline needs at least this many points
SHORT_SERIES_POINTS = 13  # fewer points than this on a chart: limits are provisional

IMPROVEMENT_DIRECTIONS = ("down", "up", "neutral")

# Special-cause rules, with the description that lands in the data dictionary.
RULE_LABELS: dict[str, str] = {
    "outside_limits": "A single point above the upper or below the lower process limit.",
    "two_of_three_beyond_two_sigma": (
        "Two of three consecutive points beyond the 2-sigma line (two thirds of the way from the "
        "centre to a limit) on the same side, all three points on that side of the centre line; "
        "the points beyond the line are flagged, not the third point of the window. A point "
        "beyond the process limit counts as beyond the 2-sigma line."
    ),
    "trend": (
        f"{TREND_POINTS} or more consecutive points each strictly higher (or each strictly "
        "lower) than the one before; every point of the trend is flagged. Two equal "
        "consecutive values end a trend. The turning point between two opposite trends takes "
        "the direction of the trend it starts."
    ),
    "shift": (
        f"A run of {SHIFT_POINTS} or more consecutive points all above, or all below, the "
        "centre line; every point of the run is flagged. A point exactly on the centre line "
        "ends a run."
    ),
}
# When several rules fire on one point, ``spc_rule`` names the first of these that fired: the
# order of NHSRplotthedots (the NHS-R community's Making Data Count implementation).
RULE_PRECEDENCE: tuple[str, ...] = (
    "outside_limits",
    "trend",
    "two_of_three_beyond_two_sigma",
    "shift",
)

VARIATION_LABELS: dict[str, str] = {
    "common_cause": "Common cause variation: no special-cause rule fired for this point.",
    "improvement": (
        "Special cause, improving: on the better side of the centre line (or a trend in the "
        "better direction) for the measure's improvement direction."
    ),
    "concern": (
        "Special cause of concern: on the worse side of the centre line (or a trend in the "
        "worse direction) for the measure's improvement direction."
    ),
    "special_cause_high": (
        "Special cause, higher (above the centre line or a rising trend), on a measure with no "
        "preferred direction."
    ),
    "special_cause_low": (
        "Special cause, lower (below the centre line or a falling trend), on a measure with no "
        "preferred direction."
    ),
}

ASSURANCE_LABELS: dict[str, str] = {
    "consistently_passing": (
        "The target lies beyond the process limits on the passing side: with the process "
        "unchanged, every point is expected to meet the target."
    ),
    "consistently_failing": (
        "The target lies beyond the process limits on the failing side: with the process "
        "unchanged, no point is expected to meet the target."
    ),
    "inconsistent": (
        "The target lies between the process limits or on one: the process will sometimes "
        "meet it and sometimes not, by common-cause variation alone."
    ),
}

# Columns added by :func:`spc_series`, with their data-dictionary descriptions.
SPC_COLUMNS: dict[str, str] = {
    "spc_centre": "XmR centre line: mean of the points that set the limits (null if value missing).",
    "spc_lower_limit": "Lower process limit: centre - 2.66 × mean moving range.",
    "spc_upper_limit": "Upper process limit: centre + 2.66 × mean moving range.",
    "spc_rule": "Special-cause rule that fired for the point (highest precedence); null if none.",
    "spc_variation": "Variation label: " + ", ".join(VARIATION_LABELS) + ".",
    "spc_assurance": "Assurance against the target (null without a target): "
    + ", ".join(ASSURANCE_LABELS)
    + ".",
    "spc_short_series": f"True where the chart segment has fewer than {SHORT_SERIES_POINTS} points.",
    "spc_segment": "Rebase segment: 1 before the first rebase, then +1 at each rebase period.",
}


class SpcConfigError(ValueError):
    """An SPC setting that cannot be used (unknown direction, baseline under 12, rebase
    without a reason, ...)."""


# --------------------------------------------------------------------------------------------
# limits


@dataclass(frozen=True)
class XmrLimits:
    """Centre line, process limits and sigma lines of one XmR chart (NaN where undefined)."""

    centre: float
    mean_moving_range: float
    sigma: float
    lower_limit: float
    upper_limit: float
    lower_two_sigma: float
    upper_two_sigma: float
    lower_one_sigma: float
    upper_one_sigma: float
    n_points: int
    n_moving_ranges: int
    n_moving_ranges_screened: int


def _limits_by_chart(
    x: np.ndarray, chart: np.ndarray, in_set: np.ndarray, n_charts: int, screen: bool
) -> dict[str, np.ndarray]:
    """XmR statistics per chart for points laid out chart by chart, in period order.

    ``in_set`` marks the points that set the limits (non-missing, and inside the baseline where
    there is one). A moving range is taken only between adjacent rows that are both in the set
    and on the same chart, so no range spans a missing point or a rebase.
    """
    weights = in_set.astype(float)
    n_points = np.bincount(chart, weights=weights, minlength=n_charts)
    total = np.bincount(chart, weights=np.where(in_set, x, 0.0), minlength=n_charts)

    pair = np.zeros(len(x), dtype=bool)
    pair[1:] = in_set[1:] & in_set[:-1] & (chart[1:] == chart[:-1])
    mr = np.zeros(len(x))
    mr[1:] = np.abs(x[1:] - x[:-1])
    mr = np.where(pair, mr, 0.0)
    n_mr = np.bincount(chart, weights=pair.astype(float), minlength=n_charts)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(n_points > 0, total / n_points, np.nan)
        mean_mr = np.where(
            n_mr > 0, np.bincount(chart, weights=mr, minlength=n_charts) / n_mr, np.nan
        )
    n_screened = np.zeros(n_charts)
    if screen:
        keep = pair & (mr < MOVING_RANGE_SCREEN_MULTIPLIER * mean_mr[chart])
        n_kept = np.bincount(chart, weights=keep.astype(float), minlength=n_charts)
        kept_total = np.bincount(chart, weights=np.where(keep, mr, 0.0), minlength=n_charts)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_mr = np.where(n_kept > 0, kept_total / n_kept, np.nan)
        n_screened = n_mr - n_kept

    sigma = SIGMA_PER_MEAN_MOVING_RANGE * mean_mr
    return {
        "centre": centre,
        "mean_moving_range": mean_mr,
        "sigma": sigma,
        "lower_limit": centre - LIMIT_MULTIPLIER * mean_mr,
        "upper_limit": centre + LIMIT_MULTIPLIER * mean_mr,
        "lower_two_sigma": centre - 2 * sigma,
        "upper_two_sigma": centre + 2 * sigma,
        "lower_one_sigma": centre - sigma,
        "upper_one_sigma": centre + sigma,
        "n_points": n_points.astype(int),
        "n_moving_ranges": n_mr.astype(int),
        "n_moving_ranges_screened": n_screened.astype(int),
    }


def xmr_limits(
    values: ArrayLike,
    baseline_mask: ArrayLike | None = None,
    screen_moving_ranges: bool = True,
) -> XmrLimits:
    """XmR (individuals) chart limits for one series in period order.

    centre = mean of the points; moving ranges MRᵢ = |xᵢ - xᵢ₋₁| between consecutive points;
    with screening, ranges at or above 3.267 × mean MR are dropped and the mean MR recomputed once;
    limits = centre ± 2.66 × mean MR; sigma = mean MR × 2.66/3, giving the 1- and 2-sigma lines.
    Reference: NHS England "Making Data Count" (2019); Wheeler (2000); Nelson (1982).

    ``baseline_mask`` (booleans, one per value) restricts the points that set the limits.
    Missing values are left out, and no moving range spans one. With fewer than two usable
    consecutive points the limits are NaN.
    """
    x = np.atleast_1d(as_float_array(values)).astype(float)
    if x.ndim != 1:
        raise ValueError("values must be one-dimensional")
    in_set = np.isfinite(x)
    if baseline_mask is not None:
        mask = np.asarray(baseline_mask, dtype=bool)
        if mask.shape != x.shape:
            raise ValueError(f"baseline_mask has shape {mask.shape}, values {x.shape}")
        in_set &= mask
    stats = _limits_by_chart(
        np.where(in_set, x, 0.0), np.zeros(len(x), dtype=int), in_set, 1, screen_moving_ranges
    )
    return XmrLimits(**{k: v[0].item() for k, v in stats.items()})


# --------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class Rebase:
    """A recorded decision to recalculate the limits from ``period`` on, and why."""

    period: Any
    reason: str


@dataclass(frozen=True)
class SpcSettings:
    """One measure's SPC settings, as held in ``config/spc.yaml``."""

    measure: str
    improvement: Literal["down", "up", "neutral"]
    target: float | None = None
    baseline_points: int | None = None
    rebases: tuple[Rebase, ...] = field(default_factory=tuple)
    label: str | None = None
    value_label: str | None = None

    def __post_init__(self) -> None:
        where = f"SPC settings for {self.measure!r}"
        _check_improvement(self.improvement, target=self.target, where=where)
        _check_baseline(self.baseline_points, where=where)
        object.__setattr__(self, "rebases", _check_rebases(self.rebases, where=where))

    def spc_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`spc_series` (improvement, target, baseline, rebases)."""
        return {
            "improvement": self.improvement,
            "target": self.target,
            "baseline_periods": self.baseline_points,
            "rebases": self.rebases,
        }


_SETTING_KEYS = {"improvement", "target", "baseline_points", "rebases", "label", "value_label"}


def _check_improvement(improvement: object, target: object, where: str) -> None:
    if improvement not in IMPROVEMENT_DIRECTIONS:
        raise SpcConfigError(
            f"{where}: improvement must be one of {list(IMPROVEMENT_DIRECTIONS)}, "
            f"got {improvement!r}"
        )
    if target is not None:
        if (
            isinstance(target, bool)
            or not isinstance(target, int | float)
            or not np.isfinite(target)
        ):
            raise SpcConfigError(f"{where}: target must be a number or null, got {target!r}")
        if improvement == "neutral":
            raise SpcConfigError(
                f"{where}: a target needs an improvement direction ('down' or 'up'); "
                "a neutral measure cannot pass or fail one"
            )


def _check_baseline(baseline: object, where: str) -> None:
    if baseline is None:
        return
    if isinstance(baseline, bool) or not isinstance(baseline, int | np.integer):
        raise SpcConfigError(
            f"{where}: baseline must be a whole number of points, got {baseline!r}"
        )
    if baseline < MIN_BASELINE_POINTS:
        raise SpcConfigError(
            f"{where}: a baseline needs at least {MIN_BASELINE_POINTS} points, got {baseline}"
        )


def _check_rebases(rebases: Iterable[object] | None, where: str) -> tuple[Rebase, ...]:
    """Rebases as ``Rebase`` objects, from ``Rebase``, ``(period, reason)`` or a mapping."""
    out: list[Rebase] = []
    for item in rebases or ():
        if isinstance(item, Rebase):
            period, reason = item.period, item.reason
        elif isinstance(item, Mapping):
            unknown = set(item) - {"period", "reason"}
            if unknown:
                raise SpcConfigError(f"{where}: rebase has unknown keys {sorted(unknown)}")
            period, reason = item.get("period"), item.get("reason")
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            period, reason = item
        else:
            raise SpcConfigError(f"{where}: a rebase is (period, reason), got {item!r}")
        if period is None or (isinstance(period, str) and not period.strip()):
            raise SpcConfigError(f"{where}: a rebase needs a period, got {item!r}")
        if not isinstance(reason, str) or not reason.strip():
            raise SpcConfigError(
                f"{where}: the rebase at {period!r} has no reason; every rebase must record why "
                "the limits were recalculated"
            )
        out.append(Rebase(period=period, reason=reason.strip()))
    periods = [str(r.period) for r in out]
    if len(set(periods)) != len(periods):
        raise SpcConfigError(f"{where}: the same rebase period is listed twice: {periods}")
    return tuple(out)


def load_spc_settings(path: str | Path | None = None) -> dict[str, SpcSettings]:
    """Every measure's SPC settings, keyed by measure name.

    Reads ``path``, else ``$COV_SPC_CONFIG``, else the packaged ``cov_pipeline/config/spc.yaml``.
    Raises :class:`SpcConfigError` naming the file and measure for an unknown key or direction,
    a baseline under 12 points, a target on a neutral measure, or a rebase without a reason.
    """
    source = Path(path) if path is not None else spc_config_path()
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpcConfigError(f"{source}: cannot read SPC settings: {exc}") from exc
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise SpcConfigError(f"{source}: expected a mapping of measure name to settings")
    settings: dict[str, SpcSettings] = {}
    for measure, entry in document.items():
        where = f"{source}: measure {measure!r}"
        if not isinstance(entry, Mapping):
            raise SpcConfigError(f"{where}: expected a mapping of settings, got {entry!r}")
        unknown = set(entry) - _SETTING_KEYS
        if unknown:
            raise SpcConfigError(
                f"{where}: unknown keys {sorted(unknown)}; expected {sorted(_SETTING_KEYS)}"
            )
        if "improvement" not in entry:
            raise SpcConfigError(f"{where}: improvement (down / up / neutral) is required")
        try:
            settings[str(measure)] = SpcSettings(
                measure=str(measure),
                improvement=entry["improvement"],
                target=entry.get("target"),
                baseline_points=entry.get("baseline_points"),
                rebases=tuple(entry.get("rebases") or ()),
                label=entry.get("label"),
                value_label=entry.get("value_label"),
            )
        except SpcConfigError as exc:
            raise SpcConfigError(f"{source}: {exc}") from None
    return settings


# --------------------------------------------------------------------------------------------
# rules


def _shift_flags(side: np.ndarray, valid: np.ndarray, joined: np.ndarray) -> np.ndarray:
    """Points in a run of SHIFT_POINTS or more on one side of the centre (side = ±1; 0 on it).

    ``joined[i]`` says point i continues the stretch of point i-1 (both present, same chart).
    """
    prev_side = np.roll(side, 1)
    start = valid & (~joined | (side != prev_side))
    run = np.cumsum(start) - 1
    length = np.bincount(run[valid], minlength=max(int(run.max(initial=-1)) + 1, 1))
    return valid & (side != 0) & (length[np.maximum(run, 0)] >= SHIFT_POINTS)


def _trend_flags(x: np.ndarray, joined: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points in a trend of TREND_POINTS or more, and the trend's direction (+1 / -1) there.

    Works on steps: step i joins point i-1 to point i. A trend of k points is k-1 consecutive
    steps of one sign; an equal step (sign 0) belongs to no trend, so a tie ends one. A turning
    point that ends one trend and starts the opposite one takes the direction of the trend it
    starts (as NHSRplotthedots); a point that ends a trend and is then followed by a tie keeps
    the direction of its trend (NHSRplotthedots labels it by the direction of the step after
    it, which a tie leaves decreasing).
    """
    n = len(x)
    step = np.zeros(n)
    step[1:] = np.sign(x[1:] - x[:-1])
    step = np.where(joined, step, 0.0)
    prev_step = np.roll(step, 1)
    prev_joined = np.roll(joined, 1)
    if n:
        prev_joined[0] = False
    start = joined & (~prev_joined | (step != prev_step))
    run = np.cumsum(start) - 1
    length = np.bincount(run[joined], minlength=max(int(run.max(initial=-1)) + 1, 1))
    step_in = joined & (step != 0) & (length[np.maximum(run, 0)] >= TREND_POINTS - 1)
    step_out = np.zeros(n, dtype=bool)
    step_out[:-1] = step_in[1:]
    next_step = np.zeros(n)
    next_step[:-1] = step[1:]
    flags = step_in | step_out
    direction = np.where(step_out, next_step, np.where(step_in, step, 0.0))
    return flags, direction


def _two_of_three_flags(beyond: np.ndarray, on_side: np.ndarray, joined: np.ndarray) -> np.ndarray:
    """Points beyond a 2-sigma line that share a window of 3 consecutive points with another,
    the window's three points all on that side of the centre line (``on_side``).

    A window is three consecutive points of one stretch (no missing point, same chart).
    """
    n = len(beyond)
    hit = np.zeros(n, dtype=bool)  # hit[j]: the window ending at j has 2 or 3 points beyond
    if n >= 3:
        count = beyond[2:].astype(int) + beyond[1:-1] + beyond[:-2]
        one_side = on_side[2:] & on_side[1:-1] & on_side[:-2]
        hit[2:] = joined[2:] & joined[1:-1] & (count >= 2) & one_side
    in_hit = hit.copy()
    in_hit[:-1] |= hit[1:]
    in_hit[:-2] |= hit[2:]
    return beyond & in_hit


# --------------------------------------------------------------------------------------------
# series


def _coerce_period(value: object, periods: pd.Series, where: str) -> object:
    """A configured rebase period in the type of the period column, so they compare."""
    dtype = periods.dtype
    try:
        if isinstance(dtype, pd.PeriodDtype):
            return pd.Period(value, freq=dtype.freq)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            stamp = pd.Timestamp(value)
            tz = getattr(dtype, "tz", None)
            if tz is not None and stamp.tzinfo is None:
                stamp = stamp.tz_localize(tz)
            return stamp
        if pd.api.types.is_numeric_dtype(dtype):
            return float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: cannot compare {value!r} with {dtype} periods") from exc
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(periods.dropna().iloc[0] if periods.notna().any() else "", str):
        return str(value)
    return value


def _variation_labels(
    flagged: np.ndarray, side: np.ndarray, improvement: str, judged: np.ndarray
) -> np.ndarray:
    if improvement == "down":
        high, low = "concern", "improvement"
    elif improvement == "up":
        high, low = "improvement", "concern"
    else:
        high, low = "special_cause_high", "special_cause_low"
    return np.select(
        [~judged, flagged & (side > 0), flagged & (side < 0)],
        [None, high, low],
        default="common_cause",
    ).astype(object)


def _assurance_labels(
    lower: np.ndarray, upper: np.ndarray, target: float | np.ndarray | None, improvement: str
) -> np.ndarray:
    """Assurance of each point against ``target``: one number, or one per point (a
    trajectory, NaN where the point has none: null assurance there)."""
    if target is None:
        return np.full(len(lower), None, dtype=object)
    # A target exactly on a limit is inconsistent: a point on the limit is as likely as not.
    with np.errstate(invalid="ignore"):
        if improvement == "down":
            passing, failing = upper < target, lower > target
        else:
            passing, failing = lower > target, upper < target
    known = np.isfinite(lower) & np.isfinite(upper) & np.isfinite(target)
    return np.select(
        [~known, passing, failing],
        [None, "consistently_passing", "consistently_failing"],
        default="inconsistent",
    ).astype(object)


def spc_series(
    frame: pd.DataFrame,
    value_col: str,
    period_col: str = "period",
    group_cols: str | Sequence[str] = (),
    *,
    improvement: Literal["down", "up", "neutral"] = "down",
    target: float | None = None,
    trajectory_col: str | None = None,
    baseline_periods: int | None = None,
    rebases: Iterable[Rebase | tuple[object, str]] = (),
    min_points_warning: int = SHORT_SERIES_POINTS,
    screen_moving_ranges: bool = True,
) -> pd.DataFrame:
    """XmR chart columns for every row: one chart per group (and per rebase segment).

    Method (NHS England "Making Data Count", 2019; docs/definitions.md), with the conventions
    of NHSRplotthedots except where docs/definitions.md says why not: within each chart, rows
    in period order, centre = mean, limits = centre ± 2.66 × mean moving range (ranges at or
    above 3.267 × the mean screened out, once), sigma = mean MR × 2.66/3. Special causes, all
    strict inequalities, in ``RULE_PRECEDENCE`` order:
    - ``outside_limits``: a point above the upper or below the lower limit;
    - ``trend``: 7 or more points each strictly above (below) the one before; all flagged; an
      equal value ends the trend; the turning point between two opposite trends is labelled by
      the trend it starts, a trend's last point followed by a tie by its own trend;
    - ``two_of_three_beyond_two_sigma``: 2 of 3 consecutive points beyond centre ± 2 sigma on
      one side, all three on that side of the centre; the points beyond the line are flagged
      (a point beyond a limit counts as beyond 2 sigma);
    - ``shift``: 7 or more consecutive points above (below) the centre; all flagged; a point on
      the centre line ends the run.
    ``spc_rule`` names the first rule in ``RULE_PRECEDENCE`` that fired. ``spc_variation``
    follows the side of the centre line (for a trend, its direction) and ``improvement``: see
    ``VARIATION_LABELS``. With a ``target``, ``spc_assurance`` compares it with the limits:
    for "down", upper limit < target passes consistently, lower limit > target fails
    consistently, otherwise (a target on a limit included) inconsistent ("up" the reverse); a
    neutral measure takes no target.

    ``trajectory_col`` names a column of per-row targets (a trajectory: a target that changes
    over time). Each point's ``spc_assurance`` then compares that point's limits with that
    point's trajectory value, by the same strict inequalities as a fixed target (a value
    exactly on a limit is inconsistent); a row with no trajectory value gets null assurance.
    A fixed ``target`` and a ``trajectory_col`` together are refused (``ValueError``), as is a
    trajectory on a neutral measure.

    ``baseline_periods`` (>= 12): in each segment, the first N non-missing points set the
    centre and limits, which then extend over the rest of the segment. ``rebases``: (period,
    reason) pairs or :class:`Rebase`; a segment starts at each rebase period, with its own
    limits and rules (no run crosses a rebase); ``spc_segment`` counts from 1.

    Missing values (NaN) are left out of the limits and the rules, and get null centre, limits,
    rule, variation and assurance. A missing point ends every run, trend, 2-of-3 window and
    moving range, so no rule joins the points either side of a gap. Each row is one period: a
    period absent from the frame is not seen as a gap, so give it a row with a missing value.
    ``spc_short_series`` is true on a chart segment with fewer than ``min_points_warning``
    non-missing points. Where the limits cannot be set (fewer than 2 consecutive points), they
    and the labels are null.

    Returns a copy of ``frame`` (same index and row order) with the columns in ``SPC_COLUMNS``.
    Raises ``ValueError`` for a missing or duplicated period within a group.
    """
    where = "spc_series"
    _check_improvement(improvement, target=target, where=where)
    try:
        _check_baseline(baseline_periods, where=where)
    except SpcConfigError as exc:
        raise ValueError(str(exc)) from None
    rebase_list = _check_rebases(rebases, where=where)
    if trajectory_col is not None:
        if target is not None:
            raise ValueError(
                f"{where}: give a fixed target or a trajectory column, not both (target="
                f"{target!r}, trajectory_col={trajectory_col!r}); put a fixed target in the "
                "trajectory column if the series needs both"
            )
        if improvement == "neutral":
            raise ValueError(
                f"{where}: a trajectory needs an improvement direction ('down' or 'up'); "
                "a neutral measure cannot pass or fail one"
            )
    keys = as_list(group_cols)
    trajectory_cols = [] if trajectory_col is None else [trajectory_col]
    needed = [value_col, period_col, *keys, *trajectory_cols]
    missing_cols = [c for c in needed if c not in frame.columns]
    if missing_cols:
        raise KeyError(f"{where}: frame has no column(s) {missing_cols}")
    if frame[period_col].isna().any():
        raise ValueError(
            f"{where}: {int(frame[period_col].isna().sum())} row(s) have no {period_col!r}"
        )

    n = len(frame)
    group = (
        frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
        if keys
        else np.zeros(n, dtype=int)
    )
    work = pd.DataFrame({"_group": group, "_period": frame[period_col].reset_index(drop=True)})
    work = work.sort_values(["_group", "_period"], kind="mergesort")
    duplicated = work.duplicated(["_group", "_period"], keep=False)
    if duplicated.any():
        sample = work.loc[duplicated, "_period"].astype(str).unique()[:5].tolist()
        raise ValueError(f"{where}: duplicated {period_col!r} within a group, e.g. {sample}")
    order = work.index.to_numpy()  # positions in frame, sorted by group then period
    periods = work["_period"]

    segment = np.ones(n, dtype=int)
    for rebase in rebase_list:
        start = _coerce_period(rebase.period, periods, where=f"{where}: rebase")
        segment += (periods >= start).to_numpy(dtype=bool)

    g = work["_group"].to_numpy()
    new_chart = np.ones(n, dtype=bool)
    new_chart[1:] = (g[1:] != g[:-1]) | (segment[1:] != segment[:-1])
    chart = np.cumsum(new_chart) - 1
    n_charts = int(chart[-1]) + 1 if n else 0

    x = np.atleast_1d(as_float_array(frame[value_col])).astype(float)[order]
    valid = np.isfinite(x)
    x_filled = np.where(valid, x, 0.0)
    if baseline_periods is not None:
        rank = pd.Series(valid.astype(int)).groupby(chart).cumsum().to_numpy()
        in_set = valid & (rank <= baseline_periods)
    else:
        in_set = valid
    stats = _limits_by_chart(x_filled, chart, in_set, n_charts, screen_moving_ranges)
    row = {k: v[chart] for k, v in stats.items()}
    n_valid = np.bincount(chart, weights=valid.astype(float), minlength=n_charts)[chart]

    # joined[i]: point i continues point i-1's stretch (both present, on the same chart).
    joined = np.zeros(n, dtype=bool)
    joined[1:] = valid[1:] & valid[:-1] & ~new_chart[1:]
    judged = valid & np.isfinite(row["lower_limit"])
    with np.errstate(invalid="ignore"):
        side = np.where(judged, np.sign(x_filled - row["centre"]), 0.0)
        outside = judged & ((x_filled > row["upper_limit"]) | (x_filled < row["lower_limit"]))
        high2 = judged & (x_filled > row["upper_two_sigma"])
        low2 = judged & (x_filled < row["lower_two_sigma"])
    two_of_three = _two_of_three_flags(high2, side > 0, joined) | _two_of_three_flags(
        low2, side < 0, joined
    )
    trend, trend_direction = _trend_flags(x_filled, joined)
    trend &= judged
    shift = _shift_flags(side, judged, joined)

    fired = {
        "outside_limits": outside,
        "two_of_three_beyond_two_sigma": two_of_three,
        "trend": trend,
        "shift": shift,
    }
    conditions = [fired[name] for name in RULE_PRECEDENCE]
    rule = np.select(conditions, list(RULE_PRECEDENCE), default=None).astype(object)
    flagged = np.logical_or.reduce(conditions) if conditions else np.zeros(n, dtype=bool)
    label_side = np.where(rule == "trend", trend_direction, side)
    variation = _variation_labels(flagged, label_side, improvement, judged)
    per_point_target = (
        target
        if trajectory_col is None
        else np.atleast_1d(as_float_array(frame[trajectory_col])).astype(float)[order]
    )
    assurance = _assurance_labels(
        row["lower_limit"], row["upper_limit"], per_point_target, improvement
    )
    assurance[~judged] = None

    def null_where_missing(values: np.ndarray) -> np.ndarray:
        return np.where(valid, values, np.nan)

    sorted_columns = {
        "spc_centre": null_where_missing(row["centre"]),
        "spc_lower_limit": null_where_missing(row["lower_limit"]),
        "spc_upper_limit": null_where_missing(row["upper_limit"]),
        "spc_rule": rule,
        "spc_variation": variation,
        "spc_assurance": assurance,
        "spc_short_series": n_valid < min_points_warning,
        "spc_segment": segment,
    }
    out = frame.copy()
    for name, values in sorted_columns.items():
        unsorted = np.empty(n, dtype=values.dtype)
        unsorted[order] = values
        out[name] = unsorted
    return out


# --------------------------------------------------------------------------------------------
# summary


def summarise_latest(
    frame: pd.DataFrame,
    measure_col: str | None = None,
    group_cols: str | Sequence[str] = (),
    period_col: str = "period",
    value_col: str = "value",
) -> pd.DataFrame:
    """The latest point of every chart in the output of :func:`spc_series`: one row per
    (measure, group), for the summary mart.

    The latest point is the latest period with a value; a chart with no values at all keeps
    its row, with nulls and ``n_points`` 0. Columns: the measure and group columns,
    ``latest_period``, ``latest_value``, ``spc_centre``, ``spc_lower_limit``,
    ``spc_upper_limit``, ``spc_rule``, ``spc_variation``, ``spc_assurance``,
    ``spc_short_series``, ``spc_segment`` (all as at the latest point) and ``n_points`` (the
    values in the whole series).
    """
    keys = ([measure_col] if measure_col else []) + as_list(group_cols)
    carried = [
        "spc_centre",
        "spc_lower_limit",
        "spc_upper_limit",
        "spc_rule",
        "spc_variation",
        "spc_assurance",
        "spc_short_series",
        "spc_segment",
    ]
    missing_cols = [c for c in [period_col, value_col, *keys, *carried] if c not in frame.columns]
    if missing_cols:
        raise KeyError(f"summarise_latest: frame has no column(s) {missing_cols}")
    columns = [*keys, "latest_period", "latest_value", *carried, "n_points"]
    work = frame[[*keys, period_col, value_col, *carried]].rename(
        columns={period_col: "latest_period", value_col: "latest_value"}
    )
    work["_has_value"] = np.isfinite(as_float_array(work["latest_value"]))
    if not keys:
        work["_all"] = 0
    by = keys or ["_all"]
    counts = work.groupby(by, sort=True, dropna=False)["_has_value"].sum().rename("n_points")
    latest = (
        work[work["_has_value"]]
        .sort_values([*by, "latest_period"], kind="mergesort")
        .groupby(by, sort=True, dropna=False)
        .tail(1)
        .set_index(by)
    )
    out = counts.to_frame().join(latest.drop(columns="_has_value"), how="left").reset_index()
    out["n_points"] = out["n_points"].astype(int)
    return out[columns].reset_index(drop=True)
