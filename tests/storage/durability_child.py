"""Commit one transaction after another, printing each number once its commit has returned."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot.storage import Patient, open_store

CHATS = 7


async def main(url: str, limit: int) -> None:
    store = open_store(url)
    await store.open()
    now = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(limit):
        chat = n % CHATS
        async with store.transaction(chat, now) as tx:
            await tx.first_time(n)
            await tx.save(Patient(chat, "en", {"last": n}))
            await tx.enqueue("checkin", chat, {"n": n}, now, dedupe_key=f"n{n}")
            await tx.record_event("tick", {"n": n})
        print(n, flush=True)  # noqa: T201 -- the acknowledgement the parent test reads


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
