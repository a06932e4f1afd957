"""What the pipeline tests share: materialising assets on a raw folder and a warehouse with the
project's resources, and the message of a failed step."""

from collections.abc import Sequence
from pathlib import Path

from dagster import AssetSelection, DagsterInstance, ExecuteInProcessResult, materialize

from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings
from resources.warehouse import WarehouseResource


def pipeline_resources(raw_dir: Path | str, url: str) -> dict:
    """The resources a run uses: the raw zone at ``raw_dir``, the warehouse at ``url`` and the
    settings from the environment (which tests set with monkeypatch)."""
    return {
        "warehouse": WarehouseResource(url=url),
        "raw_files": RawFilesResource(raw_dir=str(raw_dir)),
        "settings": PipelineSettings(),
    }


def materialize_on(
    assets: Sequence,
    raw_dir: Path | str,
    url: str,
    *,
    selection: AssetSelection | None = None,
    instance: DagsterInstance | None = None,
    tags: dict[str, str] | None = None,
) -> ExecuteInProcessResult:
    """Materialise ``assets`` (or ``selection`` of them) in-process on a fresh ephemeral
    instance unless one is given; a failed step fails the result, it does not raise."""
    return materialize(
        assets,
        selection=selection,
        resources=pipeline_resources(raw_dir, url),
        instance=instance or DagsterInstance.ephemeral(),
        tags=tags,
        raise_on_error=False,
    )


def failure_message(result: ExecuteInProcessResult, step: str | None = None) -> str:
    """The description of the run's first failed step (or of the step ``step``)."""
    failure = next(e for e in result.all_events if e.is_step_failure and step in (None, e.step_key))
    return failure.step_failure_data.user_failure_data.description
