"""Fetch the configured Fingertips indicators and Coventry's CIPFA neighbours into the raw zone.

A network step only: it writes files under the raw folder and never touches the warehouse. The
Fingertips loading assets read these files like any other export.
"""

import hashlib
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    Backoff,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    define_asset_job,
)

from cov_pipeline import settings
from cov_pipeline.fingertips_api import (
    FingertipsDownloadError,
    download_cipfa_neighbours,
    download_indicators,
    staged_writes,
)
from resources.fingertips_api import FingertipsApiResource
from resources.raw_files import RawFilesResource

CIPFA_NEIGHBOURS_API_FILE = "cipfa_neighbours_api.csv"

# The client already retries each request within seconds; this covers outages lasting minutes.
# Faults that waiting cannot fix (404, a body in the wrong format) fail at once instead.
FINGERTIPS_RETRY_POLICY = RetryPolicy(
    max_retries=2, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)

_FILES_SCHEMA = TableSchema(
    columns=[
        TableColumn("path", "string", description="Relative to the raw folder"),
        TableColumn("sha256", "string"),
        TableColumn("bytes", "int"),
    ]
)


@asset(
    key=["raw", "fingertips_api_download"],
    group_name="fingertips",
    kinds={"python"},
    owners=["team:public-health-intelligence"],
    description=(
        "Downloads the configured indicators from the Fingertips API into raw/fingertips/ "
        "(fingertips_api_<id>.csv, all-data CSV as published) and the home area's CIPFA nearest "
        "neighbours into raw/reference/cipfa_neighbours_api.csv. All files are replaced together "
        "or not at all; the warehouse is not touched."
    ),
    retry_policy=FINGERTIPS_RETRY_POLICY,
)
def fingertips_api_download(
    context: AssetExecutionContext,
    fingertips_api: FingertipsApiResource,
    raw_files: RawFilesResource,
) -> MaterializeResult:
    area_code = settings.home_area_code()
    neighbours_path = raw_files.source_dir("reference") / CIPFA_NEIGHBOURS_API_FILE
    try:
        with fingertips_api.get_client() as client, staged_writes() as stage:
            paths = download_indicators(
                client,
                fingertips_api.indicator_ids,
                raw_files.source_dir("fingertips"),
                fingertips_api.child_area_type_id,
                fingertips_api.parent_area_type_id,
                stage=stage,
            )
            paths.append(
                download_cipfa_neighbours(
                    client, area_code, neighbours_path, fingertips_api.child_area_type_id, stage
                )
            )
    except FingertipsDownloadError as exc:
        raise Failure(
            description=str(exc),
            metadata={"url": exc.url, "attempts": exc.attempts, "retryable": exc.retryable},
            allow_retries=exc.retryable,
        ) from exc

    files = [_file_record(path, Path(raw_files.raw_dir)) for path in paths]
    context.log.info(f"Wrote {len(files)} files from {fingertips_api.base_url}")
    return MaterializeResult(
        metadata={
            "files": MetadataValue.table(files, schema=_FILES_SCHEMA),
            "indicator_ids": MetadataValue.json(list(fingertips_api.indicator_ids)),
            "base_url": MetadataValue.url(fingertips_api.base_url),
            "home_area_code": area_code,
            "raw_dir": MetadataValue.path(raw_files.raw_dir),
        }
    )


def _file_record(path: Path, raw_dir: Path) -> TableRecord:
    data = path.read_bytes()
    return TableRecord(
        {
            "path": path.relative_to(raw_dir).as_posix(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    )


fingertips_download_job = define_asset_job(
    "fingertips_download", selection=[fingertips_api_download]
)
