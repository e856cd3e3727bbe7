"""The people of the demo university: who they are (the SUPANN directory) and their habits.

Each person has a role that drives behaviour (what the person really is) and directory
attributes (what the SI says). They differ on purpose for a few people, as in real
directories: people with no structure, teachers recorded as students, an obsolete structure
code, students without inscription; and about 1 % of the accounts seen in the logs are not in
the directory at all. Habits (devices, home address, activity) are arrays indexed like `uid`.
"""

from __future__ import annotations

import base64
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigie.demo import catalog as cat

__all__ = ["Population", "draw_population", "write_ldif"]

BASE_DN = "dc=univ-demo,dc=fr"
#: A structure code that the directory's people still carry but that no longer exists.
OBSOLETE_STRUCTURE = "SCE-ANC"


@dataclass
class Population:
    """Everybody who may appear in the logs; the first `in_directory` ones are in the LDIF."""

    uid: list[str]
    role: npt.NDArray[np.int64]
    in_directory: npt.NDArray[np.bool_]
    given: list[str]
    surname: list[str]
    structure: list[str | None]
    etape: list[tuple[str, str, str] | None]
    primary: list[str]
    affiliations: list[list[str]]
    activity: npt.NDArray[np.float64]
    phone_affinity: npt.NDArray[np.float64]
    desktop_ua: npt.NDArray[np.int64]
    phone_ua: npt.NDArray[np.int64]
    tablet_ua: npt.NDArray[np.int64]
    has_tablet: npt.NDArray[np.bool_]
    home_v4: npt.NDArray[np.int64]
    home_v6: npt.NDArray[np.int64]  # shape (n, 3): three 16-bit groups, -1 when no IPv6
    desk_ip: npt.NDArray[np.int64]
    anomalies: dict[str, int]

    def __len__(self) -> int:
        return len(self.uid)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalpha()).lower()


def _weighted(rng: np.random.Generator, weights: dict[str, float], size: int) -> list[str]:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return [keys[i] for i in rng.choice(len(keys), size=size, p=p / p.sum())]


def _pool_choice(
    rng: np.random.Generator, pool: tuple[tuple[str, float], ...], size: int
) -> npt.NDArray[np.int64]:
    p = np.array([w for _, w in pool], dtype=np.float64)
    return rng.choice(len(pool), size=size, p=p / p.sum()).astype(np.int64)


def _home_addresses(rng: np.random.Generator, size: int) -> npt.NDArray[np.int64]:
    prefixes = cat.OUTSIDE_PREFIXES
    p = np.array([w for _, w in prefixes], dtype=np.float64)
    which = rng.choice(len(prefixes), size=size, p=p / p.sum())
    addresses = np.zeros(size, dtype=np.int64)
    for k, (octets, _) in enumerate(prefixes):  # one step per prefix, not per person
        rows = which == k
        fixed = 0
        for octet in octets:
            fixed = fixed * 256 + octet
        free_bits = 8 * (4 - len(octets))
        host = rng.integers(1, 1 << free_bits, size=int(rows.sum()), dtype=np.int64)
        host = np.where((host & 255) == 0, host | 1, host)
        host = np.where((host & 255) == 255, host - 1, host)
        addresses[rows] = (fixed << free_bits) | host
    return addresses


def _some(rng: np.random.Generator, rows: npt.NDArray[np.int64], share: float) -> list[int]:
    """About `share` of `rows` (at least one when there are any), in ascending order."""
    if not len(rows):
        return []
    picked = rng.choice(rows, size=max(1, round(len(rows) * share)), replace=False)
    return sorted(int(row) for row in picked)


def draw_population(rng: np.random.Generator, people: int) -> Population:
    """Draws `people` directory entries plus about 1 % of accounts absent from the directory."""
    ghosts = max(1, round(people * 0.01))
    total = people + ghosts
    n_teacher = round(people * 0.08)
    n_staff = round(people * 0.10)
    n_research = round(people * 0.02)
    n_student = people - n_teacher - n_staff - n_research
    roles = np.repeat(
        np.array([cat.STUDENT, cat.TEACHER, cat.STAFF, cat.RESEARCHER], dtype=np.int64),
        [n_student, n_teacher, n_staff, n_research],
    )
    rng.shuffle(roles)
    ghost_roles = rng.choice(4, size=ghosts, p=[0.75, 0.1, 0.1, 0.05]).astype(np.int64)
    role = np.concatenate([roles, ghost_roles])

    given = [cat.GIVEN_NAMES[i] for i in rng.integers(0, len(cat.GIVEN_NAMES), total)]
    surname = [cat.SURNAMES[i] for i in rng.integers(0, len(cat.SURNAMES), total)]
    digits = rng.integers(10, 100, total)
    uids: list[str] = []
    seen: set[str] = set()
    for g, s, d in zip(given, surname, digits, strict=True):
        stem = (_ascii(g)[:1] + _ascii(s)[:5])[:6]
        n = int(d)
        while f"{stem}{n}" in seen:
            n = n + 1 if n < 99 else 10
            if n == int(d):
                stem += "x"
        seen.add(f"{stem}{n}")
        uids.append(f"{stem}{n}")

    by_role = {
        cat.STUDENT: cat.STUDENT_STRUCTURES,
        cat.TEACHER: cat.TEACHER_STRUCTURES,
        cat.STAFF: cat.STAFF_STRUCTURES,
        cat.RESEARCHER: cat.RESEARCHER_STRUCTURES,
    }
    structure: list[str | None] = [None] * total
    for r, weights in by_role.items():
        rows = np.flatnonzero(role == r)
        for row, code in zip(rows, _weighted(rng, weights, len(rows)), strict=True):
            structure[row] = code
    etape: list[tuple[str, str, str] | None] = [None] * total
    for row in np.flatnonzero(role == cat.STUDENT):
        options = cat.ETAPES[structure[row] or "UFRST"]
        etape[row] = options[int(rng.integers(0, len(options)))]

    primary: list[str] = []
    affiliations: list[list[str]] = []
    for r in role:
        if r == cat.STUDENT:
            primary.append("student")
            affiliations.append(["student", "member"])
        elif r == cat.TEACHER:
            if rng.random() < 0.6:
                primary.append("faculty")
                affiliations.append(["faculty", "researcher", "employee", "member"])
            else:
                primary.append("teacher")
                affiliations.append(["teacher", "employee", "member"])
        elif r == cat.STAFF:
            primary.append("staff" if rng.random() < 0.6 else "employee")
            affiliations.append(["staff", "employee", "member"])
        else:
            if rng.random() < 0.6:
                primary.append("researcher")
                affiliations.append(["researcher", "member"])
            else:
                primary.append("affiliate")
                affiliations.append(["affiliate"])

    # The SI-quality signal: a few records that say something else than the person is.
    directory_rows = np.arange(people)
    teachers = directory_rows[roles == cat.TEACHER]
    mislabelled = _some(rng, teachers, 0.03)
    for who in mislabelled:
        primary[who] = "student"
        affiliations[who] = ["student", "member"]
    unassigned = _some(rng, directory_rows, 0.01)
    for who in unassigned:
        structure[who] = None
    staff_rows = directory_rows[roles == cat.STAFF]
    obsolete = _some(rng, staff_rows, 0.02)
    for who in obsolete:
        if structure[who] is not None:
            structure[who] = OBSOLETE_STRUCTURE
    students = directory_rows[roles == cat.STUDENT]
    no_inscription = _some(rng, students, 0.005)
    for who in no_inscription:
        etape[who] = None

    has_v6 = rng.random(total) < 0.3
    groups = rng.integers(0, 1 << 16, size=(total, 3), dtype=np.int64)
    groups[:, 0] = 0xA000 | (groups[:, 0] & 0x0FFF)
    groups[~has_v6] = -1
    staffish = role != cat.STUDENT
    return Population(
        uid=uids,
        role=role,
        in_directory=np.arange(total) < people,
        given=given,
        surname=surname,
        structure=structure,
        etape=etape,
        primary=primary,
        affiliations=affiliations,
        activity=rng.lognormal(0.0, 0.9, total),
        phone_affinity=np.array([1.15, 0.75, 0.6, 0.7])[role] * rng.lognormal(0.0, 0.35, total),
        desktop_ua=_pool_choice(rng, cat.UA_DESKTOP, total),
        phone_ua=_pool_choice(rng, cat.UA_PHONE, total),
        tablet_ua=_pool_choice(rng, cat.UA_TABLET, total),
        has_tablet=rng.random(total) < 0.25,
        home_v4=_home_addresses(rng, total),
        home_v6=groups,
        desk_ip=np.where(
            staffish,
            (10 << 24) | (10 << 16) | rng.integers(256, 65_279, total, dtype=np.int64),
            0,
        ),
        anomalies={
            "teachers_recorded_as_students": len(mislabelled),
            "people_without_structure": len(unassigned),
            "obsolete_structure_code": int(
                sum(1 for row in obsolete if structure[row] == OBSOLETE_STRUCTURE)
            ),
            "students_without_inscription": len(no_inscription),
            "accounts_not_in_directory": ghosts,
        },
    )


# ---------------------------------------------------------------------------------------------
# LDIF


def _attr(name: str, value: str) -> str:
    """One LDIF attribute line, base64 when the value is not a SAFE-STRING, folded at 76."""
    safe = value.isascii() and not value.startswith((" ", ":", "<")) and "\n" not in value
    if safe:
        line = f"{name}: {value}"
    else:
        line = f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
    if len(line) <= 76:
        return line + "\n"
    pieces = [line[:76]] + [" " + line[i : i + 75] for i in range(76, len(line), 75)]
    return "\n".join(pieces) + "\n"


def _entry(dn: str, attributes: list[tuple[str, str]]) -> str:
    return _attr("dn", dn) + "".join(_attr(k, v) for k, v in attributes) + "\n"


def _inscription(etape: tuple[str, str, str], structure: str | None, year: int) -> str:
    code, cursus, diplome = etape
    affect = f"[affect={structure}]" if structure else ""
    return (
        f"[etab={{UAI}}{cat.UAI}][anneeinsc={year}][regimeinsc={{SISE}}10][filiere={{SISE}}1]"
        f"{affect}[diplome={{SISE}}{diplome}][typedip={{SISE}}{'XB' if cursus[0] == 'L' else 'XA'}]"
        f"[cursusann={{SUPANN}}{cursus}][etape={{UAI:{cat.UAI}}}{code}]"
    )


def write_ldif(population: Population, path: Path, *, academic_year: int) -> None:
    """The SUPANN export: the base, `ou=people` with one entry per person, `ou=structures`."""
    chunks = [
        "version: 1\n\n",
        _entry(
            BASE_DN,
            [
                ("objectClass", "top"),
                ("objectClass", "dcObject"),
                ("objectClass", "organization"),
                ("dc", "univ-demo"),
                ("o", "Université de Démo"),
            ],
        ),
    ]
    for ou in ("people", "structures"):
        chunks.append(
            _entry(
                f"ou={ou},{BASE_DN}",
                [("objectClass", "top"), ("objectClass", "organizationalUnit"), ("ou", ou)],
            )
        )
    for s in cat.STRUCTURES:
        attrs = [
            ("objectClass", "top"),
            ("objectClass", "organizationalUnit"),
            ("objectClass", "supannEntite"),
            ("supannCodeEntite", s.code),
            ("ou", s.code),
            ("description", s.label),
        ]
        if s.parent:
            attrs.append(("supannCodeEntiteParent", s.parent))
        chunks.append(_entry(f"supannCodeEntite={s.code},ou=structures,{BASE_DN}", attrs))
    mails: set[str] = set()
    for i in np.flatnonzero(population.in_directory):
        uid = population.uid[i]
        given, surname = population.given[i], population.surname[i]
        local = f"{_ascii(given)}.{_ascii(surname)}"
        n = 1
        while local + ("" if n == 1 else str(n)) in mails:
            n += 1
        local += "" if n == 1 else str(n)
        mails.add(local)
        student_mail = population.primary[i] == "student" and population.role[i] == cat.STUDENT
        domain = f"etu.{cat.DOMAIN}" if student_mail else cat.DOMAIN
        person_attrs: list[tuple[str, str]] = [
            ("objectClass", "top"),
            ("objectClass", "person"),
            ("objectClass", "organizationalPerson"),
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "eduPerson"),
            ("objectClass", "supannPerson"),
            ("uid", uid),
            ("cn", f"{surname} {given}"),
            ("sn", surname),
            ("givenName", given),
            ("displayName", f"{given} {surname}"),
            ("mail", f"{local}@{domain}"),
            ("eduPersonPrincipalName", f"{uid}@{cat.DOMAIN}"),
            ("eduPersonPrimaryAffiliation", population.primary[i]),
        ]
        person_attrs += [("eduPersonAffiliation", a) for a in population.affiliations[i]]
        person_attrs.append(("supannEtablissement", f"{{UAI}}{cat.UAI}"))
        structure = population.structure[i]
        if structure:
            person_attrs.append(("supannEntiteAffectationPrincipale", structure))
            person_attrs.append(("supannEntiteAffectation", structure))
        etape = population.etape[i]
        if etape is not None:
            code, cursus, diplome = etape
            person_attrs += [
                ("supannEtuId", f"{22_000_000 + int(i)}"),
                ("supannEtuInscription", _inscription(etape, structure, academic_year)),
                ("supannEtuAnneeInscription", str(academic_year)),
                ("supannEtuEtape", f"{{UAI:{cat.UAI}}}{code}"),
                ("supannEtuDiplome", f"{{SISE}}{diplome}"),
                ("supannEtuCursusAnnee", f"{{SUPANN}}{cursus}"),
                ("supannEtuRegimeInscription", "{SISE}10"),
            ]
        chunks.append(_entry(f"uid={uid},ou=people,{BASE_DN}", person_attrs))
    path.write_text("".join(chunks), encoding="utf-8")
