"""The web adapter's conversation tokens, as SHA-256 hashes (``api.tokens.TokenStore``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import writer
from storage.tables import ConversationToken


class SqlTokenStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    async def add(
        self, token_sha256: str, conversation_id: UUID, created_at: datetime, expires_at: datetime
    ) -> None:
        async with self._writer.begin() as conn:
            await conn.execute(
                insert(ConversationToken).values(
                    token_sha256=token_sha256,
                    conversation_id=conversation_id,
                    created_at=created_at,
                    expires_at=expires_at,
                )
            )

    async def find(self, token_sha256: str) -> tuple[UUID, datetime] | None:
        query = select(ConversationToken.conversation_id, ConversationToken.expires_at).where(
            ConversationToken.token_sha256 == token_sha256
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (row.conversation_id, row.expires_at)
