"""Stores that count their trips to the database, the outbox dispatcher's apart from updates'.

A trip is one hand-off to the database: on SQLite a job run on the store's thread, on
PostgreSQL one statement sent to the server (a transaction's BEGIN and COMMIT included), each a
network round trip. The dispatcher's calls are told apart by the task that makes them, so an
update that waits on a dispatcher's trip is never counted as its own.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import psycopg
from psycopg.rows import TupleRow

from bot.storage.postgres import PostgresStore
from bot.storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Collection
    from datetime import datetime, timedelta

    from psycopg import AsyncCursor, AsyncTransaction
    from psycopg.abc import Params, QueryNoTemplate

    from bot.storage.base import OutboxItem
    from bot.storage.sqlite_transaction import Job

T = TypeVar("T")

_DISPATCHING: ContextVar[bool] = ContextVar("bench_dispatching", default=False)


@dataclass
class Trips:
    """Trips of updates and of the dispatcher, and the outbox rows marked sent."""

    updates: int = 0
    dispatcher: int = 0
    messages: int = 0

    def count(self, trips: int = 1) -> None:
        """Add ``trips`` to whoever is making them."""
        if _DISPATCHING.get():
            self.dispatcher += trips
        else:
            self.updates += trips


class _DispatcherCalls:
    """The outbox calls the dispatcher makes, marked as its own; rows marked sent are counted."""

    trips: Trips

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, *, sent: Collection[int] = ()
    ) -> list[OutboxItem]:
        """Mark and claim as the store does, counted as the dispatcher's."""
        token = _DISPATCHING.set(True)
        try:
            claimed: list[OutboxItem] = await super().claim_due(  # type: ignore[misc]  # mixed into a store
                now, limit, lease, sent=sent)
        finally:
            _DISPATCHING.reset(token)
        self.trips.messages += len(sent)
        return claimed

    async def mark_sent(self, item_id: int, at: datetime) -> None:
        """Mark as the store does, counted as the dispatcher's."""
        token = _DISPATCHING.set(True)
        try:
            await super().mark_sent(item_id, at)  # type: ignore[misc]  # mixed into a store
        finally:
            _DISPATCHING.reset(token)
        self.trips.messages += 1

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        """Release as the store does, counted as the dispatcher's."""
        token = _DISPATCHING.set(True)
        try:
            await super().retry_later(item_id, at, error)  # type: ignore[misc]  # mixed into a store
        finally:
            _DISPATCHING.reset(token)

    async def retire(self, item_id: int, at: datetime, error: str) -> None:
        """Retire as the store does, counted as the dispatcher's."""
        token = _DISPATCHING.set(True)
        try:
            await super().retire(item_id, at, error)  # type: ignore[misc]  # mixed into a store
        finally:
            _DISPATCHING.reset(token)

    async def renew(self, item: OutboxItem, until: datetime) -> bool:
        """Renew as the store does, counted as the dispatcher's."""
        token = _DISPATCHING.set(True)
        try:
            renewed: bool = await super().renew(item, until)  # type: ignore[misc]  # mixed into a store
        finally:
            _DISPATCHING.reset(token)
        return renewed


class CountingSqliteStore(_DispatcherCalls, SqliteStore):
    """The SQLite store, counting its jobs on the database thread."""

    def __init__(self, path: Path | str) -> None:
        """A store on ``path`` with its trips at zero."""
        super().__init__(path)
        self.trips = Trips()

    async def _run(self, job: Job[T]) -> T:
        self.trips.count()
        return await super()._run(job)


class CountingConnection(psycopg.AsyncConnection[TupleRow]):
    """A connection that counts each statement and each transaction's BEGIN and COMMIT."""

    trips: Trips = Trips()  # replaced by the store that uses this class

    async def execute(  # type: ignore[override]  # the one form the store uses, not each overload
        self,
        query: QueryNoTemplate,
        params: Params | None = None,
        *,
        prepare: bool | None = None,
        binary: bool = False,
    ) -> AsyncCursor[TupleRow]:
        """Execute as psycopg does, counted as one round trip."""
        self.trips.count()
        return await super().execute(query, params, prepare=prepare, binary=binary)

    @asynccontextmanager
    async def transaction(
        self, savepoint_name: str | None = None, force_rollback: bool = False,  # noqa: FBT001, FBT002  # psycopg's own signature
    ) -> AsyncIterator[AsyncTransaction]:
        """A transaction as psycopg's, counted as two round trips (BEGIN, then its end)."""
        self.trips.count(2)
        async with super().transaction(savepoint_name, force_rollback) as tx:
            yield tx


class CountingPostgresStore(_DispatcherCalls, PostgresStore):
    """The PostgreSQL store, counting the statements its connections send."""

    def __init__(self, url: str) -> None:
        """A store on ``url`` with its trips at zero."""
        super().__init__(url)
        self.trips = Trips()
        trips = self.trips

        class Counting(CountingConnection):
            """Connections counting into this store's trips."""

        Counting.trips = trips
        self.connection_class = Counting
