"""Who is asking: a session cookie from the login form, or a trusted reverse proxy's header.

Why the proxy header is checked against the client address: any browser can send
`REMOTE_USER: admin`; only a proxy that authenticated the user (Shibboleth, CAS, Apache
`mod_auth_*`) and that vigie was told to trust may. The header is therefore ignored unless the
TCP peer is one of `trusted_proxies` (addresses or CIDR blocks). A proxy user takes the role of
the account of the same name (an account without password is enough), else the role its
directory groups give, else `proxy_default_role`, or is refused when that is None (the precedence
is `vigie.web.roles`'s). The role is resolved again at every request (groups are cached), so a
demotion applies without waiting for a session to end.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request

from vigie.errors import VigieError
from vigie.web.accounts import Account, AccountStore
from vigie.web.dashboards import Role
from vigie.web.roles import GroupRoles, resolve_grant
from vigie.web.sessions import SessionSigner

__all__ = ["COOKIE", "Authenticator", "DirectoryUnavailable", "Forbidden", "NotAuthenticated",
           "User"]

COOKIE = "vigie_session"


class NotAuthenticated(Exception):
    """No valid session and no trusted header: log in first (401, or a redirect for pages)."""


class Forbidden(Exception):
    """Authenticated, but the role does not allow this (403)."""


class DirectoryUnavailable(Exception):
    """The user's directory groups could not be read (503): refused rather than guessed."""


@dataclass(frozen=True)
class User:
    """The authenticated person, how they were recognised, and for a restricted manager the
    structure codes they were given (None: every structure; sub-structures are added later)."""

    name: str
    role: Role
    via: Literal["session", "proxy"]
    structures: frozenset[str] | None = None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Authenticator:
    """Resolves the user of a request."""

    def __init__(self, accounts: AccountStore, signer: SessionSigner, *,
                 trusted_proxies: Sequence[str] = (), header: str = "REMOTE_USER",
                 proxy_default_role: Role | None = None,
                 groups: GroupRoles | None = None) -> None:
        self.accounts = accounts
        self.signer = signer
        self.header = header
        self.proxy_default_role = proxy_default_role
        self.groups = groups
        self.proxies: list[Network] = [ipaddress.ip_network(p, strict=False)
                                       for p in trusted_proxies]

    def _trusted(self, host: str | None) -> bool:
        if host is None or not self.proxies:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    def user(self, request: Request) -> User:
        """The user of `request`, or `NotAuthenticated` / `Forbidden`."""
        client = request.client.host if request.client else None
        remote = request.headers.get(self.header, "").strip()
        if remote and self._trusted(client):
            return self._user(remote, self.accounts.get(remote), "proxy")
        token = self.signer.read(request.cookies.get(COOKIE))
        if token is None:
            raise NotAuthenticated("log in first")
        account = self.accounts.get(token.user)
        if account is None or account.password is None or (
                self.signer.password_tag(account.password) != token.password_tag):
            raise NotAuthenticated("session ended: log in again")
        return self._user(account.user, account, "session")

    def _user(self, name: str, account: Account | None,
              via: Literal["session", "proxy"]) -> User:
        try:
            grant = resolve_grant(name, account, self.groups, self.proxy_default_role)
        except VigieError as exc:
            raise DirectoryUnavailable(f"the directory groups of {name} cannot be read: "
                                       f"{exc}") from exc
        if grant is None:
            raise Forbidden(f"{name} has no account in vigie and no directory group gives "
                            "it a role")
        return User(name, grant.role, via, grant.structures)
