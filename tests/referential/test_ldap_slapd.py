"""load_ldap against a real OpenLDAP slapd (see conftest.py): paging, binds, escaping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ldap3 import NONE, SUBTREE, Connection, Server

from vigie.errors import ConfigError, SourceError
from vigie.referential.directory import (
    Directory,
    equality_filter,
    ldap_groups,
    ldif_groups,
    load_ldap,
    load_ldif,
)

# The ``slapd`` fixture (conftest.py) has url, base_dn, reader_dn, reader_password, size_limit.
Slapd = Any

PEOPLE_FILTER = "(objectClass=inetOrgPerson)"


def _load(slapd: Slapd, **overrides: Any) -> Directory:
    arguments: dict[str, Any] = {
        "bind_dn": slapd.reader_dn,
        "password": slapd.reader_password,
        "people_base": f"ou=people,{slapd.base_dn}",
        "people_filter": PEOPLE_FILTER,
        "structures_base": f"ou=structures,{slapd.base_dn}",
        "page_size": 3,
    }
    arguments.update(overrides)
    return load_ldap(slapd.url, **arguments)


def test_referential_ldap_server_enforces_size_limit(slapd: Slapd) -> None:
    """Guard for the paging test: an unpaged search really is cut at the size limit."""
    connection = Connection(Server(slapd.url, get_info=NONE), auto_bind=True)
    connection.search(f"ou=people,{slapd.base_dn}", PEOPLE_FILTER, SUBTREE, attributes=["uid"])
    assert connection.result["description"] == "sizeLimitExceeded"
    assert len(connection.entries) == slapd.size_limit
    connection.unbind()


def test_referential_ldap_paged_load_gets_every_person(slapd: Slapd) -> None:
    directory = load_ldap(
        slapd.url,
        bind_dn=slapd.reader_dn,
        password=slapd.reader_password,
        people_base=f"ou=people,{slapd.base_dn}",
        people_filter=PEOPLE_FILTER,
        structures_base=f"ou=structures,{slapd.base_dn}",
        page_size=3,
    )
    people = {row["uid"]: row for row in directory.people.to_pylist()}
    assert directory.people.num_rows == 10 > slapd.size_limit
    assert sorted(people) == sorted(
        ["etud1", "etud2", "etud3", "etud9", "ens1", "pers1", "pers2", "lab1", "lab2", "lab3"]
    )
    assert people["etud1"]["etape"] == "LIC2IN"
    assert people["etud1"]["cursus_year"] == "L2"
    assert people["etud1"]["structure_label"] == "UFR d'Informatique et Mathématiques"
    assert people["etud1"]["structure_parent"] == "UNIV"
    assert people["pers2"]["population"] == "employee"
    assert sorted(directory.structures["code"].to_pylist()) == ["DSI", "UFR11", "UNIV"]


def test_referential_ldap_matches_ldif_reader(slapd: Slapd, fixture_ldif: Path) -> None:
    """Both readers share the SUPANN logic: the same directory gives the same tables."""
    from_ldap = _load(slapd, bind_dn=None, password=None)
    from_ldif = load_ldif(fixture_ldif)
    assert from_ldap.people.sort_by("uid").equals(from_ldif.people.sort_by("uid"))
    assert from_ldap.structures.sort_by("code").equals(from_ldif.structures.sort_by("code"))


def test_referential_ldap_groups_match_ldif_groups(slapd: Slapd, fixture_ldif: Path) -> None:
    """A person's groups (isMemberOf values, groupOfNames / groupOfUniqueNames listing its DN)
    are the same read from the LDIF export or from the server."""
    from_ldif = ldif_groups(fixture_ldif)
    assert from_ldif["ens1"] == {"applications:vigie:responsables-ufrst", "applications:autre",
                                 "cn=vigie-readers,ou=groups,dc=univ,dc=test"}
    assert from_ldif["pers1"] == {"cn=staff,ou=groups,dc=univ,dc=test"}
    for user, groups in from_ldif.items():
        assert ldap_groups(slapd.url, user, bind_dn=None, password=None,
                           people_base=f"ou=people,{slapd.base_dn}", people_filter=PEOPLE_FILTER,
                           groups_base=f"ou=groups,{slapd.base_dn}") == groups, user
    assert ldap_groups(slapd.url, "nobody", bind_dn=None, password=None,
                       people_base=slapd.base_dn, people_filter=PEOPLE_FILTER) == set()


def test_referential_ldap_filter_value_is_escaped(slapd: Slapd) -> None:
    value = "R&D (lab) *"
    people_filter = f"(&{PEOPLE_FILTER}{equality_filter('description', value)})"
    assert people_filter == r"(&(objectClass=inetOrgPerson)(description=R&D \28lab\29 \2a))"
    directory = _load(slapd, people_filter=people_filter, page_size=1)
    assert sorted(directory.people["uid"].to_pylist()) == ["lab1", "lab2"]


def test_referential_ldap_unescaped_filter_is_a_config_error(slapd: Slapd) -> None:
    with pytest.raises(ConfigError, match="invalid search filter"):
        _load(slapd, people_filter="(description=R&D (lab) *)")


def test_referential_ldap_without_structures_base(slapd: Slapd) -> None:
    directory = _load(slapd, structures_base=None, page_size=500)
    assert directory.structures.num_rows == 0
    assert directory.people.num_rows == 10
    assert directory.people["structure_label"].null_count == 10


def test_referential_ldap_wrong_password_names_server(slapd: Slapd) -> None:
    with pytest.raises(SourceError, match=r"127\.0\.0\.1.*cn=reader"):
        _load(slapd, password="wrong")


def test_referential_ldap_missing_base_is_source_error(slapd: Slapd) -> None:
    with pytest.raises(SourceError, match="ou=nowhere"):
        _load(slapd, people_base=f"ou=nowhere,{slapd.base_dn}")


def test_referential_ldap_unreachable_server() -> None:
    with pytest.raises(SourceError, match="cannot connect"):
        load_ldap(
            "ldap://127.0.0.1:1",
            bind_dn=None,
            password=None,
            people_base="dc=x",
            people_filter="(uid=*)",
            structures_base=None,
            timeout=2,
        )
