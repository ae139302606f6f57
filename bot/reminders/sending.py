"""What a channel's sender promises the dispatcher: one outbox row in, one Outcome out."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.storage.base import OutboxItem

# Called before every message a row sends: waits for the pacer, or raises Deferred (or the
# dispatcher's Fenced, when the claim no longer holds the row).
Gate = Callable[[], Awaitable[None]]


class Verdict(enum.Enum):
    """How Telegram took a row."""

    SENT = "sent"  # every part accepted
    FLOOD = "flood"  # 429: wait retry_after, then send the rest
    BLOCKED = "blocked"  # 403: the user blocked the bot (or the bot left the group)
    REJECTED = "rejected"  # 400 or an unrenderable payload: sending again cannot help
    FAILED = "failed"  # network error or timeout: try again later


@dataclass(frozen=True)
class Outcome:
    """A verdict and how far the row got; ``cause`` is safe to log, ``detail`` is not."""

    verdict: Verdict
    delivered: int = 0  # parts of the row accepted so far, the skipped ones included
    retry_after: float = 0.0
    cause: str = ""  # an exception class name
    detail: str = ""  # Telegram's description, kept in the outbox row only


class Deferred(Exception):  # noqa: N818  # a signal from the gate, not an error
    """Raised by a gate: do not send now; the row goes back to the outbox for ``delay`` s."""

    def __init__(self, delay: float, reason: str) -> None:
        """Put the row back, due again in ``delay`` seconds (0: at once)."""
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class Sender(Protocol):
    """Delivers one outbox row through a channel."""

    async def send(self, item: OutboxItem, gate: Gate, skip: int) -> Outcome:
        """Send the row's parts after the first ``skip`` (already delivered), each after ``gate``.

        ``Deferred`` raised by the gate must propagate; every Telegram error becomes an Outcome.
        """
        ...
