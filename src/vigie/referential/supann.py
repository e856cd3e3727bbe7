"""SUPANN semantics: from raw directory entries to one row per person.

The directory is read elsewhere (LDIF or LDAP, see :mod:`vigie.referential.directory`); this
module only knows what the SUPANN recommendation says the attributes mean, so both readers
produce exactly the same table. It loops once per directory entry (tens of thousands at most),
never per log line.

SUPANN reminders (recommandation SUPANN, "supannEtuInscription"): an inscription is one value
made of bracketed ``[key=value]`` pairs, e.g.::

    [etab={UAI}0751717J][anneeinsc=2015][regimeinsc={SISE}10][filiere={SISE}1]
    [affect=UFR11][diplome={SISE}2500123][cursusann={SUPANN}L1][etape={UAI:0751717J}ABC123]

Coded values carry their nomenclature as a ``{SOURCE}`` prefix (``{SISE}``, ``{UAI:0751717J}``,
``{UAI:0751717J:APO}``...); vigie keeps the code after the last ``}`` because the nomenclature
is the same for the whole institution.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from vigie.errors import ConfigError

__all__ = [
    "AFFILIATION_PRIORITY",
    "DEFAULT_ATTRIBUTES",
    "PEOPLE_SCHEMA",
    "STRUCTURES_SCHEMA",
    "Entry",
    "Inscription",
    "PeopleBuilder",
    "build_people",
    "build_structures",
    "is_person",
    "is_structure",
    "parse_inscription",
    "population_of",
    "resolve_attributes",
    "strip_source",
]

#: One directory entry: its DN and its attributes, names lower-cased (LDAP names are
#: case-insensitive), each with its values in directory order.
Entry = tuple[str, dict[str, list[str]]]

#: Logical name -> LDAP attribute. Only the first six are the documented configuration keys;
#: ``structures``, ``diplome`` and ``cursus_year`` are the SUPANN fall-backs used when the
#: principal attribute (or the inscription) does not say.
DEFAULT_ATTRIBUTES: dict[str, str] = {
    "uid": "uid",
    "primary_affiliation": "eduPersonPrimaryAffiliation",
    "affiliations": "eduPersonAffiliation",
    "structure": "supannEntiteAffectationPrincipale",
    "inscriptions": "supannEtuInscription",
    "etape": "supannEtuEtape",
    "structures": "supannEntiteAffectation",
    "diplome": "supannEtuDiplome",
    "cursus_year": "supannEtuCursusAnnee",
}

#: When a person has no eduPersonPrimaryAffiliation, the most telling of their affiliations
#: wins: being a student matters more for usage analytics than also being a "member".
AFFILIATION_PRIORITY: tuple[str, ...] = (
    "student",
    "teacher",
    "faculty",
    "researcher",
    "employee",
    "staff",
    "affiliate",
    "alum",
    "member",
)

PEOPLE_SCHEMA = pa.schema(
    [
        pa.field("uid", pa.string()),
        pa.field("population", pa.string()),
        pa.field("affiliations", pa.list_(pa.string())),
        pa.field("structure", pa.string()),
        pa.field("structure_label", pa.string()),
        pa.field("structure_parent", pa.string()),
        pa.field("etape", pa.string()),
        pa.field("diplome", pa.string()),
        pa.field("cursus_year", pa.string()),
    ]
)

STRUCTURES_SCHEMA = pa.schema(
    [
        pa.field("code", pa.string()),
        pa.field("label", pa.string()),
        pa.field("parent", pa.string()),
    ]
)

_PERSON_CLASSES = frozenset({"person", "organizationalperson", "inetorgperson", "supannperson"})
_STRUCTURE_CLASSES = frozenset({"supannentite"})
_PAIR = re.compile(r"\[([A-Za-z]+)=([^\]]*)\]")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


@dataclass(frozen=True)
class Inscription:
    """The parts of one supannEtuInscription value vigie uses (codes without ``{SOURCE}``)."""

    year: int | None
    etape: str | None
    diplome: str | None
    cursus_year: str | None


def strip_source(value: str | None) -> str | None:
    """Drop the ``{SOURCE}`` nomenclature prefix(es), keeping the code after the last ``}``.

    An empty code means "not given", hence None rather than ''.
    """
    if value is None:
        return None
    code = value.rsplit("}", 1)[-1].strip()
    return code or None


def parse_inscription(value: str) -> Inscription:
    """Parse one supannEtuInscription value with a single regex pass over its ``[k=v]`` pairs.

    Keys are matched case-insensitively (directories write ``anneeinsc`` and ``anneeInsc``);
    unknown keys are ignored so later SUPANN versions still load.
    """
    pairs = {key.lower(): raw for key, raw in _PAIR.findall(value)}
    year_text = strip_source(pairs.get("anneeinsc"))
    year = int(year_text) if year_text is not None and year_text.isdigit() else None
    cursus = strip_source(pairs.get("cursusann"))
    return Inscription(
        year=year,
        etape=strip_source(pairs.get("etape")),
        diplome=strip_source(pairs.get("diplome")),
        cursus_year=cursus.upper() if cursus else None,
    )


def population_of(primary: Sequence[str], affiliations: Sequence[str]) -> str:
    """eduPersonPrimaryAffiliation when present, else the highest-priority affiliation."""
    for value in primary:
        cleaned = value.strip().lower()
        if cleaned:
            return cleaned
    present = {a.strip().lower() for a in affiliations}
    for candidate in AFFILIATION_PRIORITY:
        if candidate in present:
            return candidate
    return "unknown"


def resolve_attributes(attributes: Mapping[str, str] | None) -> dict[str, str]:
    """Merge user overrides into :data:`DEFAULT_ATTRIBUTES`, lower-casing attribute names.

    A typo in a logical name would silently keep the default, so it is refused instead.
    """
    merged = dict(DEFAULT_ATTRIBUTES)
    for logical, ldap_name in (attributes or {}).items():
        if logical not in DEFAULT_ATTRIBUTES:
            known = ", ".join(sorted(DEFAULT_ATTRIBUTES))
            raise ConfigError(
                f"directory attribute mapping: unknown logical name {logical!r} (known: {known})"
            )
        if not isinstance(ldap_name, str) or not _ATTRIBUTE_NAME.match(ldap_name):
            raise ConfigError(
                f"directory attribute mapping: {logical!r} = {ldap_name!r} is not an LDAP "
                "attribute name (letters, digits and '-', starting with a letter)"
            )
        merged[logical] = ldap_name
    return {logical: name.lower() for logical, name in merged.items()}


def _rdns(dn: str) -> list[str]:
    """Lower-cased RDNs of a DN; good enough for the ``ou=...`` tests done here."""
    return [part.strip().lower().replace(" ", "") for part in dn.split(",")]


def is_person(dn: str, attrs: Mapping[str, list[str]], uid_attribute: str) -> bool:
    """A person has a uid and is either a person object class or lives under ``ou=people``."""
    if not any(v.strip() for v in attrs.get(uid_attribute, [])):
        return False
    classes = {c.strip().lower() for c in attrs.get("objectclass", [])}
    return bool(classes & _PERSON_CLASSES) or "ou=people" in _rdns(dn)[1:]


def is_structure(dn: str, attrs: Mapping[str, list[str]]) -> bool:
    """A structure has a supannCodeEntite and is a supannEntite or lives under ou=structures."""
    if not any(v.strip() for v in attrs.get("supanncodeentite", [])):
        return False
    classes = {c.strip().lower() for c in attrs.get("objectclass", [])}
    return bool(classes & _STRUCTURE_CLASSES) or "ou=structures" in _rdns(dn)[1:]


def _first(values: Iterable[str]) -> str | None:
    for value in values:
        cleaned = value.strip()
        if cleaned:
            return cleaned
    return None


def build_structures(entries: Iterable[Entry], *, require_structure: bool = True) -> pa.Table:
    """One row per supannCodeEntite: label = description, else ou; first code wins on repeats.

    ``require_structure`` is False for LDAP, where the search filter already selects them.
    """
    rows: dict[str, tuple[str | None, str | None]] = {}
    for dn, attrs in entries:
        if require_structure and not is_structure(dn, attrs):
            continue
        code = _first(attrs.get("supanncodeentite", []))
        if code is None or code in rows:
            continue
        label = _first(attrs.get("description", [])) or _first(attrs.get("ou", []))
        parent = _first(attrs.get("supanncodeentiteparent", []))
        rows[code] = (label, parent)
    return pa.table(
        {
            "code": list(rows),
            "label": [label for label, _ in rows.values()],
            "parent": [parent for _, parent in rows.values()],
        },
        schema=STRUCTURES_SCHEMA,
    )


def _latest_inscription(
    values: Sequence[str], parsed: dict[str, Inscription]
) -> Inscription | None:
    """The inscription of the most recent academic year; on ties, the first one naming an étape.

    Directories keep past years' inscriptions, and only the current one tells what the
    student studies now. ``parsed`` remembers the values already parsed: thousands of
    students share the same few hundred inscriptions.
    """
    best: Inscription | None = None
    best_key: tuple[int, int] = (-1, -1)
    for value in values:
        inscription = parsed.get(value)
        if inscription is None:
            inscription = parsed[value] = parse_inscription(value)
        key = (
            inscription.year if inscription.year is not None else -1,
            int(bool(inscription.etape)),
        )
        if best is None or key > best_key:
            best, best_key = inscription, key
    return best


class PeopleBuilder:
    """The rows of :func:`build_people`, gathered one entry at a time.

    A reader can hand its entries over as it reads them instead of keeping them all: tens of
    thousands of entries alive at once, with a list per attribute, make CPython's garbage
    collector walk them all several times, which costs more than reading them. Structure
    labels are looked up last (:meth:`table`), so structures can be read in the same pass.

    What repeats from person to person (affiliations, inscriptions) is worked out once per
    distinct value.
    """

    def __init__(
        self, attributes: Mapping[str, str] | None = None, *, require_person: bool = True
    ) -> None:
        """``require_person`` is False for LDAP, where the configured filter selects people."""
        self._names = resolve_attributes(attributes)
        self._require_person = require_person
        self._columns: dict[str, list[object]] = {
            field.name: [] for field in PEOPLE_SCHEMA if not field.name.startswith("structure")
        }
        self._structure: list[str | None] = []
        self._seen: set[str] = set()
        self._inscriptions: dict[str, Inscription] = {}
        self._populations: dict[tuple[tuple[str, ...], ...], tuple[str, list[str]]] = {}

    def add(self, dn: str, attrs: Mapping[str, list[str]]) -> None:
        """Add the entry if it is a person whose uid was not seen yet (first entry wins)."""
        names = self._names
        if self._require_person and not is_person(dn, attrs, names["uid"]):
            return
        uid = _first(attrs.get(names["uid"], []))
        if uid is None:
            return
        uid = uid.lower()
        if uid in self._seen:
            return
        self._seen.add(uid)
        population, affiliations = self._population(
            attrs.get(names["primary_affiliation"], []), attrs.get(names["affiliations"], [])
        )
        structure = _first(attrs.get(names["structure"], [])) or _first(
            attrs.get(names["structures"], [])
        )
        latest = _latest_inscription(attrs.get(names["inscriptions"], []), self._inscriptions)
        etape = latest.etape if latest else None
        diplome = latest.diplome if latest else None
        cursus = latest.cursus_year if latest else None
        etape = etape or strip_source(_first(attrs.get(names["etape"], [])))
        diplome = diplome or strip_source(_first(attrs.get(names["diplome"], [])))
        fallback_cursus = strip_source(_first(attrs.get(names["cursus_year"], [])))
        cursus = cursus or (fallback_cursus.upper() if fallback_cursus else None)
        columns = self._columns
        columns["uid"].append(uid)
        columns["population"].append(population)
        columns["affiliations"].append(affiliations)
        self._structure.append(structure)
        columns["etape"].append(etape)
        columns["diplome"].append(diplome)
        columns["cursus_year"].append(cursus)

    def _population(
        self, primary: Sequence[str], affiliations: Sequence[str]
    ) -> tuple[str, list[str]]:
        """Population and sorted, cleaned affiliations, computed once per distinct pair of
        value lists (a directory has a few dozen); rows share the affiliations list."""
        key = (tuple(primary), tuple(affiliations))
        known = self._populations.get(key)
        if known is None:
            cleaned = sorted({a.strip().lower() for a in affiliations if a.strip()})
            known = self._populations[key] = (population_of(primary, affiliations), cleaned)
        return known

    def table(self, structures: pa.Table) -> pa.Table:
        """The people added so far, labelled with ``structures`` (a STRUCTURES_SCHEMA table)."""
        codes = structures["code"].to_pylist()
        labels = dict(zip(codes, structures["label"].to_pylist(), strict=True))
        parents = dict(zip(codes, structures["parent"].to_pylist(), strict=True))
        columns = {
            **self._columns,
            "structure": self._structure,
            "structure_label": [labels.get(s) if s else None for s in self._structure],
            "structure_parent": [parents.get(s) if s else None for s in self._structure],
        }
        return pa.table(columns, schema=PEOPLE_SCHEMA)


def build_people(
    entries: Iterable[Entry],
    structures: pa.Table,
    attributes: Mapping[str, str] | None = None,
    *,
    require_person: bool = True,
) -> pa.Table:
    """One row per person (first entry wins when a uid repeats), labelled with its structure.

    ``require_person`` is False for LDAP, where the configured filter already selects people.
    """
    builder = PeopleBuilder(attributes, require_person=require_person)
    for dn, attrs in entries:
        builder.add(dn, attrs)
    return builder.table(structures)
