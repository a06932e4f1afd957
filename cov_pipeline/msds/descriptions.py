"""MSDS, the descriptions: what every column of ``staging.msds`` and of
``marts.maternity_vs_england`` holds, written into the warehouse and the published tier.
"""

# -- staging.msds ----------------------------------------------------------------------------
STAGING_DESCRIPTIONS = {
    "period_type": "financial_year (annual files), month, or period (any other reporting span).",
    "period": "Period label: '2020-21' for a financial year, '2023-04' for a month.",
    "period_start": "First day of the reporting period.",
    "period_end": "Last day of the reporting period.",
    "dimension": "MSDS dimension, normalised to its current name (e.g. GestationLengthBirth).",
    "dimension_as_published": "Dimension name as the file wrote it.",
    "org_level": "Organisation level: National (England), Provider, or as published.",
    "org_code": "Organisation code as published (provider code such as RKB; 'National' or 'ALL' for England).",
    "org_name": "Organisation name as published.",
    "is_england": "True for the national (all submitters) rows.",
    "measure": "Category of the dimension, normalised across releases ('2' and '02' are '02'); null on totals.",
    "measure_as_published": "Category label as the file wrote it; null on a restored zero row.",
    "count_of": "What is counted: Deliveries, Babies or Women.",
    "value": "The count; null where blank or suppressed in the file (never zero); 0 on a restored row.",
    "is_suppressed": "True where the file withheld the value ('*').",
    "is_rounded": "True where the file's counts arrived rounded to the nearest 5 (every count a multiple of 5): not to be rounded again.",
    "is_restored_zero": "True for a category the file omitted because its count was zero (MSDS omits zero rows); value 0.",
    "source_file": "Raw file the row came from (a restored row: the file of its dimension's other rows).",
    "line_number": "Line of that file where the row starts; null on a restored zero row.",
    "source_row_count": "Identical copies of the row across files (0 for a restored zero).",
}

# -- marts.maternity_vs_england --------------------------------------------------------------
MART_DESCRIPTIONS = {
    "period_type": "financial_year or month (MSDS annual or monthly publication).",
    "period": "Period label: '2020-21' (April to March) or '2023-04'.",
    "period_start": "First day of the period.",
    "period_end": "Last day of the period.",
    "org_level": "National (England) or Provider.",
    "org_code": "Organisation code as MSDS publishes it (RKB: University Hospitals Coventry and Warwickshire).",
    "org_name": "Organisation name as published.",
    "is_england": "True for England (all submitters), the benchmark of the other rows.",
    "measure_id": "late_booking, preterm, extremely_preterm or most_deprived_30pct.",
    "measure_name": "What the percentage counts.",
    "definition": "The MSDS dimension and the categories summed in numerator and denominator.",
    "numerator": "Deliveries or babies counted (MSDS counts, rounded to 5 by the publisher); null where blank or '*' in the publication.",
    "denominator": "Deliveries or babies with the item recorded (sum of rounded counts); null where a part is blank.",
    "value_pct": "numerator / denominator × 100.",
    "ci95_lower": "Lower 95% confidence limit (Wilson score interval), %.",
    "ci95_upper": "Upper 95% confidence limit (Wilson score interval), %.",
    "total_deliveries": "All deliveries of the organisation in the period (TotalDeliveries).",
    "total_babies": "All babies of the organisation in the period (TotalBabies).",
    "england_value_pct": "England's value of the same measure and period, %.",
    "polarity": "low (lower is better: late booking, prematurity) or none (deprivation share: no judgement).",
    "compared_to_england": (
        "Similar where England's value lies inside the 95% CI; otherwise Better/Worse (polarity "
        "low) or Lower/Higher (no polarity); null for England; 'Not "
        "compared' where a figure is missing."
    ),
    "is_rounded_input": "True where the MSDS counts arrived rounded to 5: already rounded, not rounded again.",
}
