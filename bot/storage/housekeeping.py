"""Forgetting what is no longer needed, on a schedule, so tables do not grow without end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.storage.base import StorageError, Store

log = logging.getLogger(__name__)

# Telegram keeps an undelivered update for 24 hours; a week of recorded ids covers any repeat.
KEEP_UPDATE_IDS = timedelta(days=7)
EVERY = timedelta(hours=1)


async def prune_once(store: Store, now: datetime) -> int:
    """Forget update ids older than ``KEEP_UPDATE_IDS``; return how many."""
    return await store.prune_updates(now - KEEP_UPDATE_IDS)


async def prune_forever(store: Store, clock: Callable[[], datetime]) -> None:
    """Prune every hour until cancelled; a failed round is logged and tried again next time."""
    while True:
        try:
            forgotten = await prune_once(store, clock())
        except StorageError as error:
            log.warning("pruning update ids failed (%s); trying again later", error)
        else:
            if forgotten:
                log.info("forgot %d old update ids", forgotten)
        await asyncio.sleep(EVERY.total_seconds())
