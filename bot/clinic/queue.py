"""The clinic's queue: every notification that needs a person, who took it, when it was done.

A queue item is the ``clinic_queue`` event recorded in the patient's transaction where the clinic
is notified, so it commits with the update that caused it and is erased with the patient.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.content import DIALOGUES_DIR
from bot.dialogue.turn import Message, Text
from bot.dialogue.yamlio import load_yaml
from bot.storage.base import Transaction
from bot.storage.dashboard_tables import QUEUE_EVENT, DashboardTables, QueueHead, QueueRow

GROUPS = ("red_flags", "step_ups", "appointments", "others")
FILTERS = ("open", "red_flags", "step_ups", "appointments", "mine", "done")
OPEN_LIMIT = 2000  # open items read at once; a clinic's queue is worked down, not archived
SHOWN = 50  # rows of one page: the most urgent; the counts say how many there are in all
DONE_SHOWN = 100
_ALERT = "clinic.alert."


@dataclass(frozen=True)
class Rank:
    """Where a kind of item is counted, and how urgent it is (0 first)."""

    group: str
    rank: int


@dataclass(frozen=True)
class QueueRules:
    """The queue's rules from ``dialogues/dashboard/queue.yaml``."""

    kinds: Mapping[str, Rank]
    unknown: Rank
    not_queued: frozenset[str] = field(default_factory=frozenset)

    def rank(self, kind: str) -> Rank:
        """The rank of a kind; an unknown kind is ranked as the file says (as a red flag)."""
        return self.kinds.get(kind, self.unknown)


def load_rules(directory: Path = DIALOGUES_DIR) -> QueueRules:
    """Read the queue's rules; a malformed file is an error at start, not a guess."""
    path = directory / "dashboard" / "queue.yaml"
    data = load_yaml(path)
    if not isinstance(data, dict):
        msg = f"{path}: a mapping is required"
        raise TypeError(msg)

    def rank(value: object, name: str) -> Rank:
        if not isinstance(value, dict) or value.get("group") not in GROUPS or not isinstance(
                value.get("rank"), int):
            msg = f"{path}: {name} needs a group (one of {', '.join(GROUPS)}) and a whole rank"
            raise TypeError(msg)
        return Rank(str(value["group"]), int(value["rank"]))

    kinds = data.get("kinds")
    if not isinstance(kinds, dict):
        msg = f"{path}: 'kinds' is required"
        raise TypeError(msg)
    return QueueRules({str(k): rank(v, str(k)) for k, v in kinds.items()},
                      rank(data.get("unknown"), "unknown"),
                      frozenset(str(k) for k in data.get("not_queued") or ()))


def kind_of(parts: Sequence[Text]) -> str:
    """The kind of a notification: its first text key's last part; routine with alerts: alert."""
    if not parts:
        return "unknown"
    kind = parts[0].key.rsplit(".", 1)[-1]
    if kind == "routine" and alerts_of(parts):
        return "alert"
    return kind


def alerts_of(parts: Iterable[Text]) -> list[str]:
    """The alerts named anywhere in a notification's texts."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, Text):
            if value.key.startswith(_ALERT):
                found.append(value.key.removeprefix(_ALERT))
            for inner in value.values.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for part in parts:
        walk(part)
    return found


async def add(tx: Transaction, rules: QueueRules, parts: Sequence[Text]) -> bool:
    """Queue a clinic notification for a person, in the patient's transaction; whether it was."""
    kind = kind_of(parts)
    if kind == "alert":
        # A routine screening with alerts is as urgent as its most urgent alert that the rules
        # name (an unclear red flag outranks severe pain).
        named = sorted((rules.kinds[alert].rank, alert) for alert in alerts_of(parts)
                       if alert in rules.kinds)
        kind = named[0][1] if named else kind
    if kind in rules.not_queued:
        return False
    await tx.record_event(QUEUE_EVENT, {"kind": kind, "alerts": alerts_of(parts),
                                        "message": Message(tuple(parts)).to_json()})
    return True


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
