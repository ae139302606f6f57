"""Several real ``ldh-bot run`` processes on one database, and a load balancer in front of them.

``Balancer`` plays Telegram and a round-robin load balancer at once: it takes the stand-in's
queued updates and POSTs each to the next instance's webhook. Like Telegram it keeps one
update per chat in flight (a chat's next update waits for the previous one's 200), redelivers
an update that got no 200 (to the next instance), and now and then delivers an answered update
again, as Telegram does when a 200 is lost on the way.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.dialogue.turn import Message, Text
from bot.outbox import APPOINTMENT_REMINDER, Payload
from bot.storage import open_store

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from support.botapi_standin import StandIn

SECRET = "secret-of-the-instance-tests"  # noqa: S105  # a test value, not a credential
REMINDER = Payload("en", (Message((Text("rec.disclaimer"),)),))
JsonDict = dict[str, Any]


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_instance(  # noqa: PLR0913  # where it runs, on what, how fast, and how it listens
    standin: StandIn,
    data_dir: Path,
    *,
    database_url: str,
    name: str,
    port: int | None = None,
    send_rate: float | None = None,
) -> subprocess.Popen[bytes]:
    """``ldh-bot run`` on ``database_url``: by webhook on ``port``, else by long polling."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": standin.token, "LDH_EMERGENCY_NUMBER": "999",
        "LDH_TELEGRAM_API_URL": standin.base_url,
        "LDH_DATA_DIR": str(data_dir),
        "LDH_DATABASE_URL": database_url,
    }
    for setting in ("LDH_SEND_RATE", "LDH_WEBHOOK_URL", "LDH_WEBHOOK_LISTEN",
                    "LDH_WEBHOOK_SECRET"):
        env.pop(setting, None)
    if send_rate is not None:
        env["LDH_SEND_RATE"] = str(send_rate)
    if port is not None:
        env["LDH_WEBHOOK_URL"] = "https://bot.example.org/hook"
        env["LDH_WEBHOOK_LISTEN"] = f"127.0.0.1:{port}"
        env["LDH_WEBHOOK_SECRET"] = SECRET
    log = (data_dir / f"{name}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=log)


def seed_reminders(database_url: str, chats: Sequence[int]) -> None:
    """One overdue appointment reminder per chat, written straight into the outbox."""

    async def write() -> None:
        store = open_store(database_url)
        await store.open()
        try:
            now = datetime.now(UTC)
            async with store.transaction(0, now) as tx:
                for index, chat in enumerate(chats):
                    due = now - timedelta(minutes=1) + timedelta(microseconds=index)
                    await tx.enqueue(APPOINTMENT_REMINDER, chat, REMINDER.to_json(), due)
        finally:
            await store.close()

    asyncio.run(write())


def post(port: int, update: JsonDict, timeout: float = 30.0) -> int:
    """POST one update to an instance's webhook; its HTTP status, or 0 when it never answered."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hook", data=json.dumps(update).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310  # http on this machine
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)
    except (OSError, TimeoutError):
        return 0


def _chat_of(update: JsonDict) -> int:
    for kind, body in update.items():
        if kind == "update_id" or not isinstance(body, dict):
            continue
        message = body.get("message", body)
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict):
            return int(chat["id"])
    return 0


@dataclass
class Balancer:
    """Telegram's webhook pushes through a round-robin load balancer (see the module's note)."""

    standin: StandIn
    ports: list[int]
    redeliver_share: float = 0.05  # answered updates delivered a second time
    workers: int = 8
    posts: int = 0
    failed_posts: int = 0
    redelivered: int = 0
    _next: itertools.count[int] = field(default_factory=itertools.count)
    _queues: dict[int, deque[JsonDict]] = field(default_factory=dict)
    _busy: set[int] = field(default_factory=set)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _random: random.Random = field(default_factory=lambda: random.Random(8))  # noqa: S311  # test traffic

    def start(self) -> Balancer:
        """Begin pushing updates."""
        self._threads = [threading.Thread(target=self._collect, daemon=True)]
        self._threads += [threading.Thread(target=self._work, daemon=True)
                          for _ in range(self.workers)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop pushing; updates not yet delivered stay undelivered."""
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=40)

    def idle(self) -> bool:
        """Nothing queued and nothing in flight."""
        with self._lock:
            return not self._busy and not any(self._queues.values())

    def _collect(self) -> None:
        while not self._stop.is_set():
            taken = self.standin.take_updates()
            if taken:
                with self._lock:
                    for update in taken:
                        self._queues.setdefault(_chat_of(update), deque()).append(update)
                    self._lock.notify_all()
            time.sleep(0.01)

    def _take(self) -> tuple[int, JsonDict] | None:
        """The oldest update of a chat with nothing in flight, marking the chat busy."""
        with self._lock:
            while not self._stop.is_set():
                for chat, queue in self._queues.items():
                    if queue and chat not in self._busy:
                        self._busy.add(chat)
                        return chat, queue.popleft()
                self._lock.wait(0.05)
        return None

    def _work(self) -> None:
        while (taken := self._take()) is not None:
            chat, update = taken
            self._deliver(update)
            if self._random.random() < self.redeliver_share:
                self.redelivered += 1
                self._deliver(update)  # a 200 lost on the way: Telegram sends it again
            with self._lock:
                self._busy.discard(chat)
                self._lock.notify_all()

    def _deliver(self, update: JsonDict) -> None:
        """POST to the next instance until one answers 200 (redelivery, as Telegram retries)."""
        while not self._stop.is_set():
            port = self.ports[next(self._next) % len(self.ports)]
            self.posts += 1
            if post(port, update) == 200:  # HTTP OK
                return
            self.failed_posts += 1
            time.sleep(0.05)
