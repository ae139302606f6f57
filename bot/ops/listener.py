"""The ops listener: /healthz and /metrics over HTTP, beside polling or the webhook alike."""

from __future__ import annotations

import json
import logging

from prometheus_client.exposition import choose_encoder
from tornado.httpserver import HTTPServer
from tornado.web import Application as WebApplication
from tornado.web import RequestHandler

from bot.ops.health import Health
from bot.ops.metrics import REGISTRY

log = logging.getLogger(__name__)

HEALTHY, UNHEALTHY = 200, 503
SERVER_ERROR = 500


class _HealthHandler(RequestHandler):
    """GET /healthz: 200 when the database answers and the dispatcher runs, else 503."""

    def initialize(self, health: Health) -> None:
        """Keep what is checked."""
        self.health = health

    async def get(self) -> None:
        """Check and answer with a short JSON body."""
        report = await self.health.check()
        self.set_status(HEALTHY if report.ok else UNHEALTHY)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(report.as_json()))


class _MetricsHandler(RequestHandler):
    """GET /metrics: every metric, in the format the scraper asks for (Prometheus text)."""

    def get(self) -> None:
        """The registry, rendered now."""
        encode, content_type = choose_encoder(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.finish(encode(REGISTRY))


def start_listener(host: str, port: int, health: Health) -> HTTPServer:
    """Serve /healthz and /metrics on ``host:port`` in the running event loop; OSError if busy."""
    web = WebApplication(
        [("/healthz", _HealthHandler, {"health": health}), ("/metrics", _MetricsHandler)],
        # Orchestrators poll /healthz every few seconds: their lines would drown the bot's.
        log_function=_quiet,
    )
    server = HTTPServer(web, max_body_size=0)  # nothing here reads a request body
    server.listen(port, host)
    log.info("ops listener on %s:%d: /healthz and /metrics", host, port)
    return server


def _quiet(handler: RequestHandler) -> None:
    """Log only failures of the listener itself; an unhealthy 503 is said by the bot's own lines."""
    status = handler.get_status()
    if status >= SERVER_ERROR and status != UNHEALTHY:
        log.warning("%s %s -> %d", handler.request.method, handler.request.path, status)
