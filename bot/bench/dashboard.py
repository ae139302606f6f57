"""The dashboard's speed at 100,000 stored patients: the queue and a patient page, server time.

The store is filled in bulk (``store_fill``); one patient in fifty has a queue item (half of them
done), and the patients whose pages are timed each have a full screening's history. Each page is
requested over HTTP from a signed-in client; the time is tornado's own measure of the request,
from reading it to the last byte written (p95).
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import tornado.web

from bot.bench.store_fill import fill
from bot.channels.web.serve import WebChannel
from bot.channels.web.settings import WebSettings
from bot.content import Content
from bot.storage.dashboard_tables import QUEUE_EVENT
from bot.storage.sqlite import SqliteStore
from bot.storage.sqlite_transaction import stamp

QUEUE_EVERY = 50  # one patient in fifty needs a person
REQUESTS = 200  # of each page
HISTORY = 60  # events in the history of each timed patient
STAFF = 1
TIMED_PATIENTS = 50


@dataclass(frozen=True)
class DashboardFigures:
    """Server time (p95, ms) of the queue page and of a patient page."""

    queue_ms: float
    patient_ms: float


def _queue_rows(path: Path, patients: int, timed: list[int]) -> None:
    """Queue items for one patient in fifty (half done), and long histories to show."""
    at = stamp(datetime.now(UTC) - timedelta(days=1))
    data = json.dumps({"kind": "urgent", "alerts": [], "message": [
        {"key": "clinic.urgent", "values": {"patient": "0", "flags": []}}]})
    answer = json.dumps({"facts": {"fever": "no"}, "typed": "no", "dialogues": "bench"})
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events (chat_id, kind, data, at) VALUES (?, ?, ?, ?)",
                         [(chat, QUEUE_EVENT, data, at)
                          for chat in range(QUEUE_EVERY, patients + 1, QUEUE_EVERY)])
        conn.execute("""INSERT INTO queue_state (event_id, done_by, done_at, note)
                        SELECT id, 1, at, 'done' FROM events
                        WHERE kind = ? AND id % 2 = 0""", (QUEUE_EVENT,))
        conn.executemany("INSERT INTO events (chat_id, kind, data, at) VALUES (?, ?, ?, ?)",
                         [(chat, "answer", answer, at) for chat in timed
                          for _ in range(HISTORY)])
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def _timed(path: Path, content: Content, timed: list[int]) -> DashboardFigures:
    store = SqliteStore(path)
    await store.open()
    served: dict[str, list[float]] = {"queue": [], "patient": []}

    def record(handler: tornado.web.RequestHandler) -> None:
        page = "queue" if handler.request.path == "/" else "patient"
        if handler.request.method == "GET" and handler.get_status() == 200:  # noqa: PLR2004  # HTTP OK
            served[page].append(handler.request.request_time() * 1000)

    web = WebChannel(WebSettings("127.0.0.1", 0, None, "en"), content, store,
                     staff_ids={STAFF}, timezone="UTC", clock=lambda: datetime.now(UTC),
                     request_log=record)
    await web.start()
    try:
        link = await web.new_link(STAFF)
        async with httpx.AsyncClient(base_url=web.base_url) as http:
            await http.post(link or "")
            served["queue"].clear()
            picker = random.Random(5)  # noqa: S311  # which patients, not a secret
            for _ in range(REQUESTS):
                await http.get("/")
                await http.get(f"/patients/{picker.choice(timed)}")
    finally:
        await web.stop()
        await store.close()
    if len(served["queue"]) < REQUESTS or len(served["patient"]) < REQUESTS:
        msg = "the dashboard did not answer every timed request"
        raise RuntimeError(msg)
    return DashboardFigures(_p95(served["queue"]), _p95(served["patient"]))


def measure_dashboard(patients: int, content: Content,
                      filled: Path | None = None) -> DashboardFigures:
    """Fill a store of ``patients`` (or copy ``filled``) and time the dashboard's pages on it."""
    with tempfile.TemporaryDirectory(prefix="ldh-bench-dashboard-") as name:
        path = Path(name) / "dashboard.db"
        if filled is not None:
            path.write_bytes(filled.read_bytes())
        else:
            fill(path, patients, content)
        timed = random.Random(7).sample(range(1, patients + 1), min(TIMED_PATIENTS, patients))  # noqa: S311  # not a secret
        _queue_rows(path, patients, timed)
        return asyncio.run(_timed(path, content, timed))
