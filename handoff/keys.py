"""Admin API keys: made once, shown once, kept only as a hash, compared in constant time.

A key reads ``qbk_<id>_<secret>``: ``id`` (12 hex characters) is public, shown by ``qualibot keys
list`` and used to find the key's row; ``secret`` is 256 random bits, of which only the SHA-256 is
stored. 256 random bits need no slow password hash: nobody can guess them, and the hash is only
there so that a copy of the database lets nobody in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from flows.ports import Clock
from handoff.errors import InvalidApiKey
from storage.endpoints import ApiKeyRecord, SqlApiKeys

KEY_PREFIX = "qbk_"
_KEY = re.compile(r"^qbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
MAX_NAME = 100
TOUCH_EVERY = timedelta(minutes=1)  # how often a key's last use is written


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(text: str) -> str:
    """The id of a key, given the key itself or just its id."""
    match = _KEY.match(text)
    return match.group(1) if match else text


class ApiKeys:
    def __init__(self, store: SqlApiKeys, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def create(self, name: str = "") -> tuple[ApiKeyRecord, str]:
        """A new key: its record and the key itself, which is never shown again."""
        name = " ".join(name.split())[:MAX_NAME]
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        record = await self._store.add(key_id, name, _digest(secret), self._clock.now())
        return record, f"{KEY_PREFIX}{key_id}_{secret}"

    async def list(self) -> list[ApiKeyRecord]:
        return await self._store.list()

    async def revoke(self, key_or_id: str) -> bool:
        """Revoke a key (by the key or its id); False when there is no such live key."""
        return await self._store.revoke(key_id_of(key_or_id.strip()), self._clock.now())

    async def verify(self, presented: str | None) -> ApiKeyRecord:
        """The live key ``presented`` is, or ``InvalidApiKey``."""
        match = _KEY.match(presented or "")
        if match is None:
            raise InvalidApiKey()
        key_id, secret = match.groups()
        record = await self._store.get(key_id)
        expected = record.secret_sha256 if record is not None else "0" * 64
        matches = hmac.compare_digest(expected, _digest(secret))
        if record is None or not matches or record.revoked_at is not None:
            raise InvalidApiKey()
        now = self._clock.now()
        if record.last_used_at is None or now - record.last_used_at >= TOUCH_EVERY:
            await self._store.touch(key_id, now)
        return record
