"""The one list of the pipeline's sources: each declares itself once, and everything that used to
be a hand-kept list is derived from here (``cov_pipeline.definitions.build_pipeline``): the
assets, one job per group, one sensor per raw folder, the quality tables' lists of quarantines and
staging tables, and the Great Expectations check of every mart (each needs its suite registered
in ``cov_pipeline.expectations``); and the sample generator's list of sources
(``cov_pipeline.sample_data.sample_generators``).

Adding a source: its asset module (staging through :func:`assets.checks.staging_asset`, marts),
its ``Source`` declaration (``SOURCE_SPEC``, with its sample generator) at the bottom of that
module, and one line in :func:`project_sources`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetKey, AssetsDefinition


@dataclass(frozen=True)
class Source:
    """One source as it declares itself.

    ``name`` is the source as the quality tables name it (``quality.quarantine.source``);
    ``group`` its asset group, which is also the job that rebuilds it (several sources may share
    one: MSDS and the maternity extracts); ``raw_folder`` the raw-zone folder whose news starts
    that job; ``quarantine`` and ``staging`` its quality and record-level staging tables;
    ``reads`` the reference assets its job must include so it runs on a fresh warehouse;
    ``sample`` writes its synthetic sample extracts for ``python -m cov_pipeline.sample_data``
    (``(out_dir, rng, scale, profile) -> paths written``, its random generator seeded by
    ``name``): the function, or its ``"module:function"`` path, which the code location leaves
    unimported (the generators' imports cost most of a second at every load).
    ``monthly_marts`` its marts that a run can rebuild by month (the job ``rebuild_months``,
    :mod:`cov_pipeline.months`).
    """

    name: str
    group: str
    assets: Sequence[AssetsDefinition]
    quarantine: str
    staging: Sequence[str]
    raw_folder: str
    reads: Sequence[AssetsDefinition] = ()
    job_description: str = ""
    sample: str | Callable[..., list[Path]] | None = None
    monthly_marts: Sequence[AssetKey] = ()
    marts: Sequence[AssetKey] = field(init=False)

    def __post_init__(self):
        keys = [key for a in self.assets for key in a.keys if key.path[0] == "marts"]
        object.__setattr__(self, "marts", keys)


def project_sources() -> list[Source]:
    """The project's sources, in the order their groups appear in the UI."""
    from assets import fingertips, household_survey, maternity, msds, referrals

    return [
        fingertips.SOURCE_SPEC,
        household_survey.SOURCE_SPEC,
        msds.SOURCE_SPEC,
        maternity.SOURCE_SPEC,
        referrals.SOURCE_SPEC,
    ]


def by_group(sources: Sequence[Source]) -> dict[str, list[Source]]:
    groups: dict[str, list[Source]] = {}
    for source in sources:
        groups.setdefault(source.group, []).append(source)
    return groups
