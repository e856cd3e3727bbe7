"""What the filter menus offer, and the structure tree of the lake's directory.

Why cached: reading them scans the lake, and they change only when new sources, people or a
directory snapshot arrive. Why the latest directory snapshot for structures: it gives each
structure's label and parent (`supannCodeEntiteParent`) as the directory says now, so the menus
show labels rather than codes, and a manager of a faculty also sees its laboratories (a structure
appears in the snapshot when at least one person is assigned to it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from vigie.warehouse.query import connect
from vigie.web.i18n import Lang, value_label

__all__ = ["MENU_COLUMNS", "LakeFacts", "LakeMenus"]

#: Filters whose menus list the distinct values of the `events` column of the same name.
MENU_COLUMNS = ("service", "population", "zone", "device", "source")

_LATEST = "snapshot_date = (SELECT max(snapshot_date) FROM directory)"


@dataclass(frozen=True)
class LakeFacts:
    """Menu values, structures (code → label, parent) and étapes (→ their structures)."""

    values: dict[str, list[str]]
    structures: dict[str, tuple[str | None, str | None]]
    etapes: dict[str, frozenset[str | None]]

    def below(self, codes: Iterable[str]) -> frozenset[str]:
        """`codes` and every structure under them, at any depth."""
        children: dict[str, list[str]] = {}
        for code, (_, parent) in self.structures.items():
            if parent is not None:
                children.setdefault(parent, []).append(code)
        found: set[str] = set()
        todo = list(codes)
        while todo:
            code = todo.pop()
            if code not in found:
                found.add(code)
                todo.extend(children.get(code, ()))
        return frozenset(found)

    def structure_label(self, code: str) -> str:
        """`UFR Sciences et Technologies (UFRST)`, or the code when the directory has no label."""
        label = self.structures.get(code, (None, None))[0]
        return f"{label} ({code})" if label else code

    def menus(self, scope: frozenset[str] | None, lang: Lang) -> dict[str, list[tuple[str, str]]]:
        """(value, shown text) of every menu; a restricted `scope` lists only its structures
        and the étapes of their people."""
        menus = {c: [(v, value_label(v, lang)) for v in vs] for c, vs in self.values.items()}
        codes = [c for c in self.structures if scope is None or c in scope]
        menus["structure"] = sorted(((c, self.structure_label(c)) for c in codes),
                                    key=lambda pair: pair[1].casefold())
        menus["etape"] = [(e, e) for e, where in sorted(self.etapes.items())
                          if scope is None or where & scope]
        return menus


def _relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}


def _read(lake: Path) -> LakeFacts:
    try:
        con = connect(lake)
        relations = _relations(con)
        names = set(con.sql("SELECT * FROM events LIMIT 0").columns)
        values = {c: [str(r[0]) for r in con.sql(
            f"SELECT DISTINCT {c} FROM events WHERE {c} IS NOT NULL ORDER BY 1").fetchall()]
                  if c in names else [] for c in MENU_COLUMNS}
        structures: dict[str, tuple[str | None, str | None]] = {}
        etapes: dict[str, frozenset[str | None]] = {}
        if "directory" in relations:
            structures = {code: (label, parent) for code, label, parent in con.sql(
                "SELECT structure, max(structure_label), max(structure_parent) FROM directory "
                f"WHERE structure IS NOT NULL AND {_LATEST} GROUP BY structure").fetchall()}
            etapes = {etape: frozenset(where) for etape, where in con.sql(
                "SELECT etape, list(DISTINCT structure) FROM directory "
                f"WHERE etape IS NOT NULL AND {_LATEST} GROUP BY etape").fetchall()}
        return LakeFacts(values, structures, etapes)
    except duckdb.Error:  # an empty or unreadable lake: menus stay empty, charts say why
        return LakeFacts({c: [] for c in MENU_COLUMNS}, {}, {})


class LakeMenus:
    """The lake's `LakeFacts`, read again after `ttl` seconds; safe to share between threads."""

    def __init__(self, lake: Path, ttl: float = 300.0) -> None:
        self.lake, self.ttl = lake, ttl
        self._at = 0.0
        self._facts: LakeFacts | None = None
        self._lock = threading.Lock()

    def get(self) -> LakeFacts:
        with self._lock:
            if self._facts is None or time.monotonic() - self._at > self.ttl:
                self._facts = _read(self.lake)
                self._at = time.monotonic()
            return self._facts
