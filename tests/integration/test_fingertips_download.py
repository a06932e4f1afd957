"""The Fingertips API download path against a local server replaying recorded-format responses.

The real API is never called: a ThreadingHTTPServer on 127.0.0.1 answers from
tests/fixtures/fingertips_api/ and can be told to fail, hang, stall part way, trickle, leave out
the Content-Length or answer with the wrong thing. Nothing is mocked: the client talks HTTP to it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from dagster import DagsterInstance, Definitions

from assets.fingertips_download import fingertips_api_download, fingertips_download_job
from cov_pipeline.fingertips_api import (
    CHUNK_BYTES,
    FingertipsClient,
    FingertipsDownloadError,
    download_cipfa_neighbours,
    download_indicators,
)
from resources.fingertips_api import FingertipsApiResource
from resources.raw_files import RawFilesResource
from resources.settings import PipelineSettings

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
    mode: str = "replay"  # or "hang", "html", "stall" (part of the body, then nothing), "trickle"
    announce_length: bool = True  # False: no Content-Length, the body ends when the server closes
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
        if replay.mode == "stall":
            return self._send(200, *route, sent=len(route[1]) // 2, then=self._stall)
        if replay.mode == "trickle":
            return self._send(200, *route, sent=200, then=self._trickle)
        self._send(200, *route)

    def _send(
        self, status: int, content_type: str, body: bytes, sent: int | None = None, then=None
    ) -> None:
        """Answer with ``body`` (its first ``sent`` bytes only, then ``then(rest)`` if given)."""
        replay: Replay = self.server.replay  # type: ignore[attr-defined]
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if replay.announce_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:sent])
            if then is not None:
                then(body[sent:])
        except OSError:
            pass  # the client gave up (a timeout, deadline or cap test)

    def _stall(self, rest: bytes) -> None:
        """Send nothing more until the test ends: a server that stopped mid-answer."""
        self.server.replay.release.wait(timeout=30)  # type: ignore[attr-defined]

    def _trickle(self, rest: bytes) -> None:
        """A byte every 0.2 s: never silent for a read timeout, never done."""
        replay: Replay = self.server.replay  # type: ignore[attr-defined]
        for i in range(len(rest)):
            if replay.release.wait(timeout=0.2):
                return
            self.wfile.write(rest[i : i + 1])

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
    settings = {"read_timeout_seconds": 5.0, "max_retries": 3, "backoff_seconds": 0.01} | kwargs
    return FingertipsClient(replay.base_url, **settings)


def _csv(client: FingertipsClient, indicator_ids: list[int] | None = None) -> bytes:
    """The all-data CSV the client streams, collected in memory (small fixtures only)."""
    sink = io.BytesIO()
    client.all_data_csv(indicator_ids or [92196], sink)
    return sink.getvalue()


def _closed_port() -> int:
    """A port that was free a moment ago, so nothing listens on it: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
        body = _csv(client)

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

    body = _csv(_client(replay, max_retries=3))

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
        _csv(_client(replay, max_retries=3))

    url = f"{replay.base_url}all_data/csv/by_indicator_id?{ALL_DATA_QUERY}"
    assert str(raised.value) == (
        f"Fingertips API request failed after 4 attempts: {url}; last error: "
        "HTTP 503 Service Unavailable"
    )
    assert (raised.value.url, raised.value.attempts, raised.value.retryable) == (url, 4, True)
    assert replay.count() == 4


def test_404_is_not_retried(replay: Replay) -> None:
    with pytest.raises(FingertipsDownloadError, match=r"answered HTTP 404 Not Found") as raised:
        _csv(_client(replay), [99999])

    assert replay.count() == 1
    assert "indicator_ids=99999" in str(raised.value)
    assert raised.value.retryable is False


def test_timeout_is_retried_then_fails(replay: Replay) -> None:
    replay.mode = "hang"

    with pytest.raises(FingertipsDownloadError) as raised:
        _csv(_client(replay, read_timeout_seconds=0.2, max_retries=1))

    assert replay.count() == 2
    assert "after 2 attempts" in str(raised.value)
    assert "last error: ReadTimeout" in str(raised.value)
    assert raised.value.retryable is True


def test_connection_refused_fails_at_once_naming_host_and_cause() -> None:
    # Offline: a refused connection is not retried, even with retries and backoff configured.
    port = _closed_port()
    client = FingertipsClient(f"http://127.0.0.1:{port}/api/", max_retries=3, backoff_seconds=5)
    started = time.monotonic()

    with pytest.raises(FingertipsDownloadError) as raised:
        client.cipfa_neighbours("E08000026")

    assert time.monotonic() - started < 5
    url = client.cipfa_neighbours_url("E08000026")
    assert str(raised.value) == (
        f"cannot reach 127.0.0.1:{port}: connection refused (GET {url}; not retried)"
    )
    assert raised.value.attempts == 1


def test_a_name_that_does_not_resolve_fails_at_once_naming_host_and_cause() -> None:
    # .invalid never resolves (RFC 2606); the bound is loose for a slow resolver.
    client = FingertipsClient("http://fingertips.invalid/api/", max_retries=3, backoff_seconds=5)
    started = time.monotonic()

    with pytest.raises(FingertipsDownloadError) as raised:
        client.cipfa_neighbours("E08000026")

    assert time.monotonic() - started < 30
    assert str(raised.value).startswith("cannot reach fingertips.invalid: host name not resolved")
    assert "\n" not in str(raised.value)
    assert raised.value.attempts == 1


def test_a_page_that_is_not_a_fingertips_csv_is_rejected(replay: Replay) -> None:
    replay.mode = "html"

    with pytest.raises(FingertipsDownloadError) as raised:
        _csv(_client(replay))

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


# Bounds: deadline, size cap, streaming


def _prior_download(folder: Path) -> dict[str, tuple[bytes, int]]:
    """A raw folder holding an earlier download and a hand-saved export, as a snapshot."""
    (folder / "fingertips").mkdir(parents=True)
    (folder / "fingertips" / "fingertips_api_92196.csv").write_bytes(b"Indicator ID,old\r\n")
    (folder / "fingertips" / "manual_export.csv").write_bytes(b"Indicator ID,kept\r\n")
    return _snapshot(folder)


@pytest.mark.parametrize("mode", ["stall", "trickle"])
def test_a_stalling_or_trickling_server_is_stopped_at_the_deadline(
    replay: Replay, tmp_path: Path, mode: str
) -> None:
    # Stall: half the body, then silence; the read timeout (30 s) is far beyond the deadline.
    # Trickle: a byte every 0.2 s keeps a 1 s read timeout from ever firing.
    replay.mode = mode
    before = _prior_download(tmp_path)
    client = _client(replay, read_timeout_seconds=30 if mode == "stall" else 1, deadline_seconds=3)
    started = time.monotonic()

    with pytest.raises(FingertipsDownloadError) as raised:
        download_indicators(client, [92196], tmp_path / "fingertips")

    assert time.monotonic() - started < 10  # 3 s, and generous room for a slow machine
    message = str(raised.value)
    assert message.startswith("Fingertips download stopped by its deadline of 3 s")
    assert "COV_DOWNLOAD_DEADLINE_SECONDS" in message and "by_indicator_id" in message
    assert "\n" not in message
    assert replay.count() == 1  # no retry begun past the deadline
    assert _snapshot(tmp_path) == before  # same files, bytes and mtimes; no temporary files


@pytest.mark.parametrize("announce_length", [True, False])
def test_an_answer_over_the_cap_fails_naming_url_and_cap_and_writes_nothing(
    replay: Replay, tmp_path: Path, announce_length: bool
) -> None:
    # With a Content-Length it is refused unread; without, when the count passes the cap.
    replay.announce_length = announce_length
    client = _client(replay, max_bytes=1000)

    with pytest.raises(FingertipsDownloadError) as raised:
        download_indicators(client, [92196], tmp_path / "raw" / "fingertips")

    url = client.all_data_csv_url([92196])
    size = f"announced {len(ALL_DATA_92196):,} bytes, over" if announce_length else "sent more than"
    assert str(raised.value) == (
        f"{url} {size} the cap of 1,000 bytes per answer (COV_DOWNLOAD_MAX_BYTES); not retried"
    )
    assert replay.count() == 1
    assert list(tmp_path.iterdir()) == []


def test_an_answer_without_content_length_within_the_cap_is_kept(
    replay: Replay, tmp_path: Path
) -> None:
    replay.announce_length = False

    [path] = download_indicators(_client(replay, max_bytes=len(ALL_DATA_92196)), [92196], tmp_path)

    assert path.read_bytes() == ALL_DATA_92196


class _RecordingFile(io.BytesIO):
    """A sink that records the size of every write the client makes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    def write(self, data) -> int:  # type: ignore[override]
        self.writes.append(len(data))
        return super().write(data)


def _large_csv(size: int) -> bytes:
    """An all-data CSV of indicator 92196 at least ``size`` bytes long: the fixture's rows again
    and again."""
    header, _, rows = ALL_DATA_92196.partition(b"\r\n")
    return header + b"\r\n" + rows * (size // len(rows) + 1)


def test_a_large_answer_streams_to_disk_in_chunks_byte_for_byte(
    replay: Replay, tmp_path: Path
) -> None:
    body = _large_csv(24 * 1024 * 1024)
    replay.add("/api/all_data/csv/by_indicator_id", ALL_DATA_QUERY, "text/csv", body)
    client = _client(replay, max_bytes=len(body) + 1)

    # In chunks of at most CHUNK_BYTES, never the whole answer at once ...
    recorder = _RecordingFile()
    client.all_data_csv([92196], recorder)
    assert recorder.getvalue() == body
    assert len(recorder.writes) > 1 and max(recorder.writes) <= CHUNK_BYTES

    # ... so the download into the raw folder holds a few chunks in memory, not the answer.
    tracemalloc.start()
    try:
        [path] = download_indicators(client, [92196], tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.read_bytes() == body
    assert peak < len(body) // 3, f"peak {peak:,} bytes for a {len(body):,}-byte answer"


def test_retries_stop_before_a_wait_past_the_deadline(replay: Replay, tmp_path: Path) -> None:
    # 503s with a 5 s backoff and a 2 s deadline: the first wait is not begun.
    replay.fail_first = 100
    client = _client(replay, backoff_seconds=5, deadline_seconds=2)
    started = time.monotonic()

    with pytest.raises(FingertipsDownloadError, match="no time left to retry after: HTTP 503"):
        download_indicators(client, [92196], tmp_path)

    assert time.monotonic() - started < 2
    assert replay.count() == 1
    assert list(tmp_path.iterdir()) == []


# The Dagster job


@pytest.fixture
def dagster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_DISABLE_TELEMETRY", "yes")
    monkeypatch.setenv("COV_HOME_AREA_CODE", "E08000026")


def _resources(base_url: str, raw_dir: Path, **settings: float) -> dict[str, object]:
    api = {"read_timeout_seconds": 2.0, "max_retries": 1, "backoff_seconds": 0.01} | settings
    return {
        "fingertips_api": FingertipsApiResource(base_url=base_url, indicator_ids=[92196], **api),
        "raw_files": RawFilesResource(raw_dir=str(raw_dir)),
        "settings": PipelineSettings(),
    }


def _run(resources: dict[str, object]):
    with DagsterInstance.ephemeral() as instance:
        return fingertips_download_job.execute_in_process(
            resources=resources, instance=instance, raise_on_error=False
        )


def _failure(resources: dict[str, object], raw: Path) -> str:
    """Run the job expecting it to fail without touching the raw folder; the step's one failure
    message."""
    before = _snapshot(raw)
    result = _run(resources)
    assert not result.success
    assert _snapshot(raw) == before
    [message] = [
        e.step_failure_data.error.message
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    return message


def test_job_writes_raw_files_and_reports_them(
    replay: Replay, tmp_path: Path, dagster_env: None
) -> None:
    raw = tmp_path / "raw"

    result = _run(_resources(replay.base_url, raw))

    assert result.success
    assert (raw / "fingertips" / "fingertips_api_92196.csv").read_bytes() == ALL_DATA_92196
    neighbours = (raw / "reference" / "cipfa_neighbours_api.csv").read_bytes()
    assert neighbours == NEIGHBOURS_CSV.encode()
    assert sorted(_snapshot(raw)) == [
        "fingertips/fingertips_api_92196.csv",
        "reference/cipfa_neighbours_api.csv",
    ]
    # An op, not an asset: it reports the files it wrote on its output, and materialises nothing.
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
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
    assert not [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("html", "not with a Fingertips CSV"), ("stall", "stopped by its deadline of 3 s")],
)
def test_a_failed_download_fails_the_run_once_and_writes_nothing(
    replay: Replay, tmp_path: Path, dagster_env: None, mode: str, expected: str
) -> None:
    # A wrong body will not mend itself, and a stalled one is stopped by the deadline (the read
    # timeout is far beyond it): one request each, and no step retries.
    raw = tmp_path / "raw"
    _prior_download(raw)
    replay.mode = mode
    resources = _resources(replay.base_url, raw, read_timeout_seconds=30, deadline_seconds=3)
    started = time.monotonic()

    message = _failure(resources, raw)

    assert time.monotonic() - started < 15
    assert expected in message
    assert replay.count() == 1


def test_offline_the_job_fails_in_seconds_with_one_line_naming_host_and_cause(
    tmp_path: Path, dagster_env: None
) -> None:
    # The resource's own retry settings (3 retries, backoff from 1 s): a refused connection
    # still fails at once, and the step is not retried either.
    raw = tmp_path / "raw"
    _prior_download(raw)
    port = _closed_port()
    resources = {
        "fingertips_api": FingertipsApiResource(base_url=f"http://127.0.0.1:{port}/api/"),
        "raw_files": RawFilesResource(raw_dir=str(raw)),
        "settings": PipelineSettings(),
    }
    started = time.monotonic()

    message = _failure(resources, raw)

    assert time.monotonic() - started < 15  # mostly the run's own start-up
    assert f"cannot reach 127.0.0.1:{port}: connection refused (GET http://127.0.0.1:" in message
    line = next(m for m in message.splitlines() if "cannot reach" in m)
    assert line.endswith("not retried)")


def test_the_download_is_an_op_job_outside_the_asset_graph() -> None:
    # Its own job, one op, no asset: "Materialize all" and the refresh jobs cannot reach it.
    assert fingertips_api_download.retry_policy is None  # the deadline bounds every retry
    assert fingertips_api_download.required_resource_keys == {
        "fingertips_api",
        "raw_files",
        "settings",
    }
    defs = Definitions(
        jobs=[fingertips_download_job],
        resources={
            "fingertips_api": FingertipsApiResource(),
            "raw_files": RawFilesResource(),
            "settings": PipelineSettings(),
        },
    )
    job = defs.resolve_job_def("fingertips_download")
    assert [node.name for node in job.nodes] == ["fingertips_api_download"]
    assert job.asset_layer.executable_asset_keys == set()
    assert not defs.resolve_asset_graph().get_all_asset_keys()
