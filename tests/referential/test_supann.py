"""SUPANN semantics: inscriptions, nomenclature prefixes, population priority."""

from __future__ import annotations

import pyarrow as pa
import pytest

from vigie.errors import ConfigError
from vigie.referential.supann import (
    DEFAULT_ATTRIBUTES,
    PEOPLE_SCHEMA,
    Entry,
    build_people,
    build_structures,
    parse_inscription,
    population_of,
    resolve_attributes,
    strip_source,
)

SPEC_EXAMPLE = (
    "[etab={UAI}0751717J][anneeinsc=2015][regimeinsc={SISE}10][filiere={SISE}1]"
    "[affect=UFR11][diplome={SISE}2500123][cursusann={SUPANN}L1][etape={UAI:0751717J}ABC123]"
)


def test_referential_supann_parses_spec_example() -> None:
    inscription = parse_inscription(SPEC_EXAMPLE)
    assert inscription.year == 2015
    assert inscription.etape == "ABC123"
    assert inscription.diplome == "2500123"
    assert inscription.cursus_year == "L1"


def test_referential_supann_inscription_keys_are_case_insensitive_and_optional() -> None:
    inscription = parse_inscription("[anneeInsc=2020][cursusAnn={SUPANN}m2][libEtape=Master 2]")
    assert (inscription.year, inscription.cursus_year) == (2020, "M2")
    assert inscription.etape is None and inscription.diplome is None
    empty = parse_inscription("not an inscription")
    assert empty.year is None and empty.etape is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{UAI:0751717J:APO}ABC123", "ABC123"),
        ("{APO}ABC123", "ABC123"),
        ("ABC123", "ABC123"),
        (" {SISE} ", None),
        (None, None),
    ],
)
def test_referential_supann_strip_source(raw: str | None, code: str | None) -> None:
    assert strip_source(raw) == code


@pytest.mark.parametrize(
    ("primary", "affiliations", "population"),
    [
        (["Student"], ["member"], "student"),
        ([], ["member", "employee", "researcher"], "researcher"),
        ([], ["staff", "employee"], "employee"),
        ([], ["member", "student", "teacher"], "student"),
        ([], ["alum", "affiliate"], "affiliate"),
        ([""], [], "unknown"),
        ([], ["library-walk-in"], "unknown"),
    ],
)
def test_referential_supann_population_priority(
    primary: list[str], affiliations: list[str], population: str
) -> None:
    assert population_of(primary, affiliations) == population


def test_referential_supann_most_recent_inscription_wins() -> None:
    entries: list[Entry] = [
        (
            "uid=a,ou=people,dc=x",
            {
                "uid": ["A "],
                "objectclass": ["supannPerson"],
                "supannetuinscription": [
                    "[anneeinsc=2016][etape={APO}NEW][cursusann={SUPANN}L3]",
                    "[anneeinsc=2014][etape={APO}OLDEST][cursusann={SUPANN}L1]",
                    "[anneeinsc=2015][etape={APO}OLD][cursusann={SUPANN}L2]",
                ],
                "supannetuetape": ["{APO}IGNORED"],
            },
        ),
        (
            "uid=b,ou=people,dc=x",
            {"uid": ["b"], "supannetuetape": ["{UAI:0751717J:APO}FALLBACK"]},
        ),
    ]
    people = build_people(entries, build_structures([]))
    assert people.schema == PEOPLE_SCHEMA
    rows = people.to_pylist()
    assert rows[0]["uid"] == "a"
    assert (rows[0]["etape"], rows[0]["cursus_year"]) == ("NEW", "L3")
    assert rows[1]["etape"] == "FALLBACK"


def test_referential_supann_skips_non_people_and_duplicate_uids() -> None:
    entries: list[Entry] = [
        ("ou=people,dc=x", {"ou": ["people"], "objectclass": ["organizationalUnit"]}),
        ("cn=app,ou=services,dc=x", {"uid": ["app"], "objectclass": ["applicationProcess"]}),
        ("uid=x,ou=people,dc=x", {"uid": ["x"], "edupersonaffiliation": ["student"]}),
        ("uid=x2,ou=People,dc=x", {"uid": ["X"], "edupersonaffiliation": ["staff"]}),
    ]
    people = build_people(entries, build_structures([]))
    assert people.to_pylist()[0]["population"] == "student"
    assert people["uid"].to_pylist() == ["x"]


def test_referential_supann_structures_table() -> None:
    entries: list[Entry] = [
        ("ou=A,ou=structures,dc=x", {"supanncodeentite": ["A"], "ou": ["Short A"]}),
        (
            "ou=B,ou=structures,dc=x",
            {"supanncodeentite": ["B"], "description": ["Long B"], "supanncodeentiteparent": ["A"]},
        ),
        ("cn=C,dc=x", {"supanncodeentite": ["C"], "objectclass": ["top"]}),
        ("cn=D,dc=x", {"supanncodeentite": ["D"], "objectclass": ["supannEntite"]}),
    ]
    table = build_structures(entries)
    assert table.schema == pa.schema(
        [("code", pa.string()), ("label", pa.string()), ("parent", pa.string())]
    )
    assert table.to_pylist() == [
        {"code": "A", "label": "Short A", "parent": None},
        {"code": "B", "label": "Long B", "parent": "A"},
        {"code": "D", "label": None, "parent": None},
    ]


def test_referential_supann_attribute_mapping_is_validated() -> None:
    resolved = resolve_attributes({"structure": "supannAffectation"})
    assert resolved["structure"] == "supannaffectation"
    assert resolved["uid"] == "uid"
    assert set(resolved) == set(DEFAULT_ATTRIBUTES)
    with pytest.raises(ConfigError, match="'structur'"):
        resolve_attributes({"structur": "x"})
    with pytest.raises(ConfigError, match="'uid'"):
        resolve_attributes({"uid": "bad name"})
