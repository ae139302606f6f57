"""An optimistic update on PostgreSQL: two statements, and nothing written if the chat changed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from support.storage_backends import T0, PostgresBackend

from bot.bench.counting import CountingPostgresStore
from bot.storage import ConflictError, Patient, Store


async def _saved(store: Store, chat_id: int, session: dict[str, object]) -> None:
    async with store.transaction(chat_id, T0) as tx:
        await tx.save(Patient(chat_id, "en", session))


async def _answers(postgres: PostgresBackend, chat_id: int) -> list[str]:
    rows = await postgres.sql(
        "SELECT data ->> 'n' FROM events WHERE chat_id = %s ORDER BY id", (chat_id,))
    return [str(n) for (n,) in rows]


async def _seen(postgres: PostgresBackend, update_id: int) -> bool:
    rows = await postgres.sql("SELECT 1 FROM updates WHERE update_id = %s", (update_id,))
    return bool(rows)


async def test_a_returning_patients_update_is_one_read_and_one_write(
    postgres: PostgresBackend,
) -> None:
    store = CountingPostgresStore(postgres.url)
    await store.open()
    try:
        await _saved(store, 1, {"step": 1})
        before = store.trips.updates
        async with store.transaction(1, T0, update_id=500, optimistic=True) as tx:
            fresh, patient = await tx.first_time_and_load(500)
            assert fresh
            assert patient is not None
            await tx.record_event("answer", {"n": "a"})
            await tx.record_event("answer", {"n": "b"})
            await tx.save(Patient(1, "en", {"step": 2}))
        assert store.trips.updates - before == 2
    finally:
        await store.close()
    assert await _answers(postgres, 1) == ["a", "b"]
    assert await _seen(postgres, 500)
    reader = await postgres.open()
    async with reader.transaction(1, T0, update_id=500, optimistic=True) as tx:
        fresh, patient = await tx.first_time_and_load(500)
    assert not fresh
    assert patient is not None
    assert patient.session == {"step": 2}


async def test_queued_rows_go_with_the_save_in_order_and_a_dedupe_key_in_use_adds_nothing(
    postgres: PostgresBackend,
) -> None:
    store = CountingPostgresStore(postgres.url)
    await store.open()
    try:
        async with store.transaction(9, T0) as tx:
            await tx.enqueue("checkin", 9, {"n": 0}, T0 + timedelta(days=1), dedupe_key="w1")
        before = store.trips.updates
        async with store.transaction(9, T0, update_id=1300, optimistic=True) as tx:
            await tx.first_time_and_load(1300)
            await tx.enqueue("clinic", 99, {"n": 1}, T0)
            await tx.enqueue("checkin", 9, {"n": 2}, T0 + timedelta(days=1), dedupe_key="w1")
            await tx.enqueue("checkin", 9, {"n": 3}, T0 + timedelta(days=2), dedupe_key="w2")
            await tx.enqueue("checkin", 9, {"n": 4}, T0 + timedelta(days=3), dedupe_key="w2")
            await tx.save(Patient(9, "en", {"step": 1}))
        assert tx.enqueued
        assert store.trips.updates - before == 2
        assert [item.payload for item in await store.pending(9)] == [{"n": 0}, {"n": 3}]
        assert [item.payload for item in await store.pending(99)] == [{"n": 1}]
    finally:
        await store.close()
    rows = await postgres.sql("SELECT about FROM outbox WHERE chat_id = 99")
    assert rows == [(9,)]  # the row names the patient it is about


async def test_a_new_chat_is_written_by_the_one_statement(postgres: PostgresBackend) -> None:
    store = await postgres.open()
    async with store.transaction(2, T0, update_id=600, optimistic=True) as tx:
        assert await tx.first_time_and_load(600) == (True, None)
        await tx.record_event("answer", {"n": "first"})
        await tx.save(Patient(2, "zh", {"step": 1}))
    async with store.transaction(2, T0) as tx:
        assert await tx.load() == Patient(2, "zh", {"step": 1}, active=True,
                                          created_at=T0, updated_at=T0)
    assert await _answers(postgres, 2) == ["first"]


async def _lose_to(other: Store, store: Store, chat_id: int, update_id: int) -> None:
    """An optimistic update of ``store`` while ``other`` saves the chat before it commits."""
    async with store.transaction(chat_id, T0, update_id=update_id, optimistic=True) as tx:
        await tx.first_time_and_load(update_id)
        await _saved(other, chat_id, {"by": "other"})
        await tx.record_event("answer", {"n": "lost"})
        await tx.save(Patient(chat_id, "en", {"by": "us"}))


async def test_a_chat_saved_meanwhile_is_a_conflict_and_nothing_is_written(
    postgres: PostgresBackend,
) -> None:
    ours, other = await postgres.open(), await postgres.open()
    await _saved(ours, 3, {"by": "nobody"})
    with pytest.raises(ConflictError, match="changed or deleted by another process"):
        await _lose_to(other, ours, 3, 700)
    assert await _answers(postgres, 3) == []
    assert not await _seen(postgres, 700)
    async with ours.transaction(3, T0) as tx:
        patient = await tx.load()
    assert patient is not None
    assert patient.session == {"by": "other"}


async def test_a_new_chat_created_meanwhile_is_a_conflict(postgres: PostgresBackend) -> None:
    ours, other = await postgres.open(), await postgres.open()
    with pytest.raises(ConflictError, match="changed or deleted"):
        await _lose_to(other, ours, 4, 800)
    assert await _answers(postgres, 4) == []
    assert not await _seen(postgres, 800)


async def test_an_update_recorded_meanwhile_is_a_conflict_even_with_the_chat_unchanged(
    postgres: PostgresBackend,
) -> None:
    ours, other = await postgres.open(), await postgres.open()
    await _saved(ours, 5, {"by": "nobody"})
    async def served_twice() -> None:
        async with ours.transaction(5, T0, update_id=900, optimistic=True) as tx:
            assert (await tx.first_time_and_load(900))[0]
            # The same update served by another process, which saved nothing.
            async with other.transaction(5, T0, update_id=900) as theirs:
                assert (await theirs.first_time_and_load(900))[0]
            await tx.record_event("answer", {"n": "twice"})
            await tx.save(Patient(5, "en", {"by": "us"}))

    with pytest.raises(ConflictError, match="update 900"):
        await served_twice()
    assert await _answers(postgres, 5) == []
    async with ours.transaction(5, T0) as tx:
        patient = await tx.load()
    assert patient is not None
    assert patient.session == {"by": "nobody"}


async def test_more_than_a_save_holds_the_chat_and_keeps_the_order(
    postgres: PostgresBackend,
) -> None:
    ours, other = await postgres.open(), await postgres.open()
    await _saved(ours, 6, {"count": 0})
    held, release = asyncio.Event(), asyncio.Event()

    async def ours_update() -> None:
        async with ours.transaction(6, T0, update_id=1000, optimistic=True) as tx:
            await tx.first_time_and_load(1000)
            await tx.record_event("answer", {"n": "before"})
            await tx.enqueue("clinic", 99, {"about": 6}, T0)
            # Reading the outbox holds the chat from here, with what was done so far written.
            assert [item.kind for item in await tx.pending()] == []
            await tx.save(Patient(6, "en", {"count": 1}))
            await tx.record_event("answer", {"n": "after"})
            held.set()
            await release.wait()

    async def other_update() -> None:
        await held.wait()
        async with other.transaction(6, T0) as tx:  # waits for ours' row lock
            patient = await tx.load()
            assert patient is not None
            await tx.save(Patient(6, "en", {"count": patient.session["count"] + 1}))

    tasks = [asyncio.create_task(ours_update()), asyncio.create_task(other_update())]
    await held.wait()
    for _ in range(50):
        await asyncio.sleep(0)
    assert not tasks[1].done()
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    async with ours.transaction(6, T0) as tx:
        patient = await tx.load()
    assert patient is not None
    assert patient.session == {"count": 2}
    assert await _answers(postgres, 6) == ["before", "after"]
    assert [item.chat_id for item in await ours.pending(99)] == [99]


async def test_holding_the_chat_finds_a_change_since_the_read(postgres: PostgresBackend) -> None:
    ours, other = await postgres.open(), await postgres.open()
    await _saved(ours, 7, {"by": "nobody"})
    async def held_after_a_change() -> None:
        async with ours.transaction(7, T0, update_id=1100, optimistic=True) as tx:
            await tx.first_time_and_load(1100)
            await tx.record_event("answer", {"n": "lost"})
            await tx.enqueue("clinic", 99, {"about": 7}, T0)
            await _saved(other, 7, {"by": "other"})
            await tx.events()  # holds the chat

    with pytest.raises(ConflictError, match="changed or deleted"):
        await held_after_a_change()
    assert await _answers(postgres, 7) == []
    assert await ours.pending(99) == []
    assert not await _seen(postgres, 1100)


async def _revision(postgres: PostgresBackend, chat_id: int) -> int:
    rows = await postgres.sql("SELECT revision FROM patients WHERE chat_id = %s", (chat_id,))
    return int(rows[0][0])


async def test_a_repeated_update_writes_nothing(postgres: PostgresBackend) -> None:
    store = await postgres.open()
    await _saved(store, 8, {"step": 1})
    async with store.transaction(8, T0, update_id=1200) as tx:
        assert (await tx.first_time_and_load(1200))[0]
    revision = await _revision(postgres, 8)
    async with store.transaction(8, T0, update_id=1200, optimistic=True) as tx:
        fresh, patient = await tx.first_time_and_load(1200)
    assert not fresh
    assert patient is not None
    assert patient.session == {"step": 1}
    assert await _revision(postgres, 8) == revision


@pytest.mark.parametrize("held", [False, True])
async def test_a_save_writes_the_session_as_it_was_at_the_call(
    postgres: PostgresBackend, held: bool,  # noqa: FBT001
) -> None:
    store = await postgres.open()
    await _saved(store, 10, {"step": 1})
    async with store.transaction(10, T0, update_id=1400 + held, optimistic=True) as tx:
        _, patient = await tx.first_time_and_load(1400 + held)
        assert patient is not None
        patient.session["step"] = 2
        await tx.save(patient)
        patient.session["step"] = 3  # changed after the save, and never saved
        if held:
            assert await tx.pending() == []
    async with store.transaction(10, T0) as tx:
        saved = await tx.load()
    assert saved is not None
    assert saved.session == {"step": 2}


async def test_any_writer_of_a_patient_counts_its_revision_up(postgres: PostgresBackend) -> None:
    """An operator's own UPDATE (or an older release's save) is a change the write sees."""
    store = await postgres.open()
    await _saved(store, 11, {"by": "nobody"})
    saved = await _revision(postgres, 11)

    async def edited_by_hand() -> None:
        async with store.transaction(11, T0, update_id=1500, optimistic=True) as tx:
            await tx.first_time_and_load(1500)
            await postgres.sql("UPDATE patients SET active = FALSE WHERE chat_id = 11")
            await tx.save(Patient(11, "en", {"by": "us"}))

    with pytest.raises(ConflictError, match="changed or deleted"):
        await edited_by_hand()
    assert await postgres.sql("SELECT active FROM patients WHERE chat_id = 11") == [(False,)]
    assert await _revision(postgres, 11) > saved
