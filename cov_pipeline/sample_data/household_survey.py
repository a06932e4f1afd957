"""SYNTHETIC Coventry household survey waves (2018, 2021, 2024) and their codebook (docs/definitions.md, "Sources").

Each wave is a quota-like sample of about 2,000 adults with post-stratification weights, written in
its own layout: different column names and answer codes per wave, as real survey exports differ,
so that ``codebook.yaml`` (written here too) is what makes them comparable. The weighted share in
good or very good health is solved to the published figures, 78% in 2018 and 73% in 2021; smoking
and mental wellbeing fall and alcohol use rises from 2018 to 2021, as the city's survey reported.
The generator keeps its own simple arithmetic, independent of the pipeline code it feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from cov_pipeline.household_survey import SWEMWBS_METRIC_BY_RAW

FOLDER = "household_survey"
CODEBOOK = "codebook.yaml"
RESPONDENTS_PER_WAVE = 2_000
# The benchmark profile adds this many responses per unit of scale, as extra 2024 fieldwork.
BENCHMARK_RESPONSES_PER_SCALE = 100_000
BENCHMARK_FILE = "household_survey_2024_benchmark.csv"

AGE_BANDS = ("16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")
SEXES = ("Male", "Female")
ETHNIC_GROUPS = ("White British", "White Other", "Mixed", "Asian", "Black", "Other")
HEALTH = ("Very good", "Good", "Fair", "Bad", "Very bad")
SMOKING = ("Current", "Ex", "Never")

# Coventry adults 16+ (about the 2021 census shape: many students, a young city).
POPULATION_AGE = np.array([0.20, 0.19, 0.15, 0.14, 0.12, 0.10, 0.10])
POPULATION_MALE = 0.495
# Who answers a household survey: older people and women more readily than young men.
RESPONSE_BY_AGE = np.array([0.55, 0.70, 0.90, 1.00, 1.15, 1.35, 1.20])
RESPONSE_MALE = 0.85
# Share White British by age band; the rest split like the city's minority groups.
WHITE_BRITISH_BY_AGE = np.array([0.42, 0.47, 0.52, 0.57, 0.62, 0.67, 0.72])
MINORITY_SPLIT = np.array([0.20, 0.07, 0.42, 0.20, 0.11])  # White Other, Mixed, Asian, Black, Other
IMD_WHITE_BRITISH = np.array([0.25, 0.22, 0.21, 0.18, 0.14])
IMD_MINORITY = np.array([0.38, 0.27, 0.18, 0.10, 0.07])
POPULATION_IMD = np.array([0.30, 0.24, 0.20, 0.15, 0.11])
# The published raw-to-metric conversion: data, shared with the pipeline rather than copied.
METRIC = np.array([SWEMWBS_METRIC_BY_RAW[r] for r in range(7, 36)])


@dataclass(frozen=True)
class WaveTargets:
    """Weighted figures a wave is solved to (shares over respondents who answered)."""

    good_health: float
    current_smoking: float
    audit_c_5_plus: float
    swemwbs_mean: float


# 2018 and 2021 good health are the published figures; the rest are plausible and move the way
# the survey reported (smoking and wellbeing down, alcohol up from 2018 to 2021).
TARGETS = {
    2018: WaveTargets(good_health=0.78, current_smoking=0.165, audit_c_5_plus=0.23, swemwbs_mean=23.6),
    2021: WaveTargets(good_health=0.73, current_smoking=0.138, audit_c_5_plus=0.28, swemwbs_mean=22.7),
    2024: WaveTargets(good_health=0.74, current_smoking=0.118, audit_c_5_plus=0.26, swemwbs_mean=23.0),
}  # fmt: skip


def _codes(values: tuple, codes: list[str]) -> dict[str, object]:
    return dict(zip(codes, values, strict=True))


SWEMWBS_STATEMENTS = (
    "optimistic about the future",
    "feeling useful",
    "feeling relaxed",
    "dealing with problems well",
    "thinking clearly",
    "feeling close to other people",
    "able to make up my own mind about things",
)


@dataclass(frozen=True)
class WaveLayout:
    """How one wave was delivered: its file, columns, codes and missing-value conventions."""

    year: int
    description: str
    respondent_id: str
    id_prefix: str
    id_digits: int
    weight: str
    missing_codes: dict[str, str]
    no_answer: str  # what the file holds for an item not answered
    routed: str  # what it holds for AUDIT-C items 2-3 when item 1 is "never"
    variables: dict[str, dict]
    ignored_columns: dict[str, tuple[str, ...]]
    line_terminator: str = "\n"

    @property
    def file_name(self) -> str:
        return f"household_survey_{self.year}.csv"

    @property
    def files(self) -> str:
        return f"household_survey_{self.year}*.csv"

    def columns(self) -> list[str]:
        return [
            self.respondent_id,
            *(v["column"] for v in self.variables.values()),
            *self.ignored_columns,
            self.weight,
        ]


def _scale(column: str, low: int, high: int) -> dict:
    return {"column": column, "scale": [low, high]}


LAYOUTS: tuple[WaveLayout, ...] = (
    WaveLayout(
        year=2018,
        description="Face-to-face interviews, September-November 2018; numeric codes from 1.",
        respondent_id="resp_id",
        id_prefix="CHS18-",
        id_digits=5,
        weight="wt_final",
        missing_codes={"-9": "refused", "-8": "don't know", "-1": "not applicable (routed past)"},
        no_answer="-9",
        routed="-1",
        variables={
            "age_band": {"column": "age_grp", "codes": _codes(AGE_BANDS, list("1234567"))},
            "sex": {"column": "sex", "codes": _codes(SEXES, ["1", "2"])},
            "ethnic_group": {"column": "ethnicity", "codes": _codes(ETHNIC_GROUPS, list("123456"))},
            "imd_quintile": _scale("imd_q", 1, 5),
            "self_rated_health": {"column": "genhealth", "codes": _codes(HEALTH, list("12345"))},
            "smoking_status": {
                "column": "smoke",
                "codes": {"1": "Current", "2": "Current", "3": "Ex", "4": "Never"},
            },
            "audit_c_q1": _scale("audit1", 0, 4),
            "audit_c_q2": _scale("audit2", 0, 4),
            "audit_c_q3": _scale("audit3", 0, 4),
            **{f"swemwbs_{i}": _scale(f"wb_{i}", 1, 5) for i in range(1, 8)},
        },
        ignored_columns={},
    ),
    WaveLayout(
        year=2021,
        description="Online and telephone, February-April 2021; export with its own codes "
        "(sex 1 = Female, health letters, AUDIT-C items coded 1-5, 99 = no answer).",
        respondent_id="ID",
        id_prefix="21",
        id_digits=4,
        weight="Weight",
        missing_codes={"99": "no answer"},
        no_answer="99",
        routed="",
        variables={
            "age_band": {
                "column": "AgeBand",
                "codes": _codes(AGE_BANDS, ["16", "25", "35", "45", "55", "65", "75"]),
            },
            "sex": {"column": "Gender", "codes": {"1": "Female", "2": "Male"}},
            "ethnic_group": {
                "column": "EthnicGroup",
                "codes": {
                    "1": "Asian",
                    "2": "Black",
                    "3": "Mixed",
                    "4": "White British",
                    "5": "White Other",
                    "6": "Other",
                },
            },
            "imd_quintile": {
                "column": "IMD_Quintile",
                "codes": {"Q1": 1, "Q2": 2, "Q3": 3, "Q4": 4, "Q5": 5},
            },
            "self_rated_health": {
                "column": "GenHealth",
                "codes": _codes(HEALTH, ["VG", "G", "F", "B", "VB"]),
            },
            "smoking_status": {
                "column": "Smoker",
                "codes": {"D": "Current", "O": "Current", "E": "Ex", "N": "Never"},
            },
            **{
                f"audit_c_q{i}": {
                    "column": f"AUDITC_{i}",
                    "codes": {str(code): code - 1 for code in range(1, 6)},
                }
                for i in range(1, 4)
            },
            **{f"swemwbs_{i}": _scale(f"SWEMWBS_{i}", 1, 5) for i in range(1, 8)},
        },
        ignored_columns={},
        line_terminator="\r\n",
    ),
    WaveLayout(
        year=2024,
        description="Online panel, March-May 2024; ONS-style ethnic codes, IMD decile, "
        "health coded 5 (very good) to 1, SWEMWBS items coded 0-4, blank = no answer.",
        respondent_id="respondent",
        id_prefix="R24-",
        id_digits=5,
        weight="design_weight",
        missing_codes={},
        no_answer="",
        routed="",
        variables={
            "age_band": {
                "column": "age",
                "codes": _codes(
                    AGE_BANDS,
                    ["16to24", "25to34", "35to44", "45to54", "55to64", "65to74", "75plus"],
                ),
            },
            "sex": {"column": "sex_at_birth", "codes": {"M": "Male", "F": "Female"}},
            "ethnic_group": {
                "column": "ethnic_grp",
                "codes": _codes(ETHNIC_GROUPS, ["WBRI", "WOTH", "MIXD", "ASIA", "BLAC", "OTHR"]),
            },
            "imd_quintile": {
                "column": "imd_decile",
                "codes": {str(d): (d + 1) // 2 for d in range(1, 11)},
            },
            "self_rated_health": {
                "column": "q_health",
                "codes": _codes(HEALTH, ["5", "4", "3", "2", "1"]),
            },
            "smoking_status": {
                "column": "q_smoke",
                "codes": {"current": "Current", "ex": "Ex", "never": "Never"},
            },
            **{f"audit_c_q{i}": _scale(f"q_alc_{i}", 0, 4) for i in range(1, 4)},
            **{
                f"swemwbs_{i}": {
                    "column": f"q_wb_{i}",
                    "codes": {str(code): code + 1 for code in range(5)},
                }
                for i in range(1, 8)
            },
        },
        ignored_columns={"mode": ("online", "phone")},
    ),
)


# -- simulation -------------------------------------------------------------------------------
def _expit(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _draw(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category per row from a (rows, categories) matrix of probabilities."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return (u > cumulative).sum(axis=1)


def _weighted_share(flag: np.ndarray, weights: np.ndarray, answered: np.ndarray) -> float:
    return float((weights * flag)[answered].sum() / weights[answered].sum())


def _solve_shift(outcome, weights: np.ndarray, answered: np.ndarray, target: float) -> float:
    """The shift whose weighted mean of ``outcome(shift)`` over ``answered`` is nearest ``target``.

    ``outcome`` is non-decreasing in the shift, so bisection lands within one respondent's weight
    of the target: well inside half a percentage point for a wave of 2,000.
    """
    low, high = -12.0, 12.0
    for _ in range(60):
        middle = (low + high) / 2
        if _weighted_share(outcome(middle), weights, answered) < target:
            low = middle
        else:
            high = middle
    gap_low = abs(_weighted_share(outcome(low), weights, answered) - target)
    gap_high = abs(_weighted_share(outcome(high), weights, answered) - target)
    return low if gap_low <= gap_high else high


def _weights(age: np.ndarray, male: np.ndarray, imd: np.ndarray) -> np.ndarray:
    """Post-stratification to the population's age × sex, then raked to its IMD quintiles."""
    cell = age * 2 + male
    population = (
        POPULATION_AGE[:, None] * np.array([1 - POPULATION_MALE, POPULATION_MALE])
    ).ravel()
    weights = np.ones(len(age))
    for _ in range(4):
        share = np.bincount(cell, weights=weights, minlength=14) / weights.sum()
        weights = weights * (population / np.where(share > 0, share, 1))[cell]
        share = np.bincount(imd, weights=weights, minlength=5) / weights.sum()
        weights = weights * (POPULATION_IMD / np.where(share > 0, share, 1))[imd]
    weights = weights / weights.mean()
    return np.maximum(np.round(weights, 4), 0.0001)


def simulate_wave(rng: np.random.Generator, n: int, targets: WaveTargets) -> pd.DataFrame:
    """``n`` harmonised respondents: indexes into the tuples above (-1 no answer, -2 routed past)."""
    cells = (POPULATION_AGE[:, None] * np.array([1 - POPULATION_MALE, POPULATION_MALE])).ravel()
    response = (RESPONSE_BY_AGE[:, None] * np.array([1.0, RESPONSE_MALE])).ravel()
    chosen = rng.choice(14, size=n, p=cells * response / (cells * response).sum())
    age, male = chosen // 2, chosen % 2
    white_british = WHITE_BRITISH_BY_AGE[age]
    ethnic_p = np.column_stack([white_british, (1 - white_british)[:, None] * MINORITY_SPLIT])
    ethnic = _draw(rng, ethnic_p)
    imd = _draw(rng, np.where((ethnic == 0)[:, None], IMD_WHITE_BRITISH, IMD_MINORITY))
    weights = _weights(age, male, imd)

    # Item non-response, decided first so that each target is solved over those who answered.
    no_health = rng.random(n) < 0.004
    no_smoking = rng.random(n) < 0.005
    no_ethnic = rng.random(n) < 0.01
    no_sex = rng.random(n) < 0.003
    no_audit_1 = rng.random(n) < 0.004
    no_audit_2 = rng.random(n) < 0.005
    swemwbs_gap = rng.random(n)
    one_item_missing = swemwbs_gap < 0.015
    block_skipped = (swemwbs_gap >= 0.015) & (swemwbs_gap < 0.02)
    gap_item = rng.integers(0, 7, n)

    # Self-rated health: younger and less deprived respondents report better health.
    health_score = (
        np.array([1.0, 0.8, 0.5, 0.1, -0.3, -0.6, -1.1])[age]
        + np.array([-0.5, -0.25, 0.0, 0.2, 0.4])[imd]
    )
    u = rng.random(n)

    def is_good(shift: float) -> np.ndarray:
        return u < _expit(shift + health_score)

    good = is_good(_solve_shift(is_good, weights, ~no_health, targets.good_health))
    very = rng.random(n) < 0.45
    rest = _draw(rng, np.tile([0.68, 0.23, 0.09], (n, 1)))
    health = np.where(good, np.where(very, 0, 1), 2 + rest)

    # Smoking: highest in the middle ages and the most deprived areas.
    smoke_score = (
        np.array([0.1, 0.4, 0.3, 0.2, 0.0, -0.5, -1.2])[age]
        + np.array([0.5, 0.25, 0.0, -0.2, -0.4])[imd]
    )
    u_smoke = rng.random(n)

    def is_current(shift: float) -> np.ndarray:
        return u_smoke < _expit(shift + smoke_score)

    current = is_current(_solve_shift(is_current, weights, ~no_smoking, targets.current_smoking))
    ex = rng.random(n) < 0.15 + 0.07 * age
    smoking = np.where(current, 0, np.where(ex, 1, 2))

    # AUDIT-C: non-drinkers answer 'never' and are routed past items 2-3; drinkers' items share
    # one latent level of drinking, shifted until the share scoring 5 or more is on target.
    never_drinks = rng.random(n) < _expit(
        -1.7 + 1.9 * (ethnic == 3) + 0.4 * (age == 6) + 0.2 * (imd == 0)
    )
    latent = rng.normal(size=n) + np.array([0.3, 0.2, 0.1, 0.0, -0.1, -0.3, -0.6])[age]
    e1, e2, e3 = rng.normal(size=(3, n))

    def audit_items(shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        level = latent + shift
        q1 = 1 + np.digitize(level + 0.5 * e1, [-0.3, 0.6, 1.5])
        q2 = np.digitize(level + 0.6 * e2 - 0.2, [0.2, 1.0, 1.8, 2.6])
        q3 = np.digitize(level + 0.6 * e3, [-0.4, 0.5, 1.4, 2.4])
        return tuple(np.where(never_drinks, 0, q) for q in (q1, q2, q3))

    def increasing_risk(shift: float) -> np.ndarray:
        return sum(audit_items(shift)) >= 5

    scored = ~no_audit_1 & (never_drinks | ~no_audit_2)
    q1, q2, q3 = audit_items(_solve_shift(increasing_risk, weights, scored, targets.audit_c_5_plus))

    # SWEMWBS: seven items on one latent wellbeing, better with good health, worse with deprivation.
    wellbeing = rng.normal(size=n) + 0.45 * good + np.array([-0.25, -0.1, 0.0, 0.1, 0.2])[imd]
    item_noise = rng.normal(size=(n, 7))

    def swemwbs_items(shift: float) -> np.ndarray:
        level = 3.25 + 0.7 * (wellbeing[:, None] + shift) + 0.6 * item_noise
        return np.clip(np.rint(level), 1, 5).astype(np.int64)

    def metric(shift: float) -> np.ndarray:
        return METRIC[swemwbs_items(shift).sum(axis=1) - 7]

    complete = ~one_item_missing & ~block_skipped
    items = swemwbs_items(_solve_shift(metric, weights, complete, targets.swemwbs_mean))
    items[block_skipped, :] = -1
    items[np.flatnonzero(one_item_missing), gap_item[one_item_missing]] = -1

    frame = pd.DataFrame(
        {
            "age_band": age,
            "sex": np.where(no_sex, -1, 1 - male),
            "ethnic_group": np.where(no_ethnic, -1, ethnic),
            "imd_quintile": imd + 1,
            "self_rated_health": np.where(no_health, -1, health),
            "smoking_status": np.where(no_smoking, -1, smoking),
            "audit_c_q1": np.where(no_audit_1, -1, q1),
            "audit_c_q2": np.where(never_drinks, -2, np.where(no_audit_2, -1, q2)),
            "audit_c_q3": np.where(never_drinks, -2, q3),
            "weight": weights,
        }
    )
    for i in range(7):
        frame[f"swemwbs_{i + 1}"] = items[:, i]
    return frame


# -- writing ----------------------------------------------------------------------------------
def _domain(target: str) -> tuple:
    """The harmonised values of a variable, in the order ``simulate_wave`` indexes them."""
    if target == "imd_quintile":
        return (1, 2, 3, 4, 5)
    if target.startswith("audit_c_"):
        return (0, 1, 2, 3, 4)
    if target.startswith("swemwbs_"):
        return (1, 2, 3, 4, 5)
    return {
        "age_band": AGE_BANDS,
        "sex": SEXES,
        "ethnic_group": ETHNIC_GROUPS,
        "self_rated_health": HEALTH,
        "smoking_status": SMOKING,
    }[target]


def _as_index(target: str, values: np.ndarray) -> np.ndarray:
    """Simulated values as positions in the variable's domain (negative codes kept)."""
    domain = _domain(target)
    if isinstance(domain[0], int):
        return np.where(values >= 0, values - domain[0], values)
    return values


def encode_wave(
    layout: WaveLayout, frame: pd.DataFrame, rng: np.random.Generator, first_id: int = 1
) -> pd.DataFrame:
    """The simulated respondents as the wave's own text columns and codes."""
    n = len(frame)
    out = pd.DataFrame(index=range(n))
    width = layout.id_digits
    numbers = np.arange(first_id, first_id + n)
    out[layout.respondent_id] = layout.id_prefix + pd.Series(numbers).astype(str).str.zfill(width)
    for target, spec in layout.variables.items():
        domain = _domain(target)
        index = _as_index(target, frame[target].to_numpy())
        if "codes" in spec:
            options = [[c for c, v in spec["codes"].items() if v == d] for d in domain]
            table = np.array([opts + [opts[0]] * (2 - len(opts)) for opts in options], dtype=object)
            counts = np.array([len(opts) for opts in options])
            safe = np.clip(index, 0, len(domain) - 1)
            pick = np.floor(rng.random(n) * counts[safe]).astype(np.int64)
            codes = table[safe, pick]
        else:
            codes = np.array([str(d) for d in domain], dtype=object)[np.clip(index, 0, None)]
        codes = np.where(index == -1, layout.no_answer, codes)
        codes = np.where(index == -2, layout.routed, codes)
        out[spec["column"]] = codes
    for column, values in layout.ignored_columns.items():
        out[column] = np.array(values, dtype=object)[rng.integers(0, len(values), n)]
    out[layout.weight] = np.char.mod("%.4f", frame["weight"].to_numpy())
    return out[layout.columns()]


def write_wave(layout: WaveLayout, rows: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(path, index=False, lineterminator=layout.line_terminator, encoding="utf-8")
    return path


def codebook_document() -> dict:
    """The codebook: how each wave's columns and codes map onto the harmonised schema."""
    waves = {}
    for layout in LAYOUTS:
        variables = {}
        for target, spec in layout.variables.items():
            entry = {"column": spec["column"]}
            if "codes" in spec:
                entry["codes"] = dict(spec["codes"])
            else:
                entry["scale"] = list(spec["scale"])
            variables[target] = entry
        waves[layout.year] = {
            "description": layout.description,
            "files": layout.files,
            "respondent_id": layout.respondent_id,
            "weight": layout.weight,
            "missing_codes": dict(layout.missing_codes),
            "ignored_columns": list(layout.ignored_columns),
            "variables": variables,
        }
    return {"source": "Coventry household survey (SYNTHETIC sample)", "waves": waves}


CODEBOOK_HEADER = """\
# Household survey codebook: maps each wave's columns and answer codes onto the harmonised schema
# (cov_pipeline/household_survey.py; cov_pipeline/schemas/household_survey.py).
# The waves in this folder are SYNTHETIC (python -m cov_pipeline.sample_data); the layout is real.
#
# waves.<year>.files            glob of the wave's file(s) in this folder
# waves.<year>.respondent_id    column holding the respondent's id (unique within the wave)
# waves.<year>.weight           column holding the survey weight (required, positive)
# waves.<year>.missing_codes    codes meaning "no answer" in any column (a blank always is)
# waves.<year>.ignored_columns  columns delivered but not used
# waves.<year>.variables        every harmonised variable: its column, and either
#                                 codes: {code in the file: harmonised value}, or
#                                 scale: [low, high] (whole numbers taken as they are)
# A new wave is a new entry here plus its file: no code changes.
"""


def write_codebook(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        codebook_document(), sort_keys=False, allow_unicode=True, width=100, default_flow_style=None
    )
    path.write_text(CODEBOOK_HEADER + text, encoding="utf-8", newline="\n")
    return path


# Row faults the sample carries on purpose, so that a run shows the quarantine at work: in 2021
# one respondent's record is exported twice (the copy is quarantined); in 2024 one respondent has
# no weight (quarantined). Both are extra rows: the solved figures hold for the valid ones.
DUPLICATED_2021_POSITION = 137
UNWEIGHTED_2024_POSITION = 500


def generate_household_survey(
    out_dir: Path, rng: np.random.Generator, scale: float = 1.0, profile: str = "sample"
) -> list[Path]:
    """Write ``household_survey/codebook.yaml`` and one file per wave under ``out_dir``.

    The benchmark profile adds ``household_survey_2024_benchmark.csv``: about
    ``scale`` × 100,000 further 2024 responses (same layout, ids R24-B...), drawn from a generator
    derived from ``rng`` after the sample, so the sample files are the same in both profiles.
    """
    if profile not in ("sample", "benchmark"):
        raise ValueError(f"unknown profile {profile!r}: sample or benchmark")
    folder = Path(out_dir) / FOLDER
    paths = [write_codebook(folder / CODEBOOK)]
    for layout in LAYOUTS:
        frame = simulate_wave(rng, RESPONDENTS_PER_WAVE, TARGETS[layout.year])
        rows = encode_wave(layout, frame, rng)
        if layout.year == 2021:
            k = DUPLICATED_2021_POSITION
            rows = pd.concat([rows.iloc[: k + 1], rows.iloc[[k]], rows.iloc[k + 1 :]])
        if layout.year == 2024:
            extra = encode_wave(
                layout, frame.iloc[[UNWEIGHTED_2024_POSITION]], rng, first_id=len(frame) + 1
            )
            extra[layout.weight] = ""
            rows = pd.concat([rows, extra])
        paths.append(write_wave(layout, rows, folder / layout.file_name))
    if profile == "benchmark":
        benchmark_rng = np.random.default_rng(rng.integers(2**63))
        layout = LAYOUTS[-1]
        n = max(1, round(BENCHMARK_RESPONSES_PER_SCALE * scale))
        frame = simulate_wave(benchmark_rng, n, TARGETS[layout.year])
        rows = encode_wave(layout, frame, benchmark_rng)
        rows[layout.respondent_id] = "R24-B" + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(
            7
        )
        paths.append(write_wave(layout, rows, folder / BENCHMARK_FILE))
    return paths
