"""Roles from directory groups: LDIF and a real slapd, precedence of accounts, caching, errors.

The directory is the referential fixture (tests/referential/fixtures/univ-test.ldif): pers1 is
in the groupOfNames `cn=staff`, pers2 and ens1 in the groupOfUniqueNames `cn=vigie-readers`,
etud1 and ens1 carry Grouper-style `isMemberOf` values. Its people are not those of the demo
lake, which does not matter: the role comes from the directory, the numbers from the lake.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.referential.conftest import Slapd
from tests.web.conftest import END, TRUSTED_PROXY
from vigie.config import (
    Config,
    DirectoryConfig,
    GroupRoleConfig,
    LdapConfig,
    WebConfig,
    load_config,
)
from vigie.errors import ConfigError
from vigie.web.accounts import Account, write_account
from vigie.web.app import create_app
from vigie.web.roles import Grant, GroupRoles, LdapMembership, resolve_grant

BASE = "dc=univ,dc=test"
RULES = [
    GroupRoleConfig(group=f"cn=staff,ou=groups,{BASE}", role="admin"),
    GroupRoleConfig(group="applications:vigie:responsables-UFRST", role="manager",
                    structures=["UFRST"]),
    GroupRoleConfig(group="applications:vigie:lecteurs", role="viewer"),
    GroupRoleConfig(group=f"CN=vigie-readers, ou=groups, {BASE}", role="viewer"),
]
PASSWORD_ENV = "VIGIE_TEST_LDAP_PASSWORD"


class _Fixed:
    """A membership with fixed groups."""

    def __init__(self, groups: dict[str, set[str]]) -> None:
        self.found = groups

    def groups(self, user: str) -> frozenset[str]:
        return frozenset(self.found.get(user, set()))


def test_web_group_roles_highest_role_and_manager_structures() -> None:
    rules = [GroupRoleConfig(group="m-a", role="manager", structures=["A"]),
             GroupRoleConfig(group="m-b", role="manager", structures=["B"]),
             GroupRoleConfig(group="m-all", role="manager"),
             GroupRoleConfig(group="v", role="viewer"),
             GroupRoleConfig(group="cn=Admins, ou=groups", role="admin")]
    roles = GroupRoles(rules, _Fixed({
        "two": {"m-a", "m-b", "v"}, "wide": {"m-a", "m-all"},
        "boss": {"cn=admins,ou=groups", "m-a"}, "reader": {"v"}, "nobody": {"other"}}))
    assert roles.grant("two") == Grant("manager", frozenset({"A", "B"}))
    assert roles.grant("wide") == Grant("manager")
    assert roles.grant("boss") == Grant("admin")
    assert roles.grant("reader") == Grant("viewer")
    assert roles.grant("nobody") is None


def test_web_role_precedence_accounts_before_groups() -> None:
    groups = GroupRoles(RULES[:2], _Fixed({"ann": {f"cn=staff,ou=groups,{BASE}"}}))
    explicit = Account("ann", "viewer")
    assert resolve_grant("ann", explicit, groups, None) == Grant("viewer")  # account wins
    assert resolve_grant("ann", Account("ann", None), groups, None) == Grant("admin")
    assert resolve_grant("bob", Account("bob", None), groups, None) == Grant("viewer")
    assert resolve_grant("bob", None, groups, "viewer") == Grant("viewer")
    assert resolve_grant("bob", None, groups, None) is None
    restricted = Account("cy", "manager", structures=("UFRST",))
    assert resolve_grant("cy", restricted, None, None) == Grant("manager", frozenset({"UFRST"}))


def test_web_ldap_groups_are_cached_per_user() -> None:
    calls: list[str] = []

    def lookup(user: str) -> frozenset[str]:
        calls.append(user)
        return frozenset({"g"})

    cached = LdapMembership(lookup, ttl=60)
    assert cached.groups("Ann") == cached.groups("ann") == {"g"}
    assert calls == ["Ann"]
    LdapMembership(lookup, ttl=0).groups("bob")
    assert calls == ["Ann", "bob"]


def _directory(kind: str, request: pytest.FixtureRequest,
               monkeypatch: pytest.MonkeyPatch) -> DirectoryConfig:
    if kind == "ldif":
        return DirectoryConfig(ldif=str(request.getfixturevalue("fixture_ldif")))
    server: Slapd = request.getfixturevalue("slapd")
    monkeypatch.setenv(PASSWORD_ENV, server.reader_password)
    return DirectoryConfig(ldap=LdapConfig(
        url=server.url, bind_dn=server.reader_dn, password_env=PASSWORD_ENV,
        people_base=f"ou=people,{BASE}", people_filter="(objectClass=inetOrgPerson)",
        groups_base=f"ou=groups,{BASE}"))


def _app(demo: tuple[Config, Path], directory: DirectoryConfig, tmp_path: Path) -> FastAPI:
    config = demo[0].model_copy(update={"directory": directory,
                                        "web": WebConfig(group_roles=RULES)})
    accounts = tmp_path / "accounts.json"
    write_account(accounts, "pers2", None, "manager")  # explicit: beats its viewer group
    write_account(accounts, "etud2", None, None)        # no role, no group: viewer
    return create_app(config, accounts=accounts, trusted_proxies=["10.9.0.0/24"],
                      today=lambda: END)


def _as(client: TestClient, user: str) -> Callable[[str], Any]:
    return lambda path: client.get(path, headers={"REMOTE_USER": user})


@pytest.mark.parametrize("kind", ["ldif", "ldap"])
def test_web_roles_from_directory_groups(kind: str, demo: tuple[Config, Path], tmp_path: Path,
                                         request: pytest.FixtureRequest,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(demo, _directory(kind, request, monkeypatch), tmp_path)
    with TestClient(app, follow_redirects=False, client=TRUSTED_PROXY) as client:
        admin = _as(client, "pers1")  # groupOfNames cn=staff
        assert admin("/api/indicators/quarantine").status_code == 200
        manager = _as(client, "ENS1")  # isMemberOf, any case; also in a viewer group
        data = manager("/api/indicators/daily_users").json()
        assert data["restricted_to"] == ["LIDEMO", "UFRST"]
        assert manager("/api/indicators/daily_users?structure=UFRDEG").status_code == 403
        assert manager("/dashboards/quality").status_code == 200
        reader = _as(client, "etud1")
        assert reader("/api/indicators/daily_users").json()["restricted_to"] is None
        assert reader("/dashboards/quality").status_code == 403
        explicit = _as(client, "pers2")  # the account's manager role, unrestricted
        assert explicit("/api/indicators/data_quality").status_code == 200
        assert _as(client, "etud2")("/dashboards/quality").status_code == 403
        assert _as(client, "etud2")("/api/indicators/adoption").status_code == 200
        stranger = _as(client, "lab1")
        assert stranger("/api/indicators").status_code == 403


def test_web_unreadable_directory_is_503_for_group_users_only(
        demo: tuple[Config, Path], tmp_path: Path) -> None:
    down = DirectoryConfig(ldap=LdapConfig(url="ldap://127.0.0.1:1", people_base=BASE))
    app = _app(demo, down, tmp_path)
    with TestClient(app, follow_redirects=False, client=TRUSTED_PROXY) as client:
        refused = _as(client, "pers1")("/api/indicators")
        assert refused.status_code == 503 and "pers1" in refused.json()["detail"]
        assert _as(client, "pers2")("/api/indicators").status_code == 200  # explicit role


def test_web_group_roles_configuration_errors(tmp_path: Path) -> None:
    path = tmp_path / "vigie.toml"
    source = '[[sources]]\nname = "cas"\nformat = "cas_servicestats"\npaths = ["x"]\n' \
             'service = "cas"\n'
    path.write_text(source + '[[web.group_roles]]\ngroup = "g"\nrole = "admin"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"web\.group_roles: .*\[directory\]"):
        load_config(path)
    path.write_text('[directory]\nldif = "a.ldif"\n' + source + '[[web.group_roles]]\n'
                    'group = "g"\nrole = "viewer"\nstructures = ["UFRST"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"web\.group_roles\[0\]: structures: only a manager"):
        load_config(path)
    path.write_text('[directory]\nldif = "a.ldif"\n' + source + '[web]\n'
                    'group_attributes = ["is Member"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"web\.group_attributes\[0\]"):
        load_config(path)
