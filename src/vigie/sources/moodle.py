"""Reads Moodle's standard log (`logstore_standard_log`) from its database or from a CSV export.

Moodle does not write its activity to a log file: every event is a row of
`{prefix}logstore_standard_log`, keyed by a numeric `userid`. Both readers return the same Arrow
columns (`LOGSTORE_COLUMNS`), ready for the `moodle_logstore` table format:

* the login (`mdl_user.username`) instead of the numeric user id, because the login is what the
  rest of the lake pseudonymizes and joins to the directory, and because a Moodle user id is a
  personal identifier too: it is never returned, so it can never be stored raw;
* `line_no`/`byte_offset`, the columns the ingestion pipeline uses to name a record in the
  quarantine (the row's `id` for the database, its line in the CSV file).

The database reader is incremental: it walks `timecreated` in windows and returns, with every
batch, the `(timecreated, id)` of its last row, which the caller stores and passes back as `after`
on the next run. Rows arrive through ADBC as Arrow columns, without a Python loop per row.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import adbc_driver_manager.dbapi as adbc_dbapi
import adbc_driver_postgresql.dbapi as adbc_postgresql
import duckdb
import numpy as np
import pyarrow as pa

from vigie.errors import SourceError
from vigie.sources.compile import sql_str

__all__ = [
    "LOGSTORE_COLUMNS",
    "LOGSTORE_SCHEMA",
    "REJECTS_SCHEMA",
    "SETTLE_SECONDS",
    "read_logstore_csv",
    "read_logstore_db",
]

#: What both readers return, in this order and with these types.
LOGSTORE_SCHEMA = pa.schema(
    [
        ("line_no", pa.int64()),
        ("byte_offset", pa.int64()),
        ("timecreated", pa.int64()),
        ("username", pa.string()),
        ("realusername", pa.string()),
        ("ip", pa.string()),
        ("eventname", pa.string()),
        ("component", pa.string()),
        ("action", pa.string()),
        ("target", pa.string()),
        ("crud", pa.string()),
        ("origin", pa.string()),
        ("courseid", pa.int64()),
        ("contextinstanceid", pa.int64()),
        ("edulevel", pa.int64()),
    ]
)

#: Names of `LOGSTORE_SCHEMA`'s columns.
LOGSTORE_COLUMNS: tuple[str, ...] = tuple(LOGSTORE_SCHEMA.names)

#: The CSV rows that could not be read: their line in the file and why.
REJECTS_SCHEMA = pa.schema([("line_no", pa.int64()), ("reason", pa.string())])

#: Seconds left unread at the end by default. Moodle buffers its log writes until the end of a
#: request, so the newest seconds may still receive rows; a cursor past them would skip those.
SETTLE_SECONDS = 60

_PREFIX = re.compile(r"^[a-z0-9_]+$")

#: Types of the logstore columns in a CSV export (Moodle's install.xml: int -> BIGINT, char and
#: text -> VARCHAR). A column not listed here (a newer Moodle) is read as VARCHAR.
_CSV_TYPES = {
    "id": "BIGINT",
    "eventname": "VARCHAR",
    "component": "VARCHAR",
    "action": "VARCHAR",
    "target": "VARCHAR",
    "objecttable": "VARCHAR",
    "objectid": "BIGINT",
    "crud": "VARCHAR",
    "edulevel": "BIGINT",
    "contextid": "BIGINT",
    "contextlevel": "BIGINT",
    "contextinstanceid": "BIGINT",
    "userid": "BIGINT",
    "courseid": "BIGINT",
    "relateduserid": "BIGINT",
    "anonymous": "BIGINT",
    "other": "VARCHAR",
    "timecreated": "BIGINT",
    "origin": "VARCHAR",
    "ip": "VARCHAR",
    "realuserid": "BIGINT",
}

#: Logstore columns the readers need (present in every Moodle since 2.7).
_REQUIRED = (
    "eventname", "component", "action", "target", "crud", "edulevel", "contextinstanceid",
    "userid", "courseid", "timecreated", "origin", "ip", "realuserid",
)


def _check_prefix(prefix: str) -> str:
    """The prefix, if it can only form a plain table name (it is pasted into the SQL)."""
    if not _PREFIX.fullmatch(prefix):
        raise SourceError(
            f"Moodle table prefix {prefix!r} is not valid: use lower-case letters, digits and "
            "'_' only (Moodle's $CFG->prefix, usually 'mdl_')"
        )
    return prefix


def _redacted(uri: str) -> str:
    """The URI without a password, for error messages."""
    parts = urlsplit(uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = userinfo.split(":", 1)[0] + "@" + host
    query = urlencode([(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _with_password(uri: str, password: str | None) -> str:
    """The connection URI with the password as libpq's `password` parameter.

    The password comes from the environment (never from the config file); libpq reads it from
    the URI's query string, so it is URL-encoded there rather than spliced into the authority.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("postgresql", "postgres"):
        raise SourceError(
            f"Moodle database URI {_redacted(uri)!r} must start with postgresql:// "
            "(postgresql://user@host:5432/moodle)"
        )
    if password is None:
        return uri
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
    query.append(("password", password))
    # libpq decodes %XX but not "+": spaces must be %20.
    encoded = urlencode(query, quote_via=quote)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, encoded, parts.fragment))


def _select(prefix: str) -> str:
    """The rows of the log after a cursor and up to a second, with logins instead of user ids.

    `timecreated >= $1 AND (timecreated > $1 OR id > $2)` is `(timecreated, id) > ($1, $2)`
    written so that PostgreSQL can range-scan Moodle's index on `timecreated` (there is no index
    on the pair). A user id without a `{prefix}user` row (0 for visitors not logged in) gives a
    NULL login. A deleted account keeps the username Moodle rewrote at deletion: it is still
    one stable value per person, which is all the pseudonymized lake needs.
    """
    log, user = f'"{prefix}logstore_standard_log"', f'"{prefix}user"'
    return f"""
SELECT l.id AS line_no, CAST(0 AS BIGINT) AS byte_offset, l.timecreated,
  u.username, r.username AS realusername, l.ip, l.eventname, l.component, l.action, l.target,
  l.crud, l.origin, l.courseid, l.contextinstanceid, CAST(l.edulevel AS BIGINT) AS edulevel
FROM {log} l
LEFT JOIN {user} u ON u.id = l.userid
LEFT JOIN {user} r ON r.id = l.realuserid
WHERE l.timecreated >= $1 AND (l.timecreated > $1 OR l.id > $2) AND l.timecreated <= $3
ORDER BY l.timecreated, l.id
"""


def _next_second(prefix: str) -> str:
    """The first `timecreated` after a cursor: where the next window starts (gaps skipped)."""
    return (
        f'SELECT min(timecreated) FROM "{prefix}logstore_standard_log" '
        "WHERE timecreated >= $1 AND (timecreated > $1 OR id > $2) AND timecreated <= $3"
    )


def _conform(table: pa.Table) -> pa.Table:
    """The table with exactly `LOGSTORE_SCHEMA` (names, order and types)."""
    return table.select(list(LOGSTORE_COLUMNS)).cast(LOGSTORE_SCHEMA)


def read_logstore_db(
    uri: str,
    *,
    password: str | None,
    prefix: str = "mdl_",
    after: tuple[int, int] = (0, 0),
    batch_seconds: int = 86_400,
    until: int | None = None,
) -> Iterator[tuple[pa.Table, tuple[int, int]]]:
    """Yields the log rows after the cursor `after`, one window of `timecreated` at a time.

    Each window covers `batch_seconds` whole seconds, starting at the first second that has a
    row (so the empty nights and holidays of a quiet Moodle cost one index lookup, not one
    query each); since a window never splits a second, and the cursor is the `(timecreated, id)`
    pair, rows sharing a second are neither lost nor read twice across batches or runs. Reading
    stops at `until` (included), by default `SETTLE_SECONDS` before now, because Moodle writes
    the rows of a request only when it ends. Batches are never empty.

    The connection runs in autocommit mode, so no transaction stays open on Moodle's database
    while the caller processes a batch; a read-only role is enough. A table outside the default
    schema is reached with `?options=-csearch_path%3Dmyschema` in the URI.

    Yields:
        (rows with `LOGSTORE_SCHEMA`, ordered by (timecreated, id); the cursor of its last row).

    Raises:
        SourceError: bad prefix or URI, database unreachable, or tables missing.
    """
    _check_prefix(prefix)
    if batch_seconds <= 0:
        raise SourceError(f"batch_seconds must be positive, not {batch_seconds}")
    limit = int(time.time()) - SETTLE_SECONDS if until is None else int(until)
    full_uri = _with_password(uri, password)
    # Checked above, before the first batch is asked for: a generator would only fail then.
    return _windows(full_uri, _redacted(uri), prefix, (int(after[0]), int(after[1])),
                    batch_seconds, limit)


def _windows(
    full_uri: str, where: str, prefix: str, after: tuple[int, int], batch_seconds: int,
    limit: int,
) -> Iterator[tuple[pa.Table, tuple[int, int]]]:
    """The body of `read_logstore_db` (see there), once its arguments are checked."""
    try:
        conn = adbc_postgresql.connect(full_uri, autocommit=True)
    except adbc_dbapi.Error as exc:
        raise SourceError(f"cannot connect to the Moodle database {where}: {_first(exc)}") from exc
    try:
        cur = conn.cursor()
        low = after
        select, next_second = _select(prefix), _next_second(prefix)
        while True:
            cur.execute(next_second, (*low, limit))
            first = cur.fetchall()[0][0]
            if first is None:
                return
            end = min(int(first) + batch_seconds - 1, limit)
            cur.execute(select, (*low, end))
            table = _conform(cur.fetch_arrow_table())
            if table.num_rows == 0:  # rows deleted between the two queries
                low = (end, 2**63 - 1)
                continue
            last = (
                int(table.column("timecreated")[-1].as_py()),
                int(table.column("line_no")[-1].as_py()),
            )
            yield table, last
            low = last
    except adbc_dbapi.Error as exc:
        if "does not exist" in str(exc):
            raise SourceError(
                f"{where}: no table {prefix}logstore_standard_log or {prefix}user ({_first(exc)}); "
                "check 'prefix' (Moodle's $CFG->prefix) and the database name"
            ) from exc
        raise SourceError(f"reading the Moodle log from {where} failed: {_first(exc)}") from exc
    finally:
        conn.close()


def _first(exc: BaseException) -> str:
    """The first line of an error (libpq's details follow on further lines)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's first row (quoted as PostgreSQL's CSV output quotes)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read ({exc})") from exc
    if not header:
        raise SourceError(f"{path}: empty file; expected a CSV export with a header row")
    names = [h.strip().lower() for h in header]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SourceError(f"{path}: column(s) {', '.join(repeated)} appear twice in the header")
    return names


def _read_csv_sql(path: Path, columns: dict[str, str], *, rejects: bool) -> str:
    """`read_csv` of a PostgreSQL CSV export, every column typed, nothing guessed.

    PostgreSQL writes NULL as an unquoted empty field and an empty string as `""`:
    `allow_quoted_nulls = false` keeps that difference.
    """
    spec = "{" + ", ".join(f"{sql_str(n)}: {sql_str(t)}" for n, t in columns.items()) + "}"
    errors = (
        "store_rejects = true, rejects_table = 'csv_rejects', rejects_scan = 'csv_scans'"
        if rejects
        else "ignore_errors = true"
    )
    return (
        f"read_csv({sql_str(str(path))}, header = true, auto_detect = false, delim = ',', "
        f"quote = '\"', escape = '\"', columns = {spec}, allow_quoted_nulls = false, "
        f"null_padding = false, {errors})"
    )


def _line_numbers(good: int, rejected: np.ndarray[Any, np.dtype[np.int64]]) -> pa.Array:
    """Line of each good row, knowing the lines that were rejected (line 1 is the header).

    DuckDB returns the good rows in file order but without their position; its rejects carry
    the line. Numbering counts records, as DuckDB's rejects do: it is the file's line number
    as long as no value contains a newline (Moodle stores `other` as JSON, whose newlines are
    escaped).
    """
    candidates = np.arange(2, good + len(rejected) + 2, dtype=np.int64)
    kept = np.setdiff1d(candidates, rejected, assume_unique=True)[:good]
    return pa.array(kept, type=pa.int64())


def _users(con: duckdb.DuckDBPyConnection, users_csv: Path) -> None:
    """Loads the `mdl_user` export as table `users(id, username)`, one row per id."""
    header = _csv_header(users_csv)
    missing = [c for c in ("id", "username") if c not in header]
    if missing:
        raise SourceError(
            f"{users_csv}: the users export needs the columns id and username "
            f"(missing: {', '.join(missing)})"
        )
    source = _read_csv_sql(users_csv, dict.fromkeys(header, "VARCHAR"), rejects=False)
    con.execute(
        "CREATE TEMP TABLE users AS SELECT TRY_CAST(id AS BIGINT) AS id, "
        f"any_value(username) AS username FROM {source} "
        "WHERE TRY_CAST(id AS BIGINT) IS NOT NULL GROUP BY 1"
    )


def read_logstore_csv(path: Path, *, users_csv: Path | None) -> tuple[pa.Table, pa.Table]:
    """Reads a CSV export of the log (`\\copy mdl_logstore_standard_log to f.csv csv header`).

    Columns are found by name in the header (a newer Moodle may add some) and all typed
    explicitly. The numeric `userid` and `realuserid` are replaced by the logins found in
    `users_csv` (an export of `mdl_user` with at least `id` and `username`). Without that file,
    or for an id it does not list, `username`/`realusername` are NULL: the events still count,
    as anonymous ones, but a numeric id is not kept in their place, since it identifies a person
    as surely as a login does and would then be stored without pseudonymization.

    A row that cannot be read (a `timecreated` that is not an integer, too few or too many
    fields, invalid UTF-8) does not stop the reading: it is returned among the rejects, with its
    line and DuckDB's reason, for the quarantine.

    Returns:
        (rows with `LOGSTORE_SCHEMA` in file order, `line_no` being the CSV line; rejects with
        `REJECTS_SCHEMA`, one row per rejected line).

    Raises:
        SourceError: the file cannot be read, has no header, or lacks a needed column.
    """
    header = _csv_header(path)
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise SourceError(
            f"{path}: not an export of logstore_standard_log (missing column(s) "
            f"{', '.join(missing)}); export it with `\\copy mdl_logstore_standard_log "
            "to 'file.csv' csv header`"
        )
    columns = {name: _CSV_TYPES.get(name, "VARCHAR") for name in header}
    con = duckdb.connect()
    try:
        picked = ", ".join(f'"{c}"' for c in _REQUIRED)
        try:
            rows = con.sql(
                f"SELECT {picked} FROM {_read_csv_sql(path, columns, rejects=True)}"
            ).to_arrow_table()
        except duckdb.Error as exc:
            raise SourceError(f"{path}: cannot read as CSV: {_first(exc)}") from exc
        rejects = con.sql(
            # A short line has one error per missing column: the first one names the count.
            "SELECT CAST(line AS BIGINT) AS line_no, arg_min(error_message, column_idx) "
            "AS reason FROM csv_rejects GROUP BY line ORDER BY line"
        ).to_arrow_table()
        rejected = rejects.column("line_no").to_numpy().astype(np.int64)
        con.register("log_rows", rows.append_column("line_no", _line_numbers(rows.num_rows,
                                                                              rejected)))
        if users_csv is not None:
            _users(con, users_csv)
            who, join = "u.username, r.username", (
                "LEFT JOIN users u ON u.id = l.userid LEFT JOIN users r ON r.id = l.realuserid"
            )
        else:
            who, join = "CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)", ""
        table = con.sql(
            f"SELECT l.line_no, CAST(0 AS BIGINT) AS byte_offset, l.timecreated, "
            f"{who}, l.ip, l.eventname, l.component, l.action, l.target, l.crud, l.origin, "
            "l.courseid, l.contextinstanceid, l.edulevel "
            f"FROM log_rows l {join} ORDER BY l.line_no"
        ).to_arrow_table()
        renamed = table.rename_columns(list(LOGSTORE_COLUMNS))
        return renamed.cast(LOGSTORE_SCHEMA), rejects.cast(REJECTS_SCHEMA)
    finally:
        con.close()
