"""Coventry household survey: harmonise the waves through the codebook, score them, and estimate
weighted health indicators with confidence intervals and the change between waves.

Each wave names its columns and codes its answers its own way; ``codebook.yaml`` maps every wave onto
one harmonised schema (:mod:`cov_pipeline.schemas.household_survey`), so a new wave is a codebook
edit and a file, no code. File faults (a file no wave describes, a column the codebook does not
know, a mapped column that is absent) raise :class:`FileFault`; row faults (an unmapped code, an
answer off its scale, a missing or non-positive weight, a respondent twice in a wave, an export's
totals line, a record the raw reader could not read as delivered) quarantine the row with every
reason.

The source is split by stage; every public name is importable from here as before:

- :mod:`~cov_pipeline.household_survey.definitions`: the declaration (name, file patterns, the
  harmonised variables, the SWEMWBS conversion table and the thresholds) and the codebook
  (:func:`load_codebook`);
- :mod:`~cov_pipeline.household_survey.parsing`: reading and harmonising every wave, repeated
  respondents, the derived scores, and loading (:func:`load_household_survey`);
- :mod:`~cov_pipeline.household_survey.measures`: the indicators and change marts
  (:func:`weighted_indicators`, :func:`wave_changes`);
- :mod:`~cov_pipeline.household_survey.descriptions`: the column descriptions of the staging
  table and the marts.

The statistics the marts rest on (weighted estimates on Kish's effective sample size, the
two-sample tests of change) are in :mod:`cov_pipeline.stats`, and are importable from here too.
"""

from cov_pipeline.household_survey.definitions import (
    AUDIT_C_INCREASING_RISK_FROM,
    CATEGORICAL_VARIABLES,
    CODEBOOK_NAME,
    HARMONISED_VARIABLES,
    INTEGER_VARIABLES,
    LOW_WELLBEING_BELOW,
    MIN_UNWEIGHTED_N,
    SOURCE,
    SWEMWBS_METRIC_BY_RAW,
    WAVE_PATTERN,
    Codebook,
    VariableMap,
    WaveSpec,
    load_codebook,
    parse_codebook,
)
from cov_pipeline.household_survey.descriptions import (
    CHANGE_DESCRIPTIONS,
    INDICATOR_DESCRIPTIONS,
    STAGING_COLUMNS,
    STAGING_DESCRIPTIONS,
)
from cov_pipeline.household_survey.measures import (
    ALL_ADULTS,
    BREAKDOWNS,
    IMD_LABELS,
    INDICATOR_INPUT_COLUMNS,
    INDICATORS,
    NOT_KNOWN,
    Indicator,
    wave_changes,
    weighted_indicators,
)
from cov_pipeline.household_survey.parsing import (
    TOTALS_LABEL,
    HouseholdSurveyLoad,
    audit_c_total,
    duplicate_reasons,
    harmonise_wave,
    load_household_survey,
    read_wave_file,
    repeated_respondents,
    score_columns,
    score_responses,
    swemwbs_metric,
    totals_reasons,
)
from cov_pipeline.raw_reader import PARSING_FAILED
from cov_pipeline.stats import (
    kish_effective_n,
    mean_change_test,
    proportion_change_test,
    weighted_mean,
    weighted_proportion,
)

__all__ = [
    "ALL_ADULTS",
    "AUDIT_C_INCREASING_RISK_FROM",
    "BREAKDOWNS",
    "CATEGORICAL_VARIABLES",
    "CHANGE_DESCRIPTIONS",
    "CODEBOOK_NAME",
    "Codebook",
    "HARMONISED_VARIABLES",
    "HouseholdSurveyLoad",
    "IMD_LABELS",
    "INDICATORS",
    "INDICATOR_DESCRIPTIONS",
    "INDICATOR_INPUT_COLUMNS",
    "INTEGER_VARIABLES",
    "Indicator",
    "LOW_WELLBEING_BELOW",
    "MIN_UNWEIGHTED_N",
    "NOT_KNOWN",
    "PARSING_FAILED",
    "SOURCE",
    "STAGING_COLUMNS",
    "STAGING_DESCRIPTIONS",
    "SWEMWBS_METRIC_BY_RAW",
    "TOTALS_LABEL",
    "VariableMap",
    "WAVE_PATTERN",
    "WaveSpec",
    "audit_c_total",
    "duplicate_reasons",
    "harmonise_wave",
    "kish_effective_n",
    "load_codebook",
    "load_household_survey",
    "mean_change_test",
    "parse_codebook",
    "proportion_change_test",
    "read_wave_file",
    "repeated_respondents",
    "score_columns",
    "score_responses",
    "swemwbs_metric",
    "totals_reasons",
    "wave_changes",
    "weighted_indicators",
    "weighted_mean",
    "weighted_proportion",
]
