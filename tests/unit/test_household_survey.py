"""Household survey domain: codebook, harmonisation, scores, weighted estimates and change tests.

Every statistic is pinned by arithmetic written out here or by the published SWEMWBS table; every
bad-input case is a small file with the exact outcome it must produce.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cov_pipeline.household_survey import (
    CHANGE_DESCRIPTIONS,
    INDICATOR_DESCRIPTIONS,
    LOW_WELLBEING_BELOW,
    STAGING_COLUMNS,
    STAGING_DESCRIPTIONS,
    WAVE_PATTERN,
    audit_c_total,
    load_codebook,
    load_household_survey,
    mean_change_test,
    proportion_change_test,
    score_responses,
    swemwbs_metric,
    wave_changes,
    weighted_indicators,
    weighted_mean,
    weighted_proportion,
)
from cov_pipeline.quality import FileFault
from cov_pipeline.raw_reader import CLEARED_ROW, discover

Z95 = 1.959963984540054

# One small wave in its own layout: numeric codes, -9 refused, -1 routed past.
CODEBOOK = """\
waves:
  2018:
    files: hs_2018*.csv
    respondent_id: id
    weight: wt
    missing_codes: {"-9": refused, "-1": routed past}
    ignored_columns: [interviewer]
    variables:
      age_band: {column: age, codes: {"1": 16-24, "2": 25-34, "3": 35-44, "4": 45-54, "5": 55-64, "6": 65-74, "7": 75+}}
      sex: {column: sex, codes: {"1": Male, "2": Female}}
      ethnic_group: {column: eth, codes: {"1": White British, "2": White Other, "3": Mixed, "4": Asian, "5": Black, "6": Other}}
      imd_quintile: {column: imd, scale: [1, 5]}
      self_rated_health: {column: health, codes: {"1": Very good, "2": Good, "3": Fair, "4": Bad, "5": Very bad}}
      smoking_status: {column: smoke, codes: {"1": Current, "2": Ex, "3": Never}}
      audit_c_q1: {column: a1, scale: [0, 4]}
      audit_c_q2: {column: a2, scale: [0, 4]}
      audit_c_q3: {column: a3, scale: [0, 4]}
      swemwbs_1: {column: wb1, scale: [1, 5]}
      swemwbs_2: {column: wb2, scale: [1, 5]}
      swemwbs_3: {column: wb3, scale: [1, 5]}
      swemwbs_4: {column: wb4, scale: [1, 5]}
      swemwbs_5: {column: wb5, scale: [1, 5]}
      swemwbs_6: {column: wb6, scale: [1, 5]}
      swemwbs_7: {column: wb7, scale: [1, 5]}
"""
HEADER = "id,age,sex,eth,imd,health,smoke,a1,a2,a3,wb1,wb2,wb3,wb4,wb5,wb6,wb7,interviewer,wt"
GOOD = "R{n},2,1,1,3,2,3,2,1,0,4,4,3,3,4,4,4,I7,1.25"


def write_survey(folder: Path, rows: list[str], header: str = HEADER, name: str = "hs_2018.csv"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder / "codebook.yaml", sorted(folder.glob("*.csv"))


def load(tmp_path: Path, rows: list[str], **kwargs):
    codebook, paths = write_survey(tmp_path / "household_survey", rows, **kwargs)
    return load_household_survey(codebook, paths)


def reasons_by_line(result) -> dict[int, str]:
    return dict(zip(result.quarantine["line_number"], result.quarantine["reasons"], strict=True))


# -- a valid file ---------------------------------------------------------------------------
def test_a_valid_wave_is_harmonised_and_scored(tmp_path):
    result = load(tmp_path, [GOOD.format(n=1), "R2,7,2,4,1,5,1,0,-1,-1,1,1,1,1,1,1,2,I7,0.5"])
    staged = result.staging
    assert list(staged.columns) == STAGING_COLUMNS
    assert result.quarantine.empty and result.input_rows == 2
    first, second = staged.iloc[0], staged.iloc[1]
    assert (first["wave_year"], first["respondent_id"], first["age_band"]) == (2018, "R1", "25-34")
    assert (first["sex"], first["ethnic_group"], first["imd_quintile"]) == (
        "Male",
        "White British",
        3,
    )
    assert (first["self_rated_health"], first["is_good_health"], first["is_bad_health"]) == (
        "Good",
        True,
        False,
    )
    assert first["smoking_status"] == "Never" and not first["is_current_smoker"]
    # AUDIT-C 2 + 1 + 0 = 3; SWEMWBS 4+4+3+3+4+4+4 = 26 -> metric 23.21 (published table)
    assert first["audit_c_total"] == 3 and not first["is_audit_c_increasing_risk"]
    assert first["swemwbs_raw_score"] == 26 and first["swemwbs_metric_score"] == 23.21
    assert first["swemwbs_items_answered"] == 7 and not first["is_low_wellbeing"]
    # a non-drinker routed past items 2-3 (-1) scores 0; raw 8 -> metric 9.51: low wellbeing
    assert pd.isna(second["audit_c_q2"]) and second["audit_c_total"] == 0
    assert second["swemwbs_metric_score"] == 9.51 and second["is_low_wellbeing"]
    assert (second["self_rated_health"], second["is_bad_health"]) == ("Very bad", True)
    assert (second["source_file"], second["line_number"]) == ("hs_2018.csv", 3)
    assert set(STAGING_DESCRIPTIONS) == set(staged.columns)


# -- bad input: each case with its exact outcome ---------------------------------------------
def test_missing_weight_quarantines_the_row(tmp_path):
    result = load(tmp_path, [GOOD.format(n=1), GOOD.format(n=2).replace(",1.25", ",")])
    assert reasons_by_line(result) == {3: "weight: missing (column 'wt')"}
    assert result.staging["respondent_id"].tolist() == ["R1"]


def test_negative_or_zero_weight_quarantines_the_row(tmp_path):
    rows = [
        GOOD.format(n=1).replace(",1.25", ",-1.5"),
        GOOD.format(n=2).replace(",1.25", ",0"),
        GOOD.format(n=3).replace(",1.25", ",heavy"),
    ]
    result = load(tmp_path, rows)
    assert reasons_by_line(result) == {
        2: "weight: '-1.5' in column 'wt' is not positive",
        3: "weight: '0' in column 'wt' is not positive",
        4: "weight: 'heavy' in column 'wt' is not a number",
    }
    assert result.staging.empty


def test_item_outside_its_scale_quarantines_the_row(tmp_path):
    bad = "R2,2,1,1,3,2,3,2,1,0,4,4,6,3,4,4,4,I7,1.25"  # SWEMWBS item 3 = 6 on a 1-5 scale
    bad_audit = "R3,2,1,1,3,2,3,5,1,0,4,4,3,3,4,4,4,I7,1.25"  # AUDIT-C item 1 = 5 on 0-4
    result = load(tmp_path, [GOOD.format(n=1), bad, bad_audit])
    assert reasons_by_line(result) == {
        3: "swemwbs_3: '6' in column 'wb3' is outside the scale 1-5",
        4: "audit_c_q1: '5' in column 'a1' is outside the scale 0-4",
    }
    record = result.quarantine.set_index("line_number").loc[3, "record"]
    assert '"wb3":"6"' in record and '"id":"R2"' in record
    assert set(result.quarantine["source"]) == {"household_survey"}


def test_swemwbs_block_with_one_item_missing_is_kept_but_not_scored(tmp_path):
    refused = "R2,2,1,1,3,2,3,2,1,0,4,4,3,-9,4,4,4,I7,1.25"
    blank = "R3,2,1,1,3,2,3,2,1,0,4,,3,3,4,4,4,I7,1.25"
    result = load(tmp_path, [GOOD.format(n=1), refused, blank])
    assert result.quarantine.empty
    staged = result.staging.set_index("respondent_id")
    for rid in ("R2", "R3"):
        assert staged.loc[rid, "swemwbs_items_answered"] == 6
        assert pd.isna(staged.loc[rid, "swemwbs_raw_score"])
        assert pd.isna(staged.loc[rid, "swemwbs_metric_score"])
        assert pd.isna(staged.loc[rid, "is_low_wellbeing"])
    assert pd.isna(staged.loc["R2", "swemwbs_4"]) and staged.loc["R2", "swemwbs_3"] == 3
    assert staged.loc["R1", "swemwbs_metric_score"] == 23.21


def test_respondent_duplicated_within_a_wave(tmp_path):
    rows = [
        GOOD.format(n=1),
        GOOD.format(n=2),
        GOOD.format(n=1),  # an identical copy of line 2
        GOOD.format(n=2).replace(",1.25", ",2.5"),  # R2 again, with a different weight
    ]
    result = load(tmp_path, rows)
    assert reasons_by_line(result) == {
        3: "respondent_id: 'R2' appears more than once in wave 2018 with different answers "
        "(hs_2018.csv line 3, hs_2018.csv line 5)",
        4: "respondent_id: 'R1' is duplicated in wave 2018, identical to hs_2018.csv line 2",
        5: "respondent_id: 'R2' appears more than once in wave 2018 with different answers "
        "(hs_2018.csv line 3, hs_2018.csv line 5)",
    }
    assert result.staging["respondent_id"].tolist() == ["R1"]
    assert result.rows_accounted_for == result.input_rows == 4


def test_unmapped_code_quarantines_the_row_with_its_reason(tmp_path):
    bad = "R2,2,3,1,3,2,3,2,1,0,4,4,3,3,4,4,4,I7,1.25"  # sex '3' is not in the codebook
    result = load(tmp_path, [GOOD.format(n=1), bad])
    assert reasons_by_line(result) == {
        3: "sex: code '3' in column 'sex' is not in the codebook for wave 2018"
    }


def test_several_faults_on_one_row_are_all_reported(tmp_path):
    bad = "R2,9,3,1,3,2,3,2,1,0,4,4,6,3,4,4,4,I7,"
    result = load(tmp_path, [GOOD.format(n=1), bad])
    assert reasons_by_line(result) == {
        3: "weight: missing (column 'wt') | age_band: code '9' in column 'age' is not in the "
        "codebook for wave 2018 | sex: code '3' in column 'sex' is not in the codebook for wave "
        "2018 | swemwbs_3: '6' in column 'wb3' is outside the scale 1-5"
    }


def test_missing_codes_and_blanks_stay_missing(tmp_path):
    row = "R2,2,-9,,3,-9,-9,2,1,0,4,4,3,3,4,4,4,,1.25"
    result = load(tmp_path, [row])
    staged = result.staging.iloc[0]
    for column in ("sex", "ethnic_group", "self_rated_health", "smoking_status"):
        assert staged[column] is None, column
    for column in ("is_good_health", "is_bad_health", "is_current_smoker"):
        assert pd.isna(staged[column]), column


def test_a_column_the_codebook_does_not_know_fails_naming_wave_and_column(tmp_path):
    rows = [GOOD.format(n=1) + ",42"]
    with pytest.raises(FileFault) as fault:
        load(tmp_path, rows, header=HEADER + ",shoe_size")
    assert str(fault.value) == "hs_2018.csv: wave 2018: column(s) 'shoe_size' not in the codebook"


def test_a_mapped_column_that_is_absent_fails_naming_wave_and_column(tmp_path):
    header = HEADER.replace(",wb7", "")
    row = GOOD.format(n=1).replace(",4,I7", ",I7")
    with pytest.raises(FileFault) as fault:
        load(tmp_path, [row], header=header)
    assert str(fault.value) == (
        "hs_2018.csv: wave 2018: column(s) the codebook maps are missing: 'wb7' (swemwbs_7)"
    )


def test_an_ignored_column_may_be_absent(tmp_path):
    header = HEADER.replace(",interviewer", "")
    result = load(tmp_path, [GOOD.format(n=1).replace(",I7", "")], header=header)
    assert len(result.staging) == 1


def test_a_file_no_wave_describes_fails(tmp_path):
    folder = tmp_path / "household_survey"
    codebook, _ = write_survey(folder, [GOOD.format(n=1)])
    (folder / "hs_2030.csv").write_text(HEADER + "\n" + GOOD.format(n=1) + "\n", encoding="utf-8")
    with pytest.raises(FileFault) as fault:
        load_household_survey(codebook, sorted(folder.glob("*.csv")))
    assert str(fault.value) == "hs_2030.csv: no wave in codebook.yaml describes this file"


def test_a_wave_without_a_file_fails(tmp_path):
    folder = tmp_path / "household_survey"
    codebook, paths = write_survey(folder, [GOOD.format(n=1)])
    wave_2021 = (
        CODEBOOK.split("waves:\n", 1)[1].replace("2018:", "2021:").replace("hs_2018", "hs_2021")
    )
    codebook.write_text(CODEBOOK + wave_2021, encoding="utf-8")
    with pytest.raises(FileFault) as fault:
        load_household_survey(codebook, paths)
    assert (
        str(fault.value) == "codebook.yaml: wave 2021: no file matches 'hs_2021*.csv' in the folder"
    )
    with pytest.raises(FileFault) as fault:
        load_household_survey(codebook, [])
    assert str(fault.value) == "household_survey: no survey wave files (*.csv) found"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace('"2": Female', '"2": Woman'),
            "codebook.yaml: invalid codebook: wave 2018: sex: code '2' maps to 'Woman', which "
            "is not one of Male, Female",
        ),
        (
            lambda t: t.replace("      swemwbs_7: {column: wb7, scale: [1, 5]}\n", ""),
            "codebook.yaml: invalid codebook: wave 2018: no mapping for swemwbs_7",
        ),
        (
            lambda t: t.replace(
                "scale: [0, 4]}\n      audit_c_q2", "scale: [0, 9]}\n      audit_c_q2"
            ),
            "codebook.yaml: invalid codebook: wave 2018: audit_c_q1: scale must be [low, high] "
            "within 0-4, got [0, 9]",
        ),
        (
            lambda t: t.replace('"3": Never}', '"3": Never, "-9": Never}'),
            "codebook.yaml: invalid codebook: wave 2018: smoking_status: code(s) ['-9'] are also "
            "missing codes",
        ),
        (
            lambda t: t.replace("column: wb7", "column: wb6"),
            "codebook.yaml: invalid codebook: wave 2018: column(s) ['wb6'] used more than once",
        ),
        (lambda t: "waves: [2018]\n", "codebook.yaml: invalid codebook: expected a mapping with a"),
    ],
)
def test_codebook_faults_name_the_wave_and_the_variable(tmp_path, edit, message):
    path = tmp_path / "codebook.yaml"
    path.write_text(edit(CODEBOOK), encoding="utf-8")
    with pytest.raises(FileFault) as fault:
        load_codebook(path)
    assert str(fault.value).startswith(message)


def test_a_code_given_twice_in_the_codebook_is_a_fault_naming_the_file_and_the_code(tmp_path):
    # YAML keeps the last value of a repeated key: men would be coded as women without a word
    path = tmp_path / "codebook.yaml"
    path.write_text(
        CODEBOOK.replace('{"1": Male, "2": Female}', "{M: Male, F: Female, M: Female}"),
        encoding="utf-8",
    )
    with pytest.raises(FileFault) as fault:
        load_codebook(path)
    message = str(fault.value)
    assert message.startswith("codebook.yaml: invalid codebook: not valid YAML: ")
    assert "found key 'M' twice (first on line 10)" in message


def test_codebook_reads_numeric_yaml_keys_as_codes(tmp_path):
    path = tmp_path / "codebook.yaml"
    path.write_text(CODEBOOK.replace('{"1": Male, "2": Female}', "{1: Male, 2: Female}"))
    sex = next(v for v in load_codebook(path).waves[2018].variables if v.target == "sex")
    assert sex.codes == {"1": "Male", "2": "Female"}


# -- scores -----------------------------------------------------------------------------------
def test_swemwbs_metric_scores_from_the_published_conversion_table():
    # Stewart-Brown et al. (2009) / Warwick Medical School SWEMWBS conversion table.
    published = {
        7: 7.00, 8: 9.51, 14: 15.32, 19: 17.98, 21: 19.25, 23: 20.73, 26: 23.21, 28: 25.03,
        32: 29.31, 34: 32.55, 35: 35.00,
    }  # fmt: skip
    raw = pd.Series(list(published) + [6, 36, None], dtype="Int64")
    metric = swemwbs_metric(raw)
    assert metric[: len(published)].tolist() == list(published.values())
    assert np.isnan(metric[len(published) :]).all()
    # the low-wellbeing line falls between raw 21 (19.25) and raw 22 (19.98)
    assert (
        swemwbs_metric(pd.Series([21]))[0]
        < LOW_WELLBEING_BELOW
        < swemwbs_metric(pd.Series([22]))[0]
    )


def test_audit_c_total_and_increasing_risk():
    q1 = pd.Series([0, 4, 2, 2, 3, 0, pd.NA], dtype="Int64")
    q2 = pd.Series([pd.NA, 4, 1, 2, pd.NA, 1, 1], dtype="Int64")
    q3 = pd.Series([pd.NA, 4, 1, 1, 1, pd.NA, 1], dtype="Int64")
    # never drinks -> 0; 4+4+4 = 12; 2+1+1 = 4; 2+2+1 = 5; a drinker with item 2 missing -> NA;
    # 'never' but answered item 2 anyway -> 0+1+0 = 1; item 1 missing -> NA
    total = audit_c_total(q1, q2, q3)
    assert total.tolist() == [0, 12, 4, 5, pd.NA, 1, pd.NA]
    frame = pd.DataFrame(
        {"audit_c_q1": q1, "audit_c_q2": q2, "audit_c_q3": q3}
        | {f"swemwbs_{i}": pd.Series([3] * 7, dtype="Int64") for i in range(1, 8)}
        | {"self_rated_health": ["Good"] * 7, "smoking_status": ["Never"] * 7}
    )
    risk = score_responses(frame)["is_audit_c_increasing_risk"]
    assert risk.tolist() == [False, True, False, True, pd.NA, False, pd.NA]


# -- weighted estimates -------------------------------------------------------------------------
def test_weighted_proportion_against_a_hand_calculation():
    # 30 respondents weight 1 with the outcome, 20 weight 2 without, 10 weight 3 with.
    sum_w = 30 * 1 + 20 * 2 + 10 * 3  # 100
    sum_w2 = 30 * 1 + 20 * 4 + 10 * 9  # 200
    sum_wy = 30 * 1 + 10 * 3  # 60
    p = sum_wy / sum_w  # 0.6
    n_eff = sum_w**2 / sum_w2  # Kish: 10,000 / 200 = 50
    r = p * n_eff  # 30
    z = Z95
    lower = (2 * r + z**2 - z * math.sqrt(z**2 + 4 * r * (1 - r / n_eff))) / (2 * (n_eff + z**2))
    upper = (2 * r + z**2 + z * math.sqrt(z**2 + 4 * r * (1 - r / n_eff))) / (2 * (n_eff + z**2))
    assert (p, n_eff) == (0.6, 50.0)
    assert (round(lower, 4), round(upper, 4)) == (0.4618, 0.7239)

    result = weighted_proportion(np.array([sum_w]), np.array([sum_w2]), np.array([sum_wy]))
    row = result.iloc[0]
    assert row["estimate"] == pytest.approx(0.6)
    assert row["effective_n"] == pytest.approx(50.0)
    assert row["ci_lower"] == pytest.approx(lower, abs=1e-12)
    assert row["ci_upper"] == pytest.approx(upper, abs=1e-12)
    assert row["standard_error"] == pytest.approx(math.sqrt(0.6 * 0.4 / 50))


def test_weighted_mean_against_a_hand_calculation():
    # scores 20, 22, 26 with weights 1, 1, 2
    sum_w, sum_w2 = 4.0, 1 + 1 + 4.0
    sum_wy = 20 + 22 + 2 * 26  # 94 -> mean 23.5
    sum_wy2 = 400 + 484 + 2 * 676  # 2236
    variance = sum_wy2 / sum_w - 23.5**2  # 559 - 552.25 = 6.75
    n_eff = 16 / 6
    se = math.sqrt(variance / (n_eff - 1))  # sqrt(6.75 / 1.6667) = sqrt(4.05) = 2.0125
    assert round(se, 4) == 2.0125
    row = weighted_mean([sum_w], [sum_w2], [sum_wy], [sum_wy2]).iloc[0]
    assert row["estimate"] == 23.5
    assert row["standard_error"] == pytest.approx(se)
    assert row["ci_lower"] == pytest.approx(23.5 - Z95 * se)
    assert row["ci_upper"] == pytest.approx(23.5 + Z95 * se)


def test_weighted_mean_with_equal_weights_is_the_textbook_standard_error():
    y = np.array([18.59, 20.73, 23.21, 23.21, 25.03, 29.31])
    w = np.ones_like(y)
    row = weighted_mean([w.sum()], [(w * w).sum()], [(w * y).sum()], [(w * y * y).sum()]).iloc[0]
    assert row["standard_error"] == pytest.approx(y.std(ddof=1) / math.sqrt(len(y)))


def _responses(rows: list[tuple[float, bool, str]], wave: int = 2018) -> pd.DataFrame:
    """Staged-like responses: (weight, good health?, sex)."""
    n = len(rows)
    return pd.DataFrame(
        {
            "wave_year": wave,
            "weight": [w for w, _, _ in rows],
            "sex": [s for _, _, s in rows],
            "age_band": "25-34",
            "imd_quintile": pd.array([2] * n, dtype="Int64"),
            "ethnic_group": "Asian",
            "is_good_health": pd.array([g for _, g, _ in rows], dtype="boolean"),
            "is_bad_health": pd.array([not g for _, g, _ in rows], dtype="boolean"),
            "is_current_smoker": pd.array([None] * n, dtype="boolean"),
            "is_audit_c_increasing_risk": pd.array([False] * n, dtype="boolean"),
            "swemwbs_metric_score": 23.21,
            "is_low_wellbeing": pd.array([False] * n, dtype="boolean"),
        }
    )


def test_indicators_mart_pins_the_weighted_estimate_and_ci_of_a_small_weighted_fixture():
    # The fixture of the hand calculation above: 60 men, so 'All' and 'Male' are published;
    # plus 5 women (weight 1, good health), a group too small to publish.
    rows = [(1.0, True, "Male")] * 30 + [(2.0, False, "Male")] * 20 + [(3.0, True, "Male")] * 10
    women = [(1.0, True, "Female")] * 5
    mart = weighted_indicators(_responses(rows + women))
    assert list(mart.columns) == list(INDICATOR_DESCRIPTIONS)
    good = mart[mart["indicator"] == "good_health"].set_index(["breakdown", "category"])
    male = good.loc[("Sex", "Male")]
    assert male["value"] == pytest.approx(60.0)
    assert male["ci95_lower"] == pytest.approx(46.18143774758937)
    assert male["ci95_upper"] == pytest.approx(72.39161026974346)
    assert (male["unweighted_n"], male["sum_of_weights"], male["effective_n"]) == (60, 100, 50)
    assert not male["is_withheld"]
    # all 65: Σw = 105, Σw² = 205, Σwy = 65
    everyone = good.loc[("All", "All adults")]
    assert everyone["value"] == pytest.approx(100 * 65 / 105)
    assert everyone["effective_n"] == pytest.approx(105**2 / 205)
    # 5 women: withheld as unreliable (n < 50); the team's mart keeps the count (the published
    # tier withholds counts of 1-7)
    female = good.loc[("Sex", "Female")]
    assert female["is_withheld"]
    assert pd.isna(female["value"]) and pd.isna(female["ci95_lower"])
    assert female["unweighted_n"] == 5 and female["effective_n"] == pytest.approx(5)
    # current smoking was answered by nobody: withheld, n 0 shown (zero is not disclosive)
    smoking = mart[(mart["indicator"] == "current_smoking") & (mart["breakdown"] == "All")]
    assert smoking["unweighted_n"].tolist() == [0] and smoking["is_withheld"].all()
    swemwbs = mart[(mart["indicator"] == "swemwbs_mean") & (mart["breakdown"] == "All")].iloc[0]
    assert swemwbs["value"] == pytest.approx(23.21) and swemwbs["standard_error"] == pytest.approx(
        0
    )
    # categories: those present plus 'Not known' where a value is missing, in display order
    assert good.loc["IMD quintile"].index.tolist() == ["Q2"]


def test_withheld_under_fifty_but_published_at_fifty():
    forty_nine = weighted_indicators(_responses([(1.0, True, "Male")] * 49))
    fifty = weighted_indicators(_responses([(1.0, True, "Male")] * 50))
    pick = (forty_nine["indicator"] == "good_health") & (forty_nine["breakdown"] == "All")
    assert forty_nine.loc[pick, "is_withheld"].item() and pd.isna(
        forty_nine.loc[pick, "value"].item()
    )
    assert not fifty.loc[pick, "is_withheld"].item() and fifty.loc[pick, "value"].item() == 100.0


# -- change between waves --------------------------------------------------------------------
def test_proportion_change_test_by_hand():
    p1, n1, p2, n2 = 0.78, 1800.0, 0.73, 1700.0
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)  # 2,645 / 3,500 = 0.755714
    se_null = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (p2 - p1) / se_null
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    assert round(pooled, 6) == 0.755714 and round(z, 4) == -3.4409
    result = proportion_change_test([p1], [n1], [p2], [n2]).iloc[0]
    assert result["change"] == pytest.approx(-0.05)
    assert result["z_statistic"] == pytest.approx(z)
    assert result["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))  # 0.00058
    assert round(result["p_value"], 5) == 0.00058
    assert result["ci_lower"] == pytest.approx(-0.05 - Z95 * se)
    assert result["ci_upper"] == pytest.approx(-0.05 + Z95 * se)


def test_mean_change_test_by_hand():
    se = math.sqrt(0.1**2 + 0.12**2)  # 0.156205
    z = (22.7 - 23.6) / se  # -5.7617
    result = mean_change_test([23.6], [0.1], [22.7], [0.12]).iloc[0]
    assert round(result["z_statistic"], 4) == round(z, 4) == -5.7617
    assert result["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    assert result["ci_lower"] == pytest.approx(-0.9 - Z95 * se)


def test_no_variance_means_no_change():
    result = proportion_change_test([1.0], [100.0], [1.0], [80.0]).iloc[0]
    assert result["z_statistic"] == 0 and result["p_value"] == 1


def _mart_rows(wave: int, value: float, n_eff: float, withheld: bool = False) -> dict:
    return {
        "wave_year": wave,
        "breakdown": "All",
        "category": "All adults",
        "category_order": 1,
        "indicator": "good_health",
        "indicator_name": "Good or very good health",
        "measure": "proportion",
        "unit": "%",
        "polarity": "high",
        "value": None if withheld else value,
        "standard_error": None,
        "effective_n": n_eff,
        "is_withheld": withheld,
    }


def test_wave_changes_compare_consecutive_waves_and_latest_with_first():
    mart = pd.DataFrame(
        [_mart_rows(2018, 78.0, 1800), _mart_rows(2021, 73.0, 1700), _mart_rows(2024, 74.0, 1750)]
    )
    changes = wave_changes(mart).set_index(["comparison", "from_wave", "to_wave"])
    assert changes.index.tolist() == [
        ("consecutive", 2018, 2021),
        ("consecutive", 2021, 2024),
        ("latest_vs_first", 2018, 2024),
    ]
    first = changes.loc[("consecutive", 2018, 2021)]
    assert first["change"] == pytest.approx(-5.0)
    assert first["z_statistic"] == pytest.approx(-3.4408745906328617)
    assert (first["change_direction"], first["assessment"], first["is_significant"]) == (
        "Decrease",
        "Worse",
        True,
    )
    # 73% on 1,700 to 74% on 1,750: z = 0.67, no significant change
    second = changes.loc[("consecutive", 2021, 2024)]
    assert second["change_direction"] == "No significant change"
    assert not second["is_significant"]


def test_a_withheld_wave_is_not_compared():
    mart = pd.DataFrame([_mart_rows(2018, 78.0, 1800), _mart_rows(2021, 0, 40, withheld=True)])
    row = wave_changes(mart).iloc[0]
    assert row["is_withheld"] and row["assessment"] == "Not compared"
    assert pd.isna(row["change"]) and pd.isna(row["p_value"])


def test_a_wave_of_quarantined_rows_gives_empty_marts_of_the_usual_columns_and_types(tmp_path):
    result = load(tmp_path, [GOOD.format(n=1).replace(",1.25", ",0")])  # weight 0: quarantined
    assert result.staging.empty and len(result.quarantine) == 1
    indicators = weighted_indicators(result.staging)
    # the types of marts with rows: 60 men in two waves
    men = _responses([(1.0, True, "Male")] * 60)
    two_waves = weighted_indicators(pd.concat([men, men.assign(wave_year=2021)]))
    assert len(indicators) == 0 and list(indicators.columns) == list(INDICATOR_DESCRIPTIONS)
    pd.testing.assert_series_equal(indicators.dtypes, two_waves.dtypes)
    compared = wave_changes(two_waves)
    assert len(compared) > 0
    # no wave, or one wave: nothing to compare, in the types a comparison has
    for mart in (indicators, weighted_indicators(men)):
        changes = wave_changes(mart)
        assert len(changes) == 0 and list(changes.columns) == list(CHANGE_DESCRIPTIONS)
        pd.testing.assert_series_equal(changes.dtypes, compared.dtypes)
        assert changes["from_wave"].dtype == "int64" and changes["change"].dtype == "float64"
        assert changes["is_withheld"].dtype == bool


def test_the_low_wellbeing_cut_off_is_documented_with_its_source():
    text = INDICATOR_DESCRIPTIONS["indicator_name"]
    assert f"below {LOW_WELLBEING_BELOW}" in text
    assert "Ng Fat" in text and "2010-13" in text and "standard deviation" in text
    assert textwrap.dedent(STAGING_DESCRIPTIONS["swemwbs_metric_score"]).count("Stewart-Brown") == 1


def test_line_numbers_follow_quoted_line_breaks_and_codes_are_trimmed(tmp_path):
    broken = GOOD.format(n=1).replace(",I7,", ',"I\n7",')  # a quoted field over two lines
    padded = "R2, 2 ,1,1, 3 ,2,3,2,1,0,4,4,3,3,4,4,4,I7, 1.25 "
    bad = "R3,2,1,1,3,2,3,2,1,0,4,4,3,3,4,4, 9 ,I7,1.25"
    result = load(tmp_path, [broken, padded, bad])
    staged = result.staging.set_index("respondent_id")
    assert staged["line_number"].to_dict() == {"R1": 2, "R2": 4}
    assert (staged.loc["R2", "age_band"], staged.loc["R2", "imd_quintile"]) == ("25-34", 3)
    assert staged.loc["R2", "weight"] == 1.25
    assert reasons_by_line(result) == {
        5: "swemwbs_7: ' 9 ' in column 'wb7' is outside the scale 1-5"
    }


def test_a_blank_line_is_skipped_and_a_line_of_empty_fields_is_a_respondent_quarantined(
    tmp_path,
):
    commas = "," * GOOD.count(",")
    result = load(tmp_path, [GOOD.format(n=1), "", commas, GOOD.format(n=2)])
    assert result.staging["line_number"].tolist() == [2, 5]
    assert reasons_by_line(result) == {4: CLEARED_ROW}


def test_the_indicators_mart_reads_only_its_input_columns(tmp_path):
    from cov_pipeline.household_survey import INDICATOR_INPUT_COLUMNS

    rows = [GOOD.format(n=n) for n in range(1, 61)]
    rows += [f"S{n},7,2,4,1,5,1,0,-1,-1,1,1,1,1,1,1,2,I7,0.5" for n in range(1, 61)]
    staged = load(tmp_path, rows).staging
    assert set(INDICATOR_INPUT_COLUMNS) < set(staged.columns)
    pd.testing.assert_frame_equal(
        weighted_indicators(staged[INDICATOR_INPUT_COLUMNS]), weighted_indicators(staged)
    )


def test_answers_are_harmonised_once_per_distinct_answer_with_each_row_s_reason(tmp_path):
    # the same bad answers on several rows: each row gets its own reason, with its own line
    rows = [GOOD.format(n=n) for n in range(1, 5)]
    rows[1] = rows[1].replace(",1.25", ",abc")
    rows[2] = rows[2].replace("R3,2,", "R3,9,")
    rows[3] = rows[3].replace("R4,2,", "R4,9,")
    result = load(tmp_path, rows)
    assert reasons_by_line(result) == {
        3: "weight: 'abc' in column 'wt' is not a number",
        4: "age_band: code '9' in column 'age' is not in the codebook for wave 2018",
        5: "age_band: code '9' in column 'age' is not in the codebook for wave 2018",
    }
    assert result.staging["respondent_id"].tolist() == ["R1"]


# -- damage as deliveries are damaged: the one raw reader's row and file faults (issue 13) ----
@pytest.mark.parametrize("at", [0, 2], ids=["first record", "later record"])
def test_an_unquoted_comma_is_a_fault_of_its_row_alone(tmp_path, at):
    rows = [GOOD.format(n=n) for n in (1, 2, 3)]
    rows[at] = rows[at].replace(",I7,", ",I,7,")  # an interviewer 'I,7', not quoted
    result = load(tmp_path, rows)
    assert reasons_by_line(result) == {
        at + 2: "record has 20 fields, the header 19 (extra: '1.25'; a comma in a field that is "
        "not quoted?)"
    }
    others = {"R1": 2, "R2": 3, "R3": 4}
    del others[f"R{at + 1}"]
    staged = result.staging
    assert dict(zip(staged["respondent_id"], staged["line_number"], strict=True)) == others
    assert result.rows_accounted_for == result.input_rows == 3


def test_a_row_the_reader_could_not_read_is_not_a_respondent_given_twice(tmp_path):
    # its id (perhaps not an id: its fields are not as delivered) repeats no respondent
    rows = [GOOD.format(n=1).replace(",I7,", ",I,7,"), GOOD.format(n=1)]
    result = load(tmp_path, rows)
    assert list(reasons_by_line(result)) == [2]
    assert result.staging["line_number"].tolist() == [3]


def test_a_nul_byte_inside_a_field_is_a_fault_of_its_row(tmp_path):
    rows = [GOOD.format(n=1), GOOD.format(n=2).replace(",I7,", ",I\x007,")]
    result = load(tmp_path, rows)
    assert reasons_by_line(result) == {3: "NUL byte in interviewer"}
    assert '"interviewer":"I\\u00007"' in result.quarantine.loc[0, "record"]
    assert result.staging["respondent_id"].tolist() == ["R1"]


def test_nul_padding_after_the_last_record_fails_naming_the_file(tmp_path):
    codebook, paths = write_survey(tmp_path / "household_survey", [GOOD.format(n=1)])
    paths[0].write_bytes(paths[0].read_bytes() + b"\0" * 64)
    with pytest.raises(FileFault) as fault:
        load_household_survey(codebook, paths)
    assert str(fault.value).startswith("hs_2018.csv: ends in 64 NUL byte(s) after its last record")


def test_a_wave_file_with_its_extension_in_capitals_is_found_and_read(tmp_path):
    folder = tmp_path / "household_survey"
    codebook, _ = write_survey(folder, [GOOD.format(n=1)], name="hs_2018.CSV")
    (folder / "notes.txt").write_text("fieldwork notes", encoding="utf-8")
    found = discover(folder, WAVE_PATTERN)
    # the codebook and other files are no wave files: the folder's waves are its CSV files
    assert [p.name for p in found.files] == ["hs_2018.CSV"]
    assert [p.name for p in found.ignored] == ["codebook.yaml", "notes.txt"]
    result = load_household_survey(codebook, found.files)
    assert result.staging[["respondent_id", "source_file"]].values.tolist() == [
        ["R1", "hs_2018.CSV"]
    ]


def test_a_csv_file_no_wave_describes_still_fails(tmp_path):
    folder = tmp_path / "household_survey"
    codebook, _ = write_survey(folder, [GOOD.format(n=1)])
    (folder / "Readme.CSV").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(FileFault) as fault:
        load_household_survey(codebook, discover(folder, WAVE_PATTERN).files)
    assert str(fault.value) == "Readme.CSV: no wave in codebook.yaml describes this file"


TOTALS = [
    "Total",
    "TOTAL",
    "Totals",
    "Grand total",
    "Sub-total",
    "Total (weighted)",
    "All",
    "All respondents",
    "sum",
]


@pytest.mark.parametrize("label", TOTALS)
def test_a_totals_row_is_quarantined_not_staged_as_a_respondent(tmp_path, label):
    # an export's totals line: its weight (the sum of the others') would count as one person
    total = label + "," * (GOOD.count(",") - 1) + ",2.5"
    result = load(tmp_path, [GOOD.format(n=1), GOOD.format(n=2), total])
    assert reasons_by_line(result) == {
        4: f"a totals row, not a respondent ('{label}' in column 'id')"
    }
    assert result.staging["respondent_id"].tolist() == ["R1", "R2"]


def test_a_totals_row_without_an_id_says_where_its_label_is(tmp_path):
    total = ",Total" + "," * (GOOD.count(",") - 2) + ",2.5"
    result = load(tmp_path, [GOOD.format(n=1), total])
    assert reasons_by_line(result) == {
        3: "respondent_id: missing (column 'id') | a totals row, not a respondent ('Total' in "
        "column 'age') | age_band: code 'Total' in column 'age' is not in the codebook for wave "
        "2018"
    }


@pytest.mark.parametrize("rid", ["TOT1", "Allen", "Sumner", "R-Total", "CHS18-00001", "210001"])
def test_ids_that_only_resemble_a_totals_label_are_respondents(tmp_path, rid):
    result = load(tmp_path, [GOOD.format(n=1).replace("R1,", f"{rid},", 1)])
    assert result.quarantine.empty and result.staging["respondent_id"].tolist() == [rid]


def test_answers_that_are_no_number_are_row_faults_even_in_a_whole_column(tmp_path):
    # every weight and every item 1 unreadable: reasons, not a conversion error
    rows = [
        GOOD.format(n=1).replace(",1.25", ",inf").replace("R1,2,1,1,3,2,3,2", "R1,2,1,1,3,2,3,1st"),
        GOOD.format(n=2).replace(",1.25", ",NaN").replace("R2,2,1,1,3,2,3,2", "R2,2,1,1,3,2,3,inf"),
    ]
    result = load(tmp_path, rows)
    assert reasons_by_line(result) == {
        2: "weight: 'inf' in column 'wt' is not a number | audit_c_q1: '1st' in column 'a1' is "
        "outside the scale 0-4",
        3: "weight: 'NaN' in column 'wt' is not a number | audit_c_q1: 'inf' in column 'a1' is "
        "outside the scale 0-4",
    }


def test_an_error_while_parsing_is_a_file_fault_naming_the_file(tmp_path, monkeypatch):
    import cov_pipeline.household_survey.parsing as household_survey

    def fails(text):
        raise ValueError("Cannot convert non-finite values (NA or inf) to integer")

    monkeypatch.setattr(household_survey, "_numbers", fails)
    with pytest.raises(FileFault) as fault:
        load(tmp_path, [GOOD.format(n=1)])
    assert str(fault.value) == (
        "hs_2018.csv: could not be parsed: nothing from this source was written (ValueError: "
        "Cannot convert non-finite values (NA or inf) to integer)"
    )
