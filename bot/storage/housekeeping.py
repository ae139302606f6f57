"""Forgetting what is no longer needed, on a schedule, so tables do not grow without end.

Update ids are kept a week. With a retention period (``LDH_RETENTION_DAYS``), delivered and
cancelled outbox rows older than it are deleted, and so is everything about a patient idle
for longer: their record, history and outbox rows, the clinic's notifications about them
included (as a /forget would).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.storage.base import StorageError, Store

log = logging.getLogger(__name__)

# Telegram keeps an undelivered update for 24 hours; a week of recorded ids covers any repeat.
KEEP_UPDATE_IDS = timedelta(days=7)
EVERY = timedelta(hours=1)
# Idle patients forgotten per round trip; each is one short transaction of its own.
IDLE_BATCH = 100


@dataclass(frozen=True)
class Pruned:
    """How much one round deleted."""

    update_ids: int = 0
    outbox_rows: int = 0
    patients: int = 0


async def prune_once(store: Store, now: datetime, retention: timedelta | None = None) -> Pruned:
    """Forget old update ids and, with a retention period, old deliveries and idle patients."""
    update_ids = await store.prune_updates(now - KEEP_UPDATE_IDS)
    if retention is None:
        return Pruned(update_ids)
    cutoff = now - retention
    outbox_rows = await store.prune_history(cutoff)
    patients = await forget_idle(store, now, cutoff)
    return Pruned(update_ids, outbox_rows, patients)


async def forget_idle(store: Store, now: datetime, cutoff: datetime) -> int:
    """Delete everything about patients idle since ``cutoff``; return how many were forgotten."""
    forgotten = 0
    skipped: set[int] = set()
    while chats := [c for c in await store.idle_chats(cutoff, IDLE_BATCH) if c not in skipped]:
        for chat_id in chats:
            if await _forget_if_still_idle(store, chat_id, now, cutoff):
                forgotten += 1
            else:
                skipped.add(chat_id)
    return forgotten


async def _forget_if_still_idle(
    store: Store, chat_id: int, now: datetime, cutoff: datetime
) -> bool:
    async with store.transaction(chat_id, now) as tx:
        # Checked again under the chat's lock: the patient may have written meanwhile.
        # (Another process's housekeeping may have forgotten them first.)
        patient = await tx.load()
        if patient is None or patient.updated_at is None or patient.updated_at >= cutoff:
            return False
        if await tx.pending() or any(event.at >= cutoff for event in await tx.events()):
            return False
        await tx.forget()
    return True


async def prune_forever(
    store: Store, clock: Clock, retention: timedelta | None = None
) -> None:
    """Prune every hour until cancelled; a failed round is logged and tried again next time."""
    while True:
        try:
            pruned = await prune_once(store, clock(), retention)
        except StorageError as error:
            log.warning("housekeeping failed (%s); trying again later", error)
        else:
            if pruned.update_ids:
                log.info("forgot %d old update ids", pruned.update_ids)
            if pruned.outbox_rows or pruned.patients:
                log.info("retention: deleted %d delivered outbox rows and %d idle patients",
                         pruned.outbox_rows, pruned.patients)
        await asyncio.sleep(EVERY.total_seconds())
