"""More chats at once than PostgreSQL's pool has connections: no update waits for a second one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from support.storage_backends import postgres_backend

from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.storage.postgres import PostgresStore

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CLINIC = -500


def keys(reply: Reply) -> list[str]:
    return [part.key for message in reply.turn.messages for part in message.parts]


async def test_more_chats_than_pooled_connections_all_get_their_reminders(
    content: Content,
) -> None:
    async with postgres_backend() as backend:
        store = await backend.open()
        assert isinstance(store, PostgresStore)
        chats = range(1, 3 * store.pool_size + 1)
        conversations = Conversations(content, store, clock=lambda: NOW, clinic_chat_id=CLINIC)
        for chat in chats:
            await conversations.handle(Action(chat, command="start"))

        replies = await asyncio.gather(
            *(conversations.respond(Action(chat, command="reminders")) for chat in chats)
        )

        assert [keys(reply)[0] for reply in replies] == ["reminders.none"] * len(chats)
