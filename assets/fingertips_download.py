"""Fetch the configured Fingertips indicators and Coventry's CIPFA neighbours into the raw zone.

A network step only, kept out of the asset graph: it is the op of its own job
(``fingertips_download``), not an asset, so "Materialize all", ``refresh_all`` and every source
job rebuild tables from the raw zone without ever calling the network. It writes files under the
raw folder and never touches the warehouse; the raw-folder sensors see the new files and start
the jobs that load them, as for any export saved by hand.

It has no step retry policy: the client retries transient faults itself, within the download's
deadline, so the deadline bounds the whole download and a step retry cannot start the clock
again. A host that cannot be reached fails the run in seconds.
"""

import hashlib
from pathlib import Path

from dagster import (
    Failure,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    TableColumn,
    TableRecord,
    TableSchema,
    job,
    op,
)

from cov_pipeline.fingertips_api import (
    FingertipsDownloadError,
    download_cipfa_neighbours,
    download_indicators,
    staged_writes,
)
from resources.fingertips_api import FingertipsApiResource
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings

CIPFA_NEIGHBOURS_API_FILE = "cipfa_neighbours_api.csv"

_FILES_SCHEMA = TableSchema(
    columns=[
        TableColumn("path", "string", description="Relative to the raw folder"),
        TableColumn("sha256", "string"),
        TableColumn("bytes", "int"),
    ]
)


@op(
    description=(
        "Downloads the configured indicators from the Fingertips API into raw/fingertips/ "
        "(fingertips_api_<id>.csv, all-data CSV as published) and the home area's CIPFA nearest "
        "neighbours into raw/reference/cipfa_neighbours_api.csv. All files are replaced together "
        "or not at all; the warehouse is not touched."
    ),
    out=Out(Nothing, description="The files written, as metadata."),
)
def fingertips_api_download(
    context: OpExecutionContext,
    fingertips_api: FingertipsApiResource,
    raw_files: RawFilesResource,
    settings: PipelineSettings,
) -> Output:
    """Download the whole set into staged files and move them into place only if all arrived.

    A fault of any kind (unreachable host, deadline, size cap, a wrong body) fails the step with
    the client's one-line message and leaves the raw folder as it was.
    """
    area_code = settings.home_area()
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
        ) from exc

    files = [_file_record(path, Path(raw_files.raw_dir)) for path in paths]
    context.log.info(f"Wrote {len(files)} files from {fingertips_api.base_url}")
    return Output(
        None,
        metadata={
            "files": MetadataValue.table(files, schema=_FILES_SCHEMA),
            "indicator_ids": MetadataValue.json(list(fingertips_api.indicator_ids)),
            "base_url": MetadataValue.url(fingertips_api.base_url),
            "home_area_code": area_code,
            "raw_dir": MetadataValue.path(raw_files.raw_dir),
        },
    )


def _file_record(path: Path, raw_dir: Path) -> TableRecord:
    """The file's path, SHA-256 and size, hashed a block at a time (a download may be large)."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return TableRecord(
        {
            "path": path.relative_to(raw_dir).as_posix(),
            "sha256": digest,
            "bytes": path.stat().st_size,
        }
    )


@job(
    name="fingertips_download",
    description=(
        "Download from the Fingertips API into the raw zone, on demand. Not an asset: no rebuild "
        "calls the network; the raw-folder sensors load what it writes."
    ),
    tags={"network": "fingertips_api"},
)
def fingertips_download_job() -> None:
    fingertips_api_download()
