"""Rare-event charts (g-chart, t-chart) pinned by hand-built series and hand arithmetic.

Every expected gap, centre and limit is worked out in a comment beside it; nothing is compared
with the code's own earlier output.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.spc_rare import g_chart, g_upper_limit, t_chart


def cases(gaps: list[int], trailing: int = 0) -> list[int]:
    """0/1 flags per case: ``gap`` cases without the event, then one with it, per gap."""
    flags: list[int] = []
    for gap in gaps:
        flags += [0] * gap + [1]
    return flags + [0] * trailing


def g_frame(gaps: list[int], trailing: int = 0, **extra) -> pd.DataFrame:
    flags = cases(gaps, trailing)
    return pd.DataFrame({"case": np.arange(len(flags)), "preterm": flags, **extra})


def labels(values) -> list:
    return [v if isinstance(v, str) else None for v in values]


# --------------------------------------------------------------------------------------------
# g-chart


def test_g_chart_gaps_centre_and_sigma_limit_by_hand():
    # 10 births, a preterm birth, 30 births, one, 20, one, 40, one, then 5 births after.
    # gaps 10, 30, 20, 40; mean (10 + 30 + 20 + 40) / 4 = 25
    # UCL 25 + 3 × sqrt(25 × 26) = 25 + 3 × 25.495098 = 101.485293; LCL 0
    out = g_chart(g_frame([10, 30, 20, 40], trailing=5), "preterm", "case")
    assert out["cases_between"].tolist() == [10, 30, 20, 40]
    assert out["event_number"].tolist() == [1, 2, 3, 4]
    # the events are cases 10, 10 + 1 + 30 = 41, 41 + 1 + 20 = 62, 62 + 1 + 40 = 103
    assert out["case"].tolist() == [10, 41, 62, 103]
    assert out["spc_centre"].tolist() == pytest.approx([25.0] * 4)
    assert out["spc_upper_limit"].tolist() == pytest.approx([101.485293] * 4)
    assert out["spc_lower_limit"].tolist() == [0.0] * 4
    assert labels(out["spc_rule"]) == [None] * 4
    assert labels(out["spc_variation"]) == ["common_cause"] * 4
    assert out["spc_short_series"].tolist() == [True] * 4  # 4 gaps < 13


def test_g_probability_limit_by_hand():
    # mean 25: p = 1 / 26; ln(1 - p) = ln(25 / 26) = -0.0392207
    # ln(0.00135) = -6.6077; UCL = -6.6077 / -0.0392207 - 1 = 168.4735 - 1 = 167.4735
    out = g_chart(g_frame([10, 30, 20, 40]), "preterm", "case", limits="probability")
    assert out["spc_upper_limit"].tolist() == pytest.approx([167.4735] * 4, abs=1e-3)
    assert float(g_upper_limit(25.0, "probability")) == pytest.approx(167.4735, abs=1e-3)
    assert float(g_upper_limit(25.0)) == pytest.approx(101.485293)
    # an event in every case: mean 0, both limits 0
    assert float(g_upper_limit(0.0, "probability")) == 0.0
    assert float(g_upper_limit(0.0)) == 0.0


def test_g_median_centre_keeps_the_limit_of_the_mean():
    # gaps 0, 10, 20, 90: an event in the very first case gives a gap of 0.
    # median (10 + 20) / 2 = 15; mean 120 / 4 = 30
    # UCL 30 + 3 × sqrt(30 × 31) = 30 + 3 × 30.495901 = 121.487703
    out = g_chart(g_frame([0, 10, 20, 90]), "preterm", "case", centre="median")
    assert out["cases_between"].tolist() == [0, 10, 20, 90]
    assert out["spc_centre"].tolist() == pytest.approx([15.0] * 4)
    assert out["spc_upper_limit"].tolist() == pytest.approx([121.487703] * 4)
    mean_centre = g_chart(g_frame([0, 10, 20, 90]), "preterm", "case")
    assert mean_centre["spc_centre"].tolist() == pytest.approx([30.0] * 4)


def test_g_long_gap_above_the_limit_is_improvement_for_a_harmful_event():
    # gaps 5, 5, 5, 5, 200: mean 220 / 5 = 44
    # UCL 44 + 3 × sqrt(44 × 45) = 44 + 3 × 44.497191 = 177.491573; 200 > 177.49
    out = g_chart(g_frame([5, 5, 5, 5, 200]), "preterm", "case")
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(177.491573)
    assert labels(out["spc_rule"]) == [None] * 4 + ["outside_limits"]
    assert labels(out["spc_variation"]) == ["common_cause"] * 4 + ["improvement"]
    # an event whose gaps should shrink (improvement "down"): the same gap is a concern
    down = g_chart(g_frame([5, 5, 5, 5, 200]), "preterm", "case", improvement="down")
    assert labels(down["spc_variation"])[-1] == "concern"


def test_g_run_of_seven_short_gaps_is_concern():
    # gaps 1, 2, 1, 2, 1, 2, 1, 50, 60: mean (10 + 110) / 9 = 13.333333
    # UCL 13.333333 + 3 × sqrt(13.333333 × 14.333333) = 13.333333 + 3 × 13.824294 = 54.806216
    # the first 7 are below the centre: a shift, concern; 50 is above the centre but in a run
    # of 2 and below the limit; 60 is above the limit.
    out = g_chart(g_frame([1, 2, 1, 2, 1, 2, 1, 50, 60]), "preterm", "case")
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(54.806216)
    assert labels(out["spc_rule"]) == ["shift"] * 7 + [None, "outside_limits"]
    assert labels(out["spc_variation"]) == ["concern"] * 7 + ["common_cause", "improvement"]


def test_g_six_short_gaps_are_not_a_run():
    # gaps 1, 2, 1, 2, 1, 2, 50, 60: six below the mean 119 / 8 = 14.875, one short of 7.
    out = g_chart(g_frame([1, 2, 1, 2, 1, 2, 50, 60]), "preterm", "case")
    assert labels(out["spc_rule"])[:6] == [None] * 6


def test_g_chart_groups_and_row_order():
    # Area A: gaps 3, 1 (mean 2, UCL 2 + 3 × sqrt(6) = 9.348469); area B: gaps 0, 6
    # (mean 3, UCL 3 + 3 × sqrt(12) = 13.392305). Rows shuffled: each area is put back in
    # case order before counting.
    a = g_frame([3, 1]).assign(area="A")  # events at cases 3 and 5
    b = g_frame([0, 6], trailing=2).assign(area="B")  # events at cases 0 and 7
    frame = pd.concat([b, a]).sample(frac=1.0, random_state=3).reset_index(drop=True)
    out = g_chart(frame, "preterm", "case", "area")
    assert out["area"].tolist() == ["B", "B", "A", "A"]  # groups in order of first appearance
    by_area = out.set_index(["area", "event_number"])
    assert by_area.loc[("A", 1), "case"] == 3
    assert by_area.loc[("A", 2), "case"] == 5
    assert by_area.loc[("B", 2), "case"] == 7
    assert by_area["cases_between"].to_dict() == {
        ("B", 1): 0,
        ("B", 2): 6,
        ("A", 1): 3,
        ("A", 2): 1,
    }
    assert by_area.loc[("A", 1), "spc_upper_limit"] == pytest.approx(9.348469)
    assert by_area.loc[("B", 1), "spc_upper_limit"] == pytest.approx(13.392305)


def test_g_chart_refuses_a_flag_that_is_not_zero_or_one():
    frame = pd.DataFrame({"case": [1, 2, 3], "preterm": [0, 2, 1]})
    with pytest.raises(ValueError, match="must be 0/1"):
        g_chart(frame, "preterm", "case")
    with pytest.raises(ValueError, match="centre must be"):
        g_chart(g_frame([1, 2]), "preterm", "case", centre="mode")
    with pytest.raises(KeyError, match="no column"):
        g_chart(g_frame([1, 2]), "missing", "case")


def test_g_chart_accepts_booleans_and_a_group_with_no_event_has_no_rows():
    frame = pd.DataFrame(
        {
            "case": [1, 2, 3, 1, 2],
            "area": ["A", "A", "A", "B", "B"],
            "death": [False, True, False, False, False],
        }
    )
    out = g_chart(frame, "death", "case", "area")
    assert out["area"].tolist() == ["A"]
    assert out["cases_between"].tolist() == [1]


# --------------------------------------------------------------------------------------------
# t-chart


def dates_from_gaps(gaps: list[float], start: str = "2024-01-01") -> pd.Series:
    offsets = np.concatenate([[0.0], np.cumsum(gaps)])
    return pd.Timestamp(start) + pd.to_timedelta(offsets, unit="D")


def test_t_chart_transform_limits_and_back_transform_by_hand():
    # days between events 1, 8, 27, 64 (5 events); y = t^(1/3.6):
    #   1  -> 1
    #   8  -> exp(ln 8 / 3.6)  = exp(2.0794415 / 3.6) = exp(0.5776227) = 1.7817974
    #   27 -> exp(ln 27 / 3.6) = exp(3.2958369 / 3.6) = exp(0.9155103) = 2.4980495
    #   64 -> exp(ln 64 / 3.6) = exp(4.1588831 / 3.6) = exp(1.1552453) = 3.1748021
    # mean y = 8.4546490 / 4 = 2.1136623
    # MR 0.7817974, 0.7162521, 0.6767526; mean 2.1748021 / 3 = 0.7249340 (3.267 × that = 2.37,
    # none screened)
    # y limits 2.1136623 ± 2.66 × 0.7249340 = 2.1136623 ± 1.9283245 = 0.1853378, 4.0419868
    # back in days: centre 2.1136623^3.6 = exp(3.6 × 0.7484342) = 14.795449
    #   upper 4.0419868^3.6 = 152.66575; lower 0.1853378^3.6 = 0.0023156
    frame = pd.DataFrame({"died_on": dates_from_gaps([1, 8, 27, 64])})
    out = t_chart(frame, "died_on")
    assert out["event_number"].tolist() == [1, 2, 3, 4, 5]
    assert out["days_between"].tolist()[1:] == [1.0, 8.0, 27.0, 64.0]
    assert math.isnan(out["days_between"].iloc[0])
    assert out["transformed_gap"].tolist()[1:] == pytest.approx(
        [1.0, 1.7817974, 2.4980495, 3.1748021]
    )
    assert out["spc_centre"].tolist()[1:] == pytest.approx([14.795449] * 4)
    assert out["spc_upper_limit"].tolist()[1:] == pytest.approx([152.66575] * 4)
    assert out["spc_lower_limit"].tolist()[1:] == pytest.approx([0.0023156] * 4, abs=1e-6)
    # the first event has no gap: no chart
    assert math.isnan(out["spc_centre"].iloc[0])
    assert labels(out["spc_variation"]) == [None] + ["common_cause"] * 4
    assert out["spc_short_series"].tolist() == [True] * 5


def test_t_chart_long_gap_and_run_of_short_gaps():
    # gaps 8, 27 × 6 then 1000 days. y: 1.7817974, 2.4980495 alternating, then
    # 1000^(1/3.6) = exp(6.9077553 / 3.6) = exp(1.9188209) = 6.8129207
    # mean y = (6 × 1.7817974 + 6 × 2.4980495 + 6.8129207) / 13 = 32.4920021 / 13 = 2.4993848
    # MR: 11 of 0.7162521 and 6.8129207 - 2.4980495 = 4.3148712; mean 12.1936443 / 12
    #   = 1.0161370; screen at 3.267 × 1.0161370 = 3.3197196: 4.3148712 is dropped, mean MR
    #   0.7162521
    # y upper limit 2.4993848 + 2.66 × 0.7162521 = 4.4046034 < 6.8129207: outside, and a long
    # gap is an improvement for a harmful event. Every one of the first 12 y (2.4980495 at
    # most) is below the mean 2.4993848: a run of 12, a shift, concern.
    # lower limit: 2.4993848 - 1.9052306 = 0.5941542 -> 0.5941542^3.6 = 0.1534748 days;
    # upper 4.4046034^3.6 = 208.0026 days; centre 2.4993848^3.6 = 27.05199 days
    frame = pd.DataFrame({"died_on": dates_from_gaps([8, 27] * 6 + [1000])})
    out = t_chart(frame, "died_on")
    assert out["spc_upper_limit"].iloc[1] == pytest.approx(208.0026, abs=1e-3)
    assert out["spc_lower_limit"].iloc[1] == pytest.approx(0.1534748, abs=1e-6)
    assert out["spc_centre"].iloc[1] == pytest.approx(27.05199, abs=1e-4)
    assert labels(out["spc_rule"]) == [None] + ["shift"] * 12 + ["outside_limits"]
    assert labels(out["spc_variation"]) == [None] + ["concern"] * 12 + ["improvement"]
    assert out["spc_short_series"].tolist() == [False] * 14  # 13 gaps


def test_t_chart_negative_transformed_lower_limit_is_zero_days_and_groups_apart():
    # Area B, events on days 0, 1, 65 (gaps 1, 64): y 1, 3.1748021; mean 2.0874011; MR
    # 2.1748021; y limits 2.0874011 ± 5.7849736 = -3.6975725, 7.8723746 -> lower 0 days,
    # upper 7.8723746^3.6 = 1682.5993 days, centre 2.0874011^3.6 = 14.144293 days.
    # Area A, gaps 8, 27: y 1.7817974, 2.4980495; mean 2.1399235; MR 0.7162521;
    # y upper 2.1399235 + 1.9052306 = 4.0451541 -> 4.0451541^3.6 = exp(3.6 × 1.3975196)
    # = exp(5.0310707) = 153.0968 days.
    frame = pd.DataFrame(
        {
            "area": ["B", "A", "B", "A", "A", "B"],
            "died_on": pd.to_datetime(
                ["2024-03-06", "2024-01-01", "2024-01-01", "2024-01-09", "2024-02-05", "2024-01-02"]
            ),
        }
    )
    out = t_chart(frame, "died_on", "area")
    assert out["area"].tolist() == ["B", "B", "B", "A", "A", "A"]
    assert out["days_between"].tolist()[1:3] == [1.0, 64.0]
    assert out["days_between"].tolist()[4:] == [8.0, 27.0]
    # each area's first event has no gap: none is taken across areas
    assert math.isnan(out["days_between"].iloc[0]) and math.isnan(out["days_between"].iloc[3])
    b = out[out["area"] == "B"].iloc[1]
    assert b["spc_lower_limit"] == 0.0
    assert b["spc_upper_limit"] == pytest.approx(1682.5993, abs=1e-3)
    assert b["spc_centre"] == pytest.approx(14.144293, abs=1e-5)
    a = out[out["area"] == "A"].iloc[1]
    assert a["spc_upper_limit"] == pytest.approx(153.0968, abs=1e-3)


def test_t_chart_refuses_a_missing_date():
    frame = pd.DataFrame({"died_on": pd.to_datetime(["2024-01-01", None, "2024-02-01"])})
    with pytest.raises(ValueError, match="have no 'died_on'"):
        t_chart(frame, "died_on")
