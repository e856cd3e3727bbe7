"""Who gets which role: the accounts file first, then the directory groups of `[web]`.

Why directory groups: a university already says in its directory who directs a faculty or works
in the IT department (Grouper's `isMemberOf`, `memberOf`, `groupOfNames`); mapping a group to a
role spares the administrator an account per decision-maker, and leaving the group ends the
access. Why the accounts file wins: it is the administrator's explicit word about one person,
so it can promote or demote someone whatever their groups say.

Precedence (docs/web.md): an account with a `role` → that role (and its structures); else the
groups' mappings → the highest role they give (a manager's structures: the union over the
matching manager mappings, unrestricted if one of them is); else an account without role →
viewer; else a proxy user → `proxy_default_role`; else refused. Groups are looked up at most
every `group_cache_seconds` per user (LDAP), or when the LDIF file changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from vigie.config import Config, GroupRoleConfig, Role, password_from_env
from vigie.errors import SourceError
from vigie.referential.directory import ldap_groups, ldif_groups, normalize_group
from vigie.referential.supann import resolve_attributes
from vigie.web.accounts import Account
from vigie.web.dashboards import ROLES

__all__ = ["Grant", "GroupRoles", "Membership", "group_roles", "resolve_grant"]


@dataclass(frozen=True)
class Grant:
    """A role and, for a restricted manager, its structure codes (None: every structure)."""

    role: Role
    structures: frozenset[str] | None = None


class Membership(Protocol):
    """The (normalized) directory groups of a user."""

    def groups(self, user: str) -> frozenset[str]: ...


class LdifMembership:
    """Groups of an LDIF export, re-read when the file changes (it is small next to the lake)."""

    def __init__(self, path: Path, *, uid_attribute: str, group_attributes: Sequence[str]) -> None:
        self.path, self.uid, self.attributes = path, uid_attribute, tuple(group_attributes)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._groups: dict[str, frozenset[str]] = {}

    def groups(self, user: str) -> frozenset[str]:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise SourceError(f"LDIF {self.path}: cannot be read ({exc.strerror})") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._groups = ldif_groups(self.path, uid_attribute=self.uid,
                                           group_attributes=self.attributes)
                self._stamp = stamp
            return self._groups.get(user.lower(), frozenset())


class LdapMembership:
    """Groups read from LDAP, one search per user and per `ttl` seconds."""

    def __init__(self, lookup: Callable[[str], frozenset[str]], ttl: float) -> None:
        self.lookup, self.ttl = lookup, ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    def groups(self, user: str) -> frozenset[str]:
        key = user.lower()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        found = self.lookup(user)  # outside the lock: one slow search does not block others
        with self._lock:
            self._cache[key] = (time.monotonic(), found)
        return found


class GroupRoles:
    """The `[[web.group_roles]]` mappings over a user's directory groups."""

    def __init__(self, rules: Sequence[GroupRoleConfig], membership: Membership) -> None:
        self.rules = [(normalize_group(r.group), r) for r in rules]
        self.membership = membership

    def grant(self, user: str) -> Grant | None:
        """The highest role the user's groups give, or None when no group is mapped."""
        groups = self.membership.groups(user)
        matched = [rule for group, rule in self.rules if group in groups]
        if not matched:
            return None
        role = max((r.role for r in matched), key=ROLES.index)
        if role != "manager":
            return Grant(role)
        managers = [r for r in matched if r.role == "manager"]
        if any(not r.structures for r in managers):
            return Grant("manager")
        return Grant("manager", frozenset(s for r in managers for s in r.structures))


def group_roles(config: Config) -> GroupRoles | None:
    """The group mappings of `config` over its directory (None when `[web]` maps no group)."""
    web, directory = config.web, config.directory
    if not web.group_roles or directory is None:
        return None
    uid = resolve_attributes(directory.attributes or None)["uid"]
    membership: Membership
    if directory.ldif is not None:
        membership = LdifMembership(config.path(directory.ldif), uid_attribute=uid,
                                    group_attributes=web.group_attributes)
    else:
        ldap = directory.ldap
        assert ldap is not None
        password = password_from_env(ldap.password_env, key="directory.ldap.password_env")

        def lookup(user: str) -> frozenset[str]:
            return ldap_groups(ldap.url, user, bind_dn=ldap.bind_dn, password=password,
                               people_base=ldap.people_base, people_filter=ldap.people_filter,
                               uid_attribute=uid, group_attributes=web.group_attributes,
                               groups_base=ldap.groups_base)

        membership = LdapMembership(lookup, web.group_cache_seconds)
    return GroupRoles(web.group_roles, membership)


def resolve_grant(user: str, account: Account | None, groups: GroupRoles | None,
                  proxy_default: Role | None) -> Grant | None:
    """The precedence of the module docstring; None: the user has no role in vigie.

    `proxy_default` only matters for a proxy user without an account (a form login always has
    one).
    """
    if account is not None and account.role is not None:
        return Grant(account.role, frozenset(account.structures) or None)
    found = groups.grant(user) if groups is not None else None
    if found is not None:
        return found
    if account is not None:
        return Grant("viewer")
    return Grant(proxy_default) if proxy_default is not None else None
