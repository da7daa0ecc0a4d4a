"""The web adapter's conversation tokens, as SHA-256 hashes (``api.tokens.TokenStore``).

A new token is written by the conversations' group-commit writer (``storage.writer``), in a batch
with the turns of the moment: on SQLite a second writer would wait on the turns for the database's
one write lock, and they on it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.batch import TokenGrant
from storage.tables import ConversationToken
from storage.writer import GroupCommitWriter


class SqlTokenStore:
    def __init__(self, engine: AsyncEngine, writer: GroupCommitWriter) -> None:
        self._engine = engine
        self._writer = writer

    async def add(
        self, token_sha256: str, conversation_id: UUID, created_at: datetime, expires_at: datetime
    ) -> None:
        await self._writer.grant(TokenGrant(token_sha256, conversation_id, created_at, expires_at))

    async def find(self, token_sha256: str) -> tuple[UUID, datetime] | None:
        query = select(ConversationToken.conversation_id, ConversationToken.expires_at).where(
            ConversationToken.token_sha256 == token_sha256
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (row.conversation_id, row.expires_at)
