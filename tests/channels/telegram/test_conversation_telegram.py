"""The conversation on Telegram: /details N, the command menu, a booking confirmed at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from support.bot_harness import Bot, running, unpaced
from support.botapi_standin import StandIn, User
from support.clock import ManualClock

from bot.channels.telegram.app import _set_commands
from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.sender import TelegramSender
from bot.clinic import appointments
from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.clinic.replies import StaffRequest
from bot.clinic.staff import StaffDesk
from bot.content import Content
from bot.conversation import Action, Conversations
from bot.dialogue.turn import Text
from bot.storage import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAFF = 7
# Six weeks of partial relief and a contained protrusion: two minimally invasive options.
TWO_OPTIONS = ("no",) * 11 + ("38", "no", "yes", "6", "6_weeks_or_more", "partial", "none",
                             "protrusion", "none", "no", "no")
OPTIONS = ("percutaneous_decompression", "endoscopic_discectomy")


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


async def screened(conversations: Conversations, user: User, answers: tuple[str, ...]) -> None:
    """A whole screening through the service (for speed), ending at its result."""
    await conversations.handle(Action(user.id, command="start", language_hint="en"))
    for answer in answers:
        await conversations.handle(Action(user.id, text=answer))


def pros(content: Content, method: str) -> str:
    return content.catalog.plain(Text(f"method.{method}.pros"), "en")


async def test_s4_details_n_typed_in_telegram_shows_option_n_only(
    standin: StandIn, content: Content, store: Store
) -> None:
    conversations = Conversations(content, store, clock=lambda: NOW)
    patient = standin.new_user("Pat", language_code="en")
    async with running(standin, TelegramChannel(conversations, pace=unpaced())) as bot:
        await screened(conversations, patient, TWO_OPTIONS)
        second = "\n".join(m.text or "" for m in await bot.say(patient, "/details 2"))
        everything = "\n".join(m.text or "" for m in await bot.say(patient, "/details"))
        named = "\n".join(m.text or "" for m in await bot.say(patient, "/details@standin_bot 1"))

    assert pros(content, OPTIONS[1]) in second
    assert pros(content, OPTIONS[0]) not in second
    assert all(pros(content, method) in everything for method in OPTIONS)
    assert pros(content, OPTIONS[0]) in named
    assert pros(content, OPTIONS[1]) not in named


async def test_s4_details_is_in_the_command_menu_in_both_languages(
    standin: StandIn, content: Content, store: Store
) -> None:
    conversations = Conversations(content, store, clock=lambda: NOW)
    async with running(standin, TelegramChannel(conversations, pace=unpaced())) as bot:
        await _set_commands(bot.app, content)

    for code, language in (("", "en"), ("zh", "zh")):
        menu = {c["command"]: c["description"] for c in standin.commands(language_code=code)}
        assert menu["details"] == content.catalog.plain(Text("cmd.details"), language)


async def deliver(bot: Bot, store: Store, content: Content, chat: int, when: datetime) -> None:
    """Send every row due for ``chat`` by ``when``, as the outbox dispatcher would."""
    sender = TelegramSender(bot.app.bot, content.catalog)

    async def no_wait() -> None:
        return None

    for row in await store.claim_due(when, 10, timedelta(minutes=1)):
        if row.chat_id == chat:
            await sender.send(row, no_wait, 0)


async def test_a_booked_appointment_is_confirmed_to_the_patient_at_once(
    standin: StandIn, content: Content, store: Store
) -> None:
    clock = ManualClock(NOW)
    conversations = Conversations(content, store, clock=clock, menus=(APPOINTMENT_MENU,))
    desk = StaffDesk(content, store, staff_ids={STAFF}, clinic_chat_id=None, language="en",
                     timezone="Europe/London", clock=clock)
    patient = standin.new_user("Pat", language_code="en")
    async with running(standin, TelegramChannel(conversations, pace=unpaced())) as bot:
        await screened(conversations, patient, TWO_OPTIONS)
        await bot.say(patient, "no")  # no check-ins, thanks
        await desk.handle(StaffRequest(STAFF, STAFF, "appointment",
                                       f"{patient.id} 2026-03-20 14:00 Room 2", None))

        [booked] = [r for r in await store.pending(patient.id) if r.kind == appointments.BOOKED]
        assert booked.due_at == NOW  # at once, not the day before
        await deliver(bot, store, content, patient.id, NOW)
        told = standin.last_bot_message(patient)
        assert told is not None
        assert "Your appointment is booked" in (told.text or "")
        assert "2026-03-20" in (told.text or "")
        assert "Room 2" in (told.text or "")
        assert [b.text for b in told.buttons()] == ["I will come", "I need another time"]

        answered = await bot.press(patient, told, told.callback_data()[0])

    assert "is confirmed" in (answered[0].text or "")
    choices = [e.data["choice"] for e in await store.events(patient.id)
               if e.kind == appointments.ANSWER_EVENT]
    assert choices == [appointments.CONFIRM]
