"""Where the raw extracts live: one folder per source under the raw zone (``COV_RAW_DIR``)."""

from collections.abc import Sequence
from pathlib import Path

from dagster import ConfigurableResource

from cov_pipeline import settings
from cov_pipeline.raw_reader import discover, matches


class RawFilesResource(ConfigurableResource):
    """The raw zone: ``raw_dir``, and how long a file must rest unmodified
    (``settle_seconds``) before the sensors take it for news rather than a copy in progress."""

    raw_dir: str = settings.DEFAULT_RAW_DIR
    settle_seconds: int = settings.DEFAULT_RAW_SETTLE_SECONDS

    def source_dir(self, source: str) -> Path:
        return Path(self.raw_dir) / source

    def discover(
        self,
        log,
        source: str,
        patterns: str | Sequence[str],
        what: str,
        others: Sequence[str] = (),
    ) -> list[Path]:
        """The files of a source's folder matching its ``patterns`` (the extension in any case),
        logged as read; the folder's other files are named in a warning, unless they match
        ``others`` (names or patterns of other sources sharing the folder, the codebook). A
        folder that cannot be read raises FileFault."""
        folder = self.source_dir(source)
        found = discover(folder, patterns)
        log.info(f"reading {len(found.files)} {what} from {folder}")
        ignored = [p.name for p in found.ignored if not any(matches(p.name, o) for o in others)]
        if ignored:
            listed = ", ".join(patterns) if not isinstance(patterns, str) else patterns
            log.warning(f"ignored, not {what} ({listed}): {', '.join(ignored)}")
        return found.files

    def files(self, source: str, pattern: str) -> list[Path]:
        """Files of a source matching a glob pattern (the extension in any case), sorted by
        name, hidden files ignored; a folder that cannot be read raises FileFault."""
        return discover(self.source_dir(source), pattern).files
