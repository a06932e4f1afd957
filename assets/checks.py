"""Asset checks every source reports, built from the outcome of its validation."""

from collections.abc import Iterator

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from assets.metadata import markdown_table

SAMPLE_SIZE = 20


def quarantine_check_specs(asset_key: AssetKey, source: str) -> list[AssetCheckSpec]:
    """The blocking checks of a source's staging asset (yielded by :func:`quarantine_checks`)."""
    return [
        AssetCheckSpec(
            "rows_accounted_for",
            asset=asset_key,
            blocking=True,
            description=f"Every {source} input row is staged or quarantined: nothing is silently "
            "dropped.",
        ),
        AssetCheckSpec(
            "quarantine_share_within_ceiling",
            asset=asset_key,
            blocking=True,
            description="The share of input rows quarantined is at most COV_QUARANTINE_CEILING "
            "(default 5%); above it the marts are not refreshed.",
        ),
    ]


def quarantine_checks(
    asset_key: AssetKey,
    input_rows: int,
    rows_accounted_for: int,
    quarantine: pd.DataFrame,
    ceiling: float,
) -> Iterator[AssetCheckResult]:
    """The two checks every source reports: rows add up, and the quarantine share is acceptable."""
    yield AssetCheckResult(
        check_name="rows_accounted_for",
        asset_key=asset_key,
        passed=rows_accounted_for == input_rows,
        metadata={"input_rows": input_rows, "rows_accounted_for": rows_accounted_for},
    )
    share = len(quarantine) / input_rows if input_rows else 0.0
    by_reason = (
        quarantine["reasons"].str.split(" | ", regex=False).explode().str.split(":").str[0]
        .value_counts().rename_axis("rule").reset_index(name="rows")
    )  # fmt: skip
    yield AssetCheckResult(
        check_name="quarantine_share_within_ceiling",
        asset_key=asset_key,
        passed=share <= ceiling,
        severity=AssetCheckSeverity.ERROR,
        description=f"{len(quarantine)} of {input_rows} rows quarantined ({share:.1%}; ceiling {ceiling:.0%})",
        metadata={
            "failure_count": len(quarantine),
            "quarantine_share": MetadataValue.float(share),
            "ceiling": MetadataValue.float(ceiling),
            "failures_by_rule": MetadataValue.md(markdown_table(by_reason, rows=50)),
            "failure_sample": MetadataValue.md(
                markdown_table(
                    quarantine[["source_file", "line_number", "reasons"]], rows=SAMPLE_SIZE
                )
            ),
        },
    )
