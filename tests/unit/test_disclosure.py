"""The disclosure engine and the intruder's audit, on tables worked by hand.

An independent intruder is written out here too (:func:`solve_by_elimination`): it knows the
published cells and the totals, and solves any relation with one unknown, again and again, as
someone adding up published parts would. No withheld cell may fall to it, nor to the engine's
linear-programming audit, whose intervals are checked against hand arithmetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.disclosure import (
    Base,
    Count,
    Identity,
    Link,
    Margin,
    Periods,
    Rules,
    Series,
    TableSpec,
    audit_published,
    build_cells,
    is_small_count,
    publish,
    suppress,
)


def test_small_counts_are_one_to_seven():
    counts = pd.Series([0, 1, 7, 8, None])
    assert is_small_count(counts).tolist() == [False, True, True, False, False]


def two_way(values: dict[tuple[str, str], int]) -> pd.DataFrame:
    """A table of rows r × columns c with every margin ('All')."""
    rs = sorted({r for r, _ in values}) + ["All"]
    cs = sorted({c for _, c in values}) + ["All"]
    rows = [
        {
            "r": r,
            "c": c,
            "n": sum(v for (rr, cc), v in values.items() if r in ("All", rr) and c in ("All", cc)),
        }
        for r in rs
        for c in cs
    ]
    return pd.DataFrame(rows)


TWO_WAY = TableSpec(
    "t", ("r", "c"), (Count("n"),), margins=(Margin("r", "All"), Margin("c", "All"))
)


def solve_by_elimination(frame: pd.DataFrame, spec: TableSpec, truth: pd.DataFrame) -> set:
    """The row positions of withheld ``n`` cells an intruder recovers by solving, over and over,
    any margin equation with a single unknown (written independently of the engine)."""
    known = dict(enumerate(frame["n"].astype("Float64").tolist()))
    known = {i: (None if pd.isna(v) else float(v)) for i, v in known.items()}
    equations = []
    for margin in spec.margins:
        others = [k for k in spec.keys if k != margin.category]
        for _, group in frame.groupby(others):
            total = group.index[group[margin.category] == margin.total]
            parts = group.index[group[margin.category] != margin.total]
            if len(total) == 1:
                equations.append((int(total[0]), [int(p) for p in parts]))
    recovered = set()
    changed = True
    while changed:
        changed = False
        for total, parts in equations:
            unknown = [i for i in [total, *parts] if known[i] is None]
            if len(unknown) != 1:
                continue
            (u,) = unknown
            if u == total:
                known[u] = sum(known[p] for p in parts)
            else:
                known[u] = known[total] - sum(known[p] for p in parts if p != u)
            assert known[u] == truth.loc[u, "n"]  # the intruder's sums are right
            recovered.add(u)
            changed = True
    return recovered


def test_the_textbook_two_by_two_table_withholds_a_rectangle():
    # a b | 23       One primary cell (3). Every margin is published, so a lone withheld cell
    # c d | 45       in a row or column is its margin minus the others: the smallest rectangle
    # 18 50 | 68     through the 3 is withheld (3, 20, 15, 30).
    table = two_way({("a", "x"): 3, ("a", "y"): 20, ("b", "x"): 15, ("b", "y"): 30})
    out = publish({"t": table}, [TWO_WAY])
    shown = out.tables["t"].set_index(["r", "c"])["n"]
    assert shown[("a", "x")] is pd.NA and shown[("a", "y")] is pd.NA
    assert shown[("b", "x")] is pd.NA and shown[("b", "y")] is pd.NA
    assert shown[("All", "All")] == 68 and shown[("a", "All")] == 23
    # The intruder's intervals: moving t around the rectangle (a+t, b-t, c-t, d+t) keeps every
    # margin; t runs from -min(a, d) = -3 to min(b, c) = 15. So a in [0, 18], width 18 >= 7.
    audit = audit_published(out.tables, {"t": table}, [TWO_WAY]).set_index("row_keys")
    assert audit.loc["r=a, c=x", ["lower", "upper"]].tolist() == pytest.approx([0, 18])
    assert audit.loc["r=a, c=y", ["lower", "upper"]].tolist() == pytest.approx([5, 23])
    assert audit.loc["r=b, c=y", ["lower", "upper"]].tolist() == pytest.approx([27, 45])
    assert out.decision.audit["passes"].all()
    truth = table.sort_values(["r", "c"], kind="stable").reset_index(drop=True)
    assert not solve_by_elimination(out.tables["t"], TWO_WAY, truth)


def test_a_withheld_total_whose_parts_are_all_shown_is_protected():
    # The leak of the old code: a total withheld (as another relation's secondary cell) while
    # all its parts are published is their sum. Here the All cell of row a is forced withheld.
    table = two_way({("a", "x"): 30, ("a", "y"): 20, ("b", "x"): 15, ("b", "y"): 30})
    cells = build_cells({"t": table}, [TWO_WAY])
    forced = np.zeros(len(cells.value), dtype=bool)
    forced[int(table.index[(table.r == "a") & (table.c == "All")][0])] = True
    decision = suppress(cells, Rules(), forced)
    assert decision.withheld.sum() > 1  # one of its parts went with it
    shown = table.assign(n=table["n"].astype("Int64").mask(decision.withheld))
    assert not solve_by_elimination(shown, TWO_WAY, table)
    assert decision.audit["passes"].all()


def chained_table() -> pd.DataFrame:
    """Quarters and their year, by NRPF group (yes, no, Not known) and All women."""
    counts = {
        "yes": [9, 10, 12, 3],
        "no": [60, 55, 58, 61],
        "Not known": [2, 11, 9, 10],
    }
    rows = []
    for q, start in enumerate(["2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01"]):
        for group, values in counts.items():
            rows.append(("quarter", start, group, values[q]))
        rows.append(("quarter", start, "All", sum(v[q] for v in counts.values())))
    for group, values in counts.items():
        rows.append(("year", "2024-01-01", group, sum(values)))
    rows.append(("year", "2024-01-01", "All", sum(sum(v) for v in counts.values())))
    frame = pd.DataFrame(rows, columns=["period_type", "period_start", "group", "n"])
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    return frame


CHAINED = TableSpec(
    "chained",
    ("period_type", "period_start", "group"),
    (Count("n"),),
    margins=(Margin("group", "All"),),
    periods=Periods(levels=(("quarter", "year", "Y"),)),
)


def test_chained_relations_give_no_withheld_cell_back():
    # Counts 2 (Q1, Not known) and 3 (Q4, yes) are primary. Categories add up to All each
    # quarter, quarters to the year: the withheld cells must survive both chains at once.
    table = chained_table()
    out = publish({"chained": table}, [CHAINED])
    published = out.tables["chained"]
    assert not ((published["n"] >= 1) & (published["n"] <= 7)).fillna(False).any()
    assert out.decision.audit["passes"].all()
    # independently: audit what the table shows, as read back from a warehouse
    audit = audit_published(out.tables, {"chained": table}, [CHAINED])
    assert audit["passes"].all() and len(audit) == published["n"].isna().sum()
    # a lone equation never gives one away either (the intruder of the old leak)
    spec_periods = TableSpec(
        "chained", ("period_start", "group"), (Count("n"),), margins=(Margin("group", "All"),)
    )
    quarters = published[published["period_type"] == "quarter"].reset_index(drop=True)
    truth = table[table["period_type"] == "quarter"].reset_index(drop=True)
    assert not solve_by_elimination(quarters, spec_periods, truth)


def test_the_audit_catches_an_under_protected_table():
    table = chained_table()
    out = publish({"chained": table}, [CHAINED])
    leaky = out.tables["chained"].copy()
    secondary = leaky["n"].isna() & ~table.sort_values(
        list(CHAINED.keys), kind="stable"
    ).reset_index(drop=True)["n"].between(1, 7)
    first = secondary[secondary].index[0]
    leaky.loc[first, "n"] = (
        table.sort_values(list(CHAINED.keys), kind="stable").reset_index(drop=True).loc[first, "n"]
    )
    audit = audit_published({"chained": leaky}, {"chained": table}, [CHAINED])
    assert not audit["passes"].all()
    # and a small count shown outright is named as a failure
    shown = out.tables["chained"].copy()
    small = table.sort_values(list(CHAINED.keys), kind="stable").reset_index(drop=True)["n"] == 2
    shown.loc[small, "n"] = 2
    failing = audit_published({"chained": shown}, {"chained": table}, [CHAINED])
    assert "group=Not known" in " ".join(failing.loc[~failing["passes"], "row_keys"])


def test_survey_base_recovered_from_the_all_row_is_protected():
    # Wave 2021 by sex: 1,993 = 944 + 1,045 + 4. With n published for the others and All, the
    # 4 came back by subtraction (and with the sums of weights, its estimates).
    table = pd.DataFrame(
        {
            "wave_year": 2021,
            "breakdown": ["All", "Sex", "Sex", "Sex"],
            "category": ["All adults", "Male", "Female", "Not known"],
            "indicator": "good_health",
            "value": [73.0, 72.0, 74.0, 50.0],
            "unweighted_n": [1993, 944, 1045, 4],
        }
    )
    spec = TableSpec(
        "survey",
        ("wave_year", "breakdown", "category", "indicator"),
        (Count("unweighted_n"),),
        margins=(Margin("category", "All adults", family="breakdown"),),
        bases=(Base("unweighted_n", ("value",)),),
    )
    out = publish({"survey": table}, [spec], rules=Rules(min_base=50)).tables["survey"]
    out = out.set_index("category")
    assert out.loc["Not known", "unweighted_n"] is pd.NA
    assert out.loc["Male", "unweighted_n"] is pd.NA  # the smaller other group goes with it
    assert (
        out.loc["Female", "unweighted_n"] == 1045 and out.loc["All adults", "unweighted_n"] == 1993
    )
    assert np.isnan(out.loc["Not known", "value"]) and np.isnan(out.loc["Male", "value"])
    assert out.loc["Female", "value"] == 74.0
    assert out["is_suppressed"].to_dict() == {
        "All adults": False, "Female": False, "Male": True, "Not known": True,
    }  # fmt: skip


def test_spc_figures_are_withheld_for_a_series_with_a_withheld_point():
    # The centre line is the mean of the series: over withheld points it gives their sum away
    # (the old waiting list, All: 14 withheld months summing to 88).
    months = pd.date_range("2024-01-01", periods=4, freq="MS")
    table = pd.DataFrame(
        {
            "month": list(months) * 2,
            "group": ["a"] * 4 + ["b"] * 4,
            "n": [20, 3, 25, 22, 30, 31, 29, 33],
            "spc_centre": [17.5] * 4 + [30.75] * 4,
        }
    )
    spec = TableSpec(
        "spc",
        ("month", "group"),
        (Count("n"),),
        series=(Series(("spc_centre",), ("n",), ("group",)),),
    )
    out = publish({"spc": table}, [spec]).tables["spc"]
    assert out.loc[out["group"] == "a", "spc_centre"].isna().all()
    assert (out.loc[out["group"] == "b", "spc_centre"] == 30.75).all()
    assert out.loc[out["group"] == "a", "is_suppressed"].all()


def test_rates_go_with_their_count_or_denominator_and_identities_bind():
    # births = live births + stillbirths: a stillbirth count of 2 cannot stay hidden if births
    # and live births are shown, so one of them goes too; the rate derived from it goes.
    table = pd.DataFrame(
        {
            "year": [2023, 2024],
            "births": [420, 410],
            "live_births": [418, 402],
            "stillbirths": [2, 8],
            "stillbirth_rate": [4.8, 19.5],
        }
    )
    spec = TableSpec(
        "births",
        ("year",),
        (
            Count("births"),
            Count("live_births", "births"),
            Count("stillbirths", "births", ("stillbirth_rate",)),
        ),
        identities=(Identity("births", ("live_births", "stillbirths")),),
    )
    out = publish({"births": table}, [spec]).tables["births"].set_index("year")
    assert out.loc[2023, "stillbirths"] is pd.NA and np.isnan(out.loc[2023, "stillbirth_rate"])
    assert (out.loc[2023, "births"] is pd.NA) or (out.loc[2023, "live_births"] is pd.NA)
    assert out.loc[2024].notna().all()


def test_a_cell_in_two_tables_carries_one_flag_and_public_counts_pass_through():
    a = pd.DataFrame({"year": [2024, 2024], "group": ["All", "x"], "n": [40, 4]})
    b = pd.DataFrame({"year": [2024], "n": [4], "fingertips_count": [3]})
    specs = [
        TableSpec("a", ("year", "group"), (Count("n"),), margins=(Margin("group", "All"),)),
        TableSpec("b", ("year",), (Count("n"), Count("fingertips_count", public=True))),
    ]
    link = Link(("b", "n"), ("a", "n"), ("year",), right_where={"group": ("x",)})
    out = publish({"a": a, "b": b}, specs, [link])
    assert out.tables["a"].set_index("group").loc["x", "n"] is pd.NA
    assert out.tables["b"].loc[0, "n"] is pd.NA
    assert out.tables["b"].loc[0, "fingertips_count"] == 3  # already public: never withheld


def test_rounding_to_five_is_an_alternative_policy():
    table = two_way({("a", "x"): 3, ("a", "y"): 22, ("b", "x"): 16, ("b", "y"): 31})
    table["pct"] = 100 * table["n"] / 72
    spec = TableSpec(
        "t",
        ("r", "c"),
        (Count("n", derived=("pct",)),),
        margins=(Margin("r", "All"), Margin("c", "All")),
        policy="round",
    )
    out = publish({"t": table}, [spec])
    shown = out.tables["t"].set_index(["r", "c"])
    # 3 -> 5, 22 -> 20, 16 -> 15, 31 -> 30, 72 -> 70 (nearest 5, halves away from zero)
    assert shown.loc[("a", "x"), "n"] == 5 and shown.loc[("a", "y"), "n"] == 20
    assert shown.loc[("All", "All"), "n"] == 70
    assert np.isnan(shown.loc[("a", "x"), "pct"])  # the rate would give the 3 back
    assert not np.isnan(shown.loc[("a", "y"), "pct"])
    assert out.decision.audit["passes"].all()


@pytest.mark.parametrize("seed", range(12))
def test_random_tables_pass_the_audit_and_an_under_protected_copy_fails(seed):
    rng = np.random.default_rng(seed)
    rows = [f"r{i}" for i in range(rng.integers(2, 5))]
    cols = [f"c{j}" for j in range(rng.integers(2, 5))]
    values = {(r, c): int(rng.choice([0, 1, 2, 3, 5, 9, 12, 20, 35])) for r in rows for c in cols}
    table = two_way(values)
    out = publish({"t": table}, [TWO_WAY])
    assert out.decision.audit["passes"].all()
    shown = out.tables["t"]
    assert not ((shown["n"] >= 1) & (shown["n"] <= 7)).fillna(False).any()
    truth = table.sort_values(["r", "c"], kind="stable").reset_index(drop=True)
    assert not solve_by_elimination(shown, TWO_WAY, truth)
    audited = audit_published(out.tables, {"t": table}, [TWO_WAY])
    assert audited["passes"].all()
    # Under-protected: primary suppression alone. Whatever the simple intruder recovers, the
    # audit must fail on too.
    primary_only = truth.assign(n=truth["n"].astype("Int64").mask(truth["n"].between(1, 7)))
    assert solve_by_elimination(primary_only, TWO_WAY, truth)  # (every seed here gives one)
    verdict = audit_published({"t": primary_only}, {"t": table}, [TWO_WAY])
    assert not verdict["passes"].all()


@pytest.mark.parametrize("seed", range(8))
def test_random_period_and_category_tables_pass_the_audit(seed):
    # Random relations: categories add up to All in each quarter, quarters to the year, in each
    # category; a random number of categories, counts with many small ones.
    rng = np.random.default_rng(100 + seed)
    groups = [f"g{i}" for i in range(rng.integers(2, 5))]
    rows = []
    starts = ["2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01"]
    quarters = {g: rng.choice([0, 1, 2, 4, 6, 8, 15, 30, 60], size=4) for g in groups}
    for q, start in enumerate(starts):
        for g in groups:
            rows.append(("quarter", start, g, int(quarters[g][q])))
        rows.append(("quarter", start, "All", int(sum(quarters[g][q] for g in groups))))
    for g in groups:
        rows.append(("year", starts[0], g, int(quarters[g].sum())))
    rows.append(("year", starts[0], "All", int(sum(quarters[g].sum() for g in groups))))
    table = pd.DataFrame(rows, columns=["period_type", "period_start", "group", "n"])
    table["period_start"] = pd.to_datetime(table["period_start"])
    out = publish({"chained": table}, [CHAINED])
    assert out.decision.audit["passes"].all()
    shown = out.tables["chained"]
    assert not shown["n"].between(1, 7).fillna(False).any()
    assert audit_published(out.tables, {"chained": table}, [CHAINED])["passes"].all()


def test_a_survey_change_over_a_withheld_estimate_is_caught():
    from cov_pipeline.publishing import changes_without_published_waves

    shown = pd.DataFrame(
        {
            "wave_year": [2018, 2021, 2018, 2021],
            "breakdown": ["Sex"] * 4,
            "category": ["Male", "Male", "Not known", "Not known"],
            "indicator": "good_health",
            "value": [76.0, 72.0, 70.0, np.nan],  # Not known 2021: withheld
        }
    )
    change = pd.DataFrame(
        {
            "breakdown": ["Sex", "Sex"],
            "category": ["Male", "Not known"],
            "indicator": "good_health",
            "from_wave": 2018,
            "to_wave": 2021,
            "change": [-4.0, np.nan],
        }
    )
    assert changes_without_published_waves(change, shown).empty
    leaky = change.assign(change=[-4.0, 5.0])  # 70 + 5 gives the withheld 2021 estimate back
    caught = changes_without_published_waves(leaky, shown)
    assert caught["category"].tolist() == ["Not known"]
