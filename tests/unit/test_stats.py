"""Statistics pinned by published figures, hand arithmetic and an independent oracle.

Every expected number here comes from a publication (Newcombe 1998; exact Poisson tables), from
arithmetic written out beside it, or from DHSC's PHStatsMethods; never from our own output.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from cov_pipeline.stats import (
    EUROPEAN_STANDARD_POPULATION_2013,
    TREND_LEAVE_ONE_OUT_THRESHOLD,
    TREND_SIGNIFICANCE_THRESHOLD,
    byars_interval,
    chi_squared_trend_statistic,
    compare_with_benchmark,
    dsr_dobson,
    exact_poisson_interval,
    normalise_polarity,
    proportion_with_ci,
    rate_with_ci,
    recent_trend,
    weighted_regression_trend_statistic,
    wilson_interval,
)

Z95 = 1.959964  # two-sided 95% normal quantile, to 6 d.p.


# --------------------------------------------------------------------------------------------
# Wilson score interval


def test_wilson_81_of_263_by_hand():
    # r = 81, n = 263, z = 1.959964, z² = 3.841459
    # centre    2r + z²                  = 162 + 3.841459                 = 165.841459
    # 4r(1-r/n) = 324 × 182/263          = 224.212928
    # half      z·sqrt(z² + 224.212928)  = 1.959964 × sqrt(228.054387)
    #                                    = 1.959964 × 15.101470           = 29.598337
    # scale     2(n + z²)                = 2 × 266.841459                 = 533.682918
    # lower     (165.841459 - 29.598337) / 533.682918 = 136.243122 / 533.682918 = 0.255289
    # upper     (165.841459 + 29.598337) / 533.682918 = 195.439796 / 533.682918 = 0.366210
    lower, upper = wilson_interval(81, 263)
    assert float(lower) == pytest.approx(0.255289, abs=1e-6)
    assert float(upper) == pytest.approx(0.366210, abs=1e-6)
    # Rounded as usually published: 0.308 (0.255-0.366).
    assert (round(81 / 263, 3), round(float(lower), 3), round(float(upper), 3)) == (
        0.308,
        0.255,
        0.366,
    )


@pytest.mark.parametrize(
    ("count", "n", "lower", "upper"),
    [
        # Newcombe RG (1998) Two-sided confidence intervals for the single proportion: comparison
        # of seven methods. Stat Med 17:857-872, Table II, method 3 (Wilson score, no CC).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_1998(count, n, lower, upper):
    lo, hi = wilson_interval(count, n)
    assert float(lo) == pytest.approx(lower, abs=5e-5)
    assert float(hi) == pytest.approx(upper, abs=5e-5)


def test_wilson_all_events_mirrors_no_events():
    # 20/20 is 0/20 seen from the other side: (1 - 0.1611, 1), Newcombe's figure mirrored.
    lo, hi = wilson_interval(20, 20)
    assert float(hi) == 1.0
    assert float(lo) == pytest.approx(1 - 0.1611, abs=5e-5)


def test_wilson_limits_at_none_and_all_are_exactly_0_and_100_percent():
    # r = n gives (2n + 2z²) / (2(n + z²)) = 1 exactly; in floating point some n came out as
    # 0.9999999999999998, shown as 99.99999999999997%
    n = np.arange(1, 2001)
    everyone = proportion_with_ci(n, n)
    assert (everyone["ci_upper"] == 100.0).all()
    nobody = proportion_with_ci(np.zeros_like(n), n)
    assert (nobody["ci_lower"] == 0.0).all()


def test_wilson_accepts_effective_sample_size():
    # Weighted survey: p = 0.73 with Kish n_eff = 1234.5, so r = p·n_eff = 901.185.
    # centre 2r + z²              = 1802.37 + 3.841459                 = 1806.211459
    # 4r(1-r/n)                   = 3604.74 × 0.27                     = 973.2798
    # half   z·sqrt(977.121259)   = 1.959964 × 31.258939               = 61.266393
    # scale  2(1234.5 + 3.841459)                                      = 2476.682918
    # lower  (1806.211459 - 61.266393) / 2476.682918                   = 0.704549
    # upper  (1806.211459 + 61.266393) / 2476.682918                   = 0.754024
    lo, hi = wilson_interval(0.73 * 1234.5, 1234.5)
    assert float(lo) == pytest.approx(0.704549, abs=1e-6)
    assert float(hi) == pytest.approx(0.754024, abs=1e-6)


def test_wilson_bad_or_missing_inputs_give_nan():
    lo, hi = wilson_interval([5, np.nan, 5, 5, 30, -1, None], [0, 20, np.nan, -3, 20, 20, 20])
    assert np.isnan(lo).all()
    assert np.isnan(hi).all()


def test_proportion_with_ci_scales_and_keeps_the_index():
    counts = pd.Series([81, 0, np.nan], index=["a", "b", "c"])
    denominators = pd.Series([263, 20, 50], index=["a", "b", "c"])
    out = proportion_with_ci(counts, denominators)  # per cent
    assert list(out.columns) == ["value", "ci_lower", "ci_upper"]
    assert list(out.index) == ["a", "b", "c"]
    assert out.loc["a"].tolist() == pytest.approx([30.7985, 25.5289, 36.6210], abs=1e-4)
    assert out.loc["b"].tolist() == pytest.approx([0.0, 0.0, 16.1125], abs=1e-4)
    assert out.loc["c"].isna().all()


def test_proportion_with_ci_nullable_integers():
    # MSDS-style nullable integer columns (pd.NA), as published for provider RKB 2020-21:
    # 615 of 5,090 bookings at 91 days or later = 12.08%.
    counts = pd.Series([615, pd.NA], dtype="Int64")
    denominators = pd.Series([5090, 5090], dtype="Int64")
    out = proportion_with_ci(counts, denominators)
    assert out["value"].iloc[0] == pytest.approx(100 * 615 / 5090)
    assert out.iloc[1].isna().all()


# --------------------------------------------------------------------------------------------
# Byars and exact Poisson


def test_byars_81_per_13800_by_hand():
    # O = 81, n = 13,800, per 1,000, z = 1.959964.
    # lower: 1/(9·81) = 0.00137174; z/(3·sqrt(81)) = 1.959964/27 = 0.07259126
    #        (1 - 0.00137174 - 0.07259126)³ = 0.92603700³ = 0.79411796
    #        81 × 0.79411796 = 64.323555 events  -> 64.323555 / 13800 × 1000 = 4.661127
    # upper: 1/(9·82) = 0.00135501; z/(3·sqrt(82)) = 1.959964/27.166155 = 0.07214727
    #        (1 - 0.00135501 + 0.07214727)³ = 1.07079226³ = 1.22776618
    #        82 × 1.22776618 = 100.676827 events -> 100.676827 / 13800 × 1000 = 7.295422
    # value: 81 / 13800 × 1000 = 5.869565
    lo, hi = byars_interval(81, 13_800, multiplier=1000)
    assert float(lo) == pytest.approx(4.661127, abs=1e-6)
    assert float(hi) == pytest.approx(7.295422, abs=1e-6)
    out = rate_with_ci(81, 13_800, multiplier=1000)
    assert out.iloc[0].tolist() == pytest.approx([5.869565, 4.661127, 7.295422], abs=1e-6)


@pytest.mark.parametrize(
    ("count", "lower", "upper"),
    [
        # Exact 95% Poisson limits for an observed count, as tabulated (e.g. Geigy Scientific
        # Tables; the PHE technical guide's table); count 0: upper = -ln(0.025) = 3.6889.
        (0, 0.0, 3.6889),
        (1, 0.0253, 5.5716),
        (5, 1.6235, 11.6683),
        (10, 4.7954, 18.3904),
    ],
)
def test_exact_poisson_published_limits(count, lower, upper):
    lo, hi = exact_poisson_interval(count, 1)
    assert float(lo) == pytest.approx(lower, abs=5e-5)
    assert float(hi) == pytest.approx(upper, abs=5e-5)


def test_exact_poisson_zero_upper_is_minus_log_alpha_over_two():
    _, hi = exact_poisson_interval(0, 1)
    assert float(hi) == pytest.approx(-math.log(0.025), rel=1e-12)


def test_rate_with_ci_switches_from_exact_to_byars_at_ten():
    out = rate_with_ci([0, 9, 10], [1, 1, 1], multiplier=1)
    # 0 and 9 exact: chi-squared quantiles (scipy.stats.chi2, independent of our gamma route).
    assert out.iloc[0].tolist() == pytest.approx([0.0, 0.0, -math.log(0.025)], rel=1e-9)
    assert out.loc[1, "ci_lower"] == pytest.approx(chi2.ppf(0.025, 18) / 2, rel=1e-9)
    assert out.loc[1, "ci_upper"] == pytest.approx(chi2.ppf(0.975, 20) / 2, rel=1e-9)
    # 10 by Byars: lower 10(1 - 1/90 - z/(3·sqrt 10))³ = 10 × 0.78229054³ = 4.787450
    #              upper 11(1 - 1/99 + z/(3·sqrt 11))³ = 11 × 1.18688278³ = 18.391459
    assert out.loc[2, "ci_lower"] == pytest.approx(4.787450, abs=1e-6)
    assert out.loc[2, "ci_upper"] == pytest.approx(18.391459, abs=1e-6)


def test_rate_with_ci_zero_count_per_1000():
    # 0 deaths in 2,000 births: 0 (0 to 3.6889/2000 × 1000 = 1.8444) per 1,000.
    out = rate_with_ci(0, 2000)
    assert out.iloc[0].tolist() == pytest.approx([0.0, 0.0, 1.844440], abs=1e-6)


def test_rate_with_ci_missing_inputs_give_nan_rows():
    out = rate_with_ci([np.nan, 5, None, 5, -2], [1000, np.nan, 1000, 0, 1000])
    assert out.isna().all().all()
    out = rate_with_ci(pd.Series([pd.NA, 12], dtype="Int64"), pd.Series([100, 100]))
    assert out.iloc[0].isna().all()
    assert out.loc[1, "value"] == pytest.approx(120.0)


def test_byars_zero_count_is_defined():
    lo, hi = byars_interval(0, 1)
    # upper: 1 × (1 - 1/9 + z/3)³ = (0.888889 + 0.653321)³ = 1.542210³ = 3.668012
    assert float(lo) == 0.0
    assert float(hi) == pytest.approx(3.668012, abs=1e-6)


# --------------------------------------------------------------------------------------------
# Directly standardised rate (Dobson)


def _dsr_example() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area": ["A", "A", "A", "B", "B", "B"],
            "age_band": ["0-39", "40-69", "70+"] * 2,
            "deaths": [10, 20, 30, 1, 2, 3],
            "population": [20_000, 10_000, 5_000] * 2,
            "standard": [6_000, 3_000, 1_000] * 2,
        }
    )


def test_dsr_dobson_by_hand():
    # Area A. Band rates 10/20000 = 0.0005, 20/10000 = 0.002, 30/5000 = 0.006; Σw = 10,000.
    # DSR   = (6000×0.0005 + 3000×0.002 + 1000×0.006) / 10000 = (3 + 6 + 6) / 10000 = 0.0015
    #       = 150 per 100,000
    # var   = (6000²×10/20000² + 3000²×20/10000² + 1000²×30/5000²) / 10000²
    #       = (0.9 + 1.8 + 1.2) / 1e8 = 3.9e-8
    # O = 60; exact limits O_L = χ²(0.025; 120)/2 = 45.786321, O_U = χ²(0.975; 122)/2 = 77.231893
    # sqrt(var/O) = sqrt(6.5e-10) = 2.5495098e-5
    # lower = (0.0015 + 2.5495098e-5 × (45.786321 - 60)) × 1e5 = (0.0015 - 3.6237914e-4) × 1e5
    #       = 113.7621
    # upper = (0.0015 + 2.5495098e-5 × (77.231893 - 60)) × 1e5 = (0.0015 + 4.3932882e-4) × 1e5
    #       = 193.9329
    # Area B: 6 deaths, fewer than 10: value and CI blank.
    assert chi2.ppf(0.025, 120) / 2 == pytest.approx(45.786321, abs=1e-6)
    assert chi2.ppf(0.975, 122) / 2 == pytest.approx(77.231893, abs=1e-6)
    out = dsr_dobson(_dsr_example(), "deaths", "population", "standard", "area")
    assert list(out.columns) == [
        "area",
        "total_count",
        "total_population",
        "value",
        "ci_lower",
        "ci_upper",
    ]
    a = out.set_index("area").loc["A"]
    assert a[["total_count", "total_population"]].tolist() == [60, 35_000]
    assert a["value"] == pytest.approx(150.0, rel=1e-12)
    assert a["ci_lower"] == pytest.approx(113.7621, abs=1e-4)
    assert a["ci_upper"] == pytest.approx(193.9329, abs=1e-4)
    b = out.set_index("area").loc["B"]
    assert b["total_count"] == 6
    assert b[["value", "ci_lower", "ci_upper"]].isna().all()


def test_dsr_dobson_byars_limits_by_hand():
    # Same area A with Byars' O_L, O_U for O = 60 (z = 1.959964):
    # O_L = 60(1 - 1/540 - z/(3·sqrt 60))³ = 60 × (1 - 0.00185185 - 0.08434342)³
    #     = 60 × 0.91380473³ = 60 × 0.76306266 = 45.783760
    # lower = (0.0015 + 2.5495098e-5 × (45.783760 - 60)) × 1e5
    #       = (0.0015 - 3.6244446e-4) × 1e5 = 113.7556
    area_a = _dsr_example().query("area == 'A'")
    out = dsr_dobson(area_a, "deaths", "population", "standard", None, count_limits="byars")
    assert out.loc[0, "value"] == pytest.approx(150.0)
    assert out.loc[0, "ci_lower"] == pytest.approx(113.7556, abs=1e-4)


def test_dsr_dobson_missing_stratum_is_missing_not_zero():
    frame = _dsr_example()
    frame.loc[1, "deaths"] = np.nan
    out = dsr_dobson(frame, "deaths", "population", "standard", "area").set_index("area")
    assert out.loc["A", ["total_count", "value", "ci_lower", "ci_upper"]].isna().all()
    assert out.loc["A", "total_population"] == 35_000


def test_european_standard_population_2013_totals_100000():
    assert len(EUROPEAN_STANDARD_POPULATION_2013) == 19
    assert sum(EUROPEAN_STANDARD_POPULATION_2013.values()) == 100_000


# --------------------------------------------------------------------------------------------
# PHStatsMethods as an oracle (GPL: used here, never copied)

GRID_COUNTS = [1, 2, 5, 9, 10, 11, 50, 500, 10_000]
GRID_DENOMINATORS = [100, 1_000, 10_000, 1_000_000]


def _grid() -> pd.DataFrame:
    rows = [(c, d) for c in GRID_COUNTS for d in GRID_DENOMINATORS if c <= d]
    return pd.DataFrame(rows, columns=["num", "den"])


def test_wilson_agrees_with_phstatsmethods():
    phs = pytest.importorskip("PHStatsMethods")
    grid = _grid()
    theirs = phs.ph_proportion(grid, "num", "den", metadata=False, multiplier=100)
    ours = proportion_with_ci(grid["num"], grid["den"], multiplier=100)
    np.testing.assert_allclose(ours["value"], theirs["Value"], rtol=1e-6)
    np.testing.assert_allclose(ours["ci_lower"], theirs["lower_95_ci"], rtol=1e-6)
    np.testing.assert_allclose(ours["ci_upper"], theirs["upper_95_ci"], rtol=1e-6)


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_rates_agree_with_phstatsmethods(confidence):
    phs = pytest.importorskip("PHStatsMethods")
    grid = _grid()
    theirs = phs.ph_rate(
        grid, "num", "den", metadata=False, multiplier=100_000, confidence=confidence
    )
    ours = rate_with_ci(grid["num"], grid["den"], multiplier=100_000, confidence=confidence)
    suffix = "95_ci" if confidence == 0.95 else "99_8_ci"
    np.testing.assert_allclose(ours["value"], theirs["Value"], rtol=1e-6)
    np.testing.assert_allclose(ours["ci_lower"], theirs[f"lower_{suffix}"], rtol=1e-6)
    np.testing.assert_allclose(ours["ci_upper"], theirs[f"upper_{suffix}"], rtol=1e-6)


def test_phstatsmethods_rate_raises_on_zero_where_ours_is_defined():
    phs = pytest.importorskip("PHStatsMethods")
    frame = pd.DataFrame({"num": [0, 5], "den": [1000, 1000]})
    with pytest.raises(ValueError):
        phs.ph_rate(frame, "num", "den", metadata=False, multiplier=1000)
    ours = rate_with_ci(frame["num"], frame["den"], multiplier=1000)
    assert ours.loc[0].tolist() == pytest.approx([0.0, 0.0, 3.688879], abs=1e-6)


def _dsr_oracle_frame() -> pd.DataFrame:
    rng = np.random.default_rng(20240601)
    bands = list(EUROPEAN_STANDARD_POPULATION_2013)
    areas = ["E08000026", "E06000015", "E08000001", "E06000031"]
    frame = pd.DataFrame(
        {
            "area": np.repeat(areas, len(bands)),
            "age_band": bands * len(areas),
            "standard": list(EUROPEAN_STANDARD_POPULATION_2013.values()) * len(areas),
            "population": rng.integers(2_000, 25_000, len(areas) * len(bands)),
            "deaths": rng.integers(0, 40, len(areas) * len(bands)),
        }
    )
    # One area with fewer than 10 deaths in all: its value must come out blank in both.
    frame.loc[frame["area"] == "E06000031", "deaths"] = [1, 2, 3] + [0] * (len(bands) - 3)
    return frame


def test_dsr_agrees_with_phstatsmethods():
    phs = pytest.importorskip("PHStatsMethods")
    frame = _dsr_oracle_frame()
    theirs = (
        phs.ph_dsr(
            frame,
            "deaths",
            "population",
            "standard",
            group_cols="area",
            metadata=False,
            euro_standard_pops=False,
        )
        .set_index("area")
        .sort_index()
    )
    # PHStatsMethods (like PHEindicatormethods) takes Byars' limits for the total count.
    byars = dsr_dobson(
        frame, "deaths", "population", "standard", "area", count_limits="byars"
    ).set_index("area")
    np.testing.assert_allclose(byars["total_count"], theirs["Total Count"])
    np.testing.assert_allclose(byars["total_population"], theirs["Total Pop"])
    for ours_col, their_col in [
        ("value", "Value"),
        ("ci_lower", "lower_95_ci"),
        ("ci_upper", "upper_95_ci"),
    ]:
        np.testing.assert_allclose(byars[ours_col], theirs[their_col], rtol=1e-6)
    assert np.isnan(byars.loc["E06000031", "value"])
    # Exact limits (our default) differ from Byars' by well under 0.1% at these counts.
    exact = dsr_dobson(frame, "deaths", "population", "standard", "area").set_index("area")
    np.testing.assert_allclose(exact["ci_lower"], theirs["lower_95_ci"], rtol=1e-3)
    np.testing.assert_allclose(exact["ci_upper"], theirs["upper_95_ci"], rtol=1e-3)


# --------------------------------------------------------------------------------------------
# Compared with benchmark


@pytest.mark.parametrize(
    ("lower", "upper", "polarity", "expected"),
    [
        (3.0, 5.0, "RAG - Low is good   ", "Similar"),  # benchmark 4 inside
        (4.0, 5.0, "low", "Similar"),  # on the lower limit: inclusive
        (3.0, 4.0, "high", "Similar"),  # on the upper limit: inclusive
        (1.0, 3.0, "RAG - Low is good   ", "Better"),
        (5.0, 7.0, "RAG - Low is good", "Worse"),
        (1.0, 3.0, "RAG - High is good   ", "Worse"),
        (5.0, 7.0, "high", "Better"),
        (1.0, 3.0, None, "Lower"),
        (5.0, 7.0, "BOB - Blue orange blue", "Higher"),
        (1.0, 3.0, "Not applicable", "Lower"),
        (5.0, 7.0, "none", "Higher"),
        (np.nan, 7.0, "low", "Not compared"),
        (5.0, np.nan, "high", "Not compared"),
    ],
)
def test_compare_with_benchmark_branches(lower, upper, polarity, expected):
    assert compare_with_benchmark(lower, upper, 4.0, polarity) == expected


def test_compare_with_benchmark_vectorised_with_row_polarity():
    # Infant mortality 2020-22 (business plan table; low is good), England 3.9:
    # Coventry 5.9 (4.6-7.4) Worse; Sheffield 4.2 (3.3-5.3) Similar. A missing benchmark and a
    # third row with a different polarity show the array forms.
    result = compare_with_benchmark(
        [4.6, 3.3, 1.0, 1.0],
        [7.4, 5.3, 2.0, 2.0],
        [3.9, 3.9, np.nan, 3.9],
        ["RAG - Low is good   ", "RAG - Low is good   ", "low", "RAG - High is good   "],
    )
    assert result.tolist() == ["Worse", "Similar", "Not compared", "Worse"]


def test_unknown_polarity_is_a_configuration_error():
    with pytest.raises(ValueError, match="unrecognised polarity"):
        compare_with_benchmark(1.0, 2.0, 3.0, "RAG - Middle is good")
    assert normalise_polarity(["  RAG -  LOW is good ", None, np.nan]).tolist() == [
        "low",
        "none",
        "none",
    ]


# --------------------------------------------------------------------------------------------
# Recent trend


def test_significance_thresholds_are_the_published_chi_squared_points():
    # Chi-squared, 1 df: 99.8% point 9.5495 (Fingertips' 9.54953570608324), 95% point 3.8415.
    assert pytest.approx(9.54953570608324, abs=1e-12) == TREND_SIGNIFICANCE_THRESHOLD
    assert pytest.approx(3.8415, abs=1e-4) == TREND_LEAVE_ONE_OUT_THRESHOLD


def test_chi_squared_trend_statistic_by_hand():
    # r = 10, 15, 20, 25, 30 out of n = 100 each, t = 1..5 (Armitage):
    # N = 500, R = 100, Σrt = 10 + 30 + 60 + 100 + 150 = 350, Σnt = 1500, Σnt² = 100 × 55 = 5500
    # X² = N (N Σrt - R Σnt)² / (R (N - R) (N Σnt² - (Σnt)²))
    #    = 500 × (175000 - 150000)² / (100 × 400 × (2750000 - 2250000))
    #    = 500 × 625,000,000 / (40,000 × 500,000) = 312,500,000,000 / 20,000,000,000 = 15.625
    assert float(chi_squared_trend_statistic([10, 15, 20, 25, 30], [100] * 5)) == pytest.approx(
        15.625, rel=1e-12
    )


def test_chi_squared_trend_equals_n_times_squared_correlation():
    # Independent route: Armitage's statistic is N·r² for the Pearson correlation between the
    # time score and the 0/1 outcome over all N individuals.
    counts = np.array([30, 41, 38, 52, 60])
    denominators = np.array([400, 380, 410, 395, 420])
    score = np.repeat(np.arange(1, 6), denominators)
    outcome = np.concatenate(
        [np.r_[np.ones(c), np.zeros(d - c)] for c, d in zip(counts, denominators, strict=True)]
    )
    r = np.corrcoef(score, outcome)[0, 1]
    expected = denominators.sum() * r**2
    assert float(chi_squared_trend_statistic(counts, denominators)) == pytest.approx(expected)
    # Many series at once: one statistic per row.
    stacked = chi_squared_trend_statistic(
        np.vstack([counts, counts]), np.vstack([denominators] * 2)
    )
    assert stacked.shape == (2,)


def test_weighted_regression_statistic_by_hand():
    # y = 2, 4, 9 with SE 1, 1, 0.5 (CIs y ± z·SE), so weights w = 1, 1, 4; t = 1, 2, 3.
    # Σw = 6; t̄ = (1 + 2 + 12)/6 = 2.5; ȳ = (2 + 4 + 36)/6 = 7
    # Sxx = 1×2.25 + 1×0.25 + 4×0.25 = 3.5
    # Sxy = 1×(-1.5)(-5) + 1×(-0.5)(-3) + 4×(0.5)(2) = 7.5 + 1.5 + 4 = 13
    # slope = 13/3.5; se² = 1/3.5; statistic = slope²/se² = 13²/3.5 = 48.285714
    z = 1.959963984540054
    y = np.array([2.0, 4.0, 9.0])
    se = np.array([1.0, 1.0, 0.5])
    stat = weighted_regression_trend_statistic(y, y - z * se, y + z * se)
    assert float(stat) == pytest.approx(48.285714, abs=1e-6)


def test_weighted_regression_statistic_matches_numpy_polyfit():
    # Independent route: numpy's weighted polyfit with the unscaled covariance.
    y = np.array([4.1, 4.6, 4.4, 5.2, 5.9])
    se = np.array([0.30, 0.25, 0.35, 0.30, 0.28])
    t = np.arange(1, 6)
    coef, cov = np.polyfit(t, y, 1, w=1 / se, cov="unscaled")
    expected = coef[0] ** 2 / cov[0, 0]
    z = 1.959963984540054
    stat = weighted_regression_trend_statistic(y, y - z * se, y + z * se)
    assert float(stat) == pytest.approx(expected, rel=1e-9)


def _proportion_series(group: str, periods, counts, denominators) -> pd.DataFrame:
    return pd.DataFrame(
        {"area": group, "period": list(periods), "count": counts, "denominator": denominators}
    )


def _trend_frame() -> pd.DataFrame:
    years = [2016, 2017, 2018, 2019, 2020]
    return pd.concat(
        [
            # Rising: X² = 15.625 (above) and every leave-one-out stays significant:
            # drop 2016 -> 7.17, drop 2020 -> 8.66, drop 2018 -> 15.63 (all > 3.84).
            _proportion_series("rising", years, [10, 15, 20, 25, 30], [100] * 5),
            _proportion_series("flat", years, [20] * 5, [100] * 5),
            _proportion_series("short", years[1:], [10, 15, 20, 25], [100] * 4),
            _proportion_series(
                "pooled",
                ["2014 - 16", "2015 - 17", "2016 - 18", "2017 - 19", "2018 - 20"],
                [10, 15, 20, 25, 30],
                [100] * 5,
            ),
            _proportion_series(
                "gap", [2014, 2015, 2017, 2018, 2019], [10, 15, 20, 25, 30], [100] * 5
            ),
            # Flat at 2% then one jump to 3%: X² = 18.6 overall, but without 2020 the series is
            # flat (X² = 0), so one point drives the slope.
            _proportion_series("outlier", years, [200, 200, 200, 200, 300], [10_000] * 5),
            # Falling over the last five financial years; the high 2014/15 is outside the window.
            _proportion_series(
                "falling",
                ["2014/15", "2015/16", "2016/17", "2017/18", "2018/19", "2019/20"],
                [5, 30, 25, 20, 15, 10],
                [100] * 6,
            ),
            _proportion_series("gap_in_data", years, [10, 15, np.nan, 25, 30], [100] * 5),
        ],
        ignore_index=True,
    )


def test_recent_trend_proportions():
    out = recent_trend(
        _trend_frame(),
        "area",
        "period",
        method="proportion",
        count_col="count",
        denominator_col="denominator",
    ).set_index("area")
    assert out["recent_trend"].to_dict() == {
        "falling": "Decreasing",
        "flat": "No significant change",
        "gap": "Cannot be calculated",
        "gap_in_data": "Cannot be calculated",
        "outlier": "No significant change",
        "pooled": "Cannot be calculated",
        "rising": "Increasing",
        "short": "Cannot be calculated",
    }
    assert out.loc["rising", "trend_statistic"] == pytest.approx(15.625)
    # "falling" is "rising" reversed over its last five points, so the same statistic.
    assert out.loc["falling", "trend_statistic"] == pytest.approx(15.625)
    assert out.loc["falling", "trend_last_period"] == "2019/20"
    assert np.isnan(out.loc["pooled", "trend_statistic"])


def _rate_frame(values, se=0.5, start=2016) -> pd.DataFrame:
    v = np.asarray(values, dtype=float)
    return pd.DataFrame(
        {
            "period": [str(start + i) for i in range(len(v))],
            "value": v,
            "lower": v - Z95 * se,
            "upper": v + Z95 * se,
        }
    )


def _rate_trend(frame: pd.DataFrame, rule: str = "significant") -> str:
    out = recent_trend(
        frame,
        None,
        "period",
        method="regression",
        value_col="value",
        ci_lower_col="lower",
        ci_upper_col="upper",
        leave_one_out=rule,
    )
    assert len(out) == 1
    return out.loc[0, "recent_trend"]


def test_recent_trend_weighted_regression():
    # 10, 12, 14, 16, 18 with SE 0.5 (w = 4): Sxy = 4 × 20 = 80, Sxx = 4 × 10 = 40,
    # statistic 80²/40 = 160.
    assert _rate_trend(_rate_frame([10, 12, 14, 16, 18])) == "Increasing"
    assert _rate_trend(_rate_frame([18, 16, 14, 12, 10])) == "Decreasing"
    assert _rate_trend(_rate_frame([10, 10.4, 9.8, 10.1, 10.2])) == "No significant change"
    assert _rate_trend(_rate_frame([10, 12, 14, 16])) == "Cannot be calculated"


def test_recent_trend_single_point_driving_the_slope():
    # 10, 10, 10, 10, 14 with SE 0.5: statistic 25.6 (Sxy = 4 × 8 = 32, 32²/40), well above
    # 9.5495, but leaving out the last point leaves a flat line (statistic 0).
    assert _rate_trend(_rate_frame([10, 10, 10, 10, 14])) == "No significant change"
    assert _rate_trend(_rate_frame([10, 10, 10, 10, 14]), "direction") == "No significant change"


def test_recent_trend_leave_one_out_rules_differ():
    # 10, 10.2, 10.1, 10.3, 13 with SE 0.5: statistic 14.884 (Sxy = 4 × 6.1 = 24.4, 24.4²/40).
    # Without 2020: 10, 10.2, 10.1, 10.3 gives Sxy = 4 × 0.4 = 1.6, Sxx = 20, statistic 0.128:
    # still upward (Fingertips' direction-only rule: Increasing) but not significant at 95%
    # (our default rule: No significant change).
    frame = _rate_frame([10, 10.2, 10.1, 10.3, 13])
    assert _rate_trend(frame, "significant") == "No significant change"
    assert _rate_trend(frame, "direction") == "Increasing"


def test_recent_trend_cannot_be_calculated_without_a_ci():
    frame = _rate_frame([10, 12, 14, 16, 18])
    frame.loc[2, ["lower", "upper"]] = np.nan
    assert _rate_trend(frame) == "Cannot be calculated"
    frame = _rate_frame([10, 12, 14, 16, 18])
    frame["period"] = ["2016 - 18", "2017 - 19", "2018 - 20", "2019 - 21", "2020 - 22"]
    assert _rate_trend(frame) == "Cannot be calculated"


def test_trend_statistics_propagate_missing():
    assert np.isnan(chi_squared_trend_statistic([1, 2, np.nan, 4, 5], [10] * 5))
    assert np.isnan(chi_squared_trend_statistic([0] * 5, [10] * 5))
    assert np.isnan(weighted_regression_trend_statistic([1, 2, 3], [0, 1, np.nan], [2, 3, 4]))


def test_recent_trend_groups_by_several_keys_and_rejects_unreadable_periods():
    rising = _proportion_series("E08000026", range(2016, 2021), [10, 15, 20, 25, 30], [100] * 5)
    quarters = _proportion_series(
        "E08000026", ["2020 Q1", "2020 Q2", "2020 Q3", "2020 Q4", "2021 Q1"], [10] * 5, [100] * 5
    )
    frame = pd.concat(
        [rising.assign(indicator="A"), quarters.assign(indicator="B")], ignore_index=True
    )
    out = recent_trend(
        frame,
        ["area", "indicator"],
        "period",
        method="proportion",
        count_col="count",
        denominator_col="denominator",
    )
    assert out[["area", "indicator", "recent_trend"]].values.tolist() == [
        ["E08000026", "A", "Increasing"],
        ["E08000026", "B", "Cannot be calculated"],
    ]


def test_dsr_dobson_groups_by_several_keys():
    frame = pd.concat(
        [_dsr_example().assign(sex="F"), _dsr_example().assign(sex="M")], ignore_index=True
    )
    out = dsr_dobson(frame, "deaths", "population", "standard", ["area", "sex"])
    assert out[["area", "sex"]].values.tolist() == [["A", "F"], ["A", "M"], ["B", "F"], ["B", "M"]]
    assert out["value"].tolist()[:2] == pytest.approx([150.0, 150.0])
