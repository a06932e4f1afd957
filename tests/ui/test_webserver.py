"""The Dagster UI as a person uses it: the code location loads, every group shows in the asset
lineage, and a materialisation launched from a job page runs to success.

One ``dagster-webserver`` for the module, on loopback, with a temporary Dagster home, raw zone and
warehouse; Debian's Chromium driven by Playwright. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

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
LOCATION = "cov_pipeline"
JOB = "fingertips"  # the source whose job the browser test launches
STARTUP_TIMEOUT_S = 120
RUN_TIMEOUT_S = 180
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def _instance_yaml() -> str:
    """Telemetry off, the project instance's pool limits, and runs launched at once.

    No daemon runs in this test, and the default QueuedRunCoordinator would leave a run launched
    from the UI queued for ever; the DefaultRunCoordinator hands it straight to the run launcher.
    """
    project = yaml.safe_load((PROJECT_ROOT / "dagster_home" / "dagster.yaml").read_text())
    return yaml.safe_dump(
        {
            "telemetry": {"enabled": False},
            "concurrency": {"pools": project["concurrency"]["pools"]},
            "run_coordinator": {
                "module": "dagster.core.run_coordinator",
                "class": "DefaultRunCoordinator",
            },
        },
        sort_keys=False,
    )


def _why_not_runnable() -> str | None:
    """Why the browser cannot be driven here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)"
    return None


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        url + "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


LOCATIONS_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the webserver's process group (it and its code server), SIGKILL if it lingers."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    base = tmp_path_factory.mktemp("ui")
    home = base / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(_instance_yaml())
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
    log_path = base / "webserver.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster-webserver"),
                *("-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            # Ready when GraphQL answers and the location has finished loading (or failing).
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                try:
                    entries = _graphql(url, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
                    if entries and all(e["loadStatus"] != "LOADING" for e in entries):
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"dagster-webserver not ready within {STARTUP_TIMEOUT_S} s "
                        f"(exit code {process.poll()}):\n{log_path.read_text()}"
                    )
                time.sleep(0.5)
            yield url
        finally:
            _stop(process)
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(log_path, ARTIFACTS / "ui_webserver.log")


@pytest.fixture
def page():
    missing = _why_not_runnable()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests must run in CI, not skip: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        context.set_default_timeout(30_000)
        try:
            yield context.new_page()
        finally:
            browser.close()


def _open(page, url: str, path: str) -> None:
    """Open a page as a first-time visitor would, dismissing the community dialog if it shows.

    The dialog shows until someone dismisses it once per Dagster instance (``shouldShowNux``).
    """
    shows_dialog = _graphql(url, "{ shouldShowNux }")["shouldShowNux"]
    page.goto(url + path)
    if shows_dialog:
        dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
        dialog.get_by_role("button", name="Skip").click()
        dialog.wait_for(state="detached")


def _screenshot(page, name: str) -> Path:
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def test_the_code_location_is_loaded(webserver):
    # /server_info answers 200 even when the code failed to load: ask for the location's status.
    workspace = _graphql(webserver, LOCATIONS_QUERY)["workspaceOrError"]
    assert workspace["__typename"] == "Workspace", workspace
    entries = {e["name"]: e for e in workspace["locationEntries"]}
    assert set(entries) == {LOCATION}
    location = entries[LOCATION]
    assert location["loadStatus"] == "LOADED"
    assert location["locationOrLoadError"]["__typename"] == "RepositoryLocation", location


def test_every_group_appears_in_the_asset_lineage(page, webserver):
    from playwright.sync_api import expect

    from cov_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    groups = sorted({graph.get(key).group_name for key in graph.get_all_asset_keys()})
    assert {"fingertips", "reference", "reporting"} <= set(groups)

    _open(page, webserver, "/asset-groups")
    page.get_by_text("Global asset lineage").wait_for()
    # Each group is a collapsed node of the graph, titled with its name.
    for group in groups:
        page.locator(f'[data-tooltip="{group}"]').wait_for()
    shown = set(
        page.locator("[data-tooltip]").evaluate_all(
            "nodes => nodes.map(n => n.getAttribute('data-tooltip'))"
        )
    )
    assert set(groups) <= shown, f"groups missing from the lineage: {set(groups) - shown}"
    expect(page.get_by_text("fetching statuses")).to_have_count(0)  # for the screenshot
    _screenshot(page, "ui_asset_lineage.png")


def _run(url: str, run_id: str) -> dict:
    return _graphql(
        url,
        """query ($id: ID!) { runOrError(runId: $id) { __typename ... on Run {
            runId status jobName stepStats { stepKey status } } } }""",
        {"id": run_id},
    )["runOrError"]


def _run_errors(url: str, run_id: str) -> list[str]:
    """The messages of the run's failure events (the run's and its steps'), for a failing test."""
    events = _graphql(
        url,
        """query ($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection(limit: 1000) {
            events { __typename
              ... on RunFailureEvent { message error { message } }
              ... on ExecutionStepFailureEvent { stepKey message error { message } }
              ... on EngineEvent { message error { message } } } } } } }""",
        {"id": run_id},
    )["runOrError"]["eventConnection"]["events"]
    return [
        f"{e['__typename']} {e.get('stepKey') or ''}: {e['message']} {e['error']['message']}"
        for e in events
        if e.get("error")
    ]


def test_a_materialisation_launched_from_the_ui_succeeds(page, webserver):
    _open(page, webserver, "/overview")
    page.get_by_role("navigation").get_by_role("link", name="Jobs").click()
    page.get_by_role("link").filter(has=page.get_by_text(JOB, exact=True)).click()
    page.wait_for_url(f"**/locations/{LOCATION}/jobs/{JOB}**")
    page.get_by_role("button", name="Materialize all").click()

    # The job's reporting assets also read other sources' tables, never materialised on this
    # fresh warehouse: the UI asks to confirm (the quality tables skip sources not loaded yet).
    launched = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
    confirm = page.get_by_role("dialog").get_by_role("button", name="Confirm")
    launched.or_(confirm).first.wait_for()
    if confirm.is_visible():
        confirm.click()
    short_id = re.search(r"[0-9a-f]{8}", launched.inner_text()).group()

    runs = _graphql(webserver, "{ runsOrError { ... on Runs { results { runId jobName } } } }")
    run_id = next(r["runId"] for r in runs["runsOrError"]["results"] if r["runId"][:8] == short_id)
    page.get_by_role("link", name="View", exact=True).click()
    page.wait_for_url(f"**/runs/{run_id}**")

    deadline = time.monotonic() + RUN_TIMEOUT_S
    run = _run(webserver, run_id)
    while run["status"] not in TERMINAL and time.monotonic() < deadline:
        time.sleep(2)
        run = _run(webserver, run_id)
    assert run["jobName"] == JOB
    if run["status"] != "SUCCESS":
        _screenshot(page, "ui_run_not_succeeded.png")
        failed = [s["stepKey"] for s in run["stepStats"] if s["status"] != "SUCCESS"]
        pytest.fail(
            f"run {run_id} ended {run['status']} (after at most {RUN_TIMEOUT_S} s); "
            f"steps not succeeded: {failed}; errors: {_run_errors(webserver, run_id)}; "
            "webserver log: test-artifacts/ui_webserver.log"
        )

    # The run page, updated live, shows what the person sees: the run succeeded.
    page.get_by_text("Success", exact=True).first.wait_for()
    page.get_by_text(re.compile(r"^No steps have errored$")).wait_for()
    _screenshot(page, "ui_run_succeeded.png")
