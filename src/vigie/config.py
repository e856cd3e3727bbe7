"""The one TOML file of an installation: where the lake lives, its sources, directory, IP plan.

Every section is a strict pydantic model (`extra="forbid"`), so a typo in a key is reported with
its dotted path instead of being silently ignored. Relative paths are resolved against the
directory of the configuration file, so a config can be moved together with its data.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigie.errors import ConfigError
from vigie.sources.spec import FormatSpec, available_formats

__all__ = [
    "Config",
    "DirectoryConfig",
    "GroupRoleConfig",
    "LdapConfig",
    "MoodleDatabaseConfig",
    "Role",
    "RouteConfig",
    "SourceConfig",
    "WebConfig",
    "load_config",
    "password_from_env",
]


#: Service names become folder names of the lake (`service=ent`): letters, digits, `_ - .`.
SERVICE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: An LDAP attribute name, as the directory readers accept it.
LDAP_ATTRIBUTE = r"^[A-Za-z][A-Za-z0-9-]*$"

#: Roles of the web application, from the least to the most privileged (see docs/web.md).
Role = Literal["viewer", "manager", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouteConfig(_Strict):
    """Maps events of a shared source (CAS, IdP, reverse proxy) to a service.

    A rule matches the source's routing target (service URL, SP entityID, virtual host):
    `host` compares the host part exactly, `prefix` the beginning of the target and `pattern`
    is a regular expression searched in it. Rules are tried in order; the first match wins.
    """

    service: str = Field(pattern=SERVICE_NAME)
    host: str | None = None
    prefix: str | None = None
    pattern: str | None = None

    @model_validator(mode="after")
    def _one_criterion(self) -> RouteConfig:
        given = [c for c in (self.host, self.prefix, self.pattern) if c is not None]
        if len(given) != 1:
            raise ValueError("a route needs exactly one of 'host', 'prefix' or 'pattern'")
        return self


class MoodleDatabaseConfig(_Strict):
    """Connection to Moodle's PostgreSQL database, read for `logstore_standard_log`."""

    uri: str = Field(description="postgresql://user@host:port/dbname (password from password_env)")
    password_env: str | None = None
    prefix: str = "mdl_"
    batch_seconds: int = Field(default=86_400, gt=0, description="timecreated window per batch")


class SourceConfig(_Strict):
    """One log source: a format, the files (globs) or database to read, and its service."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    format: str
    paths: list[str] = Field(default_factory=list)
    database: MoodleDatabaseConfig | None = None
    users_csv: str | None = Field(
        default=None, description="Moodle CSV exports only: the mdl_user export (id, username)"
    )
    service: str | None = Field(
        default=None, pattern=SERVICE_NAME, description="fixed service name of every event"
    )
    routes: list[RouteConfig] = Field(default_factory=list)
    default_service: str = Field(default="other", pattern=SERVICE_NAME)
    encoding: Literal["utf-8", "latin-1"] = "utf-8"

    @model_validator(mode="after")
    def _where_and_what(self) -> SourceConfig:
        if not self.paths and self.database is None:
            raise ValueError("a source needs 'paths' (log files) or 'database'")
        if self.service is None and not self.routes:
            raise ValueError("a source needs 'service' or at least one entry in 'routes'")
        return self


class LdapConfig(_Strict):
    """An LDAP directory read with a paged search."""

    url: str
    bind_dn: str | None = None
    password_env: str | None = Field(
        default=None, description="environment variable that holds the bind password"
    )
    people_base: str
    people_filter: str = "(objectClass=person)"
    structures_base: str | None = None
    groups_base: str | None = Field(
        default=None, description="where groupOfNames / groupOfUniqueNames entries are (web roles)"
    )
    page_size: int = Field(default=500, gt=0)


class DirectoryConfig(_Strict):
    """Where the SI directory comes from, and which attributes vigie reads."""

    ldif: str | None = None
    ldap: LdapConfig | None = None
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="overrides of the attribute names, e.g. {uid = 'supannAliasLogin'}",
    )
    structure_labels: dict[str, str] = Field(
        default_factory=dict,
        description="structure code -> label, for directories without ou=structures (or to fix)",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DirectoryConfig:
        if (self.ldif is None) == (self.ldap is None):
            raise ValueError("the directory needs exactly one of 'ldif' or 'ldap'")
        return self


class IndicatorsConfig(_Strict):
    """The indicator catalogue: an installation's own folders, and small-cell suppression."""

    folders: list[str] = Field(
        default_factory=list, description="folders of .sql + .toml indicators of your own"
    )
    k: int = Field(default=5, ge=2, description="counts of fewer than k people are hidden")


class GroupRoleConfig(_Strict):
    """A directory group whose members get a role in the web application.

    Only a manager can be restricted to structures (codes of `supannCodeEntite`, each with its
    sub-structures): a viewer sees what every viewer sees, an admin sees everything.
    """

    group: str = Field(min_length=1, description="a group name (isMemberOf value) or group DN")
    role: Role
    structures: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _structures_for_managers(self) -> GroupRoleConfig:
        if self.structures and self.role != "manager":
            raise ValueError(f"structures: only a manager can be restricted to structures "
                             f"(this group gives the {self.role} role)")
        return self


class WebConfig(_Strict):
    """Who may use the web application: the reverse proxy it trusts, and roles from directory
    groups (local accounts stay in their own file)."""

    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or CIDR blocks of reverse proxies whose user header is believed",
    )
    remote_user_header: str = Field(default="REMOTE_USER", pattern=r"^[A-Za-z0-9_-]+$")
    proxy_default_role: Role | None = None

    group_attributes: list[Annotated[str, Field(pattern=LDAP_ATTRIBUTE)]] = Field(
        default_factory=lambda: ["isMemberOf"],
        description="person attributes whose values are group names (isMemberOf, memberOf…)",
    )
    group_cache_seconds: int = Field(default=300, ge=0)
    group_roles: list[GroupRoleConfig] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or CIDR block "
                                 "(e.g. 10.0.0.5 or 10.0.0.0/24)") from None
        return proxies


class VigieConfig(_Strict):
    """Installation-wide settings."""

    lake: str = "lake"
    timezone: str = "Europe/Paris"
    school_zone: Literal["A", "B", "C", "Corse", "DOM-TOM"] = "B"
    secret_file: str | None = None
    secret_env: str = "VIGIE_SECRET"
    chunk_mb: int = Field(default=64, gt=0, le=1024)
    retention_months: int | None = Field(default=None, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris' or "
                "'America/Cayenne'"
            ) from None
        return value


class Config(_Strict):
    """The whole configuration file."""

    vigie: VigieConfig = VigieConfig()
    directory: DirectoryConfig | None = None
    indicators: IndicatorsConfig = IndicatorsConfig()
    network: dict[str, list[str]] = Field(
        default_factory=dict, description="zone name -> list of CIDR blocks"
    )
    formats: list[FormatSpec] = Field(default_factory=list)
    traces: list[str] = Field(
        default_factory=list,
        description="globs of ESUP CAS trace files (TRACE-…:login) for TRACE cookies in web logs",
    )
    sources: Annotated[list[SourceConfig], Field(min_length=1)]
    web: WebConfig = WebConfig()
    base_dir: Path = Path(".")

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        names = [s.name for s in sources]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicated)}")
        return sources

    @model_validator(mode="after")
    def _groups_need_a_directory(self) -> Config:
        if self.web.group_roles and self.directory is None:
            raise ValueError("web.group_roles: roles from directory groups need a [directory] "
                             "to read the groups from")
        return self

    def path(self, value: str) -> Path:
        """Resolves a path from the file against the configuration's directory."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def lake_path(self) -> Path:
        return self.path(self.vigie.lake)

    def sign_on_sources(self) -> list[str]:
        """Names of the sources read in a single sign-on's format (`sign_on = true`: CAS,
        Shibboleth IdP), whose events are logins rather than page views."""
        formats = available_formats(self.formats)
        return [s.name for s in self.sources
                if s.format in formats and formats[s.format].sign_on]


def password_from_env(variable: str | None, *, key: str) -> str | None:
    """The password held by the environment variable a configuration key names (None if no key).

    Raises:
        ConfigError: naming the key when the variable is not set.
    """
    if variable is None:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise ConfigError(f"{key}: the environment variable {variable} is not set")
    return value


def _dotted(loc: tuple[int | str, ...], data: dict[str, object]) -> str:
    """Turns pydantic's location into the TOML key a user wrote (`sources[2].format`)."""
    out = ""
    node: object = data
    for part in loc:
        if isinstance(part, int):
            name = ""
            if isinstance(node, list) and part < len(node) and isinstance(node[part], dict):
                name = str(node[part].get("name", ""))
            out += f"[{part}]" + (f" (name = {name!r})" if name else "")
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            out += ("." if out else "") + part
            node = node.get(part) if isinstance(node, dict) else None
    return out


def load_config(path: Path) -> Config:
    """Reads and validates a configuration file.

    Raises:
        ConfigError: naming the file and the key at fault, with what is expected.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return Config.model_validate({**data, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = _dotted(tuple(err["loc"]), data) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling in docs/configuration.md)"
            problems.append(f"  {key}: {msg}")
        raise ConfigError(f"{path}: invalid configuration\n" + "\n".join(problems)) from exc
