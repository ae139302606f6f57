"""Fixtures of the clinic tests: content, a store, a movable clock, the desk, conversations."""

from __future__ import annotations

import pytest
from clinic_support import CLINIC, CLINIC_ZONE, SCREENING_ANSWERS, STAFF, Ask, Clock, Screen

from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.clinic.replies import Output, StaffRequest
from bot.clinic.staff import StaffDesk
from bot.content import Content
from bot.conversation import Action, Conversations, Reply
from bot.storage import Store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def conversations(content: Content, store: Store, clock: Clock) -> Conversations:
    return Conversations(content, store, clock=clock, clinic_chat_id=CLINIC,
                         timezone=CLINIC_ZONE, menus=(APPOINTMENT_MENU,))


@pytest.fixture
def desk(content: Content, store: Store, clock: Clock) -> StaffDesk:
    return StaffDesk(content, store, staff_ids={STAFF}, clinic_chat_id=CLINIC, language="en",
                     timezone=CLINIC_ZONE, clock=clock)


@pytest.fixture
def screen(conversations: Conversations) -> Screen:
    """Take a patient through the whole screening, ending with ``pain`` as the pain score."""

    async def run(chat: int, pain: int = 6, hint: str = "en") -> Reply:
        reply = await conversations.handle(Action(chat, command="start", language_hint=hint))
        for answer in (*SCREENING_ANSWERS, str(pain)):
            reply = await conversations.handle(Action(chat, text=answer))
        return reply

    return run


@pytest.fixture
def ask(desk: StaffDesk) -> Ask:
    """Send the desk one staff command, as the staff member, in their private chat."""

    async def run(command: str, args: str = "", user: int = STAFF,
                  update_id: int | None = None) -> list[Output]:
        return await desk.handle(StaffRequest(user, user, command, args, update_id))

    return run

