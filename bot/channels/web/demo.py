"""``ldh-bot dashboard-demo``: the dashboard on 127.0.0.1 with made-up patients, no Telegram.

Every patient here is invented and screened through the real conversation, so the queue, the
timelines and the pain charts are what the bot would make of those answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.channels.web.serve import WebChannel
from bot.channels.web.settings import WebSettings
from bot.clinic import actions, appointments
from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.content import Content, load_content
from bot.conversation import Action, Contact, Conversations
from bot.storage import Store, open_store

DEMO_STAFF = 1  # the demo's one made-up staff member
DEMO_STAFF_NAME = "Demo Nurse"
ZONE = "Europe/London"
NO_FLAGS = ("no",) * 11  # the four emergency and seven urgent red flags
# Made-up patients: a chat id, a language, and what they answer (typed, as they would type it).
# Over 55, so the pregnancy question is not asked; no leg pain; then the pain score.
Person = tuple[int, str, tuple[str, ...]]
ROUTINE: list[Person] = [
    (100010 + n, "zh" if n % 3 == 0 else "en", (*NO_FLAGS, str(56 + 3 * n), "no", str(4 + n % 4)))
    for n in range(8)]
RED_FLAGS: list[Person] = [
    (100001, "en", ("yes",)),  # saddle numbness: an emergency
    (100002, "zh", ("no",) * 4 + ("yes",)),  # fever: urgent
    (100003, "en", ("no", "not sure")),  # not sure counts as yes
    (100004, "en", (*NO_FLAGS, "61", "no", "9")),  # severe pain: an alert
]
CHECKIN_PAIN = {2: (5, 4, 6, 3), 6: (3, 2, 7, 2)}  # week: pain of the first four routine patients
RESCHEDULE = 100011  # a routine patient who asks to move their visit
# Made-up names and usernames, as Telegram would show them.
NAMES = {
    100001: Contact("Demo Alex Morgan", "alex_demo"), 100002: Contact("Demo Wang Fang", "wf_demo"),
    100003: Contact("Demo Sam Patel", None), 100004: Contact("Demo Jo Evans", "jo_demo"),
    100010: Contact("Demo Li Lei", None), 100011: Contact("Demo Robin Lee", "robin_demo"),
    100012: Contact("Demo Kim Novak", None), 100013: Contact("Demo Chen Jing", "cj_demo"),
}


class DemoClock:
    """The demo's time: the real time moved back while the made-up history is written."""

    def __init__(self) -> None:
        """Start eight weeks ago, so the check-ins of a course fit in."""
        self.offset = timedelta(weeks=-8)

    def __call__(self) -> datetime:
        """The demo's current time."""
        return datetime.now(UTC) + self.offset


async def _answer(conversations: Conversations, clock: DemoClock, chat: int,
                  answers: tuple[str, ...]) -> None:
    for answer in answers:
        clock.offset += timedelta(minutes=3)
        await conversations.handle(Action(chat, text=answer, contact=NAMES.get(chat)))


async def fill(content: Content, store: Store, clock: DemoClock) -> None:
    """Screen the made-up patients, play their check-ins, book a visit one asks to move."""
    conversations = Conversations(content, store, clock=clock, timezone=ZONE,
                                  menus=(APPOINTMENT_MENU,))
    for chat, language, answers in ROUTINE:
        await conversations.handle(Action(chat, command="start", language_hint=language,
                                          contact=NAMES.get(chat)))
        await _answer(conversations, clock, chat, answers)
        await conversations.handle(Action(chat, text="checkin:accept"))
    start = clock.offset
    for week, pains in CHECKIN_PAIN.items():
        clock.offset = start + timedelta(weeks=week)
        for (chat, _, _), pain in zip(ROUTINE, pains, strict=False):
            await conversations.handle(Action(chat, command="checkin"))
            await _answer(conversations, clock, chat, (*NO_FLAGS, str(pain), "yes"))
    # What a dispatcher would have sent by now is marked sent: the demo has no Telegram.
    clock.offset = timedelta(0)
    while due := await store.claim_due(clock(), 500, timedelta(minutes=1)):
        for row in due:
            await store.mark_sent(row.id, clock())
    clock.offset = timedelta(hours=-5)
    zone = ZoneInfo(ZONE)
    visit = (clock() + timedelta(days=4)).astimezone(zone).replace(hour=10, minute=30)
    booked = await actions.book_visit(
        store, chat_id=RESCHEDULE, at=visit, place="Spine clinic, room 3",
        note="Bring your scans", by=DEMO_STAFF, clinic_zone=zone, now=clock())
    if booked.visit is not None:
        clock.offset = timedelta(hours=-3)
        choice = appointments.callback(booked.visit.id, appointments.RESCHEDULE)
        await conversations.handle(Action(RESCHEDULE, text=choice))
    for chat, language, answers in RED_FLAGS:
        clock.offset += timedelta(minutes=20)
        await conversations.handle(Action(chat, command="start", language_hint=language,
                                          contact=NAMES.get(chat)))
        await _answer(conversations, clock, chat, answers)
    clock.offset = timedelta(0)


async def serve_demo(port: int, ready: asyncio.Event | None = None) -> None:
    """Serve the demo until cancelled, printing a sign-in link."""
    with tempfile.TemporaryDirectory(prefix="ldh-dashboard-demo-") as folder:
        content = load_content()
        store = open_store(f"sqlite:///{Path(folder) / 'demo.db'}")
        await store.open()
        clock = DemoClock()
        try:
            await fill(content, store, clock)
            web = WebChannel(WebSettings("127.0.0.1", port, None, "en"), content, store,
                             staff_ids={DEMO_STAFF}, timezone=ZONE, clock=clock, demo=True)
            await web.start()
            try:
                link = await web.new_link(DEMO_STAFF, DEMO_STAFF_NAME)
                print("DEMO dashboard: made-up patients only, no real data.")  # noqa: T201  # the demo's user reads this
                print(f"Sign in (valid 10 minutes, once): {link}")  # noqa: T201
                print("Stop with Ctrl-C.", flush=True)  # noqa: T201
                if ready is not None:
                    ready.set()
                await asyncio.Event().wait()
            finally:
                await web.stop()
        finally:
            await store.close()


def main(port: int) -> int:
    """Run the demo in the foreground."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_demo(port))
    return 0
