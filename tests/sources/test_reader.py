"""Chunked reading: offsets, compression, partial lines, invalid text."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pyarrow as pa

from vigie.sources.reader import discover, fingerprint, read_chunks


def all_lines(path: Path, **kwargs: object) -> list[pa.Table]:
    options = {"offset": 0, "line_no": 0, "chunk_bytes": 16} | kwargs
    return [c.lines for c in read_chunks(fingerprint(path), **options)]  # type: ignore[arg-type]


def test_sources_reader_chunks_keep_line_numbers_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"first line\nsecond\r\nthird one here\n")
    table = pa.concat_tables(all_lines(path))
    assert table.column("line_no").to_pylist() == [1, 2, 3]
    assert table.column("byte_offset").to_pylist() == [0, 11, 19]
    assert table.column("line").to_pylist() == [
        "first line", "second", "third one here"]


def test_sources_reader_leaves_partial_last_line_of_live_file(tmp_path: Path) -> None:
    path = tmp_path / "live.log"
    path.write_bytes(b"done\nstill being writ")
    chunks = list(read_chunks(fingerprint(path), offset=0, line_no=0, chunk_bytes=1 << 20))
    assert sum(c.lines.num_rows for c in chunks) == 1
    assert chunks[-1].end_offset == 5


def test_sources_reader_reads_gzip_and_bzip2_transparently(tmp_path: Path) -> None:
    data = b"".join(b"line %d\n" % i for i in range(1000))
    (tmp_path / "x.log.1.gz").write_bytes(gzip.compress(data))
    (tmp_path / "x.log.2.bz2").write_bytes(bz2.compress(data[:-1]))  # no final newline
    for name, expected in (("x.log.1.gz", 1000), ("x.log.2.bz2", 1000)):
        rows = sum(t.num_rows for t in all_lines(tmp_path / name, chunk_bytes=4096))
        assert rows == expected


def test_sources_reader_resumes_from_offset_in_compressed_file(tmp_path: Path) -> None:
    data = b"".join(b"line %d\n" % i for i in range(100))
    path = tmp_path / "x.log.gz"
    path.write_bytes(gzip.compress(data))
    offset = data.index(b"line 40\n")
    tables = all_lines(path, offset=offset, line_no=40, chunk_bytes=1 << 20)
    table = pa.concat_tables(tables)
    assert table.column("line_no").to_pylist()[0] == 41
    assert table.column("line").to_pylist()[0] == "line 40"


def test_sources_reader_invalid_utf8_line_is_null_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    path.write_bytes(b"ok \xc3\xa9t\xc3\xa9\nbad \xff\xfe here\nok again\n")
    table = pa.concat_tables(all_lines(path, chunk_bytes=1 << 20))
    assert table.column("line").null_count == 1
    assert table.column("line").to_pylist()[1] is None
    assert table.column("line").to_pylist()[0] == "ok été"
    assert table.column("line").to_pylist()[2] == "ok again"


def test_sources_reader_many_invalid_utf8_lines_are_each_found(tmp_path: Path) -> None:
    # Bad lines in several blocks of checked lines, next to multi-byte characters, and as the
    # last line: exactly those lines are NULL.
    lines = [f"line {i} \u00e9t\u00e9".encode() for i in range(2_000)]
    bad = {0, 1, 255, 256, 700, 1_023, 1_999}
    for i in bad:
        lines[i] = lines[i][:5] + b"\xe9\xff" + lines[i][5:]
    path = tmp_path / "many-bad.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    got = pa.concat_tables(all_lines(path, chunk_bytes=1 << 20)).column("line").to_pylist()
    assert [i for i, line in enumerate(got) if line is None] == sorted(bad)
    assert got[2] == "line 2 \u00e9t\u00e9"


def test_sources_reader_latin1_source_is_transcoded(tmp_path: Path) -> None:
    path = tmp_path / "latin.log"
    path.write_bytes("élève\nça\n".encode("latin-1"))
    table = pa.concat_tables(all_lines(path, chunk_bytes=1 << 20, encoding="latin-1"))
    assert table.column("line").to_pylist() == ["élève", "ça"]
    assert table.column("byte_offset").to_pylist() == [0, 6]


def test_sources_reader_rotation_keeps_fingerprint(tmp_path: Path) -> None:
    data = b"".join(b"line %d\n" % i for i in range(500))
    live = tmp_path / "app.log"
    live.write_bytes(data)
    before = fingerprint(live).head_hash()
    rotated = tmp_path / "app.log.1.gz"
    rotated.write_bytes(gzip.compress(data))
    live.unlink()
    assert fingerprint(rotated).head_hash() == before
    assert discover(["app.log*"], tmp_path) == [rotated]


def test_sources_reader_short_long_and_crlf_lines_are_exact(tmp_path: Path) -> None:
    """Lines are string views into the chunk: inline (≤ 12 bytes) or pointing into it."""
    lines = ["", "a", "exactly12byt", "thirteen byte", "é" * 7, "x" * 300, "crlf line"]
    path = tmp_path / "mixed.log"
    path.write_bytes(("\n".join(lines[:-1]) + "\ncrlf line\r\n").encode())
    table = pa.concat_tables(all_lines(path, chunk_bytes=1 << 20))
    assert table.column("line").to_pylist() == lines
