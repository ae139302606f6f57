"""A chat this process wrote last: its next update is one checked write, never a stale one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.storage_backends import T0, PostgresBackend, recreate_empty

from bot.bench.counting import CountingPostgresStore
from bot.content import Content
from bot.conversation import Action, Conversations
from bot.storage import ConflictError, Patient, Store
from bot.storage.postgres.recent import RecentChats, Written
from bot.storage.postgres.sessions import ReadChat

LATER = T0 + timedelta(minutes=1)


async def _step(store: Store, chat_id: int, update_id: int, session: dict[str, object],
                ) -> Patient | None:
    """One optimistic update: read the patient as it finds it, record an entry, save."""
    async with store.transaction(chat_id, LATER, update_id=update_id, optimistic=True) as tx:
        fresh, patient = await tx.first_time_and_load(update_id)
        assert fresh
        await tx.record_event("answer", {"n": update_id})
        await tx.save(Patient(chat_id, "en", session))
    return patient


async def _counting(postgres: PostgresBackend) -> CountingPostgresStore:
    store = CountingPostgresStore(postgres.url)
    await store.open()
    return store


async def _read(store: Store, chat_id: int) -> Patient | None:
    async with store.transaction(chat_id, T0) as tx:
        return await tx.load()


async def _erased_elsewhere(ours: Store, other: Store, chat_id: int, update_id: int) -> None:
    """A first course written by ``ours``, then the patient erased through ``other``."""
    await _step(ours, chat_id, update_id, {"course": "first"})
    async with other.transaction(chat_id, LATER) as tx:
        await tx.forget()


async def _course(store: Store, chat_id: int) -> dict[str, object]:
    stored = await _read(store, chat_id)
    assert stored is not None
    return stored.session


async def test_the_next_update_of_a_chat_written_here_is_one_statement_and_finds_it_as_stored(
    postgres: PostgresBackend,
) -> None:
    store = await _counting(postgres)
    try:
        await _step(store, 1, 100, {"step": 1})  # a new chat: read, then written
        before = store.trips.updates
        found = await _step(store, 1, 101, {"step": 2})
        assert store.trips.updates - before == 1
        assert found == Patient(1, "en", {"step": 1}, active=True, created_at=LATER,
                                updated_at=LATER)
    finally:
        await store.close()
    stored = await _read(await postgres.open(), 1)
    assert stored is not None
    assert stored.session == {"step": 2}
    rows = await postgres.sql("SELECT data ->> 'n' FROM events WHERE chat_id = 1 ORDER BY id")
    assert rows == [("100",), ("101",)]


async def test_a_chat_changed_elsewhere_since_is_a_conflict_and_is_read_first_from_then_on(
    postgres: PostgresBackend,
) -> None:
    ours, other = await _counting(postgres), await postgres.open()
    try:
        await _step(ours, 2, 200, {"by": "us"})
        await _step(other, 2, 201, {"by": "other"})  # the next update went to another instance

        before = ours.trips.updates
        with pytest.raises(ConflictError, match="changed or deleted"):
            await _step(ours, 2, 202, {"by": "us, on a stale copy"})
        assert not await postgres.sql("SELECT 1 FROM updates WHERE update_id = 202")

        # Decided again (the conversation does this) from the chat as the failed write found
        # it: one statement more, as a read first would have cost.
        found = await _step(ours, 2, 202, {"by": "us, after them"})
        assert ours.trips.updates - before == 2  # the failed write, this one
        assert found is not None
        assert found.session == {"by": "other"}
        # From now on this chat is read first: two statements, never a stale copy.
        for update_id in (203, 204):
            before = ours.trips.updates
            found = await _step(ours, 2, update_id, {"n": update_id})
            assert ours.trips.updates - before == 2
            assert found is not None
    finally:
        await ours.close()


async def test_a_write_that_finds_its_update_served_elsewhere_makes_the_next_try_a_repeat(
    postgres: PostgresBackend,
) -> None:
    ours, other = await _counting(postgres), await postgres.open()
    try:
        await _step(ours, 8, 800, {"step": 1})
        await _step(other, 8, 801, {"step": 2})  # Telegram delivered update 801 to both

        with pytest.raises(ConflictError):
            await _step(ours, 8, 801, {"step": "2, again"})
        before = ours.trips.updates
        async with ours.transaction(8, LATER, update_id=801, optimistic=True) as tx:
            fresh, patient = await tx.first_time_and_load(801)
        assert not fresh
        assert patient is not None
        assert patient.session == {"step": 2}
        assert ours.trips.updates == before  # known from the failed write: nothing to send
    finally:
        await ours.close()


async def test_a_write_that_finds_the_chat_erased_starts_it_again_on_the_next_try(
    postgres: PostgresBackend,
) -> None:
    ours, other = await postgres.open(), await postgres.open()
    await _erased_elsewhere(ours, other, 9, 900)

    with pytest.raises(ConflictError):
        await _step(ours, 9, 901, {"course": "first, continued"})
    assert await _step(ours, 9, 901, {"course": "second"}) is None  # no patient: a new start
    assert await _course(ours, 9) == {"course": "second"}


async def test_a_chat_erased_and_started_again_elsewhere_is_never_written_over(
    postgres: PostgresBackend,
) -> None:
    """Revisions come from one sequence: the new row never shows the revision remembered."""
    ours, other = await postgres.open(), await postgres.open()
    await _erased_elsewhere(ours, other, 3, 300)
    # As many writes as the first course had: counted per row, the revision would be the same.
    await _step(other, 3, 301, {"course": "second"})

    with pytest.raises(ConflictError):
        await _step(ours, 3, 302, {"course": "first, continued"})
    assert await _course(ours, 3) == {"course": "second"}


async def test_the_session_is_remembered_as_it_was_at_the_save(
    postgres: PostgresBackend,
) -> None:
    store = await postgres.open()
    await _step(store, 4, 400, {"step": 1})
    async with store.transaction(4, LATER, update_id=401, optimistic=True) as tx:
        _, patient = await tx.first_time_and_load(401)
        assert patient is not None
        patient.session["step"] = 2
        await tx.save(patient)
        patient.session["step"] = 3  # changed after the save, and never saved
    found = await _step(store, 4, 402, {"step": 4})
    assert found is not None
    assert found.session == {"step": 2}


async def test_a_failed_update_leaves_the_chat_to_be_read_again(
    postgres: PostgresBackend,
) -> None:
    store = await _counting(postgres)

    async def failing_after_its_save() -> None:
        async with store.transaction(5, LATER, update_id=501, optimistic=True) as tx:
            await tx.first_time_and_load(501)
            await tx.save(Patient(5, "en", {"step": "never written"}))
            msg = "the step failed"
            raise RuntimeError(msg)

    try:
        await _step(store, 5, 500, {"step": 1})
        with pytest.raises(RuntimeError, match="the step failed"):
            await failing_after_its_save()
        before = store.trips.updates
        found = await _step(store, 5, 502, {"step": 2})
        assert store.trips.updates - before == 2
        assert found is not None
        assert found.session == {"step": 1}
    finally:
        await store.close()


async def test_tables_re_created_since_the_write_are_migrated_and_the_update_decided_again(
    postgres: PostgresBackend,
) -> None:
    store = await postgres.open()
    await _step(store, 6, 600, {"step": 1})
    await recreate_empty(postgres)

    with pytest.raises(ConflictError, match="vanished"):
        await _step(store, 6, 601, {"step": 2})
    async with store.transaction(6, LATER, update_id=601) as tx:  # the conversation's retry
        assert await tx.first_time_and_load(601) == (True, None)
        await tx.save(Patient(6, "en", {"step": "again"}))
    stored = await _read(store, 6)
    assert stored is not None
    assert stored.session == {"step": "again"}


def test_only_the_most_recently_written_chats_are_remembered() -> None:
    recent = RecentChats(size=2)
    for chat_id in (1, 2, 3):
        recent.wrote(Written(Patient(chat_id, "en"), "{}", revision=chat_id))
    assert recent.take(1) is None
    taken = recent.take(3)
    assert taken is not None
    assert taken.revision == 3
    assert recent.take(3) is None  # taken once: the update that took it writes it back


def test_a_shared_chat_stays_shared_after_its_own_writes() -> None:
    recent = RecentChats()
    recent.shared(7)
    recent.wrote(Written(Patient(7, "en"), "{}", revision=1))
    assert recent.take(7) is None


def test_what_a_failed_write_found_is_given_once() -> None:
    recent = RecentChats()
    found = ReadChat(seen=False, patient=Patient(7, "en", {"step": 2}), revision=9)
    recent.shared(7, found)
    assert recent.take(7) is found
    assert recent.take(7) is None


@pytest.mark.parametrize("instances", [1, 2])
async def test_an_update_costs_one_statement_on_one_instance_and_two_behind_a_balancer(
    postgres: PostgresBackend, content: Content, instances: int,
) -> None:
    """Taking turns, each instance finds the other's write once, then reads the chat first."""
    stores = [await _counting(postgres) for _ in range(instances)]
    processes = [Conversations(content, store, clock=lambda: LATER) for store in stores]
    updates = 12  # a screening's first answers: "hello", then no to each red flag
    try:
        for update_id in range(1, updates + 1):
            await processes[update_id % instances].handle(
                Action(10, text="hello" if update_id == 1 else "no", update_id=update_id))
        sent = sum(store.trips.updates for store in stores)
    finally:
        for store in stores:
            await store.close()
    # One instance: the first update reads the chat, then one write each. Two: as many
    # statements as reading the chat first every time (the previous way), never more.
    assert sent == (updates + 1 if instances == 1 else 2 * updates)
