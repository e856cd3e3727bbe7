"""Log formats as data: the declarative entry every format is, and where entries are found.

A format says how to cut a line (or a record, or a JSON object) into named fields, how to read
its time, and how its fields map to the canonical event (`user`, `ip`, `user_agent`, `action`,
`target`, `status`). The shipped formats live in `sources/formats/*.toml`; an installation adds
its own in the `[[formats]]` table of its configuration, with exactly the same keys.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vigie.errors import FormatError

__all__ = ["CANONICAL_FIELDS", "FormatSpec", "available_formats", "builtin_formats", "resolve"]

#: Fields a format maps its own fields to; anything not mapped is NULL.
CANONICAL_FIELDS = ("user", "ip", "user_agent", "action", "target", "status", "trace")

_FIELD_IN_TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class FormatSpec(BaseModel):
    """One log format.

    Exactly one way of cutting is given: `template` (literal text with `{field}` holes, like an
    Apache `LogFormat`), `pattern` (a regular expression with named groups, RE2 syntax), or, for
    `kind = "json"`, `extract` (field -> JSON path). `kind = "multiline"` first glues the lines of
    a record together (a record begins with a line matching `record_start`) and then applies
    `pattern` to the whole record.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    kind: Literal["lines", "json", "multiline", "table"] = "lines"
    template: str | None = None
    split: str | None = Field(
        default=None, max_length=1, description="fast-path separator for templates (e.g. '\"')"
    )
    pattern: str | None = None
    extract: dict[str, str] = Field(default_factory=dict)
    record_start: str | None = None
    record_end: str | None = None
    time_field: str = "time"
    time_format: str = "%Y-%m-%d %H:%M:%S"
    year: Literal["present", "infer"] = "present"
    timezone: str | None = Field(
        default=None,
        description="zone of times written without an offset (default: the installation's)",
    )
    route_on: str | None = Field(
        default=None, description="canonical field holding the routing target (URL, entityID)"
    )
    fields: dict[str, str] = Field(default_factory=dict)
    sign_on: bool = Field(
        default=False,
        description="each event is a sign-on at the institution's single sign-on (CAS, "
        "Shibboleth IdP): the Authentication dashboard counts these sources' events",
    )

    @model_validator(mode="after")
    def _consistent(self) -> FormatSpec:
        cutters = [x for x in (self.template, self.pattern) if x] + (
            ["extract"] if self.extract else []
        )
        if self.kind == "table":
            if cutters:
                raise ValueError("a 'table' format reads named columns: no template or pattern")
        elif len(cutters) != 1:
            raise ValueError("give exactly one of 'template', 'pattern' or 'extract'")
        if self.kind == "json" and not self.extract:
            raise ValueError("a 'json' format needs 'extract' (field = JSON path)")
        if self.kind == "multiline" and not (self.pattern and self.record_start):
            raise ValueError("a 'multiline' format needs 'record_start' and 'pattern'")
        if self.split and not self.template:
            raise ValueError("'split' is a fast path for 'template' only")
        unknown = sorted(set(self.fields) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown canonical field(s) {unknown} in 'fields'; "
                f"allowed: {', '.join(CANONICAL_FIELDS)}"
            )
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if self.route_on and self.route_on not in CANONICAL_FIELDS:
            raise ValueError(f"'route_on' must be one of {', '.join(CANONICAL_FIELDS)}")
        if self.pattern:
            try:
                re.compile(self.pattern.replace("(?P<", "(?P<"))
            except re.error as exc:
                raise ValueError(f"'pattern' is not a valid regular expression: {exc}") from exc
        return self

    @property
    def field_names(self) -> list[str]:
        """The names the cutting step produces, in order."""
        if self.template:
            return _FIELD_IN_TEMPLATE.findall(self.template)
        if self.pattern:
            # DuckDB names capturing groups by position: unnamed ones get a placeholder name.
            compiled = re.compile(self.pattern)
            by_index = {index: name for name, index in compiled.groupindex.items()}
            return [by_index.get(i, f"_group{i}") for i in range(1, compiled.groups + 1)]
        return list(self.extract)


def _parse(data: dict[str, object], origin: str) -> FormatSpec:
    try:
        return FormatSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'format'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise FormatError(f"format declared in {origin} is invalid: {problems}") from exc


def builtin_formats() -> dict[str, FormatSpec]:
    """The formats shipped with vigie, one TOML file each in `vigie/sources/formats/`."""
    found: dict[str, FormatSpec] = {}
    for entry in sorted(resources.files("vigie.sources.formats").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            spec = _parse(tomllib.loads(entry.read_text(encoding="utf-8")), entry.name)
            found[spec.name] = spec
    return found


def available_formats(
    custom: Sequence[FormatSpec | dict[str, object]] = (),
) -> dict[str, FormatSpec]:
    """Shipped formats plus an installation's own; a custom format may not shadow a shipped one."""
    formats = builtin_formats()
    for i, data in enumerate(custom):
        spec = (data if isinstance(data, FormatSpec)
                else _parse(data, f"the configuration's formats[{i}]"))
        if spec.name in formats:
            raise FormatError(
                f"formats[{i}]: the name {spec.name!r} is already a shipped format; choose another"
            )
        formats[spec.name] = spec
    return formats


def resolve(name: str, formats: dict[str, FormatSpec]) -> FormatSpec:
    """Finds a format by name, or says which names exist."""
    try:
        return formats[name]
    except KeyError:
        raise FormatError(
            f"unknown format {name!r}; available: {', '.join(sorted(formats))}"
        ) from None
