"""Fixtures of the dashboard tests: a clinic on SQLite, the dashboard served on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.clock import ManualClock
from web_support import NOW, STAFF, Clinic

from bot.channels.web.serve import WebChannel
from bot.channels.web.settings import WebSettings
from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.content import Content
from bot.conversation import Conversations
from bot.storage import Store


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def clinic(content: Content, store: Store, clock: ManualClock) -> AsyncIterator[Clinic]:
    """Patients screened through the conversation, and the dashboard serving the clinic."""
    web = WebChannel(WebSettings("127.0.0.1", 0, None, "en"), content, store,
                     staff_ids={STAFF}, timezone="Europe/London", clock=clock)
    await web.start()
    conversations = Conversations(content, store, clock=clock, timezone="Europe/London",
                                  menus=(APPOINTMENT_MENU,))
    try:
        yield Clinic(web, conversations, clock)
    finally:
        await web.stop()
