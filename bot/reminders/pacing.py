"""Telegram's sending limits as a booking schedule, on an injected clock.

Every message books a moment: at least ``1/(rate x RATE_MARGIN)`` seconds from every other
booked moment (so no one-second window holds more than ``rate`` messages, with room to
spare), at least a second after the previous message to the same chat, and for a group no
more than 20 in any minute. Bookings are made in advance, so a chat that must wait never
holds up messages to other chats.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

DEFAULT_RATE = 30.0  # messages per second overall: Telegram's broadcast limit
# The overall pace the bot keeps is a little under the rate it may send at (29 a second at
# Telegram's 30), as the per-chat interval below is: messages reach Telegram a few milliseconds
# off their booked moments, and a budget spent to the last message turns that jitter into 429s.
RATE_MARGIN = 29.0 / 30.0
CHAT_INTERVAL = 1.0  # seconds between two messages to one chat, on average (Telegram's pace)
# What the bot keeps to: a little slower, since messages reach Telegram a few milliseconds
# earlier or later than booked, and a chat kept at its very limit would meet 429s ...
SAFE_CHAT_INTERVAL = 1.05
# ... with a short burst allowed, as Telegram does: a reply of three messages goes at once,
# its last a moment later. A burst empties Telegram's allowance for the chat, and the interval's
# margin refills it only slowly, so right after a burst a message that reaches Telegram late
# (its predecessor on time) would meet a 429: the bot's burst is short of Telegram's by this
# much, which is the lateness it tolerates (a busy process, a slow request, another instance).
CHAT_BURST = 3
BURST_JITTER = 0.3
GROUP_PER_MINUTE = 20  # messages to one group in any minute
GROUP_WINDOW = 60.0
SLOWDOWN = 0.75  # the overall rate is cut by this factor at each 429 ...
RECOVERY = 0.01  # ... and regains this fraction of the configured rate per quiet second
MIN_FACTOR = 0.1
PRUNE_EVERY = 1024  # bookings between sweeps of chats whose limits no longer bind
# A reminder books only a moment this close; later moments stay free for replies, which
# book the earliest one. So a patient's reply waits behind at most this much of a backlog.
REMINDER_HORIZON = 0.25
RETRY_BOOKING = 0.05  # seconds a reminder waits before asking again for a moment

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def burst_allowance(burst: int, interval: float) -> float:
    """How far ahead of its even pace a private chat may be sent to: its burst, less jitter."""
    return max(0.0, (burst - 1) * interval - BURST_JITTER)


def is_group(chat_id: int) -> bool:
    """Groups, supergroups and channels have negative ids; private chats positive ones."""
    return chat_id < 0


class Pace(Protocol):
    """One budget for everything the bot sends: replies and reminders, in one or many processes."""

    async def open(self) -> None:
        """Be ready to book (connect, where the budget is shared)."""
        ...

    async def close(self) -> None:
        """Release what ``open`` took."""
        ...

    async def book(self, chat_id: int, *, urgent: bool) -> float | None:
        """Book a moment to send to this chat; seconds until it, or None if none is near.

        An urgent message (a reply) always gets the earliest free moment; a reminder gets one
        only within ``REMINDER_HORIZON``, so replies go first.
        """
        ...

    async def hold(self, chat_id: int, retry_after: float) -> None:
        """Telegram answered 429: send nothing to this chat for ``retry_after`` seconds."""
        ...

    async def ready_in(self, chat_id: int) -> float:
        """Seconds until a message to this chat may go, the overall limit aside."""
        ...


async def acquire(pace: Pace, chat_id: int, *, urgent: bool, sleep: Sleep = asyncio.sleep) -> None:
    """Wait for a booked moment to send one message to this chat."""
    while (wait := await pace.book(chat_id, urgent=urgent)) is None:
        await sleep(RETRY_BOOKING)  # the near future is full: replies or other chats first
    if wait > 0:
        await sleep(wait)


class Pacer:
    """Books send moments that keep within Telegram's overall, per-chat and per-group limits."""

    def __init__(  # noqa: PLR0913  # each of Telegram's limits is a setting tests change
        self,
        rate: float = DEFAULT_RATE,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        chat_interval: float = CHAT_INTERVAL,
        group_per_minute: int = GROUP_PER_MINUTE,
        chat_burst: int = 1,
    ) -> None:
        """Pace at ``rate`` messages per second overall; ``clock`` counts seconds.

        A private chat may get ``chat_burst`` messages at once, then one per ``chat_interval``.
        """
        if not rate > 0 or not math.isfinite(rate):
            msg = f"the send rate must be a positive number of messages per second, not {rate}"
            raise ValueError(msg)
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._chat_interval = chat_interval
        self._chat_burst = max(1, chat_burst)
        self._group_limit = group_per_minute
        self._booked: list[float] = []  # sorted; only those recent enough to bind a new one
        # A chat's next moment were it sent at an even pace (a burst allowance ahead of it).
        self._chat_next: dict[int, float] = {}
        self._groups: dict[int, deque[float]] = {}  # a group's latest bookings, oldest first
        self._factor = 1.0  # share of the configured rate in force right after the last 429
        self._penalised_at = -math.inf
        self._since_prune = 0

    def rate(self) -> float:
        """The overall rate kept now (the margin included): lower for a while after a 429."""
        return self._rate * RATE_MARGIN * self._factor_at(self._clock())

    def _factor_at(self, now: float) -> float:
        return min(1.0, self._factor + RECOVERY * (now - self._penalised_at))

    def chat_ready(self, chat_id: int, *, urgent: bool = False) -> float:
        """The earliest moment a message to this chat may go, the overall limit aside.

        Only an urgent message (a reply) may use the chat's burst allowance.
        """
        now = self._clock()
        allowance = self._allowance(chat_id) if urgent else 0.0
        ready = max(now, self._chat_next.get(chat_id, now) - allowance)
        window = self._groups.get(chat_id)
        if window is not None and len(window) >= self._group_limit:
            ready = max(ready, window[0] + GROUP_WINDOW)
        return ready

    def _allowance(self, chat_id: int) -> float:
        """How far ahead of its even pace a chat may be sent to (its burst)."""
        return 0.0 if is_group(chat_id) else burst_allowance(self._chat_burst, self._chat_interval)

    def chat_wait(self, chat_id: int) -> float:
        """Seconds until a message to this chat may go, the overall limit aside."""
        return self.chat_ready(chat_id) - self._clock()

    def reserve(self, chat_id: int, *, urgent: bool = False) -> float:
        """Book the earliest moment a message to this chat may go, and return it."""
        now = self._clock()
        interval = 1.0 / (self._rate * RATE_MARGIN * self._factor_at(now))
        # Bookings further back than one interval can no longer bind a new one.
        del self._booked[: bisect.bisect_left(self._booked, now - interval)]
        moment = self._free_slot(self.chat_ready(chat_id, urgent=urgent), interval)
        bisect.insort(self._booked, moment)
        self._chat_next[chat_id] = (max(self._chat_next.get(chat_id, moment), moment)
                                    + self._chat_interval)
        if is_group(chat_id):
            window = self._groups.setdefault(chat_id, deque(maxlen=self._group_limit))
            window.append(moment)
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            self._prune(now)
        return moment

    def _free_slot(self, earliest: float, interval: float) -> float:
        """The first moment from ``earliest`` at least ``interval`` away from every booking."""
        moment = earliest
        start = bisect.bisect_left(self._booked, moment - interval)
        for booked in self._booked[start:]:
            if booked >= moment + interval:
                break  # a gap wide enough before this booking
            moment = max(moment, booked + interval)
        return moment

    async def open(self) -> None:
        """Nothing to open: this budget lives in the process."""

    async def close(self) -> None:
        """Nothing to release."""

    def peek(self, chat_id: int) -> float:
        """The moment ``reserve`` would book for this chat now, without booking it."""
        now = self._clock()
        interval = 1.0 / (self._rate * RATE_MARGIN * self._factor_at(now))
        return self._free_slot(self.chat_ready(chat_id), interval)

    async def book(self, chat_id: int, *, urgent: bool) -> float | None:
        """Book a moment (a reminder only a near one); seconds until it, or None."""
        if not urgent and self.peek(chat_id) > self._clock() + REMINDER_HORIZON:
            return None
        return max(0.0, self.reserve(chat_id, urgent=urgent) - self._clock())

    async def hold(self, chat_id: int, retry_after: float) -> None:
        """Telegram answered 429: hold the chat and slow down overall (see ``penalise``)."""
        self.penalise(chat_id, retry_after)

    async def ready_in(self, chat_id: int) -> float:
        """Seconds until a message to this chat may go, the overall limit aside."""
        return self.chat_wait(chat_id)

    async def acquire(self, chat_id: int) -> None:
        """Wait for a booked moment to send one message to this chat."""
        moment = self.reserve(chat_id)
        wait = moment - self._clock()
        if wait > 0:
            await self._sleep(wait)

    def penalise(self, chat_id: int, retry_after: float) -> None:
        """Telegram answered 429: hold the chat for ``retry_after`` and slow down overall."""
        now = self._clock()
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, now),
                                       now + retry_after + self._allowance(chat_id))
        self._factor = max(MIN_FACTOR, self._factor_at(now) * SLOWDOWN)
        self._penalised_at = now

    def _prune(self, now: float) -> None:
        """Forget chats whose limits no longer bind, so memory follows the active chats only."""
        self._since_prune = 0
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
        self._groups = {g: w for g, w in self._groups.items() if w[-1] + GROUP_WINDOW > now}

    def tracked_chats(self) -> int:
        """How many chats the pacer remembers (bounded by those sent to recently)."""
        return len(self._chat_next)
