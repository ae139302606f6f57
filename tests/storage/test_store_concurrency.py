"""One update at a time per chat, many chats at once; within a process and across processes."""

from __future__ import annotations

import asyncio
import traceback
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

import pytest
from support.storage_backends import T0, Backend, PostgresBackend, SqliteBackend

from bot.storage import ConflictError, Patient, StorageError, Store
from bot.storage.locks import ChatLocks

if TYPE_CHECKING:
    from collections.abc import Awaitable

T = TypeVar("T")

# Generous: only reached when the behaviour under test is broken.
DEADLINE = 10
LEASE = timedelta(minutes=5)


async def let_others_run(rounds: int = 200) -> None:
    """Give every ready task many turns on the loop; no wall-clock wait involved."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def within_deadline(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, DEADLINE)


async def test_one_chat_runs_one_update_at_a_time(store: Store) -> None:
    first_inside, release_first, second_started = asyncio.Event(), asyncio.Event(), asyncio.Event()
    log: list[str] = []

    async def first() -> None:
        async with store.transaction(1, T0) as tx:
            log.append("first in")
            first_inside.set()
            await release_first.wait()
            await tx.save(Patient(1, "en", {"by": "first"}))
            log.append("first out")

    async def second() -> None:
        await first_inside.wait()
        second_started.set()
        async with store.transaction(1, T0) as tx:
            log.append("second in")
            patient = await tx.load()
            assert patient is not None
            log.append(f"second saw {patient.session['by']}")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await second_started.wait()
    await let_others_run()
    assert log == ["first in"]
    release_first.set()
    await within_deadline(asyncio.gather(*tasks))
    assert log == ["first in", "first out", "second in", "second saw first"]


async def test_two_chats_run_at_the_same_time(store: Store) -> None:
    inside = {1: asyncio.Event(), 2: asyncio.Event()}

    async def update(chat: int, other: int) -> None:
        async with store.transaction(chat, T0) as tx:
            assert await tx.first_time(chat)
            await tx.load()
            inside[chat].set()
            # Both transactions are open at once, or this wait never ends.
            await inside[other].wait()
            await tx.save(Patient(chat, "en", {"chat": chat}))
            await tx.enqueue("checkin", chat, {}, T0)

    await within_deadline(asyncio.gather(update(1, 2), update(2, 1)))
    assert [p.session for p in await store.patients(10, 0)] == [{"chat": 1}, {"chat": 2}]


async def increment(store: Store, chat_id: int) -> None:
    async with store.transaction(chat_id, T0) as tx:
        patient = await tx.load() or Patient(chat_id, "en", {"count": 0})
        await asyncio.sleep(0)  # invite any other update of this chat to interleave
        patient.session["count"] += 1
        await tx.save(patient)


async def count(store: Store, chat_id: int) -> int:
    async with store.transaction(chat_id, T0) as tx:
        patient = await tx.load()
    assert patient is not None
    return int(patient.session["count"])


async def test_concurrent_updates_of_one_chat_lose_nothing(store: Store) -> None:
    await within_deadline(asyncio.gather(*(increment(store, 1) for _ in range(25))))
    assert await count(store, 1) == 25


async def test_two_stores_never_claim_the_same_row(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    async with first.transaction(1, T0) as tx:
        for n in range(20):
            await tx.enqueue("r", 1, {"n": n}, T0)
    claims = await asyncio.gather(
        *(store.claim_due(T0, 3, LEASE) for store in (first, second, first, second) * 2)
    )
    ids = [item.id for claim in claims for item in claim]
    assert len(ids) == len(set(ids)) == 20


@pytest.mark.parametrize("update_id", [None, 77])
async def test_postgres_processes_take_turns_on_one_chat(
    postgres: PostgresBackend, update_id: int | None,
) -> None:
    """The second waits for the first's new chat, and still answers for its update id."""
    first = await postgres.open()
    second = await postgres.open(postgres.named_url(f"{postgres.schema}_second"))
    first_inside, release_first = asyncio.Event(), asyncio.Event()
    second_inside = asyncio.Event()

    async def in_first() -> None:
        async with first.transaction(1, T0) as tx:
            await tx.save(Patient(1, "en", {"by": "first"}))
            first_inside.set()
            await release_first.wait()

    async def in_second() -> Patient | None:
        async with second.transaction(1, T0, update_id=update_id) as tx:
            second_inside.set()
            fresh, patient = await tx.first_time_and_load(update_id)
            assert fresh
            return patient

    first_task = asyncio.create_task(in_first())
    await first_inside.wait()
    second_task = asyncio.create_task(in_second())
    await within_deadline(waiting_on_a_lock(postgres, f"{postgres.schema}_second"))
    assert not second_inside.is_set()
    release_first.set()
    seen = await within_deadline(second_task)
    await first_task
    assert seen is not None
    assert seen.session == {"by": "first"}


async def waiting_on_a_lock(postgres: PostgresBackend, application_name: str) -> None:
    """Return once the named connection is blocked on a lock inside PostgreSQL."""
    query = """SELECT count(*) FROM pg_stat_activity
               WHERE application_name = %s AND wait_event_type = 'Lock'"""
    for _ in range(1000):
        if (await postgres.sql(query, (application_name,)))[0][0]:
            return
        await asyncio.sleep(0.01)  # only the server can tell; polled a bounded number of times
    pytest.fail(f"{application_name} never waited on a lock")


async def test_postgres_processes_lose_no_update(postgres: PostgresBackend) -> None:
    stores = [await postgres.open(), await postgres.open()]
    await within_deadline(asyncio.gather(*(increment(stores[n % 2], 1) for n in range(30))))
    assert await count(stores[0], 1) == 30


async def test_postgres_forget_in_one_process_while_another_waits(
    postgres: PostgresBackend,
) -> None:
    first, second = await postgres.open(), await postgres.open()
    async with first.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {"count": 5}))
    first_inside, release_first = asyncio.Event(), asyncio.Event()

    async def forget_in_first() -> None:
        async with first.transaction(1, T0) as tx:
            first_inside.set()
            await release_first.wait()
            await tx.forget()

    task = asyncio.create_task(forget_in_first())
    await first_inside.wait()
    waiting = asyncio.create_task(increment(second, 1))
    await let_others_run()
    release_first.set()
    await within_deadline(asyncio.gather(task, waiting))
    assert await count(second, 1) == 1


async def test_sqlite_refuses_an_update_lost_to_another_process(sqlite: SqliteBackend) -> None:
    first, second = await sqlite.open(), await sqlite.open()
    async with first.transaction(1, T0) as tx:
        await tx.save(Patient(1, "en", {"count": 0}))

    async def racing_update() -> None:
        async with first.transaction(1, T0) as tx:
            patient = await tx.load()
            assert patient is not None
            await increment(second, 1)  # another process commits meanwhile
            await tx.save(patient)

    with pytest.raises(ConflictError, match="changed or deleted by another process"):
        await racing_update()
    assert await count(first, 1) == 1


async def test_sqlite_refuses_an_update_id_taken_by_another_process(
    sqlite: SqliteBackend,
) -> None:
    first, second = await sqlite.open(), await sqlite.open()

    async def racing_update() -> None:
        async with first.transaction(1, T0) as tx:
            assert await tx.first_time(77)
            async with second.transaction(1, T0) as other:
                assert await other.first_time(77)

    with pytest.raises(ConflictError, match="update 77"):
        await racing_update()


async def test_chat_locks_keep_only_chats_in_use() -> None:
    locks = ChatLocks()
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with locks.hold(1):
            holding.set()
            await release.wait()

    async def wait_for_it() -> None:
        async with locks.hold(1):
            pass

    holder = asyncio.create_task(hold())
    await holding.wait()
    abandoned = asyncio.create_task(wait_for_it())
    waiter = asyncio.create_task(wait_for_it())
    async with locks.hold(2):
        assert len(locks) == 2
    await let_others_run()
    abandoned.cancel()
    await let_others_run()
    assert len(locks) == 1
    release.set()
    await within_deadline(asyncio.gather(holder, waiter))
    assert abandoned.cancelled()
    assert len(locks) == 0


async def test_a_postgres_error_names_no_chat_even_in_its_traceback(
    postgres: PostgresBackend,
) -> None:
    store = await postgres.open()
    chat = 987654321
    # A row the schema refuses: PostgreSQL's DETAIL would quote it, chat id and all.
    broken = Patient(chat, None, {"secret": "session"})  # type: ignore[arg-type]

    with pytest.raises(StorageError) as raised:
        async with store.transaction(chat, T0) as tx:
            await tx.save(broken)

    told = "".join(traceback.format_exception(raised.value))
    assert "violates check constraint" in told
    assert str(chat) not in told
    assert "secret" not in told
