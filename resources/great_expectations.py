"""Great Expectations for the marts' checks, as a Dagster resource."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource, InitResourceContext

from cov_pipeline import expectations, settings


class GreatExpectationsResource(ConfigurableResource):
    """Validates marts against their suites and builds Data Docs into ``docs_dir``
    (``COV_DOCS_DIR`` in the code location, default ``data/warehouse/docs``).

    As a run that holds a GX check starts, GX is imported and its context created in a
    background thread: that takes about 3 s, which then overlaps the run's first steps (reading
    and writing tables, which leave Python's interpreter lock free much of the time) instead of
    delaying the first check. The first validation waits for it to finish.
    """

    docs_dir: str = settings.DEFAULT_DOCS_DIR

    def setup_for_execution(self, context: InitResourceContext) -> None:
        expectations.warm_up_in_background()

    def validate(
        self, table_name: str, frame: pd.DataFrame, run_name: str
    ) -> expectations.MartValidation:
        return expectations.validate_mart(table_name, frame, Path(self.docs_dir), run_name=run_name)
