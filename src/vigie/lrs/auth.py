"""HTTP Basic authentication against the tenant registry, with a verified-secret cache, and
OIDC bearer tokens (`Authorization: Bearer <JWT>`, checked by `vigie.lrs.oidc`).

Why a cache: scrypt costs tens of milliseconds by design, and a Learning Record Provider
sends the same Basic credentials on every request; verifying each time would make hashing
the LRS's main cost. After one slow verification, the process remembers an HMAC (keyed by a
random per-process key) of the secret and of the stored hash; later requests compare HMACs.
Nothing reusable leaves the process.

Why a second, faster level (`recent`): even without scrypt, reading the credential's row
costs a database query, which the HTTP layer runs in a worker thread; for a single-statement
POST that hand-off is a large share of the request. When the registry can tell cheaply that
nothing changed (`TenantRegistry.version`: SQLite's change counter, which counts the CLI's
writes too), a header verified since the last change is answered from memory, in the event
loop. Any write to the registry (a revocation, a new credential, a removed tenant) changes
the version and sends every header back through the full check, so a revoked or rotated
credential fails at the next request. On PostgreSQL, which has no such counter, the row is
read on every request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading

from vigie.lrs.oidc import InvalidToken, JwksCache, OidcVerifier
from vigie.lrs.tenants import Credential, TenantRegistry, verify_secret

__all__ = ["BASIC_CHALLENGE", "Authenticator", "Unauthorized"]

BASIC_CHALLENGE = 'Basic realm="vigie LRS"'


class Unauthorized(Exception):
    """Missing or wrong credentials (answered 401 with `challenge` as `WWW-Authenticate`)."""

    def __init__(self, message: str, *, challenge: str = BASIC_CHALLENGE) -> None:
        super().__init__(message)
        self.challenge = challenge


class Authenticator:
    def __init__(
        self, registry: TenantRegistry, *, cache_size: int = 10_000,
        jwks: JwksCache | None = None,
    ) -> None:
        self.registry = registry
        self.oidc = OidcVerifier(registry, jwks)
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._recent: dict[bytes, tuple[Credential, int]] = {}
        self._lock = threading.Lock()
        self._cache_size = cache_size

    def _fingerprint(self, credential: Credential, secret: str) -> bytes:
        message = "\0".join((credential.key, credential.secret_hash, secret)).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _header_print(self, header: str) -> bytes:
        return hmac.new(self._key, header.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).digest()

    def recent(self, header: str | None) -> Credential | None:
        """The credential of a Basic `header` verified since the registry last changed, or
        None (then call `authenticate`). Reads no table: cheap enough for the event loop."""
        if not header or header[:6].lower() != "basic ":
            return None
        known = self._recent.get(self._header_print(header))
        if known is None:
            return None
        credential, version = known
        return credential if self.registry.version() == version else None

    def authenticate(self, header: str | None) -> Credential:
        """The credential of an `Authorization: Basic …` or `Bearer …` header, or
        `Unauthorized`."""
        if header and header[:7].lower() == "bearer ":
            try:
                return self.oidc.authenticate(header[7:])
            except InvalidToken as exc:
                raise Unauthorized(f"invalid bearer token: {exc}",
                                   challenge=exc.challenge) from None
        if not header or not header[:6].lower() == "basic ":
            raise Unauthorized(
                "send HTTP Basic credentials or a bearer token (Authorization: Basic … or Bearer …)"
            )
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, or a non-ASCII header
            raise Unauthorized("the Authorization header is not valid Basic credentials") from None
        key, sep, secret = decoded.partition(":")
        if not sep:
            raise Unauthorized("the Authorization header is not valid Basic credentials")
        version = self.registry.version()  # before the row: a change after it is seen later
        credential = self.registry.credential(key)
        if credential is None:
            raise Unauthorized("unknown or revoked credentials")
        fingerprint = self._fingerprint(credential, secret)
        known = self._verified.get(key)
        verified = known is not None and hmac.compare_digest(known, fingerprint)
        if not verified and not verify_secret(secret, credential.secret_hash):
            raise Unauthorized("unknown or revoked credentials")
        with self._lock:
            if len(self._verified) >= self._cache_size:
                self._verified.clear()
            self._verified[key] = fingerprint
            if version is not None:
                if len(self._recent) >= self._cache_size:
                    self._recent.clear()
                self._recent[self._header_print(header)] = (credential, version)
        return credential
