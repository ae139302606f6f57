"""The PostgreSQL store: a psycopg 3 async pool; row locks let several processes share one bot."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import psycopg
import psycopg.errors

from bot.logsafe import chat_ref
from bot.storage.base import (
    ConflictError,
    StorageError,
    deactivate_chat,
    holding,
    refuse_inside_transaction,
    utc,
)
from bot.storage.existing import check_postgres
from bot.storage.locks import ChatLocks
from bot.storage.migrations import POSTGRES
from bot.storage.postgres import exports, housekeeping, outbox, sessions
from bot.storage.postgres.attempt import PostgresAttempt
from bot.storage.postgres.connection import describe, open_pool, without_row_data
from bot.storage.postgres.recent import RecentChats
from bot.storage.postgres.schema import migrate
from bot.storage.postgres.transaction import PostgresTransaction

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Collection
    from datetime import datetime, timedelta

    from psycopg_pool import AsyncConnectionPool

    from bot.storage.base import Event, OutboxItem, Patient, PatientRecord, RecordQuery, Transaction
    from bot.storage.postgres.connection import Connection

log = logging.getLogger(__name__)

T = TypeVar("T")


@asynccontextmanager
async def _locked(conn: Connection, chat_id: int, now: datetime,
                  update_id: int | None) -> AsyncIterator[sessions.LockedChat]:
    """A database transaction holding the chat's row lock; yields what locking found."""
    async with conn.transaction():
        yield await sessions.lock_chat(conn, chat_id, now, update_id)


async def _begin(  # noqa: PLR0913  # the update's parts, handed over
    conn: Connection, chat_id: int, now: datetime, *, update_id: int | None,
    remembered: sessions.ReadChat | None, optimistic: bool,
    hold: Callable[[int | None], Awaitable[sessions.LockedChat]],
) -> PostgresTransaction | PostgresAttempt:
    """An optimistic update's read (unless ``remembered``), or the chat held: its first step."""
    if optimistic and update_id is not None:
        read = remembered or await sessions.read_chat(conn, chat_id, update_id)
        return PostgresAttempt(conn, chat_id, now, update_id=update_id, read=read, hold=hold)
    return PostgresTransaction(conn, chat_id, now, await hold(update_id))


class PostgresStore:
    """Store in a PostgreSQL database; safe for several bot processes at once."""

    # The pool's connections; the bench puts one here that counts the statements it sends.
    connection_class: type[Connection] = psycopg.AsyncConnection

    def __init__(  # all but the URL are keyword-only tuning
        self, url: str, *, min_size: int = 1, max_size: int = 10, connect_timeout: float = 10.0,
        create: bool = True,
    ) -> None:
        """Remember the server and pool size; nothing is connected yet.

        Without ``create`` the bot's tables must be there already: none is created or migrated.
        """
        self._url = url
        self._create = create
        self._min_size = min_size
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._locks = ChatLocks()
        self._recent = RecentChats()
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._enqueued: Callable[[], None] | None = None

    def on_enqueued(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each transaction that added outbox rows commits."""
        self._enqueued = listener

    @property
    def pool_size(self) -> int:
        """The most connections this store holds at once."""
        return self._max_size

    def _require_pool(self) -> AsyncConnectionPool[Connection]:
        if self._pool is None:
            msg = "the PostgreSQL store is not open"
            raise StorageError(msg)
        return self._pool

    async def open(self) -> None:
        """Connect, migrate, then start the pool."""
        if self._pool is not None:
            msg = "the PostgreSQL store is already open"
            raise StorageError(msg)
        # One plain connection first: its error says why the server is unreachable, where a
        # pool would only time out.
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=max(1, round(self._connect_timeout))
            )
        except psycopg.OperationalError as exc:
            msg = f"cannot connect to PostgreSQL at {describe(self._url)}: {exc}".strip()
            raise StorageError(msg) from exc
        async with conn:
            if self._create:
                await migrate(conn)
            else:
                await check_postgres(conn, describe(self._url), POSTGRES)
        self._pool = await open_pool(self._url, min_size=self._min_size,
                                     max_size=self._max_size, name="ldh-bot",
                                     fill_within=self._connect_timeout,
                                     connection_class=self.connection_class)

    async def close(self) -> None:
        """Close every pooled connection."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def transaction(self, chat_id: int, now: datetime, *, update_id: int | None = None,
                          optimistic: bool = False) -> AsyncIterator[Transaction]:
        """Hold a chat for one update; commit on normal exit, roll back on an exception.

        ``update_id`` is recorded by the statement that locks the chat, or with an
        ``optimistic`` update's one write (see ``Store`` and ``attempt.py``), which starts from
        this process's own last write of the chat when it has one (see ``recent.py``).
        """
        pool = self._require_pool()
        # holding(): while this task holds a pooled connection, the store lends it no other.
        # The asyncio lock first: waiters of one chat then queue here instead of each holding
        # a pooled connection while blocked on the row lock.
        with holding(self), without_row_data():
            async with (
                self._locks.hold(chat_id),
                pool.connection() as conn,
                AsyncExitStack() as held,
            ):
                def hold(record: int | None) -> Awaitable[sessions.LockedChat]:
                    # The database transaction ends with this block: COMMIT, or ROLLBACK.
                    return held.enter_async_context(_locked(conn, chat_id, utc(now), record))

                remembered = self._recent.take(chat_id)  # taken by any update: it changes the chat
                if not optimistic or update_id is None:
                    remembered = None
                tx = await self._migrated_if_lost(conn, lambda: _begin(
                    conn, chat_id, now, update_id=update_id, remembered=remembered,
                    optimistic=optimistic, hold=hold))
                try:
                    yield tx
                    await tx.finish()
                except ConflictError:
                    # Another process changed the chat: read it first from now on, after the
                    # next try, which starts from what the failed write found.
                    found = tx.found if isinstance(tx, PostgresAttempt) else None
                    self._recent.shared(chat_id, found)
                    raise
                except psycopg.errors.UndefinedTable:
                    if remembered is None:
                        raise
                    # With no read first, the write is where vanished tables show: decide
                    # again, on a first statement that migrates them (see _migrated_if_lost).
                    msg = f"the tables of chat {chat_ref(chat_id)} vanished since it was written"
                    raise ConflictError(msg) from None
                finally:
                    tx.close()
                if isinstance(tx, PostgresAttempt) and tx.written is not None:
                    self._recent.wrote(tx.written)
        if tx.enqueued and self._enqueued is not None:
            self._enqueued()

    async def _migrated_if_lost(self, conn: Connection, first: Callable[[], Awaitable[T]]) -> T:
        """Run a first statement on ``conn``; if the schema vanished, migrate and run it again.

        The first statement of a connection's turn is where a missing table shows; ``conn`` is
        out of any failed transaction by then.
        """
        try:
            return await first()
        except psycopg.errors.UndefinedTable:
            await self._migrate_again(conn)
            return await first()

    async def _migrate_again(self, conn: Connection) -> None:
        """Re-create a schema that vanished under a running bot (a database re-created empty)."""
        if not self._create:
            await check_postgres(conn, describe(self._url), POSTGRES)  # says why, one line
        log.warning("the PostgreSQL tables are missing (database re-created?); migrating again")
        await migrate(conn)

    async def probe_write(self) -> None:
        """Write a history row and roll it back (see ``Store``); a lost schema is redone."""
        async def write(conn: Connection) -> None:
            async with conn.transaction(force_rollback=True):
                await conn.execute("INSERT INTO events (chat_id, kind, data, at) "
                                   "VALUES (0, 'health', '{}', now())")

        async with self._require_pool().connection() as conn:
            await self._migrated_if_lost(conn, lambda: write(conn))

    async def _one_statement(self, statement: Callable[[Connection], Awaitable[T]]) -> T:
        """Run one statement on a pooled connection; a lost schema is redone.

        Each call outside an update is a single statement, atomic on its own, so it is sent
        without BEGIN and COMMIT around it (two round trips fewer).
        """
        refuse_inside_transaction(self, "a second connection")
        with without_row_data():
            async with self._require_pool().connection() as conn:
                return await self._migrated_if_lost(conn, lambda: statement(conn))

    # -- the outbox (outbox.py) -----------------------------------------------------------------

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, *, sent: Collection[int] = ()
    ) -> list[OutboxItem]:
        """Mark ``sent`` rows sent, then lease up to ``limit`` due rows, oldest due first."""
        if limit <= 0 and not sent:
            return []
        return await self._one_statement(
            lambda conn: outbox.claim_due(conn, now, limit, lease, sent))

    async def renew(self, item: OutboxItem, until: datetime) -> bool:
        """Extend the lease of a row this claim still holds; False if it is no longer ours."""
        return await self._one_statement(lambda conn: outbox.renew(conn, item, until))

    async def mark_sent(self, item_id: int, at: datetime) -> None:
        """Record that a claimed row was delivered; it is never claimed again."""
        await self._one_statement(lambda conn: outbox.mark_sent(conn, item_id, at))

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        """Release a claimed row to be due again at ``at``, keeping the error."""
        await self._one_statement(lambda conn: outbox.retry_later(conn, item_id, at, error))

    async def retire(self, item_id: int, at: datetime, error: str) -> None:
        """Give up on an unsent row Telegram refused: never claimed again, the error kept."""
        await self._one_statement(lambda conn: outbox.retire(conn, item_id, at, error))

    async def pending(self, chat_id: int) -> list[OutboxItem]:
        """A chat's unsent, uncancelled outbox rows, soonest first."""
        return await self._one_statement(lambda conn: outbox.pending(conn, chat_id))

    # -- sessions and events (sessions.py) ------------------------------------------------------

    async def deactivate(self, chat_id: int, at: datetime) -> None:
        """Mark a patient who blocked the bot inactive and cancel the chat's unsent rows."""
        async with self.transaction(chat_id, at) as tx:
            await deactivate_chat(tx)

    async def events(self, chat_id: int) -> list[Event]:
        """Return a chat's history, oldest first."""
        return await self._one_statement(lambda conn: sessions.events(conn, chat_id))

    async def patients(self, limit: int, offset: int) -> list[Patient]:
        """Return one page of patients ordered by chat id."""
        if limit <= 0:
            return []
        return await self._one_statement(lambda conn: sessions.patients_page(conn, limit, offset))

    # -- exports (exports.py) -------------------------------------------------------------------

    async def records(self, query: RecordQuery) -> AsyncGenerator[PatientRecord]:
        """Stream patients with their events from one named (server-side) cursor."""
        refuse_inside_transaction(self, "a second connection")
        with without_row_data():
            # aclosing: a reader stopping early ends the cursor before the connection goes back.
            async with (
                self._require_pool().connection() as conn,
                aclosing(exports.stream_records(conn, query)) as records,
            ):
                async for record in records:
                    yield record

    # -- retention (housekeeping.py) ------------------------------------------------------------

    async def prune_updates(self, older_than: datetime) -> int:
        """Forget update ids recorded before ``older_than``; return how many."""
        return await self._one_statement(lambda conn: housekeeping.prune_updates(conn, older_than))

    async def prune_history(self, older_than: datetime) -> int:
        """Delete outbox rows sent or cancelled before ``older_than``; return how many."""
        return await self._one_statement(lambda conn: housekeeping.prune_history(conn, older_than))

    async def idle_chats(self, idle_since: datetime, limit: int) -> list[int]:
        """Up to ``limit`` patients untouched since ``idle_since`` with nothing still to send."""
        return await self._one_statement(
            lambda conn: housekeeping.idle_chats(conn, idle_since, limit))
