"""Signed session cookies: who logged in, when, and with which password.

Why our own HMAC rather than a session library: the cookie carries three fields and must only be
unforgeable and expire; `hmac` does that without a dependency. The server key is derived from
the installation's pseudonymisation secret (so sessions survive a restart and every worker agrees)
or, without one, drawn at random for the process. The cookie also holds a short HMAC of the
user's password hash: changing a password (or removing the account) ends its sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

__all__ = ["SessionSigner", "SessionToken"]


@dataclass(frozen=True)
class SessionToken:
    """The content of a valid session cookie."""

    user: str
    password_tag: str
    issued: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and checks `payload.signature` cookies valid for `max_age` seconds."""

    def __init__(self, key: bytes, *, max_age: int = 12 * 3600) -> None:
        self._key = hashlib.sha256(b"vigie-web-session\0" + key).digest()
        self.max_age = max_age

    def password_tag(self, password_hash: str | None) -> str:
        """A short keyed digest of the stored hash (never the hash itself)."""
        digest = hmac.new(self._key, (password_hash or "").encode(), hashlib.sha256).digest()
        return _b64(digest[:12])

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, user: str, password_hash: str | None, *, now: float | None = None) -> str:
        """A cookie value for `user`."""
        body = {"u": user, "p": self.password_tag(password_hash),
                "t": int(now if now is not None else time.time())}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def read(self, cookie: str | None, *, now: float | None = None) -> SessionToken | None:
        """The token of a genuine, unexpired cookie, else None."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            token = SessionToken(str(body["u"]), str(body["p"]), int(body["t"]))
        except (ValueError, KeyError, TypeError):
            return None
        current = now if now is not None else time.time()
        if not 0 <= current - token.issued <= self.max_age:
            return None
        return token
