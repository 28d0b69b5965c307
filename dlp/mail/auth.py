"""SMTP AUTH for submitters: an htpasswd file of ``user:bcrypt-hash`` lines.

aiosmtpd's own PLAIN and LOGIN call a synchronous authenticator, and a bcrypt check takes
tens to hundreds of milliseconds: run in the event loop it would stall every HTTP flow of
the proxy. So the two mechanisms are implemented here as handler methods (aiosmtpd's
documented extension point) and the hash is checked in a thread.
"""

from __future__ import annotations

import asyncio
import binascii
from base64 import b64decode
from pathlib import Path

import bcrypt
from aiosmtpd.smtp import MISSING, SMTP, AuthResult

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_DUMMY_HASH = bcrypt.hashpw(b"sekimori", bcrypt.gensalt(4))


class AuthConfigError(Exception):
    """The htpasswd file cannot be used."""


class Htpasswd:
    """Users and bcrypt hashes loaded once at start."""

    def __init__(self, users: dict[str, bytes]):
        self.users = users

    @classmethod
    def load(cls, path: str) -> Htpasswd:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
            raise AuthConfigError(f"smtp.auth.htpasswd {path}: cannot read ({reason})") from None
        users: dict[str, bytes] = {}
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user or not hashed.startswith(BCRYPT_PREFIXES):
                raise AuthConfigError(f"smtp.auth.htpasswd {path}:{n}: expected user:bcrypt-hash "
                                      "(htpasswd -B)")
            users[user] = hashed.encode("ascii")
        return cls(users)

    async def verify(self, login: bytes, password: bytes) -> str | None:
        """The user name if ``password`` is right, else None (same work for unknown users)."""
        try:
            user = login.decode("utf-8")
        except UnicodeDecodeError:
            user = ""
        hashed = self.users.get(user)
        ok = await asyncio.to_thread(_check, password, hashed or _DUMMY_HASH)
        return user if ok and hashed is not None else None


def _check(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # malformed hash
        return False


async def _decode(server: SMTP, blob: str) -> bytes | None:
    try:
        return b64decode(blob.encode(), validate=True)
    except (binascii.Error, ValueError):
        await server.push("501 5.5.2 Can't decode base64")
        return None


async def _first(server: SMTP, args: list[str], challenge: str) -> bytes | None:
    """The client's first value: the initial response on the AUTH line, or its answer to
    ``challenge``; None when it gave none or sent bad base64 (already answered)."""
    if len(args) == 1:
        blob = await server.challenge_auth(challenge)
        return None if blob is MISSING else blob
    return await _decode(server, args[1])


class AuthMechanisms:
    """Mixin for the aiosmtpd handler: ``auth_PLAIN`` and ``auth_LOGIN`` with an async check.

    The results follow aiosmtpd's contract: success carries the user name as ``auth_data``
    (it becomes ``session.auth_data``), ``handled=True`` means the reply was sent here.
    """

    htpasswd: Htpasswd | None

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        blob = await _first(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        assert isinstance(blob, bytes)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return await self._verify(parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        login = await _first(server, args, SMTP.AuthLoginUsernameChallenge)
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(SMTP.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        assert isinstance(login, bytes) and isinstance(password, bytes)
        return await self._verify(login, password)

    async def _verify(self, login: bytes, password: bytes) -> AuthResult:
        if self.htpasswd is None:
            return AuthResult(success=False, handled=False)
        user = await self.htpasswd.verify(login, password)
        if user is None:
            return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8
        return AuthResult(success=True, auth_data=user)
