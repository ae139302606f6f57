"""Store.records: patients with their events, streamed from one cursor, on every backend."""

from __future__ import annotations

from contextlib import aclosing
from datetime import timedelta

import pytest
from support.storage_backends import T0

from bot.storage import Patient, Store, open_store
from bot.storage.base import NestedUseError, PatientRecord, RecordQuery


async def patient(store: Store, chat: int, *events: tuple[str, dict[str, object]]) -> None:
    """Save a patient and record ``events`` one minute apart."""
    async with store.transaction(chat, T0) as tx:
        await tx.save(Patient(chat, "zh" if chat % 2 else "en", {"chat": chat, "note": "腰痛"}))
    for minute, (kind, data) in enumerate(events, start=1):
        async with store.transaction(chat, T0 + timedelta(minutes=minute)) as tx:
            await tx.record_event(kind, data)


async def read(store: Store, query: RecordQuery) -> list[PatientRecord]:
    async with aclosing(store.records(query)) as records:
        return [record async for record in records]


async def clinic(store: Store) -> None:
    for chat in (5, 3, 1, 4, 2):
        await patient(store, chat, ("answer", {"fact": "age", "value": 40 + chat}),
                      ("recommendation", {"recommendation": {"step": f"s{chat}"}}),
                      ("answer", {"fact": "pain", "value": chat, "extra": {"nested": [1, None]}}))
    await patient(store, 6)  # no events at all


async def test_every_patient_comes_in_chat_order_with_all_events_oldest_first(
    store: Store,
) -> None:
    await clinic(store)
    async with store.transaction(99, T0) as tx:
        assert await tx.first_time(1)  # an update that saved nobody is no patient
    records = await read(store, RecordQuery(batch=2))
    assert [r.patient.chat_id for r in records] == [1, 2, 3, 4, 5, 6]
    first = records[0]
    assert first.patient.session == {"chat": 1, "note": "腰痛"}
    assert (first.patient.language, first.patient.active, first.patient.created_at) == (
        "zh", True, T0)
    assert [(e.kind, e.chat_id) for e in first.events] == [
        ("answer", 1), ("recommendation", 1), ("answer", 1)]
    assert first.events[2].data == {"fact": "pain", "value": 1, "extra": {"nested": [1, None]}}
    assert [e.at for e in first.events] == [T0 + timedelta(minutes=m) for m in (1, 2, 3)]
    assert all(e.at.tzinfo is not None for e in first.events)
    assert first.events == tuple(await store.events(1))  # the same events as one chat's history
    assert records[-1].events == ()


async def test_only_the_kinds_asked_for_are_read(store: Store) -> None:
    await clinic(store)
    records = await read(store, RecordQuery(kinds=frozenset({"recommendation"})))
    assert [[e.data for e in r.events] for r in records[:2]] == [
        [{"recommendation": {"step": "s1"}}], [{"recommendation": {"step": "s2"}}]]
    assert records[-1].events == ()
    nothing = await read(store, RecordQuery(kinds=frozenset()))
    assert [r.events for r in nothing] == [()] * 6


async def test_one_patient_or_a_page_after_a_key(store: Store) -> None:
    await clinic(store)
    [one] = await read(store, RecordQuery(chat_id=4))
    assert (one.patient.chat_id, len(one.events)) == (4, 3)
    assert await read(store, RecordQuery(chat_id=404)) == []
    pages = [[r.patient.chat_id for r in await read(store, RecordQuery(after=key, limit=2))]
             for key in (None, 2, 4, 6)]
    assert pages == [[1, 2], [3, 4], [5, 6], []]


async def test_patients_keep_being_served_while_a_long_read_is_open(store: Store) -> None:
    await clinic(store)
    seen = []
    async with aclosing(store.records(RecordQuery(batch=1))) as records:
        async for record in records:
            seen.append(record.patient.chat_id)
            if len(seen) == 2:  # mid-stream, the bot goes on saving other chats
                await patient(store, 50, ("answer", {"fact": "age", "value": 50}))
    assert seen[:2] == [1, 2]
    assert [e.kind for e in await store.events(50)] == ["answer"]
    assert [r.patient.chat_id for r in await read(store, RecordQuery(chat_id=50))] == [50]


async def test_stopping_early_gives_the_connection_back(store: Store) -> None:
    await clinic(store)
    for _ in range(15):  # more rounds than the pool has connections
        async with aclosing(store.records(RecordQuery(batch=1))) as records:
            async for _record in records:
                break
    assert len(await read(store, RecordQuery())) == 6


async def test_an_in_memory_database_is_read_in_keyset_pages() -> None:
    store = open_store("sqlite:///:memory:")
    await store.open()
    try:
        await clinic(store)
        records = await read(store, RecordQuery(batch=2, kinds=frozenset({"answer"})))
        assert [r.patient.chat_id for r in records] == [1, 2, 3, 4, 5, 6]
        assert [len(r.events) for r in records] == [2, 2, 2, 2, 2, 0]
        limited = await read(store, RecordQuery(batch=2, after=1, limit=3))
        assert [r.patient.chat_id for r in limited] == [2, 3, 4]
    finally:
        await store.close()


async def test_session_keys_a_reader_does_not_need_are_left_out(store: Store) -> None:
    session = {"state": "age", "history": [{"state": "x"}] * 50, "flag": True, "none": None,
               "care": {"facts": {"pain": 7, "yes": False}}, "step.one": 1.5}
    async with store.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", session))
    [record] = await read(store, RecordQuery(session_without=("history", "step.one")))
    assert record.patient.session == {"state": "age", "flag": True, "none": None,
                                      "care": {"facts": {"pain": 7, "yes": False}}}
    [whole] = await read(store, RecordQuery())
    assert whole.patient.session == session


async def test_a_transaction_cannot_open_a_second_reader(store: Store) -> None:
    await clinic(store)
    async with store.transaction(1, T0) as tx:
        assert await tx.load() is not None
        with pytest.raises(NestedUseError):
            await read(store, RecordQuery(chat_id=1))
