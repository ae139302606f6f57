"""/healthz says whether the bot serves (database and dispatcher); /metrics speaks Prometheus."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.ops.health import Health
from bot.ops.listener import start_listener
from bot.storage import Store, open_store


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Running:
    """A dispatcher's state, as a test sets it."""

    def __init__(self) -> None:
        self.running = True


@pytest.fixture
async def ops(store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, Health]]:
    health = Health(lambda: store.patients(1, 0))
    port = _free_port()
    server = start_listener("127.0.0.1", port, health)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client, health
    finally:
        server.stop()


async def test_health_is_503_while_starting_then_200(
    ops: tuple[httpx.AsyncClient, Health],
) -> None:
    client, health = ops
    starting = await client.get("/healthz")
    assert starting.status_code == 503
    assert starting.json() == {"status": "unavailable", "database": "not checked",
                               "dispatcher": "starting"}

    health.track(Running())
    ready = await client.get("/healthz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "dispatcher": "running"}


async def test_a_stopped_dispatcher_is_unhealthy(ops: tuple[httpx.AsyncClient, Health]) -> None:
    client, health = ops
    running = Running()
    health.track(running)
    running.running = False
    answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["dispatcher"] == "stopped"


async def test_a_database_that_does_not_answer_is_unhealthy(database: str) -> None:
    store = open_store(database)  # never opened: every read fails, as with a server gone
    health = Health(lambda: store.patients(1, 0))
    health.track(Running())
    report = await health.check()
    assert not report.ok
    assert report.database.startswith("unreachable (")
    assert report.dispatcher == "running"


async def test_metrics_are_prometheus_text_with_the_bots_own(
    ops: tuple[httpx.AsyncClient, Health],
) -> None:
    client, _ = ops
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    openmetrics = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")
    names = {line.split()[2] for line in answer.text.splitlines() if line.startswith("# TYPE")}
    assert {"ldh_updates_handled_total", "ldh_update_seconds", "ldh_reminders_due_total",
            "ldh_reminders_sent_total", "ldh_telegram_429_total", "ldh_errors_total",
            "ldh_webhook_refused_total", "process_resident_memory_bytes"} <= names


async def test_nothing_else_is_served(ops: tuple[httpx.AsyncClient, Health]) -> None:
    client, _ = ops
    assert (await client.get("/")).status_code == 404
    assert (await client.post("/metrics", content=b"x")).status_code in {400, 405}
