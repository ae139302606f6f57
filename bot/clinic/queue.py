"""The clinic's queue as staff work it: filtered, most urgent first, taken and done."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.dialogue.turn import Message
from bot.queue_items import GROUPS, QueueRules, Rank
from bot.storage.dashboard_tables import DashboardTables, QueueHead, QueueRow

FILTERS = ("open", "red_flags", "step_ups", "appointments", "mine", "done")
OPEN_LIMIT = 2000  # open items read at once; a clinic's queue is worked down, not archived
SHOWN = 50  # rows of one page: the most urgent; the counts say how many there are in all
DONE_SHOWN = 100


@dataclass(frozen=True)
class QueueItem:
    """A queue item as staff see it."""

    row: QueueRow
    kind: str
    rank: Rank
    message: Message

    @property
    def id(self) -> int:
        """The item's id (its event's)."""
        return self.row.id

    def waited(self, now: datetime) -> int:
        """Whole minutes it has waited (until done, if it is)."""
        end = self.row.done_at or now
        return max(0, int((end - self.row.at).total_seconds() // 60))


def item_of(row: QueueRow, rules: QueueRules) -> QueueItem:
    """A stored row with its kind, rank and message."""
    kind = str(row.data.get("kind") or "unknown")
    raw = row.data.get("message")
    try:
        message = Message.from_json(raw) if isinstance(raw, list) else Message(())
    except (KeyError, TypeError, ValueError):
        message = Message(())
    return QueueItem(row, kind, rules.rank(kind), message)


@dataclass(frozen=True)
class QueueView:
    """The items of one filter, most urgent first, and the count of every filter."""

    items: list[QueueItem]
    counts: dict[str, int]
    total: int  # items of the chosen filter, of which ``items`` are the first ``SHOWN``
    # Name and username of the patients shown, where the messenger gave them.
    contacts: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)


class Queue:
    """Reads and works the queue."""

    def __init__(self, tables: DashboardTables, rules: QueueRules) -> None:
        """Work the queue kept in ``tables`` by ``rules``."""
        self.tables = tables
        self.rules = rules

    async def view(self, chosen: str, staff_id: int) -> QueueView:
        """The items of filter ``chosen`` (an unknown filter shows everything open).

        Every open item is ranked and counted from its head (kind, time, who took it); only
        the page shown is read whole.
        """
        heads = await self.tables.open_heads(OPEN_LIMIT)
        counts = dict.fromkeys(FILTERS, 0)
        for head in heads:
            counts["open"] += 1
            group = self.rules.rank(head.kind).group
            if group in counts:
                counts[group] += 1
            if head.taken_by == staff_id:
                counts["mine"] += 1
        if chosen == "done":
            done = [item_of(row, self.rules) for row in await self.tables.done_items(DONE_SHOWN)]
            counts["done"] = len(done)
            return QueueView(done, counts, len(done),
                             await self.tables.contacts([item.row.chat_id for item in done]))
        wanted = [head for head in heads if _matches(head, self.rules, chosen, staff_id)]
        # Most urgent first; within a rank, whoever has waited longest first.
        wanted.sort(key=lambda head: (self.rules.rank(head.kind).rank, head.at, head.id))
        rows = await self.tables.items([head.id for head in wanted[:SHOWN]])
        contacts = await self.tables.contacts([row.chat_id for row in rows])
        return QueueView([item_of(row, self.rules) for row in rows], counts, len(wanted),
                         contacts)

    async def take(self, item_id: int, staff_id: int, now: datetime) -> bool:
        """Assign an item to ``staff_id``."""
        return await self.tables.take(item_id, staff_id, now)

    async def done(self, item_id: int, staff_id: int, now: datetime, note: str) -> bool:
        """Mark an item done, with a note."""
        return await self.tables.finish(item_id, staff_id, now, note)

    async def of_patient(self, chat_id: int) -> list[QueueItem]:
        """A patient's items, oldest first."""
        return [item_of(row, self.rules) for row in await self.tables.patient_items(chat_id)]


def _matches(head: QueueHead, rules: QueueRules, chosen: str, staff_id: int) -> bool:
    if chosen == "mine":
        return head.taken_by == staff_id
    if chosen in GROUPS:
        return rules.rank(head.kind).group == chosen
    return True
