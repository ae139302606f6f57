"""The embedded store: SQLite in WAL mode, all of its work on one dedicated worker thread."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.storage.base import (
    Event,
    OutboxItem,
    Patient,
    PatientRecord,
    RecordQuery,
    StorageError,
    Transaction,
    deactivate_chat,
    holding,
    refuse_inside_transaction,
    trim_error,
)
from bot.storage.existing import check_sqlite_file, refuse_missing, refuse_unmigrated
from bot.storage.locks import ChatLocks
from bot.storage.migrations import SQLITE, pending
from bot.storage.records import sqlite_record, sqlite_sql
from bot.storage.sqlite_files import create_private, remove, tighten
from bot.storage.sqlite_transaction import (
    OUTBOX_COLUMNS,
    PATIENT_COLUMNS,
    PENDING,
    Job,
    SqliteTransaction,
    event_from_row,
    immediate,
    outbox_item_from_row,
    patient_from_row,
    stamp,
)
from bot.storage.sqlite_writer import LoopWriter

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection
    from datetime import datetime, timedelta

T = TypeVar("T")

log = logging.getLogger(__name__)

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000
_MARK_SENT = "UPDATE outbox SET sent_at = ?, lease_until = NULL WHERE id = ? AND sent_at IS NULL"
PROBE_BYTES = 8192  # the health check's rolled-back write: two pages of the default size


def _enable_wal(conn: sqlite3.Connection, path: str) -> None:
    # WAL lets readers go on while one writer commits, and a crash cannot tear a commit.
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        msg = f"cannot switch {path} to WAL mode (got {mode!r})"
        raise StorageError(msg)


def _migrate(conn: sqlite3.Connection, *, create: bool = True) -> None:
    """Bring the schema up to date; without ``create``, refuse one that needs migrating."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )"""
    )
    current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    migrations = pending(SQLITE, current)
    if not create:
        refuse_unmigrated(current, SQLITE)
    for migration in migrations:
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (migration.version,))
    if migrations:
        log.info("migrated the database to schema version %d", migrations[-1].version)


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Copy what the WAL holds into the database, as far as readers allow; never waits."""
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as error:  # the next one retries; a failure here loses nothing
        log.warning("SQLite checkpoint failed: %s", error)


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                           timeout=BUSY_TIMEOUT_MS / 1000)


class SqliteStore:
    """Store in one SQLite file (or in memory), for a single bot process."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        """Remember where the database lives; nothing is opened yet.

        Without ``create`` a missing database is refused and an older one is not migrated.
        """
        self._path = str(path)
        self._create = create
        self._locks = ChatLocks()
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        # Reads with nothing to replay run here, on the event loop's thread: a point read takes
        # tens of microseconds, a hand-off to the store's thread and back far longer. So does an
        # update's commit while the write lock is free (see LoopWriter); checkpoints and every
        # wait for the lock stay on the store's thread.
        self._reader: sqlite3.Connection | None = None
        self._writer: LoopWriter | None = None
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

    async def _commit(self, job: Job[None]) -> None:
        """Apply an update's writes: at once while the write lock is free, else on the thread."""
        if self._writer is not None and self._writer.try_commit(job):
            return
        await self._run(lambda conn: immediate(conn, job))

    def _checkpoint_later(self) -> None:
        """Have the store's thread copy the WAL into the database, without waiting for it."""
        if self._executor is not None:
            self._executor.submit(self._call, _checkpoint)

    def _read_now(self, job: Job[T]) -> T:
        """Run a read-only ``job`` at once on the event loop's reader connection."""
        if self._reader is None:
            msg = "the SQLite store is not open"
            raise StorageError(msg)
        return job(self._reader)

    async def _outside(self, job: Job[T]) -> T:
        """Run a job of the store's own, refused to a task that holds a transaction."""
        refuse_inside_transaction(self, "a store call")
        return await self._run(job)

    async def call(self, job: Job[T]) -> T:
        """Run ``job`` on the store's connection, outside any transaction (tables of others)."""
        return await self._outside(lambda conn: immediate(conn, job))

    def _call(self, job: Job[T]) -> T:
        if self._conn is None:
            msg = "the SQLite store is not open"
            raise StorageError(msg)
        return job(self._conn)

    def _prepare(self) -> bool:
        """Check an existing file is the bot's before touching it, or create it; True if created."""
        if self._path == MEMORY:
            return False
        path = Path(self._path)
        if os.path.lexists(path):
            check_sqlite_file(path)
            if self._create:
                tighten(path)
            return False
        if not self._create:
            refuse_missing(path)
        create_private(path)
        log.info("created the database %s", path)
        return True

    def _connect(self) -> None:
        created = self._prepare()
        try:
            self._connect_to_checked()
        except BaseException:
            if created:
                remove(Path(self._path))
            raise

    def _connect_to_checked(self) -> None:
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
            immediate(conn, partial(_migrate, create=self._create))
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
        if self._path != MEMORY:  # another connection to :memory: would be another database
            self._reader = _read_only(Path(self._path))
            self._reader.row_factory = sqlite3.Row
            self._writer = LoopWriter(Path(self._path), self._checkpoint_later)

    async def close(self) -> None:
        """Close the connection and let the thread end."""
        executor = self._executor
        if executor is None:
            return
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        finally:
            self._executor = None
            executor.shutdown(wait=False)

    @asynccontextmanager
    async def transaction(self, chat_id: int, now: datetime, *, update_id: int | None = None,
                          optimistic: bool = False) -> AsyncIterator[Transaction]:
        """Hold a chat for one update; commit on normal exit, roll back on an exception.

        ``update_id`` changes nothing here: ``first_time_and_load`` is one trip already. Every
        transaction here is ``optimistic``: it reads at once and checks at commit.
        """
        del update_id, optimistic
        if self._executor is None:
            msg = "the SQLite store is not open"
            raise StorageError(msg)
        with holding(self):
            async with self._locks.hold(chat_id):
                read_now = self._read_now if self._reader is not None else None
                tx = SqliteTransaction(self._run, chat_id, now, commit=self._commit,
                                       read_now=read_now)
                try:
                    yield tx
                    await tx.commit()
                finally:
                    tx.close()
        if tx.enqueued and self._enqueued is not None:
            self._enqueued()

    async def probe_write(self) -> None:
        """Write a history row larger than a page and roll it back (see ``Store``)."""

        def probe(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Bigger than a page, so it needs pages the file may no longer be able to get.
                conn.execute("INSERT INTO events (chat_id, kind, data, at) "
                             "VALUES (0, 'health', randomblob(?), '')", (PROBE_BYTES,))
            finally:
                conn.execute("ROLLBACK")

        await self._outside(probe)

    def on_enqueued(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each transaction that added outbox rows commits."""
        self._enqueued = listener

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, *, sent: Collection[int] = ()
    ) -> list[OutboxItem]:
        """Mark ``sent`` rows sent, then lease up to ``limit`` due rows, oldest due first."""
        if limit <= 0 and not sent:
            return []
        at, until = stamp(now), stamp(now + lease)
        sql = f"""UPDATE outbox SET lease_until = ?, attempts = attempts + 1
                  WHERE id IN (
                      SELECT id FROM outbox
                      WHERE sent_at IS NULL AND cancelled_at IS NULL AND due_at <= ?
                        AND (lease_until IS NULL OR lease_until <= ?)
                      ORDER BY due_at, id LIMIT ?)
                  RETURNING {OUTBOX_COLUMNS}"""  # noqa: S608 -- constant column list

        marked = [(at, item_id) for item_id in sent]

        def claim(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            conn.executemany(_MARK_SENT, marked)
            return conn.execute(sql, (until, at, at, limit)).fetchall() if limit > 0 else []

        rows = await self._outside(lambda conn: immediate(conn, claim))
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
        values = (stamp(at), item_id)
        await self._outside(lambda conn: immediate(conn, lambda c: c.execute(_MARK_SENT, values)))

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        """Release a claimed row to be due again at ``at``, keeping the error."""
        sql = """UPDATE outbox SET due_at = ?, lease_until = NULL, last_error = ?
                 WHERE id = ? AND sent_at IS NULL"""
        values = (stamp(at), trim_error(error), item_id)
        await self._outside(lambda conn: immediate(conn, lambda c: c.execute(sql, values)))

    async def retire(self, item_id: int, at: datetime, error: str) -> None:
        """Give up on an unsent row Telegram refused: never claimed again, the error kept."""
        sql = """UPDATE outbox SET cancelled_at = ?, lease_until = NULL, last_error = ?
                 WHERE id = ? AND sent_at IS NULL AND cancelled_at IS NULL"""
        values = (stamp(at), trim_error(error), item_id)
        await self._outside(lambda conn: immediate(conn, lambda c: c.execute(sql, values)))

    async def deactivate(self, chat_id: int, at: datetime) -> None:
        """Mark a patient who blocked the bot inactive and cancel the chat's unsent rows."""
        async with self.transaction(chat_id, at) as tx:
            await deactivate_chat(tx)

    async def events(self, chat_id: int) -> list[Event]:
        """Return a chat's history, oldest first."""
        sql = "SELECT id, chat_id, kind, data, at FROM events WHERE chat_id = ? ORDER BY id"
        rows = await self._outside(lambda conn: conn.execute(sql, (chat_id,)).fetchall())
        return [event_from_row(r) for r in rows]

    async def pending(self, chat_id: int) -> list[OutboxItem]:
        """A chat's unsent, uncancelled outbox rows, soonest first."""
        rows = await self._outside(lambda conn: conn.execute(PENDING, (chat_id,)).fetchall())
        return [outbox_item_from_row(r) for r in rows]

    async def patients(self, limit: int, offset: int) -> list[Patient]:
        """Return one page of patients ordered by chat id."""
        if limit <= 0:
            return []
        sql = f"SELECT {PATIENT_COLUMNS} FROM patients ORDER BY chat_id LIMIT ? OFFSET ?"  # noqa: S608 -- constant column list
        values = (limit, max(offset, 0))
        rows = await self._outside(lambda conn: conn.execute(sql, values).fetchall())
        return [patient_from_row(r) for r in rows]

    async def records(self, query: RecordQuery) -> AsyncGenerator[PatientRecord]:
        """Stream patients with their events from one cursor, a batch at a time."""
        refuse_inside_transaction(self, "a store call")
        if self._executor is None:
            msg = "the SQLite store is not open"
            raise StorageError(msg)
        if self._path == MEMORY:  # no second connection sees it: short keyset pages instead
            async for record in self._paged_records(query):
                yield record
            return
        # A read-only connection on a thread of its own: its cursor reads one snapshot (WAL)
        # while the store's thread goes on serving patients.
        loop = asyncio.get_running_loop()
        sql, params = sqlite_sql(query)
        path = Path(self._path)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-records") as reader:
            conn = await loop.run_in_executor(reader, _read_only, path)
            following: asyncio.Future[list[sqlite3.Row]] | None = None
            try:
                cursor = await loop.run_in_executor(reader, conn.execute, sql, params)

                def batch() -> list[sqlite3.Row]:
                    return cursor.fetchmany(query.batch)

                # The next batch is read while the caller works through this one. The rows are
                # parsed here, not on the reader: SQLite lets go of the interpreter while it
                # reads, and two threads both parsing JSON would take turns at it, slower than
                # one (the 100,000-patient export took twice as long).
                following = loop.run_in_executor(reader, batch)
                while rows := await following:
                    following = loop.run_in_executor(reader, batch)
                    for row in rows:
                        yield sqlite_record(row)
            finally:
                if following is not None:  # a batch read ahead for a caller that stopped early
                    with suppress(Exception):
                        await asyncio.shield(following)
                await asyncio.shield(loop.run_in_executor(reader, conn.close))

    async def _paged_records(self, query: RecordQuery) -> AsyncIterator[PatientRecord]:
        left = query.limit
        after = query.after
        while left is None or left > 0:
            size = query.batch if left is None else min(query.batch, left)
            sql, params = sqlite_sql(replace(query, after=after, limit=size))

            def page(conn: sqlite3.Connection, sql: str = sql, params: list[object] = params,
                     ) -> list[sqlite3.Row]:
                return conn.execute(sql, params).fetchall()

            rows = await self._run(page)
            for row in rows:
                yield sqlite_record(row)
            if len(rows) < size:
                return
            after = rows[-1][0]
            left = None if left is None else left - len(rows)

    async def prune_updates(self, older_than: datetime) -> int:
        """Forget update ids recorded before ``older_than``; return how many."""
        sql = "DELETE FROM updates WHERE seen_at < ?"
        values = (stamp(older_than),)
        return await self._outside(
            lambda conn: immediate(conn, lambda c: c.execute(sql, values).rowcount)
        )

    # -- retention ------------------------------------------------------------------------------

    async def prune_history(self, older_than: datetime) -> int:
        """Delete outbox rows sent or cancelled before ``older_than``; return how many."""
        sql = "DELETE FROM outbox WHERE coalesce(sent_at, cancelled_at) < ?"
        values = (stamp(older_than),)
        return await self._outside(
            lambda conn: immediate(conn, lambda c: c.execute(sql, values).rowcount)
        )

    async def idle_chats(self, idle_since: datetime, limit: int) -> list[int]:
        """Up to ``limit`` patients untouched since ``idle_since`` with nothing still to send."""
        values = (stamp(idle_since), stamp(idle_since), limit)
        rows = await self._outside(lambda conn: conn.execute(_IDLE, values).fetchall())
        return [int(r[0]) for r in rows]


# A patient is idle when neither they nor the clinic touched their record since the cutoff and
# nothing to them, or about them, is still waiting to be sent.
_IDLE = """SELECT p.chat_id FROM patients AS p
           WHERE p.updated_at < ?
             AND NOT EXISTS (SELECT 1 FROM events AS e
                             WHERE e.chat_id = p.chat_id AND e.at >= ?)
             AND NOT EXISTS (SELECT 1 FROM outbox AS o
                             WHERE (o.chat_id = p.chat_id OR o.about = p.chat_id)
                               AND o.sent_at IS NULL AND o.cancelled_at IS NULL)
           ORDER BY p.updated_at, p.chat_id LIMIT ?"""
