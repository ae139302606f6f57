"""The whole clinic for the browser tests: the bot on the Bot API stand-in and the dashboard,
served on a background loop while selenium drives Chromium from the test's thread."""

from __future__ import annotations

import re
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from support.background_loop import BackgroundLoop, background_loop
from support.bot_harness import Bot, running, unpaced
from support.botapi_standin import ChatMessage, StandIn, User
from support.clock import ManualClock
from web_support import NOW

from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.staff import StaffChannel
from bot.channels.web.serve import WebChannel
from bot.channels.web.settings import WebSettings
from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.clinic.staff import StaffDesk
from bot.content import Content
from bot.conversation import Conversations
from bot.storage import Store, open_store

T = TypeVar("T")
ZONE = "Europe/London"
WAIT_S = 20  # a refresh comes every second in these tests; a loaded machine may take longer
_LINK = re.compile(r"https?://\S+/signin/\S+")


@dataclass
class Site:
    """The bot and the dashboard, and the people who use them."""

    loop: BackgroundLoop
    standin: StandIn
    bot: Bot
    store: Store
    content: Content
    clock: ManualClock
    web: WebChannel
    staff: User
    patient: User
    outsider: User

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the site's loop."""
        return self.loop.run(coroutine)

    def say(self, user: User, text: str) -> list[ChatMessage]:
        """A line typed to the bot; the bot's new messages in that chat."""
        return self.run(self.bot.say(user, text))

    def ask_link(self, user: User | None = None) -> str:
        """/dashboard sent to the bot in a private chat; the link it answered with."""
        replies = self.say(user or self.staff, "/dashboard")
        found = _LINK.search(" ".join(m.text or "" for m in replies))
        assert found is not None, f"no sign-in link in {[m.text for m in replies]}"
        return found.group()

    def url(self, path: str = "/") -> str:
        """An address on the dashboard."""
        return f"{self.web.base_url}{path}"

    def deliver_due(self) -> None:
        """Send every outbox row due now through the Telegram sender, as the dispatcher would."""

        async def deliver() -> None:
            sender = TelegramSender(self.bot.app.bot, self.content.catalog)

            async def no_wait() -> None:
                return None

            for row in await self.store.claim_due(self.clock(), 50, timedelta(minutes=1)):
                await sender.send(row, no_wait, 0)

        self.run(deliver())


def sign_in(site: Site, browser: webdriver.Chrome) -> None:
    """The staff member asks the bot for a link, opens it and presses the button."""
    browser.get(site.ask_link())
    browser.find_element(By.ID, "signin").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "queue"))


def wait_for(browser: webdriver.Chrome, condition: Any) -> Any:
    """Wait until ``condition(browser)`` is truthy."""
    # The queue replaces its rows every second: an element read mid-refresh is read again.
    return WebDriverWait(browser, WAIT_S,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def page_text(browser: webdriver.Chrome) -> str:
    """What the page shows."""
    # Read in one script, not as an element then its text: a form posted a moment ago can
    # replace the document between the two, which Chromium reports as an unknown error rather
    # than a stale element.
    return str(browser.execute_script("return document.body ? document.body.innerText : ''"))


@contextmanager
def served_site(content: Content, folder: Path) -> Iterator[Site]:
    """The site on a fresh SQLite file, stopped cleanly afterwards."""
    with StandIn() as standin, background_loop() as loop:
        clock = ManualClock(NOW)
        staff = standin.new_user("Dr", username="doctor")
        patient = standin.new_user("Pat", language_code="en")
        outsider = standin.new_user("Eve")
        stack = AsyncExitStack()

        async def start() -> tuple[Store, WebChannel, Bot]:
            store = open_store(f"sqlite:///{folder / 'bot.db'}")
            await store.open()
            stack.push_async_callback(store.close)
            web = WebChannel(WebSettings("127.0.0.1", 0, None, "en"), content, store,
                             staff_ids={staff.id}, timezone=ZONE, clock=clock,
                             refresh_seconds=1.0)
            await web.start()
            stack.push_async_callback(web.stop)
            conversations = Conversations(content, store, clock=clock, timezone=ZONE,
                                          menus=(APPOINTMENT_MENU,))
            desk = StaffDesk(content, store, staff_ids={staff.id}, clinic_chat_id=None,
                             language="en", timezone=ZONE, clock=clock)
            channel = TelegramChannel(
                conversations, staff=StaffChannel(desk, content.catalog, dashboard=web),
                pace=unpaced())
            bot = await stack.enter_async_context(running(standin, channel))
            return store, web, bot

        store, web, bot = loop.run(start())
        try:
            yield Site(loop, standin, bot, store, content, clock, web, staff, patient, outsider)
        finally:
            loop.run(stack.aclose())
