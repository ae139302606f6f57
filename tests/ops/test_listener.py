"""/healthz says whether the bot serves (a write, the dispatcher); /metrics speaks Prometheus."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.ops import metrics
from bot.ops.health import Health
from bot.ops.listener import start_listener
from bot.storage import Store, open_store
from bot.storage.sqlite import SqliteStore


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Running:
    """A dispatcher's state, as a test sets it."""

    def __init__(self) -> None:
        self.running = True
        self.failing = 0.0

    def failing_for(self) -> float:
        return self.failing


@pytest.fixture
async def ops(store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, Health]]:
    health = Health(store.probe_write)
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
    store = open_store(database)  # never opened: every write fails, as with a server gone
    health = Health(store.probe_write)
    health.track(Running())
    before = _storage_errors()
    report = await health.check()
    assert not report.ok
    assert report.database.startswith("unwritable (")
    assert _storage_errors() == before + 1
    assert report.dispatcher == "running"


def _storage_errors() -> float:
    return metrics.REGISTRY.get_sample_value("ldh_errors_total", {"kind": "storage"}) or 0.0


async def test_a_dispatcher_failing_every_attempt_for_a_minute_is_unhealthy(
    ops: tuple[httpx.AsyncClient, Health],
) -> None:
    client, health = ops
    dispatcher = Running()
    health.track(dispatcher)
    dispatcher.failing = 59.0
    assert (await client.get("/healthz")).status_code == 200
    dispatcher.failing = 60.0
    answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["dispatcher"] == "failing for 60 s"


async def test_a_database_that_reads_but_cannot_grow_is_unhealthy(tmp_path: Path) -> None:
    """A full disk: every page the file has is used, so a write fails while reads still pass."""
    store = SqliteStore(tmp_path / "bot.db")
    await store.open()
    try:
        health = Health(store.probe_write)
        health.track(Running())
        assert (await health.check()).ok
        await _fill(store)
        await store.patients(1, 0)  # a read still passes: what the old check asked
        report = await health.check()
        assert not report.ok
        assert report.database == "unwritable (OperationalError)"
    finally:
        await store.close()


async def _fill(store: SqliteStore) -> None:
    """Let the file grow no further than it is, as on a full disk: SQLite's max_page_count.

    The pragma holds per connection, so it is set on the store's own.
    """

    def cap(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")

    await store._run(cap)  # noqa: SLF001  # the only way to the store's connection


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
