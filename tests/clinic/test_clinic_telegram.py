"""Staff commands and appointment buttons through the real Telegram handlers and the Bot API
stand-in, which refuses any call the real Bot API would refuse."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clinic_support import SCREENING_ANSWERS, Clock
from fhir.resources.R4B.bundle import Bundle
from support.bot_harness import Bot, running, unpaced
from support.botapi_standin import Chat, ChatMessage, StandIn, User
from telegram import BotCommand
from telegram.constants import ParseMode
from telegram.ext import Application

from bot.bench.export_cost import fill
from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.sender import keyboard
from bot.channels.telegram.staff import StaffChannel, set_staff_commands
from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.clinic.export_stream import PROGRESS_EVERY
from bot.clinic.staff import StaffDesk
from bot.content import Content
from bot.conversation import Action, Conversations
from bot.outbox import APPOINTMENT_REMINDER, CLINIC_NOTIFICATION, Payload
from bot.storage import Store

CLINIC_ZONE = "Europe/London"


@dataclass
class Harness:
    """The bot wired to the stand-in, with the people and chats of a clinic."""

    bot: Bot
    conversations: Conversations
    staff: User
    patient: User
    outsider: User
    clinic: Chat
    other_group: Chat
    staff_channel: StaffChannel

    @property
    def app(self) -> Application:  # type: ignore[type-arg]  # PTB's generics are for custom contexts
        """The Application under test."""
        return self.bot.app

    @property
    def standin(self) -> StandIn:
        """The Bot API stand-in."""
        return self.bot.standin

    async def pump(self) -> None:
        """Hand every queued update to the application."""
        await self.bot.pump()

    async def say(self, user: User, text: str, chat: Chat | None = None) -> list[ChatMessage]:
        """Send a line; return the bot's new messages in that chat."""
        return await self.bot.say(user, text, chat)


@pytest.fixture
def standin() -> AsyncIterator[StandIn]:  # type: ignore[misc]  # a sync generator fixture
    with StandIn() as server:
        yield server


@pytest.fixture
async def harness(
    standin: StandIn, content: Content, store: Store, clock: Clock
) -> AsyncIterator[Harness]:
    staff = standin.new_user("Dr", username="doctor")
    patient = standin.new_user("Pat", language_code="zh-hans")
    outsider = standin.new_user("Eve")
    clinic = standin.new_group("Spine clinic")
    other_group = standin.new_group("Walking club")
    conversations = Conversations(content, store, clock=clock, clinic_chat_id=clinic.chat_id,
                                  timezone=CLINIC_ZONE, menus=(APPOINTMENT_MENU,))
    desk = StaffDesk(content, store, staff_ids={staff.id}, clinic_chat_id=clinic.chat_id,
                     language="en", timezone=CLINIC_ZONE, clock=clock)
    staff_channel = StaffChannel(desk, content.catalog)
    channel = TelegramChannel(conversations, staff=staff_channel, pace=unpaced())
    async with running(standin, channel) as bot:
        yield Harness(bot, conversations, staff, patient, outsider, clinic, other_group,
                      staff_channel)


async def screened(harness: Harness) -> int:
    """The patient finishes a screening (through the service directly, for speed)."""
    chat = harness.patient.id
    await harness.conversations.handle(Action(chat, command="start", language_hint="zh"))
    for answer in (*SCREENING_ANSWERS, "6"):
        await harness.conversations.handle(Action(chat, text=answer))
    return chat


def texts(messages: list[ChatMessage]) -> list[str]:
    return [m.text or m.caption or "" for m in messages]


STAFF_LINES = ("/patients", "/patients 2", "/patient {id}", "/appointment",
               "/appointment {id} 2025-03-05 14:00 Spine clinic ; bring MRI",
               "/checkins {id} 3,8", "/export", "/export@standin_bot", "/PATIENTS")


async def test_every_staff_command_from_a_non_staff_user_is_an_unknown_command(
    harness: Harness, store: Store
) -> None:
    patient = await screened(harness)
    outsider = harness.outsider
    await harness.say(outsider, "/start")
    for line in STAFF_LINES:
        typed = line.format(id=patient)
        reply = texts(await harness.say(outsider, typed))
        command = typed.split()[0].split("@")[0].lower()
        unknown = texts(await harness.say(outsider, "/nosuchcommand"))
        # Word for word the answer to any unknown command, with only the name changed.
        assert reply, typed
        assert reply == [text.replace("/nosuchcommand", command) for text in unknown], typed
        assert all(str(patient) not in text for text in reply)
    # In any group (the clinic's included) it gets the same note as any other command there.
    group_note = texts(await harness.say(outsider, "/start", harness.other_group))
    assert len(group_note) == 1
    for chat in (harness.clinic, harness.other_group):
        for line in STAFF_LINES:
            reply = await harness.say(outsider, line.format(id=patient), chat)
            assert texts(reply) == group_note
    assert harness.standin.calls_to("sendDocument") == []
    assert harness.standin.calls_to("sendPhoto") == []
    assert [e.kind for e in await store.events(patient)].count("appointment") == 0
    assert await store.pending(patient) == []


async def test_staff_outside_their_private_chat_and_the_clinic_are_not_served(
    harness: Harness,
) -> None:
    await screened(harness)
    note = texts(await harness.say(harness.outsider, "/start", harness.other_group))
    assert texts(await harness.say(harness.staff, "/patients", harness.other_group)) == note


async def test_staff_get_the_list_the_history_with_a_chart_and_the_exports(
    harness: Harness,
) -> None:
    patient = await screened(harness)
    staff = harness.staff
    listing = texts(await harness.say(staff, "/patients"))
    assert any(f"{patient} · zh · screening/result" in text for text in listing)

    history = await harness.say(staff, f"/patient {patient}")
    assert [m.kind for m in history] == ["text", "photo"]
    assert f"Patient {patient}" in (history[0].text or "")
    assert "answer pain_score: 6" in (history[0].text or "")
    assert history[1].caption is not None
    assert f"patient {patient}" in history[1].caption
    photo = history[1].content["photo"][-1]
    chart = bytes(await (await harness.app.bot.get_file(photo["file_id"])).download_as_bytearray())
    assert chart.startswith(b"\x89PNG")

    files = await harness.say(staff, "/export")
    assert [m.kind for m in files] == ["document"] * 3
    names = [m.content["document"]["file_name"] for m in files]
    assert names == ["screenings-20250303-0900.csv", "screenings-20250303-0900.fhir.json",
                     "questionnaire.fhir.json"]
    data = [bytes(await (await harness.app.bot.get_file(m.content["document"]["file_id"]))
                  .download_as_bytearray()) for m in files]
    rows = list(csv.DictReader(io.StringIO(data[0].decode())))
    assert [(r["patient"], r["pain_score"]) for r in rows] == [(str(patient), "6")]
    bundle = Bundle.model_validate_json(data[1])
    assert len(bundle.entry or []) == 1
    assert "All screenings (1) as CSV." in (files[0].caption or "")


def export_files_in(directory: Path) -> list[Path]:
    return list(directory.glob("ldh-export-*"))


async def test_a_long_export_shows_its_progress_in_one_edited_message(
    harness: Harness, database: str, content: Content, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patients = 2 * PROGRESS_EVERY + 150
    await fill(database, patients, content)
    harness.staff_channel.monotonic = lambda: 0.0  # time stands still: one edit, at the end
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    replies = await harness.say(harness.staff, "/export")
    assert [m.kind for m in replies] == ["text", "document", "document", "document"]
    sent = [call.params["text"] for call in harness.standin.calls_to("sendMessage")]
    assert sent[-1] == f"Exporting screenings… {PROGRESS_EVERY} patients so far."
    edits = [call.params["text"] for call in harness.standin.calls_to("editMessageText")]
    assert edits == [f"Export finished: {patients} patients. The files follow."]
    assert replies[0].text == edits[0]
    assert f"All screenings ({patients}) as CSV." in (replies[1].caption or "")
    assert export_files_in(tmp_path) == []  # sent, then deleted


async def test_staff_in_the_clinic_chat_are_served_there(harness: Harness) -> None:
    patient = await screened(harness)
    reply = texts(await harness.say(harness.staff, "/patients@standin_bot", harness.clinic))
    assert any(str(patient) in text for text in reply)


async def test_malformed_appointment_gets_the_usage_never_a_crash(harness: Harness) -> None:
    patient = await screened(harness)
    for line in (f"/appointment {patient}", f"/appointment {patient} 2025-03-05 25:61 Room",
                 "/appointment <b>1</b> & 2025-03-05 10:00 Room", "/appointment\n\n"):
        reply = texts(await harness.say(harness.staff, line))
        assert len(reply) == 1
        assert reply[0].startswith("Usage: /appointment ID YYYY-MM-DD HH:MM PLACE ; NOTE"), line


async def send_reminder(harness: Harness, store: Store, content: Content, chat: int) -> int:
    """Deliver the first due appointment reminder as the outbox dispatcher would."""
    row = next(r for r in await store.pending(chat) if r.kind == APPOINTMENT_REMINDER)
    payload = Payload.from_json(row.payload)
    catalog = content.catalog
    markup = keyboard(payload, catalog)
    text = "\n\n".join(catalog.message_html(m, payload.language) for m in payload.messages)
    sent = await harness.app.bot.send_message(chat, text, parse_mode=ParseMode.HTML,
                                              reply_markup=markup)
    return sent.message_id


async def test_a_booked_reminder_is_answered_with_a_button_and_the_clinic_is_told(
    harness: Harness, store: Store, content: Content
) -> None:
    patient = await screened(harness)
    line = f"/appointment {patient} 2025-03-05 14:00 Spine clinic <2> ; bring MRI & X-ray"
    booked = texts(await harness.say(harness.staff, line))
    assert "Spine clinic <2>" in booked[0]
    assert "2025-03-04 14:00, the day before" in booked[0]
    message_id = await send_reminder(harness, store, content, patient)
    shown = harness.standin.message(harness.patient, message_id)
    assert shown is not None
    assert "星期三" in (shown.text or "")
    assert [b.text for b in shown.buttons()] == ["我会按时来", "我需要改时间"]

    before = max(m.message_id for m in harness.standin.history(harness.patient))
    harness.standin.press(harness.patient, message_id, shown.callback_data()[1])  # reschedule
    await harness.pump()
    replies = [m for m in harness.standin.messages(harness.patient) if m.message_id > before]
    assert "诊所会联系您" in (replies[0].text or "")
    assert [r for r in await store.pending(patient) if r.kind == APPOINTMENT_REMINDER] == []
    notes = [Payload.from_json(r.payload) for r in await store.pending(harness.clinic.chat_id)
             if r.kind == CLINIC_NOTIFICATION]
    assert len(notes) == 1
    note = content.catalog.message_plain(notes[0].messages[0], notes[0].language)
    assert f"Patient {patient} asks to reschedule" in note

    history = texts(await harness.say(harness.staff, f"/patient {patient}"))
    assert "answer to the appointment reminder: asks to reschedule" in history[0]


async def test_staff_command_menus_are_set_for_staff_chats_only(harness: Harness) -> None:
    await harness.say(harness.staff, "/start")
    patient_menu = [BotCommand("start", "Start")]
    await set_staff_commands(harness.app.bot, harness.staff_channel, patient_menu)
    scope: dict[str, Any] = {"type": "chat", "chat_id": harness.staff.id}
    names = [c["command"] for c in harness.standin.commands(scope=scope)]
    assert names == ["start", "patients", "patient", "appointment", "checkins", "export"]
    assert harness.standin.commands() == []  # the default menu, everyone else's, is untouched


class _Dashboard:
    """A dashboard that is served; its links and audit are not what this test is about."""

    async def link_text(self, staff_id: int, language: str, name: str = "") -> str:
        return f"link for {staff_id} ({language}, {name})"

    async def audit(self, staff_id: int, action: str, patient: int | None, detail: str) -> None:
        del staff_id, action, patient, detail


async def test_the_staff_menu_offers_dashboard_only_when_the_bot_serves_it(
    harness: Harness,
) -> None:
    await harness.say(harness.staff, "/start")
    served = StaffChannel(harness.staff_channel.desk, harness.staff_channel.catalog,
                          dashboard=_Dashboard())
    await set_staff_commands(harness.app.bot, served, [])
    scope: dict[str, Any] = {"type": "chat", "chat_id": harness.staff.id}
    menu = {c["command"]: c["description"] for c in harness.standin.commands(scope=scope)}
    assert list(menu)[-1] == "dashboard"
    assert menu["dashboard"] == "A sign-in link for the clinic's dashboard"
