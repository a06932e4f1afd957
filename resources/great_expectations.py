"""Great Expectations for the marts' checks, as a Dagster resource."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from cov_pipeline import expectations, settings


class GreatExpectationsResource(ConfigurableResource):
    """Validates marts against their suites and builds Data Docs into ``docs_dir``
    (``COV_DOCS_DIR`` in the code location, default ``data/warehouse/docs``).

    GX is imported, and its context created, by the first validation of a process (about 3 s).
    Not earlier in a background thread: importing in two threads at once can hand one of them a
    half-imported module (a run failed so, in SQLAlchemy, when its first step's import met GX's).
    """

    docs_dir: str = settings.DEFAULT_DOCS_DIR

    def validate(
        self, table_name: str, frame: pd.DataFrame, run_name: str
    ) -> expectations.MartValidation:
        return expectations.validate_mart(table_name, frame, Path(self.docs_dir), run_name=run_name)
