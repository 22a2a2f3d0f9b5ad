"""API tokens: created once by ``autotune token create``, kept only as salted scrypt hashes.

A token reads ``autotune.<public id>.<secret>``: the public id finds its row, the secret is
checked against the row's salted hash in constant time. Scopes: ``read`` for the read endpoints,
``submit`` for those and for queueing and cancelling. While the database holds no token the
server is open, and it only listens on loopback then; once one exists, every request but
``/healthz`` and the API's documents needs a token.

A token checked once is remembered in memory by its SHA-256 for a minute, so that a client
polling several times a second does not pay scrypt each time; the secret itself is never
logged, never stored and never part of a message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Literal

from autotune.errors import InputError, choice_error
from autotune.service._errors import Forbidden, Unauthorized
from storage import ServiceStore, StoredToken

Scope = Literal["read", "submit"]
SCOPES: tuple[Scope, ...] = ("read", "submit")
_PREFIX = "autotune"
# scrypt's interactive-login parameters (16 MiB, tens of milliseconds): the secrets are random,
# so this only has to make a stolen database's hashes useless, which any salted hash does.
_N, _R, _P = 2**14, 8, 1
_REMEMBER_S = 60.0
_RECHECK_EMPTY_S = 1.0


def _digest(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32).hex()


def create_token(store: ServiceStore, scope: str, name: str | None = None) -> str:
    """A new token of ``scope``; only its salted hash is stored. Returned once, never again."""
    if scope not in SCOPES:
        raise choice_error("token scope", scope, SCOPES)
    if name is not None and not 0 < len(name) <= 255:
        raise InputError("--name must be 1 to 255 characters")
    public_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    store.add_token(
        StoredToken(
            public_id, name or f"token-{public_id}", scope, salt.hex(), _digest(secret, salt)
        )
    )
    return f"{_PREFIX}.{public_id}.{secret}"


@dataclass(frozen=True)
class Caller:
    """Who made a request: a token's name and scope, or ``local`` on an open server."""

    name: str
    scope: Scope


_OPEN = Caller("local", "submit")
_DUMMY_SALT = bytes(16)


class Gate:
    """Checks a request's ``Authorization: Bearer`` header against the stored tokens."""

    def __init__(self, store: ServiceStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Caller, float]] = {}  # SHA-256 of a token -> caller, until
        self._required = False
        self._checked_at = -_RECHECK_EMPTY_S

    def required(self) -> bool:
        """Whether tokens are required: once a token exists (none is ever deleted), for good."""
        now = time.monotonic()
        if not self._required and now - self._checked_at >= _RECHECK_EMPTY_S:
            self._required = self.store.has_tokens()
            self._checked_at = now
        return self._required

    def quick(self, authorization: str | None, needed: Scope) -> Caller | None:
        """``caller`` when it needs no database and no hashing (the usual case: tokens not
        required, or a token checked a moment ago), else ``None``."""
        now = time.monotonic()
        if not self._required:
            return _OPEN if now - self._checked_at < _RECHECK_EMPTY_S else None
        _, _, token = (authorization or "").partition(" ")
        with self._lock:
            known = self._known.get(hashlib.sha256(token.strip().encode()).hexdigest())
        if known is None or known[1] <= now or not authorization:
            return None
        return self.caller(authorization, needed)  # known: answered without I/O

    def caller(self, authorization: str | None, needed: Scope) -> Caller:
        """The caller allowed ``needed``; ``Unauthorized`` (401) or ``Forbidden`` (403)."""
        if not self.required():
            return _OPEN
        if not authorization:
            raise Unauthorized("this server needs a token: send 'Authorization: Bearer <token>'")
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must read 'Bearer <token>'")
        caller = self._verify(token.strip())
        if needed == "submit" and caller.scope != "submit":
            raise Forbidden(
                f"token {caller.name!r} has scope {caller.scope!r}; this needs 'submit'"
            )
        return caller

    def _verify(self, token: str) -> Caller:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            known = self._known.get(key)
        if known is not None and known[1] > now:
            return known[0]
        prefix, _, rest = token.partition(".")
        public_id, _, secret = rest.partition(".")
        stored = self.store.token(public_id) if prefix == _PREFIX and secret else None
        # The hash is computed whether or not the id exists: timing tells nothing either way.
        salt = bytes.fromhex(stored.salt) if stored else _DUMMY_SALT
        computed = _digest(secret, salt)
        if stored is None or not hmac.compare_digest(computed, stored.digest):
            raise Unauthorized("unknown or invalid token")
        caller = Caller(stored.name, "submit" if stored.scope == "submit" else "read")
        with self._lock:
            self._known[key] = (caller, now + _REMEMBER_S)
        return caller


__all__ = ["SCOPES", "Caller", "Gate", "Scope", "create_token"]
