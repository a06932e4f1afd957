"""The monthly marts rebuilt by month when a run asks for months (the run tag ``cov/months``,
:mod:`cov_pipeline.months`), and whole otherwise; what was rebuilt shows in each mart's
materialisation (``months_rebuilt``, ``staging_rows_read``)."""

from collections.abc import Callable, Sequence

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MetadataValue

from cov_pipeline.months import MONTHS_TAG, RebuildWhole, months_text, parse_months
from cov_pipeline.warehouse import Warehouse, qualified

# What a build returns: the mart, the staging rows it read and the months it recomputed (None:
# every month).
Built = tuple[pd.DataFrame, int, Sequence[pd.Timestamp] | None]


def months_asked(context: AssetExecutionContext) -> list[pd.Timestamp]:
    """The months the run asks to rebuild (none: every month)."""
    text = context.run.tags.get(MONTHS_TAG, "").strip()
    return parse_months(text) if text else []


def first_and_last(wh: Warehouse, table: str, first: str, last: str | None = None) -> tuple:
    """The month of the earliest ``first`` and of the latest ``last`` (default ``first``) in the
    staging table ``table``, worked out by the database; :class:`RebuildWhole` if it is empty."""
    row = wh.query(
        f'SELECT min("{first}") AS first, max("{last or first}") AS last '
        f"FROM {qualified('staging', table)}"
    ).iloc[0]
    if pd.isna(row["first"]) or pd.isna(row["last"]):
        raise RebuildWhole(f"staging.{table} holds no dated rows")
    return tuple(pd.Timestamp(row[end]).to_period("M").to_timestamp() for end in ("first", "last"))


def rebuild_by_month(
    context: AssetExecutionContext,
    wh: Warehouse,
    key: AssetKey,
    whole: Callable[[], Built],
    by_month: Callable[[pd.DataFrame, list[pd.Timestamp]], Built],
) -> tuple[pd.DataFrame, dict]:
    """The mart ``key``: ``by_month`` (given the stored mart and the months) where the run asks
    for months and the stored mart allows it, else ``whole``; with the metadata saying which
    months were recomputed from how many staging rows."""
    name = key.path[1]
    months = months_asked(context)
    metadata: dict = {}
    if months:
        try:
            if not wh.table_exists("marts", name):
                raise RebuildWhole("it does not exist yet")
            table, read, rebuilt = by_month(wh.read_table("marts", name), months)
        except RebuildWhole as reason:
            context.log.warning(
                f"marts.{name} rebuilt whole, not by month ({months_text(months)}): {reason}"
            )
            metadata["rebuilt_whole_because"] = str(reason)
        else:
            context.log.info(
                f"marts.{name}: {months_text(rebuilt)} recomputed from {read} staging rows, the "
                "other months kept as stored; SPC recomputed over the whole series"
            )
            return table, {
                "months_rebuilt": MetadataValue.text(months_text(rebuilt)),
                "staging_rows_read": read,
            }
    table, read, _ = whole()
    return table, {**metadata, "months_rebuilt": "every month", "staging_rows_read": read}
