"""Household survey, the descriptions: what every column of
``staging.household_survey_responses`` and of the marts ``marts.household_survey_indicators`` and
``marts.household_survey_change`` holds, written into the warehouse and the published tier.
"""

from __future__ import annotations

from cov_pipeline.household_survey.definitions import LOW_WELLBEING_BELOW, MIN_UNWEIGHTED_N

# -- staging.household_survey_responses -------------------------------------------------------
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


# -- marts: indicators and change between waves -----------------------------------------------
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
