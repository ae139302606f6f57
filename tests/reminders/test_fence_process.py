"""Two real ``ldh-bot run`` processes on one PostgreSQL, sending slower than their leases last.

At ``LDH_SEND_RATE=0.4`` a claimed reminder waits for the pacer longer than its 30 s lease, and
the other process claims it meanwhile. The claim is fenced (the lease is renewed, only while
this claim still holds the row, right before sending), so no reminder goes out twice; and the
rate is one budget for both processes, so together they send at 0.3/s, not 0.6/s.
"""

from __future__ import annotations

import itertools
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from support.botapi_standin import StandIn
from support.instances import free_port, seed_reminders, start_instance

pytestmark = pytest.mark.slow

# The fault was seen with 40 rows at 0.3/s (8 went twice, each process pacing alone). Fewer
# rows at a little more still keep claimed rows waiting past their 30 s lease: the first
# process claims 16 at once, and with half of a 0.4/s budget its later ones wait over 80 s.
ROWS = 24
RATE = 0.4
PROCESSES = 2


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def _unsent(database_url: str) -> int:
    with psycopg.connect(database_url) as db:
        row = db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL "
                         "AND cancelled_at IS NULL").fetchone()
    return int(row[0]) if row else -1


def test_a_claim_whose_lease_ran_out_never_sends_twice(
    standin: StandIn, database_url: str, tmp_path: Path
) -> None:
    users = [standin.new_user(f"F{i}") for i in range(ROWS)]
    # The schema first, so the rows are there before either dispatcher looks.
    first = start_instance(standin, tmp_path, database_url=database_url, name="bot0",
                           port=free_port(), send_rate=RATE)
    standin.wait_for(lambda: standin.calls_to("setWebhook"), timeout=60)
    seed_reminders(database_url, [u.chat_id for u in users])
    bots = [first, start_instance(standin, tmp_path, database_url=database_url, name="bot1",
                                  port=free_port(), send_rate=RATE)]
    started = time.monotonic()
    try:
        # A bound, not a target: a loaded machine may miss some of the 0.3/s moments.
        standin.wait_for(lambda: _unsent(database_url) == 0, timeout=2 * ROWS / RATE + 60)
        wall = time.monotonic() - started
    finally:
        for bot in bots:
            bot.send_signal(signal.SIGTERM)
        codes = [bot.wait(timeout=30) for bot in bots]

    delivered = standin.delivered_counts
    times = sorted(c.at for c in standin.calls_to("sendMessage") if c.ok)
    figures = {
        "processes": PROCESSES, "send_rate": RATE, "rows": ROWS,
        "sent_twice": sum(1 for u in users if delivered.get(u.chat_id, 0) > 1),
        "lost": sum(1 for u in users if delivered.get(u.chat_id, 0) == 0),
        "sent_per_second_together": round((len(times) - 1) / (times[-1] - times[0]), 3),
        "wall_seconds": round(wall, 1),
        # Rows another claim took over while they waited (reported; the dispatcher tests pin
        # the fence itself on a moved clock).
        "fenced": sum((tmp_path / f"bot{n}.log").read_text(encoding="utf-8")
                      .count("was claimed again while it waited") for n in range(PROCESSES)),
    }
    (tmp_path / "figures.json").write_text(json.dumps(figures))
    print(f"\nfenced claims, two processes: {json.dumps(figures)}")  # noqa: T201  # the figures are the test's report
    assert codes == [0, 0]
    assert figures["lost"] == 0
    assert figures["sent_twice"] == 0
    # One budget: messages at least 1/RATE apart, whichever process sent them (a little
    # jitter in when each reached the stand-in aside).
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) > 0.8 / RATE, gaps
