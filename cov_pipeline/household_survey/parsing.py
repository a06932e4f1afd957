"""Household survey, the parsers: every wave file read by the one raw reader
(:mod:`cov_pipeline.raw_reader`) with its wave's header rule, harmonised through the codebook
(an unmapped code, an answer off its scale, a missing or non-positive weight, an export's totals
line quarantine the row with every reason), respondents repeated in a wave resolved, the rows
validated against :class:`~cov_pipeline.schemas.household_survey.HouseholdSurveyResponse`, and
the AUDIT-C and SWEMWBS scores and indicator flags derived (:func:`load_household_survey`,
:class:`HouseholdSurveyLoad`). A file fault, or an error while parsing a file, raises
:class:`FileFault` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cov_pipeline.household_survey.definitions import (
    _SWEMWBS_METRIC,
    AUDIT_C_INCREASING_RISK_FROM,
    INTEGER_VARIABLES,
    LOW_WELLBEING_BELOW,
    SOURCE,
    WAVE_PATTERN,
    WaveSpec,
    load_codebook,
)
from cov_pipeline.household_survey.descriptions import STAGING_COLUMNS
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
    faults_name_the_file,
    read_records,
    with_record_faults,
)
from cov_pipeline.schemas.household_survey import SWEMWBS_ITEMS, HouseholdSurveyResponse


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
        with faults_name_the_file(path):
            raw, info = read_wave_file(path, wave)
            raw.index = pd.RangeIndex(offset, offset + len(raw))
            typed, why = harmonise_wave(raw, wave)
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
