"""The clinic's queue: items (history events of one kind), who took them and who finished them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.storage.base import StorageError
from bot.storage.dashboard_tables.runner import OnRunner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from bot.storage.dashboard_tables.runner import Row

QUEUE_EVENT = "clinic_queue"  # the event kind that is a queue item


@dataclass(frozen=True)
class QueueRow:
    """A queue item as stored: the event, and who took and finished it."""

    id: int
    chat_id: int
    at: datetime
    data: dict[str, Any]
    taken_by: int | None
    taken_at: datetime | None
    done_by: int | None
    done_at: datetime | None
    note: str


@dataclass(frozen=True)
class QueueHead:
    """What ranks an open item: its id, patient, time, kind and who took it."""

    id: int
    chat_id: int
    at: datetime
    kind: str
    taken_by: int | None


_QUEUE_COLUMNS = """e.id, e.chat_id, e.at, e.data, q.taken_by, q.taken_at, q.done_by,
                    q.done_at, q.note"""


class QueueTable(OnRunner):
    """Reads and writes of the queue's items and their state."""

    def _queue_row(self, row: Row) -> QueueRow:
        read = self._run.read_time
        at = read(row[2])
        if at is None:
            msg = "a queue item without a time"
            raise StorageError(msg)
        return QueueRow(int(row[0]), int(row[1]), at, self._run.read_json(row[3]),
                        row[4], read(row[5]), row[6], read(row[7]), str(row[8] or ""))

    async def open_items(self, limit: int) -> list[QueueRow]:
        """Queue items not yet done, newest first."""
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM events AS e
                  LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.kind = '{QUEUE_EVENT}' AND q.done_at IS NULL
                  ORDER BY e.id DESC LIMIT ?"""  # noqa: S608 -- constants of this module
        return [self._queue_row(row) for row in await self._run.rows(sql, (limit,))]

    async def open_heads(self, limit: int) -> list[QueueHead]:
        """What ranks and counts open items (no message): newest first."""
        sql = f"""SELECT e.id, e.chat_id, e.at, {self._run.kind_sql}, q.taken_by
                  FROM events AS e LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.kind = '{QUEUE_EVENT}' AND q.done_at IS NULL
                  ORDER BY e.id DESC LIMIT ?"""  # noqa: S608 -- constants of this module
        heads = []
        for row in await self._run.rows(sql, (limit,)):
            at = self._run.read_time(row[2])
            if at is not None:
                heads.append(QueueHead(int(row[0]), int(row[1]), at, str(row[3] or "unknown"),
                                       row[4]))
        return heads

    async def items(self, item_ids: Sequence[int]) -> list[QueueRow]:
        """Whole queue items by id, in the order asked (ids gone are left out)."""
        if not item_ids:
            return []
        marks = ", ".join("?" for _ in item_ids)
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM events AS e
                  LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.id IN ({marks}) AND e.kind = '{QUEUE_EVENT}'"""  # noqa: S608 -- placeholders only
        found = {row.id: row for row in
                 (self._queue_row(r) for r in await self._run.rows(sql, tuple(item_ids)))}
        return [found[item_id] for item_id in item_ids if item_id in found]

    async def done_items(self, limit: int) -> list[QueueRow]:
        """Queue items done, the latest done first."""
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM queue_state AS q
                  JOIN events AS e ON e.id = q.event_id
                  WHERE q.done_at IS NOT NULL ORDER BY q.done_at DESC LIMIT ?"""  # noqa: S608 -- constants of this module
        return [self._queue_row(row) for row in await self._run.rows(sql, (limit,))]

    async def item(self, item_id: int) -> QueueRow | None:
        """One queue item, or None when there is no such one (or it was erased)."""
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM events AS e
                  LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.id = ? AND e.kind = '{QUEUE_EVENT}'"""  # noqa: S608 -- constants of this module
        rows = await self._run.rows(sql, (item_id,))
        return self._queue_row(rows[0]) if rows else None

    async def patient_items(self, chat_id: int) -> list[QueueRow]:
        """A patient's queue items, oldest first."""
        sql = f"""SELECT {_QUEUE_COLUMNS} FROM events AS e
                  LEFT JOIN queue_state AS q ON q.event_id = e.id
                  WHERE e.chat_id = ? AND e.kind = '{QUEUE_EVENT}' ORDER BY e.id"""  # noqa: S608 -- constants of this module
        return [self._queue_row(row) for row in await self._run.rows(sql, (chat_id,))]

    async def take(self, item_id: int, staff_id: int, at: datetime) -> bool:
        """Assign an open item to ``staff_id``; False when it is gone or already done."""
        if await self.item(item_id) is None:
            return False
        sql = """INSERT INTO queue_state (event_id, taken_by, taken_at) VALUES (?, ?, ?)
                 ON CONFLICT (event_id) DO UPDATE SET taken_by = excluded.taken_by,
                     taken_at = excluded.taken_at
                 WHERE queue_state.done_at IS NULL
                 RETURNING event_id"""
        return bool(await self._run.rows(sql, (item_id, staff_id, self._run.time(at))))

    async def finish(self, item_id: int, staff_id: int, at: datetime, note: str) -> bool:
        """Mark an item done with a note; False when it is gone or was done already."""
        if await self.item(item_id) is None:
            return False
        moment = self._run.time(at)
        sql = """INSERT INTO queue_state (event_id, taken_by, taken_at, done_by, done_at, note)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (event_id) DO UPDATE SET done_by = excluded.done_by,
                     done_at = excluded.done_at, note = excluded.note,
                     taken_by = coalesce(queue_state.taken_by, excluded.taken_by),
                     taken_at = coalesce(queue_state.taken_at, excluded.taken_at)
                 WHERE queue_state.done_at IS NULL
                 RETURNING event_id"""
        params = (item_id, staff_id, moment, staff_id, moment, note)
        return bool(await self._run.rows(sql, params))
