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
import os
import random
import resource
import sqlite3
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from telegram.ext import Application

from bot.bench.baseline import build_baseline
from bot.bench.counting import CountingPostgresStore, CountingSqliteStore
from bot.bench.fake_telegram import FakeTelegram
from bot.bench.traffic import Patient, Traffic, question_texts
from bot.channels.telegram.app import build_application
from bot.config import OFFICIAL_API_URL, Settings
from bot.content import load_content
from bot.reminders.pacing import Pacer

TOKEN = "1234567:bench"  # noqa: S105  # not a credential: no request leaves the process
CLINIC_CHAT = -1001
ACTIVE = 50  # conversations open at once, their updates interleaved
WARM_UP = 10  # conversations served before timing starts
MEMORY_CONVERSATIONS = 50  # at least; as many as the timed conversations when more
UNPACED_RATE = 1e6  # messages per second: the pacer books, but never makes a reply wait
UNPACED_GROUP = 10**9  # messages a minute to one group: as unpaced
MEMORY_STEPS = 4  # /start and three answers: a conversation left in the middle
# Instances sharing one database serve patients and update ids of their own, this far apart.
INSTANCE_IDS = 10**6
INSTANCE_UPDATES = 10**9
BARRIER_POLL = 0.01  # seconds between looks at the barrier while instances start
BARRIER_WAIT = 300.0  # seconds an instance waits for the others before giving up

Bench = Application[Any, Any, Any, Any, Any, Any]


def chat_ids(patients: int, conversations: int, seed: int, instance: int = 0,
             instances: int = 1) -> list[int]:
    """Half returning patients spread over the stored ones, half new; the same in every run.

    Instances sharing a database each take the stored patients of their own residue and new
    ids of their own, so no two of them serve one chat.
    """
    rng = random.Random(seed)  # noqa: S311  # repeatable traffic, not secrets
    stored = range(1 + instance, patients + 1, instances)
    returning = rng.sample(stored, min(conversations // 2, len(stored)))
    first = new_ids(patients, instance)
    new = range(first, first + conversations - len(returning))
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
    # A server reading updates from the network gives the event loop a turn between two: the
    # work an update woke (the outbox dispatcher) runs then, and is timed with the update.
    # Without it, an update path that never waits would leave the dispatcher idle until the
    # traffic ends, its work untimed.
    await asyncio.sleep(0)
    return time.perf_counter() - started


def _languages(ids: list[int], seed: int) -> list[Patient]:
    rng = random.Random(seed)  # noqa: S311  # repeatable traffic, not secrets
    return [Patient(chat_id, "zh" if rng.random() < 0.2 else "en") for chat_id in ids]  # noqa: PLR2004  # one in five speaks Chinese


def new_ids(patients: int, instance: int) -> int:
    """The first chat id an instance gives a new patient."""
    return patients + 1 + instance * INSTANCE_IDS


def _barrier(directory: str | None, parties: int) -> None:
    """Wait until ``parties`` instances are ready, so their timed traffic overlaps."""
    if directory is None:
        return
    here = Path(directory)
    (here / f"ready-{os.getpid()}").touch()
    # An instance that failed before getting here must not leave the others waiting forever.
    deadline = time.monotonic() + BARRIER_WAIT
    while len(list(here.glob("ready-*"))) < parties:
        if time.monotonic() > deadline:
            sys.exit(f"bench: the other instances were not ready within {BARRIER_WAIT:.0f} s")
        time.sleep(BARRIER_POLL)


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
    database: str | None,
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
    return kept / conversations, _stored_bytes(database, first)


def _stored_bytes(database: str | None, first: int) -> float:
    """The average stored session of the chats from ``first`` on, in bytes as text."""
    if database is None:
        return 0.0
    if database.startswith("sqlite:///"):
        with sqlite3.connect(database.removeprefix("sqlite:///")) as conn:
            row = conn.execute("SELECT avg(length(session)) FROM patients WHERE chat_id >= ?",
                               (first,)).fetchone()
    else:
        with psycopg.connect(database) as pg:
            row = pg.execute("SELECT avg(octet_length(session::text)) FROM patients"
                             " WHERE chat_id >= %s", (first,)).fetchone()
    return float(row[0] or 0) if row else 0.0


def _settings(database_url: str) -> Settings:
    return Settings(token=TOKEN, api_url=OFFICIAL_API_URL, database_url=database_url,
                    clinic_chat_id=CLINIC_CHAT, clinic_language="en", staff_ids=frozenset(),
                    timezone="UTC", webhook_url=None, webhook_listen=("127.0.0.1", 8443),
                    webhook_secret=None)


def _store(args: argparse.Namespace) -> CountingSqliteStore | CountingPostgresStore:
    if args.database is not None:
        return CountingPostgresStore(args.database)
    return CountingSqliteStore(args.db)


async def serve(args: argparse.Namespace) -> dict[str, Any]:
    """Start, serve the traffic timed, then measure memory; the figures as a dict."""
    content = load_content()
    api = FakeTelegram()
    store: CountingSqliteStore | CountingPostgresStore | None = None
    database = args.database or (f"sqlite:///{args.db}" if args.db else None)
    if args.kind == "ours":
        store = _store(args)
        # Telegram's waits are the pacer's, measured by the dispatch figures; here only the work
        # (the clinic's group too: its 20 a minute would turn the dispatcher's work into waits).
        app = build_application(_settings(database or ""), content, store, request=api,
                                pace=Pacer(UNPACED_RATE, chat_interval=0.0,
                                           group_per_minute=UNPACED_GROUP))
    else:
        app = build_baseline(content, TOKEN, api)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    startup = time.time() - args.spawned
    traffic = Traffic(api, question_texts(content), args.seed,
                      first_update=1 + args.instance * INSTANCE_UPDATES)
    top = new_ids(args.patients, args.instance) + args.conversations + 1
    warm = _languages(list(range(top, top + WARM_UP)), args.seed)
    await drive(app, traffic, warm, _stopwatch)
    traffic.kinds = dict.fromkeys(traffic.kinds, 0)
    patients = _languages(chat_ids(args.patients, args.conversations, args.seed,
                                   args.instance, args.instances), args.seed)
    _barrier(args.barrier, args.instances)
    calls = api.total
    before = replace(store.trips) if store else None
    profiler, save = _profiler(args.profile)
    cpu, started, wall = time.process_time(), time.time(), time.perf_counter()
    with profiler:
        latencies = await drive(app, traffic, patients, _stopwatch)
    cpu, wall, ended = time.process_time() - cpu, time.perf_counter() - wall, time.time()
    save()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kinds = dict(traffic.kinds)
    count = len(latencies)
    figures: dict[str, Any] = {
        "updates": count, "seconds": sum(latencies), "cpu_s": cpu, "wall_s": wall,
        "started_at": started, "ended_at": ended,
        "latencies_ms": sorted(round(x * 1000, 4) for x in latencies),
        "api_calls": api.total - calls, "rss_mb": rss_mb, "startup_s": startup,
    }
    if store is not None and before is not None:
        # The dispatcher sends what the timed updates queued; its last batch may still be
        # on its way, so the rows counted are those it marked sent within the same window.
        figures |= {"update_trips": store.trips.updates - before.updates,
                    "dispatcher_trips": store.trips.dispatcher - before.dispatcher,
                    "messages": store.trips.messages - before.messages}
    if args.instances == 1:
        heap, stored = await _memory(app, api, traffic, first=top + WARM_UP, database=database,
                                     conversations=max(args.conversations,
                                                       MEMORY_CONVERSATIONS))
        figures |= {"heap_bytes_per_conversation": heap, "stored_bytes_per_conversation": stored}
    figures["kinds"] = kinds
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
    parser.add_argument("--database",
                        help="PostgreSQL URL of a schema filled with --patients (ours only)")
    parser.add_argument("--instance", type=int, default=0,
                        help="which of --instances sharing the database this one is")
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--barrier", help="directory where instances wait for each other")
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
