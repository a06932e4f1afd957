"""OHID Fingertips "all data" CSV exports: read, parse, validate and de-duplicate.

Every export is read by the one raw reader (:mod:`cov_pipeline.raw_reader`: every field as
text, quoted fields may hold line breaks, records end in CRLF), under Fingertips' header rule
(:func:`check_header`), then parsed explicitly: blank values are missing, never zero; a blank value
with a value note was suppressed or not published. File faults raise :class:`FileFault` before
anything is written (any error while a file's rows are parsed ends as one naming the file); row
faults, the reader's (a record with the wrong number of fields, a NUL byte, a cleared row) and
the source's, go to quarantine with file, line and every reason. Identical rows exported in
several files are kept once; a row a later export revises is replaced by the later version
(``RECORD_RULE``); both are recorded in ``quality.fingertips_revisions``; rows that disagree with
no later export to settle them are quarantined, never silently resolved.

A million rows load in seconds (issue #7): the text stays in Arrow, screens on the raw bytes skip
string kernels that would change nothing, pandera words the reasons of the rows that can fail
only, de-duplication decides on the keys that repeat only, and the wide rows are taken once.

The source is split by stage; every public name is importable from here as before:

- :mod:`~cov_pipeline.fingertips.definitions`: the declaration and contract (name, file pattern,
  the export's header and its rule :func:`check_header`, the text, measure and key columns, the
  rule for a row exported twice, the words of the source's row rules); the contract of a row is
  :class:`~cov_pipeline.schemas.fingertips.FingertipsRow`;
- :mod:`~cov_pipeline.fingertips.parsing`: reading each export and loading them all
  (:func:`read_fingertips_file`, :func:`load_fingertips`, :class:`FingertipsLoad`);
- :mod:`~cov_pipeline.fingertips.periods`: the time period labels (:func:`parse_time_periods`);
- :mod:`~cov_pipeline.fingertips.rows`: typing the text and the row rules
  (:func:`parse_fingertips`), on the Arrow text work of
  :mod:`~cov_pipeline.fingertips.arrow_text`;
- :mod:`~cov_pipeline.fingertips.deduplication`: identical rows merged, revisions by a later
  export applied, conflicts quarantined (:func:`deduplicate`), and the taking of rows;
- :mod:`~cov_pipeline.fingertips.descriptions`: the column descriptions of the staging table.
"""

from cov_pipeline.fingertips.arrow_text import (
    ARROW_STRING,
)
from cov_pipeline.fingertips.deduplication import (
    deduplicate,
)
from cov_pipeline.fingertips.definitions import (
    FILE_PATTERN,
    GSS_CODE_COLUMNS,
    HEADER,
    KEY_COLUMNS,
    MEASURE_COLUMNS,
    NOT_A_DENOMINATOR,
    NOT_A_GSS_CODE,
    NUMERIC_COLUMNS,
    OPTIONAL_TRAILING,
    PARENT_COMPARISON,
    PARENT_COMPARISON_PATTERN,
    RECORD_RULE,
    SOURCE,
    STAGING_TABLE,
    TEXT_COLUMNS,
    check_header,
    parent_basis,
    publication,
)
from cov_pipeline.fingertips.descriptions import (
    STAGING_DESCRIPTIONS,
)
from cov_pipeline.fingertips.parsing import (
    FingertipsLoad,
    load_fingertips,
    read_fingertips_file,
)
from cov_pipeline.fingertips.periods import (
    PERIOD_YEARS,
    parse_time_periods,
)
from cov_pipeline.fingertips.rows import (
    parse_fingertips,
)
from cov_pipeline.raw_reader import PARSING_FAILED

__all__ = [
    "ARROW_STRING",
    "FILE_PATTERN",
    "GSS_CODE_COLUMNS",
    "HEADER",
    "KEY_COLUMNS",
    "MEASURE_COLUMNS",
    "NOT_A_DENOMINATOR",
    "NOT_A_GSS_CODE",
    "NUMERIC_COLUMNS",
    "OPTIONAL_TRAILING",
    "PARENT_COMPARISON",
    "PARENT_COMPARISON_PATTERN",
    "PARSING_FAILED",
    "PERIOD_YEARS",
    "RECORD_RULE",
    "SOURCE",
    "STAGING_TABLE",
    "STAGING_DESCRIPTIONS",
    "TEXT_COLUMNS",
    "FingertipsLoad",
    "check_header",
    "deduplicate",
    "load_fingertips",
    "parent_basis",
    "parse_fingertips",
    "parse_time_periods",
    "publication",
    "read_fingertips_file",
]
