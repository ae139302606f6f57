"""SQLite on the event loop's thread: plain reads, and commits while the write lock is free."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from bot.storage import sqlite_writer
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


async def test_an_update_needs_no_hand_off_while_the_write_lock_is_free(
    tmp_path: Path,
) -> None:
    store = HandOffs(tmp_path / "bot.db")
    await store.open()
    try:
        async with store.transaction(1, T0) as tx:
            assert await tx.first_time_and_load(10) == (True, None)
            assert store.handed == 0
            await tx.save(Patient(1, "en", {"state": "a"}))
        assert store.handed == 0  # committed at once on the loop's writer
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


async def test_a_commit_waits_on_the_store_thread_while_another_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    store = HandOffs(tmp_path / "bot.db")
    await store.open()
    holder = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # as another process writing at that moment
        async with store.transaction(1, T0) as tx:
            await tx.save(Patient(1, "en", {"state": "a"}))
            # The event loop is not held: the lock is let go while the commit waits for it.
            asyncio.get_running_loop().call_later(0.2, holder.execute, "COMMIT")
        assert store.handed == 1
        async with store.transaction(1, T0) as tx:
            loaded = await tx.load()
        assert loaded is not None
        assert loaded.session == {"state": "a"}
    finally:
        holder.close()
        await store.close()


class Checkpoints(SqliteStore):
    """Counts the checkpoints handed to the store's thread."""

    asked = 0

    def _checkpoint_later(self) -> None:
        self.asked += 1
        super()._checkpoint_later()


async def test_the_loops_commits_leave_checkpoints_to_the_store_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlite_writer, "CHECKPOINT_EVERY", 3)
    store = Checkpoints(tmp_path / "bot.db")
    await store.open()
    try:
        for n in range(7):
            async with store.transaction(1, T0) as tx:
                await tx.save(Patient(1, "en", {"n": n}))
        assert store.asked == 2
    finally:
        await store.close()
