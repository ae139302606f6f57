"""Deleting what is kept in PostgreSQL: retention (pruning, idle chats) and a patient's forget."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.storage.base import Forgotten, utc
from bot.storage.postgres.connection import count_of, rows_of

if TYPE_CHECKING:
    from datetime import datetime

    from bot.storage.postgres.connection import Connection

# A patient is idle when neither they nor the clinic touched their record since the cutoff and
# nothing to them, or about them, is still waiting to be sent.
_IDLE = """SELECT p.chat_id FROM patients AS p
           WHERE p.session IS NOT NULL AND p.updated_at < %s
             AND NOT EXISTS (SELECT 1 FROM events AS e
                             WHERE e.chat_id = p.chat_id AND e.at >= %s)
             AND NOT EXISTS (SELECT 1 FROM outbox AS o
                             WHERE (o.chat_id = p.chat_id OR o.about = p.chat_id)
                               AND o.sent_at IS NULL AND o.cancelled_at IS NULL)
           ORDER BY p.updated_at, p.chat_id LIMIT %s"""


async def prune_updates(conn: Connection, older_than: datetime) -> int:
    """Forget update ids recorded before ``older_than``; return how many."""
    return await count_of(conn, "DELETE FROM updates WHERE seen_at < %s", (utc(older_than),))


async def prune_history(conn: Connection, older_than: datetime) -> int:
    """Delete outbox rows sent or cancelled before ``older_than``; return how many."""
    return await count_of(
        conn,
        """DELETE FROM outbox
           WHERE coalesce(sent_at, cancelled_at) < %s""",
        (utc(older_than),),
    )


async def idle_chats(conn: Connection, idle_since: datetime, limit: int) -> list[int]:
    """Up to ``limit`` patients untouched since ``idle_since`` with nothing still to send."""
    rows = await rows_of(conn, _IDLE, (utc(idle_since), utc(idle_since), limit))
    return [int(r[0]) for r in rows]


async def forget(conn: Connection, chat_id: int) -> Forgotten:
    """Delete everything kept about a chat, in ``conn``'s transaction; say what was deleted."""
    chat = (chat_id,)
    patient = await conn.execute(
        "DELETE FROM patients WHERE chat_id = %s RETURNING session IS NOT NULL", chat
    )
    row = await patient.fetchone()
    events = await conn.execute("DELETE FROM events WHERE chat_id = %s", chat)
    own = await conn.execute("DELETE FROM outbox WHERE chat_id = %s", chat)
    others = await conn.execute("DELETE FROM outbox WHERE about = %s", chat)
    # The pacer's note of when the chat may next be sent to names it too (its table is there
    # wherever this version migrated; a database only read so far may lack it).
    pacer = await conn.execute("SELECT to_regclass('pacer_chats') IS NOT NULL")
    if (found := await pacer.fetchone()) is not None and found[0]:
        await conn.execute("DELETE FROM pacer_chats WHERE chat_id = %s", chat)
    return Forgotten(
        patient=bool(row and row[0]),
        events=events.rowcount,
        outbox=own.rowcount,
        notifications=others.rowcount,
    )
