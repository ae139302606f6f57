"""The dispatcher with a scripted sender, a real store and a clock the test moves."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from fakes import FAILED, REJECTED, SENT, T0, FakeClock, FakeSender, RecordingPacer
from support.storage_backends import Backend

from bot.logsafe import chat_ref
from bot.reminders.dispatcher import BACKOFF_MAX, LEASE, Dispatcher, backoff
from bot.reminders.sending import Gate, Outcome, Verdict
from bot.storage import OutboxItem, Patient, Store


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def flood(seconds: float) -> Outcome:
    return Outcome(Verdict.FLOOD, retry_after=seconds, cause="RetryAfter")


async def enqueue(store: Store, chats: Iterable[int], due: datetime, kind: str = "checkin") -> None:
    async with store.transaction(0, T0) as tx:
        for chat in chats:
            await tx.enqueue(kind, chat, {"chat": chat}, due)


def dispatcher(store: Store, sender: Any, clock: FakeClock, pacer: RecordingPacer,
               **options: Any) -> Dispatcher:
    return Dispatcher(store, sender, clock=clock.now, sleep=clock.sleep, pacer=pacer, **options)


async def rows(backend: Backend) -> list[tuple[Any, ...]]:
    """(id, chat, sent?, cancelled?, leased?, last_error) of every outbox row."""
    found = await backend.sql(
        "SELECT id, chat_id, sent_at IS NOT NULL, cancelled_at IS NOT NULL, "
        "lease_until IS NOT NULL, last_error FROM outbox ORDER BY id"
    )
    return [(r[0], r[1], bool(r[2]), bool(r[3]), bool(r[4]), r[5]) for r in found]


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window - 1e-9:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_overdue_rows_go_out_at_once_and_none_early(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    await enqueue(store, [1, 2, 3], T0 - timedelta(days=1))
    await enqueue(store, [4], at(600))
    send = dispatcher(store, sender, clock, pacer)
    assert await send.drain() == 3
    assert sorted(a.chat_id for a in sender.attempts) == [1, 2, 3]
    clock.set(at(599.9))
    assert await send.drain() == 0
    clock.set(at(600))
    assert await send.drain() == 1
    assert [r[2] for r in await rows(sqlite)] == [True] * 4
    assert [c for c, _ in pacer.bookings] == [1, 2, 3, 4]


async def test_rows_a_killed_process_held_come_back_when_its_lease_runs_out(
    store: Store, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    await enqueue(store, [1, 2], T0)
    assert len(await store.claim_due(T0, 10, LEASE)) == 2  # then the process was killed
    send = dispatcher(store, sender, clock, pacer)
    clock.set(T0 + LEASE - timedelta(seconds=1))
    assert await send.drain() == 0
    clock.set(T0 + LEASE)
    assert await send.drain() == 2
    assert sender.sent_ids() == [1, 2]


async def test_a_429_is_retried_after_retry_after_with_no_loss(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    await enqueue(store, [7], T0)
    sender.then(7, flood(3.0))
    send = dispatcher(store, sender, clock, pacer)
    assert await send.drain() == 1
    first, second = pacer.times(7)
    assert second - first >= 3.0
    assert clock.now() >= at(3)
    assert sender.sent_ids() == [1]
    assert [r[2] for r in await rows(sqlite)] == [True]
    assert pacer.rate() < 30.0  # the pacer slowed down


async def test_a_long_429_puts_the_row_back_until_retry_after(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    await enqueue(store, [7], T0)
    sender.then(7, flood(30.0))
    send = dispatcher(store, sender, clock, pacer)
    await send.drain()
    assert sender.sent_ids() == []
    [(_, _, sent, cancelled, leased, error)] = await rows(sqlite)
    assert (sent, cancelled, leased) == (False, False, False)
    assert error == "RetryAfter; waiting for the chat's rate limit"
    clock.set(at(29.9))
    assert await send.drain() == 0
    clock.set(at(30))
    assert await send.drain() == 1
    assert sender.sent_ids() == [1]


async def test_network_errors_are_retried_with_exponential_backoff(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    await enqueue(store, [7], T0)
    sender.then(7, FAILED, FAILED, SENT)
    send = dispatcher(store, sender, clock, pacer)
    await send.drain()
    assert (await rows(sqlite))[0][5] == "TimedOut: Timed out"
    for moment, expected in ((4.9, 0), (5.0, 1), (14.9, 0), (15.0, 1)):
        clock.set(at(moment))
        assert await send.drain() == expected, moment
    assert sender.sent_ids() == [1]
    assert [a.at for a in sender.attempts] == [T0, at(5), at(15)]
    assert [backoff(n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert backoff(50) == BACKOFF_MAX


async def test_a_blocked_patient_is_made_inactive_and_their_reminders_stop(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    async with store.transaction(7, T0) as tx:
        await tx.save(Patient(7, "en", {"state": "followup"}))
    await enqueue(store, [7, 8], T0)
    await enqueue(store, [7], at(86400))
    sender.blocked.add(7)
    send = dispatcher(store, sender, clock, pacer)
    await send.drain()
    assert [(r[1], r[2], r[3]) for r in await rows(sqlite)] == [
        (7, False, True), (8, True, False), (7, False, True)
    ]
    [patient] = await store.patients(10, 0)
    assert not patient.active
    clock.set(at(86400))
    assert await send.drain() == 0


async def test_a_refused_row_is_retired_and_logged_without_the_chat_id(
    store: Store, sqlite: Backend, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    chat = 987654321
    await enqueue(store, [chat], T0)
    sender = FakeSender(clock)
    sender.then(chat, REJECTED)
    send = dispatcher(store, sender, clock, RecordingPacer(clock))
    with caplog.at_level(logging.INFO):
        await send.drain()
    [(_, _, sent, cancelled, _, error)] = await rows(sqlite)
    assert (sent, cancelled, error) == (False, True, "BadRequest: Chat not found")
    clock.set(at(86400 * 365))
    assert await send.drain() == 0
    assert chat_ref(chat) in caplog.text
    assert str(chat) not in caplog.text


async def test_a_row_of_several_messages_resumes_after_those_already_sent(
    store: Store, clock: FakeClock, pacer: RecordingPacer
) -> None:
    sender = FakeSender(clock, parts=3)
    await enqueue(store, [7, 8], T0)
    sender.then(7, SENT, flood(2.0))  # the second message of chat 7's row hits a 429
    sender.then(8, SENT, FAILED)  # the second message of chat 8's row times out
    send = dispatcher(store, sender, clock, pacer)
    await send.drain()
    clock.advance(backoff(1))
    await send.drain()
    assert dict(sender.delivered) == {1: [0, 1, 2], 2: [0, 1, 2]}
    assert [(a.chat_id, a.skip) for a in sender.attempts] == [(7, 0), (8, 0), (7, 1), (8, 1)]


async def test_a_row_whose_lease_runs_short_goes_back_and_resumes(
    store: Store, sqlite: Backend, clock: FakeClock, pacer: RecordingPacer
) -> None:
    class SlowSender(FakeSender):
        slow = True

        async def send(self, item: OutboxItem, gate: Gate, skip: int) -> Outcome:
            async def slow_gate() -> None:
                if self.delivered[item.id] and self.slow:
                    self.slow = False
                    self.clock.advance(15)  # the first message took long: half the lease gone
                await gate()

            return await super().send(item, slow_gate, skip)

    sender = SlowSender(clock, parts=2)
    await enqueue(store, [7], T0)
    send = dispatcher(store, sender, clock, pacer)
    # The second message waits for a fresh lease: the row goes back and is claimed again.
    assert await send.drain() == 2
    assert dict(sender.delivered) == {1: [0, 1]}
    assert [a.skip for a in sender.attempts] == [0, 1]
    [(_, _, sent, _, leased, error)] = await rows(sqlite)
    assert (sent, leased, error) == (True, False, "the lease ran short before sending")


async def test_a_sender_that_raises_loses_nothing(
    store: Store, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    await enqueue(store, [7], T0)
    sender.raises[7] = RuntimeError("a bug")
    send = dispatcher(store, sender, clock, pacer)
    await send.drain()
    del sender.raises[7]
    clock.set(at(backoff(1)))
    assert await send.drain() == 1
    assert sender.sent_ids() == [1]


async def test_sends_keep_the_overall_per_chat_and_group_limits(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    group = -1001234
    await enqueue(store, [c for c in range(1, 11) for _ in range(8)], T0)
    await enqueue(store, range(100, 200), T0)
    await enqueue(store, [group] * 25, T0, kind="clinic_notification")
    send = dispatcher(store, sender, clock, pacer)
    for _ in range(300):
        await send.drain()
        if len(sender.sent_ids()) == 205:
            break
        clock.advance(1)
    assert len(sender.sent_ids()) == 205
    assert all(parts == [0] for parts in sender.delivered.values()), "no row was sent twice"
    assert most_in_any_window([t for _, t in pacer.bookings], 1.0) <= 30
    for chat in range(1, 11):
        times = pacer.times(chat)
        assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0 - 1e-9
    group_times = pacer.times(group)
    assert most_in_any_window(group_times, 60.0) == 20
    assert group_times[20] - group_times[0] >= 60.0 - 1e-9
    # A chat's wait beyond MAX_HOLD is spent back in the outbox, not holding a sending slot.
    errors = {r[5] for r in await rows(sqlite) if r[1] == group}
    assert "waiting for the chat's rate limit" in errors


async def test_at_most_concurrency_rows_are_in_flight(store: Store, clock: FakeClock) -> None:
    class Gauge:
        def __init__(self) -> None:
            self.active = 0
            self.most = 0

        async def send(self, item: OutboxItem, gate: Gate, skip: int) -> Outcome:
            del item, skip
            await gate()
            self.active += 1
            self.most = max(self.most, self.active)
            await asyncio.sleep(0.001)
            self.active -= 1
            return Outcome(Verdict.SENT, 1)

    gauge = Gauge()
    await enqueue(store, range(1, 101), T0)
    send = Dispatcher(store, gauge, clock=clock.now, sleep=clock.sleep,
                      pacer=RecordingPacer(clock, rate=1000.0), concurrency=4)
    assert await send.drain() == 100
    assert (gauge.most, send.concurrency) == (4, 4)


async def test_run_wakes_on_enqueue_and_stop_puts_waiting_rows_back(
    store: Store, sqlite: Backend, clock: FakeClock, pacer: RecordingPacer
) -> None:
    release, in_flight = asyncio.Event(), asyncio.Event()

    class Stuck(FakeSender):
        async def send(self, item: OutboxItem, gate: Gate, skip: int) -> Outcome:
            if item.chat_id != 1:
                return await super().send(item, gate, skip)
            await gate()
            in_flight.set()
            await release.wait()  # a slow Telegram answer, in flight at the stop
            self.delivered[item.id].append(0)
            return Outcome(Verdict.SENT, 1)

    sender = Stuck(clock)
    # Real sleeps for the idle wait (poll far away), the fake clock for everything else.
    send = Dispatcher(store, sender, clock=clock.now, sleep=asyncio.sleep, pacer=pacer,
                      concurrency=1, poll=3600)
    send.start()
    await asyncio.sleep(0.05)
    await enqueue(store, [1, 2, 3], T0)
    send.wake()
    await asyncio.wait_for(in_flight.wait(), timeout=5)
    stopping = asyncio.create_task(send.stop(grace=5))
    await asyncio.sleep(0.05)
    release.set()
    await stopping
    # The send in flight finished; the rows still queued went back at once, keeping their place.
    assert [(r[1], r[2], r[4]) for r in await rows(sqlite)] == [
        (1, True, False), (2, False, False), (3, False, False)
    ]
    again = await store.claim_due(T0, 10, LEASE)
    assert [item.chat_id for item in again] == [2, 3]


async def test_two_processes_never_send_one_row_twice(backend: Backend) -> None:
    clock = FakeClock()
    first_store, second_store = await backend.open(), await backend.open()
    await enqueue(first_store, range(1, 201), T0)
    senders = [FakeSender(clock), FakeSender(clock)]
    dispatchers = [
        Dispatcher(s, sender, clock=clock.now, sleep=clock.sleep,
                   pacer=RecordingPacer(clock, rate=1000.0), concurrency=8)
        for s, sender in zip((first_store, second_store), senders, strict=True)
    ]
    counts = await asyncio.gather(*(d.drain() for d in dispatchers))
    assert sum(counts) == 200
    sent = senders[0].sent_ids() + senders[1].sent_ids()
    assert sorted(sent) == list(range(1, 201))


def test_concurrency_must_be_positive(store: Store, sender: FakeSender) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Dispatcher(store, sender, concurrency=0)


async def test_a_row_past_its_expiry_is_retired_not_sent_late(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    async with store.transaction(0, T0) as tx:
        await tx.enqueue("appointment_reminder", 5, {"expires_at": at(60).isoformat()}, T0)
        await tx.enqueue("appointment_reminder", 6, {"expires_at": at(600).isoformat()}, T0)
    clock.set(at(120))  # the dispatcher was down until after the first visit

    assert await dispatcher(store, sender, clock, pacer).drain() == 2

    assert sender.sent_ids() == [2]
    assert [(r[0], r[2], r[3], r[5]) for r in await rows(sqlite)] == [
        (1, False, True, "expired before it could be sent"),
        (2, True, False, None),
    ]


class TripCounter:
    """A store whose outbox calls the dispatcher makes are counted; each is one trip."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.store, name)
        if name not in {"claim_due", "renew", "mark_sent", "retry_later", "retire",
                        "deactivate"}:
            return real

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await real(*args, **kwargs)

        return counted


async def test_rows_are_marked_sent_in_batches_at_most_one_trip_per_message(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    await enqueue(store, range(1, 41), T0)
    counted = TripCounter(store)
    send = dispatcher(counted, sender, clock, pacer, concurrency=4)  # type: ignore[arg-type]
    assert await send.drain() == 40
    assert sender.sent_ids() == list(range(1, 41))
    assert [r[2] for r in await rows(sqlite)] == [True] * 40
    # No row-by-row marking: the marks ride on the claims.
    assert counted.calls.get("mark_sent", 0) == 0
    assert sum(counted.calls.values()) <= 40, counted.calls


async def test_a_freshly_claimed_row_is_sent_without_renewing_its_lease(
    store: Store, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    await enqueue(store, [1, 2], T0)
    counted = TripCounter(store)
    assert await dispatcher(counted, sender, clock, pacer).drain() == 2  # type: ignore[arg-type]
    assert counted.calls.get("renew", 0) == 0
    assert sender.sent_ids() == [1, 2]


async def test_a_row_cancelled_while_it_waited_for_the_pacer_is_not_sent(
    store: Store, sqlite: Backend, clock: FakeClock, pacer: RecordingPacer
) -> None:
    await enqueue(store, [5], T0)

    class CancelledMeanwhile(FakeSender):
        async def send(self, item: OutboxItem, gate: Gate, skip: int) -> Outcome:
            # The patient stops their reminders while the row waits two seconds to go out.
            async with store.transaction(item.chat_id, self.clock.now()) as tx:
                await tx.cancel(item.chat_id)
            self.clock.advance(2.0)
            return await super().send(item, gate, skip)

    sender = CancelledMeanwhile(clock)
    assert await dispatcher(store, sender, clock, pacer).drain() == 1
    assert sender.sent_ids() == []
    [(_, _, sent, cancelled, _, _)] = await rows(sqlite)
    assert (sent, cancelled) == (False, True)


async def test_a_running_dispatcher_marks_a_lone_delivered_row_soon(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    # Real sleeps for the idle wait (poll far away): the mark must not wait for the poll.
    send = Dispatcher(store, sender, clock=clock.now, sleep=asyncio.sleep, pacer=pacer,
                      poll=3600)
    send.start()
    try:
        await enqueue(store, [9], T0)
        send.wake()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if [r[2] for r in await rows(sqlite)] == [True]:
                break
        assert [r[2] for r in await rows(sqlite)] == [True]
    finally:
        await send.stop(grace=1)
    assert sender.sent_ids() == [1]


async def test_a_dispatcher_failing_every_send_for_a_minute_says_so_until_one_goes(
    store: Store, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    send = dispatcher(store, sender, clock, pacer)
    await enqueue(store, [7], T0)
    sender.then(7, *[FAILED] * 20)
    assert send.failing_for() == 0.0
    for _ in range(20):
        await send.drain()
        if send.failing_for() >= 60:
            break
        clock.set(clock.now() + timedelta(seconds=backoff(1)))  # each retry, once it is due
    assert send.failing_for() >= 60  # what /healthz turns into 503
    # A row Telegram takes ends the streak.
    await enqueue(store, [8], clock.now())
    await send.drain()
    assert send.failing_for() == 0.0


async def test_failures_that_stopped_are_not_held_against_the_dispatcher(
    store: Store, clock: FakeClock, sender: FakeSender, pacer: RecordingPacer
) -> None:
    send = dispatcher(store, sender, clock, pacer)
    await enqueue(store, [7], T0)
    sender.then(7, FAILED)
    await send.drain()
    clock.set(clock.now() + timedelta(seconds=30))
    assert send.failing_for() == pytest.approx(30.0)
    # The row waits out its backoff; with no attempt for over a minute, nothing says failing.
    clock.set(clock.now() + timedelta(seconds=31))
    assert send.failing_for() == 0.0


class _PacerWithoutDatabase(RecordingPacer):
    """The shared pacer while its database is gone."""

    async def ready_in(self, chat_id: int) -> float:
        del chat_id
        msg = "connection refused"
        raise psycopg.OperationalError(msg)


async def test_a_pacer_whose_database_is_gone_is_one_line_a_row_and_the_row_waits(
    store: Store, sqlite: Backend, clock: FakeClock, sender: FakeSender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await enqueue(store, [7], T0)
    send = dispatcher(store, sender, clock, _PacerWithoutDatabase(clock))
    with caplog.at_level(logging.INFO):
        await send.drain()
    assert [r[2] for r in await rows(sqlite)] == [False]  # not sent, not lost: retried later
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "outbox row 1 could not be paced (OperationalError); retried later",
        "sending outbox row 1 failed (OperationalError); retrying in 5 s",
    ]
    assert all(r.exc_info is None for r in caplog.records)
    assert sender.delivered == {}
