"""Old update ids are forgotten on a schedule; recent ones still stop a repeat."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from support.storage_backends import T0, Backend

from bot.storage import Patient, Store
from bot.storage.housekeeping import KEEP_UPDATE_IDS, Pruned, forget_idle, prune_once


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


RETENTION = timedelta(days=30)
CLINIC = -500


async def update(store: Store, chat: int, at: datetime, *, due: datetime | None = None) -> None:
    """A patient's update at ``at``: saved, with a clinic notification and maybe a reminder."""
    async with store.transaction(chat, at) as tx:
        await tx.save(Patient(chat, "en", {"chat": chat}))
        await tx.record_event("answer", {"chat": chat})
        await tx.enqueue("clinic_notification", CLINIC, {"chat": chat}, at)
        if due is not None:
            await tx.enqueue("checkin", chat, {"chat": chat}, due)


async def test_retention_forgets_idle_patients_and_old_deliveries(
    store: Store, backend: Backend
) -> None:
    later = T0 + RETENTION + timedelta(days=1)
    await update(store, 1, T0)  # idle since: forgotten
    await update(store, 2, T0, due=later + timedelta(days=14))  # a check-in still to come
    await update(store, 3, T0 + timedelta(days=5))  # active within the period
    await update(store, 4, T0)
    async with store.transaction(4, T0 + timedelta(days=20)) as tx:  # the clinic booked a visit
        await tx.record_event("appointment", {"by": "staff"})
    for item in await store.claim_due(T0 + timedelta(days=5), 10, timedelta(minutes=1)):
        await store.mark_sent(item.id, item.due_at)

    pruned = await prune_once(store, later, RETENTION)

    assert pruned == Pruned(update_ids=0, outbox_rows=3, patients=1)
    assert [p.chat_id for p in await store.patients(10, 0)] == [2, 3, 4]
    assert await store.events(1) == []
    # Kept: patient 2's pending check-in, and the clinic notification about patient 3, sent
    # within the period; gone: the three delivered before it.
    assert sorted(await backend.sql("SELECT chat_id, about FROM outbox")) == [
        (CLINIC, 3), (2, 2)]


async def test_without_retention_only_update_ids_are_pruned(store: Store) -> None:
    await update(store, 1, T0)
    for item in await store.claim_due(T0, 10, timedelta(minutes=1)):
        await store.mark_sent(item.id, T0)

    pruned = await prune_once(store, T0 + timedelta(days=3650))

    assert pruned == Pruned()
    assert [p.chat_id for p in await store.patients(10, 0)] == [1]


async def test_a_patient_who_writes_during_the_round_is_kept(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await update(store, 1, T0)
    [item] = await store.claim_due(T0, 10, timedelta(minutes=1))
    await store.mark_sent(item.id, T0)
    later = T0 + RETENTION + timedelta(days=1)
    found = await store.idle_chats(later - RETENTION, 10)
    assert found == [1]
    await update(store, 1, later)  # between the query and the forgetting
    answers = iter([found, []])

    async def idle_chats_as_first_found(idle_since: datetime, limit: int) -> list[int]:
        del idle_since, limit
        return next(answers)

    monkeypatch.setattr(store, "idle_chats", idle_chats_as_first_found)

    assert await forget_idle(store, later, later - RETENTION) == 0
    assert [p.chat_id for p in await store.patients(10, 0)] == [1]
