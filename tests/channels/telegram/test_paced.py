"""Staff answers and group notes go through the one pacer: within Telegram's limits, retried.

The stand-in answers 429 beyond Telegram's limits (about one message a second per chat after a
burst of three, 20 a minute per group), so a reply that bypassed the pacer would be counted.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from support.bot_harness import Bot, running
from support.botapi_standin import StandIn, User
from support.botapi_state import RateLimits
from telegram import Update
from telegram.ext import ApplicationBuilder, TypeHandler

from bot.channels.telegram import paced
from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.staff import StaffChannel
from bot.clinic.staff import StaffDesk
from bot.content import Content
from bot.conversation import Action, Conversations
from bot.reminders.pacing import CHAT_BURST, SAFE_CHAT_INTERVAL, Pacer
from bot.storage import Store

REQUESTS = 6  # twice a chat's burst: enough to meet the per-chat limit unpaced


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
async def wired(
    standin: StandIn, content: Content, store: Store
) -> AsyncIterator[tuple[Bot, Conversations, User]]:
    """The bot with a staff member (returned) and the real pacer, as ``ldh-bot run`` has it."""
    staff = standin.new_user("Dr")
    clinic = standin.new_group("Spine clinic")
    conversations = Conversations(content, store, clinic_chat_id=clinic.chat_id)
    desk = StaffDesk(content, store, staff_ids={staff.id}, clinic_chat_id=clinic.chat_id,
                     language="en", timezone="UTC", clock=conversations.clock)
    pace = Pacer(chat_interval=SAFE_CHAT_INTERVAL, chat_burst=CHAT_BURST)
    channel = TelegramChannel(conversations, staff=StaffChannel(desk, content.catalog),
                              pace=pace)
    standin.enable_rate_limits(RateLimits())
    async with running(standin, channel) as bot:
        yield bot, conversations, staff


async def test_many_staff_commands_in_a_row_are_all_answered_without_a_429(
    standin: StandIn, wired: tuple[Bot, Conversations, User]
) -> None:
    bot, conversations, staff = wired
    patient = standin.new_user("Pat")
    await conversations.handle(Action(patient.chat_id, command="start"))
    answers = [await bot.say(staff, f"/patient {patient.chat_id}") for _ in range(REQUESTS)]
    assert all(answers), "every /patient gets its answer"
    assert standin.too_many_requests == 0


async def test_many_group_notes_are_all_sent_without_a_429(
    standin: StandIn, wired: tuple[Bot, Conversations, User]
) -> None:
    bot, _, _ = wired
    group = standin.new_group("Walking club")
    notes = [await bot.say(standin.new_user(f"P{n}"), "/start", group) for n in range(REQUESTS)]
    assert [len(n) for n in notes] == [1] * REQUESTS  # one polite note each, none lost
    assert standin.too_many_requests == 0


async def test_a_group_note_refused_with_429_is_sent_once_the_wait_is_over(
    standin: StandIn, content: Content, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    channel = TelegramChannel(Conversations(content, store), pace=Pacer(chat_burst=CHAT_BURST))
    # Its own application: the harness fails any test in which the stand-in refused a call.
    app = (ApplicationBuilder().token(standin.token).base_url(standin.base_url)
           .base_file_url(standin.base_file_url).build())
    app.add_handler(TypeHandler(Update, channel.on_update))
    group = standin.new_group("Walking club")
    standin.refuse_next(group, 429, retry_after=1)
    async with app:
        with caplog.at_level(logging.WARNING, logger=paced.__name__):
            note = await Bot(app, standin).say(standin.new_user("Pat"), "/start", group)
    assert len(note) == 1
    assert [r.getMessage().split(" to chat")[0] for r in caplog.records] == ["group note"]
