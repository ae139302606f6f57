"""Long polling where one chat's reply must wait out a 429: every other chat is answered meanwhile.

The real ``ldh-bot run`` by long polling against the stand-in. Chat X's next reply is refused
with ``retry_after`` 20; chat Y's ``/help`` must be answered while X waits, and X's reply must
still arrive once the 20 s are out (nothing dropped, its update confirmed only after that).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.botapi_standin import StandIn, User

pytestmark = pytest.mark.slow

RETRY_AFTER = 20
TIMEOUT = 30.0


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def _start_bot(standin: StandIn, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": standin.token, "LDH_EMERGENCY_NUMBER": "999",
        "LDH_TELEGRAM_API_URL": standin.base_url,
        "LDH_DATA_DIR": str(data_dir),
    }
    for name in ("LDH_DATABASE_URL", "LDH_SEND_RATE", "LDH_WEBHOOK_URL"):
        env.pop(name, None)
    log = (data_dir / "bot.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=log)


def _bot_messages(standin: StandIn, user: User) -> int:
    return sum(1 for m in standin.messages(user) if m.from_bot)


def _answered_at(standin: StandIn, user: User, after: float) -> float | None:
    """When the stand-in accepted the first message to ``user`` after ``after``; None if not yet."""
    return min((c.at for c in standin.calls_to("sendMessage")
                if c.ok and c.params["chat_id"] == user.chat_id and c.at > after), default=None)


def test_a_429_on_one_chat_holds_up_no_other_chat(standin: StandIn, tmp_path: Path) -> None:
    bot = _start_bot(standin, tmp_path)
    try:
        standin.wait_for(lambda: standin.calls_to("setMyCommands"), timeout=TIMEOUT)
        x, y = standin.new_user("X"), standin.new_user("Y")
        for user in (x, y):
            standin.send_text(user, "/start")
        standin.wait_for(lambda: _bot_messages(standin, x) and _bot_messages(standin, y),
                         timeout=TIMEOUT)
        time.sleep(1.5)  # past the per-chat burst of the greetings

        standin.refuse_next(x, 429, retry_after=RETRY_AFTER)
        asked_x = time.time()
        standin.send_text(x, "/help")
        standin.wait_for(lambda: standin.too_many_requests, timeout=TIMEOUT)
        asked_y = time.time()
        standin.send_text(y, "/help")
        # Waited for by the send itself: a greeting still leaving when /help was typed (one a
        # second per chat) is not the answer to /help.
        y_at = standin.wait_for(lambda: _answered_at(standin, y, asked_y),
                                timeout=RETRY_AFTER + TIMEOUT)
        x_at = standin.wait_for(lambda: _answered_at(standin, x, asked_x),
                                timeout=RETRY_AFTER + TIMEOUT)
        figures = {"retry_after_on_x": RETRY_AFTER, "y_help_latency_s": round(y_at - asked_y, 2),
                   "x_help_latency_s": round(x_at - asked_x, 2),
                   "too_many_requests": standin.too_many_requests}
        (tmp_path / "figures.json").write_text(json.dumps(figures))
        print(f"\nlong polling, 429 on one chat: {json.dumps(figures)}")  # noqa: T201  # the figures are the test's report
    finally:
        bot.send_signal(signal.SIGTERM)
        code = bot.wait(timeout=30)

    assert y_at < x_at, "chat Y waited behind chat X's rate limit"
    # X's reply was held for its retry_after, then sent: delayed, never dropped.
    assert x_at - asked_x >= RETRY_AFTER - 1
    assert standin.too_many_requests == 1  # the scripted one; the pacer caused none
    assert code == 0
