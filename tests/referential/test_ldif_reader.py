"""The LDIF reader on one small export that uses every feature it supports, and its errors.

The expected values are those the earlier line-by-line reader gave: the bulk reader (unfold the
whole text, split it into records, then lines) must not change a value, and a malformed file
must be reported at the same line with the same message, whatever folds, comments, CRLF line
ends and runs of blank lines come before it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vigie.errors import SourceError
from vigie.referential.directory import load_ldif, parse_ldif
from vigie.referential.supann import (
    PEOPLE_SCHEMA,
    STRUCTURES_SCHEMA,
    Entry,
    PeopleBuilder,
    build_people,
    build_structures,
)

#: 34 lines: ``version: 1``, a folded comment, a structure with CRLF line ends and a base64
#: label, a run of blank lines, a student with a comment inside the entry, two inscriptions
#: (one folded, one base64 and folded) and a URL value, a person without structure whose uid is
#: base64, and a delete record.
SAMPLE = (
    "version: 1\n"
    "# Export of a test directory; this comment is\n"
    " folded over two lines\n"
    "\n"
    "dn: ou=UFR11,ou=structures,dc=univ,dc=test\r\n"
    "objectClass: supannEntite\r\n"
    "ou: UFR11\r\n"
    "supannCodeEntite: UFR11\r\n"
    "description:: VUZSIGQnSW5mb3JtYXRpcXVlIGV0IE1hdGjDqW1hdGlxdWVz\r\n"
    "supannCodeEntiteParent: UNIV\r\n"
    "\r\n"
    "\n"
    "dn: uid=etud1,ou=people,dc=univ,dc=test\n"
    "objectClass: supannPerson\n"
    "uid: etud1\n"
    "# a comment inside an entry\n"
    "eduPersonAffiliation: member\n"
    "eduPersonAffiliation: student\n"
    "supannEntiteAffectationPrincipale: UFR11\n"
    "supannEtuInscription: [etab={UAI}0751717J][anneeinsc=2014][cursusann={SUPANN}l1][et\n"
    " ape={UAI:0751717J}OLD01]\n"
    "supannEtuInscription:: W2FubmVlaW5zYz0yMDE1XVtkaXBsb21lPXtTSVNFfTI1MDAxMjNdW2N1cnN1c2Fubj\n"
    " 1MMl1bZXRhcGU9e0FQT31MSUMySU5d\n"
    "jpegPhoto:< file:///photos/etud1.jpg\n"
    "\n"
    "dn: uid=pers1,ou=people,dc=univ,dc=test\n"
    "objectClass: inetOrgPerson\n"
    "uid:: ICBQZXJzMSA=\n"
    "eduPersonPrimaryAffiliation: staff\n"
    "eduPersonAffiliation: employee\n"
    "\n"
    "dn: uid=gone,ou=people,dc=univ,dc=test\n"
    "changetype: delete\n"
    "\n"
)

UFR11_LABEL = "UFR d'Informatique et Mathématiques"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "export.ldif"
    path.write_bytes(text.encode("utf-8"))  # bytes: keep the CRLF line ends as written
    return path


def test_referential_ldif_reader_entries(tmp_path: Path) -> None:
    assert list(parse_ldif(_write(tmp_path, SAMPLE))) == [
        (
            "ou=UFR11,ou=structures,dc=univ,dc=test",
            {
                "objectclass": ["supannEntite"],
                "ou": ["UFR11"],
                "supanncodeentite": ["UFR11"],
                "description": [UFR11_LABEL],
                "supanncodeentiteparent": ["UNIV"],
            },
        ),
        (
            "uid=etud1,ou=people,dc=univ,dc=test",
            {
                "objectclass": ["supannPerson"],
                "uid": ["etud1"],
                "edupersonaffiliation": ["member", "student"],
                "supannentiteaffectationprincipale": ["UFR11"],
                "supannetuinscription": [
                    "[etab={UAI}0751717J][anneeinsc=2014][cursusann={SUPANN}l1]"
                    "[etape={UAI:0751717J}OLD01]",
                    "[anneeinsc=2015][diplome={SISE}2500123][cursusann=L2][etape={APO}LIC2IN]",
                ],
            },
        ),
        (
            "uid=pers1,ou=people,dc=univ,dc=test",
            {
                "objectclass": ["inetOrgPerson"],
                "uid": ["  Pers1 "],
                "edupersonprimaryaffiliation": ["staff"],
                "edupersonaffiliation": ["employee"],
            },
        ),
    ]


def test_referential_ldif_reader_tables(tmp_path: Path) -> None:
    directory = load_ldif(_write(tmp_path, SAMPLE))
    assert directory.people.schema == PEOPLE_SCHEMA
    assert directory.structures.schema == STRUCTURES_SCHEMA
    assert directory.structures.to_pylist() == [
        {"code": "UFR11", "label": UFR11_LABEL, "parent": "UNIV"}
    ]
    assert directory.people.to_pylist() == [
        {
            "uid": "etud1",
            "population": "student",
            "affiliations": ["member", "student"],
            "structure": "UFR11",
            "structure_label": UFR11_LABEL,
            "structure_parent": "UNIV",
            "etape": "LIC2IN",  # the 2015 inscription, not the 2014 one
            "diplome": "2500123",
            "cursus_year": "L2",
        },
        {
            "uid": "pers1",
            "population": "staff",
            "affiliations": ["employee"],
            "structure": None,
            "structure_label": None,
            "structure_parent": None,
            "etape": None,
            "diplome": None,
            "cursus_year": None,
        },
    ]


ENTRY = "dn: uid=x,dc=test\n"
NO_ORPHAN = "continuation line (starting with a space) without a line to continue"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            SAMPLE + ENTRY + "uid: x\nno colon on this line\n",
            "line 37: expected 'attribute: value', found 'no colon on this line'",
        ),
        (
            SAMPLE + ENTRY + "cn x" * 30 + "\n",
            "line 36: expected 'attribute: value', found '" + ("cn x" * 15)[:57] + "...'",
        ),
        (SAMPLE + ENTRY + "cn_x: y\n", "line 36: expected 'attribute: value', found 'cn_x: y'"),
        (SAMPLE + ENTRY + "uid:: dWlk\n *x\n", "line 36: invalid base64 value"),  # folded
        (SAMPLE + "version: 1\n" + ENTRY, "line 35: an entry must start with 'dn:', found "
         "attribute 'version'"),  # only the first record may have one
        (SAMPLE + "# c\nUID;lang-fr: x\n", "line 36: an entry must start with 'dn:', found "
         "attribute 'UID'"),
        (SAMPLE + "\n continued\n", f"line 36: {NO_ORPHAN}"),
        (  # the first error of the file wins, even over a continuation line found first
            SAMPLE.replace("uid: etud1\n", "uid etud1\n") + "\n continued\n",
            "line 15: expected 'attribute: value', found 'uid etud1'",
        ),
        ("\n continued\n", f"line 2: {NO_ORPHAN}"),
        ("dn:: ***\n", "line 1: invalid base64 value"),
        ("dn: a\nchangetype:: ***\n", "line 2: invalid base64 value"),
    ],
)
def test_referential_ldif_reader_errors(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SourceError) as caught:
        load_ldif(path)
    assert str(caught.value) == f"LDIF {path}, {message}"


def test_referential_ldif_reader_yields_entries_before_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, SAMPLE + "\n continued\n")
    read: list[Entry] = []
    with pytest.raises(SourceError, match="line 36: continuation line"):
        for entry in parse_ldif(path):
            read.append(entry)
    assert [dn for dn, _ in read] == [dn for dn, _ in parse_ldif(_write(tmp_path, SAMPLE))]


def test_referential_ldif_reader_skipped_records_are_not_checked(tmp_path: Path) -> None:
    text = SAMPLE + ENTRY + "changetype: modify\nthis line is not checked\n-\n"
    assert load_ldif(_write(tmp_path, text)).people["uid"].to_pylist() == ["etud1", "pers1"]
    comment_only = "# c\n continued comment\n\ndn:< file:///x\nuid: a\nobjectClass: person\n"
    assert list(parse_ldif(_write(tmp_path, comment_only))) == [
        ("", {"uid": ["a"], "objectclass": ["person"]})
    ]


def test_referential_ldif_reader_people_builder_matches_build_people() -> None:
    """Values worked out once per distinct value must not leak from one person to another."""
    entries: list[Entry] = [
        ("ou=A,ou=structures,dc=x", {"supanncodeentite": ["A"], "ou": ["Lab A"]}),
        ("uid=a,ou=people,dc=x", {"uid": ["a"], "edupersonaffiliation": ["staff", "member"],
                                  "supannentiteaffectation": ["A"]}),
        ("uid=b,ou=people,dc=x", {"uid": ["b"], "edupersonaffiliation": ["staff", "member"],
                                  "edupersonprimaryaffiliation": ["member"]}),
        ("uid=c,ou=people,dc=x", {"uid": ["c"], "supannetuinscription": [
            "[anneeinsc=2020][etape=E1]", "[anneeinsc=2021][etape=E2]"]}),
        ("uid=d,ou=people,dc=x", {"uid": ["d"], "supannetuinscription": [
            "[anneeinsc=2020][etape=E1]"]}),
        ("uid=A,ou=people,dc=x", {"uid": ["A"], "edupersonaffiliation": ["student"]}),
    ]
    structures = build_structures(entries)
    builder = PeopleBuilder()
    for dn, attrs in entries:
        builder.add(dn, attrs)
    people = builder.table(structures)
    assert people.equals(build_people(entries, structures))
    rows = {row["uid"]: row for row in people.to_pylist()}
    assert list(rows) == ["a", "b", "c", "d"]
    assert (rows["a"]["population"], rows["b"]["population"]) == ("staff", "member")
    assert rows["a"]["affiliations"] == rows["b"]["affiliations"] == ["member", "staff"]
    assert (rows["a"]["structure_label"], rows["b"]["structure_label"]) == ("Lab A", None)
    assert (rows["c"]["etape"], rows["d"]["etape"]) == ("E2", "E1")
