"""Helpers of the dashboard tests: a screened patient, a signed-in HTTP client, page text."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from support.clock import ManualClock

from bot.audit import ANSWER, answer_event
from bot.channels.web.serve import WebChannel
from bot.conversation import Action, Contact, Conversations, Reply

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
STAFF = 7
OTHER_STAFF = 8
# Eleven red flags "no", age, no leg pain, then the pain score: a routine, conservative result.
ROUTINE = ("no",) * 11 + ("60", "no", "6")
# The first red flag (saddle numbness, or its equivalent) answered yes: an emergency.
EMERGENCY = ("yes",)


@dataclass
class Clinic:
    """The dashboard, the conversation it watches, and the clock both read."""

    web: WebChannel
    conversations: Conversations
    clock: ManualClock

    @property
    def url(self) -> str:
        """Where the dashboard listens."""
        return self.web.base_url

    async def screen(self, chat: int, answers: tuple[str, ...] = ROUTINE,
                     contact: Contact | None = None) -> Reply:
        """A patient's screening, answered with ``answers`` (text as typed)."""
        reply = await self.conversations.handle(Action(chat, command="start", language_hint="en",
                                                       contact=contact))
        for answer in answers:
            reply = await self.conversations.handle(Action(chat, text=answer, contact=contact))
        return reply

    async def record_typed(self, chat: int, typed: str) -> None:
        """An answer event whose typed text is ``typed``, as the engine records answers."""
        async with self.web.store.transaction(chat, self.clock()) as tx:
            await tx.record_event(ANSWER, answer_event({"pain_score": 5}, typed, "test"))

    async def link(self, staff_id: int = STAFF) -> str:
        """A fresh sign-in link, as /dashboard would send."""
        assert self.web.signin is not None
        token = await self.web.signin.new_link(staff_id, self.clock())
        assert token is not None
        return f"{self.url}/signin/{token}"

    async def client(self, staff_id: int = STAFF) -> SignedIn:
        """An HTTP client signed in as ``staff_id``."""
        http = httpx.AsyncClient(base_url=self.url, follow_redirects=False)
        answer = await http.post(await self.link(staff_id))
        assert answer.status_code == 303, answer.text
        queue = await http.get("/")
        return SignedIn(http, csrf_of(queue.text))


@dataclass
class SignedIn:
    """A signed-in client and its session's CSRF token."""

    http: httpx.AsyncClient
    csrf: str

    async def post(self, path: str, **fields: str) -> httpx.Response:
        """A form posted with the session's token."""
        return await self.http.post(path, data={"csrf": self.csrf, **fields})


def csrf_of(page: str) -> str:
    """The CSRF token the page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def text_of(page: str) -> str:
    """A page's visible text, tags removed and entities decoded, spaces collapsed."""
    without = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", without))).strip()
