"""Webhook mode that answers Telegram only after the update is handled: at-least-once.

python-telegram-bot's own webhook answers 200 as soon as it has queued an update, so a crash
loses the updates in hand. Here the request waits for the step to commit; if the process dies
first, Telegram gets no answer and delivers the update again.

A request is judged on its headers before its body is read: without the secret it gets 403
and its body is never held; an update larger than Telegram sends gets 413. A body that is not
an update Telegram would send (not JSON, nested without end, numbers no field holds, fields of
the wrong type) gets 400 before python-telegram-bot reads it, so no chat is ever told "Sorry"
for it. Each refusal is counted; the log gets one summary line a minute at most.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from telegram import Update
from telegram.ext import Application
from tornado.httpserver import HTTPServer
from tornado.web import Application as WebApplication
from tornado.web import RequestHandler, stream_request_body

from bot.channels.telegram.polling import run_until_stopped
from bot.channels.telegram.update_shape import problem
from bot.ops import metrics
from bot.ops.summary import Summary

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  # a header name, not a secret
# Telegram's updates are a few kilobytes (a message is at most 4096 characters); a megabyte
# leaves room for any update and caps what one request can make the process hold.
MAX_UPDATE_BYTES = 1 << 20
BODY_TIMEOUT = 30.0  # seconds to send a body: a slow trickle does not hold a connection for ever
BAD_REQUEST, FORBIDDEN, TOO_LARGE, SERVER_ERROR = 400, 403, 413, 500


@stream_request_body
class _UpdateHandler(RequestHandler):
    """POSTed updates: secret checked before the body is read, update handled, then 200."""

    def initialize(self, app: Application, secret: str, refusals: Summary) -> None:  # type: ignore[type-arg]  # PTB's generics are for custom contexts
        """Keep the application, the secret Telegram sends back, and the refusals' summary."""
        self.bot_app = app
        self.secret = secret
        self.refusals = refusals
        self.body = bytearray()

    def prepare(self) -> None:
        """Refuse on the headers alone: a wrong secret (403) or a body too large (413)."""
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self._refuse(FORBIDDEN, "secret", "")
            return
        declared = self.request.headers.get("Content-Length", "0")
        if not declared.isdigit() or int(declared) > MAX_UPDATE_BYTES:
            self._refuse(TOO_LARGE, "too_large", "an update is at most 1 MiB")
            return
        # A chunked body has no length to check up front: the connection is cut at the limit.
        self.request.connection.set_max_body_size(MAX_UPDATE_BYTES)  # type: ignore[union-attr]  # always set while serving

    def data_received(self, chunk: bytes) -> None:
        """Collect the body; only an authenticated request of a sane size gets here."""
        self.body.extend(chunk)

    async def post(self) -> None:
        """Handle one update; a body that is not a Telegram update gets 400 and a short reason."""
        body, self.body = self.body, bytearray()  # held no longer than it is read
        try:
            data = json.loads(body, parse_constant=_not_json)
        except (ValueError, RecursionError):  # RecursionError: nested without end
            self._refuse(BAD_REQUEST, "not_an_update", "the body is not JSON")
            return
        finally:
            del body
        why = problem(data)
        if why is not None:
            self._refuse(BAD_REQUEST, "not_an_update", why)
            return
        try:
            update = Update.de_json(data, self.bot_app.bot)
        except Exception:  # noqa: BLE001  # any shape PTB cannot read is the sender's fault
            self._refuse(BAD_REQUEST, "not_an_update", "the body is not a Telegram update")
            return
        await self.bot_app.process_update(update)
        self.set_status(200)

    def _refuse(self, status: int, reason: metrics.WebhookRefusal, why: str) -> None:
        """Answer ``status`` with a one-line reason, and count it (no log line of its own)."""
        metrics.refused(reason)
        self.refusals.add(reason)
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{why}\n" if why else "")


def _not_json(constant: str) -> object:
    """NaN and Infinity are JavaScript, not JSON: Telegram never sends them."""
    msg = f"{constant} is not JSON"
    raise ValueError(msg)


def _quiet(handler: RequestHandler) -> None:
    """No access line per request: updates are counted in metrics, refusals summarised."""
    if handler.get_status() >= SERVER_ERROR:
        log.warning("webhook %s -> %d", handler.request.method, handler.get_status())


def webhook_application(app: Application, path: str, secret: str) -> WebApplication:  # type: ignore[type-arg]  # see above
    """The web application that serves updates at ``/path``."""
    refusals = Summary(log, "webhook requests refused")
    return WebApplication([(f"/{path.strip('/')}", _UpdateHandler,
                            {"app": app, "secret": secret, "refusals": refusals})],
                          log_function=_quiet)


async def run_webhook(  # noqa: PLR0913  # where to listen, what Telegram calls, and its secret
    app: Application,  # type: ignore[type-arg]  # see above
    *,
    host: str,
    port: int,
    path: str,
    url: str,
    secret: str,
) -> None:
    """Register the webhook and serve it until SIGTERM or SIGINT."""

    async def serve(app: Application, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
        web = webhook_application(app, path, secret)
        server = HTTPServer(web, max_body_size=MAX_UPDATE_BYTES, body_timeout=BODY_TIMEOUT)
        server.listen(port, host)
        await app.bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
        log.info("webhook registered; listening on %s:%d", host, port)
        try:
            await stop.wait()
        finally:
            server.stop()
            await server.close_all_connections()

    await run_until_stopped(app, serve)
