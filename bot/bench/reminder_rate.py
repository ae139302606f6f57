"""Dispatch at Telegram's ceiling, measured offline: a backlog of reminders while patients chat.

The real dispatcher, store, pacer and Telegram sender (python-telegram-bot over HTTP) send to
a small local stand-in for the Bot API that enforces Telegram's limits as token buckets (30
messages/s overall, one a second per chat after a burst of three) and answers 429 beyond them.
Patients chat meanwhile, their replies booked through the same pacer, first. ``ldh-bot bench``
reports the figures.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import Bot
from telegram.error import RetryAfter
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from bot.channels.telegram.sender import TelegramSender, retry_seconds
from bot.content import load_content
from bot.dialogue.turn import Message, Text
from bot.outbox import APPOINTMENT_REMINDER, Payload
from bot.reminders.dispatcher import Dispatcher
from bot.reminders.pacing import (
    CHAT_BURST,
    DEFAULT_RATE,
    SAFE_CHAT_INTERVAL,
    Pacer,
    acquire,
)
from bot.storage import open_store

TOKEN = "123456:bench"  # noqa: S105  # the local stand-in's token, not a credential
REMINDER_CHATS = 1_000_000  # chat ids from here on get reminders; below, patients chat
PATIENT_PAUSE = 8.0  # seconds a chatting patient takes between messages, on average
REPLY_MESSAGES = 2  # messages in each reply: a note and the next question


class _Bucket:
    """Tokens refilled at ``rate`` a second up to ``capacity``."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity, self.tokens, self.stamp = rate, capacity, capacity, now

    def wait(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class StrictTelegram:
    """Telegram's limits as buckets: a message beyond them is refused with a retry_after."""

    def __init__(self, rate: float = DEFAULT_RATE) -> None:
        """Allow ``rate`` messages a second overall, one a second per chat after three."""
        self._overall = _Bucket(rate, rate, time.monotonic())
        self._chats: dict[int, _Bucket] = {}
        self.sent: list[tuple[float, str]] = []  # (when, "reminder" or "reply")
        self.refused = {"reminder": 0, "reply": 0}
        self.expected = math.inf  # reminders to accept before ``drained`` is set
        self.drained = asyncio.Event()

    def send(self, chat_id: int, kind: str) -> float | None:
        """Accept one message now, or return the seconds to wait (a 429)."""
        now = time.monotonic()
        chat = self._chats.setdefault(chat_id, _Bucket(1.0, CHAT_BURST, now))
        wait = max(self._overall.wait(now), chat.wait(now))
        if wait > 0:
            self.refused[kind] += 1
            return float(max(1, math.ceil(wait)))
        self._overall.tokens -= 1
        chat.tokens -= 1
        self.sent.append((now, kind))
        if kind == "reminder":
            self.expected -= 1
            if self.expected <= 0:
                self.drained.set()
        return None


class _BotApi(RequestHandler):
    """sendMessage on the stand-in: accepted, or 429 with retry_after, as Telegram answers."""

    def initialize(self, telegram: StrictTelegram) -> None:
        """Answer for ``telegram``."""
        self.telegram = telegram

    def post(self, method: str) -> None:
        """One Bot API call; only sendMessage is needed here."""
        if self.request.headers.get("Content-Type", "").startswith("application/json"):
            params = json.loads(self.request.body or b"{}")
        else:  # python-telegram-bot posts forms
            params = {key: self.get_body_argument(key) for key in self.request.body_arguments}
        chat_id = int(params.get("chat_id", 0))
        if method == "getMe":
            self.write({"ok": True, "result": {"id": 123456, "is_bot": True,
                                               "first_name": "Bench", "username": "bench_bot"}})
            return
        if method != "sendMessage":
            self.write({"ok": True, "result": True})
            return
        kind = "reply" if chat_id < REMINDER_CHATS else "reminder"
        retry_after = self.telegram.send(chat_id, kind)
        if retry_after is not None:
            self.set_status(429)
            self.write({"ok": False, "error_code": 429, "parameters": {"retry_after": retry_after},
                        "description": f"Too Many Requests: retry after {retry_after:.0f}"})
            return
        self.write({"ok": True, "result": {
            "message_id": len(self.telegram.sent), "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"}, "text": params.get("text", ""),
        }})


@dataclass(frozen=True)
class DispatchFigures:
    """What one run measured."""

    reminders: int
    reminders_per_s: float  # every message through the pacer while the backlog drained
    reminders_only_per_s: float
    replies_per_s: float
    reminders_429: int  # 429s of any message: replies share the budget
    reply_wait_p99_ms: float  # a reply's wait for the pacer, 99th percentile
    seconds: float


@dataclass
class _Chat:
    bot: Bot
    pacer: Pacer
    waits: list[float] = field(default_factory=list)

    async def patient(self, chat_id: int, stop: asyncio.Event, seed: int) -> None:
        """Send a reply of a few messages now and then, as a patient answering would get."""
        pause = random.Random(seed)  # noqa: S311  # traffic, not secrets
        while not stop.is_set():
            await asyncio.sleep(pause.expovariate(1 / PATIENT_PAUSE))
            for _ in range(REPLY_MESSAGES):
                asked = time.monotonic()
                await acquire(self.pacer, chat_id, urgent=True)
                self.waits.append(time.monotonic() - asked)
                try:
                    await self.bot.send_message(chat_id, "reply")
                except RetryAfter as error:
                    await self.pacer.hold(chat_id, retry_seconds(error))


async def measure_dispatch(
    reminders: int = 600, patients: int = 4, rate: float = DEFAULT_RATE
) -> DispatchFigures:
    """Drain ``reminders`` due reminders while ``patients`` chat; measure rate and 429s."""
    telegram = StrictTelegram(rate)
    telegram.expected = reminders
    pacer = Pacer(rate, chat_interval=SAFE_CHAT_INTERVAL, chat_burst=CHAT_BURST)
    server = HTTPServer(Application([(r"/bot[^/]+/(\w+)", _BotApi, {"telegram": telegram})]))
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{sockets[0].getsockname()[1]}/bot")
    try:
        async with bot:
            waits, seconds = await _drain(bot, telegram, pacer, reminders, patients)
    finally:
        server.stop()
    return _figures(telegram, waits, reminders, seconds)


async def _drain(
    bot: Bot, telegram: StrictTelegram, pacer: Pacer, reminders: int, patients: int
) -> tuple[list[float], float]:
    """Seed the backlog, run the dispatcher and the patients until it is sent."""
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(f"sqlite:///{Path(directory) / 'bench.db'}")
        await store.open()
        try:
            now = datetime.now(UTC)
            payload = Payload("en", (Message((Text("rec.disclaimer"),)),)).to_json()
            async with store.transaction(0, now) as tx:
                for index in range(reminders):
                    due = now - timedelta(minutes=1) + timedelta(microseconds=index)
                    await tx.enqueue(APPOINTMENT_REMINDER, REMINDER_CHATS + index, payload, due)
            chat = _Chat(bot, pacer)
            stop = asyncio.Event()
            chatting = [asyncio.create_task(chat.patient(n + 1, stop, n)) for n in range(patients)]
            sender = TelegramSender(bot, load_content().catalog)
            dispatcher = Dispatcher(store, sender, pacer=pacer)
            started = time.monotonic()
            dispatcher.start()
            await telegram.drained.wait()
            stop.set()
            await dispatcher.stop()
            for task in chatting:
                task.cancel()
            await asyncio.gather(*chatting, return_exceptions=True)
            return chat.waits, time.monotonic() - started
        finally:
            await store.close()


def _figures(
    telegram: StrictTelegram, waits: list[float], reminders: int, seconds: float
) -> DispatchFigures:
    times = [at for at, kind in telegram.sent if kind == "reminder"]
    start, end = times[0], times[-1]
    window = [kind for at, kind in telegram.sent if start <= at <= end]
    span = max(end - start, 1e-9)
    p99 = statistics.quantiles(waits, n=100)[98] if len(waits) >= 2 else 0.0  # noqa: PLR2004  # quantiles need two
    return DispatchFigures(
        reminders=reminders,
        reminders_per_s=round((len(window) - 1) / span, 2),
        reminders_only_per_s=round((len(times) - 1) / span, 2),
        replies_per_s=round(window.count("reply") / span, 2),
        reminders_429=sum(telegram.refused.values()),
        reply_wait_p99_ms=round(p99 * 1000, 1),
        seconds=round(seconds, 1),
    )


def main() -> None:
    """Print one run's figures."""
    print(asyncio.run(measure_dispatch()))  # noqa: T201  # a manual run's report


if __name__ == "__main__":
    main()
