"""Which clinic notifications wait for a person, and the queue item written for each.

A queue item is the ``clinic_queue`` event recorded in the patient's transaction where the clinic
is notified, so it commits with the update that caused it and is erased with the patient. The
rules (kinds, ranks, filters) are ``dialogues/dashboard/queue.yaml``; the queue itself is worked
in ``bot/clinic/queue.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.content import DIALOGUES_DIR
from bot.dialogue.turn import Message, Text
from bot.dialogue.yamlio import load_yaml
from bot.storage.base import Transaction
from bot.storage.dashboard_tables import QUEUE_EVENT

GROUPS = ("red_flags", "step_ups", "appointments", "others")
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


