"""Telegram's sending budget shared through PostgreSQL, so several processes pace as one.

The overall limit is a timeline of slots ``1/rate`` seconds wide; a message books one slot
(a primary key, so two processes can never book the same one) at or after its chat's next
free moment, which the same call then moves on by the per-chat interval. Times are the
database's clock, so processes on machines whose clocks differ still agree. The tables and
functions are made by the path that migrates the store (``bot.storage.postgres_pacing``), at
start and again whenever they are found missing: a database re-created under a running bot
costs one repair, not every message until a restart.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
import psycopg.errors
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from bot.reminders.pacing import (
    CHAT_BURST,
    DEFAULT_RATE,
    RATE_MARGIN,
    REMINDER_HORIZON,
    SAFE_CHAT_INTERVAL,
    burst_allowance,
    is_group,
)
from bot.storage.base import StorageError
from bot.storage.postgres import describe, migrate, open_pool

log = logging.getLogger(__name__)

Connection = psycopg.AsyncConnection[TupleRow]
T = TypeVar("T")
# What a database re-created under the bot looks like to a booking: its objects are gone.
_MISSING = (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction)

GROUP_INTERVAL = 3.0  # 20 messages a minute to a group
SEARCH = 600  # slots looked at per booking: 20 s at 30/s, far beyond any reply's wait
PRUNE_CHANCE = 0.01  # share of bookings that also sweep slots and chats long past
POOL_TIMEOUT = 10.0  # seconds to fill the pacer's connection pool at start

def _allowance(chat_id: int) -> float:
    """How far ahead of its even pace a reply may be sent: a private chat's short burst."""
    return 0.0 if is_group(chat_id) else burst_allowance(CHAT_BURST, SAFE_CHAT_INTERVAL)


class PostgresPacer:
    """The one sending budget of every process on this database (see the module's note)."""

    def __init__(self, url: str, rate: float = DEFAULT_RATE, *, max_size: int = 4) -> None:
        """Pace at ``rate`` messages per second overall, shared with every process on ``url``."""
        if not rate > 0 or not math.isfinite(rate):
            msg = f"the send rate must be a positive number of messages per second, not {rate}"
            raise ValueError(msg)
        self._url = url
        self._rate = rate
        self._max_size = max_size
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._booked = 0

    async def open(self) -> None:
        """Migrate as the store does (the pacing objects with it) and connect."""
        try:
            conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
            async with conn:
                await migrate(conn)
        except psycopg.OperationalError as exc:
            msg = f"cannot connect to PostgreSQL at {describe(self._url)}: {exc}".strip()
            raise StorageError(msg) from exc
        self._pool = await open_pool(self._url, min_size=1, max_size=self._max_size,
                                     name="ldh-bot-pacer", fill_within=POOL_TIMEOUT)

    async def close(self) -> None:
        """Release the connections."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _require_pool(self) -> AsyncConnectionPool[Connection]:
        if self._pool is None:
            msg = "the PostgreSQL pacer is not open"
            raise StorageError(msg)
        return self._pool

    async def _repairing(self, call: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``call`` on a pooled connection; if the pacing objects are gone, re-make them once.

        The store's own tables are re-made the same way, by the same ``migrate``.
        """
        async with self._require_pool().connection() as conn:
            try:
                return await call(conn)
            except _MISSING as error:
                log.warning("the pacer's tables are missing (%s: database re-created?); "
                            "migrating again", type(error).__name__)
                await migrate(conn)
                return await call(conn)

    async def book(self, chat_id: int, *, urgent: bool) -> float | None:
        """Book a slot shared with every process; seconds until it, or None (see ``Pace``)."""
        self._booked += 1
        prune = self._booked % round(1 / PRUNE_CHANCE) == 0
        gap = GROUP_INTERVAL if is_group(chat_id) else SAFE_CHAT_INTERVAL
        horizon = None if urgent else REMINDER_HORIZON
        params = (chat_id, self._rate * RATE_MARGIN, gap, _allowance(chat_id) if urgent else 0.0,
                  horizon, SEARCH, prune)

        async def call(conn: Connection) -> float | None:
            cursor = await conn.execute("SELECT ldh_pace_book(%s, %s, %s, %s, %s, %s, %s)",
                                        params)
            row = await cursor.fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return await self._repairing(call)

    async def hold(self, chat_id: int, retry_after: float) -> None:
        """Telegram answered 429: no process sends to this chat for ``retry_after`` seconds."""

        async def call(conn: Connection) -> None:
            await conn.execute("SELECT ldh_pace_hold(%s, %s, %s)",
                               (chat_id, float(retry_after), _allowance(chat_id)))

        await self._repairing(call)

    async def ready_in(self, chat_id: int) -> float:
        """Seconds until a message to this chat may go, the overall limit aside."""

        async def call(conn: Connection) -> float:
            cursor = await conn.execute(
                """SELECT greatest(0, next_at - extract(epoch FROM clock_timestamp()))
                   FROM pacer_chats WHERE chat_id = %s""",
                (chat_id,),
            )
            row = await cursor.fetchone()
            return 0.0 if row is None else float(row[0])

        return await self._repairing(call)
