"""The dashboard on PostgreSQL with two instances: a session made on one is good on the other."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from support.clock import ManualClock
from support.storage_backends import PostgresBackend, postgres_backend
from web_support import EMERGENCY, NOW, STAFF, text_of

from bot.channels.web.serve import WebChannel
from bot.channels.web.settings import WebSettings
from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.content import Content
from bot.conversation import Action, Conversations


@pytest.fixture
async def postgres() -> AsyncIterator[PostgresBackend]:
    async with postgres_backend() as backend:
        yield backend


async def test_two_instances_share_sessions_links_and_the_queue(
        postgres: PostgresBackend, content: Content) -> None:
    clock = ManualClock(NOW)
    webs = []
    for _ in range(2):
        store = await postgres.open()
        web = WebChannel(WebSettings("127.0.0.1", 0, None, "en"), content, store,
                         staff_ids={STAFF}, timezone="Europe/London", clock=clock,
                         database_url=postgres.url)
        await web.start()
        webs.append(web)
    first, second = webs
    try:
        patients = Conversations(content, first.store, clock=clock, menus=(APPOINTMENT_MENU,))
        await patients.handle(Action(2001, command="start", language_hint="en"))
        for answer in EMERGENCY:
            await patients.handle(Action(2001, text=answer))
        link = await first.new_link(STAFF)
        assert link is not None
        async with httpx.AsyncClient() as http:
            # The link made by the first instance signs in on the second.
            signed = await http.post(link.replace(first.base_url, second.base_url))
            assert signed.status_code == 303
            cookie = {"ldh_session": http.cookies["ldh_session"]}
        async with httpx.AsyncClient(base_url=first.base_url, cookies=cookie) as on_first:
            page = await on_first.get("/")
            assert page.status_code == 200
            assert "2001" in text_of(page.text)
            assert "Emergency" in text_of(page.text)
        async with httpx.AsyncClient(base_url=second.base_url, cookies=cookie) as on_second:
            assert (await on_second.get("/patients/2001")).status_code == 200
            await on_second.post("/signout", data={"csrf": _csrf(page.text)})
        async with httpx.AsyncClient(base_url=first.base_url, cookies=cookie) as on_first:
            assert (await on_first.get("/")).status_code == 401  # signed out everywhere
    finally:
        for web in webs:
            await web.stop()


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
