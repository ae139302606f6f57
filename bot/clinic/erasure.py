"""The clinic erases a patient on request (``ldh-bot forget CHAT_ID``), as /forget would."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.storage import Store, open_store
from bot.storage.base import Forgotten


async def erase(store: Store, chat_id: int, now: datetime) -> Forgotten:
    """Delete everything kept about ``chat_id`` in one transaction; say what was deleted."""
    async with store.transaction(chat_id, now) as tx:
        return await tx.forget()


async def erase_in(database_url: str, chat_id: int) -> Forgotten:
    """Open the bot's database, erase the chat, and close it again.

    A database that is missing or not the bot's is refused (StorageError): an erasure run in
    the wrong folder must neither create one nor touch another program's file.
    """
    store = open_store(database_url, create=False)
    await store.open()
    try:
        return await erase(store, chat_id, datetime.now(UTC))
    finally:
        await store.close()


def report(chat_id: int, forgotten: Forgotten) -> str:
    """What the operator is told: every kind of record deleted, or that there was none."""
    if not forgotten.anything:
        return f"nothing is kept about chat {chat_id}: no patient record, history or messages"
    parts = [
        "the patient record" if forgotten.patient else "no patient record",
        _count(forgotten.events, "history event"),
        _count(forgotten.outbox, "message to them (pending or sent)", "messages to them"),
        _count(forgotten.notifications, "clinic notification about them",
               "clinic notifications about them"),
    ]
    return f"deleted everything kept about chat {chat_id}: {', '.join(parts)}"


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"
