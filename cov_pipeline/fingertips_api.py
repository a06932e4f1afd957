"""Download Fingertips (OHID) data through its public API into the raw zone.

The API is a second way in beside exports saved by hand: what it returns is written to
``data/raw/<source>/`` byte for byte, so the raw zone keeps exactly what was fetched. API reference:
https://fingertips.phe.org.uk/api (Swagger at https://fingertips.phe.org.uk/swagger/ui/index).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

logger = logging.getLogger(__name__)

# Counties & UAs (from Apr 2023), the area type Coventry is published in; regions as parents.
DEFAULT_CHILD_AREA_TYPE_ID = 502
DEFAULT_PARENT_AREA_TYPE_ID = 15
# Fingertips groups statistical neighbours under a pseudo parent code: "nn-1-" is the CIPFA set.
CIPFA_PARENT_PREFIX = "nn-1-"
CSV_HEADER_START = b"Indicator ID,"
CIPFA_NEIGHBOURS_COLUMNS = ("area_code", "neighbour_code", "neighbour_name", "neighbour_rank")

_RETRYABLE_STATUS = frozenset({429}) | frozenset(range(500, 600))
_RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_UTF8_BOM = b"\xef\xbb\xbf"


class FingertipsDownloadError(RuntimeError):
    """A Fingertips API request failed or returned something other than what was asked for.

    ``retryable`` says whether trying again later could help (network faults, 429, 5xx) or not
    (other 4xx, a body in the wrong format), so an orchestrator can skip pointless retries.
    """

    def __init__(self, message: str, *, url: str, attempts: int, retryable: bool) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts
        self.retryable = retryable


class FingertipsClient:
    """A small client for the Fingertips API, with timeouts and retries with exponential backoff.

    Each request is tried once plus up to ``max_retries`` more times when the connection fails, times
    out, or the server answers 429 or 5xx; the waits are ``backoff_seconds * 2**(n-1)`` before retry
    n. ``timeout_seconds`` applies to connecting and to each wait for data, not to the whole body.
    """

    def __init__(
        self,
        base_url: str,
        timeout_seconds: float = 30,
        max_retries: int = 3,
        backoff_seconds: float = 1.0,
        session: requests.Session | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
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
        child_area_type_id: int = DEFAULT_CHILD_AREA_TYPE_ID,
        parent_area_type_id: int = DEFAULT_PARENT_AREA_TYPE_ID,
    ) -> bytes:
        """The "all data" CSV for the indicators at one area type, exactly as the API sends it."""
        url = self.all_data_csv_url(indicator_ids, child_area_type_id, parent_area_type_id)
        response, attempts = self._get(url)
        body = response.content
        if not body.removeprefix(_UTF8_BOM).startswith(CSV_HEADER_START):
            raise FingertipsDownloadError(
                f"{url} answered 200 but not with a Fingertips CSV: the body should start with "
                f"{CSV_HEADER_START.decode()!r} and starts with {body[:60]!r}",
                url=url,
                attempts=attempts,
                retryable=False,
            )
        return body

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
        response, attempts = self._get(url)
        try:
            payload = response.json()
        except ValueError as exc:
            raise FingertipsDownloadError(
                f"{url} answered 200 but not with JSON: the body starts with "
                f"{response.content[:60]!r}",
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

    def _get(self, url: str) -> tuple[requests.Response, int]:
        """The 200 response to a GET and the number of attempts it took."""
        attempts = self.max_retries + 1
        last_error = ""
        for attempt in range(1, attempts + 1):
            logger.info("GET %s (attempt %d of %d)", url, attempt, attempts)
            try:
                response = self.session.get(url, timeout=self.timeout_seconds)
            except _RETRYABLE_EXCEPTIONS as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return response, attempt
                last_error = f"HTTP {response.status_code} {response.reason}"
                if response.status_code not in _RETRYABLE_STATUS:
                    logger.error("GET %s failed with %s; not retried", url, last_error)
                    raise FingertipsDownloadError(
                        f"Fingertips API request failed: {url} answered {last_error} "
                        f"(attempt {attempt} of {attempts}; not retried)",
                        url=url,
                        attempts=attempt,
                        retryable=False,
                    )
            if attempt < attempts:
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                logger.warning(
                    "GET %s failed (attempt %d of %d): %s; retrying in %.2f s",
                    url,
                    attempt,
                    attempts,
                    last_error,
                    delay,
                )
                time.sleep(delay)
            else:
                logger.error(
                    "GET %s failed (attempt %d of %d): %s", url, attempt, attempts, last_error
                )
        raise FingertipsDownloadError(
            f"Fingertips API request failed after {attempts} attempts: {url}; last error: "
            f"{last_error}",
            url=url,
            attempts=attempts,
            retryable=True,
        )


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

    def write(self, dest: Path, data: bytes) -> Path:
        dest = Path(dest)
        self._make_parents(dest.parent)
        # Hidden, and not matching *.csv, so no reader or sensor picks up a half-written file.
        tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.part"
        self._pending.append((tmp, dest))
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return dest

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
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


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
            body = client.all_data_csv([indicator_id], child_area_type_id, parent_area_type_id)
            url = client.all_data_csv_url([indicator_id], child_area_type_id, parent_area_type_id)
            _check_has_rows_for(body, indicator_id, url)
            paths.append(staging.write(Path(dest_dir) / indicator_file_name(indicator_id), body))
    return paths


def _check_has_rows_for(body: bytes, indicator_id: int, url: str) -> None:
    # The API answers an unknown id, or one not published at this area type, with the header alone.
    _, _, rows = body.partition(b"\n")
    if not rows.strip():
        raise FingertipsDownloadError(
            f"{url} returned a header but no data rows for indicator {indicator_id}: check the "
            "indicator id and the area types",
            url=url,
            attempts=1,
            retryable=False,
        )
    if not rows.startswith(f"{indicator_id},".encode()):
        raise FingertipsDownloadError(
            f"{url} returned rows for another indicator than {indicator_id}: the first row starts "
            f"{rows[:40]!r}",
            url=url,
            attempts=1,
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
