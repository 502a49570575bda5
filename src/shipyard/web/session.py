"""Signed session cookies and the CSRF tokens derived from them.

The cookie holds who is logged in (an opaque subject such as a token's id, never the
token), when the session ends and a random nonce, signed with HMAC-SHA256. Forms carry
HMAC(key, nonce) in a hidden field: a page of another site can neither read it nor,
with SameSite=Strict, make the browser send the cookie at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "shipyard_session"
# An admin's working day; after it the dashboard asks for the token again.
LIFETIME = 12 * 3600


@dataclass(frozen=True)
class WebSession:
    nonce: str
    subject: str
    expires: int

    @property
    def logged_in(self) -> bool:
        return bool(self.subject)


class SessionSigner:
    """Signs and checks session cookies with one server-side key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def derived(cls, secret: str, purpose: str) -> SessionSigner:
        """A signer whose key follows from ``secret``: replicas sharing it share sessions."""
        return cls(hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest())

    @classmethod
    def ephemeral(cls) -> SessionSigner:
        """A signer with a random key: sessions end when the process does."""
        return cls(secrets.token_bytes(32))

    def fresh(self, subject: str = "", now: float | None = None) -> WebSession:
        now = time.time() if now is None else now
        return WebSession(secrets.token_urlsafe(18), subject, int(now) + LIFETIME)

    def dump(self, session: WebSession) -> str:
        payload = _b64(f"{session.subject}|{session.expires}|{session.nonce}".encode())
        return f"{payload}.{self._mac('session', payload)}"

    def load(self, raw: str | None, now: float | None = None) -> WebSession | None:
        """The session in a cookie value, or None if it is missing, forged or expired."""
        if not raw or raw.count(".") != 1 or len(raw) > 512:
            return None
        payload, mac = raw.split(".")
        if not hmac.compare_digest(mac, self._mac("session", payload)):
            return None
        try:
            subject, expires, nonce = _unb64(payload).decode().split("|")
            session = WebSession(nonce, subject, int(expires))
        except ValueError:
            return None
        if session.expires <= (time.time() if now is None else now):
            return None
        return session

    def csrf(self, session: WebSession) -> str:
        return self._mac("csrf", session.nonce)

    def csrf_ok(self, session: WebSession | None, given: str) -> bool:
        return session is not None and hmac.compare_digest(
            given.encode(), self.csrf(session).encode()
        )

    def _mac(self, purpose: str, text: str) -> str:
        digest = hmac.new(self._key, f"{purpose}|{text}".encode(), hashlib.sha256).digest()
        return _b64(digest)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def current(request: Request, signer: SessionSigner) -> WebSession | None:
    return signer.load(request.cookies.get(COOKIE))


def keep(response: Response, signer: SessionSigner, session: WebSession) -> Response:
    """Set the session cookie: HttpOnly, Secure (browsers accept it on loopback HTTP), Strict."""
    response.set_cookie(
        COOKIE,
        signer.dump(session),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response
