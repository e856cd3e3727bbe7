"""OIDC bearer tokens: `Authorization: Bearer <JWT>` checked against a tenant's JWKS.

A tenant that accepts tokens has an `OidcConfig` in the registry: the issuer (`iss`), the
audience (`aud`, usually the LRS's client id at the identity provider), where its public keys
are (a JWKS URL fetched over https and cached, or a local file for offline installations),
the claim carrying the scopes (default `scope`, space-separated as in OAuth 2 and Ralph) and
the claim naming the user (default `sub`). The pair (issuer, audience) names the tenant, so a
token for one tenant is never accepted by another.

A token is accepted when it is a compact JWS signed with RS256, RS384, RS512 or ES256 by a key
of the JWKS (found by `kid`; an unknown `kid` refreshes the cached JWKS once, at most every
`min_refresh` seconds, so a key rotation is picked up without letting forged kids make the LRS
hammer the identity provider), its `iss` and `aud` match, `exp` is present and not passed and
`nbf`, if present, is reached (both with `leeway` seconds of clock skew). `alg: none`, HMAC
algorithms (whose "key" would be public) and `crit` headers are refused. The credential it
gives has the token's scopes that are also in the tenant's allowed list, and the authority
`{"objectType": "Agent", "account": {"homePage": issuer, "name": <user claim>}}`.

Why no JWT library: as in `vigie.lrs.signatures`, the compact serialization is three base64url
segments and `cryptography` does the real work (RSA PKCS#1 v1.5, ECDSA P-256).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from vigie.lrs.errors import LrsError
from vigie.lrs.tenants import SCOPES, Credential, OidcConfig, TenantRegistry

__all__ = [
    "ALGORITHMS",
    "InvalidToken",
    "JwksCache",
    "JwksUnavailable",
    "OidcVerifier",
    "TokenCredential",
    "parse_jwks",
]

log = logging.getLogger(__name__)

ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
    "ES256": hashes.SHA256,
}
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_MAX_TOKEN = 16_384
_MIN_RSA_BITS = 2048

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class InvalidToken(Exception):
    """A bearer token that is refused; the message says why (answered 401)."""

    @property
    def challenge(self) -> str:
        """The `WWW-Authenticate` value (RFC 6750 3): error_description kept to its charset."""
        text = "".join(
            c if " " <= c <= "~" and c not in '"\\' else "?" for c in str(self)
        )[:300]
        return f'Bearer realm="vigie LRS", error="invalid_token", error_description="{text}"'


class JwksUnavailable(LrsError):
    """The issuer's keys could not be obtained: the LRS's problem, not the token's (503)."""

    status = 503


@dataclass(frozen=True)
class TokenCredential(Credential):
    """The credential of a verified bearer token; its authority is the token's user."""

    issuer: str = ""
    subject: str = ""

    @property
    def authority(self) -> dict[str, Any]:
        return {"objectType": "Agent", "account": {"homePage": self.issuer, "name": self.subject}}


@dataclass(frozen=True)
class Jwk:
    """One usable public key of a JWKS."""

    kid: str | None
    alg: str | None
    key: PublicKey

    def fits(self, alg: str) -> bool:
        if self.alg is not None and self.alg != alg:
            return False
        if alg.startswith("RS"):
            return isinstance(self.key, rsa.RSAPublicKey)
        return isinstance(self.key, ec.EllipticCurvePublicKey) and isinstance(
            self.key.curve, ec.SECP256R1
        )


def _b64url(segment: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64_int(value: Any) -> int:
    if not isinstance(value, str) or not value:
        raise ValueError("missing")
    return int.from_bytes(_b64url(value), "big")


def _jwk(entry: Any) -> Jwk | None:
    """The key of one JWKS entry, or None when it is not a signature key this LRS uses."""
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    kid = entry.get("kid")
    alg = entry.get("alg")
    kid = kid if isinstance(kid, str) else None
    alg = alg if isinstance(alg, str) else None
    try:
        if entry.get("kty") == "RSA":
            key: PublicKey = rsa.RSAPublicNumbers(
                _b64_int(entry.get("e")), _b64_int(entry.get("n"))
            ).public_key()
            if key.key_size < _MIN_RSA_BITS:
                log.warning("JWKS key %s ignored: RSA keys under %d bits", kid, _MIN_RSA_BITS)
                return None
        elif entry.get("kty") == "EC" and entry.get("crv") == "P-256":
            key = ec.EllipticCurvePublicNumbers(
                _b64_int(entry.get("x")), _b64_int(entry.get("y")), ec.SECP256R1()
            ).public_key()
        else:
            return None
    except (ValueError, binascii.Error) as exc:
        log.warning("JWKS key %s ignored: %s", kid, exc)
        return None
    return Jwk(kid, alg, key)


def parse_jwks(data: bytes | str) -> list[Jwk]:
    """The RSA and P-256 signature keys of a JWKS document (`{"keys": [...]}`); other keys
    (encryption, HMAC, other curves) are skipped. ValueError when it is not a JWKS."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise ValueError("not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('not a JWKS: expected an object with a "keys" array')
    return [jwk for jwk in map(_jwk, document["keys"]) if jwk is not None]


@dataclass
class _Entry:
    keys: list[Jwk]
    fetched: float
    stamp: tuple[int, int, int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class JwksCache:
    """JWKS by source (URL or file path), shared between tenants and threads.

    A URL is fetched again after `ttl` seconds, or on an unknown kid when the last fetch is
    older than `min_refresh`; when a refetch fails, the keys already known are kept and the
    fetch is retried after `min_refresh`. A file is read again whenever it changes.
    """

    def __init__(
        self, *, ttl: float = 300.0, min_refresh: float = 30.0, timeout: float = 5.0,
        max_bytes: int = 1 << 20, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.min_refresh = min_refresh
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def keys(self, config: OidcConfig, *, refresh: bool = False) -> list[Jwk]:
        """The keys of `config`'s JWKS; `refresh` asks for a fresh copy (unknown kid)."""
        if config.jwks_file is not None:
            return self._file_keys(config.jwks_file)
        assert config.jwks_url is not None
        return self._url_keys(config.jwks_url, refresh)

    def _entry(self, source: str) -> _Entry | None:
        with self._lock:
            return self._entries.get(source)

    def _store(self, source: str, entry: _Entry) -> None:
        with self._lock:
            self._entries[source] = entry

    def _file_keys(self, path: str) -> list[Jwk]:
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise JwksUnavailable(f"the JWKS file {path} cannot be read ({exc.strerror})") from None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        entry = self._entry(path)
        if entry is not None and entry.stamp == stamp:
            return entry.keys
        try:
            with open(path, "rb") as handle:
                keys = parse_jwks(handle.read(self.max_bytes + 1)[: self.max_bytes])
        except OSError as exc:
            raise JwksUnavailable(f"the JWKS file {path} cannot be read ({exc.strerror})") from None
        except ValueError as exc:
            raise JwksUnavailable(f"the JWKS file {path} is invalid: {exc}") from None
        self._store(path, _Entry(keys, self.clock(), stamp))
        return keys

    def _url_keys(self, url: str, refresh: bool) -> list[Jwk]:
        entry = self._entry(url)
        if entry is not None and not self._due(entry, refresh):
            return entry.keys
        with self._lock:
            entry = self._entries.setdefault(url, _Entry([], float("-inf")))
        with entry.lock:  # one fetch per source at a time; the others wait for its result
            if not self._due(entry, refresh):
                return entry.keys
            try:
                keys = self._fetch(url)
            except ValueError as exc:
                if entry.fetched == float("-inf"):
                    raise JwksUnavailable(
                        f"the issuer's keys could not be fetched: {exc}"
                    ) from None
                log.warning("JWKS %s: %s; keeping the keys fetched before", url, exc)
                entry.fetched = self.clock() - self.ttl + self.min_refresh
                return entry.keys
            entry.keys = keys
            entry.fetched = self.clock()
            return keys

    def _due(self, entry: _Entry, refresh: bool) -> bool:
        age = self.clock() - entry.fetched
        return age >= self.ttl or (refresh and age >= self.min_refresh)

    def _fetch(self, url: str) -> list[Jwk]:
        import httpx

        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client, \
                    client.stream("GET", url, headers={"Accept": "application/json"}) as answer:
                if answer.status_code != 200:
                    raise ValueError(f"{url} answered {answer.status_code}")
                body = b""
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise ValueError(f"{url} sent more than {self.max_bytes} bytes")
        except httpx.HTTPError as exc:
            raise ValueError(f"{url}: {exc.__class__.__name__} {exc}") from None
        return parse_jwks(body)


class OidcVerifier:
    """Turns a bearer token into a `TokenCredential`, or raises `InvalidToken`."""

    def __init__(
        self, registry: TenantRegistry, jwks: JwksCache | None = None, *, leeway: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.jwks = jwks or JwksCache()
        self.leeway = leeway
        self.clock = clock

    def authenticate(self, token: str) -> TokenCredential:
        token = token.strip()
        if len(token) > _MAX_TOKEN or not _TOKEN.match(token):
            raise InvalidToken("the token is not a compact JWS (header.payload.signature)")
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = _segment(header_b64, "header")
        claims = _segment(payload_b64, "payload")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise InvalidToken("unsigned tokens (alg none) are refused")
        if alg not in ALGORITHMS:
            raise InvalidToken(f"alg {alg[:20]} is refused; use RS256, RS384, RS512 or ES256")
        if "crit" in header:
            raise InvalidToken("the token has critical header parameters this LRS ignores")
        config = self._config(claims)
        try:
            signature = _b64url(signature_b64)
        except (ValueError, binascii.Error):
            raise InvalidToken("the token's signature is not base64url") from None
        signed = f"{header_b64}.{payload_b64}".encode("ascii")
        self._verify(config, header, alg, signed, signature)
        self._check_times(claims)
        return self._credential(config, claims)

    def _config(self, claims: dict[str, Any]) -> OidcConfig:
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise InvalidToken("the token has no iss (issuer) claim")
        configs = self.registry.oidc_for_issuer(issuer)
        if not configs:
            raise InvalidToken(f"wrong issuer: tokens of {issuer[:100]} are not accepted here")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise InvalidToken("the token has no aud (audience) claim")
        matching = [config for config in configs if config.audience in audiences]
        if not matching:
            shown = ", ".join(a[:60] for a in audiences[:3])
            raise InvalidToken(f"wrong audience: the token is for {shown}, not for this LRS")
        if len(matching) > 1:
            raise InvalidToken("the token's audiences name several tenants; ask for one")
        return matching[0]

    def _verify(
        self, config: OidcConfig, header: dict[str, Any], alg: str, signed: bytes,
        signature: bytes,
    ) -> None:
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's kid must be a string")
        candidates = _candidates(self.jwks.keys(config), kid, alg)
        if not candidates and kid is not None:
            candidates = _candidates(self.jwks.keys(config, refresh=True), kid, alg)
        if not candidates:
            if kid is not None:
                raise InvalidToken(f"unknown kid {kid[:60]}: no such {alg} key in the JWKS")
            raise InvalidToken(f"no {alg} key in the issuer's JWKS")
        if not any(_valid(jwk.key, alg, signed, signature) for jwk in candidates):
            raise InvalidToken("bad signature")

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self.clock()
        expires = claims.get("exp")
        if not _number(expires):
            raise InvalidToken("the token has no exp (expiry) claim")
        if now > expires + self.leeway:
            raise InvalidToken("the token has expired")
        not_before = claims.get("nbf")
        if not_before is not None:
            if not _number(not_before):
                raise InvalidToken("the token's nbf claim is not a number")
            if now + self.leeway < not_before:
                raise InvalidToken("the token is not valid yet (nbf)")

    def _credential(self, config: OidcConfig, claims: dict[str, Any]) -> TokenCredential:
        user = claims.get(config.user_claim)
        if not isinstance(user, str) or not user:
            raise InvalidToken(f"the token has no {config.user_claim[:40]} claim naming the user")
        granted = claims.get(config.scope_claim, "")
        if isinstance(granted, str):
            names = set(granted.split())
        elif isinstance(granted, list) and all(isinstance(g, str) for g in granted):
            names = set(granted)
        else:
            raise InvalidToken(f"the {config.scope_claim[:40]} claim must be a string or a list")
        scopes = tuple(s for s in SCOPES if s in names and s in config.scopes)
        return TokenCredential(
            key=user, tenant=config.tenant, label=user, scopes=scopes, secret_hash="",
            home_page=config.issuer, issuer=config.issuer, subject=user,
        )


def _segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url(segment))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidToken(f"the token's {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"the token's {what} is not a JSON object")
    return value


def _candidates(keys: list[Jwk], kid: str | None, alg: str) -> list[Jwk]:
    return [jwk for jwk in keys if (kid is None or jwk.kid == kid) and jwk.fits(alg)]


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _valid(key: PublicKey, alg: str, signed: bytes, signature: bytes) -> bool:
    digest = ALGORITHMS[alg]()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), digest)
        else:
            if len(signature) != 64:  # JWS ES256: r and s, 32 bytes each (RFC 7518 3.4)
                return False
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True
