"""Per-chat asyncio locks that exist only while someone holds or waits for them."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class ChatLocks:
    """One lock per chat id, refcounted so the table holds only chats in use, not every chat."""

    def __init__(self) -> None:
        """Start with no locks."""
        self._entries: dict[int, _Entry] = {}

    def __len__(self) -> int:
        """Count the chats currently held or waited for."""
        return len(self._entries)

    @asynccontextmanager
    async def hold(self, chat_id: int) -> AsyncIterator[None]:
        """Hold the chat's lock for the body; waiters of other chats are not delayed."""
        entry = self._entries.get(chat_id)
        if entry is None:
            entry = self._entries[chat_id] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            # Also reached when a waiter is cancelled, so an abandoned wait cannot leak its entry.
            entry.users -= 1
            if entry.users == 0:
                del self._entries[chat_id]
