"""Check-ins on Telegram: the reminder's button, the check-in, its result and the pain chart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from support.bot_harness import Bot, running, unpaced
from support.botapi_standin import ChatMessage, StandIn, User
from support.clock import ManualClock

from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.sender import TelegramSender
from bot.content import Content
from bot.conversation import Conversations
from bot.outbox import CHECKIN
from bot.storage import Store

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


async def answer(bot: Bot, user: User, *choices: str) -> list[ChatMessage]:
    """Press, for each question in turn, the button whose value is ``choice``."""
    new: list[ChatMessage] = []
    for choice in choices:
        question = bot.standin.last_bot_message(user)
        assert question is not None
        data = next(d for d in question.callback_data() if d.endswith(f":{choice}"))
        new = await bot.press(user, question, data)
    return new


async def test_a_checkin_from_its_reminder_to_the_chart(
    standin: StandIn, content: Content, store: Store
) -> None:
    clock = ManualClock(START)
    conversations = Conversations(content, store, clock=clock, timezone="Asia/Shanghai")
    patient = standin.new_user("Pat", language_code="en")
    async with running(standin, TelegramChannel(conversations, pace=unpaced())) as bot:
        await bot.say(patient, "/start")
        await answer(bot, patient, *["no"] * 11)
        await bot.say(patient, "45")
        offer = await answer(bot, patient, "no", "yes", "7", "none")
        await answer(bot, patient, "accept")
        assert "checkin:accept" in offer[-1].callback_data()[0]

        # Two weeks on, the dispatcher's sender delivers the week-2 reminder.
        clock.now = START + timedelta(weeks=2, days=1)
        [due] = [r for r in await store.claim_due(clock.now, 10, timedelta(minutes=1))
                 if r.kind == CHECKIN]
        sender = TelegramSender(bot.app.bot, content.catalog)

        async def no_wait() -> None:
            return None

        await sender.send(due, no_wait, 0)
        reminder = standin.last_bot_message(patient)
        assert reminder is not None
        assert "week 2" in (reminder.text or "")

        # Its button starts the check-in: red flags first, then today's pain.
        first = await bot.press(patient, reminder, reminder.callback_data()[0])
        assert "Check-in" in (first[0].text or "")
        await answer(bot, patient, *["no"] * 11)
        # Pregnancy is asked again of a 45-year-old whose answer was no (spec §5).
        result = await answer(bot, patient, "5", "yes", "no")

    assert "Today: 5 out of 10" in (result[0].text or "")
    photos = [m for m in result if m.kind == "photo"]
    assert len(photos) == 1
    assert "pain over time" in (photos[0].caption or "")
    sent = standin.calls_to("sendPhoto")[-1]
    assert sent.ok
