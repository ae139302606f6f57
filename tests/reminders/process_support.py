"""Helpers for the whole-process dispatch tests: seed the outbox, start the bot, measure."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.botapi_standin import StandIn

from bot.dialogue.turn import Message, Text
from bot.outbox import APPOINTMENT_REMINDER, Payload
from bot.storage import open_store

REMINDER = Payload("en", (Message((Text("rec.disclaimer"),)),))


def database(data_dir: Path) -> Path:
    """The SQLite file ``ldh-bot run`` uses under LDH_DATA_DIR."""
    return data_dir / "ldh-bot.db"


def seed(data_dir: Path, rows: Sequence[tuple[str, int]]) -> None:
    """Write overdue outbox rows (kind, chat) straight into the bot's database, in one commit."""

    async def write() -> None:
        store = open_store(f"sqlite:///{database(data_dir)}")
        await store.open()
        try:
            now = datetime.now(UTC)
            payload = REMINDER.to_json()
            async with store.transaction(0, now) as tx:
                for index, (kind, chat_id) in enumerate(rows):
                    # Due a minute ago, in order: the bot finds them overdue when it starts.
                    due = now - timedelta(minutes=1) + timedelta(microseconds=index)
                    await tx.enqueue(kind, chat_id, payload, due)
        finally:
            await store.close()

    asyncio.run(write())


def reminders(chats: Sequence[int]) -> list[tuple[str, int]]:
    """One appointment reminder to each chat."""
    return [(APPOINTMENT_REMINDER, chat) for chat in chats]


def unsent(data_dir: Path) -> int:
    """Outbox rows neither sent nor cancelled yet."""
    with sqlite3.connect(database(data_dir), timeout=10) as db:
        row = db.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND cancelled_at IS NULL"
        ).fetchone()
    return int(row[0])


def start_bot(standin: StandIn, data_dir: Path, send_rate: float | None) -> subprocess.Popen[bytes]:
    """``ldh-bot run`` against the stand-in, its log appended to ``data_dir/bot.log``."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": standin.token, "LDH_EMERGENCY_NUMBER": "999",
        "LDH_TELEGRAM_API_URL": standin.base_url,
        "LDH_DATA_DIR": str(data_dir),
    }
    env.pop("LDH_DATABASE_URL", None)
    env.pop("LDH_SEND_RATE", None)
    if send_rate is not None:
        env["LDH_SEND_RATE"] = str(send_rate)
    log = (data_dir / "bot.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=log)


def wait_until(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``predicate()`` until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout:.0f} s waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(interval)


def send_times(standin: StandIn) -> list[float]:
    """When the stand-in accepted each sendMessage, in order."""
    return sorted(c.at for c in standin.calls_to("sendMessage") if c.ok)


def busiest_second(times: Sequence[float]) -> int:
    """The most sends in any one-second window."""
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def rate(times: Sequence[float]) -> float:
    """Sends per second from the first to the last of ``times``."""
    if len(times) < 2:  # a rate needs an interval
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


@dataclass
class Figures:
    """What a whole-process dispatch test measured, for the closing note."""

    test: str
    rows: int
    send_rate_setting: float
    standin_overall_limit: float
    delivered_messages: int
    lost: int
    duplicates: int
    duplicate_bound: int
    too_many_requests: int
    sent_per_second: dict[str, float]
    busiest_second: int
    wall_seconds: float

    def report(self, tmp_path: Path) -> None:
        """Print the figures and keep them as JSON beside the test's files."""
        text = json.dumps(asdict(self), indent=2)
        (tmp_path / "figures.json").write_text(text)
        print(f"\n{self.test} figures ({tmp_path / 'figures.json'}):\n{text}")  # noqa: T201  # the figures are the test's report
