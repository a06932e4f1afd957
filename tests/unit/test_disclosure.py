"""Disclosure control: the primary rule (counts 1-7) and secondary suppression, worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.disclosure import (
    is_small_count,
    secondary_suppression,
    suppress_until_stable,
    trailing_window_hidden,
)


def test_small_counts_are_one_to_seven():
    counts = pd.Series([0, 1, 7, 8, None])
    assert is_small_count(counts).tolist() == [False, True, True, False, False]


def test_a_lone_suppressed_cell_takes_the_smallest_other_cell_with_it():
    # One group (a breakdown: 10 + 5 + 20 + 12 = 47, total published): the 5 is withheld, so
    # 47 - 10 - 20 - 12 would give it back. The smallest other cell (10) is withheld as well.
    counts = pd.Series([10, 5, 20, 12])
    primary = pd.Series([False, True, False, False])
    groups = pd.Series([1, 1, 1, 1])
    assert secondary_suppression(counts, primary, groups).tolist() == [True, True, False, False]


def test_groups_with_two_suppressed_cells_or_none_are_left_alone():
    counts = pd.Series([3, 4, 30, 9, 12, 40])
    primary = pd.Series([True, True, False, False, False, False])
    groups = pd.Series([1, 1, 1, 2, 2, 2])
    assert secondary_suppression(counts, primary, groups).tolist() == primary.tolist()


def test_each_group_is_protected_on_its_own():
    # Group 1: 6 withheld -> 11 joins it. Group 2: 2 withheld -> 9 joins (not 15).
    counts = pd.Series([6, 11, 40, 2, 15, 9])
    primary = pd.Series([True, False, False, True, False, False])
    groups = pd.Series(["a", "a", "a", "b", "b", "b"])
    assert secondary_suppression(counts, primary, groups).tolist() == [
        True, True, False, True, False, True,
    ]  # fmt: skip


def test_non_zero_cells_are_preferred_and_ties_go_to_the_first():
    # Withholding a zero protects nothing a reader could not guess; 9 and 9 tie: the first goes.
    counts = pd.Series([4, 0, 9, 9])
    primary = pd.Series([True, False, False, False])
    groups = pd.Series([1, 1, 1, 1])
    assert secondary_suppression(counts, primary, groups).tolist() == [True, False, True, False]
    # only zeros left: a zero it is
    counts = pd.Series([4, 0, 0])
    primary = pd.Series([True, False, False])
    assert secondary_suppression(counts, primary, pd.Series([1, 1, 1])).tolist() == [
        True, True, False,
    ]  # fmt: skip


def test_cells_without_a_published_total_are_not_grouped():
    # Null group: the total these cells add up to is itself withheld (or absent).
    counts = pd.Series([5, 20, 30])
    primary = pd.Series([True, False, False])
    groups = pd.Series([None, None, None], dtype="Int64")
    assert secondary_suppression(counts, primary, groups).tolist() == [True, False, False]


def test_a_missing_count_already_hides_a_second_cell():
    # 47 = 5 (withheld) + ? (missing at source) + 20 + 12: two unknowns, nothing revealed.
    counts = pd.Series([5, None, 20, 12])
    primary = pd.Series([True, False, False, False])
    groups = pd.Series([1, 1, 1, 1])
    assert secondary_suppression(counts, primary, groups).tolist() == [True, False, False, False]


def test_result_keeps_the_index_and_does_not_change_its_inputs():
    counts = pd.Series([3, 10, 11], index=[7, 8, 9])
    primary = pd.Series([True, False, False], index=[7, 8, 9])
    out = secondary_suppression(counts, primary, pd.Series([0, 0, 0], index=[7, 8, 9]))
    assert out.index.tolist() == [7, 8, 9]
    assert out.tolist() == [True, True, False]
    assert primary.tolist() == [True, False, False]


def test_a_table_with_published_margins_loses_all_four_cells_of_a_two_by_two():
    #            col 1  col 2 | total
    #   row 1      a=3   b=10 |  13
    #   row 2     c=12   d=20 |  32
    #   total       15     30 |  45
    # a is withheld. Row 1's total gives a back from b, so b goes (rows pass); then column 1
    # gives a back from c, so c goes, and column 2 gives b back from d, so d goes (columns
    # pass); the next rows pass changes nothing. The textbook answer: all four cells.
    counts = pd.Series([3, 10, 12, 20], index=list("abcd"))
    primary = pd.Series([True, False, False, False], index=list("abcd"))
    rows = pd.Series([1, 1, 2, 2], index=list("abcd"))
    columns = pd.Series([1, 2, 1, 2], index=list("abcd"))
    assert suppress_until_stable(counts, primary, [rows]).tolist() == [True, True, False, False]
    assert suppress_until_stable(counts, primary, [rows, columns]).all()


def test_a_group_may_hold_its_total_with_its_parts():
    # All = 30 with Female 25, Male 5, Not known 0 in one group: 5 is withheld, 30 - 25 gives it
    # back, so the smallest non-zero other cell goes too: Female (25), not the All row (30).
    counts = pd.Series([30, 25, 5, 0])
    primary = is_small_count(counts)
    groups = pd.Series([1, 1, 1, 1])
    assert suppress_until_stable(counts, primary, [groups]).tolist() == [False, True, True, False]


def test_flags_that_never_settle_raise():
    counts = pd.Series([3, 10, 12, 20])
    primary = pd.Series([True, False, False, False])
    with pytest.raises(RuntimeError, match="did not settle in 1 passes"):
        suppress_until_stable(counts, primary, [pd.Series([1, 1, 2, 2])], max_passes=1)


def test_a_window_total_is_hidden_while_any_month_in_it_is():
    # one series of 15 months, month 3 withheld: totals over 4 months end at months 3, 4, 5, 6
    # with month 3 inside them; month 7's window (4-7) is clear again
    hidden = np.zeros((2, 15), dtype=bool)
    hidden[0, 3] = True
    out = trailing_window_hidden(hidden, 4)
    assert np.flatnonzero(out[0]).tolist() == [3, 4, 5, 6]
    assert not out[1].any()  # each row is its own series
