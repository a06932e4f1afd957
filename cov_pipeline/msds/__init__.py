"""NHS Maternity Services Data Set (MSDS) publications: one normalised long table, and the
provider-versus-England comparison mart.

MSDS CSVs come in two layouts: monthly (``ReportingPeriodStartDate, ReportingPeriodEndDate,
Dimension, Org_Level, Org_Code, Org_Name, Measure, Count_Of, Final_value``) and annual (``Period,
Dimension, ..., Count_Of, Value``). Labels drift between releases (``2`` vs ``02``, ``Missing
Value`` vs ``Missing value``, renamed categories): every label is matched on a key that ignores
case, spacing and zero padding, then through the alias table of
:mod:`~cov_pipeline.msds.definitions`. Counts arrive rounded to 5 and zero rows are omitted:
where a dimension's categories are known, the omitted rows are restored as zeros. Blank values
stay missing. Source: NHS England (formerly NHS Digital), Maternity Services
Monthly Statistics and NHS Maternity Statistics (MSDS), CSV data files and their metadata.

The source is split by stage; every public name is importable from here as before:

- :mod:`~cov_pipeline.msds.definitions`: the declaration (name, file pattern, the two layouts,
  the rule for a count seen twice and the publication order of the files, the known dimensions
  and their categories, with the alias table);
- :mod:`~cov_pipeline.msds.parsing`: reading, label normalisation, parsing, de-duplication and
  restored zeros (:func:`load_msds`);
- :mod:`~cov_pipeline.msds.measures`: the provider-versus-England mart
  (:func:`maternity_vs_england`);
- :mod:`~cov_pipeline.msds.descriptions`: the column descriptions of the staging table and the
  mart.
"""

from cov_pipeline.msds.definitions import (
    ANNUAL_HEADER,
    BOOKING_GROUPS,
    COUNT_OF_NAMES,
    DECILES,
    DIMENSIONS,
    ENGLAND_ORG_LEVEL,
    FILE_PATTERN,
    GESTATION_LENGTHS,
    KEY_COLUMNS,
    MISSING,
    MISSING_ALIASES,
    MONTHLY_HEADER,
    OLDER_NAMES,
    ORG_LEVEL_NAMES,
    PSEUDO_POSTCODE,
    PUBLISHED_NAMES,
    RECORD_RULE,
    RESIDENT_ELSEWHERE,
    SNAKE_NAMES,
    SOURCE,
    STAGING_TABLE,
    SUPPRESSED_MARKER,
    MsdsDimension,
    publication,
)
from cov_pipeline.msds.descriptions import (
    MART_DESCRIPTIONS,
    STAGING_DESCRIPTIONS,
)
from cov_pipeline.msds.measures import (
    COMPARISON_MEASURES,
    ComparisonMeasure,
    maternity_vs_england,
)
from cov_pipeline.msds.parsing import (
    CATEGORIES,
    CATEGORY_NAMES,
    DIMENSION_NAMES,
    GROUP_COLUMNS,
    READABLE_FINANCIAL_YEARS,
    MsdsLoad,
    as_delivered,
    check_header,
    deduplicate,
    label_key,
    load_msds,
    normalise_labels,
    parse_dates,
    parse_msds,
    parse_periods,
    parse_values,
    read_msds_file,
    restore_zero_rows,
)
from cov_pipeline.raw_reader import PARSING_FAILED

__all__ = [
    "ANNUAL_HEADER",
    "BOOKING_GROUPS",
    "CATEGORIES",
    "CATEGORY_NAMES",
    "COMPARISON_MEASURES",
    "COUNT_OF_NAMES",
    "ComparisonMeasure",
    "DECILES",
    "DIMENSIONS",
    "DIMENSION_NAMES",
    "ENGLAND_ORG_LEVEL",
    "FILE_PATTERN",
    "GESTATION_LENGTHS",
    "GROUP_COLUMNS",
    "KEY_COLUMNS",
    "MART_DESCRIPTIONS",
    "MISSING",
    "MISSING_ALIASES",
    "MONTHLY_HEADER",
    "MsdsDimension",
    "MsdsLoad",
    "ORG_LEVEL_NAMES",
    "PARSING_FAILED",
    "PSEUDO_POSTCODE",
    "OLDER_NAMES",
    "PUBLISHED_NAMES",
    "READABLE_FINANCIAL_YEARS",
    "RECORD_RULE",
    "RESIDENT_ELSEWHERE",
    "SNAKE_NAMES",
    "SOURCE",
    "STAGING_DESCRIPTIONS",
    "STAGING_TABLE",
    "SUPPRESSED_MARKER",
    "as_delivered",
    "check_header",
    "deduplicate",
    "label_key",
    "load_msds",
    "maternity_vs_england",
    "normalise_labels",
    "parse_dates",
    "parse_msds",
    "parse_periods",
    "parse_values",
    "publication",
    "read_msds_file",
    "restore_zero_rows",
]
