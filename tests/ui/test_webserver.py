"""The Dagster UI as a person uses it, started the way the README says: ``cov-pipeline refresh``
first, then ``cov-pipeline ui`` (``dagster dev``: the webserver and the daemon) and nothing else.
The code location loads, the daemon's first sensor ticks after the refresh start nothing, every
group shows in the asset lineage, a materialisation launched from a job page runs to success,
and a run launched through the instance while the command line refreshes waits its turn.

One ``cov-pipeline ui`` for the module, on loopback, with a temporary Dagster home holding the
project's own ``dagster.yaml`` (queued runs, pools, run monitoring), raw zone and warehouse;
Debian's Chromium driven by Playwright. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
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
STARTUP_TIMEOUT_S = 180
RUN_TIMEOUT_S = 240
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
REPOSITORY = "__repository__"  # the repository a Definitions object makes
SENSORS = [
    "fingertips_files",
    "reference_files",
    "household_survey_files",
    "maternity_files",
    "referrals_files",
]
CLI = Path(sys.executable).parent / "cov-pipeline"


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
    """SIGTERM to ``dagster dev``, which stops its webserver, daemon and code servers; then
    SIGKILL to whatever of its process group lingers."""
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict[str, str]:
    """A Dagster home with the project's instance settings as shipped, a raw zone and a
    warehouse, all temporary; the README's first command (``cov-pipeline refresh``) run in it."""
    base = tmp_path_factory.mktemp("ui")
    home = base / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    shutil.copytree(PROJECT_ROOT / "data" / "raw", base / "raw")
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
    refresh = subprocess.run(
        [str(CLI), "refresh"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert refresh.returncode == 0, refresh.stdout[-3000:] + refresh.stderr[-3000:]
    return env


@pytest.fixture(scope="module")
def webserver(environment):
    """``cov-pipeline ui`` (the README's UI command) on a free loopback port, ready."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = Path(environment["DAGSTER_HOME"]).parent / "dagster_dev.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(CLI), "ui", "-p", str(port), "--host", "127.0.0.1"],
            cwd=PROJECT_ROOT,
            env=environment,
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
                        f"cov-pipeline ui not ready within {STARTUP_TIMEOUT_S} s "
                        f"(exit code {process.poll()}):\n{log_path.read_text()}"
                    )
                time.sleep(0.5)
            yield url
        finally:
            _stop(process)
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(log_path, ARTIFACTS / "ui_dagster_dev.log")


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


SENSOR_TICKS_QUERY = """
query ($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) { __typename
    ... on Sensor { sensorState { status ticks(limit: 10) { status skipReason runIds } } } } }
"""
RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId jobName status } } } }"


def _runs(url: str) -> list[dict]:
    return _graphql(url, RUNS_QUERY)["runsOrError"]["results"]


def test_the_daemons_first_ticks_after_the_refresh_start_nothing(webserver):
    # `cov-pipeline ui` started the daemon (no second terminal): every sensor ticks, finds the
    # files the refresh read, and starts nothing
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    ticks = {}
    while len(ticks) < len(SENSORS):
        for name in SENSORS:
            selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
            answer = _graphql(
                webserver, SENSOR_TICKS_QUERY, {"selector": {**selector, "sensorName": name}}
            )
            state = answer["sensorOrError"]["sensorState"]
            assert state["status"] == "RUNNING", (name, state)
            # a tick still being evaluated (STARTED, no runs yet) has not decided anything
            done = [tick for tick in state["ticks"] if tick["status"] != "STARTED"]
            if done:
                ticks[name] = done
        if time.monotonic() > deadline:
            pytest.fail(
                f"sensors without a tick after {STARTUP_TIMEOUT_S} s: {set(SENSORS) - set(ticks)}"
            )
        time.sleep(2)
    for name, sensor_ticks in ticks.items():
        for tick in sensor_ticks:
            assert tick["status"] == "SKIPPED" and not tick["runIds"], (name, tick)
            assert tick["skipReason"].startswith("no new or changed files in "), (name, tick)
    assert [run["jobName"] for run in _runs(webserver)] == ["refresh_all"]  # the refresh's only


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
            "log: test-artifacts/ui_dagster_dev.log"
        )

    # The run page, updated live, shows what the person sees: the run succeeded.
    page.get_by_text("Success", exact=True).first.wait_for()
    page.get_by_text(re.compile(r"^No steps have errored$")).wait_for()
    _screenshot(page, "ui_run_succeeded.png")


LAUNCH_MUTATION = """
mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } } } }
"""
STEP_TIMES_QUERY = """
query ($id: ID!) { runOrError(runId: $id) { ... on Run { status stepStats { startTime endTime } } } }
"""


def _wait_for_end(url: str, run_id: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    run = _run(url, run_id)
    while run["status"] not in TERMINAL and time.monotonic() < deadline:
        time.sleep(1)
        run = _run(url, run_id)
    return run


def _step_span(url: str, run_id: str) -> tuple[float, float]:
    stats = _graphql(url, STEP_TIMES_QUERY, {"id": run_id})["runOrError"]["stepStats"]
    return min(s["startTime"] for s in stats), max(s["endTime"] for s in stats)


def test_a_run_launched_through_the_instance_waits_for_a_refresh_from_the_command_line(
    webserver, environment, tmp_path
):
    # two doors at once: the command line refreshes one source while a run of another is
    # launched through the instance (as the UI and the sensors launch them)
    log_path = tmp_path / "refresh.log"
    with log_path.open("w") as log:
        cli = subprocess.Popen(
            [str(CLI), "refresh", "--job", "household_survey"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while "holds the warehouse" not in log_path.read_text():
            assert cli.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        params = {"selector": {**selector, "jobName": "referrals"}, "runConfigData": {}}
        launched = _graphql(webserver, LAUNCH_MUTATION, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        assert cli.wait(timeout=RUN_TIMEOUT_S) == 0, log_path.read_text()
    finally:
        if cli.poll() is None:
            cli.kill()
    output = log_path.read_text()
    assert "Traceback" not in output and "could not set lock" not in output.lower(), output
    run = _wait_for_end(webserver, run_id)
    assert run["status"] == "SUCCESS", _run_errors(webserver, run_id)
    # one writer at a time: the launched run's steps began after the refresh's had ended
    cli_run = next(line.split()[1] for line in output.splitlines() if line.endswith("in the UI)"))
    refresh_span, launched_span = _step_span(webserver, cli_run), _step_span(webserver, run_id)
    assert refresh_span[1] <= launched_span[0], (refresh_span, launched_span)
