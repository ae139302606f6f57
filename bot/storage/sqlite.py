"""The embedded store: SQLite in WAL mode, all of its work on one dedicated worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.storage.base import (
    Event,
    OutboxItem,
    Patient,
    StorageError,
    Transaction,
    deactivate_chat,
    trim_error,
)
from bot.storage.locks import ChatLocks
from bot.storage.migrations import SQLITE, pending
from bot.storage.sqlite_transaction import (
    OUTBOX_COLUMNS,
    PATIENT_COLUMNS,
    Job,
    SqliteTransaction,
    immediate,
    outbox_item_from_row,
    parse_json,
    parse_time,
    patient_from_row,
    stamp,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import datetime, timedelta

T = TypeVar("T")

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000


def _enable_wal(conn: sqlite3.Connection, path: str) -> None:
    # WAL lets readers go on while one writer commits, and a crash cannot tear a commit.
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        msg = f"cannot switch {path} to WAL mode (got {mode!r})"
        raise StorageError(msg)


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )"""
    )
    current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    for migration in pending(SQLITE, current):
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (migration.version,))


class SqliteStore:
    """Store in one SQLite file (or in memory), for a single bot process."""

    def __init__(self, path: str | Path) -> None:
        """Remember where the database lives; nothing is opened yet."""
        self._path = str(path)
        self._locks = ChatLocks()
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._enqueued: Callable[[], None] | None = None

    @property
    def path(self) -> str:
        """The database file, or ``:memory:``."""
        return self._path

    async def _run(self, job: Job[T]) -> T:
        """Run ``job`` on the store's thread, where the connection lives."""
        if self._executor is None:
            msg = "the SQLite store is not open"
            raise StorageError(msg)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, job)

    def _call(self, job: Job[T]) -> T:
        if self._conn is None:
            msg = "the SQLite store is not open"
            raise StorageError(msg)
        return job(self._conn)

    def _connect(self) -> None:
        if self._path != MEMORY:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: the module must not open transactions behind our back.
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.row_factory = sqlite3.Row
            if self._path != MEMORY:
                _enable_wal(conn, self._path)
            # In WAL mode NORMAL loses nothing committed when the process dies; only an OS
            # crash or power cut can drop the last commits.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # No table has a foreign key yet; on, so that one added by a migration is enforced.
            conn.execute("PRAGMA foreign_keys = ON")
            immediate(conn, _migrate)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def open(self) -> None:
        """Open the file (creating its folder), switch to WAL and migrate."""
        if self._executor is not None:
            msg = "the SQLite store is already open"
            raise StorageError(msg)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    async def close(self) -> None:
        """Close the connection and let the thread end."""
        executor = self._executor
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        finally:
            self._executor = None
            executor.shutdown(wait=False)

    @asynccontextmanager
    async def transaction(self, chat_id: int, now: datetime) -> AsyncIterator[Transaction]:
        """Hold a chat for one update; commit on normal exit, roll back on an exception."""
        if self._executor is None:
            msg = "the SQLite store is not open"
            raise StorageError(msg)
        async with self._locks.hold(chat_id):
            tx = SqliteTransaction(self._run, chat_id, now)
            try:
                yield tx
                await tx.commit()
            finally:
                tx.close()
        if tx.enqueued and self._enqueued is not None:
            self._enqueued()

    def on_enqueued(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each transaction that added outbox rows commits."""
        self._enqueued = listener

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxItem]:
        """Lease up to ``limit`` due, unsent, unleased rows, oldest due first."""
        if limit <= 0:
            return []
        at, until = stamp(now), stamp(now + lease)
        sql = f"""UPDATE outbox SET lease_until = ?, attempts = attempts + 1
                  WHERE id IN (
                      SELECT id FROM outbox
                      WHERE sent_at IS NULL AND cancelled_at IS NULL AND due_at <= ?
                        AND (lease_until IS NULL OR lease_until <= ?)
                      ORDER BY due_at, id LIMIT ?)
                  RETURNING {OUTBOX_COLUMNS}"""  # noqa: S608 -- constant column list

        def claim(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute(sql, (until, at, at, limit)).fetchall()

        rows = await self._run(lambda conn: immediate(conn, claim))
        return sorted((outbox_item_from_row(r) for r in rows), key=lambda i: (i.due_at, i.id))

    async def renew(self, item: OutboxItem, until: datetime) -> bool:
        """Extend the lease of a row this claim still holds; False if it is no longer ours."""
        # ``attempts`` grows with every claim, so it tells this claim from a later one.
        sql = """UPDATE outbox SET lease_until = ?
                 WHERE id = ? AND attempts = ? AND sent_at IS NULL AND cancelled_at IS NULL"""
        values = (stamp(until), item.id, item.attempts)
        changed = await self._run(
            lambda conn: immediate(conn, lambda c: c.execute(sql, values).rowcount)
        )
        return bool(changed)

    async def mark_sent(self, item_id: int, at: datetime) -> None:
        """Record that a claimed row was delivered; it is never claimed again."""
        sql = "UPDATE outbox SET sent_at = ?, lease_until = NULL WHERE id = ? AND sent_at IS NULL"
        values = (stamp(at), item_id)
        await self._run(lambda conn: immediate(conn, lambda c: c.execute(sql, values)))

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        """Release a claimed row to be due again at ``at``, keeping the error."""
        sql = """UPDATE outbox SET due_at = ?, lease_until = NULL, last_error = ?
                 WHERE id = ? AND sent_at IS NULL"""
        values = (stamp(at), trim_error(error), item_id)
        await self._run(lambda conn: immediate(conn, lambda c: c.execute(sql, values)))

    async def retire(self, item_id: int, at: datetime, error: str) -> None:
        """Give up on an unsent row Telegram refused: never claimed again, the error kept."""
        sql = """UPDATE outbox SET cancelled_at = ?, lease_until = NULL, last_error = ?
                 WHERE id = ? AND sent_at IS NULL AND cancelled_at IS NULL"""
        values = (stamp(at), trim_error(error), item_id)
        await self._run(lambda conn: immediate(conn, lambda c: c.execute(sql, values)))

    async def deactivate(self, chat_id: int, at: datetime) -> None:
        """Mark a patient who blocked the bot inactive and cancel the chat's unsent rows."""
        async with self.transaction(chat_id, at) as tx:
            await deactivate_chat(tx)

    async def events(self, chat_id: int) -> list[Event]:
        """Return a chat's history, oldest first."""
        sql = "SELECT id, chat_id, kind, data, at FROM events WHERE chat_id = ? ORDER BY id"
        rows = await self._run(lambda conn: conn.execute(sql, (chat_id,)).fetchall())
        return [
            Event(r["id"], r["chat_id"], r["kind"], parse_json(r["data"]), parse_time(r["at"]))
            for r in rows
        ]

    async def pending(self, chat_id: int) -> list[OutboxItem]:
        """A chat's unsent, uncancelled outbox rows, soonest first."""
        sql = f"""SELECT {OUTBOX_COLUMNS} FROM outbox
                  WHERE chat_id = ? AND sent_at IS NULL AND cancelled_at IS NULL
                  ORDER BY due_at, id"""  # noqa: S608 -- constant column list
        rows = await self._run(lambda conn: conn.execute(sql, (chat_id,)).fetchall())
        return [outbox_item_from_row(r) for r in rows]

    async def patients(self, limit: int, offset: int) -> list[Patient]:
        """Return one page of patients ordered by chat id."""
        if limit <= 0:
            return []
        sql = f"SELECT {PATIENT_COLUMNS} FROM patients ORDER BY chat_id LIMIT ? OFFSET ?"  # noqa: S608 -- constant column list
        rows = await self._run(lambda conn: conn.execute(sql, (limit, max(offset, 0))).fetchall())
        return [patient_from_row(r) for r in rows]

    async def prune_updates(self, older_than: datetime) -> int:
        """Forget update ids recorded before ``older_than``; return how many."""
        sql = "DELETE FROM updates WHERE seen_at < ?"
        values = (stamp(older_than),)
        return await self._run(
            lambda conn: immediate(conn, lambda c: c.execute(sql, values).rowcount)
        )
