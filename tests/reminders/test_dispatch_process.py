"""The real ``ldh-bot run`` delivering a backlog of due reminders through the rate-limited stand-in.

10,000 reminders are due when the bot starts; it is killed with SIGKILL about half-way and
started again. Every reminder must arrive, duplicates only among the rows in flight at the kill,
and the stand-in, enforcing the limits, must never have to answer 429.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from process_support import (
    Figures,
    busiest_second,
    rate,
    reminders,
    seed,
    send_times,
    start_bot,
    unsent,
    wait_until,
)
from support.botapi_standin import StandIn
from support.botapi_state import RateLimits

from bot.outbox import CLINIC_NOTIFICATION
from bot.reminders.dispatcher import DEFAULT_CONCURRENCY, LEASE

pytestmark = pytest.mark.slow

BACKLOG = 10_000
# Telegram's 30/s would take 333 s for 10,000; both the bot and the stand-in are raised alike.
FAST_RATE = 250.0
START_TIMEOUT = 30.0


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def _delivered(standin: StandIn) -> int:
    return sum(standin.delivered_counts.values())


def _stop(bot: subprocess.Popen[bytes]) -> int:
    bot.send_signal(signal.SIGTERM)
    return bot.wait(timeout=30)


def test_a_backlog_survives_sigkill_with_no_loss_and_no_429(
    standin: StandIn, tmp_path: Path
) -> None:
    started = time.monotonic()
    users = [standin.new_user(f"R{i}") for i in range(BACKLOG)]
    seed(tmp_path, reminders([u.chat_id for u in users]))
    standin.enable_rate_limits(RateLimits(overall_per_second=FAST_RATE))

    bot = start_bot(standin, tmp_path, FAST_RATE)
    try:
        wait_until(lambda: _delivered(standin) >= BACKLOG // 2, 120, "half the backlog sent")
        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=10)
        killed_at = time.time()
        at_kill = _delivered(standin)
        bot = start_bot(standin, tmp_path, FAST_RATE)
        # Rows the killed process held come back once their lease runs out.
        wait_until(lambda: unsent(tmp_path) == 0, 120 + LEASE.total_seconds(),
                   "every outbox row marked sent", interval=0.25)
    finally:
        code = _stop(bot)
    wall = time.monotonic() - started

    counts = standin.delivered_counts
    times = send_times(standin)
    figures = Figures(
        test="10,000 reminders, SIGKILL half-way",
        rows=BACKLOG,
        send_rate_setting=FAST_RATE,
        standin_overall_limit=FAST_RATE,
        delivered_messages=sum(counts.values()),
        lost=sum(1 for u in users if counts.get(u.chat_id, 0) == 0),
        duplicates=sum(max(0, counts.get(u.chat_id, 0) - 1) for u in users),
        duplicate_bound=DEFAULT_CONCURRENCY,
        too_many_requests=standin.too_many_requests,
        sent_per_second={
            "before_kill": round(rate([t for t in times if t <= killed_at]), 1),
            "after_restart": round(rate([t for t in times if t > killed_at]), 1),
        },
        busiest_second=busiest_second(times),
        wall_seconds=round(wall, 1),
    )
    figures.report(tmp_path)
    assert code == 0, "SIGTERM must stop the bot cleanly"
    assert figures.lost == 0
    # Only rows Telegram accepted but the killed process had not yet marked sent come twice,
    # and the dispatcher has at most DEFAULT_CONCURRENCY of them between send and mark.
    assert figures.duplicates <= DEFAULT_CONCURRENCY, figures
    assert figures.too_many_requests == 0, figures
    assert at_kill < BACKLOG, "the kill came too late to test a restart"
    assert [c for c in standin.rejected if c.method != "getUpdates"] == []


def test_at_telegrams_real_limits_nothing_is_refused(standin: StandIn, tmp_path: Path) -> None:
    started = time.monotonic()
    users = [standin.new_user(f"D{i}") for i in range(290)]
    regular = users[0]
    clinic = standin.new_group("Clinic")
    rows = reminders([u.chat_id for u in users])
    # Five more to one patient (1 s apart at most once a second) and five to the clinic group.
    rows += reminders([regular.chat_id] * 5) + [(CLINIC_NOTIFICATION, clinic.chat_id)] * 5
    seed(tmp_path, rows)
    standin.enable_rate_limits(RateLimits())  # 30/s overall, 1/s per chat, 20/min per group

    bot = start_bot(standin, tmp_path, None)
    try:
        wait_until(lambda: unsent(tmp_path) == 0, 60, "every outbox row marked sent", 0.25)
    finally:
        code = _stop(bot)
    wall = time.monotonic() - started

    counts = standin.delivered_counts
    times = send_times(standin)
    expected = {u.chat_id: 1 for u in users} | {regular.chat_id: 6, clinic.chat_id: 5}
    single = {chat for chat, n in expected.items() if n == 1}
    to_regular = sorted(c.at for c in standin.calls_to("sendMessage")
                        if c.ok and c.params["chat_id"] == regular.chat_id)
    figures = Figures(
        test="300 reminders at Telegram's limits",
        rows=len(rows),
        send_rate_setting=30.0,
        standin_overall_limit=30.0,
        delivered_messages=sum(counts.values()),
        lost=sum(1 for chat, n in expected.items() if counts.get(chat, 0) < n),
        duplicates=sum(max(0, counts.get(chat, 0) - n) for chat, n in expected.items()),
        duplicate_bound=0,
        too_many_requests=standin.too_many_requests,
        sent_per_second={
            "overall": round(rate(times), 1),
            # The one-message chats, before the paced chats' tail stretches the run.
            "bulk": round(rate(sorted(c.at for c in standin.calls_to("sendMessage")
                                      if c.ok and c.params["chat_id"] in single)), 1),
        },
        busiest_second=busiest_second(times),
        wall_seconds=round(wall, 1),
    )
    figures.report(tmp_path)
    assert code == 0
    assert (figures.lost, figures.duplicates, figures.too_many_requests) == (0, 0, 0), figures
    gaps = [later - earlier for earlier, later in itertools.pairwise(to_regular)]
    assert min(gaps) > 0.9, gaps  # about a second apart, whatever the burst allowance
    assert standin.rejected == []
