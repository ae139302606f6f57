"""Telegram's sending budget shared through PostgreSQL, so several processes pace as one.

The overall limit is a timeline of slots ``1/rate`` seconds wide; a message books one slot
(a primary key, so two processes can never book the same one) at or after its chat's next
free moment, which the same call then moves on by the per-chat interval. Times are the
database's clock, so processes on machines whose clocks differ still agree. The tables are
UNLOGGED and made at start: pacing state is worthless after a crash and needs no migration.
"""

from __future__ import annotations

import logging
import math

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from bot.reminders.pacing import (
    CHAT_BURST,
    DEFAULT_RATE,
    REMINDER_HORIZON,
    SAFE_CHAT_INTERVAL,
    is_group,
)
from bot.storage.base import StorageError
from bot.storage.postgres import describe, open_pool

log = logging.getLogger(__name__)

Connection = psycopg.AsyncConnection[TupleRow]

GROUP_INTERVAL = 3.0  # 20 messages a minute to a group
SEARCH = 600  # slots looked at per booking: 20 s at 30/s, far beyond any reply's wait
PRUNE_CHANCE = 0.01  # share of bookings that also sweep slots and chats long past
POOL_TIMEOUT = 10.0  # seconds to fill the pacer's connection pool at start

_SCHEMA = (
    """CREATE UNLOGGED TABLE IF NOT EXISTS pacer_slots (slot BIGINT PRIMARY KEY)""",
    """CREATE UNLOGGED TABLE IF NOT EXISTS pacer_chats (
        chat_id BIGINT PRIMARY KEY,
        next_at DOUBLE PRECISION NOT NULL
    )""",
    # One round trip per message: lock the chat's row, book the first free slot from the
    # chat's next moment less its burst allowance (a reminder only within the horizon), move the
# chat's even-pace moment on. Returns the
    # seconds to wait, or NULL when a reminder finds nothing near (it asks again shortly).
    """CREATE OR REPLACE FUNCTION ldh_pace_book(
        p_chat BIGINT, p_rate DOUBLE PRECISION, p_gap DOUBLE PRECISION, p_allow DOUBLE PRECISION,
        p_horizon DOUBLE PRECISION, p_search INTEGER, p_prune BOOLEAN
    ) RETURNS DOUBLE PRECISION LANGUAGE plpgsql AS $$
    DECLARE
        now_s DOUBLE PRECISION := extract(epoch FROM clock_timestamp());
        ready DOUBLE PRECISION;
        first_slot BIGINT;
        chosen BIGINT;
    BEGIN
        IF p_prune THEN
            DELETE FROM pacer_slots WHERE slot < floor((now_s - 5) * p_rate);
            DELETE FROM pacer_chats WHERE next_at < now_s - 60;
        END IF;
        INSERT INTO pacer_chats (chat_id, next_at) VALUES (p_chat, 0)
            ON CONFLICT (chat_id) DO NOTHING;
        SELECT greatest(next_at - p_allow, now_s) INTO ready FROM pacer_chats
            WHERE chat_id = p_chat FOR UPDATE;
        IF p_horizon IS NOT NULL AND ready > now_s + p_horizon THEN
            RETURN NULL;
        END IF;
        first_slot := ceil(ready * p_rate)::BIGINT;
        LOOP
            SELECT s INTO chosen FROM generate_series(first_slot, first_slot + p_search) AS s
                WHERE NOT EXISTS (SELECT 1 FROM pacer_slots WHERE slot = s)
                ORDER BY s LIMIT 1;
            IF chosen IS NULL THEN
                first_slot := first_slot + p_search;
                CONTINUE;
            END IF;
            IF p_horizon IS NOT NULL AND chosen / p_rate > now_s + p_horizon THEN
                RETURN NULL;
            END IF;
            INSERT INTO pacer_slots (slot) VALUES (chosen) ON CONFLICT (slot) DO NOTHING;
            EXIT WHEN FOUND;  -- else another process took it in between: look again
        END LOOP;
        UPDATE pacer_chats SET next_at = greatest(next_at, chosen / p_rate) + p_gap
            WHERE chat_id = p_chat;
        RETURN greatest(0, chosen / p_rate - now_s);
    END $$""",
    """CREATE OR REPLACE FUNCTION ldh_pace_hold(
        p_chat BIGINT, p_seconds DOUBLE PRECISION, p_allow DOUBLE PRECISION
    ) RETURNS VOID LANGUAGE sql AS $$
        INSERT INTO pacer_chats (chat_id, next_at)
        VALUES (p_chat, extract(epoch FROM clock_timestamp()) + p_seconds + p_allow)
        ON CONFLICT (chat_id)
            DO UPDATE SET next_at = greatest(pacer_chats.next_at, EXCLUDED.next_at)
    $$""",
)


def _allowance(chat_id: int) -> float:
    """How far ahead of its even pace a reply may be sent: a private chat's short burst."""
    return 0.0 if is_group(chat_id) else (CHAT_BURST - 1) * SAFE_CHAT_INTERVAL


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
        """Make the pacing tables (if missing) and connect."""
        try:
            conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
            async with conn, conn.transaction():
                # Two processes starting together must not both create the same function.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ldh-bot pacer ' || "
                                   "current_schema()))")
                for statement in _SCHEMA:
                    await conn.execute(statement)
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

    async def book(self, chat_id: int, *, urgent: bool) -> float | None:
        """Book a slot shared with every process; seconds until it, or None (see ``Pace``)."""
        self._booked += 1
        prune = self._booked % round(1 / PRUNE_CHANCE) == 0
        gap = GROUP_INTERVAL if is_group(chat_id) else SAFE_CHAT_INTERVAL
        horizon = None if urgent else REMINDER_HORIZON
        async with self._require_pool().connection() as conn:
            cursor = await conn.execute(
                "SELECT ldh_pace_book(%s, %s, %s, %s, %s, %s, %s)",
                (chat_id, self._rate, gap, _allowance(chat_id) if urgent else 0.0, horizon,
                 SEARCH, prune),
            )
            row = await cursor.fetchone()
        return None if row is None or row[0] is None else float(row[0])

    async def hold(self, chat_id: int, retry_after: float) -> None:
        """Telegram answered 429: no process sends to this chat for ``retry_after`` seconds."""
        async with self._require_pool().connection() as conn:
            await conn.execute("SELECT ldh_pace_hold(%s, %s, %s)",
                               (chat_id, float(retry_after), _allowance(chat_id)))

    async def ready_in(self, chat_id: int) -> float:
        """Seconds until a message to this chat may go, the overall limit aside."""
        async with self._require_pool().connection() as conn:
            cursor = await conn.execute(
                """SELECT greatest(0, next_at - extract(epoch FROM clock_timestamp()))
                   FROM pacer_chats WHERE chat_id = %s""",
                (chat_id,),
            )
            row = await cursor.fetchone()
        return 0.0 if row is None else float(row[0])
