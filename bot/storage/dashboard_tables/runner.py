"""How the dashboard's statements run on either backend: placeholders, times and JSON.

Each statement is written once with ``?`` placeholders; a small runner per backend adapts the
placeholders, the stored form of times and how a JSON value is read.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.storage.base import StorageError, utc
from bot.storage.postgres import PostgresStore, open_pool
from bot.storage.sqlite import SqliteStore
from bot.storage.sqlite_transaction import stamp

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg import AsyncConnection
    from psycopg.rows import TupleRow
    from psycopg_pool import AsyncConnectionPool

    from bot.storage.base import Store

Row = tuple[Any, ...]


class Runner(Protocol):
    """Runs one statement on one backend."""

    kind_sql: str  # reads the queue item's kind out of ``e.data``
    name_sql: str  # a patient's name as the messenger gave it, from ``p.session``
    username_sql: str
    step_sql: str  # a recommendation's step, from ``r.data``

    def time(self, moment: datetime) -> object:
        """A time as this backend stores it."""
        ...

    def read_time(self, value: object) -> datetime | None:
        """A stored time back as an aware UTC datetime."""
        ...

    def read_json(self, value: object) -> dict[str, Any]:
        """A stored JSON object back as a dict."""
        ...

    async def rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        """Run a statement in a transaction of its own; the rows it returns."""
        ...

    async def close(self) -> None:
        """Release what the runner opened."""
        ...


class _SqliteRunner:
    """Statements on the SQLite store's own thread and connection."""

    kind_sql = "json_extract(e.data, '$.kind')"
    name_sql = "json_extract(p.session, '$.care.contact.name')"
    username_sql = "json_extract(p.session, '$.care.contact.username')"
    step_sql = "json_extract(r.data, '$.recommendation.step')"

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def time(self, moment: datetime) -> object:
        return stamp(moment)

    def read_time(self, value: object) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value))

    def read_json(self, value: object) -> dict[str, Any]:
        data = json.loads(str(value))
        return data if isinstance(data, dict) else {}

    async def rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        def job(conn: sqlite3.Connection) -> list[Row]:
            return [tuple(row) for row in conn.execute(sql, tuple(params)).fetchall()]

        return await self.store.call(job)

    async def close(self) -> None:
        return None


class _PostgresRunner:
    """Statements through a small pool of the dashboard's own on the same database."""

    kind_sql = "e.data ->> 'kind'"
    name_sql = "p.session #>> '{care,contact,name}'"
    username_sql = "p.session #>> '{care,contact,username}'"
    step_sql = "r.data #>> '{recommendation,step}'"

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[TupleRow]]) -> None:
        self.pool = pool

    def time(self, moment: datetime) -> object:
        return utc(moment)

    def read_time(self, value: object) -> datetime | None:
        return utc(value) if isinstance(value, datetime) else None

    def read_json(self, value: object) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    async def rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(sql.replace("?", "%s"), tuple(params))
            return [tuple(row) for row in await cursor.fetchall()] if cursor.description else []

    async def close(self) -> None:
        await self.pool.close()


class OnRunner:
    """Tables whose every statement goes through one runner."""

    def __init__(self, runner: Runner) -> None:
        """Use ``runner`` for every statement."""
        self._run = runner


async def open_runner(store: Store, database_url: str | None = None) -> Runner:
    """A runner on the database of an open ``store``."""
    if isinstance(store, SqliteStore):
        return _SqliteRunner(store)
    if isinstance(store, PostgresStore):
        if database_url is None:
            msg = "the dashboard needs the PostgreSQL URL to open its own connections"
            raise StorageError(msg)
        pool = await open_pool(database_url, min_size=1, max_size=4, name="ldh-dashboard",
                               fill_within=10.0)
        return _PostgresRunner(pool)
    msg = f"the dashboard cannot use a {type(store).__name__}"
    raise StorageError(msg)
