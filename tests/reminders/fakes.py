"""A clock tests move by hand, a pacer that records its bookings, and a scripted sender."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.reminders.pacing import Pacer
from bot.reminders.sending import Gate, Outcome, Verdict
from bot.storage.base import OutboxItem

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class FakeClock:
    """Time that passes only when a test moves it or something sleeps on it."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return (self.current - T0).total_seconds()

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        assert moment >= self.current, "time never runs backwards"
        self.current = moment

    async def sleep(self, seconds: float) -> None:
        """At least ``seconds`` pass for the sleeper; sleepers overlap, as in real time."""
        self.slept.append(seconds)
        target = self.current + timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)
        self.current = max(self.current, target)


class RecordingPacer(Pacer):
    """A pacer on the fake clock that remembers every booking it made."""

    def __init__(self, clock: FakeClock, rate: float = 30.0) -> None:
        super().__init__(rate, clock=clock.monotonic, sleep=clock.sleep)
        self.bookings: list[tuple[int, float]] = []

    def reserve(self, chat_id: int, *, urgent: bool = False) -> float:
        moment = super().reserve(chat_id, urgent=urgent)
        self.bookings.append((chat_id, moment))
        return moment

    def times(self, chat_id: int) -> list[float]:
        return sorted(t for c, t in self.bookings if c == chat_id)


@dataclass
class Attempt:
    """One send the fake sender was asked for."""

    item_id: int
    chat_id: int
    skip: int
    at: datetime


@dataclass
class FakeSender:
    """Sends ``parts`` messages per row; scripted outcomes per chat are used up in order."""

    clock: FakeClock
    parts: int = 1
    script: dict[int, deque[Outcome]] = field(default_factory=lambda: defaultdict(deque))
    blocked: set[int] = field(default_factory=set)
    attempts: list[Attempt] = field(default_factory=list)
    delivered: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    raises: dict[int, Exception] = field(default_factory=dict)

    def then(self, chat_id: int, *outcomes: Outcome) -> None:
        self.script[chat_id].extend(outcomes)

    async def send(self, item: OutboxItem, gate: Gate, skip: int) -> Outcome:
        self.attempts.append(Attempt(item.id, item.chat_id, skip, self.clock.now()))
        if item.chat_id in self.raises:
            raise self.raises[item.chat_id]
        delivered = skip
        for part in range(skip, self.parts):
            await gate()
            if item.chat_id in self.blocked:
                return Outcome(Verdict.BLOCKED, delivered, cause="Forbidden")
            scripted = self.script[item.chat_id]
            if scripted:
                outcome = scripted.popleft()
                if outcome.verdict is not Verdict.SENT:
                    return Outcome(outcome.verdict, delivered, outcome.retry_after,
                                   outcome.cause, outcome.detail)
            self.delivered[item.id].append(part)
            delivered += 1
        return Outcome(Verdict.SENT, delivered)

    def sent_ids(self) -> list[int]:
        return sorted(i for i, parts in self.delivered.items() if len(parts) >= self.parts)


FLOOD = Outcome(Verdict.FLOOD, retry_after=3.0, cause="RetryAfter")
SENT = Outcome(Verdict.SENT)
FAILED = Outcome(Verdict.FAILED, cause="TimedOut", detail="Timed out")
REJECTED = Outcome(Verdict.REJECTED, cause="BadRequest", detail="Chat not found")
