"""Reads log files as chunks of lines, from where the previous run stopped.

A file is known by a fingerprint of its first bytes (after decompression), not by its path, so
logrotate's renames (`x.log` → `x.log.1` → `x.log.2.gz`) are recognised as the same file and
are not read twice. Offsets count decompressed bytes. A chunk is cut on a line boundary and
turned into an Arrow column without copying the text (the line offsets are found with numpy);
lines that are not valid text are kept as NULL so that the quarantine can name them.
"""

from __future__ import annotations

import bz2
import codecs
import glob
import gzip
import hashlib
import lzma
import mmap
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from vigie.errors import SourceError

__all__ = ["HEAD_BYTES", "Chunk", "LogFile", "discover", "fingerprint", "read_chunks"]

#: Bytes of a file's beginning that identify it across renames and compression.
HEAD_BYTES = 1024
#: Rows per Arrow record batch handed to DuckDB (its unit of parallel scanning).
BATCH_ROWS = 16_384

#: What a chunk's text may be: bytes read from a stream, or a slice of a memory map.
Buffer = bytes | memoryview

_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def is_compressed(path: Path) -> bool:
    return path.suffix in _OPENERS


def open_binary(path: Path) -> BinaryIO:
    """Opens a plain, gzip, bzip2 or xz file for reading decompressed bytes."""
    opener = _OPENERS.get(path.suffix)
    if opener is None:
        return path.open("rb")
    stream: BinaryIO = opener(path, "rb")  # type: ignore[operator]
    return stream


@dataclass(frozen=True)
class LogFile:
    """A file to read, with its identity."""

    path: Path
    head: bytes
    mtime: float
    compressed: bool

    def head_hash(self, length: int | None = None) -> str:
        """Hash of the first `length` bytes (all of the head by default)."""
        return hashlib.sha256(self.head[: len(self.head) if length is None else length]).hexdigest()


def fingerprint(path: Path) -> LogFile:
    """Reads the first bytes of a file (decompressed) to identify it."""
    try:
        with open_binary(path) as stream:
            head = stream.read(HEAD_BYTES)
        return LogFile(path, head, path.stat().st_mtime, is_compressed(path))
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise SourceError(f"{path}: cannot read ({exc}); is it a complete, readable file?") from exc


def discover(patterns: list[str], base: Path) -> list[Path]:
    """Files matching the globs, oldest first (rotated parts before the live file)."""
    found: set[Path] = set()
    for pattern in patterns:
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        found.update(Path(p) for p in glob.glob(full, recursive=True) if Path(p).is_file())
    return sorted(found, key=lambda p: (p.stat().st_mtime, str(p)))


@dataclass(frozen=True)
class Chunk:
    """Consecutive complete lines of one file.

    `lines` has columns `line_no` (1-based, within the file), `byte_offset` (of the line's start,
    in decompressed bytes) and `line` (text without its end of line; NULL if not valid text).
    `end_offset`/`end_line` say where the next chunk starts.
    """

    file: LogFile
    start_offset: int
    end_offset: int
    end_line: int
    lines: pa.Table
    at_end: bool = False


#: Lines per block checked at once when a chunk holds bad bytes (see `_valid_text`).
_CHECK_LINES = 256


def _is_utf8(data: Buffer, start: int, end: int) -> bool:
    """Whether `data[start:end]` is valid UTF-8, checked by Arrow without copying it."""
    view = pa.Array.from_buffers(
        pa.large_string(), 1, [None, pa.py_buffer(np.array([start, end], np.int64)),
                               pa.py_buffer(data)],
    )
    try:
        view.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _valid_text(data: Buffer, newlines: np.ndarray, starts: np.ndarray) -> np.ndarray | None:
    """Mask of lines that are valid UTF-8, or None when all are (the common, fast case).

    The whole chunk is first checked by Arrow's (vectorized) UTF-8 validation, ten times faster
    than decoding it. Only when it fails are blocks of `_CHECK_LINES` lines checked the same way,
    and only the lines of a bad block decoded one by one: a chunk with many bad lines costs
    about two validations, where decoding from each bad line to the next cost a copy of the
    rest of the chunk per bad line. A newline is never part of a multi-byte sequence, so a
    block is valid exactly when each of its lines is.
    """
    if _is_utf8(data, 0, len(data)):
        return None
    valid = np.ones(len(starts), dtype=bool)
    for first in range(0, len(starts), _CHECK_LINES):
        last = min(first + _CHECK_LINES, len(starts)) - 1
        if _is_utf8(data, int(starts[first]), int(newlines[last])):
            continue
        for line in range(first, last + 1):
            try:
                codecs.decode(data[int(starts[line]):int(newlines[line])], "utf-8")
            except UnicodeDecodeError:
                valid[line] = False
    return valid


def _string_views(
    data: Buffer, buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray, valid: np.ndarray | None
) -> pa.Array:
    """Arrow `string_view` of each line without its end of line, pointing into `data` (no copy).

    A view is 16 bytes: the length, then either the text itself (12 bytes or less) or its first
    4 bytes, the buffer index and the offset. Trailing `\r` of CRLF files is excluded too.
    """
    lengths = (ends - starts).astype(np.int64)
    if len(data):
        last = np.clip(ends - 1, 0, len(data) - 1)
        lengths -= (lengths > 0) & (buffer[last] == 13)
    count = len(starts)
    views = np.zeros((count, 4), dtype="<u4")
    views[:, 0] = lengths
    # Reads past the buffer's end are clipped to its last byte (no padded copy of the chunk):
    # only short lines can reach it, and their bytes past their length are zeroed below.
    last_byte = max(len(buffer) - 1, 0)
    # Long lines: 4-byte prefix (read as one little-endian word), buffer 0, offset.
    prefix = np.zeros(count, dtype="<u4")
    for k in range(4):  # four vectorized gathers, not a loop over lines
        prefix |= buffer[np.minimum(starts + k, last_byte)].astype("<u4") << np.uint32(8 * k)
    views[:, 1] = prefix
    views[:, 3] = starts
    # Short lines (12 bytes or less) hold their text inline instead.
    short = np.flatnonzero(lengths <= 12)
    if len(short):
        window = buffer[np.minimum(starts[short, None] + np.arange(12), last_byte)]
        window[np.arange(12) >= lengths[short, None]] = 0
        views[short, 1:4] = window.view("<u4")
    validity = None if valid is None else pa.array(valid).buffers()[1]
    null_count = 0 if valid is None else int(count - valid.sum())
    return pa.Array.from_buffers(
        pa.string_view(), count,
        [validity, pa.py_buffer(views.tobytes()), pa.py_buffer(data)], null_count,
    )


#: Bytes compared at once when looking for the ends of lines.
_NEWLINE_BLOCK = 1 << 20


def _newlines(buffer: np.ndarray) -> np.ndarray:
    """Positions of the `\n` bytes of `buffer`, one block at a time.

    Why blocks: `buffer == 10` over a whole chunk allocates a mask as large as the chunk (tens
    of MiB), which the kernel hands over as fresh zeroed pages at every chunk (8 % of an
    ingestion's CPU went to zeroing them); one reused block-sized mask stays in the cache.
    """
    mask = np.empty(min(len(buffer), _NEWLINE_BLOCK), dtype=bool)
    found = []
    for start in range(0, len(buffer), _NEWLINE_BLOCK):
        block = buffer[start:start + _NEWLINE_BLOCK]
        np.equal(block, 10, out=mask[:len(block)])
        found.append(np.flatnonzero(mask[:len(block)]) + start)
    return np.concatenate(found) if found else np.empty(0, dtype=np.int64)


def _to_lines(data: Buffer, first_line: int, base_offset: int, encoding: str) -> pa.Table:
    buffer = np.frombuffer(data, dtype=np.uint8)
    newlines = _newlines(buffer)
    if len(data) and data[-1:] != b"\n":
        newlines = np.append(newlines, len(data))  # a last line without end of line (EOF)
    if len(data) >= 2**31:
        raise SourceError("a chunk must be smaller than 2 GiB: lower chunk_mb")
    count = len(newlines)
    starts = np.empty(count, dtype=np.int64)
    if count:
        starts[0] = 0
        starts[1:] = newlines[:-1] + 1
    file_offsets = starts + base_offset
    if encoding != "utf-8":
        # Latin-1 sources: transcode the whole chunk once; line count is unchanged.
        data = codecs.decode(data, encoding).encode("utf-8")
        buffer = np.frombuffer(data, dtype=np.uint8)
        newlines = _newlines(buffer)
        if len(data) and data[-1:] != b"\n":
            newlines = np.append(newlines, len(data))
        starts = np.empty(count, dtype=np.int64)
        if count:
            starts[0] = 0
            starts[1:] = newlines[:-1] + 1
    valid = _valid_text(data, newlines, starts)
    text = _string_views(data, buffer, starts, newlines, valid)
    table = pa.table(
        {
            "line_no": pa.array(np.arange(first_line, first_line + count, dtype=np.int64)),
            "byte_offset": pa.array(file_offsets),
            "line": text,
        }
    )
    # Several record batches (zero-copy slices) let DuckDB scan the chunk on every core.
    return pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS), table.schema)


def read_chunks(
    file: LogFile,
    *,
    offset: int,
    line_no: int,
    chunk_bytes: int,
    encoding: str = "utf-8",
) -> Iterator[Chunk]:
    """Chunks of complete lines after `offset` (decompressed bytes) of `file`.

    A last line without end of line is left for a later run while the file may still grow; in
    a compressed (hence finished) file it is read. A plain file is memory-mapped and its chunks
    are slices of the mapping, handed to Arrow without a copy.
    """
    if not file.compressed:
        yield from _mapped_chunks(file, offset=offset, line_no=line_no,
                                  chunk_bytes=chunk_bytes, encoding=encoding)
        return
    try:
        with open_binary(file.path) as stream:
            _skip(stream, offset)
            carry = b""
            position = offset
            while True:
                block = stream.read(chunk_bytes)
                data = carry + block
                if not data:
                    return
                at_end = not block
                cut = data.rfind(b"\n") + 1
                if at_end and file.compressed:
                    cut = len(data)
                if cut == 0:
                    if at_end:
                        return
                    carry = data
                    continue
                body, carry = data[:cut], data[cut:]
                lines = _to_lines(body, line_no + 1, position, encoding)
                line_no += lines.num_rows
                position += len(body)
                yield Chunk(file, position - len(body), position, line_no, lines, at_end)
                if at_end:
                    return
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise SourceError(f"{file.path}: read error after byte {offset}: {exc}") from exc


def _mapped_chunks(
    file: LogFile, *, offset: int, line_no: int, chunk_bytes: int, encoding: str
) -> Iterator[Chunk]:
    """Chunks of a plain file, each a memory map of its own bytes (released with the chunk)."""
    try:
        handle = file.path.open("rb")
    except OSError as exc:
        raise SourceError(f"{file.path}: cannot read ({exc})") from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        position = offset
        while position < size:
            window = chunk_bytes
            while True:  # grow the window until it holds a whole line (or the file's end)
                base = position - position % mmap.ALLOCATIONGRANULARITY
                length = min(size, position + window) - base
                try:
                    mapping = mmap.mmap(handle.fileno(), length, access=mmap.ACCESS_READ,
                                        offset=base)
                except (OSError, ValueError) as exc:
                    raise SourceError(f"{file.path}: read error at byte {position}: {exc}") from exc
                cut = mapping.rfind(b"\n", position - base) + 1
                if cut or base + length >= size:
                    break
                window *= 2
            if cut == 0:
                return  # only a last line still being written
            mapping.madvise(mmap.MADV_SEQUENTIAL)
            lines = _to_lines(memoryview(mapping)[position - base: cut], line_no + 1, position,
                              encoding)
            line_no += lines.num_rows
            end = base + cut
            yield Chunk(file, position, end, line_no, lines, at_end=end >= size)
            position = end


def _skip(stream: BinaryIO, offset: int) -> None:
    if not offset:
        return
    if stream.seekable() and not isinstance(stream, gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile):
        stream.seek(offset)
        return
    remaining = offset
    while remaining:
        got = stream.read(min(remaining, 1 << 24))
        if not got:
            raise SourceError(f"file is shorter than the {offset} bytes already read")
        remaining -= len(got)
