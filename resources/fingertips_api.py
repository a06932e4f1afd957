"""The Fingertips API as a Dagster resource: endpoint, bounds, retries and the indicators to fetch."""

from dagster import ConfigurableResource
from pydantic import Field

from cov_pipeline import settings
from cov_pipeline.fingertips_api import (
    DEFAULT_CHILD_AREA_TYPE_ID,
    DEFAULT_PARENT_AREA_TYPE_ID,
    FingertipsClient,
)

# The key maternity and infant indicators (docs/definitions.md, "Sources"): infant mortality, neonatal mortality,
# stillbirths, premature births, low birth weight of term babies, smoking at time of delivery.
DEFAULT_INDICATOR_IDS = (92196, 92705, 92530, 91743, 20101, 93085)


class FingertipsApiResource(ConfigurableResource):
    """Settings for downloading from the Fingertips API; ``get_client`` builds the HTTP client."""

    base_url: str = Field(
        default=settings.DEFAULT_FINGERTIPS_API_URL,
        description="Fingertips API root, ending in /api/ (COV_FINGERTIPS_API_URL).",
    )
    connect_timeout_seconds: float = Field(
        default=10.0, description="Seconds to wait for each connection to open."
    )
    read_timeout_seconds: float = Field(
        default=30.0,
        description="Seconds to wait for each piece of an answer (does not stop a trickle; the "
        "deadline does).",
    )
    max_retries: int = Field(
        default=3,
        description="Retries per request after the first attempt (429, 5xx, timeouts, a dropped "
        "connection); a host that cannot be reached is not retried.",
    )
    backoff_seconds: float = Field(
        default=1.0, description="Wait before the first retry; doubles with each further retry."
    )
    deadline_seconds: int = Field(
        default=settings.DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
        description="The whole download, every request and retry included, ends within this "
        "many seconds (COV_DOWNLOAD_DEADLINE_SECONDS).",
    )
    max_bytes: int = Field(
        default=settings.DEFAULT_DOWNLOAD_MAX_BYTES,
        description="Largest answer accepted, in bytes (COV_DOWNLOAD_MAX_BYTES).",
    )
    indicator_ids: list[int] = Field(
        default=list(DEFAULT_INDICATOR_IDS), description="Fingertips indicator ids to download."
    )
    child_area_type_id: int = Field(
        default=DEFAULT_CHILD_AREA_TYPE_ID,
        description="Area type of the rows (502: Counties & UAs from Apr 2023).",
    )
    parent_area_type_id: int = Field(
        default=DEFAULT_PARENT_AREA_TYPE_ID,
        description="Area type of the parents (15: England regions).",
    )

    def get_client(self) -> FingertipsClient:
        """A client for one download: its deadline clock starts now."""
        return FingertipsClient(
            base_url=self.base_url,
            connect_timeout_seconds=self.connect_timeout_seconds,
            read_timeout_seconds=self.read_timeout_seconds,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
            deadline_seconds=self.deadline_seconds,
            max_bytes=self.max_bytes,
        )
