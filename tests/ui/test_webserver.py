"""The Dagster UI as a person uses it: the code location loads, every group shows in the asset
lineage, and a materialisation launched from a job page runs to success.

Starts ``dagster-webserver`` on loopback with a temporary Dagster home, raw zone and warehouse,
and drives Debian's Chromium with Playwright. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cov_pipeline.settings import PROJECT_ROOT

pytestmark = pytest.mark.ui

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
INSTANCE_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
# no daemon in this test: launch runs at once instead of queueing them
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
"""


def _browser_available() -> str | None:
    """Why the browser tests cannot run here, or None. On CI they must run, never skip."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    missing = _browser_available()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"UI tests must run in CI: {missing}")
        pytest.skip(missing)
    base = tmp_path_factory.mktemp("ui")
    home = base / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    shutil.copytree(PROJECT_ROOT / "data" / "raw", base / "raw")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "COV_RAW_DIR": str(base / "raw"),
        "COV_WAREHOUSE_URL": f"duckdb:///{base / 'warehouse.duckdb'}",
        "COV_EXPORT_DIR": str(base / "exports"),
        "COV_DOCS_DIR": str(base / "docs"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    webserver_bin = Path(sys.executable).parent / "dagster-webserver"
    log = (base / "webserver.log").open("w")
    process = subprocess.Popen(
        [str(webserver_bin), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _graphql(url, "{ version }")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "dagster-webserver did not start:\n" + (base / "webserver.log").read_text()
                    ) from None
                time.sleep(1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        url + "/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def page(webserver):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def _dismiss_welcome(page) -> None:
    """The first visit shows a "Join the Dagster community" dialog over the page."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5_000)
    except Exception:  # no dialog this time
        return
    skip.click()


def test_the_code_location_is_loaded(webserver):
    # /server_info answers even when the code failed to load: ask for the location's status
    answer = _graphql(
        webserver,
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
        "locationOrLoadError { __typename } } } } }",
    )
    entries = answer["data"]["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["loadStatus"]) for e in entries] == [("cov_pipeline", "LOADED")]
    assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"


def test_every_group_appears_in_the_asset_lineage(page, webserver):
    from cov_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    page.goto(webserver + "/asset-groups")
    _dismiss_welcome(page)
    for group in sorted(groups):
        page.get_by_text(group, exact=True).first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "ui_asset_lineage.png"))
    print(f"screenshot: {ARTIFACTS / 'ui_asset_lineage.png'}")


def test_a_materialisation_launched_from_the_ui_succeeds(page, webserver):
    page.goto(webserver + "/locations/cov_pipeline/jobs/household_survey")
    _dismiss_welcome(page)
    page.get_by_role("button", name="Materialize all").first.click()
    # the reporting assets read other sources' tables, not loaded yet: the UI asks to confirm
    confirm = page.get_by_role("button", name="Confirm")
    try:
        confirm.wait_for(timeout=5_000)
        confirm.click()
    except Exception:
        pass

    deadline = time.monotonic() + 180
    status = None
    while time.monotonic() < deadline:
        runs = _graphql(
            webserver, "{ runsOrError { ... on Runs { results { runId status jobName } } } }"
        )["data"]["runsOrError"]["results"]
        if runs:
            status = runs[0]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
        time.sleep(2)
    assert runs and runs[0]["jobName"] == "household_survey"
    page.goto(f"{webserver}/runs/{runs[0]['runId']}")
    page.get_by_text("Success", exact=False).first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "ui_run_succeeded.png"))
    print(f"screenshot: {ARTIFACTS / 'ui_run_succeeded.png'}")
    assert status == "SUCCESS"
