"""The code location loads, with the groups, jobs, schedule and resources the design names."""

from __future__ import annotations

import pytest
from dagster import AssetKey, AssetSelection, DefaultScheduleStatus

from cov_pipeline.definitions import build_resources, defs, executor_for


def test_definitions_load_and_validate():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "staging/fingertips_indicator_values",
        "quality/fingertips_quarantine",
        "marts/indicator_values",
        "marts/infant_mortality_benchmark",
        "quality/quarantine",
        "quality/run_summary",
    } <= keys
    # asset keys are [layer, name]; the layer is the warehouse schema (or the raw zone)
    assert {k.split("/")[0] for k in keys} <= {
        "staging", "marts", "published", "quality", "raw", "exports",
    }  # fmt: skip


def test_every_asset_has_a_group_description_owner_and_kinds():
    graph = defs.resolve_asset_graph()
    groups = set()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        groups.add(node.group_name)
        assert node.description, key
        assert node.owners, key
        assert node.kinds, key
    assert {"fingertips", "reference", "reporting"} <= groups
    assert groups <= {
        "fingertips",
        "maternity",
        "referrals",
        "household_survey",
        "reference",
        "reporting",
        "published",
    }


def test_warehouse_assets_share_the_pool_of_one():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        if key.path[0] in ("staging", "marts", "published", "quality", "exports"):
            assets_def = graph.get(key).assets_def
            assert assets_def.op.pool == "warehouse", key


def test_runs_execute_in_one_process_unless_postgresql_runs_ask_for_subprocesses():
    for job in (*defs.jobs, defs.resolve_implicit_global_asset_job_def()):
        assert defs.resolve_job_def(job.name).executor_def.name == "in_process", job.name
    postgres = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert executor_for("duckdb:///data/warehouse/x.duckdb").name == "in_process"
    assert executor_for(postgres).name == "in_process"
    assert executor_for(postgres, "multiprocess").name == "multiprocess"
    # a DuckDB file admits one process at a time: a process per step is refused, saying why
    with pytest.raises(ValueError, match="multiprocess needs the PostgreSQL warehouse"):
        executor_for("duckdb:///data/warehouse/x.duckdb", "multiprocess")


def test_the_executor_setting_is_checked(monkeypatch):
    from cov_pipeline import settings

    monkeypatch.delenv("COV_EXECUTOR", raising=False)
    assert settings.executor() == "in_process"
    monkeypatch.setenv("COV_EXECUTOR", "multiprocess")
    assert settings.executor() == "multiprocess"
    monkeypatch.setenv("COV_EXECUTOR", "celery")
    with pytest.raises(ValueError, match="COV_EXECUTOR='celery' is not one of in_process"):
        settings.executor()


def test_jobs_and_the_nightly_schedule():
    refresh = defs.resolve_job_def("refresh_all")
    assert refresh is not None and defs.resolve_job_def("fingertips") is not None
    schedule = defs.resolve_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/London"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    nightly_keys = refresh.asset_layer.asset_graph.get_all_asset_keys()
    assert AssetKey(["marts", "infant_mortality_benchmark"]) in nightly_keys


def test_resources_are_bound():
    assert {"warehouse", "raw_files", "fingertips_api", "settings"} <= set(defs.resources)


def test_marts_have_a_freshness_policy_and_no_asset_retries():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if key.path[0] == "marts":
            assert node.freshness_policy is not None, key
        assert node.assets_def.op.retry_policy is None, key


def test_no_rebuild_reaches_the_network():
    """The "Materialize all" job, refresh_all and every source job hold no network step: the API
    download is an op job of its own, outside the asset graph, and only a person starts it."""
    graph = defs.resolve_asset_graph()
    everything = AssetSelection.all().resolve(graph)
    assert everything == graph.get_all_asset_keys()
    assert AssetKey(["raw", "fingertips_api_download"]) not in everything
    assert not [key for key in everything if key.path[0] == "raw"]

    rebuilds = [defs.resolve_implicit_global_asset_job_def()] + [
        defs.resolve_job_def(job.name) for job in defs.jobs if job.name != "fingertips_download"
    ]
    assert {"refresh_all", "fingertips", "maternity", "referrals", "household_survey"} <= {
        job.name for job in rebuilds
    }
    for job in rebuilds:
        assert "fingertips_api" not in job.required_resource_keys, job.name
        assert "fingertips_api_download" not in {node.name for node in job.nodes}, job.name

    download = defs.resolve_job_def("fingertips_download")
    assert [node.name for node in download.nodes] == ["fingertips_api_download"]
    assert download.asset_layer.executable_asset_keys == set()
    started_by_automation = {s.job_name for s in (*defs.schedules, *defs.sensors)}
    assert "fingertips_download" not in started_by_automation


def test_download_bounds_default_and_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("COV_DOWNLOAD_DEADLINE_SECONDS", raising=False)
    monkeypatch.delenv("COV_DOWNLOAD_MAX_BYTES", raising=False)
    client = build_resources()["fingertips_api"].get_client()
    assert (client.deadline_seconds, client.max_bytes) == (600, 500_000_000)

    monkeypatch.setenv("COV_DOWNLOAD_DEADLINE_SECONDS", "7")
    monkeypatch.setenv("COV_DOWNLOAD_MAX_BYTES", "1234")
    # EnvVar values resolve when a run initialises the resource, as here.
    api = build_resources()["fingertips_api"].process_config_and_initialize()
    client = api.get_client()
    assert (client.deadline_seconds, client.max_bytes) == (7, 1234)


def test_each_source_job_holds_its_source_and_the_reference_it_reads_only():
    def keys(job_name):
        job = defs.resolve_job_def(job_name)
        return {k.to_user_string() for k in job.asset_layer.asset_graph.get_all_asset_keys()}

    def selected(job_name):
        job = defs.resolve_job_def(job_name)
        return {k.to_user_string() for k in job.asset_layer.executable_asset_keys}

    fingertips = selected("fingertips")
    assert "staging/cipfa_neighbours" in fingertips
    assert "staging/referrals" not in fingertips and "staging/imd_lsoa" not in fingertips
    assert "raw/fingertips_api_download" not in fingertips
    for job in ("maternity", "referrals"):
        assert "staging/imd_lsoa" in selected(job)
        assert "staging/fingertips_indicator_values" not in selected(job)
    assert keys("refresh_all")


# The reference tables each source's job reads (and so builds on a fresh warehouse).
SOURCE_JOB_REFERENCE = {
    "fingertips": {"staging/fingertips_indicators", "staging/cipfa_neighbours"},
    "maternity": {"staging/imd_lsoa"},
    "referrals": {"staging/imd_lsoa"},
    "household_survey": set(),
}


def test_each_source_job_selects_its_group_its_reference_and_what_is_built_from_them_only():
    graph = defs.resolve_asset_graph()
    group_of = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    sources = set(SOURCE_JOB_REFERENCE)
    for job_name, reference in SOURCE_JOB_REFERENCE.items():
        job = defs.resolve_job_def(job_name)
        selected = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
        by_group: dict[str, set[str]] = {}
        for key in selected:
            by_group.setdefault(group_of[key], set()).add(key)
        # the whole source, the reference tables it reads and nothing of another source
        assert by_group[job_name] == {k for k, g in group_of.items() if g == job_name}, job_name
        assert by_group.get("reference", set()) == reference, job_name
        assert not (set(by_group) & (sources - {job_name})), (job_name, sorted(by_group))
        # the rest is what every source feeds: the quarantine, run summary, dictionary, exports
        assert {"quality/quarantine", "quality/run_summary", "exports/analyst_exports"} <= selected
        derived = set(by_group) - {job_name, "reference"}
        assert "reporting" in derived, job_name
    # the nightly job holds every table
    nightly = defs.resolve_job_def("refresh_all").asset_layer.executable_asset_keys
    assert {k.to_user_string() for k in nightly} == set(group_of)


def test_the_month_rebuild_job_is_the_maternity_and_referrals_jobs_in_one():
    def selected(job_name):
        return defs.resolve_job_def(job_name).asset_layer.executable_asset_keys

    assert selected("rebuild_months") == selected("maternity") | selected("referrals")
    # nothing starts it unattended: the nightly run, the sensors rebuild every month
    assert "rebuild_months" not in {s.job_name for s in (*defs.schedules, *defs.sensors)}
