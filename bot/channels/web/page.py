"""The dashboard's shared parts: its settings, the page every handler is, and refusals."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tornado.web

from bot.channels.web.texts import WebTexts
from bot.clinic.queue import Queue
from bot.clinic.replies import clock_time
from bot.clinic.signin import Signed, SignIn, same_token
from bot.content import Content
from bot.dialogue.texts import LANGUAGES
from bot.dialogue.turn import Text
from bot.queue_items import load_rules
from bot.storage.base import Store
from bot.storage.dashboard_tables import DashboardTables

HERE = Path(__file__).resolve().parent
COOKIE = "ldh_session"
SECURE_COOKIE = "__Host-ldh_session"
_ICON = re.compile(r"^[^\w(]+")  # emoji and marks before a notification's first word
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
Clock = Callable[[], datetime]

log = logging.getLogger(__name__)


class Dashboard:
    """What every page needs: the clinic's store and tables, texts, settings and a clock."""

    def __init__(  # noqa: PLR0913  # the dashboard's settings, each named at the call
        self, content: Content, store: Store, tables: DashboardTables, signin: SignIn, *,
        language: str, timezone: str, clock: Clock, secure: bool, demo: bool = False,
        refresh_seconds: float = 15.0,
    ) -> None:
        """Serve the clinic kept in ``store`` and ``tables``."""
        self.content = content
        self.store = store
        self.tables = tables
        self.signin = signin
        self.queue = Queue(tables, load_rules(content.directory))
        self.texts = WebTexts(content.directory)
        self.language = language
        self.zone = ZoneInfo(timezone)
        self.clock = clock
        self.secure = secure
        self.demo = demo
        self.refresh_seconds = refresh_seconds  # how often the queue page reloads its rows

    async def audit(self, who: Signed | int, action: str, patient: int | None = None,
                    detail: str = "") -> None:
        """Record an action in the audit trail."""
        staff = who.staff_id if isinstance(who, Signed) else who
        await self.tables.audit(self.clock(), staff, action, patient, detail)


class Refusal(Exception):  # noqa: N818  # a page, not a failure
    """A request refused with a clear page: the status and the text that explains it."""

    def __init__(self, status: int, key: str) -> None:
        """Refuse with ``status``, explained by text ``key``."""
        super().__init__(key)
        self.status = status
        self.key = key


class Page(tornado.web.RequestHandler):
    """Security headers, the session, the CSRF check and clear refusal pages for every page."""

    signed: Signed | None = None
    public = False  # pages anyone may open (the sign-in link)

    def initialize(self, dashboard: Dashboard) -> None:
        """Serve ``dashboard``."""
        self.dash = dashboard

    def set_default_headers(self) -> None:
        """The same security headers on every answer, refusals included."""
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-store")

    def check_xsrf_cookie(self) -> None:
        """CSRF is checked against the session in ``prepare`` instead of tornado's cookie."""

    @property
    def cookie_name(self) -> str:
        """``__Host-`` with Secure over https, else a plain name (a browser refuses the prefix)."""
        return SECURE_COOKIE if self.dash.secure else COOKIE

    async def prepare(self) -> None:
        """Find who is signed in; refuse anyone who is not, and any POST without its token."""
        if self.public:
            return
        token = self.get_cookie(self.cookie_name)
        by_itself = self.get_query_argument("rows", "") != ""  # the queue's own refresh
        signed = (await self.dash.signin.check(token, self.dash.clock(), active=not by_itself)
                  if token else None)
        if signed is None:
            raise Refusal(401, "refusal.signed_out")
        self.signed = signed
        if self.request.method == "POST" and not same_token(
                self.get_body_argument("csrf", None), signed.csrf):
            raise Refusal(403, "refusal.stale_form")

    @property
    def me(self) -> Signed:
        """The signed-in person (``prepare`` refused everyone else)."""
        if self.signed is None:
            raise Refusal(401, "refusal.signed_out")
        return self.signed

    @property
    def language(self) -> str:
        """The person's chosen language, else the clinic's."""
        chosen = self.signed.language if self.signed is not None else None
        return chosen if chosen in LANGUAGES else self.dash.language

    def t(self, key: str, **values: object) -> str:
        """A dashboard text in the person's language."""
        return self.dash.texts.get(self.language, key, **values)

    def plain(self, text: Text) -> str:
        """A catalog text (the bot's own words) as plain text in the person's language."""
        return self.dash.content.catalog.plain(text, self.language)

    def alert(self, name: str) -> str:
        """An alert's words; its name when it has no text of its own or needs values."""
        try:
            return self.plain(Text(f"clinic.alert.{name}"))
        except KeyError:
            return name

    def told(self, text: Text) -> str:
        """A clinic notification's text without its leading icon (the page names the kind)."""
        return _ICON.sub("", self.plain(text), count=1)

    def when(self, moment: datetime | None) -> str:
        """A time in the clinic's zone."""
        return clock_time(moment, self.dash.zone) if moment is not None else ""

    def get_template_path(self) -> str:
        """Templates ship beside this module."""
        return str(HERE / "templates")

    def page(self, template: str, **values: Any) -> None:  # noqa: ANN401  # template values
        """Render a page with what every page shows."""
        self.render(template, t=self.t, plain=self.plain, when=self.when, me=self.signed,
                    dash=self.dash, lang=self.language, languages=LANGUAGES, Text=Text,
                    has_text=self.dash.content.catalog.has, waited=self.waited,
                    told=self.told, **values)

    def waited(self, minutes: int) -> str:
        """A wait as staff read it: minutes, then hours and minutes, then days and hours."""
        hours, days = minutes // 60, minutes // (24 * 60)
        if days:
            return self.t("queue.days", days=days, hours=hours % 24)
        if hours:
            return self.t("queue.hours", hours=hours, minutes=minutes % 60)
        return self.t("queue.minutes", minutes=minutes)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, Refusal):
            self._refuse(e.status, e.key)
            return
        if isinstance(e, tornado.web.HTTPError) and not self._finished:
            key = {404: "refusal.not_found", 405: "refusal.not_found"}.get(
                e.status_code, "refusal.bad_request")
            self._refuse(e.status_code, key)
            return
        if not isinstance(e, tornado.web.Finish):
            log.error("dashboard page %s failed: %s", self.request.path, type(e).__name__,
                      exc_info=e)
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs: Any) -> None:  # noqa: ANN401  # tornado's
        """Any other failure: a calm page, never a traceback."""
        del kwargs
        self._refuse(status_code, "refusal.error")

    def _refuse(self, status: int, key: str) -> None:
        if self._finished:
            return
        self.clear()
        self.set_status(status)
        self.page("refusal.html", message=self.t(key))
