"""Fingertips, the text work on Arrow: the arrays behind the text columns, trimmed, made null
through a validity bitmap and read as numbers, with screens on the raw bytes (whitespace at
either end, a line break, a comma) that skip string kernels that would change nothing. Used by
the parsers of :mod:`~cov_pipeline.fingertips.rows` and by the taking of rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

ARROW_STRING = pd.StringDtype("pyarrow")


def _arrow_text(text: pd.Series):
    """The Arrow array behind a text column (converted once if the column is not Arrow-backed)."""
    import pyarrow as pa

    if _is_arrow_text(text.dtype):
        return text.array._pa_array
    return pa.chunked_array([pa.array(text.astype(ARROW_STRING).array)])


def _is_arrow_text(dtype) -> bool:
    """Whether a pandas column is ``string[pyarrow]``."""
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _trim(text):
    """``utf8_trim_whitespace``, skipped (no copy) where no value starts or ends with whitespace:
    Arrow's ``utf8_is_space`` and its trim agree on every code point (as does ``str.strip``)."""
    import pyarrow.compute as pc

    if not _may_have_outer_space(text):
        return text
    edges = pc.or_(
        pc.utf8_is_space(pc.utf8_slice_codeunits(text, 0, 1)),
        pc.utf8_is_space(pc.utf8_slice_codeunits(text, -1)),
    )
    if not pc.any(edges).as_py():
        return text
    return pc.utf8_trim_whitespace(text)


def _value_bytes(text) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each chunk of an Arrow text array as its value offsets and the bytes they point into,
    viewed in place (no copy). For ``string`` and ``large_string`` (:func:`_is_string_array`)."""
    import pyarrow as pa

    width = np.dtype(np.int64 if text.type == pa.large_string() else np.int32)
    for chunk in text.chunks if isinstance(text, pa.ChunkedArray) else [text]:
        if len(chunk) == 0:
            continue
        _, offsets, data = chunk.buffers()
        starts = np.frombuffer(offsets, width, len(chunk) + 1, chunk.offset * width.itemsize)
        data = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
        yield starts, data


def _may_contain(text, byte: bytes) -> bool:
    """Whether a byte occurs in the text's values: a scan of the raw bytes, many times cheaper
    than a string kernel, to skip one that cannot find anything. (Bytes under a null count:
    this may say yes for nothing, never no for something.)"""
    if not _is_string_array(text):
        return True
    code = ord(byte)
    return any(
        bool((data[offsets[0] : offsets[-1]] == code).any()) for offsets, data in _value_bytes(text)
    )


def _may_have_outer_space(text) -> bool:
    """Whether any value may start or end with whitespace, judged on its first and last byte:
    every character Arrow (or Unicode) counts as whitespace is a byte up to 0x20 in UTF-8, or a
    sequence of bytes from 0x80. Erring like :func:`_may_contain`, never the other way (an
    empty value's "edges" are its neighbours' edges, judged anyway)."""
    if not _is_string_array(text):
        return True
    for offsets, data in _value_bytes(text):
        if data.size:
            edges = np.concatenate((offsets[:-1], offsets[1:] - 1))
            if _EDGE_BYTE[data.take(edges, mode="clip")].any():
                return True
    return False


# Bytes that may begin or end a whitespace character in UTF-8 (and DEL, for simplicity).
_EDGE_BYTE = np.zeros(256, dtype=bool)
_EDGE_BYTE[:0x21] = _EDGE_BYTE[0x7F:] = True


def _null_where(mask, text):
    """``text`` made null where ``mask`` holds (``if_else(mask, None, text)``). A chunk with no
    nulls and no offset, as the readers and Arrow's kernels make them, gets a validity bitmap
    and keeps its offsets and bytes, instead of a copy of them all."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(text, pa.ChunkedArray):
        return pc.if_else(mask, pa.scalar(None, text.type), text)
    chunks, start = [], 0
    for chunk in text.chunks:
        # a kernel's output need not be chunked as its input: take the mask's span of this chunk
        where = mask.slice(start, len(chunk))
        start += len(chunk)
        where = where.combine_chunks() if isinstance(where, pa.ChunkedArray) else where
        if not pc.any(where).as_py():
            chunks.append(chunk)
            continue
        valid = pc.invert(where)
        if chunk.null_count or chunk.offset or where.null_count or valid.offset:
            chunks.append(pc.if_else(where, pa.scalar(None, chunk.type), chunk))
            continue
        chunks.append(
            pa.Array.from_buffers(
                chunk.type, len(chunk), [valid.buffers()[1], *chunk.buffers()[1:]]
            )
        )
    return pa.chunked_array(chunks, text.type)


def _is_string_array(text) -> bool:
    """Whether an Arrow array holds text as offsets into bytes (what the byte screens read)."""
    import pyarrow as pa

    return text.type in (pa.string(), pa.large_string())


def _bool(array) -> np.ndarray:
    """An Arrow boolean array as numpy, null as False."""
    import pyarrow.compute as pc

    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def _arrow_to_float(array) -> np.ndarray:
    """Arrow text to float64; blank or unreadable text gives NaN.

    Arrow's cast parses a clean column in C++; a column with any unreadable value (rare) falls
    back to pandas, which marks just those values missing.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        cleaned = _null_where(pc.equal(array, ""), array)
        return pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        text = pd.Series(pd.arrays.ArrowStringArray(array))
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
