"""Connections to PostgreSQL: pools, driver errors without row data, one statement's run."""

from __future__ import annotations

import select
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.storage.base import ConflictError, StorageError

if TYPE_CHECKING:
    from collections.abc import Iterator

Connection = psycopg.AsyncConnection[TupleRow]

# SQLSTATEs that mean "another transaction got in the way": the update may simply be redone.
_CONFLICTS = frozenset({"40001", "40P01"})


async def open_pool(  # noqa: PLR0913  # each a setting of the pool, named at the call
    url: str, *, min_size: int, max_size: int, name: str, fill_within: float,
    connection_class: type[Connection] = psycopg.AsyncConnection,
) -> AsyncConnectionPool[Connection]:
    """A pool of autocommit connections, filled within ``fill_within`` s; else StorageError."""
    pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
        url, min_size=min_size, max_size=max_size, open=False, kwargs={"autocommit": True},
        connection_class=connection_class,
        # Checked on checkout so a server restart costs a reconnect, not a failed update.
        check=check_if_stirred, name=name,
    )
    try:
        await pool.open(wait=True, timeout=fill_within)
    except PoolTimeout as exc:
        await pool.close()
        msg = f"cannot fill a connection pool for PostgreSQL at {describe(url)}"
        raise StorageError(msg) from exc
    return pool


async def check_if_stirred(conn: Connection) -> None:
    """Ask the server whether a pooled connection works, but only when its socket has stirred.

    A connection idle in the pool has nothing to read unless the server spoke first: a restart,
    a terminated backend or a dropped database leaves its closing message or end-of-file there.
    A quiet socket is lent as it is, which saves every transaction a round trip; one that
    stirred is asked, and a dead one raises, so the pool replaces it with a fresh connection.
    """
    if conn.closed:
        msg = "the connection is closed"
        raise psycopg.OperationalError(msg)
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


def describe(url: str) -> str:
    """Name a server for error messages without its password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable connection string>"
    user = f"{info['user']}@" if info.get("user") else ""
    host = info.get("host") or "localhost"
    return f"{user}{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


@contextmanager
def without_row_data() -> Iterator[None]:
    """Turn a driver error into ours with its first line only.

    PostgreSQL's DETAIL quotes the row a statement failed on ("Key (chat_id)=(...)", "Failing
    row contains (...)"): chat ids and sessions that must not reach a log, even chained.
    """
    try:
        yield
    except psycopg.Error as error:
        primary = error.diag.message_primary or type(error).__name__
        kind = ConflictError if error.sqlstate in _CONFLICTS else StorageError
        msg = f"PostgreSQL: {primary} (SQLSTATE {error.sqlstate or 'unknown'})"
        raise kind(msg) from None


async def rows_of(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[TupleRow]:
    """Run one statement on ``conn``; its rows, or none if it returns none."""
    cursor = await conn.execute(sql, params)
    return await cursor.fetchall() if cursor.description else []


async def count_of(conn: Connection, sql: str, params: tuple[Any, ...]) -> int:
    """Run one statement on ``conn``; how many rows it touched."""
    cursor = await conn.execute(sql, params)
    return cursor.rowcount
