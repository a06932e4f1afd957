"""Rare-event SPC charts: the g-chart (cases between events) and the t-chart (days between).

NHS England's "Making Data Count" advises, for events too rare for a monthly XmR chart to show
anything but zeros (extremely preterm births, infant deaths), charting the gap between
consecutive events instead: a long gap is good news for a harmful event, a run of short gaps
bad news. Vectorised over all groups at once: no loops over rows.

- **g-chart** (Benneyan 2001): the number of cases (e.g. births) between consecutive events
  follows a geometric distribution. Centre line = mean gap ḡ (or, as some NHS tools draw it,
  the median gap); upper limit = ḡ + 3·√(ḡ(ḡ + 1)) (3 sigma, the geometric variance being
  ḡ(ḡ + 1)), or the geometric probability limit ln(0.00135) / ln(1 - p) - 1 with
  p = 1 / (ḡ + 1). The lower limit is 0: a short gap never falls below it.
- **t-chart** (Nelson 1994; Provost & Murray 2011): the days between events of a steady
  process are exponential; y = t^(1/3.6) makes them nearly symmetric (a Weibull of shape 3.6),
  an XmR chart is drawn on y (:func:`cov_pipeline.spc.spc_series`, every XmR rule) and the
  centre and limits are raised back to the 3.6th power for plotting in days.

References: Benneyan JC (2001) "Number-between g-type statistical quality control charts for
health care applications", Health Care Management Science 4:305-318; Kaminsky FC et al (1992)
J Quality Technology 24:63-69; Nelson LS (1994) "A control chart for parts-per-million
nonconforming items", J Quality Technology 26:239-240; Provost LP, Murray SK, "The Health Care
Data Guide" (2011); NHS England "Making Data Count" (2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from cov_pipeline.spc import (
    SHIFT_POINTS,
    SHORT_SERIES_POINTS,
    _check_improvement,
    _shift_flags,
    _variation_labels,
    spc_series,
)
from cov_pipeline.stats import as_float_array, as_list

__all__ = [
    "G_CHART_COLUMNS",
    "G_CHART_RULES",
    "G_PROBABILITY_UPPER",
    "T_CHART_COLUMNS",
    "T_CHART_POWER",
    "g_chart",
    "g_upper_limit",
    "t_chart",
]

# The t-chart transformation: y = t ** (1 / 3.6) (Nelson 1994).
T_CHART_POWER = 1 / 3.6
# Upper tail of the geometric probability limit: the chance of a point above it, as above a
# 3-sigma limit of a normal distribution.
G_PROBABILITY_UPPER = 0.00135

G_CHART_RULES: dict[str, str] = {
    "outside_limits": (
        "A gap above the upper limit: far more cases than usual passed without an event. The "
        "lower limit is 0, so a short gap never fires this rule."
    ),
    "shift": (
        f"A run of {SHIFT_POINTS} or more consecutive gaps all above, or all below, the centre "
        "line; every gap of the run is flagged; a gap exactly on the centre line ends a run. "
        "Around the mean about 63% of geometric gaps fall below it, so a run below the mean "
        "comes by chance more often than one above; around the median the two sides are even."
    ),
}

G_CHART_COLUMNS: dict[str, str] = {
    "event_number": "Event number within the group, from 1, in case order.",
    "cases_between": (
        "Cases without an event since the previous event (for the first event, since the "
        "start of the series)."
    ),
    "spc_centre": "g-chart centre line: the mean gap, or the median gap with centre='median'.",
    "spc_lower_limit": "g-chart lower limit: always 0.",
    "spc_upper_limit": (
        "g-chart upper limit: mean + 3 × sqrt(mean × (mean + 1)), or the geometric "
        "probability limit ln(0.00135) / ln(1 - p) - 1 with p = 1 / (mean + 1)."
    ),
    "spc_rule": "g-chart rule that fired (outside_limits before shift); null if none.",
    "spc_variation": "Variation label, by the improvement direction (up: longer gaps better).",
    "spc_short_series": f"True where the group has fewer than {SHORT_SERIES_POINTS} gaps.",
}

T_CHART_COLUMNS: dict[str, str] = {
    "event_number": "Event number within the group, from 1, in date order.",
    "days_between": "Days since the previous event (null for the group's first event).",
    "transformed_gap": "days_between ** (1 / 3.6), the value the XmR chart is drawn on.",
    "spc_centre": "Centre line in days: (mean transformed gap) ** 3.6.",
    "spc_lower_limit": "Lower limit in days: (transformed lower limit, at least 0) ** 3.6.",
    "spc_upper_limit": "Upper limit in days: (transformed upper limit) ** 3.6.",
    "spc_rule": "XmR special-cause rule that fired on the transformed gaps; null if none.",
    "spc_variation": "Variation label, by the improvement direction (up: longer gaps better).",
    "spc_short_series": f"True where the group has fewer than {SHORT_SERIES_POINTS} gaps.",
}


def g_upper_limit(
    mean_gap: float | np.ndarray, limits: Literal["sigma", "probability"] = "sigma"
) -> np.ndarray:
    """The g-chart's upper limit for a mean number of cases between events.

    ``"sigma"``: ḡ + 3·√(ḡ(ḡ + 1)) (Benneyan 2001). ``"probability"``: the gap that the
    geometric distribution with p = 1 / (ḡ + 1) exceeds with probability 0.00135,
    ln(0.00135) / ln(1 - p) - 1 (Kaminsky et al 1992). NaN where ḡ is missing; with ḡ = 0
    (an event in every case) both limits are 0.
    """
    g = np.asarray(as_float_array(mean_gap), dtype=float)
    if limits == "sigma":
        return g + 3 * np.sqrt(g * (g + 1))
    if limits == "probability":
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 1 / (g + 1)
            upper = np.log(G_PROBABILITY_UPPER) / np.log1p(-p) - 1
        return np.where(g == 0, 0.0, upper)
    raise ValueError(f"g_upper_limit: limits must be 'sigma' or 'probability', got {limits!r}")


def _sorted_by_group(
    frame: pd.DataFrame, order_col: str, keys: list[str], where: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """``frame`` in group then ``order_col`` order (stable), and each row's group number."""
    missing_cols = [c for c in [order_col, *keys] if c not in frame.columns]
    if missing_cols:
        raise KeyError(f"{where}: frame has no column(s) {missing_cols}")
    if frame[order_col].isna().any():
        raise ValueError(
            f"{where}: {int(frame[order_col].isna().sum())} row(s) have no {order_col!r}"
        )
    group = (
        frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
        if keys
        else np.zeros(len(frame), dtype=int)
    )
    work = frame.reset_index(drop=True).assign(_group=group)
    work = work.sort_values(["_group", order_col], kind="mergesort").reset_index(drop=True)
    return work, work["_group"].to_numpy()


def g_chart(
    frame: pd.DataFrame,
    event_col: str,
    order_col: str,
    group_cols: str | Sequence[str] = (),
    *,
    centre: Literal["mean", "median"] = "mean",
    limits: Literal["sigma", "probability"] = "sigma",
    improvement: Literal["down", "up", "neutral"] = "up",
    min_points_warning: int = SHORT_SERIES_POINTS,
) -> pd.DataFrame:
    """A g-chart per group from one row per case (e.g. one row per birth) in case order.

    ``event_col`` flags the cases with the event (1/True, e.g. an extremely preterm birth;
    0/False otherwise); ``order_col`` orders the cases (birth date and time, or a sequence
    number). For each event, the gap is the number of cases without the event since the
    previous event; for a group's first event, since the start of the series (a geometric
    count too, as every case has the same chance of the event). Two events in consecutive
    cases give a gap of 0.

    Centre line: the mean gap ḡ (``centre="mean"``, Benneyan), or the median gap
    (``centre="median"``, as some NHS tools draw it; the limit is still set by the mean).
    Upper limit: :func:`g_upper_limit` (``limits="sigma"`` or ``"probability"``); lower
    limit 0. Rules (``G_CHART_RULES``, strict inequalities): ``outside_limits``, a gap above
    the upper limit; ``shift``, 7 or more consecutive gaps on one side of the centre line. The
    XmR trend and 2-of-3 rules are not used: the geometric distribution is so skewed that a
    2-sigma line has no meaning below the centre, and gaps of a steady process rise and fall
    at random. ``improvement="up"`` (the default, for a harmful event) labels long gaps
    improvement and short gaps concern; ``"down"`` the reverse.

    Returns one row per event: the group columns, ``order_col`` (the event's case), then the
    columns of ``G_CHART_COLUMNS``, sorted by group and case order. A group with no events
    has no rows. Raises ``ValueError`` for a missing order value or an event flag that is not
    0/1.
    """
    where = "g_chart"
    _check_improvement(improvement, target=None, where=where)
    if centre not in ("mean", "median"):
        raise ValueError(f"{where}: centre must be 'mean' or 'median', got {centre!r}")
    if limits not in ("sigma", "probability"):
        raise ValueError(f"{where}: limits must be 'sigma' or 'probability', got {limits!r}")
    keys = as_list(group_cols)
    if event_col not in frame.columns:
        raise KeyError(f"{where}: frame has no column(s) {[event_col]}")
    work, group = _sorted_by_group(frame, order_col, keys, where)
    flag = np.atleast_1d(as_float_array(work[event_col]))
    if not np.isin(flag, (0.0, 1.0)).all():
        bad = pd.unique(work.loc[~np.isin(flag, (0.0, 1.0)), event_col])[:5].tolist()
        raise ValueError(f"{where}: {event_col!r} must be 0/1 (or True/False), e.g. got {bad}")
    is_event = flag == 1

    # Position of each case within its group; the gap before an event is its position minus
    # the previous event's position minus 1 (the previous "event" of the first is at -1).
    position = work.groupby("_group", sort=False).cumcount().to_numpy()
    events = work.loc[is_event, [*keys, order_col]].reset_index(drop=True)
    event_group = group[is_event]
    event_position = position[is_event]
    first = np.ones(len(events), dtype=bool)
    first[1:] = event_group[1:] != event_group[:-1]
    previous = np.where(first, -1, np.roll(event_position, 1))
    gap = (event_position - previous - 1).astype(float)

    chart = pd.Series(event_group)
    gaps = pd.Series(gap)
    mean_gap = gaps.groupby(chart).transform("mean").to_numpy()
    centre_line = mean_gap if centre == "mean" else gaps.groupby(chart).transform("median")
    centre_line = np.asarray(centre_line, dtype=float)
    upper = g_upper_limit(mean_gap, limits)
    n_gaps = chart.groupby(chart).transform("size").to_numpy()

    valid = np.ones(len(events), dtype=bool)
    joined = ~first
    side = np.sign(gap - centre_line)
    outside = gap > upper
    shift = _shift_flags(side, valid, joined)
    rule = np.select([outside, shift], ["outside_limits", "shift"], default=None).astype(object)
    flagged = outside | shift
    variation = _variation_labels(flagged, side, improvement, valid)

    out = events
    out["event_number"] = chart.groupby(chart).cumcount().to_numpy() + 1
    out["cases_between"] = gap.astype(int)
    out["spc_centre"] = centre_line
    out["spc_lower_limit"] = 0.0
    out["spc_upper_limit"] = upper
    out["spc_rule"] = rule
    out["spc_variation"] = variation
    out["spc_short_series"] = n_gaps < min_points_warning
    return out


def t_chart(
    frame: pd.DataFrame,
    date_col: str,
    group_cols: str | Sequence[str] = (),
    *,
    improvement: Literal["down", "up", "neutral"] = "up",
    min_points_warning: int = SHORT_SERIES_POINTS,
    screen_moving_ranges: bool = True,
) -> pd.DataFrame:
    """A t-chart per group from one row per event, dated by ``date_col``.

    The gap of each event is the days since the group's previous event (fractions of a day
    kept, so give date-times where two events can fall on one day; the first event of a group
    has no gap and null chart columns). Each gap t is transformed to y = t^(1/3.6); an XmR
    chart is drawn on the y of each group by :func:`cov_pipeline.spc.spc_series` (centre =
    mean y, limits = centre ± 2.66 × mean moving range, the same screening, and every XmR
    rule: beyond a limit, trend, 2 of 3 beyond 2 sigma, shift), since y is close to
    symmetric. The centre and limits are raised back to the 3.6th power, in days; a negative
    transformed lower limit becomes 0 days. ``improvement="up"`` (the default, for a harmful
    event) labels long gaps improvement. Two events at the same moment give a gap of 0 (y = 0):
    allowed, but it says the dates are too coarse for the chart.

    Returns one row per event: the group columns, ``date_col``, then the columns of
    ``T_CHART_COLUMNS``, sorted by group and date. Raises ``ValueError`` for a missing date.
    """
    where = "t_chart"
    _check_improvement(improvement, target=None, where=where)
    keys = as_list(group_cols)
    work, group = _sorted_by_group(frame, date_col, keys, where)
    dates = pd.to_datetime(work[date_col])
    first = np.ones(len(work), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    days = (dates.diff() / pd.Timedelta(days=1)).to_numpy(dtype=float)
    days[first] = np.nan
    y = days**T_CHART_POWER

    out = work[[*keys, date_col]].copy()
    out["event_number"] = work.groupby("_group", sort=False).cumcount().to_numpy() + 1
    out["days_between"] = days
    out["transformed_gap"] = y
    chart = spc_series(
        out.assign(_group=group),
        "transformed_gap",
        "event_number",
        "_group",
        improvement=improvement,
        min_points_warning=min_points_warning,
        screen_moving_ranges=screen_moving_ranges,
    )
    back = 1 / T_CHART_POWER
    out["spc_centre"] = chart["spc_centre"].to_numpy() ** back
    out["spc_lower_limit"] = np.clip(chart["spc_lower_limit"].to_numpy(), 0, None) ** back
    out["spc_upper_limit"] = chart["spc_upper_limit"].to_numpy() ** back
    out["spc_rule"] = chart["spc_rule"].to_numpy()
    out["spc_variation"] = chart["spc_variation"].to_numpy()
    out["spc_short_series"] = chart["spc_short_series"].to_numpy()
    return out
