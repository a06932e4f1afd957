"""The Fingertips API download path against a local server replaying recorded-format responses.

The real API is never called: a ThreadingHTTPServer on 127.0.0.1 answers from
tests/fixtures/fingertips_api/ and can be told to fail, hang or answer with the wrong thing.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from dagster import (
    Backoff,
    DagsterInstance,
    Definitions,
    Failure,
    build_asset_context,
    materialize,
)

from assets.fingertips_download import fingertips_api_download, fingertips_download_job
from cov_pipeline.fingertips_api import (
    FingertipsClient,
    FingertipsDownloadError,
    download_cipfa_neighbours,
    download_indicators,
)
from resources.fingertips_api import FingertipsApiResource
from resources.raw_files import RawFilesResource

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fingertips_api"
ALL_DATA_92196 = (FIXTURES / "all_data_92196.csv").read_bytes()
ALL_DATA_QUERY = "indicator_ids=92196&child_area_type_id=502&parent_area_type_id=15"
NEIGHBOURS_QUERY = "area_type_id=502&parent_area_code=nn-1-E08000026"
HTML_PAGE = (
    b"<!DOCTYPE html>\r\n<html><head><title>Fingertips</title></head><body>Sorry</body></html>"
)
NEIGHBOURS_CSV = (
    "area_code,neighbour_code,neighbour_name,neighbour_rank\n"
    "E08000026,E06000015,Derby,1\n"
    "E08000026,E08000001,Bolton,2\n"
    "E08000026,E06000031,Peterborough,3\n"
    "E08000026,E08000035,Leeds,4\n"
    "E08000026,E08000039,Sheffield,5\n"
)


@dataclass
class Replay:
    """What the replay server answers, and what it was asked."""

    routes: dict[tuple[str, frozenset], tuple[str, bytes]] = field(default_factory=dict)
    fail_first: int = 0
    fail_status: int = 503
    mode: str = "replay"  # or "hang" or "html"
    requests: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    base_url: str = ""

    def add(self, path: str, query: str, content_type: str, body: bytes) -> None:
        self.routes[(path, frozenset(parse_qsl(query)))] = (content_type, body)

    def count(self, fragment: str = "") -> int:
        return sum(fragment in r for r in self.requests)


class _ReplayHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        replay: Replay = self.server.replay  # type: ignore[attr-defined]
        replay.requests.append(self.path)
        if replay.count() <= replay.fail_first:
            return self._send(replay.fail_status, "text/plain", b"Service Unavailable")
        if replay.mode == "hang":
            replay.release.wait(timeout=10)
            return
        if replay.mode == "html":
            return self._send(200, "text/html; charset=utf-8", HTML_PAGE)
        url = urlsplit(self.path)
        route = replay.routes.get((url.path, frozenset(parse_qsl(url.query))))
        if route is None:
            return self._send(404, "text/html", b"<html><body>Not found</body></html>")
        self._send(200, *route)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (a timeout test)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def replay() -> Iterator[Replay]:
    state = Replay()
    state.add("/api/all_data/csv/by_indicator_id", ALL_DATA_QUERY, "text/csv", ALL_DATA_92196)
    state.add(
        "/api/indicator_metadata/by_indicator_id",
        "indicator_ids=92196",
        "application/json",
        (FIXTURES / "indicator_metadata_92196.json").read_bytes(),
    )
    state.add(
        "/api/areas/by_parent_area_code",
        NEIGHBOURS_QUERY,
        "application/json",
        (FIXTURES / "cipfa_neighbours_E08000026.json").read_bytes(),
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ReplayHandler)
    server.replay = state  # type: ignore[attr-defined]
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _client(replay: Replay, **kwargs: float) -> FingertipsClient:
    settings = {"timeout_seconds": 5.0, "max_retries": 3, "backoff_seconds": 0.01} | kwargs
    return FingertipsClient(replay.base_url, **settings)


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under the folder with its bytes and modification time."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# The client


def test_all_data_csv_returns_the_body_as_served(replay: Replay) -> None:
    with _client(replay) as client:
        body = client.all_data_csv([92196])

    assert body == ALL_DATA_92196
    assert replay.requests == [f"/api/all_data/csv/by_indicator_id?{ALL_DATA_QUERY}"]


def test_ids_are_sent_comma_separated(replay: Replay) -> None:
    client = _client(replay)
    assert client.all_data_csv_url([92196, 92705]) == (
        f"{replay.base_url}all_data/csv/by_indicator_id?indicator_ids=92196,92705"
        "&child_area_type_id=502&parent_area_type_id=15"
    )


def test_indicator_metadata_is_keyed_by_id_as_text(replay: Replay) -> None:
    metadata = _client(replay).indicator_metadata([92196])

    assert list(metadata) == ["92196"]
    assert metadata["92196"]["Descriptive"]["Name"] == "Infant mortality rate"


def test_cipfa_neighbours_keep_the_api_order(replay: Replay) -> None:
    areas = _client(replay).cipfa_neighbours("E08000026")

    assert [a["Code"] for a in areas] == [
        "E06000015",
        "E08000001",
        "E06000031",
        "E08000035",
        "E08000039",
    ]
    assert replay.requests == [f"/api/areas/by_parent_area_code?{NEIGHBOURS_QUERY}"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_after_server_errors_then_succeeds(
    replay: Replay, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    replay.fail_first, replay.fail_status = 2, status
    caplog.set_level(logging.INFO, logger="cov_pipeline.fingertips_api")

    body = _client(replay, max_retries=3).all_data_csv([92196])

    assert body == ALL_DATA_92196
    assert replay.count() == 3
    url = f"{replay.base_url}all_data/csv/by_indicator_id?{ALL_DATA_QUERY}"
    reason = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
    error = f"HTTP {status} {reason[status]}"
    # Each attempt is logged; the waits double (0.01 s, then 0.02 s).
    assert [r.getMessage() for r in caplog.records] == [
        f"GET {url} (attempt 1 of 4)",
        f"GET {url} failed (attempt 1 of 4): {error}; retrying in 0.01 s",
        f"GET {url} (attempt 2 of 4)",
        f"GET {url} failed (attempt 2 of 4): {error}; retrying in 0.02 s",
        f"GET {url} (attempt 3 of 4)",
    ]


def test_persistent_503_names_url_and_attempts(replay: Replay) -> None:
    replay.fail_first = 100

    with pytest.raises(FingertipsDownloadError) as raised:
        _client(replay, max_retries=3).all_data_csv([92196])

    url = f"{replay.base_url}all_data/csv/by_indicator_id?{ALL_DATA_QUERY}"
    assert str(raised.value) == (
        f"Fingertips API request failed after 4 attempts: {url}; last error: "
        "HTTP 503 Service Unavailable"
    )
    assert (raised.value.url, raised.value.attempts, raised.value.retryable) == (url, 4, True)
    assert replay.count() == 4


def test_404_is_not_retried(replay: Replay) -> None:
    with pytest.raises(FingertipsDownloadError, match=r"answered HTTP 404 Not Found") as raised:
        _client(replay).all_data_csv([99999])

    assert replay.count() == 1
    assert "indicator_ids=99999" in str(raised.value)
    assert raised.value.retryable is False


def test_timeout_is_retried_then_fails(replay: Replay) -> None:
    replay.mode = "hang"

    with pytest.raises(FingertipsDownloadError) as raised:
        _client(replay, timeout_seconds=0.2, max_retries=1).all_data_csv([92196])

    assert replay.count() == 2
    assert "after 2 attempts" in str(raised.value)
    assert "last error: ReadTimeout" in str(raised.value)
    assert raised.value.retryable is True


def test_connection_refused_is_retried_then_fails() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, so nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = FingertipsClient(f"http://127.0.0.1:{port}/api/", max_retries=2, backoff_seconds=0.01)

    with pytest.raises(FingertipsDownloadError, match=r"after 3 attempts.*ConnectionError"):
        client.cipfa_neighbours("E08000026")


def test_a_page_that_is_not_a_fingertips_csv_is_rejected(replay: Replay) -> None:
    replay.mode = "html"

    with pytest.raises(FingertipsDownloadError) as raised:
        _client(replay).all_data_csv([92196])

    assert "answered 200 but not with a Fingertips CSV" in str(raised.value)
    assert "'Indicator ID,'" in str(raised.value)
    assert "<!DOCTYPE html>" in str(raised.value)
    assert raised.value.retryable is False
    assert replay.count() == 1


def test_a_page_that_is_not_json_is_rejected(replay: Replay) -> None:
    replay.mode = "html"

    with pytest.raises(FingertipsDownloadError, match="answered 200 but not with JSON"):
        _client(replay).cipfa_neighbours("E08000026")


# Downloading into the raw zone


def test_download_indicators_writes_the_csv_byte_for_byte(replay: Replay, tmp_path: Path) -> None:
    dest = tmp_path / "raw" / "fingertips"

    paths = download_indicators(_client(replay), [92196], dest)

    assert paths == [dest / "fingertips_api_92196.csv"]
    assert paths[0].read_bytes() == ALL_DATA_92196  # CRLF records and quoting kept
    assert sorted(p.name for p in dest.iterdir()) == ["fingertips_api_92196.csv"]


def test_download_cipfa_neighbours_ranks_in_api_order(replay: Replay, tmp_path: Path) -> None:
    dest = tmp_path / "reference" / "cipfa_neighbours_api.csv"

    path = download_cipfa_neighbours(_client(replay), "E08000026", dest)

    assert path == dest
    assert dest.read_text(encoding="utf-8") == NEIGHBOURS_CSV


def test_persistent_503_leaves_the_raw_folder_unchanged(replay: Replay, tmp_path: Path) -> None:
    dest = tmp_path / "fingertips"
    dest.mkdir()
    (dest / "fingertips_api_92196.csv").write_bytes(b"Indicator ID,old download\r\n")
    (dest / "manual_export.csv").write_bytes(b"Indicator ID,kept\r\n")
    before = _snapshot(tmp_path)
    replay.fail_first = 100

    with pytest.raises(FingertipsDownloadError, match="by_indicator_id"):
        download_indicators(_client(replay, max_retries=2), [92196], dest)

    assert _snapshot(tmp_path) == before  # same files, bytes and mtimes; no temporary files
    assert replay.count() == 3


def test_a_later_failure_undoes_the_earlier_downloads(replay: Replay, tmp_path: Path) -> None:
    dest = tmp_path / "raw" / "fingertips"

    with pytest.raises(FingertipsDownloadError, match="indicator_ids=99999"):
        download_indicators(_client(replay), [92196, 99999], dest)

    assert list(tmp_path.iterdir()) == []  # not even the folders it would have made


def test_a_header_without_rows_is_rejected(replay: Replay, tmp_path: Path) -> None:
    header_only = ALL_DATA_92196.split(b"\r\n")[0] + b"\r\n"
    replay.add(
        "/api/all_data/csv/by_indicator_id",
        "indicator_ids=90000&child_area_type_id=502&parent_area_type_id=15",
        "text/csv",
        header_only,
    )

    with pytest.raises(FingertipsDownloadError, match="no data rows for indicator 90000"):
        download_indicators(_client(replay), [90000], tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_no_neighbours_is_an_error(replay: Replay, tmp_path: Path) -> None:
    replay.add(
        "/api/areas/by_parent_area_code",
        "area_type_id=502&parent_area_code=nn-1-E99999999",
        "application/json",
        b"[]",
    )

    with pytest.raises(FingertipsDownloadError, match="no CIPFA neighbours for E99999999"):
        download_cipfa_neighbours(_client(replay), "E99999999", tmp_path / "n.csv")

    assert list(tmp_path.iterdir()) == []


def test_an_unchanged_file_keeps_its_modification_time(replay: Replay, tmp_path: Path) -> None:
    # A raw-folder sensor keys on names, sizes and mtimes: a download of the same bytes is no change.
    existing = tmp_path / "fingertips_api_92196.csv"
    existing.write_bytes(ALL_DATA_92196)
    before = _snapshot(tmp_path)

    download_indicators(_client(replay), [92196], tmp_path)

    assert _snapshot(tmp_path) == before


# The Dagster asset


@pytest.fixture
def dagster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_DISABLE_TELEMETRY", "yes")
    monkeypatch.setenv("COV_HOME_AREA_CODE", "E08000026")


def _resources(replay: Replay, raw_dir: Path) -> dict[str, object]:
    return {
        "fingertips_api": FingertipsApiResource(
            base_url=replay.base_url,
            timeout_seconds=2.0,
            max_retries=1,
            backoff_seconds=0.01,
            indicator_ids=[92196],
        ),
        "raw_files": RawFilesResource(raw_dir=str(raw_dir)),
    }


def test_asset_writes_raw_files_and_reports_them(
    replay: Replay, tmp_path: Path, dagster_env: None
) -> None:
    raw = tmp_path / "raw"

    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [fingertips_api_download], resources=_resources(replay, raw), instance=instance
        )

    assert result.success
    assert (raw / "fingertips" / "fingertips_api_92196.csv").read_bytes() == ALL_DATA_92196
    neighbours = (raw / "reference" / "cipfa_neighbours_api.csv").read_bytes()
    assert neighbours == NEIGHBOURS_CSV.encode()
    assert sorted(_snapshot(raw)) == [
        "fingertips/fingertips_api_92196.csv",
        "reference/cipfa_neighbours_api.csv",
    ]
    [materialization] = result.asset_materializations_for_node("raw__fingertips_api_download")
    metadata = materialization.metadata
    assert [r.data for r in metadata["files"].value.records] == [
        {
            "path": "fingertips/fingertips_api_92196.csv",
            "sha256": hashlib.sha256(ALL_DATA_92196).hexdigest(),
            "bytes": len(ALL_DATA_92196),
        },
        {
            "path": "reference/cipfa_neighbours_api.csv",
            "sha256": hashlib.sha256(neighbours).hexdigest(),
            "bytes": len(neighbours),
        },
    ]
    assert metadata["indicator_ids"].value == [92196]
    assert metadata["base_url"].value == replay.base_url
    assert metadata["home_area_code"].value == "E08000026"


def test_a_failed_download_fails_the_run_and_writes_nothing(
    replay: Replay, tmp_path: Path, dagster_env: None
) -> None:
    raw = tmp_path / "raw"
    (raw / "fingertips").mkdir(parents=True)
    (raw / "fingertips" / "fingertips_api_92196.csv").write_bytes(b"Indicator ID,previous\r\n")
    before = _snapshot(raw)
    replay.mode = "html"

    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [fingertips_api_download],
            resources=_resources(replay, raw),
            instance=instance,
            raise_on_error=False,
        )

    assert not result.success
    assert _snapshot(raw) == before
    # A wrong body will not mend itself: one request, no step retries.
    assert replay.count() == 1
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "not with a Fingertips CSV" in failure.step_failure_data.error.message
    assert result.asset_materializations_for_node("raw__fingertips_api_download") == []


@pytest.mark.parametrize(("mode", "retryable"), [("fail", True), ("html", False)])
def test_only_network_faults_are_left_to_the_step_retry_policy(
    replay: Replay, tmp_path: Path, dagster_env: None, mode: str, retryable: bool
) -> None:
    if mode == "fail":
        replay.fail_first = 100
    else:
        replay.mode = mode
    resources = _resources(replay, tmp_path / "raw")

    with build_asset_context() as context, pytest.raises(Failure) as raised:
        fingertips_api_download(context=context, **resources)

    assert raised.value.allow_retries is retryable
    assert raised.value.metadata["retryable"].value is retryable
    assert not (tmp_path / "raw").exists()


def test_asset_definition_and_job() -> None:
    policy = fingertips_api_download.op.retry_policy
    assert policy is not None and policy.max_retries >= 1
    assert policy.backoff == Backoff.EXPONENTIAL
    # Only the API and the raw folder: no warehouse resource, so it cannot write the warehouse.
    assert fingertips_api_download.required_resource_keys - {"io_manager"} == {
        "fingertips_api",
        "raw_files",
    }
    assert fingertips_api_download.group_names_by_key == {fingertips_api_download.key: "fingertips"}
    defs = Definitions(
        assets=[fingertips_api_download],
        jobs=[fingertips_download_job],
        resources={"fingertips_api": FingertipsApiResource(), "raw_files": RawFilesResource()},
    )
    job = defs.resolve_job_def("fingertips_download")
    assert job.asset_layer.executable_asset_keys == {fingertips_api_download.key}
