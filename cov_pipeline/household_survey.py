"""Coventry household survey: harmonise the waves through the codebook, score them, and estimate
weighted health indicators with confidence intervals and the change between waves.

Each wave names its columns and codes its answers its own way; ``codebook.yaml`` maps every wave onto
one harmonised schema (:mod:`cov_pipeline.schemas.household_survey`), so a new wave is a codebook
edit and a file, no code. File faults (a file no wave describes, a column the codebook does not
know, a mapped column that is absent) raise :class:`FileFault`; row faults (an unmapped code, an
answer off its scale, a missing or non-positive weight, a respondent twice in a wave, an export's
totals line, a record the raw reader could not read as delivered) quarantine the row with every
reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from cov_pipeline.quality import (
    FileFault,
    SourceFile,
    by_value,
    columns_frame,
    distinct_values,
    empty_quarantine,
    join_reasons,
    pandera_reasons,
    quarantine_frame,
    reasons_by_row,
    rows_that_may_fail,
)
from cov_pipeline.raw_reader import (
    NUL_FAULT,
    RECORD_FAULT,
    load_yaml,
    matches,
    read_records,
    read_stable,
    with_record_faults,
)
from cov_pipeline.schemas.household_survey import (
    AGE_BANDS,
    AUDIT_C_ITEM_RANGE,
    AUDIT_C_ITEMS,
    ETHNIC_GROUPS,
    IMD_QUINTILES,
    SELF_RATED_HEALTH,
    SEXES,
    SMOKING_STATUSES,
    SWEMWBS_ITEM_RANGE,
    SWEMWBS_ITEMS,
    HouseholdSurveyResponse,
)
from cov_pipeline.stats import wilson_interval

SOURCE = "household_survey"
CODEBOOK_NAME = "codebook.yaml"
WAVE_PATTERN = "*.csv"
# Opens the file fault of a wave whose parsing raised (never a bare pandas message).
PARSING_FAILED = "could not be parsed: nothing from this source was written"

# Harmonised variables every wave must map, with their allowed values (text) or range (integers).
CATEGORICAL_VARIABLES: dict[str, tuple] = {
    "age_band": AGE_BANDS,
    "sex": SEXES,
    "ethnic_group": ETHNIC_GROUPS,
    "imd_quintile": IMD_QUINTILES,
    "self_rated_health": SELF_RATED_HEALTH,
    "smoking_status": SMOKING_STATUSES,
}
INTEGER_VARIABLES: dict[str, tuple[int, int]] = {
    "imd_quintile": (min(IMD_QUINTILES), max(IMD_QUINTILES)),
    **dict.fromkeys(AUDIT_C_ITEMS, AUDIT_C_ITEM_RANGE),
    **dict.fromkeys(SWEMWBS_ITEMS, SWEMWBS_ITEM_RANGE),
}
HARMONISED_VARIABLES = [
    "age_band",
    "sex",
    "ethnic_group",
    "imd_quintile",
    "self_rated_health",
    "smoking_status",
    *AUDIT_C_ITEMS,
    *SWEMWBS_ITEMS,
]

# SWEMWBS raw score (sum of the 7 items, 7-35) to metric score, the Rasch-based conversion published
# with the scale: Stewart-Brown S, Tennant A, Tennant R, Platt S, Parkinson J, Weich S (2009).
# Internal construct validity of the Warwick-Edinburgh Mental Well-being Scale (WEMWBS): a Rasch
# analysis using data from the Scottish Health Education Population Survey. Health Qual Life
# Outcomes 7:15. Table as distributed by Warwick Medical School ("SWEMWBS conversion table").
SWEMWBS_METRIC_BY_RAW: dict[int, float] = {
    7: 7.00, 8: 9.51, 9: 11.25, 10: 12.40, 11: 13.33, 12: 14.08, 13: 14.75, 14: 15.32,
    15: 15.84, 16: 16.36, 17: 16.88, 18: 17.43, 19: 17.98, 20: 18.59, 21: 19.25, 22: 19.98,
    23: 20.73, 24: 21.54, 25: 22.35, 26: 23.21, 27: 24.11, 28: 25.03, 29: 26.02, 30: 27.03,
    31: 28.13, 32: 29.31, 33: 30.70, 34: 32.55, 35: 35.00,
}  # fmt: skip
_SWEMWBS_METRIC = np.array([SWEMWBS_METRIC_BY_RAW[r] for r in range(7, 36)])

# Low wellbeing: a SWEMWBS metric score more than one standard deviation below the mean of adults
# in England in the Health Survey for England 2010-13 (mean 23.5, SD 3.9; Ng Fat L, Scholes S,
# Boniface S, Mindell J, Stewart-Brown S (2017) Qual Life Res 26:1129-44), i.e. below 19.6. The
# mean-minus-one-SD convention is the one the Scottish Health Survey uses for "below average"
# WEMWBS wellbeing; it describes the distribution and is not a clinical threshold.
LOW_WELLBEING_BELOW = 19.6
# AUDIT-C (Bush K et al. 1998, Arch Intern Med 158:1789-95): 0-12; 5 or more is increasing risk or
# above in OHID's scoring of the UK AUDIT-C (0-4 lower risk, 5-7 increasing, 8-10 higher, 11-12
# possible dependence).
AUDIT_C_INCREASING_RISK_FROM = 5
# Estimates on fewer respondents than this are withheld (value and CI null).
MIN_UNWEIGHTED_N = 50

STAGING_DESCRIPTIONS = {
    "wave_year": "Survey wave (year of fieldwork).",
    "respondent_id": "Respondent identifier as delivered, unique within a wave.",
    "age_band": "Age band: 16-24, 25-34, 35-44, 45-54, 55-64, 65-74, 75+; null where not given.",
    "sex": "Male or Female; null where not given.",
    "ethnic_group": "White British, White Other, Mixed, Asian, Black or Other; null where not given.",
    "imd_quintile": "National IMD quintile of the respondent's LSOA (1 = most deprived 20%).",
    "self_rated_health": "Self-rated health in general: Very good, Good, Fair, Bad, Very bad.",
    "smoking_status": "Current (daily or occasional), Ex or Never smoker.",
    "audit_c_q1": "AUDIT-C 1, how often a drink containing alcohol (0 never .. 4 four or more times a week).",
    "audit_c_q2": "AUDIT-C 2, drinks on a typical drinking day (0 one or two .. 4 ten or more); null if routed past.",
    "audit_c_q3": "AUDIT-C 3, how often six or more drinks on one occasion (0 never .. 4 daily); null if routed past.",
    "audit_c_total": "AUDIT-C score 0-12: sum of the three items; 0 for non-drinkers (item 1 'never', "
    "items 2-3 routed past); null where an item a drinker was asked is missing.",
    "is_audit_c_increasing_risk": "AUDIT-C score 5 or more (increasing risk or above); null if not scored.",
    **{
        f"swemwbs_{i}": f"SWEMWBS item {i} (1 none of the time .. 5 all of the time)."
        for i in range(1, 8)
    },
    "swemwbs_items_answered": "SWEMWBS items answered (0-7); the block is scored only when all 7 are.",
    "swemwbs_raw_score": "SWEMWBS raw score 7-35 (sum of the 7 items); null unless all 7 answered.",
    "swemwbs_metric_score": "SWEMWBS metric score 7.00-35.00 from the raw score by the published "
    "Rasch conversion table (Stewart-Brown et al. 2009); null unless all 7 answered.",
    "is_low_wellbeing": f"SWEMWBS metric score below {LOW_WELLBEING_BELOW} (more than 1 SD below the "
    "HSE 2010-13 mean of 23.5, SD 3.9; Ng Fat et al. 2017); null if not scored.",
    "is_good_health": "Self-rated health good or very good; null where not given.",
    "is_bad_health": "Self-rated health bad or very bad; null where not given.",
    "is_current_smoker": "Current smoker (daily or occasional); null where not given.",
    "weight": "Survey weight as delivered (positive).",
    "source_file": "Wave file the row was read from.",
    "line_number": "Line in that file where the record starts (the header is line 1).",
}

STAGING_COLUMNS = list(STAGING_DESCRIPTIONS)


# -- codebook ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VariableMap:
    """How one wave delivers one harmonised variable: its column, and codes or a numeric scale."""

    target: str
    column: str
    codes: Mapping[str, object] | None = None
    scale: tuple[int, int] | None = None


@dataclass(frozen=True)
class WaveSpec:
    year: int
    files: str
    respondent_id: str
    weight: str
    variables: tuple[VariableMap, ...]
    missing_codes: frozenset[str] = frozenset()
    ignored_columns: tuple[str, ...] = ()

    @property
    def known_columns(self) -> list[str]:
        return [
            self.respondent_id,
            self.weight,
            *(v.column for v in self.variables),
            *self.ignored_columns,
        ]

    def matches(self, file_name: str) -> bool:
        """The file is one of this wave's (the extension in any case: ``.CSV`` as ``.csv``)."""
        return matches(file_name, self.files)

    def columns(self, path: Path, names: list[str]) -> list[str]:
        """The wave's header rule for the raw reader: the delivered names, trimmed, each known
        to the codebook and none repeated; every column the codebook maps present (an ignored
        column may be absent). Otherwise a file fault naming the wave and the columns."""
        names = [str(n).strip() for n in names]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            listed = ", ".join(repr(n) for n in repeated)
            raise FileFault(path, f"wave {self.year}: repeated column(s) {listed}")
        known = set(self.known_columns)
        unknown = [n for n in names if n not in known]
        if unknown:
            listed = ", ".join(repr(u) for u in unknown)
            raise FileFault(path, f"wave {self.year}: column(s) {listed} not in the codebook")
        absent = [c for c in self.known_columns if c not in names and c not in self.ignored_columns]
        if absent:
            by_column = {self.respondent_id: "respondent_id", self.weight: "weight"}
            by_column.update({v.column: v.target for v in self.variables})
            listed = ", ".join(f"{c!r} ({by_column[c]})" for c in absent)
            raise FileFault(
                path, f"wave {self.year}: column(s) the codebook maps are missing: {listed}"
            )
        return names


@dataclass(frozen=True)
class Codebook:
    waves: dict[int, WaveSpec]
    source: SourceFile

    def wave_for(self, path: Path) -> WaveSpec:
        found = [wave for wave in self.waves.values() if wave.matches(path.name)]
        if not found:
            raise FileFault(path, f"no wave in {CODEBOOK_NAME} describes this file")
        if len(found) > 1:
            years = ", ".join(str(w.year) for w in found)
            raise FileFault(
                path, f"matches the files of more than one wave in {CODEBOOK_NAME}: {years}"
            )
        return found[0]


def _codebook_fault(path: Path, message: str) -> FileFault:
    return FileFault(path, f"invalid codebook: {message}")


def _code_text(code: object) -> str:
    """A codebook key as the text it matches in a wave file (YAML may read 1 as an int)."""
    if isinstance(code, bool) or not isinstance(code, str | int):
        raise TypeError(code)
    return str(code).strip()


def _parse_variable(path: Path, year: int, target: str, entry: object) -> VariableMap:
    where = f"wave {year}: {target}"
    if isinstance(entry, str):
        entry = {"column": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("column"), str):
        raise _codebook_fault(path, f"{where}: give the wave's column as 'column: <name>'")
    column = entry["column"].strip()
    has_codes, has_scale = "codes" in entry, "scale" in entry
    if has_codes == has_scale:
        raise _codebook_fault(
            path, f"{where} (column {column!r}): give exactly one of codes or scale"
        )
    if has_scale:
        if target not in INTEGER_VARIABLES:
            raise _codebook_fault(
                path, f"{where}: a scale is only for numeric variables; map codes"
            )
        scale = entry["scale"]
        low_high = INTEGER_VARIABLES[target]
        if (
            not isinstance(scale, list)
            or len(scale) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in scale)
            or not low_high[0] <= scale[0] <= scale[1] <= low_high[1]
        ):
            raise _codebook_fault(
                path,
                f"{where}: scale must be [low, high] within {low_high[0]}-{low_high[1]}, got {scale!r}",
            )
        return VariableMap(target, column, scale=(scale[0], scale[1]))
    codes = entry["codes"]
    if not isinstance(codes, dict) or not codes:
        raise _codebook_fault(path, f"{where}: codes must map each code to a harmonised value")
    allowed = CATEGORICAL_VARIABLES.get(target)
    if allowed is None:
        low, high = INTEGER_VARIABLES[target]
        allowed = tuple(range(low, high + 1))
    mapped: dict[str, object] = {}
    for code, value in codes.items():
        try:
            text = _code_text(code)
        except TypeError:
            raise _codebook_fault(path, f"{where}: code {code!r} is not text or a number") from None
        if isinstance(value, bool) or value not in allowed:
            shown = ", ".join(str(a) for a in allowed)
            raise _codebook_fault(
                path, f"{where}: code {text!r} maps to {value!r}, which is not one of {shown}"
            )
        if text in mapped:
            raise _codebook_fault(path, f"{where}: code {text!r} is mapped twice")
        mapped[text] = value
    return VariableMap(target, column, codes=mapped)


def parse_codebook(document: object, path: Path) -> dict[int, WaveSpec]:
    """The waves a codebook describes, or a FileFault naming the wave and what is wrong."""
    if not isinstance(document, dict) or not isinstance(document.get("waves"), dict):
        raise _codebook_fault(path, "expected a mapping with a 'waves' section")
    if not document["waves"]:
        raise _codebook_fault(path, "the 'waves' section is empty")
    waves: dict[int, WaveSpec] = {}
    for key, spec in document["waves"].items():
        try:
            year = int(key)
        except (TypeError, ValueError):
            raise _codebook_fault(path, f"wave {key!r} is not a year") from None
        if not 1990 <= year <= 2100 or year in waves:
            raise _codebook_fault(path, f"wave {key!r} is not a year, or is given twice")
        if not isinstance(spec, dict):
            raise _codebook_fault(path, f"wave {year}: expected a mapping")
        for name in ("files", "respondent_id", "weight"):
            if not isinstance(spec.get(name), str) or not spec[name].strip():
                raise _codebook_fault(path, f"wave {year}: '{name}' is missing")
        variables = spec.get("variables")
        if not isinstance(variables, dict):
            raise _codebook_fault(path, f"wave {year}: 'variables' is missing")
        unknown = [v for v in variables if v not in HARMONISED_VARIABLES]
        if unknown:
            raise _codebook_fault(path, f"wave {year}: unknown harmonised variable(s) {unknown}")
        absent = [v for v in HARMONISED_VARIABLES if v not in variables]
        if absent:
            raise _codebook_fault(path, f"wave {year}: no mapping for {', '.join(absent)}")
        maps = tuple(_parse_variable(path, year, t, variables[t]) for t in HARMONISED_VARIABLES)
        missing = spec.get("missing_codes") or {}
        if not isinstance(missing, dict | list):
            raise _codebook_fault(path, f"wave {year}: missing_codes must be a list or a mapping")
        missing_codes = frozenset(_code_text(c) for c in missing)
        for variable in maps:
            clash = sorted(missing_codes & set(variable.codes or {}))
            if clash:
                raise _codebook_fault(
                    path, f"wave {year}: {variable.target}: code(s) {clash} are also missing codes"
                )
        ignored = spec.get("ignored_columns") or []
        if not isinstance(ignored, list) or not all(isinstance(c, str) for c in ignored):
            raise _codebook_fault(path, f"wave {year}: ignored_columns must be a list of names")
        wave = WaveSpec(
            year=year,
            files=spec["files"].strip(),
            respondent_id=spec["respondent_id"].strip(),
            weight=spec["weight"].strip(),
            variables=maps,
            missing_codes=missing_codes,
            ignored_columns=tuple(c.strip() for c in ignored),
        )
        repeated = sorted({c for c in wave.known_columns if wave.known_columns.count(c) > 1})
        if repeated:
            raise _codebook_fault(path, f"wave {year}: column(s) {repeated} used more than once")
        waves[year] = wave
    return dict(sorted(waves.items()))


def load_codebook(path: Path) -> Codebook:
    if not path.is_file():
        raise FileFault(path, f"no codebook: the survey folder needs {CODEBOOK_NAME}")
    raw = read_stable(path)
    try:
        document = load_yaml(raw)  # a key given twice is a fault, not "the last value wins"
    except FileFault as fault:
        raise _codebook_fault(path, fault.fault) from None
    waves = parse_codebook(document, path)
    return Codebook(waves, SourceFile(path.name, raw.sha256, len(raw.data), len(waves)))


# -- reading wave files -----------------------------------------------------------------------
def read_wave_file(path: Path, wave: WaveSpec) -> tuple[pd.DataFrame, SourceFile]:
    """A wave file as text columns (named as delivered, trimmed) plus ``line_number``,
    ``source_file`` and ``record_fault``, read by the one raw reader
    (:mod:`cov_pipeline.raw_reader`) with the wave's header rule (:meth:`WaveSpec.columns`)."""
    records = read_records(path, wave.columns, what="respondents")
    return records.frame, records.info


# -- harmonisation ----------------------------------------------------------------------------
def _quoted(values: pd.Series) -> pd.Series:
    return "'" + values.astype(str) + "'"


def _is_missing(text: pd.Series, missing_codes: frozenset[str]) -> np.ndarray:
    """Blank (or whitespace) or a code the codebook declares missing."""
    stripped = text.str.strip()
    return ((stripped == "") | stripped.isin(missing_codes)).to_numpy(dtype=bool, na_value=False)


def _look_up(text: pd.Series, keys: list[str]) -> tuple[np.ndarray, pd.Series]:
    """Position of each value among ``keys`` (-1 where none), stripping only values that miss."""
    index = pd.Index(keys)
    position = index.get_indexer(text)
    unmatched = position < 0
    if unmatched.any():
        text = text.copy()
        text[unmatched] = text[unmatched].str.strip()
        position[unmatched] = index.get_indexer(text[unmatched])
    return position, text


def _numbers(text: pd.Series) -> np.ndarray:
    """``pd.to_numeric(text, errors="coerce")`` as floats, converted once per distinct answer."""
    return by_value(text, lambda v: pd.to_numeric(v, errors="coerce")).to_numpy(dtype=float)


# What a totals line of an export holds where a respondent's id stands: "Total", "TOTALS",
# "Grand total", "Sub-total", "Total (weighted)", "All", "All respondents", "Sum". No wave's ids
# read so (they are codes with digits: CHS18-00001, 210001, R24-00001), and such a line is no
# respondent: staged, its weight (the sum of the others') would count as one.
TOTALS_LABEL = r"(?:grand\s+|sub-?\s*)?totals?(?:\W.*)?|all(?:\s+(?:respondents|adults))?|sum"


def _totals_label(values: pd.Series) -> np.ndarray:
    """Where a (trimmed) value is a totals label (:data:`TOTALS_LABEL`, in any case)."""
    found = values.str.fullmatch(TOTALS_LABEL, case=False)
    return found.to_numpy(dtype=bool, na_value=False)


def totals_reasons(
    raw: pd.DataFrame, wave: WaveSpec, rid: pd.Series, no_id: np.ndarray
) -> pd.Series:
    """The reason of each row that is a totals line of the export, not a respondent, by row
    label: a totals label as its respondent id (``rid``, trimmed), or, where it has none
    (``no_id``), in another column."""
    found = {wave.respondent_id: rid[_totals_label(rid)]}
    if no_id.any():
        blank = raw.loc[no_id]
        for column in wave.known_columns:
            if column in blank.columns and column != wave.respondent_id:
                text = blank[column].str.strip()
                found[column] = text[_totals_label(text)]
    reasons = [
        "a totals row, not a respondent (" + _quoted(labels) + f" in column '{column}')"
        for column, labels in found.items()
        if len(labels)
    ]
    if not reasons:
        return pd.Series(dtype=object)
    reasons = pd.concat(reasons)
    return reasons[~reasons.index.duplicated()]  # the first column that says so


def harmonise_wave(raw: pd.DataFrame, wave: WaveSpec) -> tuple[pd.DataFrame, pd.Series]:
    """The wave's rows on the harmonised schema, and one reason string per row ('' when valid).

    Messages are built only for the rows at fault: most columns of most files have none, and
    building a string for every row of a large file costs more than the checks themselves.
    """
    index = raw.index
    out = pd.DataFrame(index=index)
    out["wave_year"] = np.full(len(raw), wave.year, dtype=np.int64)
    reasons: list[pd.Series] = []

    def fault(mask: np.ndarray, message) -> None:
        """A reason for the rows in ``mask``: a fixed text, or built for those rows only."""
        if mask.any():
            if isinstance(message, str):
                reasons.append(pd.Series(message, index=index[mask]).reindex(index))
            else:
                reasons.append(message(mask).reindex(index))

    rid = raw[wave.respondent_id].str.strip()
    no_id = (rid == "").to_numpy(dtype=bool, na_value=True)
    out["respondent_id"] = np.where(no_id, None, rid.to_numpy(dtype=object))
    fault(no_id, f"respondent_id: missing (column '{wave.respondent_id}')")
    reasons.append(totals_reasons(raw, wave, rid, no_id).reindex(index))

    text = raw[wave.weight]
    number = _numbers(text)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(number) & (number > 0)
    missing = np.zeros(len(raw), dtype=bool)
    missing[~usable] = _is_missing(text[~usable], wave.missing_codes)
    not_number = ~missing & ~np.isfinite(number)
    not_positive = ~missing & np.isfinite(number) & ~usable
    weight_at = f" in column '{wave.weight}'"
    fault(missing, f"weight: missing (column '{wave.weight}')")
    fault(not_number, lambda m: "weight: " + _quoted(text[m]) + weight_at + " is not a number")
    fault(not_positive, lambda m: "weight: " + _quoted(text[m]) + weight_at + " is not positive")
    out["weight"] = np.where(missing | not_number | not_positive, np.nan, number)

    for variable in wave.variables:
        # Each distinct answer is looked up once (a column holds a handful), then spread over
        # the rows by its number; the handful as Python strings (an Arrow column's setitem, in
        # the look-up, costs more than the answers' conversion).
        answer, text = distinct_values(raw[variable.column])
        text = text.astype(object)
        prefix = f"{variable.target}: "
        at = f" in column '{variable.column}'"
        if variable.codes is not None:
            position, text = _look_up(text, list(variable.codes))
            found = position >= 0
            codes = np.array(list(variable.codes.values()), dtype=object)
            values = codes[np.where(found, position, 0)]
            outcome = f" is not in the codebook for wave {wave.year}"
            prefix += "code "
        else:
            low, high = variable.scale
            number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                found = (number % 1 == 0) & (number >= low) & (number <= high)
            values = np.where(found, number, 0)
            outcome = f" is outside the scale {low}-{high}"
        missing = np.zeros(len(text), dtype=bool)
        missing[~found] = _is_missing(text[~found], wave.missing_codes)
        found, missing, values = found[answer], missing[answer], values[answer]
        shown = text.to_numpy()

        def message(m: np.ndarray) -> pd.Series:
            given = pd.Series(shown[answer[m]], index=index[m])  # noqa: B023
            return prefix + _quoted(given) + at + outcome  # noqa: B023

        fault(~found & ~missing, message)
        if variable.target in INTEGER_VARIABLES:
            out[variable.target] = pd.arrays.IntegerArray(
                np.asarray(values, dtype=np.int64), mask=~found
            )
        else:
            out[variable.target] = np.where(found, values, None)
    out["source_file"] = raw["source_file"].to_numpy()
    out["line_number"] = raw["line_number"].astype("int64").to_numpy()
    return out, join_reasons(reasons, index)


def repeated_respondents(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose respondent id is given more than once in its wave."""
    has_id = frame["respondent_id"].notna().to_numpy()
    return frame[["wave_year", "respondent_id"]].duplicated(keep=False).to_numpy() & has_id


def duplicate_reasons(frame: pd.DataFrame, record_hash: pd.Series) -> pd.Series:
    """Reasons for respondents who appear more than once in a wave.

    Identical copies (the same answers on every field) keep the first and quarantine the others;
    copies that disagree are all quarantined, since nothing says which one is right.
    ``record_hash`` hashes each row's delivered fields; only the repeated rows'
    (:func:`repeated_respondents`) are needed.
    """
    repeated = repeated_respondents(frame)
    result = pd.Series(None, index=frame.index, dtype=object)
    if not repeated.any():
        return result
    rows = frame.loc[repeated]
    rkey = rows["wave_year"].astype(str) + "\x1f" + rows["respondent_id"]
    rhash = record_hash.loc[rows.index]
    conflict = rhash.groupby(rkey).transform("nunique") > 1
    location = rows["source_file"] + " line " + rows["line_number"].astype(str)
    first_location = location.groupby(rkey).transform("first")
    later_copy = rkey.duplicated(keep="first") & ~conflict
    all_locations = location.groupby(rkey).transform(", ".join)
    who = "respondent_id: " + _quoted(rows["respondent_id"])
    wave = " in wave " + rows["wave_year"].astype(str)
    result.loc[rows.index] = (
        (who + " is duplicated" + wave + ", identical to " + first_location).where(later_copy)
    ).where(
        ~conflict,
        who + " appears more than once" + wave + " with different answers (" + all_locations + ")",
    )
    return result


# -- derived scores ---------------------------------------------------------------------------
def swemwbs_metric(raw_score: pd.Series | np.ndarray) -> np.ndarray:
    """SWEMWBS metric score from the raw score 7-35 by the published conversion table; NaN else."""
    raw = np.asarray(pd.Series(raw_score).astype("Float64").to_numpy(dtype=float, na_value=np.nan))
    valid = np.isfinite(raw) & (raw >= 7) & (raw <= 35) & (raw % 1 == 0)
    position = np.where(valid, raw, 7).astype(np.int64) - 7
    return np.where(valid, _SWEMWBS_METRIC[position], np.nan)


def audit_c_total(q1: pd.Series, q2: pd.Series, q3: pd.Series) -> pd.Series:
    """AUDIT-C score 0-12 (Bush et al. 1998), the sum of the three 0-4 items.

    A respondent who never drinks (item 1 = 0) is routed past items 2 and 3 and scores 0 on them,
    as the instrument defines; otherwise a missing item leaves the score missing.
    """
    never = q1.eq(0).fillna(False).astype(bool)
    total = q1 + q2.where(~never, q2.fillna(0)) + q3.where(~never, q3.fillna(0))
    return total.astype("Int64")


def score_columns(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The AUDIT-C and SWEMWBS scores and the indicator flags of harmonised responses, by name
    (same index as ``frame``)."""
    index = frame.index
    total = audit_c_total(frame["audit_c_q1"], frame["audit_c_q2"], frame["audit_c_q3"])
    # The SWEMWBS block summed row by row as numbers: pandas' row sum of nullable columns goes
    # through a groupby.
    items = np.column_stack(
        [frame[c].to_numpy(dtype="float64", na_value=np.nan) for c in SWEMWBS_ITEMS]
    )
    given = ~np.isnan(items)
    answered = given.sum(axis=1).astype(np.int64)
    complete = answered == len(SWEMWBS_ITEMS)
    raw_sum = np.where(given, items, 0.0).sum(axis=1)
    raw = pd.Series(np.where(complete, raw_sum, np.nan), index=index).astype("Int64")
    metric = pd.Series(swemwbs_metric(raw), index=index)
    health = frame["self_rated_health"]
    smoking = frame["smoking_status"]
    return {
        "audit_c_total": total,
        "is_audit_c_increasing_risk": (total >= AUDIT_C_INCREASING_RISK_FROM).astype("boolean"),
        "swemwbs_items_answered": pd.Series(answered, index=index),
        "swemwbs_raw_score": raw,
        "swemwbs_metric_score": metric,
        "is_low_wellbeing": (metric < LOW_WELLBEING_BELOW).astype("boolean").where(metric.notna()),
        "is_good_health": health.isin(["Very good", "Good"])
        .astype("boolean")
        .where(health.notna()),
        "is_bad_health": health.isin(["Bad", "Very bad"]).astype("boolean").where(health.notna()),
        "is_current_smoker": smoking.eq("Current").astype("boolean").where(smoking.notna()),
    }


def score_responses(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the AUDIT-C and SWEMWBS scores and the indicator flags to harmonised responses."""
    out = frame.copy()
    for name, values in score_columns(frame).items():
        out[name] = values
    return out


# -- loading ----------------------------------------------------------------------------------
@dataclass
class HouseholdSurveyLoad:
    staging: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[SourceFile] = field(default_factory=list)
    input_rows: int = 0

    @property
    def rows_accounted_for(self) -> int:
        return len(self.staging) + len(self.quarantine)


def load_household_survey(codebook_path: Path, paths: Iterable[Path]) -> HouseholdSurveyLoad:
    """Read, harmonise, validate, de-duplicate and score every wave; a file fault raises first."""
    codebook = load_codebook(Path(codebook_path))
    paths = sorted(paths, key=lambda p: p.name)
    if not paths:
        raise FileFault(Path(codebook_path).parent, f"no survey wave files ({WAVE_PATTERN}) found")
    assigned = [(path, codebook.wave_for(path)) for path in paths]
    for wave in codebook.waves.values():
        if not any(w.year == wave.year for _, w in assigned):
            raise FileFault(
                codebook_path, f"wave {wave.year}: no file matches {wave.files!r} in the folder"
            )
    harmonised, reasons, quarantine_sources = [], [], []
    files = [codebook.source]
    offset, faulty = 0, False
    for path, wave in assigned:
        try:
            raw, info = read_wave_file(path, wave)
            raw.index = pd.RangeIndex(offset, offset + len(raw))
            typed, why = harmonise_wave(raw, wave)
        except FileFault:
            raise
        except Exception as exc:  # a fault of parsing, said with the file's name
            raise FileFault(path, f"{PARSING_FAILED} ({type(exc).__name__}: {exc})") from exc
        offset += len(raw)
        files.append(info)
        # A record the reader could not take as delivered has its fault among its reasons (as
        # its one reason where its fields are not in place: a field more or fewer, a cleared
        # row), and there its id, perhaps no id, is no respondent's repeated.
        record_faults = raw[RECORD_FAULT]
        why = with_record_faults(why, record_faults)
        if record_faults.notna().any():
            faulty = True
            moved = record_faults.notna() & ~record_faults.str.startswith(NUL_FAULT, na=False)
            typed["respondent_id"] = typed["respondent_id"].where(~moved, None)
        record = [c for c in raw.columns if c not in ("source_file", "line_number", RECORD_FAULT)]
        harmonised.append(typed)
        reasons.append(why)
        quarantine_sources.append((raw, record))
    frame = pd.concat(harmonised)
    first = pd.concat(reasons)
    # Copies are told apart by a hash of their delivered fields, made for repeated ids only.
    repeated = pd.Series(repeated_respondents(frame), index=frame.index)
    hashes = pd.concat(
        [
            pd.util.hash_pandas_object(raw.loc[repeated.loc[raw.index], record], index=False)
            for raw, record in quarantine_sources
        ]
    )
    duplicates = duplicate_reasons(frame, hashes)
    clean = (first == "") & duplicates.isna()
    # Only the rows that can fail the contract are validated: the failures are the same.
    clean &= rows_that_may_fail(HouseholdSurveyResponse.to_schema(), frame)
    contract = pandera_reasons(HouseholdSurveyResponse, frame.loc[clean])
    contract = reasons_by_row(contract, frame.index)
    all_reasons = join_reasons([first, duplicates, contract], frame.index)
    if faulty:  # values quoted as delivered: a NUL shown as \x00 (PostgreSQL holds none)
        all_reasons = all_reasons.str.replace("\x00", "\\x00", regex=False)

    quarantine = pd.concat(
        [empty_quarantine()]
        + [
            quarantine_frame(SOURCE, raw, all_reasons.loc[raw.index], record)
            for raw, record in quarantine_sources
        ],
        ignore_index=True,
    )
    # The staged rows are taken once, already in the staging order (scoring is row by row).
    valid = np.flatnonzero((all_reasons == "").to_numpy())
    keys = frame[["wave_year", "source_file", "line_number"]].iloc[valid].reset_index(drop=True)
    order = valid[keys.sort_values(list(keys.columns), kind="stable").index.to_numpy()]
    rows = frame.iloc[order]
    staged = {**{name: rows[name] for name in rows.columns}, **score_columns(rows)}
    return HouseholdSurveyLoad(
        staging=columns_frame({c: staged[c] for c in STAGING_COLUMNS}, pd.RangeIndex(len(rows))),
        quarantine=quarantine.sort_values(
            ["source_file", "line_number"], kind="stable"
        ).reset_index(drop=True),
        files=files,
        input_rows=len(frame),
    )


# -- weighted estimates -----------------------------------------------------------------------
def _z(confidence: float) -> float:
    return float(ndtri(1 - (1 - confidence) / 2))


def kish_effective_n(sum_w: np.ndarray, sum_w2: np.ndarray) -> np.ndarray:
    """Kish's effective sample size (Σw)² / Σw² (Kish L, Survey Sampling, 1965); NaN if no weight."""
    sum_w, sum_w2 = np.asarray(sum_w, dtype=float), np.asarray(sum_w2, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sum_w2 > 0, sum_w**2 / sum_w2, np.nan)


def weighted_proportion(
    sum_w: np.ndarray, sum_w2: np.ndarray, sum_wy: np.ndarray, confidence: float = 0.95
) -> pd.DataFrame:
    """Weighted proportion p = Σwy/Σw (y 0/1) with the Wilson interval on Kish's effective n.

    The Wilson score interval (Wilson 1927) is computed with count p·n_eff and denominator n_eff,
    n_eff = (Σw)²/Σw², the design-effect adjustment of docs/definitions.md. Columns ``estimate``,
    ``ci_lower``, ``ci_upper``, ``standard_error`` (sqrt(p(1-p)/n_eff)) and ``effective_n``, all on
    the 0-1 scale.
    """
    sum_w = np.asarray(sum_w, dtype=float)
    n_eff = kish_effective_n(sum_w, sum_w2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(sum_w > 0, np.asarray(sum_wy, dtype=float) / sum_w, np.nan)
        lower, upper = wilson_interval(p * n_eff, n_eff, confidence)
        se = np.sqrt(p * (1 - p) / n_eff)
    return pd.DataFrame(
        {
            "estimate": p,
            "ci_lower": lower,
            "ci_upper": upper,
            "standard_error": se,
            "effective_n": n_eff,
        }
    )


def weighted_mean(
    sum_w: np.ndarray,
    sum_w2: np.ndarray,
    sum_wy: np.ndarray,
    sum_wy2: np.ndarray,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Weighted mean ȳ = Σwy/Σw with a normal CI from a standard error on Kish's effective n.

    v = Σw(y - ȳ)²/Σw = Σwy²/Σw - ȳ² (the weighted variance), SE = sqrt(v / (n_eff - 1)), which is
    s/√n when every weight is equal; CI = ȳ ± z·SE. Same columns as :func:`weighted_proportion`.
    """
    sum_w = np.asarray(sum_w, dtype=float)
    n_eff = kish_effective_n(sum_w, sum_w2)
    z = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(sum_w > 0, np.asarray(sum_wy, dtype=float) / sum_w, np.nan)
        variance = np.maximum(np.asarray(sum_wy2, dtype=float) / sum_w - mean**2, 0.0)
        se = np.where(n_eff > 1, np.sqrt(variance / (n_eff - 1)), np.nan)
    return pd.DataFrame(
        {
            "estimate": mean,
            "ci_lower": mean - z * se,
            "ci_upper": mean + z * se,
            "standard_error": se,
            "effective_n": n_eff,
        }
    )


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    source_column: str
    measure: str  # "proportion" (reported as %) or "mean"
    unit: str
    polarity: str  # "high" or "low": which direction is better


INDICATORS: tuple[Indicator, ...] = (
    Indicator("good_health", "Good or very good health", "is_good_health", "proportion", "%", "high"),
    Indicator("bad_health", "Bad or very bad health", "is_bad_health", "proportion", "%", "low"),
    Indicator(
        "current_smoking", "Current smoking (daily or occasional)", "is_current_smoker",
        "proportion", "%", "low",
    ),
    Indicator(
        "audit_c_increasing_risk", "AUDIT-C score 5 or more (increasing risk or above)",
        "is_audit_c_increasing_risk", "proportion", "%", "low",
    ),
    Indicator(
        "swemwbs_mean", "Mean SWEMWBS metric score", "swemwbs_metric_score", "mean",
        "SWEMWBS metric score (7-35)", "high",
    ),
    Indicator(
        "low_wellbeing", f"Low wellbeing (SWEMWBS metric score below {LOW_WELLBEING_BELOW})",
        "is_low_wellbeing", "proportion", "%", "low",
    ),
)  # fmt: skip

ALL_ADULTS = "All adults"
NOT_KNOWN = "Not known"
IMD_LABELS = {1: "Q1 (most deprived)", 2: "Q2", 3: "Q3", 4: "Q4", 5: "Q5 (least deprived)"}
# breakdown label, staged column, category labels in display order
BREAKDOWNS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("All", None, (ALL_ADULTS,)),
    ("Sex", "sex", SEXES),
    ("Age band", "age_band", AGE_BANDS),
    ("IMD quintile", "imd_quintile", tuple(IMD_LABELS.values())),
    ("Ethnic group", "ethnic_group", ETHNIC_GROUPS),
)

# The columns of the staged responses the indicators mart reads: an asset building it need
# read no other (issue #7).
INDICATOR_INPUT_COLUMNS = [
    "wave_year",
    "weight",
    *(indicator.source_column for indicator in INDICATORS),
    *(column for _, column, _ in BREAKDOWNS if column is not None),
]

INDICATOR_DESCRIPTIONS = {
    "wave_year": "Survey wave (year of fieldwork).",
    "breakdown": "What the rows are split by: All, Sex, Age band, IMD quintile or Ethnic group.",
    "category": "The group within the breakdown ('All adults' for All; 'Not known' where the "
    "respondent did not give it). IMD quintile is national: Q1 = most deprived 20% of LSOAs.",
    "category_order": "Display order of the category within its breakdown.",
    "indicator": "Indicator code: good_health, bad_health, current_smoking, "
    "audit_c_increasing_risk, swemwbs_mean, low_wellbeing.",
    "indicator_name": "Indicator name. good_health: self-rated health good or very good; "
    "bad_health: bad or very bad; current_smoking: smokes daily or occasionally; "
    "audit_c_increasing_risk: AUDIT-C score 5 or more (Bush et al. 1998; OHID scoring); "
    "swemwbs_mean: mean SWEMWBS metric score (Stewart-Brown et al. 2009 conversion); "
    f"low_wellbeing: SWEMWBS metric score below {LOW_WELLBEING_BELOW}, i.e. more than one standard "
    "deviation below the mean of adults in England in the Health Survey for England 2010-13 "
    "(mean 23.5, SD 3.9; Ng Fat et al. 2017, Qual Life Res 26:1129-44), the mean-minus-1-SD "
    "convention of the Scottish Health Survey: a description of the distribution, not a "
    "clinical threshold.",
    "measure": "proportion (value in %) or mean (value in score points).",
    "unit": "Unit of value, CI and standard error.",
    "polarity": "Which direction is better: high or low.",
    "value": "Weighted estimate: Σwy/Σw over respondents who answered (× 100 for proportions); "
    "null where withheld.",
    "ci95_lower": "Lower 95% limit: Wilson score interval on Kish's effective n for proportions; "
    "mean - 1.96 SE for means. Null where withheld.",
    "ci95_upper": "Upper 95% limit (as ci95_lower). Null where withheld.",
    "standard_error": "Standard error on Kish's effective n: sqrt(p(1-p)/n_eff) (× 100) for "
    "proportions, sqrt(weighted variance/(n_eff - 1)) for means. Null where withheld.",
    "unweighted_n": "Respondents in the group who answered (the denominator).",
    "sum_of_weights": "Σw over those respondents.",
    "effective_n": "Kish's effective sample size (Σw)²/Σw².",
    "is_withheld": f"True where unweighted_n is under {MIN_UNWEIGHTED_N}: value, CI and standard "
    "error are withheld as unreliable.",
}

CHANGE_DESCRIPTIONS = {
    "breakdown": INDICATOR_DESCRIPTIONS["breakdown"],
    "category": INDICATOR_DESCRIPTIONS["category"],
    "category_order": INDICATOR_DESCRIPTIONS["category_order"],
    "indicator": INDICATOR_DESCRIPTIONS["indicator"],
    "indicator_name": "Indicator name (see marts.household_survey_indicators).",
    "measure": INDICATOR_DESCRIPTIONS["measure"],
    "unit": "Unit of the change: percentage points for proportions, score points for means.",
    "polarity": INDICATOR_DESCRIPTIONS["polarity"],
    "comparison": "consecutive (one wave with the next) or latest_vs_first.",
    "from_wave": "Earlier wave.",
    "to_wave": "Later wave.",
    "from_value": "Estimate in the earlier wave (% or score).",
    "to_value": "Estimate in the later wave.",
    "change": "to_value - from_value (percentage points or score points); null where withheld.",
    "change_ci95_lower": "Lower 95% limit of the change: change - 1.96 × sqrt(SE1² + SE2²), the "
    "standard errors on each wave's effective n (unpooled).",
    "change_ci95_upper": "Upper 95% limit of the change.",
    "z_statistic": "Two-sample z statistic on the effective sample sizes: proportions "
    "(p2 - p1)/sqrt(p̄(1-p̄)(1/n1 + 1/n2)), p̄ pooled with weights n1, n2 (effective n); "
    "means (m2 - m1)/sqrt(SE1² + SE2²).",
    "p_value": "Two-sided p-value of z_statistic (standard normal).",
    "is_significant": "True where p_value < 0.05.",
    "change_direction": "Increase or Decrease where significant, else No significant change; "
    "Not compared where either wave is withheld.",
    "assessment": "Better or Worse (significant change, by polarity), No significant change, or "
    "Not compared.",
    "from_effective_n": "Kish's effective n in the earlier wave.",
    "to_effective_n": "Kish's effective n in the later wave.",
    "is_withheld": "True where either wave's estimate is withheld: no change is reported.",
}


def _category_codes(responses: pd.DataFrame, column: str | None, labels: tuple) -> np.ndarray:
    """Each respondent's category in a breakdown, as its place among ``labels`` with 'Not known'
    last (where the answer is missing; for IMD quintile, also where it is not 1-5)."""
    if column is None:
        return np.zeros(len(responses), dtype=np.int64)
    if column == "imd_quintile":
        quintile = responses[column].astype("Int64").to_numpy(dtype="float64", na_value=np.nan)
        known = np.isin(quintile, list(IMD_LABELS))
        return np.where(known, np.nan_to_num(quintile) - 1, len(labels)).astype(np.int64)
    values = responses[column]
    code = np.where(
        values.notna().to_numpy(), pd.Index(list(labels)).get_indexer(values), len(labels)
    )
    if (code < 0).any():
        unknown = sorted({str(v) for v in values[code < 0]})
        raise ValueError(f"{column}: values outside the mart's categories: {unknown}")
    return code.astype(np.int64)


def weighted_indicators(
    responses: pd.DataFrame,
    min_unweighted_n: int = MIN_UNWEIGHTED_N,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The indicators mart: every indicator by wave, for all adults and each breakdown.

    Weighted estimates p = Σwy/Σw (means likewise) over respondents who answered, with 95% CIs on
    Kish's effective n (:func:`weighted_proportion`, :func:`weighted_mean`); withheld where fewer
    than ``min_unweighted_n`` answered (unreliable). Small numbers are not suppressed here: the
    published tier does that.
    """
    weight = responses["weight"].to_numpy(dtype="float64")
    sums = ("n", "sw", "sw2", "swy", "swy2")
    parts = []  # per indicator, the five per-respondent terms of its sums, in that order
    for indicator in INDICATORS:
        # Booleans as 1/0, missing as NaN.
        y = responses[indicator.source_column].to_numpy(dtype="float64", na_value=np.nan)
        answered = ~np.isnan(y)
        w = np.where(answered, weight, 0.0)
        y0 = np.where(answered, y, 0.0)
        parts += [answered.astype("float64"), w, w * w, w * y0, w * y0 * y0]
    # One float block (the counts are whole numbers, summed exactly), grouped by numbers rather
    # than labels; the sums are pandas' compensated group sums, row by row as before.
    terms = pd.DataFrame(np.column_stack(parts))
    wave_year = pd.Series(responses["wave_year"].to_numpy(), name="wave_year")

    frames = []
    for breakdown, column, labels in BREAKDOWNS:
        code = pd.Series(_category_codes(responses, column, labels), name="category")
        grouped = terms.groupby([wave_year, code], sort=False).sum()
        values = grouped.to_numpy().reshape(len(grouped), len(INDICATORS), len(sums))
        category = grouped.index.get_level_values("category").to_numpy()
        frames.append(
            pd.DataFrame(
                {
                    "wave_year": np.repeat(
                        grouped.index.get_level_values("wave_year"), len(INDICATORS)
                    ),
                    "breakdown": breakdown,
                    "category": np.repeat(
                        np.array([*labels, NOT_KNOWN], dtype=object)[category], len(INDICATORS)
                    ),
                    "category_order": np.repeat(category + 1, len(INDICATORS)),
                    "indicator": np.tile([i.code for i in INDICATORS], len(grouped)),
                    **{name: values[:, :, k].ravel() for k, name in enumerate(sums)},
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)

    meta = pd.DataFrame([vars(i) for i in INDICATORS]).rename(
        columns={"code": "indicator", "name": "indicator_name"}
    )
    table = table.merge(meta, on="indicator", how="left", validate="many_to_one")
    is_mean = (table["measure"] == "mean").to_numpy()
    proportion = weighted_proportion(table["sw"], table["sw2"], table["swy"], confidence)
    mean = weighted_mean(table["sw"], table["sw2"], table["swy"], table["swy2"], confidence)
    scale = np.where(is_mean, 1.0, 100.0)
    for out_column, column in (
        ("value", "estimate"),
        ("ci95_lower", "ci_lower"),
        ("ci95_upper", "ci_upper"),
        ("standard_error", "standard_error"),
    ):
        table[out_column] = np.where(is_mean, mean[column], proportion[column]) * scale
    table["effective_n"] = proportion["effective_n"].to_numpy()
    table["unweighted_n"] = table["n"].astype("int64")
    table["sum_of_weights"] = table["sw"].astype("float64")
    withheld = table["unweighted_n"] < min_unweighted_n
    table["is_withheld"] = withheld
    for column in ("value", "ci95_lower", "ci95_upper", "standard_error"):
        table[column] = table[column].where(~withheld)
    indicator_order = {i.code: k for k, i in enumerate(INDICATORS)}
    breakdown_order = {b: k for k, (b, _, _) in enumerate(BREAKDOWNS)}
    table = table.assign(
        _i=table["indicator"].map(indicator_order), _b=table["breakdown"].map(breakdown_order)
    ).sort_values(["_i", "_b", "category_order", "wave_year"], kind="stable")
    return table[list(INDICATOR_DESCRIPTIONS)].reset_index(drop=True)


# -- change between waves ---------------------------------------------------------------------
def proportion_change_test(
    p1: np.ndarray, n1: np.ndarray, p2: np.ndarray, n2: np.ndarray, confidence: float = 0.95
) -> pd.DataFrame:
    """Two-sample z-test for a difference in proportions on effective sample sizes.

    z = (p2 - p1) / sqrt(p̄(1 - p̄)(1/n1 + 1/n2)), p̄ = (n1·p1 + n2·p2)/(n1 + n2) (pooled under the
    null hypothesis); the CI of p2 - p1 uses the unpooled SE sqrt(p1(1-p1)/n1 + p2(1-p2)/n2).
    Proportions on the 0-1 scale; n are Kish effective sample sizes. Two-sided p-value.
    """
    p1, n1, p2, n2 = (np.asarray(a, dtype=float) for a in (p1, n1, p2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (n1 * p1 + n2 * p2) / (n1 + n2)
        se_null = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return _z_test(p2 - p1, se_null, se, confidence)


def mean_change_test(
    m1: np.ndarray, se1: np.ndarray, m2: np.ndarray, se2: np.ndarray, confidence: float = 0.95
) -> pd.DataFrame:
    """Two-sample z-test for a difference in means: z = (m2 - m1) / sqrt(SE1² + SE2²).

    The standard errors are those of :func:`weighted_mean`, on each wave's effective n.
    """
    m1, se1, m2, se2 = (np.asarray(a, dtype=float) for a in (m1, se1, m2, se2))
    se = np.sqrt(se1**2 + se2**2)
    return _z_test(m2 - m1, se, se, confidence)


def _z_test(
    difference: np.ndarray, se_null: np.ndarray, se: np.ndarray, confidence: float
) -> pd.DataFrame:
    z_crit = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        # No variance at all (both 0% or both 100%): no evidence of a change.
        z = np.where(se_null > 0, difference / se_null, np.where(difference == 0, 0.0, np.nan))
    p_value = 2 * ndtr(-np.abs(z))  # scipy.stats.norm.sf, without importing scipy.stats
    return pd.DataFrame(
        {
            "change": difference,
            "ci_lower": difference - z_crit * se,
            "ci_upper": difference + z_crit * se,
            "z_statistic": z,
            "p_value": p_value,
        }
    )


def wave_changes(indicators: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The change mart: each indicator's change between consecutive waves and latest vs first."""
    waves = sorted(int(w) for w in indicators["wave_year"].dropna().unique())
    pairs = [("consecutive", a, b) for a, b in zip(waves, waves[1:], strict=False)]
    if len(waves) >= 2:
        pairs.append(("latest_vs_first", waves[0], waves[-1]))
    key = ["breakdown", "category", "category_order", "indicator"]
    info = ["indicator_name", "measure", "unit", "polarity"]
    figures = ["value", "standard_error", "effective_n", "is_withheld"]
    frames = []
    for comparison, first, last in pairs:
        before = indicators.loc[indicators["wave_year"] == first, key + info + figures]
        after = indicators.loc[indicators["wave_year"] == last, key + info + figures]
        merged = before.merge(after, on=key, how="outer", suffixes=("_from", "_to"))
        for column in info:
            merged[column] = merged[f"{column}_from"].fillna(merged[f"{column}_to"])
        merged.insert(0, "comparison", comparison)
        merged["from_wave"], merged["to_wave"] = first, last
        frames.append(merged)
    if not frames:
        # Fewer than two waves: no rows, but the types a comparison has (the warehouse takes
        # its column types from them).
        dtypes = {
            **dict.fromkeys(CHANGE_DESCRIPTIONS, "object"),
            **dict.fromkeys(["category_order", "from_wave", "to_wave"], "int64"),
            **dict.fromkeys(["is_significant", "is_withheld"], "bool"),
            **dict.fromkeys(
                ["from_value", "to_value", "change", "change_ci95_lower", "change_ci95_upper"]
                + ["z_statistic", "p_value", "from_effective_n", "to_effective_n"],
                "float64",
            ),
        }
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})
    table = pd.concat(frames, ignore_index=True)

    v1 = table["value_from"].astype("float64").to_numpy()
    v2 = table["value_to"].astype("float64").to_numpy()
    is_mean = (table["measure"] == "mean").to_numpy()
    confidence = 1 - alpha
    proportions = proportion_change_test(
        v1 / 100, table["effective_n_from"].astype("float64"), v2 / 100,
        table["effective_n_to"].astype("float64"), confidence,
    )  # fmt: skip
    means = mean_change_test(
        v1, table["standard_error_from"].astype("float64"), v2,
        table["standard_error_to"].astype("float64"), confidence,
    )  # fmt: skip
    scale = np.where(is_mean, 1.0, 100.0)
    for out_column, column in (
        ("change", "change"),
        ("change_ci95_lower", "ci_lower"),
        ("change_ci95_upper", "ci_upper"),
    ):
        table[out_column] = np.where(is_mean, means[column], proportions[column]) * scale
    for column in ("z_statistic", "p_value"):
        table[column] = np.where(is_mean, means[column], proportions[column])

    withheld = (
        table["is_withheld_from"].fillna(True).astype(bool)
        | table["is_withheld_to"].fillna(True).astype(bool)
        | np.isnan(v1)
        | np.isnan(v2)
    )
    table["is_withheld"] = withheld
    for column in ("change", "change_ci95_lower", "change_ci95_upper", "z_statistic", "p_value"):
        table[column] = table[column].where(~withheld)
    significant = (table["p_value"] < alpha) & ~withheld
    table["is_significant"] = significant
    up = table["change"] > 0
    table["change_direction"] = np.select(
        [withheld, significant & up, significant & ~up],
        ["Not compared", "Increase", "Decrease"],
        "No significant change",
    )
    better = (up & (table["polarity"] == "high")) | (~up & (table["polarity"] == "low"))
    table["assessment"] = np.select(
        [withheld, significant & better, significant & ~better],
        ["Not compared", "Better", "Worse"],
        "No significant change",
    )
    table = table.rename(
        columns={
            "value_from": "from_value",
            "value_to": "to_value",
            "effective_n_from": "from_effective_n",
            "effective_n_to": "to_effective_n",
        }
    )
    indicator_order = {i.code: k for k, i in enumerate(INDICATORS)}
    breakdown_order = {b: k for k, (b, _, _) in enumerate(BREAKDOWNS)}
    comparison_order = {"consecutive": 0, "latest_vs_first": 1}
    table = table.assign(
        _i=table["indicator"].map(indicator_order),
        _b=table["breakdown"].map(breakdown_order),
        _c=table["comparison"].map(comparison_order),
    ).sort_values(["_i", "_b", "category_order", "_c", "from_wave"], kind="stable")
    table["from_wave"] = table["from_wave"].astype("int64")
    table["to_wave"] = table["to_wave"].astype("int64")
    for column in ("from_value", "to_value", "from_effective_n", "to_effective_n"):
        table[column] = table[column].astype("float64")
    return table[list(CHANGE_DESCRIPTIONS)].reset_index(drop=True)
