"""ESUP CAS trace files: which login a `TRACE-…` cookie of a web access log belongs to.

The Agimus CAS module writes one `TRACE-<id>:<login>` line per session and sets the same value
as a cookie that the ENT's or Moodle's web server logs at the end of each access line. vigie
keeps only (trace, pseudonym) pairs in `lake/traces/`, read incrementally like any log file, so
a web access is attributed to its user without the login ever being stored.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from vigie.config import Config
from vigie.errors import SourceError
from vigie.ingest.run import known_state
from vigie.privacy.pseudonym import Pseudonymizer
from vigie.sources.reader import discover, fingerprint, read_chunks
from vigie.warehouse.lake import FileState, Lake

__all__ = ["TRACES_SOURCE", "ingest_traces", "load_traces"]

#: Name under which trace files are recorded in the catalogue.
TRACES_SOURCE = "_cas_traces"


def ingest_traces(
    config: Config, lake: Lake, con: duckdb.DuckDBPyConnection, pseudonymizer: Pseudonymizer,
    *, chunk_bytes: int,
) -> list[tuple[str, str]]:
    """Reads new trace lines into the lake; returns (file, error) for files that failed."""
    errors: list[tuple[str, str]] = []
    known = lake.known_files(TRACES_SOURCE)
    for path in discover(config.traces, config.base_dir):
        try:
            file = fingerprint(path)
            state = known_state(file, known)
            offset, lines = (state.offset, state.lines) if state else (0, 0)
            rows = state.rows if state else 0
            for chunk in read_chunks(file, offset=offset, line_no=lines, chunk_bytes=chunk_bytes):
                con.register("_trace_lines", chunk.lines)
                pairs = con.sql(
                    "SELECT DISTINCT regexp_extract(line, '^(TRACE-[^:\\s]+):(\\S+)', 1) AS trace,"
                    " lower(trim(regexp_extract(line, '^(TRACE-[^:\\s]+):(\\S+)', 2))) AS user "
                    "FROM _trace_lines WHERE regexp_matches(line, '^TRACE-[^:\\s]+:\\S+')"
                ).to_arrow_table()
                con.unregister("_trace_lines")
                pseudo = pseudonymizer.table(
                    pa.compute.unique(pairs.column("user").combine_chunks()))
                con.register("_trace_pairs", pairs)
                con.register("_trace_pseudo", pseudo)
                with lake.transaction() as tx:
                    con.execute(
                        "COPY (SELECT t.trace, p.user_pseudo FROM _trace_pairs t "
                        "JOIN _trace_pseudo p USING (user)) "
                        f"TO '{tx.area('traces')}/part-{tx.id}.parquet' (FORMAT parquet)"
                    ).fetchall()
                    rows += pairs.num_rows
                    tx.files.append(FileState(
                        TRACES_SOURCE, file.head_hash(), len(file.head), str(path),
                        chunk.end_offset, chunk.end_line, rows, 0,
                    ))
                con.unregister("_trace_pairs")
                con.unregister("_trace_pseudo")
        except (SourceError, duckdb.Error, OSError) as exc:
            errors.append((str(path), str(exc).splitlines()[0]))
    return errors


def load_traces(lake: Lake, con: duckdb.DuckDBPyConnection) -> pa.Table:
    """(trace, user_pseudo), one row per trace, empty when there are none."""
    files = sorted(lake.table("traces").glob("*.parquet"))
    if not files:
        return pa.table({"trace": pa.array([], pa.string()),
                         "user_pseudo": pa.array([], pa.string())})
    return con.sql(
        "SELECT trace, any_value(user_pseudo) AS user_pseudo "
        f"FROM read_parquet({[str(f) for f in files]}) GROUP BY trace"
    ).to_arrow_table()
