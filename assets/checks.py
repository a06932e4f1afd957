"""What every source's staging asset declares and publishes: its tables, their metadata and its
checks."""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from assets.kinds import warehouse_kinds
from assets.metadata import OWNERS, markdown_table, table_metadata
from cov_pipeline.quality import (
    IDENTICAL_COPY,
    QUARANTINE_DESCRIPTIONS,
    REVISED,
    REVISION_DESCRIPTIONS,
    REVISIONS_DESCRIPTION,
    SourceFile,
)
from cov_pipeline.warehouse import TableWrite, Warehouse

SAMPLE_SIZE = 20


def repeats_metadata(
    log, table: str, revisions: pd.DataFrame, conflicting_rows: int
) -> dict[str, int]:
    """Log what a source's rule for records seen twice decided (copies collapsed, versions
    revised by a later publication, rows of conflicting versions quarantined), and return the
    counts for the staging table's metadata."""
    counts = {
        "identical_copies_collapsed": int((revisions["outcome"] == IDENTICAL_COPY).sum()),
        "revised_by_later_publication": int((revisions["outcome"] == REVISED).sum()),
        "conflicting_rows_quarantined": conflicting_rows,
    }
    log.info(
        f"records seen twice: {counts['identical_copies_collapsed']} identical copies "
        f"collapsed and {counts['revised_by_later_publication']} earlier versions revised by a "
        f"later publication (quality.{table}), {conflicting_rows} rows of conflicting versions "
        "quarantined"
    )
    return counts


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


def staging_asset(
    name: str,
    group: str,
    staging: Mapping[AssetKey, tuple[str, str]],
    quarantine_key: AssetKey,
    quarantine_description: str,
    deps: Sequence[AssetKey] = (),
    revisions_key: AssetKey | None = None,
) -> Callable[[Callable[..., Iterator]], AssetsDefinition]:
    """The multi-asset decorator of a source's staging step. ``staging`` maps each staging table
    to its description and the source's name as that table's checks word it. Every table and
    the quarantine (and the revisions table, where the source declares one) share the source's
    group, the owners and kinds and the ``deps``; each staging table gets the blocking
    quarantine checks; the step runs in the warehouse pool."""
    descriptions = {key: description for key, (description, _) in staging.items()}
    descriptions[quarantine_key] = quarantine_description
    if revisions_key is not None:
        descriptions[revisions_key] = REVISIONS_DESCRIPTION
    specs = [
        AssetSpec(
            key,
            deps=deps,
            group_name=group,
            owners=OWNERS,
            kinds=warehouse_kinds(),
            description=description,
        )
        for key, description in descriptions.items()
    ]
    return multi_asset(
        name=name,
        specs=specs,
        check_specs=[
            spec
            for key, (_, source) in staging.items()
            for spec in quarantine_check_specs(key, source)
        ],
        pool="warehouse",
    )


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


class SourceLoad(Protocol):
    """What a source's loader returns for one staging table (``MsdsLoad``, ``TableLoad``, ...)."""

    staging: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[SourceFile]
    input_rows: int

    @property
    def rows_accounted_for(self) -> int: ...


@dataclass(frozen=True)
class StagedTable:
    """One staging table of a source with what its rows account for: the rows read for it, the
    rows staged or quarantined, and its share of the quarantine."""

    key: AssetKey
    write: TableWrite
    input_rows: int
    rows_accounted_for: int
    quarantine: pd.DataFrame
    files: Sequence[SourceFile]
    metadata: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_load(
        cls,
        key: AssetKey,
        load: SourceLoad,
        description: str,
        column_descriptions: Mapping[str, str],
        metadata: Mapping[str, object] | None = None,
    ) -> Self:
        """The staging table of ``key`` as its source's loader left it."""
        return cls(
            key,
            TableWrite(load.staging, description, column_descriptions),
            load.input_rows,
            load.rows_accounted_for,
            load.quarantine,
            load.files,
            metadata or {},
        )


def publish_staging(
    warehouse: Warehouse,
    staged: Sequence[StagedTable],
    quarantine_key: AssetKey,
    quarantine: pd.DataFrame,
    quarantine_description: str,
    files: Iterable[SourceFile],
    revisions: tuple[AssetKey, pd.DataFrame] | None = None,
    *,
    ceiling: float,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Replace a source's staging tables and its quarantine in one transaction (all change or
    none does), then report each table's metadata and the two quarantine checks per staging
    table (the quarantine share against ``ceiling``): the body every staging asset shares.

    The checks are decided before anything is written: when a blocking one fails, its result is
    reported and the step fails with nothing written (staging, quarantine and their checks
    change together or not at all), so the warehouse keeps the previous run's tables."""
    checks = [
        result
        for table in staged
        for result in quarantine_checks(
            table.key, table.input_rows, table.rows_accounted_for, table.quarantine, ceiling
        )
    ]
    failed = [c for c in checks if not c.passed]
    if failed:
        yield from failed
        _refuse(failed, quarantine)
    writes = {("staging", t.key.path[1]): t.write for t in staged}
    writes[("quality", quarantine_key.path[1])] = TableWrite(
        quarantine, quarantine_description, QUARANTINE_DESCRIPTIONS
    )
    if revisions is not None:
        writes[("quality", revisions[0].path[1])] = TableWrite(
            revisions[1], REVISIONS_DESCRIPTION, REVISION_DESCRIPTIONS
        )
    warehouse.replace_tables(writes)
    target = warehouse.display_name
    for table in staged:
        yield MaterializeResult(
            asset_key=table.key,
            metadata={
                **table_metadata(
                    "staging",
                    table.key.path[1],
                    table.write.frame,
                    table.write.column_descriptions,
                    table.files,
                    target,
                ),
                "input_rows": table.input_rows,
                **table.metadata,
            },
        )
    yield MaterializeResult(
        asset_key=quarantine_key,
        metadata=table_metadata(
            "quality",
            quarantine_key.path[1],
            quarantine,
            QUARANTINE_DESCRIPTIONS,
            list(files),
            target,
        ),
    )
    if revisions is not None:
        key, frame = revisions
        yield MaterializeResult(
            asset_key=key,
            metadata={
                **table_metadata(
                    "quality", key.path[1], frame, REVISION_DESCRIPTIONS, list(files), target
                ),
                "revised": int((frame["outcome"] == REVISED).sum()),
                "identical_copies": int((frame["outcome"] == IDENTICAL_COPY).sum()),
            },
        )
    yield from checks


def _refuse(failed: Sequence[AssetCheckResult], quarantine: pd.DataFrame) -> None:
    """Fail the step before anything is written, saying which checks failed and why."""
    from dagster import Failure

    what = "; ".join(
        f"{c.asset_key.to_user_string()} {c.check_name}"
        + (f" ({c.description})" if c.description else "")
        for c in failed
    )
    raise Failure(
        description=f"blocking check(s) failed: {what}. Nothing was written; the warehouse "
        "keeps its previous staging, quarantine and marts",
        metadata={
            "quarantined_rows": len(quarantine),
            "quarantine_sample": MetadataValue.md(
                markdown_table(
                    quarantine[["source_file", "line_number", "reasons"]], rows=SAMPLE_SIZE
                )
            ),
        },
    )


def publish_mart(
    wh: Warehouse,
    key: AssetKey,
    table: pd.DataFrame,
    table_description: str,
    column_descriptions: Mapping[str, str],
    metadata: Mapping[str, object] | None = None,
) -> MaterializeResult:
    """Replace a mart (``key`` is ``[schema, table]``) in the warehouse, whole and described,
    and report it: the table metadata every mart shows, then the mart's own charts and
    summaries (``metadata``)."""
    schema, name = key.path
    wh.replace_table(schema, name, table, table_description, column_descriptions)
    return MaterializeResult(
        metadata={
            **table_metadata(schema, name, table, column_descriptions, warehouse=wh.display_name),
            **(metadata or {}),
        }
    )


def mart_out(key: AssetKey, group: str, description: str) -> AssetOut:
    """One table of a multi-asset writing marts (the published tier): owned, kinded and fresh
    by the nightly deadline like every mart (see :func:`mart_asset`)."""
    from assets.automation import MARTS_FRESHNESS

    return AssetOut(
        key=key,
        group_name=group,
        owners=OWNERS,
        kinds=warehouse_kinds(),
        freshness_policy=MARTS_FRESHNESS,
        description=description,
    )


def mart_asset(
    key: AssetKey,
    group: str,
    deps: Sequence[AssetKey],
    description: str,
    check_specs: Sequence[AssetCheckSpec] = (),
) -> Callable[[Callable[..., object]], AssetsDefinition]:
    """The decorator of a mart: built from ``deps`` in the source's ``group``, owned, kinded and
    run in the warehouse pool like every mart, and fresh by the nightly deadline (the one
    freshness policy of the marts, set here and nowhere else)."""
    from dagster import asset

    from assets.automation import MARTS_FRESHNESS

    return asset(
        key=key,
        deps=list(deps),
        freshness_policy=MARTS_FRESHNESS,
        group_name=group,
        owners=OWNERS,
        kinds=warehouse_kinds(),
        pool="warehouse",
        description=description,
        check_specs=list(check_specs) or None,
    )
