"""Where the raw extracts live: one folder per source under the raw zone (``COV_RAW_DIR``)."""

from pathlib import Path

from dagster import ConfigurableResource

from cov_pipeline import settings
from cov_pipeline.raw_reader import discover


class RawFilesResource(ConfigurableResource):
    """The raw zone: ``raw_dir``, and how long a file must rest unmodified
    (``settle_seconds``) before the sensors take it for news rather than a copy in progress."""

    raw_dir: str = settings.DEFAULT_RAW_DIR
    settle_seconds: int = settings.DEFAULT_RAW_SETTLE_SECONDS

    def source_dir(self, source: str) -> Path:
        return Path(self.raw_dir) / source

    def files(self, source: str, pattern: str) -> list[Path]:
        """Files of a source matching a glob pattern (the extension in any case), sorted by
        name, hidden files ignored; a folder that cannot be read raises FileFault."""
        return discover(self.source_dir(source), pattern).files
