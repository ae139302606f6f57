"""The outbox in PostgreSQL: messages waiting to be sent, from enqueue to sent or retired."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.storage.base import JsonDict, OutboxItem, dump_json, trim_error, utc
from bot.storage.postgres.connection import count_of, rows_of

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from datetime import datetime, timedelta

    from psycopg.rows import TupleRow

    from bot.storage.postgres.connection import Connection

_OUTBOX_QUALIFIED = (
    "outbox.id, outbox.kind, outbox.chat_id, outbox.payload, outbox.due_at, outbox.attempts,"
    " outbox.dedupe_key"
)

_PENDING = """SELECT id, kind, chat_id, payload, due_at, attempts, dedupe_key FROM outbox
              WHERE chat_id = %s AND sent_at IS NULL AND cancelled_at IS NULL
              ORDER BY due_at, id"""


def item_of(row: TupleRow) -> OutboxItem:
    """An outbox item from a row of id, kind, chat_id, payload, due_at, attempts, dedupe_key."""
    item_id, kind, chat_id, payload, due_at, attempts, dedupe_key = row
    return OutboxItem(item_id, kind, chat_id, payload, utc(due_at), attempts, dedupe_key)


@dataclass(frozen=True)
class Queued:
    """An outbox row to add, its payload encoded as JSON when it was asked for."""

    kind: str
    chat_id: int
    payload: str
    due_at: datetime
    dedupe_key: str | None


def queued(kind: str, chat_id: int, payload: JsonDict, due_at: datetime,
           dedupe_key: str | None) -> Queued:
    """An outbox row as ``Transaction.enqueue`` asks for it."""
    return Queued(kind, chat_id, dump_json(payload), utc(due_at), dedupe_key)


async def enqueue(conn: Connection, row: Queued, *, about: int, now: datetime) -> None:
    """Add an outbox row naming the patient ``about``; a dedupe_key in use adds nothing."""
    await conn.execute(
        """INSERT INTO outbox (kind, chat_id, payload, due_at, dedupe_key, created_at, about)
           VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s)
           ON CONFLICT (dedupe_key) WHERE cancelled_at IS NULL DO NOTHING""",
        (row.kind, row.chat_id, row.payload, row.due_at, row.dedupe_key, now, about),
    )


def enqueue_after(rows: Sequence[Queued], now: datetime) -> tuple[str, tuple[object, ...]]:
    """A CTE adding ``enqueue``'s rows about ``saved``'s chat, in the order given."""
    if not rows:
        return "", ()
    values = ", ".join(["(%s::int, %s::text, %s::bigint, %s::jsonb, %s::timestamptz, %s::text)"]
                       * len(rows))
    params = tuple(value for n, row in enumerate(rows)
                   for value in (n, row.kind, row.chat_id, row.payload, row.due_at,
                                 row.dedupe_key))
    return (f""", queued AS (
                  INSERT INTO outbox (kind, chat_id, payload, due_at, dedupe_key, created_at,
                                      about)
                  SELECT q.kind, q.chat_id, q.payload, q.due_at, q.dedupe_key,
                         %s::timestamptz, saved.chat_id
                  FROM saved CROSS JOIN (VALUES {values})
                      AS q (n, kind, chat_id, payload, due_at, dedupe_key)
                  ORDER BY q.n
                  ON CONFLICT (dedupe_key) WHERE cancelled_at IS NULL DO NOTHING)""",  # noqa: S608 -- placeholders only
            (now, *params))


async def cancel(
    conn: Connection, chat_id: int, kinds: Collection[str] | None, now: datetime
) -> int:
    """Cancel a chat's unsent outbox rows (of the given kinds); return how many."""
    kind_list = None if kinds is None else sorted(kinds)
    return await count_of(
        conn,
        """UPDATE outbox SET cancelled_at = %s, lease_until = NULL
           WHERE chat_id = %s AND sent_at IS NULL AND cancelled_at IS NULL
             AND (%s::text[] IS NULL OR kind = ANY(%s::text[]))""",
        (now, chat_id, kind_list, kind_list),
    )


async def pending(conn: Connection, chat_id: int) -> list[OutboxItem]:
    """A chat's unsent, uncancelled outbox rows, soonest first."""
    return [item_of(r) for r in await rows_of(conn, _PENDING, (chat_id,))]


async def claim_due(
    conn: Connection, now: datetime, limit: int, lease: timedelta, sent: Collection[int]
) -> list[OutboxItem]:
    """Mark ``sent`` rows sent, then lease up to ``limit`` due rows, oldest due first.

    One statement, atomic on its own: the rows being marked are kept out of the claim, since
    both parts see the table as it was before the statement (a row whose lease ran out while
    it was being sent would otherwise look due).
    """
    now = utc(now)
    if limit <= 0:
        if sent:
            await mark_sent_many(conn, sent, now)
        return []
    marked = list(sent)
    rows = await rows_of(
        conn,
        f"""WITH marked AS (
                UPDATE outbox SET sent_at = %s, lease_until = NULL
                WHERE id = ANY(%s::bigint[]) AND sent_at IS NULL),
            due AS (
                SELECT id FROM outbox
                WHERE sent_at IS NULL AND cancelled_at IS NULL AND due_at <= %s
                  AND (lease_until IS NULL OR lease_until <= %s)
                  AND NOT (id = ANY(%s::bigint[]))
                ORDER BY due_at, id LIMIT %s
                FOR UPDATE SKIP LOCKED)
            UPDATE outbox SET lease_until = %s, attempts = outbox.attempts + 1
            FROM due WHERE outbox.id = due.id
            RETURNING {_OUTBOX_QUALIFIED}""",  # noqa: S608 -- constant column list
        (now, marked, now, now, marked, limit, now + lease),
    )
    return sorted((item_of(r) for r in rows), key=lambda i: (i.due_at, i.id))


async def renew(conn: Connection, item: OutboxItem, until: datetime) -> bool:
    """Extend the lease of a row this claim still holds; False if it is no longer ours."""
    # ``attempts`` grows with every claim, so it tells this claim from a later one.
    found = await rows_of(
        conn,
        """UPDATE outbox SET lease_until = %s
           WHERE id = %s AND attempts = %s AND sent_at IS NULL AND cancelled_at IS NULL
           RETURNING id""",
        (utc(until), item.id, item.attempts),
    )
    return bool(found)


async def mark_sent(conn: Connection, item_id: int, at: datetime) -> None:
    """Record that a claimed row was delivered; it is never claimed again."""
    await mark_sent_many(conn, (item_id,), at)


async def mark_sent_many(conn: Connection, item_ids: Collection[int], at: datetime) -> None:
    """Record that claimed rows were delivered, in one statement."""
    await conn.execute(
        """UPDATE outbox SET sent_at = %s, lease_until = NULL
           WHERE id = ANY(%s::bigint[]) AND sent_at IS NULL""",
        (utc(at), list(item_ids)),
    )


async def retry_later(conn: Connection, item_id: int, at: datetime, error: str) -> None:
    """Release a claimed row to be due again at ``at``, keeping the error."""
    await conn.execute(
        """UPDATE outbox SET due_at = %s, lease_until = NULL, last_error = %s
           WHERE id = %s AND sent_at IS NULL""",
        (utc(at), trim_error(error), item_id),
    )


async def retire(conn: Connection, item_id: int, at: datetime, error: str) -> None:
    """Give up on an unsent row Telegram refused: never claimed again, the error kept."""
    await conn.execute(
        """UPDATE outbox SET cancelled_at = %s, lease_until = NULL, last_error = %s
           WHERE id = %s AND sent_at IS NULL AND cancelled_at IS NULL""",
        (utc(at), trim_error(error), item_id),
    )
