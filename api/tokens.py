"""Conversation tokens: what lets a browser continue its own conversation and nobody else's.

A token is 192 random bits (``secrets.token_urlsafe(24)``, 32 characters), handed out once when
the conversation starts and bound to that one conversation until it expires
(``QUALIBOT_TOKEN_TTL``). The database keeps only its SHA-256, so a copy of the database opens no
conversation. Tokens are not secrets of the core: this boundary belongs to the web adapter, and
``storage.tokens`` implements it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from api.errors import Unauthorized
from flows.ports import Clock

TOKEN_BYTES = 24
# Verified tokens remembered per process, so a turn does not read the token table again.
CACHE_SIZE = 50_000


class TokenStore(Protocol):
    async def add(
        self, token_sha256: str, conversation_id: UUID, created_at: datetime, expires_at: datetime
    ) -> None:
        """Keep a new token's hash for its conversation."""
        ...

    async def find(self, token_sha256: str) -> tuple[UUID, datetime] | None:
        """The conversation and expiry of a token hash, if it was ever issued."""
        ...


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        return None
    return token


class ConversationTokens:
    def __init__(self, store: TokenStore, clock: Clock, ttl: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._known: OrderedDict[str, tuple[UUID, datetime]] = OrderedDict()

    async def issue(self, conversation_id: UUID) -> IssuedToken:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock.now()
        expires_at = now + self._ttl
        digest = token_sha256(token)
        await self._store.add(digest, conversation_id, now, expires_at)
        self._remember(digest, conversation_id, expires_at)
        return IssuedToken(token, expires_at)

    async def check(self, authorization: str | None, conversation_id: UUID) -> None:
        """Raise ``Unauthorized`` unless the header carries a live token of this conversation."""
        token = bearer_token(authorization)
        if token is None:
            raise Unauthorized()
        digest = token_sha256(token)
        known = self._known.get(digest)
        if known is None:
            known = await self._store.find(digest)
            if known is None:
                raise Unauthorized("this conversation token is not known")
            self._remember(digest, *known)
        owner, expires_at = known
        if not hmac.compare_digest(owner.bytes, conversation_id.bytes):
            raise Unauthorized("this token belongs to another conversation")
        if expires_at <= self._clock.now():
            raise Unauthorized("this conversation token has expired; start a new conversation")

    def _remember(self, digest: str, conversation_id: UUID, expires_at: datetime) -> None:
        self._known[digest] = (conversation_id, expires_at)
        if len(self._known) > CACHE_SIZE:
            self._known.popitem(last=False)
