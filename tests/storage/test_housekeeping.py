"""Old update ids are forgotten on a schedule; recent ones still stop a repeat."""

from __future__ import annotations

from datetime import timedelta

from support.storage_backends import T0

from bot.storage import Store
from bot.storage.housekeeping import KEEP_UPDATE_IDS, prune_once


async def test_update_ids_older_than_a_week_are_forgotten_recent_ones_kept(store: Store) -> None:
    async with store.transaction(1, T0) as tx:
        assert await tx.first_time(100)
    async with store.transaction(1, T0 + timedelta(days=6)) as tx:
        assert await tx.first_time(101)

    pruned = await prune_once(store, T0 + KEEP_UPDATE_IDS + timedelta(minutes=1))
    assert pruned.update_ids == 1

    async with store.transaction(1, T0 + timedelta(days=8)) as tx:
        assert not await tx.first_time(101)  # still remembered: a repeat changes nothing
        assert await tx.first_time(100)  # forgotten after a week, as intended
