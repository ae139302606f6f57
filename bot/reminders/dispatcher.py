"""The outbox dispatcher: claims due rows, sends them paced, and records what Telegram said.

A row is leased when claimed and marked sent only after Telegram accepts it, so a crash loses
nothing: the rows a killed process held become claimable again when their lease runs out.
The price is at-least-once delivery: a row Telegram accepted just before the kill, but not yet
marked sent, is sent again. Delivered rows are marked sent in the same trip to the store as
the next claim (a trip per batch, not two per message), within ``MARK_WITHIN`` seconds and
before ``concurrency`` of them wait; with the rows in flight, at most ``2 * concurrency`` rows
are between "sending" and "marked" at any moment, which bounds those duplicates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

from bot.clock import Clock, system_clock
from bot.logsafe import chat_ref
from bot.ops import metrics
from bot.outbox import expires_at
from bot.reminders.pacing import REMINDER_HORIZON, RETRY_BOOKING, Pace, Pacer
from bot.reminders.sending import Deferred, Outcome, Sender, Verdict
from bot.storage.base import OutboxItem, Store
from bot.storage.faults import is_storage_fault

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

DEFAULT_CONCURRENCY = 16  # rows sending at once; ~rate x round trip is enough, more only waits
# Short, so rows held by a killed process come back soon after a restart; long enough for the
# pacer's wait plus one send's timeouts, which the gate checks before every message.
LEASE = timedelta(seconds=30)
SEND_BUDGET = 20.0  # seconds of lease a message needs left: the pacer's wait plus PTB's timeouts
MAX_HOLD = 5.0  # a chat not sendable within this goes back to the outbox instead of waiting
POLL = 1.0  # seconds between looks at the outbox when nothing wakes the dispatcher
FLOOD_ROUNDS = 5  # 429s in a row on one row before it goes back to the outbox
BACKOFF_BASE = 5.0  # seconds before the first retry after a network error, doubling after
BACKOFF_MAX = 900.0
MARK_ATTEMPTS = 3
MARK_WITHIN = 0.25  # seconds a delivered row may wait to be marked with the next claim
# After a wake, rows queued this soon after are claimed in the same trip (under load, updates
# queue rows a few milliseconds apart); a message waits this much longer, at most.
GATHER = 0.01
# A claim (or renewal) this recent is its own fence: no other claim can hold the row before
# its lease runs out. The price: a cancellation (stop reminders, /forget) within this half
# second of the claim may not stop the send, as one just after a renewal never could.
FRESH_CLAIM = timedelta(seconds=0.5)
STORE_BACKOFF_MAX = 30.0
STOP_GRACE = 10.0  # seconds in-flight sends get to finish at shutdown
# Failures this old with no attempt since are not held against the dispatcher (its rows are
# waiting out a backoff); newer ones make a streak that /healthz reads (``failing_for``).
FAILURE_MEMORY = timedelta(minutes=1)
MAX_PROGRESS = 10_000  # partly sent rows remembered; beyond, the oldest may resend a part


class Fenced(Exception):  # noqa: N818  # a signal from the gate, not an error
    """The row's lease ran out and another claim holds it now: this claim must not send."""


class _Lease:
    """Until when this process holds a claimed row, and when the store last said so."""

    def __init__(self, until: datetime, checked: datetime) -> None:
        self.until = until
        self.checked = checked


def backoff(attempts: int) -> float:
    """Seconds before retrying a row that failed on its ``attempts``-th claim."""
    return min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** max(0, min(attempts - 1, 20)))


class Dispatcher:
    """Sends due outbox rows through a Sender, within Telegram's limits, until stopped."""

    def __init__(  # noqa: PLR0913  # every collaborator is injected, so tests can replace it
        self,
        store: Store,
        sender: Sender,
        *,
        clock: Clock = system_clock,
        sleep: Sleep = asyncio.sleep,
        pacer: Pace | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        lease: timedelta = LEASE,
        poll: float = POLL,
    ) -> None:
        """Deliver ``store``'s rows through ``sender``; ``clock`` and ``sleep`` are injected."""
        if concurrency < 1:
            msg = f"concurrency must be at least 1, not {concurrency}"
            raise ValueError(msg)
        self._store = store
        self._sender = sender
        self._clock = clock
        self._sleep = sleep
        self._pacer: Pace = pacer or Pacer(clock=lambda: clock().timestamp(), sleep=sleep)
        self._lease = lease
        self._poll = poll
        self._slots = asyncio.Semaphore(concurrency)
        self._booking = asyncio.Lock()
        # Claimed rows wait here for a slot; twice the slots keeps the pipe full between claims.
        self._capacity = 2 * concurrency
        self._tasks: set[asyncio.Task[None]] = set()
        self._holding: set[int] = set()  # ids of rows this process holds now
        # The latest claim (its attempts count) this process made on each row it holds: a row
        # whose lease ran out may be claimed again here, and its task then sends for that claim.
        self._claims: dict[int, int] = {}
        # Parts of a row already delivered, so a retry in this process sends only the rest.
        self._progress: dict[int, int] = {}
        # Rows delivered and not yet marked sent (id -> kind): marked with the next claim.
        self._sent: dict[int, str] = {}
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        # Since when every attempt failed (None: the last one that ended did not), and the last.
        self._failing_since: datetime | None = None
        self._last_failure: datetime | None = None

    @property
    def concurrency(self) -> int:
        """Rows sending at once at most: the bound on duplicates after a crash."""
        return self._capacity // 2

    @property
    def running(self) -> bool:
        """True while the claim loop runs: what the health check asks."""
        return self._runner is not None and not self._runner.done()

    def failing_for(self) -> float:
        """Seconds every attempt has failed, while failures go on; 0 when it is not failing.

        Failures that stopped (nothing attempted since) are not held against it: the rows
        wait out their backoff and the next attempt decides.
        """
        since, last = self._failing_since, self._last_failure
        now = self._clock()
        if since is None or last is None or now - last > FAILURE_MEMORY:
            return 0.0
        return (now - since).total_seconds()

    def _failed(self) -> None:
        now = self._clock()
        if self._failing_since is None:
            self._failing_since = now
        self._last_failure = now

    def _succeeded(self) -> None:
        self._failing_since = None

    def wake(self) -> None:
        """Look at the outbox now: something was just enqueued."""
        self._wake.set()

    def start(self) -> None:
        """Run in the background until ``stop``."""
        if self._runner is None:
            self._stopping.clear()
            self._runner = asyncio.create_task(self.run(), name="outbox-dispatcher")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Claim nothing more, let sends in flight finish (up to ``grace`` s), then return."""
        self._stopping.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in late:
                task.cancel()  # its row stays leased and comes back when the lease runs out
            await asyncio.gather(*late, return_exceptions=True)
        await self._flush_marks()

    async def run(self) -> None:
        """Claim and send due rows until ``stop``; storage faults are logged and retried."""
        failures = 0
        while not self._stopping.is_set():
            try:
                claimed, asked = await self._fill()
            except Exception as error:  # noqa: BLE001  # any database fault: wait and retry
                failures += 1
                self._failed()
                metrics.error("storage")
                pause = min(STORE_BACKOFF_MAX, self._poll * 2.0**failures)
                log.warning("cannot claim outbox rows (%s); retrying in %.0f s",
                            type(error).__name__, pause)
                await self._idle(pause)
                continue
            failures = 0
            if asked > 0 and claimed < asked:
                # Nothing more is due: wait for a wake or a poll, or mark what was delivered.
                if await self._idle(MARK_WITHIN if self._sent else self._poll):
                    await self._until(self._stopping, GATHER)
            elif len(self._tasks) >= self._capacity:
                await self._until(self._room)

    async def drain(self) -> int:
        """Send every row due now and wait for each outcome; return how many were claimed."""
        handled = 0
        while True:
            claimed, _ = await self._fill()
            handled += claimed
            if not self._tasks:
                await self._flush_marks()
                return handled
            await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)

    async def _fill(self) -> tuple[int, int]:
        """Mark delivered rows and claim due ones into free room; return (claimed, asked for)."""
        self._room.clear()
        asked = self._capacity - len(self._tasks)
        if asked <= 0:
            return 0, 0
        now = self._clock()
        sent = dict(self._sent)
        items = await self._store.claim_due(now, asked, self._lease, sent=list(sent))
        self._marked(sent)
        for item in items:
            self._claims[item.id] = item.attempts
            if item.id in self._holding:
                continue  # still ours (its lease ran out while it waited): never send it twice
            self._holding.add(item.id)
            metrics.REMINDERS_DUE.labels(item.kind).inc()
            task = asyncio.create_task(self._deliver(item, _Lease(now + self._lease, now)))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(items), asked

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.set()
        error = None if task.cancelled() else task.exception()
        if error is not None:
            # The send's own faults are outcomes: this is recording one (the database) or a
            # bug. The row comes back when its lease runs out.
            self._failed()
            if is_storage_fault(error):
                metrics.error("storage")
                log.error("outbox delivery could not be recorded: %s", type(error).__name__)
            else:
                log.error("outbox delivery task failed", exc_info=error)

    async def _idle(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if woken or stopped; True if woken."""
        await self._until(self._wake, seconds)
        woken = self._wake.is_set()
        self._wake.clear()
        return woken

    async def _until(self, event: asyncio.Event, seconds: float | None = None) -> None:
        """Wait for ``event``, ``stop`` or ``seconds`` on the injected sleep, the first of them."""
        waits: set[asyncio.Future[object]] = {
            asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._stopping.wait())
        }
        if seconds is not None:
            waits.add(asyncio.ensure_future(self._sleep(seconds)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _deliver(self, item: OutboxItem, deadline: _Lease) -> None:
        """Send one claimed row and record the outcome; the row is released on every path."""
        try:
            async with self._slots:
                await self._attempt(item, deadline)
        finally:
            self._holding.discard(item.id)
            self._claims.pop(item.id, None)

    async def _attempt(self, item: OutboxItem, deadline: _Lease) -> None:
        expiry = expires_at(item.payload)
        if expiry is not None and self._clock() >= expiry:
            log.info("outbox row %d (%s) expired before it could be sent; retired",
                     item.id, item.kind)
            await self._store.retire(item.id, self._clock(), "expired before it could be sent")
            return
        skip = self._progress.pop(item.id, 0)
        flooded = ""  # the last 429 on this row, kept as the reason when it goes back
        for _ in range(FLOOD_ROUNDS):
            passed = 0

            async def gate() -> None:
                nonlocal passed
                await self._gate(item, deadline)
                passed += 1

            try:
                outcome = await self._sender.send(item, gate, skip)
            except Fenced:
                log.info("outbox row %d was claimed again while it waited to be sent; left to "
                         "that claim", item.id)
                return
            except Deferred as deferred:
                reason = f"{flooded}; {deferred.reason}" if flooded else deferred.reason
                await self._release(item, deadline, skip + passed, deferred.delay, reason)
                return
            except Exception as error:  # a sender bug must not lose the row
                if is_storage_fault(error):  # the shared pacer's database: one line, no trace
                    metrics.error("storage")
                    log.warning("outbox row %d could not be paced (%s); retried later",
                                item.id, type(error).__name__)
                else:
                    log.exception("sending outbox row %d raised %s", item.id,
                                  type(error).__name__)
                outcome = Outcome(Verdict.FAILED, skip, cause=type(error).__name__,
                                  detail=repr(error))
            if outcome.verdict is not Verdict.FLOOD:
                await self._record(item, outcome)
                return
            # 429: the pacer holds the chat for retry_after and slows down; the gate then waits
            # (or sends the row back to the outbox when the wait is long).
            log.warning("Telegram answered 429 for outbox row %d (chat %s): waiting %.0f s",
                        item.id, chat_ref(item.chat_id), outcome.retry_after)
            await self._pacer.hold(item.chat_id, outcome.retry_after)
            skip = outcome.delivered
            flooded = f"{outcome.cause}: {outcome.detail}" if outcome.detail else outcome.cause
        wait = await self._pacer.ready_in(item.chat_id)
        await self._release(item, deadline, skip, wait, flooded)

    async def _gate(self, item: OutboxItem, deadline: _Lease) -> None:
        """Before each message: wait for the pacer, then check the claim still holds the row."""
        if self._stopping.is_set():
            raise Deferred(0.0, "the dispatcher stopped before sending")
        if (deadline.until - self._clock()).total_seconds() < SEND_BUDGET:
            raise Deferred(0.0, "the lease ran short before sending")
        while True:
            hold = await self._pacer.ready_in(item.chat_id)
            if hold > MAX_HOLD:
                raise Deferred(hold, "waiting for the chat's rate limit")
            if hold > REMINDER_HORIZON:
                await self._sleep(hold)  # this chat's own wait, holding up no other row
                continue
            # One row at a time asks for a moment: while the budget is full they would all be
            # refused alike, and asking costs a database trip when the budget is shared.
            async with self._booking:
                wait = await self._pacer.book(item.chat_id, urgent=False)
                if wait is None:
                    await self._sleep(RETRY_BOOKING)  # replies go first; ask again shortly
            if wait is not None:
                break
        if wait > 0:
            await self._sleep(wait)
        await self._fence(item, deadline)

    async def _fence(self, item: OutboxItem, deadline: _Lease) -> None:
        """Right before a send: raise Fenced unless this claim still holds the row.

        The pacer's wait may have outlasted the lease and another process may hold the row
        now. Renewing only while this claim still holds it means an expired claim can never
        send the row a second time.
        """
        now = self._clock()
        if now - deadline.checked < FRESH_CLAIM:
            return
        until = now + self._lease
        claim = replace(item, attempts=self._claims.get(item.id, item.attempts))
        if not await self._store.renew(claim, until):
            raise Fenced
        deadline.until, deadline.checked = until, now

    async def _record(self, item: OutboxItem, outcome: Outcome) -> None:
        now = self._clock()
        verdict = outcome.verdict
        if verdict is Verdict.FAILED:
            self._failed()
        else:
            self._succeeded()  # Telegram answered: sending works, whatever it said
        if verdict is Verdict.SENT:
            await self._mark_sent(item)
        elif verdict is Verdict.BLOCKED:
            log.info("chat %s blocks the bot (%s): marked inactive, its reminders cancelled",
                     chat_ref(item.chat_id), outcome.cause)
            await self._store.deactivate(item.chat_id, now)
        elif verdict is Verdict.REJECTED:
            log.warning("Telegram refused outbox row %d (%s) for chat %s (%s); retired",
                        item.id, item.kind, chat_ref(item.chat_id), outcome.cause)
            await self._store.retire(item.id, now, f"{outcome.cause}: {outcome.detail}")
        else:
            metrics.error("send")
            delay = backoff(item.attempts)
            log.warning("sending outbox row %d failed (%s); retrying in %.0f s",
                        item.id, outcome.cause, delay)
            self._remember(item.id, outcome.delivered)
            await self._store.retry_later(item.id, now + timedelta(seconds=delay),
                                          f"{outcome.cause}: {outcome.detail}")

    async def _release(
        self, item: OutboxItem, deadline: _Lease, delivered: int, delay: float, reason: str
    ) -> None:
        """Give the row back to the outbox, due at once (keeping its place) or after ``delay``."""
        now = self._clock()
        self._remember(item.id, delivered)
        if now >= deadline.until:
            return  # the lease ran out: the row is claimable already, maybe claimed elsewhere
        at = item.due_at if delay <= 0 else max(item.due_at, now + timedelta(seconds=delay))
        await self._store.retry_later(item.id, at, reason)

    def _remember(self, item_id: int, delivered: int) -> None:
        """Keep how many parts of a row went out, so its retry here sends only the rest."""
        if delivered <= 0:
            return
        self._progress[item_id] = delivered
        if len(self._progress) > MAX_PROGRESS:
            del self._progress[next(iter(self._progress))]

    async def _mark_sent(self, item: OutboxItem) -> None:
        """Record delivery with the next claim; a full batch asks for that claim now."""
        self._progress.pop(item.id, None)
        self._sent[item.id] = item.kind
        if len(self._sent) >= self.concurrency:
            self._wake.set()

    def _marked(self, sent: dict[int, str]) -> None:
        """Forget rows the store has marked sent, counting them as sent."""
        for item_id, kind in sent.items():
            self._sent.pop(item_id, None)
            metrics.REMINDERS_SENT.labels(kind).inc()

    async def _flush_marks(self) -> None:
        """Mark every delivered row now, retrying briefly: an unmarked row would be sent again."""
        for attempt in range(MARK_ATTEMPTS):
            sent = dict(self._sent)
            if not sent:
                return
            try:
                await self._store.claim_due(self._clock(), 0, self._lease, sent=list(sent))
            except Exception as error:
                if attempt == MARK_ATTEMPTS - 1:
                    log.exception("cannot mark %d outbox rows sent; they may be sent again",
                                  len(sent))
                    return
                log.warning("cannot mark %d outbox rows sent (%s); retrying",
                            len(sent), type(error).__name__)
                await self._sleep(0.5 * 2**attempt)
            else:
                self._marked(sent)
