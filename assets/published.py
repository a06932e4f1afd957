"""The ``published`` tier: tables fit for release outside the team, each made from its mart by
the one disclosure engine (:mod:`cov_pipeline.publishing`), audited by an intruder check, and
summarised in ``quality.disclosure_summary``.

One multi-asset per group of tables that share cells (:data:`cov_pipeline.publishing.PUBLICATIONS`):
they are protected together and written in one transaction. The engine's own audit must pass
before anything is written; the blocking ``disclosure_audit`` check then plays the intruder again
on what the warehouse holds, so exports and reports never read a table that gives a cell away.
"""

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    multi_asset,
)

from assets.checks import mart_out
from assets.kinds import warehouse_kinds
from assets.metadata import OWNERS, markdown_table, table_metadata
from cov_pipeline.disclosure import observe, summarise
from cov_pipeline.publishing import (
    DISCLOSURE_SUMMARY_DESCRIPTIONS,
    PUBLICATIONS,
    Publishing,
    changes_without_published_waves,
    publish_group,
    published_descriptions,
)
from cov_pipeline.warehouse import TableWrite, Warehouse
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource

GROUP = "published"
SUMMARY_KEY = AssetKey(["quality", "disclosure_summary"])
MAX_CELLS_SHOWN = 50


def _marts(wh: Warehouse, publishing: Publishing) -> dict[str, pd.DataFrame]:
    names = [s.name for s in publishing.specs]
    if publishing.after is not None:
        names.append("household_survey_change")
    return {name: wh.read_table("marts", name) for name in names}


def _mart_descriptions(wh: Warehouse) -> tuple[dict, dict]:
    columns = wh.describe_columns("marts")
    per_table = {
        table: dict(zip(rows["column_name"], rows["description"].fillna(""), strict=True))
        for table, rows in columns.groupby("table_name")
    }
    tables = columns.drop_duplicates("table_name").set_index("table_name")["table_description"]
    return per_table, tables.fillna("").to_dict()


def _failures_markdown(audit: pd.DataFrame) -> MetadataValue:
    failing = audit.loc[~audit["passes"], ["table_name", "row_keys", "column_name", "value"]]
    failing = failing.assign(lower=audit["lower"], upper=audit["upper"])
    return MetadataValue.md(markdown_table(failing, rows=MAX_CELLS_SHOWN))


def publication_asset(publishing: Publishing):
    """The multi-asset writing every table of ``publishing`` to ``published``."""
    tables = publishing.tables
    deps = [AssetKey(["marts", name]) for name in tables]

    @multi_asset(
        name=f"publish_{publishing.name}",
        outs={
            name: mart_out(AssetKey(["published", name]), GROUP, _describe(publishing, name))
            for name in tables
        },
        deps=deps,
        pool="warehouse",
    )
    def _publish(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
    ):
        wh = warehouse.warehouse
        with wh.session():
            marts = _marts(wh, publishing)
            descriptions, table_descriptions = _mart_descriptions(wh)
        frames, publication = publish_group(publishing, marts, settings.disclosure_rules())
        audit = publication.decision.audit
        if len(audit) and not audit["passes"].all():
            raise Failure(
                description=f"disclosure control of {', '.join(tables)} left "
                f"{int((~audit['passes']).sum())} cells recoverable; nothing was written",
            )
        writes = {
            ("published", name): TableWrite(
                frame,
                f"PUBLISHED (fit for release). {table_descriptions.get(name, '')}".strip(),
                published_descriptions(descriptions.get(name, {}), frame),
            )
            for name, frame in frames.items()
        }
        wh.replace_tables(writes)
        summary = publication.summary.set_index("table_name")
        for name, frame in frames.items():
            extra = {}
            if name in summary.index:
                row = summary.loc[name]
                extra = {
                    "withheld_share": float(row["withheld_share"]),
                    "withheld_cells": int(row["withheld_cells"]),
                    "primary_cells": int(row["primary_cells"]),
                    "secondary_cells": int(row["secondary_cells"]),
                }
            yield MaterializeResult(
                asset_key=AssetKey(["published", name]),
                metadata={
                    **table_metadata(
                        "published", name, frame, writes[("published", name)].column_descriptions,
                        warehouse=wh.display_name,
                    ),
                    "rows_with_withheld": int(frame["is_suppressed"].sum()),
                    **extra,
                },
            )  # fmt: skip

    return _publish


def _describe(publishing: Publishing, name: str) -> str:
    spec = next((s for s in publishing.specs if s.name == name), None)
    what = spec.description if spec else "Changes between survey waves."
    return f"{what} Made from marts.{name} by the disclosure engine (docs/disclosure.md)."


def audit_check(publishing: Publishing, name: str):
    """Blocking: the intruder's audit of the published tables as the warehouse holds them."""

    @asset_check(
        asset=AssetKey(["published", name]),
        name="disclosure_audit",
        blocking=True,
        pool="warehouse",
        description="Plays the intruder: by linear programming over every declared relation "
        "and published cell, the feasible interval of each withheld cell; fails where one is "
        "pinned, a count of 1-7 is narrowed below the protection width, or shown.",
    )
    def _check(
        context: AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        settings: PipelineSettings,
    ):
        wh = warehouse.warehouse
        specs = [s for s in publishing.specs if s.name == name]
        if not specs:  # derived row by row from another published table (survey changes)
            with wh.session():
                frame = wh.read_table("published", name)
                shown = wh.read_table("published", publishing.specs[0].name)
            unbacked = changes_without_published_waves(frame, shown)
            return AssetCheckResult(
                passed=len(unbacked) == 0,
                severity=AssetCheckSeverity.ERROR,
                description=f"{len(unbacked)} changes shown where a wave's estimate is withheld",
                metadata={
                    "rows_with_withheld": int(frame["is_suppressed"].sum()),
                    "failures": MetadataValue.md(markdown_table(unbacked, rows=MAX_CELLS_SHOWN)),
                },
            )
        with wh.session():
            marts = _marts(wh, publishing)
            published = {s.name: wh.read_table("published", s.name) for s in publishing.specs}
        rules = settings.disclosure_rules()
        audit = observe(published, marts, publishing.specs, publishing.links, rules)[1].audit
        mine = audit[audit["table_name"] == name]
        failing = int((~mine["passes"]).sum())
        return AssetCheckResult(
            passed=failing == 0,
            severity=AssetCheckSeverity.ERROR,
            description=f"{failing} of {len(mine)} withheld or small cells recoverable",
            metadata={
                "withheld_cells_audited": len(mine),
                "failing_cells": failing,
                "narrowest_primary_interval": float((mine["upper"] - mine["lower"]).min())
                if len(mine)
                else 0.0,
                "failures": _failures_markdown(mine),
            },
        )

    return _check


def _empty_summary() -> pd.DataFrame:
    text = {"table_name", "policy"}
    shares = {"withheld_share", "rows_withheld_share"}
    return pd.DataFrame(
        {
            c: pd.Series(dtype=object if c in text else "float64" if c in shares else "int64")
            for c in DISCLOSURE_SUMMARY_DESCRIPTIONS
        }
    )


def disclosure_summary_asset():
    @asset(
        key=SUMMARY_KEY,
        deps=PUBLISHED_KEYS,
        group_name=GROUP,
        owners=OWNERS,
        kinds=warehouse_kinds(),
        pool="warehouse",
        description="Per published table: cells withheld (primary and secondary), the share "
        "withheld and the audit's failures, read from the warehouse as an intruder sees it.",
    )
    def disclosure_summary(
        warehouse: WarehouseResource, settings: PipelineSettings
    ) -> MaterializeResult:
        wh = warehouse.warehouse
        frames, absent = [], []
        with wh.session():
            for publishing in PUBLICATIONS:
                # a source's own job on a fresh warehouse has not built the others' tables yet
                names = [s.name for s in publishing.specs]
                if not all(
                    wh.table_exists(schema, n) for n in names for schema in ("marts", "published")
                ):
                    absent += names
                    continue
                marts = _marts(wh, publishing)
                published = {s.name: wh.read_table("published", s.name) for s in publishing.specs}
                cells, decision, _ = observe(
                    published,
                    marts,
                    publishing.specs,
                    publishing.links,
                    settings.disclosure_rules(),
                )
                frames.append(summarise(published, publishing.specs, decision, cells))
        table = pd.concat(frames, ignore_index=True) if frames else _empty_summary()
        wh.replace_table(
            "quality", "disclosure_summary", table, "Disclosure control of the published tier.",
            DISCLOSURE_SUMMARY_DESCRIPTIONS,
        )  # fmt: skip
        return MaterializeResult(
            metadata={
                **table_metadata(
                    "quality", "disclosure_summary", table, DISCLOSURE_SUMMARY_DESCRIPTIONS,
                    warehouse=wh.display_name,
                ),
                "summary": MetadataValue.md(markdown_table(table, rows=50)),
                "tables_not_yet_built": MetadataValue.json(absent),
            }
        )  # fmt: skip

    return disclosure_summary


PUBLISHED_KEYS = [AssetKey(["published", n]) for p in PUBLICATIONS for n in p.tables]
PUBLISHED_ASSETS = [publication_asset(p) for p in PUBLICATIONS]
PUBLISHED_CHECKS = [audit_check(p, name) for p in PUBLICATIONS for name in p.tables]
DISCLOSURE_SUMMARY = disclosure_summary_asset()
