"""Quality assets: every source's quarantine in one table, and a per-source summary of the run,
built for the registered sources (:mod:`assets.registry`)."""

from collections.abc import Sequence

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult

from assets.checks import mart_asset, publish_mart
from assets.registry import Source
from cov_pipeline.quality import (
    QUARANTINE_DESCRIPTIONS,
    RUN_SUMMARY_DESCRIPTIONS,
    empty_quarantine,
)
from resources.warehouse import WarehouseResource

QUARANTINE = AssetKey(["quality", "quarantine"])
RUN_SUMMARY = AssetKey(["quality", "run_summary"])


def quality_assets(sources: Sequence[Source]) -> list[AssetsDefinition]:
    """``quality.quarantine`` and ``quality.run_summary`` over ``sources``."""
    listed = {s.name: (s.quarantine, list(s.staging)) for s in sources}

    @mart_asset(
        QUARANTINE,
        "reporting",
        [AssetKey(["quality", table]) for table, _ in listed.values()],
        description="Every rejected row of every source: its source file, line number and reasons.",
    )
    def quarantine(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        wh = warehouse.warehouse
        present = set(wh.list_tables("quality"))
        missing = [table for table, _ in listed.values() if table not in present]
        if missing:  # a source's job has not run yet on this warehouse: nothing of it to list
            context.log.warning(f"no quarantine table yet for: {', '.join(missing)}")
        frames = [wh.read_table("quality", t) for t, _ in listed.values() if t in present]
        table = pd.concat([empty_quarantine(), *frames], ignore_index=True)
        table = table.sort_values(["source", "source_file", "line_number"], kind="stable")
        table = table.reset_index(drop=True).astype({"line_number": "int64"})
        return publish_mart(wh, QUARANTINE, table, "Every rejected row.", QUARANTINE_DESCRIPTIONS)

    @mart_asset(
        RUN_SUMMARY,
        "reporting",
        [QUARANTINE, *(AssetKey(["staging", t]) for _, tables in listed.values() for t in tables)],
        description="Per source: rows staged, rows quarantined and the quarantine share.",
    )
    def run_summary(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        wh = warehouse.warehouse
        quarantined = wh.read_table("quality", "quarantine", ["source"])["source"].value_counts()
        present = set(wh.list_tables("staging"))
        rows = []
        for source, (_, tables) in listed.items():
            if not set(tables) <= present:
                context.log.warning(f"{source}: not staged yet on this warehouse")
                continue
            staged = sum(wh.row_count("staging", t) for t in tables)
            bad = int(quarantined.get(source, 0))
            total = staged + bad
            rows.append(
                {
                    "source": source,
                    "staged_rows": staged,
                    "quarantined_rows": bad,
                    "quarantine_share": bad / total if total else 0.0,
                    "staging_tables": ", ".join(f"staging.{t}" for t in tables),
                }
            )
        table = pd.DataFrame(rows, columns=list(RUN_SUMMARY_DESCRIPTIONS))
        return publish_mart(
            wh,
            RUN_SUMMARY,
            table,
            "Rows staged and quarantined per source.",
            RUN_SUMMARY_DESCRIPTIONS,
        )

    return [quarantine, run_summary]
