"""The dashboard served in the bot's own event loop, and the sign-in links the bot hands out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.channels.web.app import RequestLog, application
from bot.channels.web.page import Dashboard
from bot.channels.web.settings import WebSettings
from bot.channels.web.texts import WebTexts
from bot.clinic.signin import SignIn
from bot.content import Content
from bot.storage.base import Store
from bot.storage.dashboard_tables import DashboardTables, open_tables

log = logging.getLogger(__name__)


class WebChannel:
    """Starts and stops the dashboard beside the bot; makes sign-in links for /dashboard."""

    def __init__(  # noqa: PLR0913  # the dashboard's settings, each named at the call
        self, settings: WebSettings, content: Content, store: Store, *,
        staff_ids: Collection[int], timezone: str, clock: Callable[[], datetime],
        database_url: str | None = None, demo: bool = False, refresh_seconds: float = 15.0,
        request_log: RequestLog | None = None,
    ) -> None:
        """Serve ``store``'s clinic to ``staff_ids`` once started."""
        self.settings = settings
        self.content = content
        self.store = store
        self.staff_ids = frozenset(staff_ids)
        self.timezone = timezone
        self.clock = clock
        self.database_url = database_url
        self.demo = demo
        self.refresh_seconds = refresh_seconds
        self.request_log = request_log  # hears of every request served (the bench times them)
        self.texts = WebTexts(content.directory)
        self.tables: DashboardTables | None = None
        self.signin: SignIn | None = None
        self.server: HTTPServer | None = None
        self.port: int | None = None

    async def start(self) -> None:
        """Open the tables (the store is open) and listen; the port actually bound is kept."""
        self.tables = await open_tables(self.store, self.database_url)
        self.signin = SignIn(self.tables, self.staff_ids)
        url = self.settings.url or ""
        dashboard = Dashboard(self.content, self.store, self.tables, self.signin,
                              language=self.settings.language, timezone=self.timezone,
                              clock=self.clock, secure=url.startswith("https://"),
                              demo=self.demo, refresh_seconds=self.refresh_seconds)
        self.server = HTTPServer(application(dashboard, self.request_log), xheaders=True)
        # Bound here so that port 0 (tests, the demo) can say which port it got.
        sockets = bind_sockets(self.settings.port or 0, self.settings.host or "127.0.0.1")
        self.server.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])
        log.info("dashboard listening on %s:%s", self.settings.host, self.port)

    async def stop(self) -> None:
        """Stop listening and close the tables' connections."""
        if self.server is not None:
            self.server.stop()
            await self.server.close_all_connections()
            self.server = None
        if self.tables is not None:
            await self.tables.close()
            self.tables = None

    @property
    def base_url(self) -> str:
        """The address staff open."""
        if self.settings.url:
            return self.settings.url
        return f"http://{self.settings.host or '127.0.0.1'}:{self.port}"

    async def audit(self, staff_id: int, action: str, patient: int | None, detail: str) -> None:
        """Record a staff action taken elsewhere (a Telegram command) in the audit trail."""
        if self.tables is not None:
            await self.tables.audit(self.clock(), staff_id, action, patient, detail)

    async def new_link(self, staff_id: int, name: str = "") -> str | None:
        """A one-time sign-in link for ``staff_id``; None if not served, not staff, or too soon."""
        if self.signin is None:
            return None
        token = await self.signin.new_link(staff_id, self.clock(), name)
        return None if token is None else f"{self.base_url}/signin/{token}"

    async def link_text(self, staff_id: int, language: str, name: str = "") -> str:
        """The bot's answer to /dashboard: a one-time link, or why there is none."""
        if self.signin is None:
            return self.texts.get(language, "signin.not_served")
        link = await self.new_link(staff_id, name)
        if link is None:
            return self.texts.get(language, "signin.slow_down")
        return self.texts.get(language, "signin.telegram", url=link)
