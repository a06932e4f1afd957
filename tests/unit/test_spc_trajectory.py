"""SPC assurance against a trajectory (a target that changes over time), by hand.

The series is the stable 52, 48 × 10 of tests/unit/test_spc.py: centre 50, every moving range
4, limits 50 ± 2.66 × 4 = 39.36, 60.64. Each point's trajectory value is compared with those
limits by the same strict inequalities as a fixed target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.spc import SPC_COLUMNS, spc_series

VALUES = [52, 48] * 10


def frame(trajectory) -> pd.DataFrame:
    return pd.DataFrame({"period": np.arange(1, 21), "value": VALUES, "trajectory": trajectory})


def assurance(out: pd.DataFrame) -> list:
    return [a if isinstance(a, str) else None for a in out["spc_assurance"]]


def test_trajectory_gives_each_point_its_own_assurance_lower_is_better():
    # lower is better: passing where the upper limit 60.64 < trajectory, failing where the
    # lower limit 39.36 > trajectory, otherwise inconsistent; a trajectory stepping down from
    # 70 to 30 over the year moves from passing to failing.
    trajectory = [70] * 5 + [60.65] + [60.64] + [50] * 6 + [39.36] + [39.35] + [30] * 4 + [None]
    out = spc_series(frame(trajectory), "value", trajectory_col="trajectory")
    assert out["spc_upper_limit"].iloc[0] == pytest.approx(60.64)
    assert assurance(out) == (
        ["consistently_passing"] * 6  # 70 × 5 and 60.65: above 60.64
        + ["inconsistent"]  # 60.64: on the limit
        + ["inconsistent"] * 6  # 50: between the limits
        + ["inconsistent"]  # 39.36: on the lower limit
        + ["consistently_failing"] * 5  # 39.35 and 30 × 4: below 39.36
        + [None]  # no trajectory value for this month
    )


def test_trajectory_higher_is_better():
    # higher is better: passing where the lower limit 39.36 > trajectory (35), failing where
    # the upper limit 60.64 < trajectory (65), inconsistent between (50).
    trajectory = [35] * 7 + [50] * 7 + [65] * 6
    out = spc_series(frame(trajectory), "value", improvement="up", trajectory_col="trajectory")
    assert assurance(out) == (
        ["consistently_passing"] * 7 + ["inconsistent"] * 7 + ["consistently_failing"] * 6
    )


def test_a_constant_trajectory_matches_the_fixed_target():
    # a trajectory of 65 throughout gives the fixed target 65's columns exactly
    fixed = spc_series(frame([65] * 20), "value", target=65)
    moving = spc_series(frame([65] * 20), "value", trajectory_col="trajectory")
    pd.testing.assert_frame_equal(fixed[list(SPC_COLUMNS)], moving[list(SPC_COLUMNS)])
    assert assurance(moving) == ["consistently_passing"] * 20


def test_a_missing_value_has_no_assurance_even_with_a_trajectory():
    data = frame([65] * 20)
    data.loc[3, "value"] = np.nan
    out = spc_series(data, "value", trajectory_col="trajectory")
    assert assurance(out)[3] is None
    assert assurance(out)[2] == "consistently_passing"


def test_trajectory_per_group_rows_shuffled():
    # two areas with the same stable series; area A's trajectory 65 passes, B's 30 fails; the
    # rows are shuffled, so each row must keep its own trajectory value.
    both = pd.concat([frame([65] * 20).assign(area="A"), frame([30] * 20).assign(area="B")]).sample(
        frac=1.0, random_state=7
    )
    out = spc_series(both, "value", group_cols="area", trajectory_col="trajectory")
    expected = np.where(out["area"] == "A", "consistently_passing", "consistently_failing")
    assert assurance(out) == expected.tolist()


def test_a_fixed_target_and_a_trajectory_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        spc_series(frame([65] * 20), "value", target=65, trajectory_col="trajectory")


def test_a_trajectory_on_a_neutral_measure_is_refused():
    with pytest.raises(ValueError, match="neutral measure cannot pass or fail"):
        spc_series(frame([65] * 20), "value", improvement="neutral", trajectory_col="trajectory")


def test_a_missing_trajectory_column_is_refused():
    with pytest.raises(KeyError, match="plan"):
        spc_series(frame([65] * 20), "value", trajectory_col="plan")


def test_no_trajectory_no_assurance():
    out = spc_series(frame([65] * 20), "value")
    assert assurance(out) == [None] * 20
