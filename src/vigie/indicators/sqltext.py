"""Named parameters (`$name`) in indicator SQL: finding them and replacing them by literals.

Why a scanner rather than a regular expression: a `$` inside a string literal, a quoted
identifier or a comment is not a parameter, and replacing it there would change the query (or
open it to injection). The scanner knows the lexical forms both DuckDB and Spark share.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

__all__ = ["parameters", "split_statements", "substitute"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _tokens(sql: str) -> Iterator[tuple[str, int, int]]:
    """Yields (kind, start, end) for the parts of `sql` that matter: `param` and `semicolon`."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == "\\" and c == "'":  # Spark escapes with backslashes
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote: DuckDB's escape
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c == "$":
            match = _NAME.match(sql, i + 1)
            end = match.end() if match else i + 1
            yield "param", i, end
            i = end
        elif c == ";":
            yield "semicolon", i, i + 1
            i += 1
        else:
            i += 1


def parameters(sql: str) -> set[str]:
    """The names of the `$name` parameters `sql` uses (a lone `$` is reported as `''`)."""
    return {sql[start + 1:end] for kind, start, end in _tokens(sql) if kind == "param"}


def split_statements(sql: str) -> list[str]:
    """The statements of `sql`, split on semicolons outside strings and comments."""
    parts, last = [], 0
    for kind, start, end in _tokens(sql):
        if kind == "semicolon":
            parts.append(sql[last:start])
            last = end
    parts.append(sql[last:])
    return [p for p in parts if p.strip() and _has_code(p)]


def _has_code(sql: str) -> bool:
    """False for a fragment made only of comments and blanks."""
    stripped = re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.DOTALL)
    return bool(stripped.strip())


def substitute(sql: str, literal: Callable[[str], str]) -> str:
    """`sql` with each `$name` replaced by `literal(name)` (strings and comments untouched)."""
    out, last = [], 0
    for kind, start, end in _tokens(sql):
        if kind == "param":
            out.append(sql[last:start])
            out.append(literal(sql[start + 1:end]))
            last = end
    out.append(sql[last:])
    return "".join(out)
