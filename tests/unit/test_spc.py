"""SPC (Making Data Count XmR charts) pinned by hand-built series and hand arithmetic.

Every expected limit is worked out in a comment beside it; every expected flag is written out
point by point. Nothing is compared with the code's own earlier output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.spc import (
    ASSURANCE_LABELS,
    RULE_LABELS,
    RULE_PRECEDENCE,
    SPC_COLUMNS,
    VARIATION_LABELS,
    Rebase,
    SpcConfigError,
    SpcSettings,
    load_spc_settings,
    spc_series,
    summarise_latest,
    xmr_limits,
)

OUT = "outside_limits"
TWO = "two_of_three_beyond_two_sigma"
TREND = "trend"
SHIFT = "shift"
CC = "common_cause"


def series(values, periods=None, **kwargs) -> pd.DataFrame:
    """spc_series on one chart with periods 1..n unless given."""
    if periods is None:
        periods = np.arange(1, len(values) + 1)
    frame = pd.DataFrame({"period": periods, "value": values})
    return spc_series(frame, "value", "period", **kwargs)


def rules(out: pd.DataFrame) -> list:
    return [r if isinstance(r, str) else None for r in out["spc_rule"]]


def variations(out: pd.DataFrame) -> list:
    return [v if isinstance(v, str) else None for v in out["spc_variation"]]


# A stable process: 12 points alternating 52, 48 (mean 50, every moving range 4).
STABLE_12 = [52, 48] * 6


# --------------------------------------------------------------------------------------------
# limits


def test_limits_short_series_by_hand():
    # values 10, 12, 11, 15, 13
    # centre      (10 + 12 + 11 + 15 + 13) / 5 = 61 / 5            = 12.2
    # moving rng  |12-10|, |11-12|, |15-11|, |13-15| = 2, 1, 4, 2
    # mean MR     9 / 4                                            = 2.25
    # screening   3.267 × 2.25 = 7.35: no range above it
    # limits      12.2 ± 2.66 × 2.25 = 12.2 ± 5.985                = 6.215, 18.185
    # sigma       2.25 × 2.66 / 3                                  = 1.995
    # 2 sigma     12.2 ± 3.99                                      = 8.21, 16.19
    lim = xmr_limits([10, 12, 11, 15, 13])
    assert lim.centre == pytest.approx(12.2)
    assert lim.mean_moving_range == pytest.approx(2.25)
    assert lim.lower_limit == pytest.approx(6.215)
    assert lim.upper_limit == pytest.approx(18.185)
    assert lim.sigma == pytest.approx(1.995)
    assert (lim.lower_two_sigma, lim.upper_two_sigma) == pytest.approx((8.21, 16.19))
    assert (lim.lower_one_sigma, lim.upper_one_sigma) == pytest.approx((10.205, 14.195))
    assert (lim.n_points, lim.n_moving_ranges, lim.n_moving_ranges_screened) == (5, 4, 0)

    out = series([10, 12, 11, 15, 13])
    assert out["spc_centre"].tolist() == pytest.approx([12.2] * 5)
    assert out["spc_lower_limit"].tolist() == pytest.approx([6.215] * 5)
    assert out["spc_upper_limit"].tolist() == pytest.approx([18.185] * 5)


def test_moving_range_screening_by_hand():
    # values 10, 11, 10, 11, 10, 11, 10, 11, 10, 30
    # centre      (5 × 10 + 4 × 11 + 30) / 10 = 124 / 10             = 12.4
    # moving rng  eight of 1, then |30 - 10| = 20; sum 28, mean 28/9 = 3.1111
    # screening   3.267 × 3.1111 = 10.164: the range of 20 is dropped
    # mean MR     8 / 8                                              = 1
    # limits      12.4 ± 2.66                                        = 9.74, 15.06
    # unscreened  12.4 ± 2.66 × 3.1111 = 12.4 ± 8.2756               = 4.1244, 20.6756
    values = [10, 11, 10, 11, 10, 11, 10, 11, 10, 30]
    lim = xmr_limits(values)
    assert lim.mean_moving_range == pytest.approx(1.0)
    assert (lim.lower_limit, lim.upper_limit) == pytest.approx((9.74, 15.06))
    assert lim.n_moving_ranges_screened == 1

    raw = xmr_limits(values, screen_moving_ranges=False)
    assert raw.mean_moving_range == pytest.approx(28 / 9)
    assert (raw.lower_limit, raw.upper_limit) == pytest.approx((4.124444, 20.675556))

    # spc_series screens by default and can be told not to.
    out = series(values)
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(15.06)
    assert rules(out)[-1] == OUT
    raw_out = series(values, screen_moving_ranges=False)
    assert raw_out["spc_upper_limit"].iloc[0] == pytest.approx(20.675556)


def test_xmr_limits_baseline_mask():
    # Only the first four points: centre (10 + 12 + 11 + 15) / 4 = 12; MRs 2, 1, 4: mean 7/3;
    # limits 12 ± 2.66 × 7/3 = 12 ± 6.206667.
    lim = xmr_limits([10, 12, 11, 15, 100], baseline_mask=[True, True, True, True, False])
    assert lim.centre == pytest.approx(12.0)
    assert (lim.lower_limit, lim.upper_limit) == pytest.approx((5.793333, 18.206667))


def test_limits_undefined_with_one_point():
    lim = xmr_limits([7.0])
    assert lim.centre == 7.0
    assert np.isnan(lim.upper_limit) and np.isnan(lim.lower_limit)
    out = series([7.0])
    assert out["spc_variation"].isna().all() and out["spc_rule"].isna().all()
    assert out["spc_short_series"].tolist() == [True]


# --------------------------------------------------------------------------------------------
# rules, one at a time


def test_single_point_outside_limits():
    # A stable, gently noisy series (47, 53, 46, 54, 48, 52 repeated) with 90 at point 10.
    # centre      (3 × 300 + 47 + 53 - 54 + 90) / 20 = 1036 / 20             = 51.8
    # moving rng  6 7 8 6 4 5 6 7 44 42 4 5 6 7 8 6 4 5 6: sum 186, mean 9.7895
    # screening   3.267 × 9.7895 = 31.98: 44 and 42 dropped; 100 / 17        = 5.882353
    # limits      51.8 ± 2.66 × 5.882353 = 51.8 ± 15.647                     = 36.153, 67.447
    # 2 sigma     51.8 ± 10.431 = 41.369, 62.231: no other point beyond; the points alternate
    #             about the centre, so there is no run and no trend.
    values = [47, 53, 46, 54, 48, 52, 47, 53, 46, 90, 48, 52, 47, 53, 46, 54, 48, 52, 47, 53]
    out = series(values)
    assert out["spc_lower_limit"].iloc[0] == pytest.approx(36.152941)
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(67.447059)
    expected = [None] * 20
    expected[9] = OUT
    assert rules(out) == expected
    assert variations(out) == [CC] * 9 + ["concern"] + [CC] * 10


def test_shift_of_eight_points_above_the_centre():
    # 12 points alternating 52, 48, then 53, 55 × 4.
    # centre      (6 × 52 + 6 × 48 + 4 × 53 + 4 × 55) / 20 = 1032 / 20 = 51.6
    # moving rng  eleven of 4, |53 - 48| = 5, seven of 2: 63 / 19         = 3.315789
    # limits      51.6 ± 8.82 = 42.78, 60.42; 2 sigma 51.6 ± 5.88 = 45.72, 57.48
    # Points 13-20 (53, 55, ...) are all above 51.6: a run of 8, all flagged. The 52s and 48s
    # alternate about the centre.
    out = series(STABLE_12 + [53, 55] * 4)
    assert out["spc_centre"].iloc[0] == pytest.approx(51.6)
    assert (out["spc_lower_limit"].iloc[0], out["spc_upper_limit"].iloc[0]) == pytest.approx(
        (42.78, 60.42)
    )
    assert rules(out) == [None] * 12 + [SHIFT] * 8
    assert variations(out) == [CC] * 12 + ["concern"] * 8


def test_six_points_above_the_centre_are_not_a_shift():
    # 52, 48 × 6, then 53, 55 × 3, then 48, 52: six points above 51.2 (the centre,
    # (600 + 324 + 100) / 20 = 1024 / 20), then the run ends.
    out = series(STABLE_12 + [53, 55] * 3 + [48, 52])
    assert out["spc_centre"].iloc[0] == pytest.approx(51.2)
    assert rules(out) == [None] * 20


def test_trend_of_seven_rising_points():
    # 48, 52 × 3, then 44, 46, 48, 50, 52, 54, 56 (seven points, each 2 above the last), then
    # 52, 48 × 3.
    # centre      (6 × 50 + 350 + 6 × 50) / 19 = 950 / 19               = 50
    # moving rng  five of 4, |44-52| = 8, six of 2, |52-56| = 4, five of 4: 64 / 18 = 3.555556
    # limits      50 ± 9.457778; 2 sigma 50 ± 6.305185 = 43.694815, 56.305185, so neither 44
    #             nor 56 is beyond 2 sigma; the trend crosses the centre, so no run.
    values = [48, 52, 48, 52, 48, 52, 44, 46, 48, 50, 52, 54, 56, 52, 48, 52, 48, 52, 48]
    out = series(values)
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(59.457778)
    assert rules(out) == [None] * 6 + [TREND] * 7 + [None] * 6
    # Lower is better, so a rising trend is a concern, on both sides of the centre line.
    assert variations(out) == [CC] * 6 + ["concern"] * 7 + [CC] * 6


def test_falling_trend_is_an_improvement_when_lower_is_better():
    values = [52, 48, 52, 48, 52, 48, 56, 54, 52, 50, 48, 46, 44, 48, 52, 48, 52, 48, 52]
    out = series(values, improvement="down")
    assert rules(out) == [None] * 6 + [TREND] * 7 + [None] * 6
    assert variations(out) == [CC] * 6 + ["improvement"] * 7 + [CC] * 6


def test_turning_point_takes_the_trend_it_starts():
    # 44 .. 56 rising by 2 (7 points), then 54 .. 44 falling (6 more): 56 ends the rising
    # trend and starts the falling one. It is labelled by the trend it starts (falling:
    # improvement), as NHSRplotthedots labels it.
    # centre (300 + 350 + 294 + 300) / 25 = 49.76; MRs 20 + 8 + 12 + 12 + 8 + 20 = 80 over 24
    # = 3.333333; 2 sigma 49.76 ± 5.911111 = 43.848889, 55.671111: only 56 is beyond, alone;
    # 50 .. 56 .. 50 is also a run of 7 above the centre, but trend takes precedence.
    values = STABLE_12[:6] + list(range(44, 57, 2)) + list(range(54, 43, -2)) + STABLE_12[:6]
    out = series(values)
    assert out["spc_centre"].iloc[0] == pytest.approx(49.76)
    assert rules(out) == [None] * 6 + [TREND] * 13 + [None] * 6
    assert variations(out) == [CC] * 6 + ["concern"] * 6 + ["improvement"] * 7 + [CC] * 6


@pytest.mark.parametrize(
    "middle",
    [
        pytest.param([44, 46, 48, 50, 52, 54], id="six rising points"),
        pytest.param([44, 46, 48, 48, 50, 52, 54], id="seven points with a tie"),
    ],
)
def test_no_trend_when_short_or_tied(middle):
    # Six rising points are one short; an equal pair ends a trend, leaving 3 + 4 points.
    values = [48, 52, 48, 52, 48, 52, *middle, 52, 48, 52, 48, 52, 48]
    assert rules(series(values)) == [None] * len(values)


def test_two_of_three_beyond_two_sigma():
    # 48, 52 × 10 with points 11 and 13 raised from 48 to 62: window (62, 52, 62).
    # centre      (1000 - 2 × 48 + 2 × 62) / 20 = 1028 / 20                   = 51.4
    # moving rng  fifteen of 4, four of |62 - 52| = 10: 100 / 19             = 5.263158
    # sigma       5.263158 × 2.66 / 3                                        = 4.666667
    # 2 sigma     51.4 + 9.333333 = 60.733333 < 62 < upper limit 51.4 + 14 = 65.4
    # Points 11 and 13 are flagged; point 12 (52), inside the window, is not.
    values = [48, 52] * 10
    values[10] = values[12] = 62
    out = series(values)
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(65.4)
    expected = [None] * 20
    expected[10] = expected[12] = TWO
    assert rules(out) == expected
    assert variations(out)[10] == "concern"


def test_one_point_beyond_two_sigma_is_not_a_signal():
    # Only point 11 raised to 62: centre (1000 - 48 + 62) / 20 = 50.7; MRs seventeen of 4 and
    # two of 10: 88 / 19 = 4.631579; 2 sigma 50.7 + 8.212866 = 58.912866 < 62 < 50.7 + 12.32.
    values = [48, 52] * 10
    values[10] = 62
    assert rules(series(values)) == [None] * 20


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        # 8 points above the fixed centre 50; the last also above the limit 60.64.
        pytest.param(
            [53, 55, 53, 55, 53, 55, 53, 70], [SHIFT] * 7 + [OUT], id="outside beats shift"
        ),
        # 7 falling points above the centre (after a rise from 48 to 57): a trend and a
        # shift; trend wins. 57 is inside the 2-sigma line 57.093.
        pytest.param([57, 56, 55, 54, 53, 52, 51], [TREND] * 7, id="trend beats shift"),
        # 7 points above the centre; the 58s (beyond 57.093) share a window: 2 of 3 wins.
        pytest.param(
            [53, 58, 53, 58, 53, 55, 53],
            [SHIFT, TWO, SHIFT, TWO, SHIFT, SHIFT, SHIFT],
            id="two of three beats shift",
        ),
    ],
)
def test_rule_precedence(tail, expected):
    # Baseline of the first 12 points (52, 48 × 6): centre 50, mean MR 4,
    # limits 50 ± 10.64 = 39.36, 60.64; 2 sigma 50 ± 2 × 4 × 2.66/3 = 50 ± 7.093333.
    out = series(STABLE_12 + tail, baseline_periods=12)
    assert out["spc_centre"].tolist() == pytest.approx([50.0] * len(out))
    assert rules(out) == [None] * 12 + expected


def test_precedence_constant():
    assert RULE_PRECEDENCE == (OUT, TREND, TWO, SHIFT)
    assert set(RULE_LABELS) == set(RULE_PRECEDENCE)


# --------------------------------------------------------------------------------------------
# labels


@pytest.mark.parametrize(
    ("improvement", "above", "below"),
    [
        ("down", "concern", "improvement"),
        ("up", "improvement", "concern"),
        ("neutral", "special_cause_high", "special_cause_low"),
    ],
)
def test_variation_labels_follow_the_direction(improvement, above, below):
    # The shift series from above (run of 8 above the centre) and its mirror image about 50
    # (run of 8 below).
    high = STABLE_12 + [53, 55] * 4
    low = [100 - v for v in high]
    assert variations(series(high, improvement=improvement)) == [CC] * 12 + [above] * 8
    assert variations(series(low, improvement=improvement)) == [CC] * 12 + [below] * 8


def test_label_vocabularies():
    assert set(VARIATION_LABELS) == {
        "common_cause",
        "improvement",
        "concern",
        "special_cause_high",
        "special_cause_low",
    }
    assert set(ASSURANCE_LABELS) == {"consistently_passing", "consistently_failing", "inconsistent"}
    assert list(SPC_COLUMNS) == [
        "spc_centre",
        "spc_lower_limit",
        "spc_upper_limit",
        "spc_rule",
        "spc_variation",
        "spc_assurance",
        "spc_short_series",
        "spc_segment",
    ]


@pytest.mark.parametrize(
    ("improvement", "target", "expected"),
    [
        ("down", 65, "consistently_passing"),  # upper limit 60.64 <= 65
        ("down", 35, "consistently_failing"),  # lower limit 39.36 >= 35
        ("down", 50, "inconsistent"),  # 39.36 < 50 < 60.64
        ("up", 35, "consistently_passing"),
        ("up", 65, "consistently_failing"),
        ("up", 50, "inconsistent"),
        ("down", None, None),
    ],
)
def test_target_assurance(improvement, target, expected):
    # 52, 48 × 10: centre 50, every MR 4, limits 50 ± 2.66 × 4 = 39.36, 60.64.
    out = series([52, 48] * 10, improvement=improvement, target=target)
    assert (out["spc_lower_limit"].iloc[0], out["spc_upper_limit"].iloc[0]) == pytest.approx(
        (39.36, 60.64)
    )
    assert [a if isinstance(a, str) else None for a in out["spc_assurance"]] == [expected] * 20


def test_target_on_a_neutral_measure_is_refused():
    with pytest.raises(ValueError, match="neutral measure cannot pass or fail"):
        series([52, 48] * 10, improvement="neutral", target=50)


def test_unknown_direction_is_refused():
    with pytest.raises(ValueError, match="improvement must be one of"):
        series([52, 48] * 10, improvement="lower")


# --------------------------------------------------------------------------------------------
# baseline, rebase, short series, missing values


def test_baseline_fixes_the_limits():
    # First 12 points 52, 48 × 6: centre 50, eleven MRs of 4, limits 39.36, 60.64, extended
    # over all 20 points. Against that centre the last 8 (53, 55) are a shift. Without the
    # baseline the centre would be 51.6 (see the shift test).
    out = series(STABLE_12 + [53, 55] * 4, baseline_periods=12)
    assert out["spc_centre"].tolist() == pytest.approx([50.0] * 20)
    assert out["spc_lower_limit"].tolist() == pytest.approx([39.36] * 20)
    assert out["spc_upper_limit"].tolist() == pytest.approx([60.64] * 20)
    assert rules(out) == [None] * 12 + [SHIFT] * 8


def test_baseline_under_twelve_points_is_refused():
    with pytest.raises(ValueError, match="at least 12 points"):
        series(STABLE_12, baseline_periods=11)


def test_rebase_recalculates_the_limits_from_its_period():
    # Monthly from Jan 2020: 12 points 52, 48 (centre 50), then 12 points 62, 58 (centre 60).
    # Rebased at Jan 2021: each segment has eleven MRs of 4, so limits centre ± 10.64.
    periods = pd.date_range("2020-01-01", periods=24, freq="MS")
    values = STABLE_12 + [62, 58] * 6
    out = series(values, periods, rebases=[("2021-01-01", "New booking pathway")])
    assert out["spc_segment"].tolist() == [1] * 12 + [2] * 12
    assert out["spc_centre"].tolist() == pytest.approx([50.0] * 12 + [60.0] * 12)
    assert out["spc_lower_limit"].tolist() == pytest.approx([39.36] * 12 + [49.36] * 12)
    assert out["spc_upper_limit"].tolist() == pytest.approx([60.64] * 12 + [70.64] * 12)
    assert rules(out) == [None] * 24

    # Without the rebase: one centre at 55, both halves a 12-point run on one side.
    plain = series(values, periods)
    assert plain["spc_centre"].iloc[0] == pytest.approx(55.0)
    assert rules(plain) == [SHIFT] * 24
    assert plain["spc_segment"].tolist() == [1] * 24


def test_rebase_accepts_rebase_objects_and_string_periods():
    periods = [f"2020-{m:02d}" for m in range(1, 13)] + [f"2021-{m:02d}" for m in range(1, 13)]
    out = series(STABLE_12 + [62, 58] * 6, periods, rebases=[Rebase("2021-01", "New pathway")])
    assert out["spc_segment"].tolist() == [1] * 12 + [2] * 12


def test_rebase_without_reason_is_refused():
    with pytest.raises(ValueError, match="no reason"):
        series(STABLE_12, rebases=[(7, "")])


@pytest.mark.parametrize(("n", "short"), [(12, True), (13, False)])
def test_short_series_warning_under_13_points(n, short):
    out = series(([52, 48] * 7)[:n])
    assert out["spc_short_series"].tolist() == [short] * n


def test_missing_value_is_left_out_of_the_limits():
    # values 10, 12, -, 11, 15, 13: centre 61 / 5 = 12.2; MRs 2, 4, 2 (none spans the gap):
    # mean 8/3; limits 12.2 ± 2.66 × 8/3 = 12.2 ± 7.093333.
    out = series([10, 12, np.nan, 11, 15, 13])
    assert out["spc_centre"].isna().tolist() == [False, False, True, False, False, False]
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(19.293333)
    assert out["spc_lower_limit"].iloc[0] == pytest.approx(5.106667)
    for col in ["spc_lower_limit", "spc_upper_limit", "spc_rule", "spc_variation"]:
        assert pd.isna(out[col].iloc[2])
    assert variations(out) == [CC, CC, None, CC, CC, CC]


def test_missing_value_breaks_a_run():
    # The 8-point run of the shift test, split 4 + 4 by a missing month: no shift.
    values = STABLE_12 + [53, 55, 53, 55, np.nan, 53, 55, 53, 55]
    assert rules(series(values)) == [None] * 21
    # The same points with the missing row removed are consecutive: the run is flagged.
    assert rules(series([v for v in values if not np.isnan(v)]))[12:] == [SHIFT] * 8


def test_nullable_float_values():
    frame = pd.DataFrame(
        {"period": [1, 2, 3, 4, 5, 6], "value": pd.array([10, 12, None, 11, 15, 13], "Float64")}
    )
    out = spc_series(frame, "value", "period")
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(19.293333)


# --------------------------------------------------------------------------------------------
# groups, ordering, input faults


def test_groups_are_separate_charts_and_row_order_is_kept():
    shift = STABLE_12 + [53, 55] * 4
    stable = [52, 48] * 10
    frame = pd.DataFrame(
        {
            "area": ["A"] * 20 + ["B"] * 20,
            "period": list(range(1, 21)) * 2,
            "value": shift + stable,
        }
    )
    shuffled = frame.sample(frac=1, random_state=7)
    out = spc_series(shuffled, "value", "period", group_cols="area")
    assert out.index.equals(shuffled.index)
    back = out.sort_values(["area", "period"])
    assert rules(back[back["area"] == "A"]) == [None] * 12 + [SHIFT] * 8
    assert rules(back[back["area"] == "B"]) == [None] * 20
    assert back.loc[back["area"] == "B", "spc_centre"].tolist() == pytest.approx([50.0] * 20)


def test_duplicated_period_is_refused():
    frame = pd.DataFrame({"period": [1, 2, 2, 3], "value": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="duplicated 'period' within a group"):
        spc_series(frame, "value", "period")


def test_missing_period_is_refused():
    frame = pd.DataFrame({"period": [1, None, 3], "value": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"1 row\(s\) have no 'period'"):
        spc_series(frame, "value", "period")


def test_empty_frame():
    out = spc_series(pd.DataFrame({"period": [], "value": []}), "value", "period")
    assert list(out.columns) == ["period", "value", *SPC_COLUMNS]
    assert len(out) == 0


def test_stable_random_series_gives_no_signal():
    # 60 points of N(50, 2). With four rules, stable 60-point series give at least one
    # (false) signal about half the time (48% of 2,000 seeds when this was written: runs of 7
    # are common), so this pins one seed that gives none: a change that adds spurious signals
    # (or loses the screening, or miscounts runs) shows here.
    values = np.random.default_rng(2).normal(50, 2, 60)
    out = series(values)
    assert out["spc_rule"].isna().all()
    assert (out["spc_variation"] == CC).all()
    assert not out["spc_short_series"].any()


# --------------------------------------------------------------------------------------------
# summary


def test_summarise_latest():
    frame = pd.DataFrame(
        {
            "measure": ["late_booking_pct"] * 21 + ["referrals"] * 3,
            "area": ["E08000026"] * 24,
            "period": list(range(1, 22)) + [1, 2, 3],
            "value": STABLE_12 + [53, 55] * 4 + [np.nan] + [np.nan] * 3,
        }
    )
    parts = [
        spc_series(part, "value", "period", "area", improvement="down", target=65)
        for _, part in frame.groupby("measure")
    ]
    summary = summarise_latest(pd.concat(parts), measure_col="measure", group_cols="area")
    assert summary["measure"].tolist() == ["late_booking_pct", "referrals"]
    late = summary.iloc[0]
    # The last month is missing: the latest point is month 20 (55, a shift point).
    assert late["latest_period"] == 20
    assert late["latest_value"] == 55
    assert late["spc_variation"] == "concern"
    assert late["spc_rule"] == SHIFT
    assert late["spc_assurance"] == "consistently_passing"
    assert late["n_points"] == 20
    # A measure with no values keeps its row, with nothing to report.
    referrals = summary.iloc[1]
    assert referrals["n_points"] == 0
    assert pd.isna(referrals["latest_value"]) and pd.isna(referrals["spc_variation"])


# --------------------------------------------------------------------------------------------
# settings


def test_packaged_settings_load():
    settings = load_spc_settings()
    directions = {name: s.improvement for name, s in settings.items()}
    assert directions == {
        "late_booking_pct": "down",
        "preterm_rate": "down",
        "extremely_preterm_rate": "down",
        "referrals": "neutral",
        "waiting_list": "down",
        "median_wait_days": "down",
    }
    assert all(isinstance(s, SpcSettings) for s in settings.values())


def test_settings_path_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "spc.yaml"
    path.write_text(
        "late_booking_pct:\n"
        "  improvement: down\n"
        "  target: 10\n"
        "  baseline_points: 12\n"
        "  rebases:\n"
        "    - period: '2023-04-01'\n"
        "      reason: New booking pathway\n"
    )
    monkeypatch.setenv("COV_SPC_CONFIG", str(path))
    settings = load_spc_settings()
    assert list(settings) == ["late_booking_pct"]
    late = settings["late_booking_pct"]
    assert late.target == 10
    assert late.baseline_points == 12
    assert late.rebases == (Rebase("2023-04-01", "New booking pathway"),)
    assert late.spc_kwargs() == {
        "improvement": "down",
        "target": 10,
        "baseline_periods": 12,
        "rebases": (Rebase("2023-04-01", "New booking pathway"),),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "waiting_list:\n  improvement: down\n  rebases:\n    - period: '2023-04-01'\n",
            "rebase at '2023-04-01' has no reason",
        ),
        (
            "waiting_list:\n  improvement: down\n  rebases:\n"
            "    - {period: '2023-04-01', reason: ''}\n",
            "has no reason",
        ),
        ("waiting_list:\n  improvement: down\n  baseline_points: 11\n", "at least 12 points"),
        ("waiting_list:\n  improvement: down\n  baseline_points: 12.5\n", "whole number"),
        ("waiting_list:\n  improvement: lower\n", "improvement must be one of"),
        ("waiting_list:\n  target: 10\n", "improvement .* is required"),
        ("referrals:\n  improvement: neutral\n  target: 100\n", "neutral measure"),
        ("waiting_list:\n  improvment: down\n", r"unknown keys \['improvment'\]"),
    ],
)
def test_bad_settings_are_refused(tmp_path, text, message):
    path = tmp_path / "spc.yaml"
    path.write_text(text)
    with pytest.raises(SpcConfigError, match=message) as caught:
        load_spc_settings(path)
    assert str(path) in str(caught.value)


def test_settings_drive_spc_series():
    settings = SpcSettings("late_booking_pct", "down", target=65, baseline_points=12)
    frame = pd.DataFrame({"period": range(1, 21), "value": STABLE_12 + [53, 55] * 4})
    out = spc_series(frame, "value", "period", **settings.spc_kwargs())
    assert out["spc_centre"].tolist() == pytest.approx([50.0] * 20)
    assert out["spc_assurance"].eq("consistently_passing").all()


# --------------------------------------------------------------------------------------------
# conventions compared with NHSRplotthedots (the NHS-R community's Making Data Count package):
# one hand-worked series per convention where the two could differ. Where ours differs,
# docs/definitions.md says why.
#
# The series below start with STABLE_12 as a fixed baseline: centre 50, mean MR 4, limits
# 50 ± 2.66 × 4 = 39.36, 60.64; sigma 4 × 2.66 / 3 = 3.546667, 2-sigma lines 42.906667,
# 57.093333.


def test_a_trend_outranks_two_of_three_and_gives_its_direction():
    # 60, 59, 58, 57.5, 56, 55, 54 after 48: seven falling points (a trend), all above the
    # centre (a run of 7), and 60, 59, 58 beyond 57.093 (two of three). Trend ranks first, so
    # on a lower-is-better measure all seven are an improvement (falling), although the first
    # three lie on the concern side of the centre.
    out = series(STABLE_12 + [60, 59, 58, 57.5, 56, 55, 54], baseline_periods=12)
    assert rules(out) == [None] * 12 + [TREND] * 7
    assert variations(out) == [CC] * 12 + ["improvement"] * 7


def test_a_trend_whose_last_point_is_followed_by_a_tie_keeps_its_direction():
    # 44 .. 56 rising (7 points), 56 again (a tie), then 54 .. 44 falling (6 more, 7 with the
    # second 56). The first 56 belongs to the rising trend only; NHSRplotthedots labels it by
    # the step after it, which the tie makes "decreasing". Here it stays rising: concern.
    # centre (300 + 350 + 56 + 294 + 300) / 26 = 1300 / 26 = 50
    values = STABLE_12[:6] + list(range(44, 57, 2)) + [56] + list(range(54, 43, -2)) + STABLE_12[:6]
    out = series(values)
    assert out["spc_centre"].iloc[0] == pytest.approx(50.0)
    assert rules(out) == [None] * 6 + [TREND] * 14 + [None] * 6
    assert variations(out) == [CC] * 6 + ["concern"] * 7 + ["improvement"] * 7 + [CC] * 6


def test_two_of_three_needs_the_third_point_on_the_same_side():
    # 58, 45, 58: two points beyond 57.093 with the middle one below the centre. As in
    # NHSRplotthedots, no window with all three points above the centre holds two beyond the
    # line, so nothing is flagged.
    out = series(STABLE_12 + [58, 45, 58, 52, 48, 52, 48], baseline_periods=12)
    assert rules(out) == [None] * 19


def test_a_point_beyond_the_limit_counts_towards_two_of_three():
    # 58, 52, 62: 62 is beyond the upper limit 60.64 (and so beyond 57.093), 58 beyond the
    # 2-sigma line, 52 above the centre. Here 58 is flagged two of three (a point beyond 3
    # sigma is beyond 2 sigma too, as in the Western Electric zone rules); NHSRplotthedots
    # counts only points between the 2-sigma line and the limit, and leaves 58 unflagged.
    out = series(STABLE_12 + [58, 52, 62, 52, 48, 52, 48], baseline_periods=12)
    assert rules(out) == [None] * 12 + [TWO, None, OUT, None, None, None, None]
    assert variations(out)[12] == "concern"


def test_a_target_exactly_on_a_limit_is_inconsistent():
    # 52, 48 × 10: limits 39.36, 60.64. A target on the upper limit of a lower-is-better
    # measure (or on the lower limit of a higher-is-better one) is met by a point on the limit
    # as often as not: inconsistent, as NHSRplotthedots has it. A hair beyond passes.
    values = [52, 48] * 10
    limits = series(values)
    upper, lower = limits["spc_upper_limit"].iloc[0], limits["spc_lower_limit"].iloc[0]
    assert (lower, upper) == pytest.approx((39.36, 60.64))

    def assurance(improvement, target):
        return series(values, improvement=improvement, target=target)["spc_assurance"].iloc[0]

    assert assurance("down", upper) == "inconsistent"
    assert assurance("down", lower) == "inconsistent"
    assert assurance("up", lower) == "inconsistent"
    assert assurance("down", 60.65) == "consistently_passing"
    assert assurance("up", 39.35) == "consistently_passing"
    assert assurance("down", 39.35) == "consistently_failing"


def test_a_moving_range_exactly_at_the_screening_limit_is_dropped():
    # 0, 244, 0, 245, 3512: moving ranges 244, 244, 245, 3267; mean 4000 / 4 = 1000; the
    # screening limit 3.267 × 1000 = 3267 equals the last range, which is dropped (only ranges
    # strictly below the limit are kept, as in NHSRplotthedots).
    # mean MR     (244 + 244 + 245) / 3 = 733 / 3                 = 244.333333
    # centre      4001 / 5                                         = 800.2
    # limits      800.2 ± 2.66 × 244.333333 = 800.2 ± 649.926667  = 150.273333, 1450.126667
    lim = xmr_limits([0, 244, 0, 245, 3512])
    assert lim.n_moving_ranges_screened == 1
    assert lim.mean_moving_range == pytest.approx(733 / 3)
    assert (lim.lower_limit, lim.upper_limit) == pytest.approx((150.273333, 1450.126667))


def test_a_baseline_counts_points_with_a_value_not_rows():
    # 48, a missing month, then 52, 48 × 5, then 52, then 70. A baseline of 12 takes the first
    # 12 values (rows 1 and 3-13): centre (6 × 48 + 6 × 52) / 12 = 50; the gap breaks the
    # ranges, leaving ten of 4 between rows 3 and 13: mean MR 4; limits 39.36, 60.64, so 70
    # is outside. NHSRplotthedots counts 12 rows, the gap among them: 11 values, centre
    # 548 / 11 = 49.818182. A baseline of 12 months with one unreported stays 12 values here.
    values = [48, np.nan, *[52, 48] * 5, 52, 70]
    out = series(values, baseline_periods=12)
    assert out["spc_centre"].iloc[0] == pytest.approx(50.0)
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(60.64)
    assert rules(out)[-1] == OUT
