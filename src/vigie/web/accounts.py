"""Local accounts of the web application: a small file of user → scrypt hash and role.

Why a file: a handful of decision-makers and the IT team use the dashboards; a file the
administrator edits with `vigie web account add` (or by hand) needs no database. The file is
re-read when it changes, so adding, removing or demoting someone applies at the next request
without a restart. Passwords are hashed with the LRS's scrypt (`vigie.lrs.tenants`), never
stored in clear.

Format, JSON (what the command writes) or TOML (by hand), chosen by the file's suffix:

    {"users": {"alice": {"password": "scrypt$16384$8$1$…", "role": "admin"}}}

    [users.alice]
    password = "scrypt$16384$8$1$…"
    role = "admin"

    [users.marc]                     # a manager who sees only UFRST and its sub-structures
    role = "manager"
    structures = ["UFRST"]

A user without `password` cannot log in with the form; it only gives a role to a user
authenticated by the trusted reverse proxy. A user without `role` takes the role its directory
groups give (`[web] group_roles`), else viewer: an explicit role always wins.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import cast, get_args

from vigie.errors import VigieError
from vigie.lrs.tenants import hash_secret, verify_secret
from vigie.web.dashboards import ROLES, Role

__all__ = ["Account", "AccountError", "AccountStore", "read_accounts", "write_account"]


class AccountError(VigieError):
    """The accounts file is unreadable or wrong."""


@dataclass(frozen=True)
class Account:
    """One user: its role (None: from directory groups), for form login its scrypt hash, and
    for a manager the structures it is restricted to (empty: all)."""

    user: str
    role: Role | None
    password: str | None = None
    structures: tuple[str, ...] = ()


def read_accounts(path: Path) -> dict[str, Account]:
    """The accounts of `path` (empty when it does not exist)."""
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise AccountError(f"accounts file {path}: {exc}") from exc
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise AccountError(f"accounts file {path}: expected a 'users' table")
    found: dict[str, Account] = {}
    for user, entry in users.items():
        if not isinstance(entry, dict) or set(entry) - {"password", "role", "structures"}:
            raise AccountError(f"accounts file {path}: users.{user}: expected only "
                               "'password', 'role' and 'structures'")
        role = entry.get("role")
        if role is not None and role not in get_args(Role):
            raise AccountError(f"accounts file {path}: users.{user}.role: {role!r} is not one "
                               f"of {', '.join(ROLES)}")
        password = entry.get("password")
        if password is not None and not str(password).startswith("scrypt$"):
            raise AccountError(f"accounts file {path}: users.{user}.password: not a scrypt "
                               "hash (use `vigie web account add`)")
        structures = entry.get("structures", [])
        if not isinstance(structures, list) or not all(
                isinstance(s, str) and s.strip() for s in structures):
            raise AccountError(f"accounts file {path}: users.{user}.structures: expected a "
                               "list of structure codes")
        _check_structures(f"accounts file {path}: users.{user}.structures", role, structures)
        found[str(user)] = Account(str(user), cast(Role | None, role), password,
                                   tuple(s.strip() for s in structures))
    return found


def _check_structures(key: str, role: str | None, structures: list[str] | tuple[str, ...]
                      ) -> None:
    """Only a manager can be restricted: a restricted viewer or admin would be a new role."""
    if structures and role != "manager":
        raise AccountError(f"{key}: only a manager can be restricted to structures "
                           f"(the role is {role or 'not set'})")


def write_account(path: Path, user: str, password: str | None, role: Role | None,
                  structures: tuple[str, ...] = ()) -> None:
    """Adds or replaces `user` in a JSON accounts file (written atomically, mode 600)."""
    if path.suffix == ".toml":
        raise AccountError(f"{path}: the command writes JSON accounts files; edit TOML by hand")
    if not user or any(c.isspace() for c in user):
        raise AccountError(f"user name {user!r} must be non-empty, without spaces")
    _check_structures("structures", role, structures)
    accounts = read_accounts(path)
    accounts[user] = Account(user, role, hash_secret(password) if password else None,
                             structures)
    body = {"users": {a.user: {k: v for k, v in (
        ("password", a.password), ("role", a.role),
        ("structures", list(a.structures) or None)) if v is not None}
        for a in accounts.values()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(body, out, indent=1, ensure_ascii=False)
        out.write("\n")
    os.replace(tmp, path)


class AccountStore:
    """The accounts of a file, re-read whenever the file changes; safe to share between threads."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._accounts: dict[str, Account] = {}

    def get(self, user: str) -> Account | None:
        """The account of `user`, read fresh if the file changed."""
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._accounts = read_accounts(self.path) if stamp else {}
                self._stamp = stamp
            return self._accounts.get(user)

    def check(self, user: str, password: str) -> Account | None:
        """The account when `password` is right (scrypt: slow on purpose), else None."""
        account = self.get(user)
        if account is None or account.password is None:
            # Same cost as a wrong password, so timing does not reveal who has an account.
            verify_secret(password, _dummy_hash())
            return None
        return account if verify_secret(password, account.password) else None


@functools.cache
def _dummy_hash() -> str:
    return hash_secret("vigie-no-such-user")
