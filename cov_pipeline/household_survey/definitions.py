"""Household survey, the source's declaration: its name and file patterns, the harmonised
variables every wave must map (with their allowed values or ranges), the SWEMWBS conversion table
and the thresholds of the scores and estimates, and the codebook (``codebook.yaml``) that maps each
wave's columns and codes onto them (:func:`load_codebook`): a new wave is a codebook edit and a
file, no code. The contract of a harmonised row is
:class:`~cov_pipeline.schemas.household_survey.HouseholdSurveyResponse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cov_pipeline.quality import FileFault, SourceFile
from cov_pipeline.raw_reader import load_yaml, matches, read_stable
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
)

SOURCE = "household_survey"
CODEBOOK_NAME = "codebook.yaml"
WAVE_PATTERN = "*.csv"

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
