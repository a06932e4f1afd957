"""Download Fingertips (OHID) data through its public API into the raw zone.

The API is a second way in beside exports saved by hand: what it returns is written to
``data/raw/<source>/`` byte for byte, so the raw zone keeps exactly what was fetched. API reference:
https://fingertips.phe.org.uk/api (Swagger at https://fingertips.phe.org.uk/swagger/ui/index).

A download is bounded three ways, so no server can hold a run or the machine: an overall deadline
for the whole download (every request and retry included, checked while bytes arrive, so a server
that trickles a byte now and then is stopped too), a size cap per answer, and connect and read
timeouts per request. Answers stream to files on disk in chunks, never whole into memory, and are
moved into place together only when the whole set has arrived. A host that cannot be reached
(connection refused, name not resolved) fails at once: waiting minutes does not bring a network
back, and the person who started the download learns it in seconds.
"""

from __future__ import annotations

import csv
import filecmp
import io
import json
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import requests
import urllib3.exceptions

from cov_pipeline import settings

logger = logging.getLogger(__name__)

# Counties & UAs (from Apr 2023), the area type Coventry is published in; regions as parents.
DEFAULT_CHILD_AREA_TYPE_ID = 502
DEFAULT_PARENT_AREA_TYPE_ID = 15
# Fingertips groups statistical neighbours under a pseudo parent code: "nn-1-" is the CIPFA set.
CIPFA_PARENT_PREFIX = "nn-1-"
CSV_HEADER_START = b"Indicator ID,"
CIPFA_NEIGHBOURS_COLUMNS = ("area_code", "neighbour_code", "neighbour_name", "neighbour_rank")

_RETRYABLE_STATUS = frozenset({429}) | frozenset(range(500, 600))
_UTF8_BOM = b"\xef\xbb\xbf"
# Bytes asked of the socket at a time: the most a download holds in memory at once.
CHUNK_BYTES = 1024 * 1024
# How much of an answer's start is read back to check its format (header and first row).
_HEAD_BYTES = 64 * 1024


class FingertipsDownloadError(RuntimeError):
    """A Fingertips API request failed or returned something other than what was asked for.

    ``retryable`` says whether trying again later could help (network faults, 429, 5xx, a
    deadline passed) or not (other 4xx, a body in the wrong format or over the size cap), so the
    person or orchestrator that started the download knows whether to start it again.
    """

    def __init__(self, message: str, *, url: str, attempts: int, retryable: bool) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts
        self.retryable = retryable


class _TransientFault(Exception):
    """One attempt failed in a way another attempt may not (5xx, timeout, a dropped connection)."""


class FingertipsClient:
    """A small client for the Fingertips API, bounded in time and size, with retries and backoff.

    One client is one download: its ``deadline_seconds`` clock starts when it is made and covers
    every request, retry and wait after that. Each request is tried once plus up to
    ``max_retries`` more times when it times out, the connection drops mid-answer, or the server
    answers 429 or 5xx; the waits are ``backoff_seconds * 2**(n-1)`` before retry n, and a wait
    that would end past the deadline is not begun. A host that cannot be reached at all is not
    retried. ``connect_timeout_seconds`` bounds connecting and ``read_timeout_seconds`` each wait
    for data; neither stops a server that sends a byte now and then, which the deadline does
    (checked after every chunk, and no wait on the socket is allowed past it). ``max_bytes`` caps
    each answer: the Content-Length announced, and the bytes counted as they arrive.
    """

    def __init__(
        self,
        base_url: str,
        read_timeout_seconds: float = 30,
        max_retries: int = 3,
        backoff_seconds: float = 1.0,
        session: requests.Session | None = None,
        *,
        connect_timeout_seconds: float = 10,
        deadline_seconds: float = settings.DEFAULT_DOWNLOAD_DEADLINE_SECONDS,
        max_bytes: int = settings.DEFAULT_DOWNLOAD_MAX_BYTES,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        if deadline_seconds <= 0 or max_bytes <= 0:
            raise ValueError(
                f"deadline_seconds and max_bytes must be positive, got {deadline_seconds} and "
                f"{max_bytes}"
            )
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.read_timeout_seconds = read_timeout_seconds
        self.connect_timeout_seconds = connect_timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.deadline_seconds = deadline_seconds
        self.max_bytes = max_bytes
        self._started = time.monotonic()
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> FingertipsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def url(self, endpoint: str, **params: Any) -> str:
        """The full URL of an API endpoint; lists become comma-separated, as the API expects."""
        query = {
            key: ",".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
            for key, value in params.items()
        }
        return f"{self.base_url}{endpoint}?{urlencode(query, safe=',')}"

    def all_data_csv(
        self,
        indicator_ids: Sequence[int],
        sink: IO[bytes],
        child_area_type_id: int = DEFAULT_CHILD_AREA_TYPE_ID,
        parent_area_type_id: int = DEFAULT_PARENT_AREA_TYPE_ID,
    ) -> int:
        """Stream the "all data" CSV for the indicators at one area type into ``sink``, exactly as
        the API sends it, and return the number of attempts it took.

        ``sink`` is a binary file open for reading and writing, replaced from its start: the
        answer's first bytes are read back from it to check it is a Fingertips CSV.
        """
        url = self.all_data_csv_url(indicator_ids, child_area_type_id, parent_area_type_id)
        attempts = self._fetch(url, sink)
        head = _head(sink)
        if not head.removeprefix(_UTF8_BOM).startswith(CSV_HEADER_START):
            raise FingertipsDownloadError(
                f"{url} answered 200 but not with a Fingertips CSV: the body should start with "
                f"{CSV_HEADER_START.decode()!r} and starts with {head[:60]!r}",
                url=url,
                attempts=attempts,
                retryable=False,
            )
        return attempts

    def indicator_metadata(self, indicator_ids: Sequence[int]) -> dict[str, Any]:
        """Indicator metadata (name, definition, unit, polarity, ...), keyed by indicator id as text."""
        url = self.url(
            "indicator_metadata/by_indicator_id", indicator_ids=_checked_ids(indicator_ids)
        )
        return self._get_json(url, dict)

    def cipfa_neighbours(
        self, area_code: str, area_type_id: int = DEFAULT_CHILD_AREA_TYPE_ID
    ) -> list[dict[str, Any]]:
        """The area's CIPFA nearest neighbours (dicts with ``Code``, ``Name``, ...), nearest first.

        The API's order is the neighbour rank, so the list is returned as given.
        """
        return self._get_json(self.cipfa_neighbours_url(area_code, area_type_id), list)

    def all_data_csv_url(
        self,
        indicator_ids: Sequence[int],
        child_area_type_id: int = DEFAULT_CHILD_AREA_TYPE_ID,
        parent_area_type_id: int = DEFAULT_PARENT_AREA_TYPE_ID,
    ) -> str:
        return self.url(
            "all_data/csv/by_indicator_id",
            indicator_ids=_checked_ids(indicator_ids),
            child_area_type_id=child_area_type_id,
            parent_area_type_id=parent_area_type_id,
        )

    def cipfa_neighbours_url(
        self, area_code: str, area_type_id: int = DEFAULT_CHILD_AREA_TYPE_ID
    ) -> str:
        return self.url(
            "areas/by_parent_area_code",
            area_type_id=area_type_id,
            parent_area_code=f"{CIPFA_PARENT_PREFIX}{area_code}",
        )

    def _get_json(self, url: str, expected: type) -> Any:
        """The JSON answer at ``url``, streamed through a temporary file under the same bounds as
        the CSVs (parsing needs it whole, but the cap has already limited its size)."""
        with tempfile.TemporaryFile() as sink:
            attempts = self._fetch(url, sink)
            sink.seek(0)
            try:
                payload = json.load(sink)
            except ValueError as exc:
                raise FingertipsDownloadError(
                    f"{url} answered 200 but not with JSON: the body starts with "
                    f"{_head(sink)[:60]!r}",
                    url=url,
                    attempts=attempts,
                    retryable=False,
                ) from exc
        if not isinstance(payload, expected):
            raise FingertipsDownloadError(
                f"{url} answered with a JSON {type(payload).__name__}, expected a JSON "
                f"{'object' if expected is dict else 'array'}",
                url=url,
                attempts=attempts,
                retryable=False,
            )
        return payload

    def _remaining(self) -> float:
        """Seconds left before the download's deadline (negative once it has passed)."""
        return self.deadline_seconds - (time.monotonic() - self._started)

    def _bounded(self, timeout: float) -> float:
        """A wait of ``timeout`` seconds cut short at the deadline (and never zero or less, which
        would mean no wait at all to the socket, or an error to urllib3)."""
        return max(0.001, min(timeout, self._remaining()))

    def _fetch(self, url: str, sink: IO[bytes]) -> int:
        """Stream the 200 answer to a GET into ``sink`` (emptied first, and again before each
        retry, so it never holds two attempts' bytes) and return the number of attempts."""
        attempts = self.max_retries + 1
        last_error = ""
        for attempt in range(1, attempts + 1):
            if self._remaining() <= 0:
                detail = f"last error: {last_error}" if last_error else "no time left to begin"
                raise self._deadline_error(url, attempt, detail)
            logger.info("GET %s (attempt %d of %d)", url, attempt, attempts)
            sink.seek(0)
            sink.truncate()
            try:
                self._stream_once(url, sink, attempt)
                return attempt
            except _TransientFault as fault:
                last_error = str(fault)
            if attempt == attempts:
                logger.error(
                    "GET %s failed (attempt %d of %d): %s", url, attempt, attempts, last_error
                )
                break
            delay = self.backoff_seconds * 2 ** (attempt - 1)
            if delay >= self._remaining():
                raise self._deadline_error(
                    url, attempt, f"no time left to retry after: {last_error}"
                )
            logger.warning(
                "GET %s failed (attempt %d of %d): %s; retrying in %.2f s",
                url,
                attempt,
                attempts,
                last_error,
                delay,
            )
            time.sleep(delay)
        raise FingertipsDownloadError(
            f"Fingertips API request failed after {attempts} attempts: {url}; last error: "
            f"{last_error}",
            url=url,
            attempts=attempts,
            retryable=True,
        )

    def _stream_once(self, url: str, sink: IO[bytes], attempt: int) -> None:
        """One GET of ``url`` into ``sink``, chunk by chunk, within the deadline and the cap.

        Raises ``_TransientFault`` for what another attempt may mend, and
        ``FingertipsDownloadError`` for what it will not (or for the deadline having passed).
        """
        timeout = (
            self._bounded(self.connect_timeout_seconds),
            self._bounded(self.read_timeout_seconds),
        )
        try:
            response = self.session.get(url, timeout=timeout, stream=True)
        except requests.exceptions.SSLError as exc:
            raise FingertipsDownloadError(
                f"no trusted TLS connection to {url}: {exc} (not retried)",
                url=url,
                attempts=attempt,
                retryable=False,
            ) from exc
        except requests.ConnectionError as exc:
            unreachable = _unreachable(exc)
            if unreachable is None:
                raise self._interrupted(url, attempt, 0, f"{type(exc).__name__}: {exc}") from exc
            host, cause = unreachable
            logger.error("GET %s: cannot reach %s: %s; not retried", url, host, cause)
            raise FingertipsDownloadError(
                f"cannot reach {host}: {cause} (GET {url}; not retried)",
                url=url,
                attempts=attempt,
                retryable=True,
            ) from exc
        except requests.Timeout as exc:
            raise self._interrupted(url, attempt, 0, f"{type(exc).__name__}: {exc}") from exc
        with response:
            self._check_status(url, response, attempt)
            self._check_announced_size(url, response, attempt)
            received = 0
            while True:
                self._bound_socket_wait(response)
                try:
                    chunk = response.raw.read1(CHUNK_BYTES, decode_content=True)
                except urllib3.exceptions.DecodeError as exc:
                    raise FingertipsDownloadError(
                        f"{url} sent a body that could not be decoded: {exc}",
                        url=url,
                        attempts=attempt,
                        retryable=False,
                    ) from exc
                except urllib3.exceptions.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    raise self._interrupted(url, attempt, received, error) from exc
                if not chunk:
                    return
                received += len(chunk)
                if received > self.max_bytes:
                    raise self._over_cap_error(url, attempt)
                sink.write(chunk)
                if self._remaining() <= 0:
                    raise self._deadline_error(
                        url, attempt, f"still receiving after {received:,} bytes"
                    )

    def _check_status(self, url: str, response: requests.Response, attempt: int) -> None:
        """Return on 200; a retryable status is a transient fault, any other a final error."""
        if response.status_code == 200:
            return
        error = f"HTTP {response.status_code} {response.reason}"
        if response.status_code in _RETRYABLE_STATUS:
            raise _TransientFault(error)
        logger.error("GET %s failed with %s; not retried", url, error)
        raise FingertipsDownloadError(
            f"Fingertips API request failed: {url} answered {error} "
            f"(attempt {attempt} of {self.max_retries + 1}; not retried)",
            url=url,
            attempts=attempt,
            retryable=False,
        )

    def _check_announced_size(self, url: str, response: requests.Response, attempt: int) -> None:
        """Refuse an answer whose Content-Length is over the cap before reading any of it."""
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > self.max_bytes:
            raise self._over_cap_error(url, attempt, int(announced))

    def _bound_socket_wait(self, response: requests.Response) -> None:
        """Let the next wait on the socket last no longer than the read timeout or the time left
        before the deadline, whichever is shorter, so a stalled answer ends at the deadline."""
        connection = response.raw.connection
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(self._bounded(self.read_timeout_seconds))

    def _interrupted(self, url: str, attempt: int, received: int, error: str) -> Exception:
        """What a timeout or a dropped connection means: the deadline error if the deadline cut
        the wait short, otherwise a transient fault for ``_fetch`` to retry."""
        if self._remaining() <= 0:
            return self._deadline_error(url, attempt, f"stalled after {received:,} bytes ({error})")
        return _TransientFault(error)

    def _deadline_error(self, url: str, attempt: int, detail: str) -> FingertipsDownloadError:
        """The download ran out of time (``detail`` says while doing what): not retried, since
        the deadline covers every attempt."""
        logger.error("GET %s stopped at the download deadline: %s", url, detail)
        return FingertipsDownloadError(
            f"Fingertips download stopped by its deadline of {self.deadline_seconds:g} s "
            f"(COV_DOWNLOAD_DEADLINE_SECONDS; every request and retry included) on attempt "
            f"{attempt} of {url}: {detail}",
            url=url,
            attempts=attempt,
            retryable=True,
        )

    def _over_cap_error(
        self, url: str, attempt: int, announced: int | None = None
    ) -> FingertipsDownloadError:
        """The answer is over the cap: by its Content-Length, or by the bytes counted so far."""
        logger.error("GET %s answer over the size cap of %d bytes", url, self.max_bytes)
        size = f"announced {announced:,} bytes, over" if announced is not None else "sent more than"
        return FingertipsDownloadError(
            f"{url} {size} the cap of {self.max_bytes:,} bytes per answer "
            "(COV_DOWNLOAD_MAX_BYTES); not retried",
            url=url,
            attempts=attempt,
            retryable=False,
        )


def _unreachable(exc: requests.ConnectionError) -> tuple[str, str] | None:
    """The host and the cause when a connection could not be made at all (refused, name not
    resolved, no route), or ``None`` for a connection that dropped or timed out, which may mend.

    requests wraps urllib3's ``NewConnectionError`` (a ``NameResolutionError`` for DNS) in its
    own error; the socket's ``OSError`` behind it says why in words a person can act on.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        err = pending.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, urllib3.exceptions.NewConnectionError):
            return _host_of(err.conn), _cause_of(err)
        reason = getattr(err, "reason", None)
        pending.extend(
            [err.__cause__, err.__context__, reason if isinstance(reason, BaseException) else None]
        )
        pending.extend(a for a in err.args if isinstance(a, BaseException))
    return None


def _host_of(conn: Any) -> str:
    host = getattr(conn, "host", None) or "the server"
    port = getattr(conn, "port", None)
    return f"{host}:{port}" if port not in (None, 80, 443) else host


def _cause_of(err: urllib3.exceptions.NewConnectionError) -> str:
    cause = err.__cause__ or err.__context__
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, socket.gaierror):
        return f"host name not resolved ({cause.strerror or cause})"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[0].lower() + cause.strerror[1:]
    return str(err)


def _head(sink: IO[bytes]) -> bytes:
    """The first bytes of what was streamed into ``sink``, enough to check an answer's format."""
    sink.seek(0)
    head = sink.read(_HEAD_BYTES)
    sink.seek(0, os.SEEK_END)
    return head


def _checked_ids(indicator_ids: Sequence[int]) -> list[int]:
    ids = [int(i) for i in indicator_ids]
    if not ids:
        raise ValueError("at least one indicator id is needed")
    return ids


class StagedWrites:
    """Files written beside their destination and moved into place together, or not at all.

    Each file goes to a hidden temporary file in its destination folder (same file system, so the
    final rename is atomic); ``commit`` renames them all, ``discard`` removes them and any folder this
    created. A file whose new bytes equal the old ones is left alone, keeping its modification time,
    so a raw-folder sensor does not see a change that is not one.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []
        self._created_dirs: list[Path] = []

    @contextmanager
    def open(self, dest: Path) -> Iterator[IO[bytes]]:
        """A new hidden file beside ``dest``, open for writing and reading back, that ``commit``
        will move onto ``dest``: downloads stream into it chunk by chunk, never whole in memory.
        """
        dest = Path(dest)
        self._make_parents(dest.parent)
        # Hidden, and not matching *.csv, so no reader or sensor picks up a half-written file.
        tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.part"
        self._pending.append((tmp, dest))
        with open(tmp, "x+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())

    def write(self, dest: Path, data: bytes) -> Path:
        """Stage ``data`` (small, already in memory) for ``dest``."""
        with self.open(dest) as handle:
            handle.write(data)
        return Path(dest)

    def commit(self) -> list[Path]:
        written = []
        try:
            while self._pending:
                tmp, dest = self._pending[0]
                if dest.is_file() and _same_bytes(tmp, dest):
                    tmp.unlink()
                else:
                    os.replace(tmp, dest)
                self._pending.pop(0)
                written.append(dest)
        except BaseException:
            self.discard()
            raise
        self._created_dirs.clear()
        return written

    def discard(self) -> None:
        for tmp, _ in self._pending:
            tmp.unlink(missing_ok=True)
        self._pending.clear()
        for folder in reversed(self._created_dirs):
            try:
                folder.rmdir()
            except OSError:
                logger.warning("could not remove %s after a failed download", folder)
        self._created_dirs.clear()

    def _make_parents(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for new in reversed(missing):
            new.mkdir()
            self._created_dirs.append(new)


def _same_bytes(a: Path, b: Path) -> bool:
    """Whether two files hold the same bytes, compared a block at a time (they may be large)."""
    return filecmp.cmp(a, b, shallow=False)


@contextmanager
def staged_writes() -> Iterator[StagedWrites]:
    """Stage files and commit them when the block ends normally; discard them if it raises."""
    stage = StagedWrites()
    try:
        yield stage
    except BaseException:
        stage.discard()
        raise
    stage.commit()


@contextmanager
def _own_or_given(stage: StagedWrites | None) -> Iterator[StagedWrites]:
    if stage is not None:
        yield stage
    else:
        with staged_writes() as own:
            yield own


def indicator_file_name(indicator_id: int) -> str:
    return f"fingertips_api_{indicator_id}.csv"


def download_indicators(
    client: FingertipsClient,
    indicator_ids: Sequence[int],
    dest_dir: Path | str,
    child_area_type_id: int = DEFAULT_CHILD_AREA_TYPE_ID,
    parent_area_type_id: int = DEFAULT_PARENT_AREA_TYPE_ID,
    stage: StagedWrites | None = None,
) -> list[Path]:
    """Download one all-data CSV per indicator into ``dest_dir`` as ``fingertips_api_<id>.csv``.

    Nothing is moved into place until every download has succeeded, so a failure leaves the folder as
    it was. Given a ``stage``, the files join it and are moved when the caller commits it.
    """
    paths = []
    with _own_or_given(stage) as staging:
        for indicator_id in _checked_ids(indicator_ids):
            dest = Path(dest_dir) / indicator_file_name(indicator_id)
            with staging.open(dest) as sink:
                ids = [indicator_id]
                attempts = client.all_data_csv(ids, sink, child_area_type_id, parent_area_type_id)
                url = client.all_data_csv_url(ids, child_area_type_id, parent_area_type_id)
                _check_has_rows_for(_head(sink), indicator_id, url, attempts)
            paths.append(dest)
    return paths


def _check_has_rows_for(head: bytes, indicator_id: int, url: str, attempts: int) -> None:
    """Refuse an all-data CSV without rows of the indicator asked for, from its first bytes."""
    # The API answers an unknown id, or one not published at this area type, with the header alone.
    _, _, rows = head.partition(b"\n")
    if not rows.strip():
        raise FingertipsDownloadError(
            f"{url} returned a header but no data rows for indicator {indicator_id}: check the "
            "indicator id and the area types",
            url=url,
            attempts=attempts,
            retryable=False,
        )
    if not rows.startswith(f"{indicator_id},".encode()):
        raise FingertipsDownloadError(
            f"{url} returned rows for another indicator than {indicator_id}: the first row starts "
            f"{rows[:40]!r}",
            url=url,
            attempts=attempts,
            retryable=False,
        )


def download_cipfa_neighbours(
    client: FingertipsClient,
    area_code: str,
    dest_path: Path | str,
    area_type_id: int = DEFAULT_CHILD_AREA_TYPE_ID,
    stage: StagedWrites | None = None,
) -> Path:
    """Write the area's CIPFA nearest neighbours as a CSV, ranked 1..n in the API's order.

    Columns: ``area_code, neighbour_code, neighbour_name, neighbour_rank``. Same all-or-nothing rule
    as ``download_indicators``.
    """
    areas = client.cipfa_neighbours(area_code, area_type_id)
    url = client.cipfa_neighbours_url(area_code, area_type_id)
    if not areas:
        raise FingertipsDownloadError(
            f"{url} returned no CIPFA neighbours for {area_code} at area type {area_type_id}: "
            "check the area code and area type",
            url=url,
            attempts=1,
            retryable=False,
        )
    malformed = [a for a in areas if not isinstance(a, dict) or not a.get("Code")]
    if malformed:
        raise FingertipsDownloadError(
            f"{url} returned areas without a Code, e.g. {malformed[0]!r}",
            url=url,
            attempts=1,
            retryable=False,
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CIPFA_NEIGHBOURS_COLUMNS)
    writer.writerows(
        (area_code, area["Code"], area.get("Name", ""), rank)
        for rank, area in enumerate(areas, start=1)
    )
    with _own_or_given(stage) as staging:
        return staging.write(Path(dest_path), out.getvalue().encode("utf-8"))
