"""The xAPI versions this LRS speaks, and which one a request is answered in.

The LRS implements xAPI 1.0.3 and xAPI 2.0.0 (IEEE 9274.1.1) side by side over the same
stores. A request chooses by its `X-Experience-API-Version` header: `1.0` or `1.0.x` is served
by the 1.0.3 rules, `2.0` or `2.0.x` by the 2.0.0 rules (each specification asks an LRS to
accept any patch version of its minor version and to answer with the latest one it knows).

Why a table of per-version rules rather than branches in the handlers: the differences are few
and local, and naming each one (`Rules`) keeps the handlers reading "the rule of this request's
version". What a statement may contain differs too; that lives in the models
(`models.StatementV2`) and is chosen by version in `validation`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

__all__ = [
    "RULES",
    "SCOPE_KEY",
    "SUPPORTED",
    "Rules",
    "XapiVersion",
    "negotiate",
    "request_version",
]

XapiVersion = Literal["1.0.3", "2.0.0"]

#: Every version, oldest first, as `/about` lists them.
SUPPORTED: Final[tuple[XapiVersion, ...]] = get_args(XapiVersion)

#: Where the ASGI layer leaves the version of a request for the handlers (an ASGI scope key).
SCOPE_KEY: Final = "vigie.xapi_version"

_HEADER = re.compile(r"^([12])\.0(?:\.[0-9]+)?$")
_BY_MAJOR: Final[dict[str, XapiVersion]] = {"1": "1.0.3", "2": "2.0.0"}


@dataclass(frozen=True)
class Rules:
    """What differs between the versions in the HTTP layer."""

    #: `version` given to a statement stored without one (1.0.3 Data 2.4.10: "1.0.0").
    statement_version: str
    #: Whether statement timestamps are stored converted to UTC (2.0.0 section 4.2.7, which
    #: the ADL 2.0 suite checks; 1.0.3 Data 4.5 lets the LRS keep the offset it received).
    utc_timestamps: bool
    #: Whether the alternate request syntax (1.0.3 Communication 1.3) exists; 2.0.0 dropped it.
    alternate_syntax: bool
    #: Whether a PUT overwriting a State document needs If-Match / If-None-Match (409 without):
    #: 1.0.3 asks it of the profile resources only, 2.0.0 (4.1.4) of every document resource.
    state_put_needs_precondition: bool
    #: Whether a PUT creating a profile needs `If-None-Match: *` (400 without), as the 1.0.3
    #: suite checks; 2.0.0 asks for a precondition only when a document would be overwritten.
    profile_create_needs_precondition: bool


RULES: Final[dict[XapiVersion, Rules]] = {
    "1.0.3": Rules(
        statement_version="1.0.0", utc_timestamps=False, alternate_syntax=True,
        state_put_needs_precondition=False, profile_create_needs_precondition=True,
    ),
    "2.0.0": Rules(
        statement_version="2.0.0", utc_timestamps=True, alternate_syntax=False,
        state_put_needs_precondition=True, profile_create_needs_precondition=False,
    ),
}


def negotiate(header: str | None) -> XapiVersion | None:
    """The version serving a request whose header is `header`; None when it names none we
    speak (absent, `0.9`, `1.1.0`, `3.0`…), which outside `/about` is a 400."""
    if header is None:
        return None
    matched = _HEADER.match(header.strip())
    return _BY_MAJOR[matched.group(1)] if matched else None


def request_version(scope: Mapping[str, Any]) -> XapiVersion:
    """The version the ASGI layer chose for the request of `scope` (`app._XapiVersion`)."""
    version: XapiVersion = scope[SCOPE_KEY]
    return version
