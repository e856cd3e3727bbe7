"""LDIF reading: the real agimus demo directory, the fixture directory, and LDIF edge cases."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vigie.errors import ConfigError, SourceError
from vigie.referential.directory import equality_filter, load_ldif, parse_ldif
from vigie.referential.supann import PEOPLE_SCHEMA, STRUCTURES_SCHEMA

AGIMUS_LDIF = Path("/work/shared/data/real/agimus-demo/init_ldap.ldif")
needs_agimus = pytest.mark.skipif(not AGIMUS_LDIF.exists(), reason="agimus demo data absent")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "test.ldif"
    path.write_text(text, encoding="utf-8")
    return path


@needs_agimus
def test_referential_directory_agimus_demo_people() -> None:
    directory = load_ldif(AGIMUS_LDIF)
    people = directory.people
    assert people.schema == PEOPLE_SCHEMA
    assert directory.structures.schema == STRUCTURES_SCHEMA
    assert people.num_rows == 61
    rows = {row["uid"]: row for row in people.to_pylist()}
    assert rows["etud0"]["population"] == "student"
    assert rows["etud0"]["affiliations"] == ["member", "student"]
    assert rows["pers0"]["population"] == "employee"
    assert rows["ens0"]["population"] == "faculty"
    assert rows["admin"]["population"] == "member"
    counts = dict(zip(*pc.value_counts(people["population"]).flatten(), strict=True))
    assert {k.as_py(): v.as_py() for k, v in counts.items()} == {
        "student": 20,
        "employee": 20,
        "faculty": 20,
        "member": 1,
    }
    # The demo predates SUPANN 2009: no supannEntiteAffectation, no ou=structures.
    assert people["structure"].null_count == 61
    assert directory.structures.num_rows == 0


@needs_agimus
def test_referential_directory_agimus_legacy_affectation_by_mapping() -> None:
    """Old directories keep the structure in supannAffectation ('supannAffectation:cri')."""
    directory = load_ldif(AGIMUS_LDIF, attributes={"structure": "supannAffectation"})
    rows = {row["uid"]: row for row in directory.people.to_pylist()}
    assert rows["admin"]["structure"] == "cri"
    assert rows["etud0"]["structure"] == "cri"
    assert directory.people["structure"].null_count == 0


def test_referential_directory_fixture_people() -> None:
    directory = load_ldif(Path(__file__).parent / "fixtures" / "univ-test.ldif")
    rows = {row["uid"]: row for row in directory.people.to_pylist()}
    assert len(rows) == 10  # not the base, OUs, group, reader role or structures
    assert rows["etud1"] == {
        "uid": "etud1",
        "population": "student",
        "affiliations": ["member", "student"],
        "structure": "UFR11",
        "structure_label": "UFR d'Informatique et Mathématiques",
        "structure_parent": "UNIV",
        "etape": "LIC2IN",
        "diplome": "2500123",
        "cursus_year": "L2",
    }
    assert rows["etud2"]["etape"] == "MAS1BIO"  # supannEtuEtape fallback
    assert rows["etud2"]["structure"] == "UFR11"  # first supannEntiteAffectation
    assert rows["etud3"]["structure_label"] is None  # GONE99 is not a structure
    assert rows["pers1"]["population"] == "unknown"
    assert rows["pers1"]["structure_label"] == "DSI"  # no description: the ou
    assert rows["pers2"]["structure"] == "DSI"
    assert "etud9" in rows  # base64 uid '  Etud9 ', stripped and lower-cased


def test_referential_directory_ldif_syntax_features(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "version: 1\n"
        "# a comment that is\n"
        "  folded over two lines\n"
        "\n"
        "dn: uid=a,ou=people,dc=x\r\n"
        "objectClass: inetOrgPerson\n"
        "uid:a\n"
        "cn;lang-fr:: w6lsw6h2ZQ==\n"
        "eduPersonAffiliation: stu\n"
        " dent\n"
        "jpegPhoto:< file:///nowhere.jpg\n"
        "\n"
        "\n"
        "dn: uid=b,ou=people,dc=x\n"
        "changetype: add\n"
        "uid: b\n"
        "\n"
        "dn: uid=c,ou=people,dc=x\n"
        "changetype: modify\n"
        "replace: uid\n"
        "uid: c\n"
        "-\n",
    )
    entries = list(parse_ldif(path))
    assert entries == [
        (
            "uid=a,ou=people,dc=x",
            {
                "objectclass": ["inetOrgPerson"],
                "uid": ["a"],
                "cn": ["élève"],
                "edupersonaffiliation": ["student"],
            },
        ),
        ("uid=b,ou=people,dc=x", {"uid": ["b"]}),
    ]
    people = load_ldif(path).people
    assert people["uid"].to_pylist() == ["a", "b"]
    assert people["population"].to_pylist() == ["student", "unknown"]


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("dn: uid=a,dc=x\nuid: a\nthis line has no colon\n", 3, "expected 'attribute: value'"),
        ("uid: a\n", 1, "must start with 'dn:'"),
        (" continued\n", 1, "continuation line"),
        ("dn: uid=a,dc=x\nuid:: not*base64\n", 2, "invalid base64"),
    ],
)
def test_referential_directory_invalid_ldif_names_file_and_line(
    tmp_path: Path, text: str, line: int, what: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SourceError) as caught:
        load_ldif(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"line {line}:" in message
    assert what in message


def test_referential_directory_invalid_utf8_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.ldif"
    path.write_bytes(b"dn: uid=a,dc=x\nuid: a\ncn: \xe9l\xe8ve\n")
    with pytest.raises(SourceError, match=r"line 3: not valid UTF-8"):
        load_ldif(path)
    with pytest.raises(SourceError, match="cannot be read"):
        load_ldif(tmp_path / "absent.ldif")


def test_referential_directory_empty_ldif(tmp_path: Path) -> None:
    directory = load_ldif(_write(tmp_path, "# nothing here\n"))
    assert directory.people.num_rows == 0
    assert directory.people.schema == PEOPLE_SCHEMA
    assert isinstance(directory.structures, pa.Table)


def test_referential_directory_equality_filter_escapes() -> None:
    assert equality_filter("uid", "a*b(c)\\d") == r"(uid=a\2ab\28c\29\5cd)"
    with pytest.raises(ConfigError, match="not an LDAP attribute name"):
        equality_filter("uid)(x", "a")
