"""Webhook mode that answers Telegram only after the update is handled: at-least-once.

python-telegram-bot's own webhook answers 200 as soon as it has queued an update, so a crash
loses the updates in hand. Here the request waits for the step to commit; if the process dies
first, Telegram gets no answer and delivers the update again.
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
from tornado.web import RequestHandler

from bot.channels.telegram.polling import run_until_stopped

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  # a header name, not a secret


class _UpdateHandler(RequestHandler):
    """POSTed updates: the secret token checked, then the update handled, then 200."""

    def initialize(self, app: Application, secret: str) -> None:  # type: ignore[type-arg]  # PTB's generics are for custom contexts
        """Keep the application and the secret Telegram sends back on every request."""
        self.bot_app = app
        self.secret = secret

    async def post(self) -> None:
        """Handle one update; a wrong or missing secret gets 403 and nothing else."""
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self.set_status(403)
            return
        try:
            data = json.loads(self.request.body)
            update = Update.de_json(data, self.bot_app.bot)
        except (ValueError, TypeError, KeyError):
            self.set_status(400)
            return
        await self.bot_app.process_update(update)
        self.set_status(200)


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
        web = WebApplication([(f"/{path.strip('/')}", _UpdateHandler,
                               {"app": app, "secret": secret})])
        server = HTTPServer(web)
        server.listen(port, host)
        await app.bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
        log.info("webhook registered; listening on %s:%d", host, port)
        try:
            await stop.wait()
        finally:
            server.stop()
            await server.close_all_connections()

    await run_until_stopped(app, serve)
