"""Fingertips, the source's declaration and contract: its name and file pattern, the export's
header (every column in order, and the snake_case name it takes in the warehouse) and the rule
every export's header must meet (:func:`check_header`), the text, measure and key columns, and
the words of the source's own row rules (an ONS GSS code, a rate's denominator). The contract of
a row is :class:`~cov_pipeline.schemas.fingertips.FingertipsRow`.
"""

from __future__ import annotations

import re
from pathlib import Path

from cov_pipeline.indicators import GSS_CODE_TEXT
from cov_pipeline.quality import FileFault
from cov_pipeline.repeats import RepeatRule

SOURCE = "fingertips"
STAGING_TABLE = "fingertips_indicator_values"
FILE_PATTERN = "*.csv"  # the extension in any case (raw_reader.discover)

# -- records seen twice (cov_pipeline.repeats) ---------------------------------------------------
# An export saved by hand is named for its topic and the year it was exported
# (infant_mortality_2024-export.csv); a later export may restate a period with revised figures.
EXPORT_YEAR = re.compile(r"_(\d{4})-export\.csv$", re.IGNORECASE)


def publication(name: str) -> str | None:
    """The year an export was made, from its name (``<topic>_<YYYY>-export.csv``); None for
    any other name (an API download, ``fingertips_api_<id>.csv``: its order is unknown)."""
    match = EXPORT_YEAR.search(name)
    return match[1] if match else None


# The reason of every row of a key whose versions disagree with nothing to order them.
CONFLICT = "conflicting rows for the same indicator, area, breakdown and period: "
RECORD_RULE = RepeatRule(
    "a row (indicator, area, sex, age, category and period) exported again with the same "
    "measures (value, CIs, count, denominator, value note) is collapsed and counted; with other "
    "measures in a later export (by the year its name ends with, <topic>_<YYYY>-export.csv), the "
    "later export's row is staged and the earlier recorded as revised; two versions in exports "
    "of one year, or in a file whose name gives no year, are quarantined naming both files; a "
    "second copy within one file is quarantined (an export lists each row once)",
    newer_wins=True,
    publication=publication,
    copies_in_one_file="quarantined",
)


# The export's header, in order, and the snake_case name each column takes in the warehouse.
# The 23rd column's name varies with the parent area type, so it is matched by pattern.
PARENT_COMPARISON = "<Compared to parent>"
HEADER = [
    ("Indicator ID", "indicator_id"),
    ("Indicator Name", "indicator_name"),
    ("Parent Code", "parent_code"),
    ("Parent Name", "parent_name"),
    ("Area Code", "area_code"),
    ("Area Name", "area_name"),
    ("Area Type", "area_type"),
    ("Sex", "sex"),
    ("Age", "age"),
    ("Category Type", "category_type"),
    ("Category", "category"),
    ("Time period", "time_period"),
    ("Value", "value"),
    ("Lower CI 95.0 limit", "ci95_lower"),
    ("Upper CI 95.0 limit", "ci95_upper"),
    ("Lower CI 99.8 limit", "ci99_8_lower"),
    ("Upper CI 99.8 limit", "ci99_8_upper"),
    ("Count", "count"),
    ("Denominator", "denominator"),
    ("Value note", "value_note"),
    ("Recent Trend", "recent_trend"),
    ("Compared to England value or percentiles", "compared_to_england"),
    (PARENT_COMPARISON, "compared_to_parent"),
    ("Time period Sortable", "time_period_sortable"),
    ("New data", "new_data"),
    ("Compared to goal", "compared_to_goal"),
]
OPTIONAL_TRAILING = ("Time period range", "time_period_range")
PARENT_COMPARISON_PATTERN = re.compile(r"^Compared to (?!England\b)(?!goal$).*percentiles$")

TEXT_COLUMNS = [name for _, name in HEADER] + [OPTIONAL_TRAILING[1]]
NUMERIC_COLUMNS = [
    "value",
    "ci95_lower",
    "ci95_upper",
    "ci99_8_lower",
    "ci99_8_upper",
    "count",
    "denominator",
]
KEY_COLUMNS = [
    "indicator_id",
    "area_code",
    "sex",
    "age",
    "category_type",
    "category",
    "time_period",
]
# What a re-export may not change without it being a conflict between files.
MEASURE_COLUMNS = [*NUMERIC_COLUMNS, "value_note"]

# Area codes (and parent codes, where given) are ONS GSS codes, as in the reference files:
# GSS_CODE_PATTERN is matched by Arrow (RE2), where \d is an ASCII digit only.
GSS_CODE_COLUMNS = ["area_code", "parent_code"]
NOT_A_GSS_CODE = " " + GSS_CODE_TEXT
# A rate's denominator: positive wherever its count is given.
NOT_A_DENOMINATOR = " is not positive, though count is given (a rate needs a denominator above 0)"


def check_header(path: Path, names: list[str]) -> list[str]:
    """The snake_case name of each of the export's columns, or a FileFault naming the fault:
    Fingertips' header rule, which :func:`read_records` applies to the names as delivered."""
    stripped = [n.strip() for n in names]
    expected = [header for header, _ in HEADER]
    if parent_basis(stripped):
        expected[22] = stripped[22]
    if len(stripped) == len(expected) + 1:
        expected.append(OPTIONAL_TRAILING[0])

    known = set(expected) | {OPTIONAL_TRAILING[0]}
    missing = [h for h in expected if h not in stripped and h != OPTIONAL_TRAILING[0]]
    if PARENT_COMPARISON in missing:
        missing.remove(PARENT_COMPARISON)
        if not any(PARENT_COMPARISON_PATTERN.match(n) for n in stripped):
            missing.append("Compared to <parent> value or percentiles")
    if missing:
        raise FileFault(path, f"missing required column(s): {', '.join(repr(m) for m in missing)}")
    unexpected = [n for n in stripped if n not in known]
    if unexpected:
        raise FileFault(path, f"unexpected column(s): {', '.join(repr(u) for u in unexpected)}")
    duplicated = sorted({n for n in stripped if stripped.count(n) > 1})
    if duplicated:
        raise FileFault(path, f"duplicated column(s): {', '.join(repr(d) for d in duplicated)}")
    for position, (found, wanted) in enumerate(zip(stripped, expected, strict=False), start=1):
        if found != wanted:
            raise FileFault(
                path,
                f"columns out of order: column {position} is {found!r} where the Fingertips "
                f"export has {wanted!r}",
            )
    snake = [name for _, name in HEADER]
    if len(stripped) == len(HEADER) + 1:
        snake.append(OPTIONAL_TRAILING[1])
    return snake


def parent_basis(names: list[str]) -> str:
    """The name of the export's 23rd column (what parent its values were compared with), or
    ``""`` where that column is not a parent comparison."""
    name = names[22].strip() if len(names) > 22 else ""
    return name if PARENT_COMPARISON_PATTERN.match(name) else ""
