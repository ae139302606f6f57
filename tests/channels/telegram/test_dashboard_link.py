"""/dashboard on Telegram: a one-time link to staff in their private chat, without a preview."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from support.bot_harness import Bot, running, unpaced
from support.botapi_standin import StandIn, User
from support.clock import ManualClock

from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.staff import StaffChannel
from bot.channels.web.serve import WebChannel
from bot.channels.web.settings import WebSettings
from bot.clinic.staff import StaffDesk
from bot.content import Content
from bot.conversation import Conversations
from bot.storage import Store

ZONE = "Europe/London"
LINK = re.compile(r"http://\S+/signin/\S+")


@dataclass
class Clinic:
    bot: Bot
    standin: StandIn
    staff: User
    outsider: User
    web: WebChannel


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
async def clinic(standin: StandIn, content: Content, store: Store) -> AsyncIterator[Clinic]:
    clock = ManualClock(datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
    staff, outsider = standin.new_user("Dr"), standin.new_user("Eve")
    web = WebChannel(WebSettings("127.0.0.1", 0, None, "en"), content, store,
                     staff_ids={staff.id}, timezone=ZONE, clock=clock)
    await web.start()
    desk = StaffDesk(content, store, staff_ids={staff.id}, clinic_chat_id=None, language="en",
                     timezone=ZONE, clock=clock, audit=web.audit)
    conversations = Conversations(content, store, clock=clock, timezone=ZONE)
    channel = TelegramChannel(conversations, pace=unpaced(),
                              staff=StaffChannel(desk, content.catalog, dashboard=web))
    try:
        async with running(standin, channel) as bot:
            yield Clinic(bot, standin, staff, outsider, web)
    finally:
        await web.stop()


async def test_staff_get_a_link_without_preview_that_shows_who_it_signs_in(
        clinic: Clinic) -> None:
    [reply] = await clinic.bot.say(clinic.staff, "/dashboard")
    found = LINK.search(reply.text or "")
    assert found is not None
    call = clinic.standin.calls_to("sendMessage")[-1]
    assert call.params["link_preview_options"] == {"is_disabled": True}
    async with httpx.AsyncClient() as http:
        page = await http.get(found.group())
    assert page.status_code == 200
    assert f"Sign in as Dr ({clinic.staff.id})" in page.text


async def test_anyone_else_gets_the_unknown_command_answer(clinic: Clinic) -> None:
    await clinic.bot.say(clinic.outsider, "/start")
    replies = await clinic.bot.say(clinic.outsider, "/dashboard")
    assert replies
    assert not any(LINK.search(m.text or "") for m in replies)
    assert "/dashboard" in " ".join(m.text or "" for m in replies)


async def test_staff_in_a_group_get_no_link(clinic: Clinic) -> None:
    group = clinic.standin.new_group("Spine clinic")
    replies = await clinic.bot.say(clinic.staff, "/dashboard", group)
    assert not any(LINK.search(m.text or "") for m in replies)


async def test_staff_commands_on_telegram_are_in_the_dashboards_audit_trail(
        clinic: Clinic) -> None:
    await clinic.bot.say(clinic.staff, "/patient 5")
    await clinic.bot.say(clinic.staff, "/patients")
    assert clinic.web.tables is not None
    lines = await clinic.web.tables.audit_lines(staff_id=clinic.staff.id, since=None,
                                                until=None, before=None, limit=10)
    assert [(line.action, line.patient) for line in lines] == [
        ("telegram_patients", None), ("telegram_patient", 5)]
