"""Shared public-health statistics: intervals, standardised rates, benchmarking and recent trends;
weighted survey estimates on Kish's effective sample size and the change between two of them.

The methods are those behind OHID Fingertips (PHE/OHID technical guides; DHSC's PHStatsMethods is
used only as a test oracle). Everything is vectorised over numpy arrays: no loops over rows.

One module per subject, every name importable from here:

- ``intervals``: Wilson intervals for proportions, Byars' and exact Poisson intervals for rates;
- ``standardised``: directly standardised rates (Dobson) and the European Standard Population;
- ``benchmark``: polarity names and the comparison of an interval with a benchmark;
- ``trend``: the recent-trend statistics and marker;
- ``survey``: weighted survey estimates and the two-sample tests of change between them;
- ``helpers``: what they share (numbers as float arrays, column names as a list).
"""

from cov_pipeline.stats.benchmark import POLARITY_NAMES, compare_with_benchmark, normalise_polarity
from cov_pipeline.stats.helpers import as_float_array, as_list
from cov_pipeline.stats.intervals import (
    BYARS_MIN_COUNT,
    byars_interval,
    exact_poisson_interval,
    proportion_with_ci,
    rate_with_ci,
    wilson_interval,
)
from cov_pipeline.stats.standardised import (
    DSR_MIN_COUNT,
    EUROPEAN_STANDARD_POPULATION_2013,
    dsr_dobson,
)
from cov_pipeline.stats.survey import (
    kish_effective_n,
    mean_change_test,
    proportion_change_test,
    weighted_mean,
    weighted_proportion,
)
from cov_pipeline.stats.trend import (
    TREND_CANNOT,
    TREND_DECREASING,
    TREND_INCREASING,
    TREND_LEAVE_ONE_OUT_THRESHOLD,
    TREND_NO_CHANGE,
    TREND_POINTS,
    TREND_SIGNIFICANCE_THRESHOLD,
    chi_squared_trend_statistic,
    recent_trend,
    weighted_regression_trend_statistic,
)

__all__ = [
    "BYARS_MIN_COUNT",
    "DSR_MIN_COUNT",
    "EUROPEAN_STANDARD_POPULATION_2013",
    "POLARITY_NAMES",
    "TREND_CANNOT",
    "TREND_DECREASING",
    "TREND_INCREASING",
    "TREND_LEAVE_ONE_OUT_THRESHOLD",
    "TREND_NO_CHANGE",
    "TREND_POINTS",
    "TREND_SIGNIFICANCE_THRESHOLD",
    "as_float_array",
    "as_list",
    "byars_interval",
    "chi_squared_trend_statistic",
    "compare_with_benchmark",
    "dsr_dobson",
    "exact_poisson_interval",
    "kish_effective_n",
    "mean_change_test",
    "normalise_polarity",
    "proportion_change_test",
    "proportion_with_ci",
    "rate_with_ci",
    "recent_trend",
    "weighted_mean",
    "weighted_proportion",
    "weighted_regression_trend_statistic",
    "wilson_interval",
]
