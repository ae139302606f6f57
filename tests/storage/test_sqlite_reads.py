"""SQLite reads with nothing to replay run at once on the loop's own read-only connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from bot.storage.base import Patient
from bot.storage.sqlite import MEMORY, SqliteStore
from bot.storage.sqlite_transaction import Job

T = TypeVar("T")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class HandOffs(SqliteStore):
    """Counts the jobs handed to the store's thread."""

    handed = 0

    async def _run(self, job: Job[T]) -> T:
        self.handed += 1
        return await super()._run(job)


async def test_an_updates_first_read_needs_no_hand_off_and_its_commit_one(
    tmp_path: Path,
) -> None:
    store = HandOffs(tmp_path / "bot.db")
    await store.open()
    try:
        async with store.transaction(1, T0) as tx:
            assert await tx.first_time_and_load(10) == (True, None)
            assert store.handed == 0
            await tx.save(Patient(1, "en", {"state": "a"}))
        assert store.handed == 1
        async with store.transaction(1, T0 + timedelta(minutes=1)) as tx:
            fresh, patient = await tx.first_time_and_load(10)  # the same update again
        assert (fresh, patient is not None) == (False, True)
        assert patient is not None
        assert patient.session == {"state": "a"}
    finally:
        await store.close()


async def test_a_read_that_must_see_this_updates_own_writes_goes_to_the_store_thread(
    tmp_path: Path,
) -> None:
    store = HandOffs(tmp_path / "bot.db")
    await store.open()
    try:
        async with store.transaction(1, T0) as tx:
            await tx.record_event("answer", {"fever": "no"})
            before = store.handed
            assert [e.data for e in await tx.events()] == [{"fever": "no"}]
            assert store.handed == before + 1
    finally:
        await store.close()


async def test_an_at_once_read_sees_what_another_store_committed_since(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "bot.db"), SqliteStore(tmp_path / "bot.db")
    await first.open()
    await second.open()
    try:
        async with first.transaction(1, T0) as tx:
            assert await tx.load() is None
        async with second.transaction(1, T0) as tx:
            await tx.save(Patient(1, "zh", {"state": "b"}))
        async with first.transaction(1, T0) as tx:
            loaded = await tx.load()
        assert loaded is not None
        assert (loaded.language, loaded.session) == ("zh", {"state": "b"})
    finally:
        await first.close()
        await second.close()


async def test_a_store_in_memory_reads_on_its_thread() -> None:
    store = HandOffs(MEMORY)
    await store.open()
    try:
        async with store.transaction(1, T0) as tx:
            await tx.load()
        assert store.handed == 1  # another connection to :memory: would be another database
    finally:
        await store.close()
