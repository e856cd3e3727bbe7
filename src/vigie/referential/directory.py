"""Read a SUPANN directory (LDIF export or live LDAP) into two arrow tables.

Why two readers: production sites point vigie at their LDAP replica, while demos, tests and
air-gapped installs only have an LDIF export. Both end in
:class:`vigie.referential.supann.PeopleBuilder` (behind
:func:`vigie.referential.supann.build_people`), so they cannot disagree on what a person is.

ldap3 has no LDIF *reader*, so a small RFC 2849 parser lives here: base64 values (``attr::``),
folded lines (continuations start with one space), comments (also folded), ``version:`` line,
attribute options (``cn;lang-fr``), ``changetype: add`` records; other change records and
``attr:< URL`` values are skipped, since an export of content never needs them.

The groups of a person (for the web application's roles) come from the same two sources, read
the same way: values of attributes on the person (``isMemberOf`` provisioned by Grouper,
``memberOf`` of OpenLDAP's memberof overlay or Active Directory) and the DNs of the
``groupOfNames`` / ``groupOfUniqueNames`` entries that list the person as a member.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from ldap3 import NONE, SUBTREE, Connection, Server
from ldap3.core.exceptions import LDAPException, LDAPInvalidFilterError
from ldap3.utils.conv import escape_filter_chars

from vigie.errors import ConfigError, SourceError
from vigie.referential.supann import (
    DEFAULT_ATTRIBUTES,
    Entry,
    PeopleBuilder,
    build_people,
    build_structures,
    is_person,
    is_structure,
    resolve_attributes,
)

__all__ = [
    "DEFAULT_ATTRIBUTES",
    "Directory",
    "equality_filter",
    "ldap_groups",
    "ldif_groups",
    "load_ldap",
    "load_ldif",
    "normalize_group",
    "parse_ldif",
]

#: What may stand before the first colon of a line: an attribute name and its options.
_NAME_AND_OPTIONS = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*(?:;[A-Za-z0-9-]+)*\Z")
#: First character of what follows the colon of a base64 (``::``) or URL (``:<``) value.
_ENCODED = frozenset(":<")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(?:;[A-Za-z0-9-]+)*$")
_STRUCTURE_ATTRIBUTES = ("supannCodeEntite", "description", "ou", "supannCodeEntiteParent")
#: Attributes of group entries that list their members' DNs.
_MEMBER_ATTRIBUTES = ("member", "uniquemember")


@dataclass(frozen=True)
class Directory:
    """People (one row per uid) and structures (one row per supannCodeEntite).

    Column names and types are :data:`vigie.referential.supann.PEOPLE_SCHEMA` and
    :data:`vigie.referential.supann.STRUCTURES_SCHEMA`.
    """

    people: pa.Table
    structures: pa.Table


def _needed(names: Mapping[str, str]) -> set[str]:
    """Lower-cased attributes worth keeping in memory (a directory may hold photos)."""
    return {*names.values(), "objectclass", *(a.lower() for a in _STRUCTURE_ATTRIBUTES)}


def _read_text(path: Path) -> str:
    r"""The whole file as text, CRLF line ends made LF (line numbers do not change).

    Replacing ``\r\n`` drops exactly the one ``\r`` before each ``\n``, as removing a trailing
    ``\r`` from each line does; a last line without ``\n`` loses its ``\r`` too.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"LDIF {path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(f"LDIF {path}, line {bad_line}: not valid UTF-8") from exc
    if "\r" in text:
        text = text.replace("\r\n", "\n").removesuffix("\r")
    return text


def _orphan_continuation(text: str) -> int | None:
    """Offset of the first continuation line that has no line to continue, if any.

    Such a line opens the file or follows a blank line (after a comment, it continues the
    comment). Looked for before unfolding, which would glue it to the blank line.
    """
    if text.startswith(" "):
        return 0
    if text.startswith("\n "):
        return 1
    found = text.find("\n\n ")
    return None if found < 0 else found + 2


class _LineError(Exception):
    """A malformed line, by its index among its record's lines: which line of the file that
    is gets worked out only then (:func:`_physical_line`)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


def _physical_line(text: str, logical: int) -> int:
    """1-based number of the line of ``text`` where its ``logical``-th (0-based) unfolded line
    starts: the ``logical``-th line that is not a continuation. Only used to report an error.
    """
    seen = -1
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.startswith(" "):
            seen += 1
            if seen == logical:
                return number
    raise AssertionError(f"no unfolded line {logical}")  # every one starts a line of text


def _value(index: int, rest: str) -> str | None:
    """The value of a line from what follows its first colon: `` value``, ``: base64`` or
    ``< URL`` (None: vigie does not fetch URLs). Spaces after the colon(s) are not part of it.
    """
    marker = rest[:1]
    if marker == "<":
        return None
    if marker != ":":
        return rest.lstrip(" ")
    try:
        decoded = base64.b64decode(rest[1:].strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _LineError(index, "invalid base64 value") from exc
    return decoded.decode("utf-8", errors="replace")


def _attribute_name(index: int, line: str, names: dict[str, str]) -> str:
    """Lower-cased attribute name, options dropped, of a line whose name is not in ``names``.

    What stands before the first colon must be ``attr[;option...]``; the answer is remembered
    in ``names``, so each distinct spelling (a directory has a few dozen) is checked once.
    """
    written, colon, _ = line.partition(":")
    if not colon or _NAME_AND_OPTIONS.match(written) is None:
        shown = line if len(line) <= 60 else line[:57] + "..."
        raise _LineError(index, f"expected 'attribute: value', found {shown!r}")
    lowered = names[written] = written.split(";", 1)[0].lower()
    return lowered


def _parse_record(
    lines: list[str], keep: set[str] | None, first_record: bool, names: dict[str, str]
) -> tuple[str, dict[str, list[str]], bool] | None:
    """``(dn, attributes, skipped)`` of the lines between two blank lines; None without a dn.

    ``skipped`` marks a change record other than ``changetype: add`` (its other lines are not
    even checked). ``version:`` lines may precede the dn of the file's first record only.
    This loop runs once per line of the file, hence the common case inlined: a known
    attribute name and a plain value.
    """
    dn: str | None = None
    attrs: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        colon = line.find(":")
        written = line[:colon]
        lowered = names.get(written) if colon >= 0 else None
        if lowered is None:
            if not line or line[0] == "#":
                continue
            lowered = _attribute_name(index, line, names)
        rest = line[colon + 1 :]
        if dn is None:
            if lowered == "version" and first_record:
                continue
            if lowered != "dn":
                name = written.split(";", 1)[0]
                raise _LineError(
                    index, f"an entry must start with 'dn:', found attribute {name!r}"
                )
            dn = _value(index, rest) or ""
        elif lowered == "changetype":
            if (_value(index, rest) or "").strip().lower() != "add":
                return dn, attrs, True
        elif keep is None or lowered in keep:
            value = rest.lstrip(" ") if rest[:1] not in _ENCODED else _value(index, rest)
            if value is None:
                continue
            values = attrs.get(lowered)
            if values is None:
                attrs[lowered] = [value]
            else:
                values.append(value)
    return None if dn is None else (dn, attrs, False)


def _parse_text(path: Path, text: str, keep: set[str] | None) -> Iterator[Entry]:
    """Entries of LDIF text that has no orphan continuation line.

    Unfolding is one ``replace`` over the whole text, and records are what lies between blank
    lines (a run of blank lines gives empty records). Lines are counted only to report a
    malformed one, as SourceError.
    """
    unfolded = text.replace("\n ", "")
    records = unfolded.split("\n\n")
    names: dict[str, str] = {}
    first_record = True
    for number, record in enumerate(records):
        try:
            parsed = _parse_record(record.split("\n"), keep, first_record, names)
        except _LineError as error:
            start = sum(len(r) + 2 for r in records[:number])
            line = _physical_line(text, unfolded.count("\n", 0, start) + error.index)
            raise SourceError(f"LDIF {path}, line {line}: {error.message}") from error
        if parsed is None:
            continue
        first_record = False
        dn, attrs, skipped = parsed
        if not skipped:
            yield dn, attrs


def parse_ldif(path: Path, *, keep: set[str] | None = None) -> Iterator[Entry]:
    """Yield ``(dn, {attribute: [values]})`` for each content (or ``changetype: add``) record.

    Attribute names are lower-cased without options; ``keep`` (lower-cased names) limits which
    attributes are stored. Raises SourceError naming the file and line of a malformed line
    (after yielding the entries before it).

    The file is read at once and cut with bulk string methods (unfold, split into records,
    then lines) rather than run line by line through a state machine, which was slower.
    """
    text = _read_text(Path(path))
    orphan = _orphan_continuation(text)
    yield from _parse_text(path, text if orphan is None else text[:orphan], keep)
    if orphan is not None:
        line = text.count("\n", 0, orphan) + 1
        raise SourceError(
            f"LDIF {path}, line {line}: continuation line (starting with a space) "
            "without a line to continue"
        )


def load_ldif(
    path: Path,
    *,
    attributes: Mapping[str, str] | None = None,
) -> Directory:
    """Load people and structures from an LDIF export of a SUPANN directory.

    A person is an entry with a uid that is a person/inetOrgPerson/supannPerson or sits under
    ``ou=people``; a structure has a supannCodeEntite and is a supannEntite or sits under
    ``ou=structures``. Everything else (the base, organizational units, groups) is skipped.

    One pass, entries dropped as soon as they are used (only the few structures are kept):
    keeping every entry alive made the garbage collector walk them all, again and again,
    which took longer than reading the file.
    """
    names = resolve_attributes(attributes)
    people = PeopleBuilder(names)
    structure_entries: list[Entry] = []
    for dn, attrs in parse_ldif(Path(path), keep=_needed(names)):
        if is_structure(dn, attrs):
            structure_entries.append((dn, attrs))
        people.add(dn, attrs)
    structures = build_structures(structure_entries)
    return Directory(people=people.table(structures), structures=structures)


def equality_filter(attribute: str, value: str) -> str:
    """``(attribute=value)`` with the value escaped per RFC 4515 (``*``, ``(``, ``)``, ``\\``, NUL).

    Use it whenever a configured or user-supplied value is put into a filter, so a value like
    ``R&D (Paris) *`` matches literally instead of changing the filter.
    """
    if not _ATTRIBUTE_NAME.match(attribute):
        raise ConfigError(f"LDAP filter: {attribute!r} is not an LDAP attribute name")
    return f"({attribute}={escape_filter_chars(value)})"


def _decode_entry(item: Mapping[str, Any]) -> Entry:
    """ldap3 result -> Entry, from raw bytes so decoding does not depend on a fetched schema."""
    attrs: dict[str, list[str]] = {}
    for name, values in item.get("raw_attributes", {}).items():
        key = str(name).split(";", 1)[0].lower()
        attrs.setdefault(key, []).extend(
            v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in values
        )
    return str(item.get("dn", "")), attrs


def _connect(url: str, bind_dn: str | None, password: str | None, timeout: float) -> Connection:
    """A bound, read-only connection (anonymous when ``bind_dn`` is None)."""
    if bind_dn is not None and not password:
        raise ConfigError(f"LDAP {url}: bind_dn {bind_dn!r} is set but the password is empty")
    try:
        server = Server(url, get_info=NONE, connect_timeout=timeout)
        return Connection(
            server,
            user=bind_dn,
            password=password,
            auto_bind=True,
            read_only=True,
            receive_timeout=max(1, math.ceil(timeout)),  # ldap3 packs it as an int
            raise_exceptions=True,
        )
    except LDAPException as exc:
        who = f"as {bind_dn!r}" if bind_dn else "anonymously"
        raise SourceError(f"LDAP {url}: cannot connect and bind {who}: {exc}") from exc


def _search(
    connection: Connection,
    url: str,
    base: str,
    search_filter: str,
    attributes: list[str],
    page_size: int,
) -> list[Entry]:
    """Paged subtree search; the server never has to return more than ``page_size`` at once."""
    try:
        results = connection.extend.standard.paged_search(
            search_base=base,
            search_filter=search_filter,
            search_scope=SUBTREE,
            attributes=attributes,
            paged_size=page_size,
            generator=True,
        )
        return [_decode_entry(item) for item in results if item.get("type") == "searchResEntry"]
    except LDAPInvalidFilterError as exc:
        raise ConfigError(f"LDAP {url}: invalid search filter {search_filter!r} ({exc})") from exc
    except LDAPException as exc:
        raise SourceError(
            f"LDAP {url}: search under {base!r} with filter {search_filter!r} failed: {exc}"
        ) from exc


def load_ldap(
    url: str,
    *,
    bind_dn: str | None,
    password: str | None,
    people_base: str,
    people_filter: str,
    structures_base: str | None,
    page_size: int = 500,
    attributes: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Directory:
    """Load people and structures from a live LDAP server with paged searches.

    ``people_filter`` is trusted to select people (build interpolated parts with
    :func:`equality_filter`); structures are the ``(supannCodeEntite=*)`` entries under
    ``structures_base``, or none when it is None. Anonymous bind when ``bind_dn`` is None.
    """
    if page_size < 1:
        raise ConfigError(f"LDAP {url}: page_size must be >= 1, got {page_size}")
    names = resolve_attributes(attributes)
    people_attributes = sorted({*names.values(), "objectclass"})
    connection = _connect(url, bind_dn, password, timeout)
    try:
        structure_entries = (
            _search(
                connection,
                url,
                structures_base,
                "(supannCodeEntite=*)",
                [*_STRUCTURE_ATTRIBUTES, "objectClass"],
                page_size,
            )
            if structures_base
            else []
        )
        people_entries = _search(
            connection, url, people_base, people_filter, people_attributes, page_size
        )
    finally:
        connection.unbind()
    structures = build_structures(structure_entries, require_structure=False)
    people = build_people(people_entries, structures, names, require_person=False)
    return Directory(people=people, structures=structures)


def normalize_group(name: str) -> str:
    """A group name or DN as compared: lower case, no spaces around ``,`` and ``=``.

    LDAP compares DNs and most group names case-insensitively, and directories write
    ``cn=Staff, ou=groups`` as well as ``cn=staff,ou=groups``.
    """
    return re.sub(r"\s*([,=])\s*", r"\1", name.strip()).lower()


def ldif_groups(
    path: Path, *, uid_attribute: str = "uid", group_attributes: Sequence[str] = ("isMemberOf",)
) -> dict[str, frozenset[str]]:
    """Every person's groups in an LDIF export, by lower-cased uid (normalized names).

    A person's groups are the values of ``group_attributes`` on its entry, plus the DN of every
    entry whose ``member`` or ``uniqueMember`` is the person's DN.
    """
    uid = uid_attribute.lower()
    attributes = [a.lower() for a in group_attributes]
    keep = {uid, "objectclass", *attributes, *_MEMBER_ATTRIBUTES}
    people: dict[str, str] = {}
    found: dict[str, set[str]] = {}
    listed: list[tuple[str, list[str]]] = []
    for dn, attrs in parse_ldif(Path(path), keep=keep):
        members = [m for a in _MEMBER_ATTRIBUTES for m in attrs.get(a, [])]
        if members:
            listed.append((normalize_group(dn), members))
        user = next((v.strip().lower() for v in attrs.get(uid, []) if v.strip()), None)
        if user is None or not is_person(dn, attrs, uid) or user in found:
            continue
        people[normalize_group(dn)] = user
        found[user] = {normalize_group(v) for a in attributes for v in attrs.get(a, [])}
    for group, members in listed:
        for member in members:
            user = people.get(normalize_group(member))
            if user is not None:
                found[user].add(group)
    return {user: frozenset(groups) for user, groups in found.items()}


def ldap_groups(
    url: str,
    user: str,
    *,
    bind_dn: str | None,
    password: str | None,
    people_base: str,
    people_filter: str,
    uid_attribute: str = "uid",
    group_attributes: Sequence[str] = ("isMemberOf",),
    groups_base: str | None = None,
    timeout: float = 10.0,
) -> frozenset[str]:
    """The groups of one person of a live LDAP server (normalized names; empty if unknown).

    The person is ``(&people_filter(uid_attribute=user))`` under ``people_base``; its groups are
    the values of ``group_attributes``, plus, with ``groups_base``, the DNs of the entries under
    it whose ``member`` or ``uniqueMember`` is the person's DN.
    """
    connection = _connect(url, bind_dn, password, timeout)
    try:
        person_filter = f"(&{people_filter}{equality_filter(uid_attribute, user)})"
        people = _search(connection, url, people_base, person_filter, list(group_attributes), 2)
        if not people:
            return frozenset()
        dn, attrs = people[0]
        groups = {normalize_group(v) for a in group_attributes for v in attrs.get(a.lower(), [])}
        if groups_base:
            member_filter = (f"(|{equality_filter('member', dn)}"
                             f"{equality_filter('uniqueMember', dn)})")
            groups |= {normalize_group(group_dn) for group_dn, _ in _search(
                connection, url, groups_base, member_filter, ["cn"], 500)}
    finally:
        connection.unbind()
    return frozenset(groups)
