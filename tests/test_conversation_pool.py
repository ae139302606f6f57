"""More chats at once than PostgreSQL's pool has connections: no update waits for a second one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from support.storage_backends import postgres_backend

from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.clinic.replies import StaffRequest
from bot.clinic.staff import StaffDesk
from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.dialogue.turn import Message
from bot.storage.postgres import PostgresStore

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CLINIC = -500
STAFF = 7
# Nine red flags "no", age (over 55: no pregnancy question), no leg pain, pain 6: a routine
# result, the patient's record kept.
SCREENING = ("no",) * 11 + ("60", "no", "6")


def keys(reply: Reply) -> list[str]:
    return [part.key for message in reply.turn.messages for part in message.parts]


async def test_more_chats_than_pooled_connections_all_get_their_reminders(
    content: Content,
) -> None:
    async with postgres_backend() as backend:
        store = await backend.open()
        assert isinstance(store, PostgresStore)
        chats = range(1, 3 * store.pool_size + 1)
        conversations = Conversations(content, store, clock=lambda: NOW, clinic_chat_id=CLINIC)
        for chat in chats:
            await conversations.handle(Action(chat, command="start"))

        replies = await asyncio.gather(
            *(conversations.respond(Action(chat, command="reminders")) for chat in chats)
        )

        assert [keys(reply)[0] for reply in replies] == ["reminders.none"] * len(chats)


async def test_staff_and_patients_of_more_chats_than_connections_are_all_served(
    content: Content,
) -> None:
    async with postgres_backend() as backend:
        store = await backend.open()
        assert isinstance(store, PostgresStore)
        chats = range(1, 3 * store.pool_size + 1)
        conversations = Conversations(content, store, clock=lambda: NOW, clinic_chat_id=CLINIC,
                                      timezone="Europe/London", menus=(APPOINTMENT_MENU,))
        desk = StaffDesk(content, store, staff_ids={STAFF}, clinic_chat_id=CLINIC,
                         language="en", timezone="Europe/London", clock=lambda: NOW)
        for chat in chats:
            for step in ("/start", *SCREENING):
                command = step[1:] if step.startswith("/") else None
                await conversations.handle(Action(chat, command=command, text=step))

        async def staff(command: str, args: str) -> str:
            outputs = await desk.handle(StaffRequest(STAFF, STAFF, command, args, None))
            return "\n".join(content.catalog.message_plain(o, "en")
                             for o in outputs if isinstance(o, Message))

        booked = await asyncio.gather(
            *(staff("appointment", f"{chat} 2025-03-10 10:00 Room 1") for chat in chats))
        visit = (await store.events(1))[-1].data["id"]
        answered = await asyncio.gather(*(
            conversations.respond(Action(chat, text=f"appt:{visit}:confirm")) for chat in chats))
        planned = await asyncio.gather(*(staff("checkins", f"{chat} 2,4") for chat in chats))

        assert all("Appointment booked for patient" in text for text in booked)
        assert [keys(reply)[0] for reply in answered] == ["appointment.confirm"] * len(chats)
        # Each plan lists the reminders it just wrote, read through its own transaction.
        assert all("2025-03-17 10:00" in text for text in planned), planned[0]
