"""One measured serving session in a fresh process: our bot or the baseline, under traffic.

Run by the bench as ``python -m bot.bench.serve``; prints one JSON object. A process of its own
gives every session the same cold start, and its own peak memory and start-up time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import logging
import random
import resource
import sqlite3
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from telegram.ext import Application

from bot.bench.baseline import build_baseline
from bot.bench.fake_telegram import FakeTelegram
from bot.bench.traffic import Patient, Traffic, question_texts
from bot.channels.telegram.app import build_application
from bot.config import OFFICIAL_API_URL, Settings
from bot.content import load_content
from bot.reminders.pacing import Pacer
from bot.storage.base import OutboxItem
from bot.storage.sqlite import SqliteStore
from bot.storage.sqlite_transaction import Job

T = TypeVar("T")
TOKEN = "1234567:bench"  # noqa: S105  # not a credential: no request leaves the process
CLINIC_CHAT = -1001
ACTIVE = 50  # conversations open at once, their updates interleaved
WARM_UP = 10  # conversations served before timing starts
MEMORY_CONVERSATIONS = 50  # at least; as many as the timed conversations when more
UNPACED_RATE = 1e6  # messages per second: the pacer books, but never makes a reply wait
MEMORY_STEPS = 4  # /start and three answers: a conversation left in the middle

Bench = Application[Any, Any, Any, Any, Any, Any]


class CountingStore(SqliteStore):
    """The SQLite store, counting its trips to the database thread, the dispatcher's apart."""

    trips = 0
    dispatcher_trips = 0

    async def _run(self, job: Job[T]) -> T:
        self.trips += 1
        return await super()._run(job)

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxItem]:
        """Claim as the store does, counted as the dispatcher's."""
        self.dispatcher_trips += 1
        return await super().claim_due(now, limit, lease)

    async def mark_sent(self, item_id: int, at: datetime) -> None:
        """Mark as the store does, counted as the dispatcher's."""
        self.dispatcher_trips += 1
        await super().mark_sent(item_id, at)


def chat_ids(patients: int, conversations: int, seed: int) -> list[int]:
    """Half returning patients spread over the stored ones, half new; the same in every run."""
    rng = random.Random(seed)  # noqa: S311  # repeatable traffic, not secrets
    returning = rng.sample(range(1, patients + 1), min(conversations // 2, patients))
    new = range(patients + 1, patients + 1 + conversations - len(returning))
    mixed = [*returning, *new]
    rng.shuffle(mixed)
    return mixed


async def drive(app: Bench, traffic: Traffic, patients: list[Patient],
                timed: Callable[[Awaitable[object]], Awaitable[float]]) -> list[float]:
    """Serve every patient's conversation, ``ACTIVE`` at a time, in a random interleaving."""
    waiting, active, latencies = deque(patients), list[Patient](), list[float]()
    while waiting or active:
        while len(active) < ACTIVE and waiting:
            active.append(waiting.popleft())
        patient = active[traffic.random.randrange(len(active))]
        update = traffic.next_update(patient, app.bot)
        if update is None:
            active.remove(patient)
            continue
        latencies.append(await timed(app.process_update(update)))
    return latencies


async def _stopwatch(step: Awaitable[object]) -> float:
    started = time.perf_counter()
    await step
    return time.perf_counter() - started


def _languages(ids: list[int], seed: int) -> list[Patient]:
    rng = random.Random(seed)  # noqa: S311  # repeatable traffic, not secrets
    return [Patient(chat_id, "zh" if rng.random() < 0.2 else "en") for chat_id in ids]  # noqa: PLR2004  # one in five speaks Chinese


def _profiler(path: str | None) -> tuple[AbstractContextManager[Any], Callable[[], None]]:
    if path is None:
        return nullcontext(), lambda: None
    try:  # optional, for profiling only: not a dependency of the project
        pyinstrument = importlib.import_module("pyinstrument")
    except ImportError:
        sys.exit("bench: --profile needs pyinstrument installed (pip install pyinstrument)")
    profiler = pyinstrument.Profiler(interval=0.0005, async_mode="disabled")

    def save() -> None:
        Path(path).write_text(profiler.output_text(unicode=True, show_all=False), "utf-8")

    return profiler, save


async def _memory(  # noqa: PLR0913  # the session's parts, handed over
    app: Bench, api: FakeTelegram, traffic: Traffic, *, first: int, conversations: int,
    db: str | None,
) -> tuple[float, float]:
    """Heap kept per conversation left open, and its stored session: bytes each."""
    ids = list(range(first, first + conversations))
    patients = _languages(ids, 7)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(MEMORY_STEPS):
        for patient in patients:
            update = traffic.next_update(patient, app.bot)
            if update is not None:
                await app.process_update(update)
    for chat_id in ids:  # the bench's own view of each chat is not the bot's memory
        api.chats.pop(chat_id, None)
    del patients, update
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    stored = 0.0
    if db is not None:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT avg(length(session)) FROM patients WHERE chat_id >= ?",
                               (first,)).fetchone()
        stored = float(row[0] or 0)
    return kept / conversations, stored


def _settings(db: str) -> Settings:
    return Settings(token=TOKEN, api_url=OFFICIAL_API_URL, database_url=f"sqlite:///{db}",
                    clinic_chat_id=CLINIC_CHAT, clinic_language="en", staff_ids=frozenset(),
                    timezone="UTC", webhook_url=None, webhook_listen=("127.0.0.1", 8443),
                    webhook_secret=None)


async def serve(args: argparse.Namespace) -> dict[str, Any]:
    """Start, serve the traffic timed, then measure memory; the figures as a dict."""
    content = load_content()
    api = FakeTelegram()
    store: CountingStore | None = None
    if args.kind == "ours":
        store = CountingStore(args.db)
        # Telegram's waits are the pacer's, measured by the dispatch figures; here only the work.
        app = build_application(_settings(args.db), content, store, request=api,
                                pace=Pacer(UNPACED_RATE, chat_interval=0.0))
    else:
        app = build_baseline(content, TOKEN, api)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    startup = time.time() - args.spawned
    traffic = Traffic(api, question_texts(content), args.seed)
    top = args.patients + args.conversations + 1
    warm = _languages(list(range(top, top + WARM_UP)), args.seed)
    await drive(app, traffic, warm, _stopwatch)
    traffic.kinds = dict.fromkeys(traffic.kinds, 0)
    patients = _languages(chat_ids(args.patients, args.conversations, args.seed), args.seed)
    calls = api.total
    trips, dispatcher_trips = (store.trips, store.dispatcher_trips) if store else (0, 0)
    profiler, save = _profiler(args.profile)
    cpu = time.process_time()
    with profiler:
        latencies = await drive(app, traffic, patients, _stopwatch)
    cpu = time.process_time() - cpu
    save()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kinds = dict(traffic.kinds)
    count = len(latencies)
    figures: dict[str, Any] = {
        "updates": count, "seconds": sum(latencies), "cpu_s": cpu,
        "latencies_ms": sorted(round(x * 1000, 4) for x in latencies),
        "store_trips": (store.trips - trips) if store else None,
        "dispatcher_trips": (store.dispatcher_trips - dispatcher_trips) if store else None,
        "api_calls": api.total - calls, "rss_mb": rss_mb, "startup_s": startup,
    }
    heap, stored = await _memory(app, api, traffic, first=top + WARM_UP, db=args.db,
                                 conversations=max(args.conversations, MEMORY_CONVERSATIONS))
    figures |= {"heap_bytes_per_conversation": heap, "stored_bytes_per_conversation": stored,
                "kinds": kinds}
    if app.post_stop is not None:
        await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)
    return figures


def main(argv: list[str] | None = None) -> int:
    """Serve one session and print its figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bot.bench.serve")
    parser.add_argument("--kind", choices=("ours", "baseline"), required=True)
    parser.add_argument("--db", help="SQLite file filled with --patients patients (ours only)")
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--conversations", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spawned", type=float, default=time.time(),
                        help="wall time the process was started, for the start-up figure")
    parser.add_argument("--profile", help="write a pyinstrument profile of the timed part here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(serve(args))))  # noqa: T201  # the parent reads this
    return 0


if __name__ == "__main__":
    sys.exit(main())
