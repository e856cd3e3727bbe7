"""Exceptions a user may see, each with a message that says what is wrong and what to do.

    VigieError
    ├── ConfigError      the configuration file is wrong (names the key)
    ├── SecretError      no pseudonymization secret could be found
    ├── FormatError      a format declaration is wrong (names the format and field)
    └── SourceError      a source could not be read (names the file or database)
"""

from __future__ import annotations

__all__ = ["ConfigError", "FormatError", "SecretError", "SourceError", "VigieError"]


class VigieError(Exception):
    """Base of every error vigie reports to its user instead of a traceback."""


class ConfigError(VigieError):
    """The configuration file cannot be used as written."""


class SecretError(VigieError):
    """The keyed-pseudonym secret is missing or unusable."""


class FormatError(VigieError):
    """A log format declaration is inconsistent."""


class SourceError(VigieError):
    """A source (file or database) cannot be read."""
