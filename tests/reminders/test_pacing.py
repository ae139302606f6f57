"""The pacer on a clock the test moves: 30/s allowed (29/s kept), 1/s per chat, 20/min per group."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.reminders.pacing import RATE_MARGIN, Pacer

KEPT = 30.0 * RATE_MARGIN  # the overall pace kept when 30 a second are allowed


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """At least ``seconds`` pass for the sleeper; concurrent sleepers overlap."""
        self.slept.append(seconds)
        target = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, target)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def pacer(clock: Clock, rate: float = 30.0) -> Pacer:
    return Pacer(rate, clock=clock, sleep=clock.sleep)


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window - 1e-9:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_a_burst_to_many_chats_is_spread_at_the_overall_rate(clock: Clock) -> None:
    pace = pacer(clock)
    times = [pace.reserve(chat) for chat in range(1, 301)]
    assert times[0] == 0.0
    assert times == sorted(times)
    # A margin under Telegram's 30: no second holds more than 29.
    assert most_in_any_window(times, 1.0) == 29
    assert times[-1] == pytest.approx(299 / KEPT)
    assert min(b - a for a, b in itertools.pairwise(times)) == pytest.approx(1 / KEPT)


def test_a_chat_gets_at_most_one_message_a_second(clock: Clock) -> None:
    pace = pacer(clock)
    times = [pace.reserve(7) for _ in range(5)]
    assert times == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


def test_a_waiting_chat_does_not_hold_up_other_chats(clock: Clock) -> None:
    pace = pacer(clock)
    assert pace.reserve(7) == 0.0
    assert pace.reserve(7) == pytest.approx(1.0)
    # Others fill the second in between, not after the waiting chat's turn.
    others = [pace.reserve(chat) for chat in range(100, 110)]
    assert others == pytest.approx([n / KEPT for n in range(1, 11)])
    assert pace.chat_wait(7) == pytest.approx(2.0)
    assert pace.chat_wait(100) == pytest.approx(1 / KEPT + 1.0)


def test_a_booking_keeps_clear_of_later_bookings_too(clock: Clock) -> None:
    pace = pacer(clock)
    pace.reserve(7)
    held = pace.reserve(7)  # booked at 1.0
    # Free chats fill 1/29 .. 28/29; the next ones step over the slot booked at 1.0.
    times = [pace.reserve(chat) for chat in range(100, 130)]
    assert held == pytest.approx(1.0)
    assert times[27] == pytest.approx(28 / KEPT)
    assert times[28:] == pytest.approx([1.0 + 1 / KEPT, 1.0 + 2 / KEPT])
    assert most_in_any_window([0.0, held, *times], 1.0) == 29


def test_a_group_gets_at_most_twenty_messages_a_minute(clock: Clock) -> None:
    pace = pacer(clock)
    group = -100123
    times = [pace.reserve(group) for _ in range(45)]
    assert times[:20] == pytest.approx([float(n) for n in range(20)])
    assert times[20] == pytest.approx(60.0)
    assert most_in_any_window(times, 60.0) == 20
    # A private chat with a positive id has no such minute limit.
    assert [pace.reserve(5) for _ in range(21)][-1] < 60.0 + 21


def test_time_moving_on_frees_the_schedule(clock: Clock) -> None:
    pace = pacer(clock)
    for chat in range(1, 31):
        pace.reserve(chat)
    clock.now = 10.0
    assert pace.reserve(1) == 10.0
    assert pace.chat_wait(2) == 0.0


async def test_acquire_sleeps_until_the_booked_moment(clock: Clock) -> None:
    pace = pacer(clock)
    await pace.acquire(1)
    await pace.acquire(1)
    await pace.acquire(2)  # the slot at 1.0 is taken: one interval later
    assert clock.slept == pytest.approx([1.0, 1 / KEPT])
    assert clock.now == pytest.approx(1.0 + 1 / KEPT)


async def test_concurrent_acquires_each_get_their_own_moment(clock: Clock) -> None:
    pace = pacer(clock, rate=10.0)
    await asyncio.gather(*(pace.acquire(chat) for chat in range(1, 11)))
    assert sorted(clock.slept) == pytest.approx([n / (10 * RATE_MARGIN) for n in range(1, 10)])


def test_a_429_holds_the_chat_and_slows_everyone(clock: Clock) -> None:
    pace = pacer(clock)
    pace.penalise(7, 5.0)
    assert pace.chat_wait(7) == pytest.approx(5.0)
    assert pace.reserve(7) == pytest.approx(5.0)
    assert pace.rate() == pytest.approx(KEPT * 0.75)
    first, second = pace.reserve(8), pace.reserve(9)
    assert second - first == pytest.approx(1 / (KEPT * 0.75))
    pace.penalise(8, 1.0)
    assert pace.rate() == pytest.approx(KEPT * 0.75 * 0.75)
    # The rate comes back while no 429 arrives, and never beyond the one kept without them.
    clock.now += 10
    assert pace.rate() == pytest.approx(KEPT * (0.75 * 0.75 + 0.1))
    clock.now += 1000
    assert pace.rate() == pytest.approx(KEPT)


def test_repeated_429s_never_stop_sending_altogether(clock: Clock) -> None:
    pace = pacer(clock)
    for _ in range(100):
        pace.penalise(1, 1.0)
    assert pace.rate() == pytest.approx(3.0 * RATE_MARGIN)


def test_memory_follows_recent_chats_only(clock: Clock) -> None:
    pace = pacer(clock, rate=1000.0)
    for chat in range(1, 5001):
        pace.reserve(chat)
        clock.now += 0.01
    assert pace.tracked_chats() < 1200


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_a_rate_must_be_positive_and_finite(rate: float) -> None:
    with pytest.raises(ValueError, match="send rate"):
        Pacer(rate)
