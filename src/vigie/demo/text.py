"""Vectorized building of log lines: IPs, tokens and times as arrow string arrays, and writing.

Nothing here loops over log lines in Python: columns are numpy arrays turned into arrow
strings with compute kernels, glued with `binary_join_element_wise`, and a file is written
from the joined array's data buffer. Only the handful of deliberately damaged lines (0.05 %)
are edited one by one.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Damage",
    "Part",
    "as_text",
    "hex16",
    "ipv4_text",
    "join",
    "local_time",
    "pick",
    "pick_damage",
    "random_tokens",
    "spoil_times",
    "write_lines",
]

_ALPHANUM = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8
)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX16: pa.Array | None = None
_CHUNK = 1 << 19


def as_text(values: npt.NDArray[np.integer] | pa.Array) -> pa.Array:
    """Integers as decimal strings."""
    arr = values if isinstance(values, pa.Array) else pa.array(values)
    return pc.cast(arr, pa.string())


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literal strings."""
    return pc.binary_join_element_wise(*parts, "")


def pick(pool: Sequence[str], index: npt.NDArray[np.integer]) -> pa.Array:
    """`pool[index]` for each index, as a string array."""
    return pc.take(pa.array(list(pool), pa.string()), pa.array(index.astype(np.int64)))


def ipv4_text(values: npt.NDArray[np.uint32] | npt.NDArray[np.int64]) -> pa.Array:
    """Dotted-quad text of IPv4 addresses given as integers."""
    v = values.astype(np.int64)
    octets = [as_text((v >> shift) & 255) for shift in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*octets, ".")


def hex16() -> pa.Array:
    """Lower-case hex text of 0..65535 (IPv6 groups), built once."""
    global _HEX16
    if _HEX16 is None:
        _HEX16 = pa.array([format(i, "x") for i in range(65_536)], pa.string())
    return _HEX16


def random_tokens(
    rng: np.random.Generator, size: int, length: int, *, hexa: bool = False
) -> pa.Array:
    """`size` random tokens of `length` alphanumeric (or hex) characters."""
    alphabet = _HEX if hexa else _ALPHANUM
    codes = rng.integers(0, len(alphabet), size=(size, length), dtype=np.int64)
    raw = alphabet[codes].view(f"S{length}").ravel()
    return pc.cast(pa.array(raw, pa.binary()), pa.string())


def local_time(local: npt.NDArray[np.int64], fmt: str) -> pa.Array:
    """strftime of naive local wall-clock seconds (C locale: English day and month names)."""
    stamps = pa.array(local.astype("datetime64[s]"))
    return pc.strftime(stamps, format=fmt, locale="C")


@dataclass(frozen=True)
class Damage:
    """Indices (into a file's lines) of the lines spoilt on purpose, by kind."""

    truncated: npt.NDArray[np.int64]
    bad_utf8: npt.NDArray[np.int64]
    bad_time: npt.NDArray[np.int64]

    @property
    def all(self) -> npt.NDArray[np.int64]:
        return np.sort(np.concatenate([self.truncated, self.bad_utf8, self.bad_time]))


def pick_damage(rng: np.random.Generator, size: int, rate: float = 0.0005) -> Damage:
    """About `rate` of `size` lines, and at least one of each kind when the file allows."""
    count = max(3, round(size * rate)) if size >= 30 else 0
    chosen = (
        rng.choice(size, size=count, replace=False).astype(np.int64)
        if count
        else np.zeros(0, np.int64)
    )
    kinds = np.arange(count) % 3
    return Damage(
        truncated=np.sort(chosen[kinds == 0]),
        bad_utf8=np.sort(chosen[kinds == 1]),
        bad_time=np.sort(chosen[kinds == 2]),
    )


def spoil_times(times: pa.Array, damage: Damage, garbage: str) -> pa.Array:
    """The time strings with the `bad_time` ones replaced by an unreadable value."""
    if not len(damage.bad_time):
        return times
    mask = np.zeros(len(times), dtype=bool)
    mask[damage.bad_time] = True
    return pc.replace_with_mask(
        times, pa.array(mask), pa.array([garbage] * len(damage.bad_time), pa.string())
    )


@dataclass(frozen=True)
class Part:
    """One file of a log: rows [start, stop) of the lines, optionally gzip-compressed."""

    path: Path
    start: int
    stop: int
    gzip: bool = False


def _spoilt(line: bytes, kind: str) -> bytes:
    if kind == "truncated":
        return line[: max(12, len(line) * 2 // 5)]
    # Latin-1 bytes in the middle of a UTF-8 line (a mis-encoded French name or UA).
    middle = len(line) // 2
    return line[:middle] + b" \xe9t\xe9 \xff" + line[middle:]


def _encoded(lines: pa.Array, damage: Damage) -> pa.Array:
    """Binary lines each ending in a newline, with the truncated and invalid-UTF-8 ones spoilt."""
    ended = pc.cast(pc.binary_join_element_wise(lines, "", "\n"), pa.binary())
    edits = [(int(i), "truncated") for i in damage.truncated] + [
        (int(i), "utf8") for i in damage.bad_utf8
    ]
    if not edits:
        return ended
    edits.sort()
    rows = np.array([i for i, _ in edits], dtype=np.int64)
    originals = pc.take(ended, pa.array(rows)).to_pylist()
    values = [
        _spoilt(original.removesuffix(b"\n"), kind) + b"\n"
        for original, (_, kind) in zip(originals, edits, strict=True)
    ]
    mask = np.zeros(len(ended), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(ended, pa.array(mask), pa.array(values, pa.binary()))


def _payload(chunk: pa.Array | pa.ChunkedArray) -> bytes | memoryview:
    """The bytes of a binary array's values, back to back."""
    if isinstance(chunk, pa.ChunkedArray):
        chunk = chunk.combine_chunks()
    if len(chunk) == 0:
        return b""
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)
    first, last = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
    data = chunk.buffers()[2]
    assert data is not None
    return memoryview(data)[first:last]


def write_lines(
    lines: pa.Array | pa.ChunkedArray,
    parts: Sequence[Part],
    damage: Damage,
    *,
    mtime: float | None = None,
) -> dict[Path, list[int]]:
    """Writes the lines into their files; returns each file's damaged line numbers (1-based)."""
    spoilt = damage.all
    out: dict[Path, list[int]] = {}
    for part in parts:
        part.path.parent.mkdir(parents=True, exist_ok=True)
        with open(part.path, "wb") as raw:
            sink = (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)
                if part.gzip
                else raw
            )
            for start in range(part.start, part.stop, _CHUNK):
                stop = min(start + _CHUNK, part.stop)
                here = spoilt[(spoilt >= start) & (spoilt < stop)] - start
                local = Damage(
                    truncated=np.intersect1d(damage.truncated - start, here),
                    bad_utf8=np.intersect1d(damage.bad_utf8 - start, here),
                    bad_time=np.zeros(0, np.int64),
                )
                sink.write(_payload(_encoded(lines.slice(start, stop - start), local)))
            if sink is not raw:
                sink.close()
        if mtime is not None:
            os.utime(part.path, (mtime, mtime))
        inside = spoilt[(spoilt >= part.start) & (spoilt < part.stop)]
        out[part.path] = [int(i - part.start + 1) for i in inside]
    return out
