"""Where the raw extracts live: one folder per source under the raw zone (``COV_RAW_DIR``)."""

from pathlib import Path

from dagster import ConfigurableResource

from cov_pipeline import settings


class RawFilesResource(ConfigurableResource):
    """The raw zone: ``raw_dir``, and how long a file must rest unmodified
    (``settle_seconds``) before the sensors take it for news rather than a copy in progress."""

    raw_dir: str = settings.DEFAULT_RAW_DIR
    settle_seconds: int = settings.DEFAULT_RAW_SETTLE_SECONDS

    def source_dir(self, source: str) -> Path:
        return Path(self.raw_dir) / source

    def files(self, source: str, pattern: str) -> list[Path]:
        """Files of a source matching a glob pattern, sorted by name (hidden files ignored)."""
        folder = self.source_dir(source)
        return sorted(
            (p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
