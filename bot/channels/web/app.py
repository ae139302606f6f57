"""The dashboard's tornado application: its routes, every unknown address one clear page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tornado.web

from bot.channels.web.page import HERE, Dashboard, Page, Refusal
from bot.channels.web.patient_pages import (
    Book,
    Cancel,
    Checkins,
    Erase,
    PatientData,
    PatientPage,
    Patients,
)
from bot.channels.web.queue_pages import QueueAction, QueuePage
from bot.channels.web.record_pages import Audit, Exports
from bot.channels.web.signin_pages import Language, SignInPage, SignOut


class Missing(Page):
    """Any other address."""

    public = True

    async def prepare(self) -> None:
        """Every unknown address is the same clear page."""
        raise Refusal(404, "refusal.not_found")


RequestLog = Callable[[tornado.web.RequestHandler], None]


def application(dashboard: Dashboard,
                log_function: RequestLog | None = None) -> tornado.web.Application:
    """The dashboard's routes; ``log_function`` hears of each request served (the bench)."""
    number = r"(-?\d{1,20})"
    args = {"dashboard": dashboard}
    settings: dict[str, Any] = {} if log_function is None else {"log_function": log_function}
    return tornado.web.Application(
        [
            (r"/", QueuePage, args),
            (r"/queue/(\d{1,20})/(take|done)", QueueAction, args),
            (r"/patients", Patients, args),
            (rf"/patients/{number}", PatientPage, args),
            (rf"/patients/{number}/appointment", Book, args),
            (rf"/patients/{number}/appointment/cancel", Cancel, args),
            (rf"/patients/{number}/checkins", Checkins, args),
            (rf"/patients/{number}/erase", Erase, args),
            (rf"/patients/{number}/data\.json", PatientData, args),
            (r"/exports", Exports, args),
            (r"/exports/([a-z.]+)", Exports, args),
            (r"/audit", Audit, args),
            (r"/audit(\.csv)", Audit, args),
            (r"/signin/([A-Za-z0-9_-]{20,100})", SignInPage, args),
            (r"/signout", SignOut, args),
            (r"/language", Language, args),
            (r"/static/(dashboard\.(?:css|js))", tornado.web.StaticFileHandler,
             {"path": str(HERE / "static")}),
        ],
        default_handler_class=Missing, default_handler_args=args,
        xsrf_cookies=False,  # every POST carries the session's own token instead
        autoescape="xhtml_escape", compiled_template_cache=True,
        **settings,
    )
