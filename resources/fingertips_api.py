"""The Fingertips API as a Dagster resource: endpoint, timeouts, retries and the indicators to fetch."""

from dagster import ConfigurableResource
from pydantic import Field

from cov_pipeline import settings
from cov_pipeline.fingertips_api import (
    DEFAULT_CHILD_AREA_TYPE_ID,
    DEFAULT_PARENT_AREA_TYPE_ID,
    FingertipsClient,
)

# The key maternity and infant indicators (DESIGN §4): infant mortality, neonatal mortality,
# stillbirths, premature births, low birth weight of term babies, smoking at time of delivery.
DEFAULT_INDICATOR_IDS = (92196, 92705, 92530, 91743, 20101, 93085)


class FingertipsApiResource(ConfigurableResource):
    """Settings for downloading from the Fingertips API; ``get_client`` builds the HTTP client."""

    base_url: str = Field(
        default=settings.DEFAULT_FINGERTIPS_API_URL,
        description="Fingertips API root, ending in /api/ (COV_FINGERTIPS_API_URL).",
    )
    timeout_seconds: float = Field(
        default=30.0, description="Seconds to wait to connect and for each read."
    )
    max_retries: int = Field(
        default=3, description="Retries per request after the first attempt (429, 5xx, network)."
    )
    backoff_seconds: float = Field(
        default=1.0, description="Wait before the first retry; doubles with each further retry."
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
        return FingertipsClient(
            base_url=self.base_url,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
        )
