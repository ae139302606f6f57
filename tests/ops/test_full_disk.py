"""Fault injection: the SQLite database cannot grow (a full disk), then can again.

A full disk is made with SQLite's ``max_page_count`` on the store's own connection: the file
may not grow by a page, as when the disk has no room for one (a size-limited file system needs
root here). A small write may still fit in a page's free space, as on a real full disk; the
health check's write is larger than a page, so ``/healthz`` says 503 as soon as the file cannot
grow, before every step fails. Once there is room again, without a restart, the next clinic
notification and the next reminder arrive through the pacer, and the stand-in (which refuses
what Telegram's limits would) refuses none of them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.bot_harness import running
from support.botapi_standin import ChatMessage, StandIn
from support.botapi_state import RateLimits

from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.sender import TelegramSender
from bot.content import Content
from bot.conversation import Conversations
from bot.dialogue.turn import Message, Text
from bot.ops.health import Health
from bot.outbox import APPOINTMENT_REMINDER, Payload
from bot.reminders.dispatcher import Dispatcher
from bot.reminders.pacing import CHAT_BURST, SAFE_CHAT_INTERVAL, Pacer
from bot.storage.sqlite import SqliteStore

TIMEOUT = 20.0


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "bot.db")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _room(store: SqliteStore, *, full: bool) -> None:
    """No room for another page (``full``), or room again."""

    def limit(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0] if full else 1 << 30
        conn.execute(f"PRAGMA max_page_count = {pages}")

    await store._run(limit)  # noqa: SLF001  # the pragma holds per connection: the store's own


class Running:
    """The health check's view of a dispatcher that runs."""

    running = True

    def failing_for(self) -> float:
        return 0.0


async def test_a_full_disk_is_noticed_and_served_again_once_there_is_room(
    standin: StandIn, content: Content, disk: SqliteStore
) -> None:
    clinic = standin.new_group("Spine clinic")
    conversations = Conversations(content, disk, clinic_chat_id=clinic.chat_id)
    pace = Pacer(chat_interval=SAFE_CHAT_INTERVAL, chat_burst=CHAT_BURST)
    channel = TelegramChannel(conversations, pace=pace)
    health = Health(disk.probe_write)
    health.track(Running())
    standin.enable_rate_limits(RateLimits())
    async with running(standin, channel) as bot:
        dispatcher = Dispatcher(disk, TelegramSender(bot.app.bot, content.catalog), pacer=pace)
        disk.on_enqueued(dispatcher.wake)
        dispatcher.start()
        try:
            patient = standin.new_user("Pat")
            question = _last(await bot.say(patient, "/start"))
            assert (await health.check()).ok

            await _room(disk, full=True)
            report = await health.check()
            assert not report.ok
            assert report.database == "unwritable (OperationalError)"

            await _room(disk, full=False)
            assert (await health.check()).ok
            # The next red flag answered yes tells the clinic; the next reminder goes out.
            await bot.press(patient, question, _yes(question))
            reader = standin.new_user("Reader")
            reminder = Payload("en", (Message((Text("rec.disclaimer"),)),))
            async with disk.transaction(0, datetime.now(UTC)) as tx:
                await tx.enqueue(APPOINTMENT_REMINDER, reader.chat_id, reminder.to_json(),
                                 datetime.now(UTC))
            await standin.wait_for_async(lambda: standin.messages(clinic), timeout=TIMEOUT)
            await standin.wait_for_async(lambda: standin.messages(reader), timeout=TIMEOUT)
        finally:
            await dispatcher.stop()
    assert standin.too_many_requests == 0


def _last(messages: list[ChatMessage]) -> ChatMessage:
    assert messages
    return messages[-1]


def _yes(question: ChatMessage) -> str:
    markup = question.reply_markup or {}
    return next(b["callback_data"] for row in markup["inline_keyboard"] for b in row
                if b["callback_data"].endswith(":yes"))


