"""Keyed pseudonyms: HMAC-SHA256 of a normalised identifier with a secret kept outside the lake.

The same person gets the same pseudonym in every source and every run (so distinct counts and
joins with the directory work), but without the secret nobody can recompute or reverse it: a
plain hash of a login would be reversed by hashing the directory. The HMAC is computed once per
*distinct* identifier of a chunk, never per line.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from vigie.errors import SecretError

if TYPE_CHECKING:
    from vigie.config import Config

__all__ = ["Pseudonymizer", "create_secret", "load_secret", "secret_of"]

#: Hex characters kept from the HMAC: 128 bits, collision-free at any university's scale.
PSEUDONYM_LENGTH = 32
_MIN_SECRET_BYTES = 16


def create_secret(path: Path) -> bytes:
    """Writes a new random secret (readable by its owner only) and returns it."""
    value = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value.encode()


def load_secret(*, file: Path | None, env: str, lake: Path) -> bytes:
    """Finds the secret in the environment variable `env`, else in `file`.

    Raises:
        SecretError: when there is none, when it is too short, or when the file sits inside the
            lake (the lake may be copied or published; the secret must not travel with it).
    """
    value = os.environ.get(env, "").strip()
    if not value and file is not None:
        resolved = file.resolve()
        if resolved.is_relative_to(lake.resolve()):
            raise SecretError(
                f"the secret file {file} is inside the lake {lake}: move it outside the lake "
                "(anyone who gets the lake and its secret could recompute the pseudonyms)"
            )
        try:
            value = file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise SecretError(
                f"no secret: neither ${env} nor the file {file} exists. Create one with "
                f"`vigie secret --create {file}` and keep it out of the lake and its backups."
            ) from None
    if not value:
        raise SecretError(
            f"no secret: set ${env} or 'secret_file' in [vigie]; create one with "
            "`vigie secret --create PATH`"
        )
    if len(value.encode()) < _MIN_SECRET_BYTES:
        raise SecretError(f"the secret is too short: use at least {_MIN_SECRET_BYTES} characters")
    return value.encode()


def secret_of(config: Config) -> bytes:
    """The secret a configuration designates (`[vigie] secret_env`, else `secret_file`)."""
    file = config.path(config.vigie.secret_file) if config.vigie.secret_file else None
    return load_secret(file=file, env=config.vigie.secret_env, lake=config.lake_path)


class Pseudonymizer:
    """Computes pseudonyms of identifiers, remembering those already seen in this run."""

    def __init__(self, secret: bytes) -> None:
        self._key = secret
        self._seen: dict[str, str] = {}
        self._lock = threading.RLock()  # chunks are enriched by several threads

    def one(self, identifier: str) -> str:
        """The pseudonym of one identifier (case and surrounding blanks do not matter)."""
        normalised = identifier.strip().lower()
        with self._lock:
            found = self._seen.get(normalised)
            if found is None:
                digest = hmac.new(self._key, normalised.encode(), hashlib.sha256).hexdigest()
                found = self._seen[normalised] = digest[:PSEUDONYM_LENGTH]
        return found

    def table(self, identifiers: pa.Array) -> pa.Table:
        """(`user`, `user_pseudo`) for an array of *distinct* identifiers."""
        values = [v for v in identifiers.to_pylist() if v is not None]
        with self._lock:
            pseudonyms = [self.one(v) for v in values]
        return pa.table(
            {
                "user": pa.array(values, pa.string()),
                "user_pseudo": pa.array(pseudonyms, pa.string()),
            }
        )
